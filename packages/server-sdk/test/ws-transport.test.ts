import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Resources } from './helpers/fixtures.js'
import WebSocket from 'ws'
import { startServer } from './helpers/start-server.js'

// The WebSocket transport builds its own frames (websocket-frame.ts, checked against ws's `Sender.frame` there) and
// writes to the socket it was handed at the upgrade, corked per event-loop turn: no private field of ws, and no
// cache shared between Parley instances.

const resources = new Resources()
afterEach(() => resources.dispose())

const source = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../src/transports/ws.ts'), 'utf8')

describe('the WebSocket transport source', () => {
  it("reaches into none of ws's private fields", () => {
    for (const field of ['_socket', '_sender', '_extensions', '_queue', '_state', '_bufferedBytes', '_writableState']) {
      expect(source, field).not.toContain(field)
    }
    expect(source).toContain("from './websocket-frame.js'")
  })

  it('keeps no mutable state at module level (caches live in each transport instance)', () => {
    const topLevel = source.split('\n').filter((line) => /^(let|var)\s|^const\s+\w+\s*(:[^=]+)?=\s*new\s+(WeakMap|Map|Set|WeakSet|Array)\b|^const\s+\w+\s*(:[^=]+)?=\s*\[\]/.test(line))
    expect(topLevel).toEqual([])
  })
})

describe('frames of every length class, from two instances in one process', () => {
  it('delivers 7-bit, 16-bit and 64-bit length frames intact to clients of two servers broadcasting the same sizes', async () => {
    const options = { limits: { maxPayload: 256 * 1024 } }
    const servers = [await startServer(options), await startServer(options)]
    for (const server of servers) resources.add(server, (s) => s.stop())
    // Raw frames, read without the protocol's default 64 KiB limit, so the 64-bit length class can be checked too.
    const frames: string[][] = [[], []]
    for (const [i, server] of servers.entries()) {
      const ws = resources.add(new WebSocket(server.url, ['parley.v1.json']), (socket) => socket.terminate())
      const joined = new Promise<void>((resolve) => {
        ws.on('message', (data: Buffer) => {
          const text = data.toString('utf8')
          if (text.startsWith('{"type":"welcome"')) ws.send(JSON.stringify({ type: 'join', room: 'sizes', id: 'j' }))
          else if (text.startsWith('{"type":"joined"')) resolve()
          else frames[i]?.push(text)
        })
      })
      await joined
    }
    const sizes = [10, 125, 126, 65_535 - 200, 65_536, 200_000]
    for (const size of sizes) {
      // Both instances publish a message of the same size in the same turn: nothing may cross between them.
      await Promise.all(servers.map((server, i) => server.parley.room('sizes').publish({ who: i, text: String(i).repeat(size) })))
    }
    const deadline = Date.now() + 5_000
    while ((frames[0]?.length ?? 0) + (frames[1]?.length ?? 0) < 2 * sizes.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    for (const [i, received] of frames.entries()) {
      const texts = received.map((frame) => (JSON.parse(frame) as { data: { who: number; text: string } }).data)
      // Compared by size and content summary, so a failure does not print 200 KB of text.
      expect(texts.map((d) => [d.who, d.text.length, d.text === String(i).repeat(d.text.length)])).toEqual(sizes.map((size) => [i, size, true]))
    }
  })
})
