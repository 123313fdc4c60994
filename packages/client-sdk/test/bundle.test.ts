import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url))
const protocol = fileURLToPath(new URL('../../protocol/src/index.ts', import.meta.url))

/** Bundles like a browser app would: esbuild, platform browser, ESM, minified. */
async function bundle(contents?: string) {
  const result = await build({
    ...(contents === undefined ? { entryPoints: [entry] } : { stdin: { contents, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'ts' } }),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    alias: { '@parley/protocol': protocol },
  })
  const text = result.outputFiles[0]?.text ?? ''
  return { text, inputs: Object.keys(result.metafile.inputs), gzip: gzipSync(text).length }
}

describe('browser bundle', () => {
  it('holds neither ws nor any Node built-in, and reports its size', async () => {
    const { text, inputs, gzip } = await bundle()
    expect(inputs.some((input) => input.includes('node_modules/ws/'))).toBe(false)
    expect(inputs.some((input) => input.startsWith('node:'))).toBe(false)
    // No runtime dependency but the protocol: the emitter is the SDK's own (mitt until issue 20).
    expect(inputs.filter((input) => input.includes('node_modules/'))).toEqual([])
    expect(text).not.toMatch(/\bfrom\s*["']ws["']|require\(\s*["']ws["']\s*\)|import\(\s*["']ws["']\s*\)/)
    expect(text).not.toMatch(/["']node:[a-z_/]+["']/)
    expect(text).not.toMatch(/\brequire\(/)
    // The client starts: createClient is in there.
    expect(text).toMatch(/createClient/)
    const app = await bundle(`export { createClient } from ${JSON.stringify(entry)}`)
    console.info(
      `@parley/client-sdk browser bundle (with @parley/protocol): ${(text.length / 1024).toFixed(1)} KB min, ${(gzip / 1024).toFixed(2)} KB min+gzip` +
        ` (everything src/index.ts exports); ${(app.gzip / 1024).toFixed(2)} KB min+gzip for an app importing createClient only`,
    )
    // A regression guard, not a size target (see docs/client.md for the figures): the protocol's validating decoder
    // (with its hot paths for publish/message) is most of it. The default transport carries both WebSocket and the
    // HTTP stream fallback since the latter landed: 12.4 KB before it, 14.2 KB with it, 15.2 KB (14.8 for createClient only) with the option
    // suggestions and URL checks, 16.7 KB (16.4) with history (history, search, join's last: their messages in the
    // decoder too) and the contract (checks of what arrives, requests), 17.2 KB (16.8) with the `logger` option, 17.5
    // KB (17.2) with bounded member snapshots (`memberCount`, `loadMembers()`, the `members` messages), 19.0 KB (18.6)
    // with protocol v2's bytes (binary frames, base64, the version a frame is decoded at), 19.3 KB after the offline
    // queue, pending requests, connection and WebSocket transport became classes, 19.7 KB (19.3) once the client, its
    // room handles, the automatic transport and the emitter (mitt dropped) did too: 4 KB less heap per client in a
    // process holding many (docs/benchmarks.md, "The client's own cost"), for 0.35 KB; 20.3 KB (19.9) once the client's,
    // the room's, the connection's, the transports' and the heartbeat's closures became prototype methods and `ws`
    // sockets got shared listeners: 16.9 → 9.4 KB of heap per client, for 0.7 KB (`this.#field` is longer than a
    // closure's variable, and each class spells out its methods).
    // Splitting the transports and the decoder's tables into entry points of their own is the way back down (issue 20).
    expect(gzip).toBeLessThan(20.4 * 1024)
  })

  it('the check would catch ws: bundling ws for the browser does pull it in', async () => {
    const { inputs } = await bundle(`export * from 'ws'`)
    expect(inputs.some((input) => input.includes('node_modules/ws/'))).toBe(true)
  })
})
