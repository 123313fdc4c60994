/**
 * Runs the two versions of the chat in docs/migrating-from-socket-io.md, the Socket.IO one and the Parley one: each
 * `js` block is a file (first line `// <name>.mjs`); each server starts on a free port, its client runs against it,
 * and both clients must print the same line. The guide cannot drift from working code on either side.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, freePort, runExample, type ExampleProcess } from './helpers/processes.js'

const DOC = readFileSync(`${ROOT}docs/migrating-from-socket-io.md`, 'utf8')
const DIR = `${ROOT}test-results/migration-guide-${process.pid}`

/** The guide's `js` blocks by file name. */
function files(): Map<string, string> {
  const found = new Map<string, string>()
  for (const match of DOC.matchAll(/^```js\n(\/\/ ([\w-]+\.mjs)\n[\s\S]*?)^```$/gm)) found.set(match[2] as string, match[1] as string)
  return found
}

describe('docs/migrating-from-socket-io.md', () => {
  const running: ExampleProcess[] = []
  afterAll(async () => {
    await Promise.all(running.map((process) => process.kill()))
    rmSync(DIR, { recursive: true, force: true })
  })

  it('has a before and an after, server and client each, and no other code', () => {
    expect([...files().keys()].sort()).toEqual(['parley-client.mjs', 'parley-server.mjs', 'socketio-client.mjs', 'socketio-server.mjs'])
    expect(DOC.match(/^```/gm)?.length).toBe(2 * 4)
  })

  it.each(['socketio', 'parley'])('the %s version runs: the client hears its own message back', async (side) => {
    mkdirSync(DIR, { recursive: true })
    for (const [name, code] of files()) writeFileSync(`${DIR}/${name}`, code)
    const port = await freePort()
    const server = runExample(`${DIR}/${side}-server.mjs`, [], { PORT: String(port) })
    running.push(server)
    await server.waitForOutput(new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`), 20_000)
    const client = runExample(`${DIR}/${side}-client.mjs`, [], { PARLEY_URL: `ws://127.0.0.1:${port}/parley` })
    running.push(client)
    const timer = setTimeout(() => void client.kill(), 15_000)
    const code = await client.exited()
    clearTimeout(timer)
    expect(client.output()).toContain('alice said "hello, world"')
    expect(code, client.output()).toBe(0)
    if (side === 'parley') expect(server.output()).toContain('alice connected')
  }, 40_000)
})
