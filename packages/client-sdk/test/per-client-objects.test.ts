import { setFlagsFromString } from 'node:v8'
import { describe, expect, it } from 'vitest'
import { createPendingRequests } from '../src/acks.js'
import { createOfflineQueue } from '../src/offline-queue.js'
import { openConnection } from '../src/connection.js'
import { websocketTransport, type WebSocketLike } from '../src/transports/websocket.js'
import { autoTransport } from '../src/transports/auto.js'
import { createClient } from '../src/create-client.js'
import { resolveLimits } from '@parley/protocol'

setFlagsFromString('--allow-natives-syntax')
// Compiled after the flag is set, so V8's own check is reachable; it says whether an object's properties are fast.
const hasFastProperties = new Function('object', 'return %HasFastProperties(object)') as (object: object) => boolean

/** A stand-in WebSocket class that never connects and never closes by itself: nothing leaves the process. */
function standInSocket(protocol: string, bufferedAmount: number): new () => WebSocketLike {
  return class implements WebSocketLike {
    readonly protocol = protocol
    readonly bufferedAmount = bufferedAmount
    binaryType = 'blob'
    onopen = null
    onmessage = null
    onclose = null
    onerror = null
    send(): void {}
    close(): void {}
  }
}

/**
 * Objects every client holds one of are not kept in V8's dictionary mode: an object literal with a getter is (about
 * 1 KB each against 56 bytes for a class instance; docs/benchmarks.md, "The client's own cost"), and a process
 * holding thousands of clients pays that per client.
 */
describe("a client's per-connection helpers keep fast properties (issue 20)", () => {
  it('the offline queue and the table of pending requests', () => {
    const queue = createOfflineQueue<{ id: string }>(10)
    const pending = createPendingRequests<number>()
    expect(hasFastProperties(queue)).toBe(true)
    expect(hasFastProperties(pending)).toBe(true)
    // And they still work as before.
    expect(queue.push({ id: 'a' })).toBe(true)
    expect(queue.size).toBe(1)
    let settled: unknown
    pending.add('r', 1_000, (result) => (settled = result))
    expect(pending.size).toBe(1)
    expect(pending.resolve('r', 7)).toBe(true)
    expect(settled).toEqual({ ok: true, value: 7 })
    expect(pending.size).toBe(0)
  })
})

describe("a client's connection and its WebSocket transport keep fast properties (issue 20)", () => {
  it('as opened over a WebSocket that never connects, and still read their state through', async () => {
    const transport = websocketTransport({ WebSocket: standInSocket('parley.v1.json', 42) })
    const made = transport({ url: 'ws://127.0.0.1:1/parley', protocols: ['parley.v1.json'], token: undefined })
    expect(hasFastProperties(made)).toBe(true)
    expect([made.name, made.protocol, made.bufferedAmount, made.binary]).toEqual(['websocket', 'parley.v1.json', 42, true])
    const connection = openConnection(
      { request: { url: 'ws://127.0.0.1:1/parley', protocols: ['parley.v1.json'], token: undefined }, transport, connectTimeoutMs: 60_000, heartbeat: false, inboundLimits: resolveLimits() },
      { welcome: () => undefined, message: () => undefined, invalid: () => undefined, closed: () => undefined },
    )
    expect(hasFastProperties(connection)).toBe(true)
    expect([connection.transportName, connection.protocol, connection.bufferedAmount, connection.binary]).toEqual(['websocket', 'parley.v1.json', 42, true])
    await connection.close(1000, 'done')
  })
})

describe('a client, its room handles and its automatic transport keep fast properties (issue 20)', () => {
  const SilentSocket = standInSocket('', 0)

  it('as createClient() returns them, with methods that still work detached (destructured)', async () => {
    const transport = autoTransport({ websocket: { WebSocket: SilentSocket }, openTimeoutMs: 60_000 })
    const made = transport({ url: 'ws://127.0.0.1:1/parley', protocols: ['parley.v1.json'], token: undefined })
    expect(hasFastProperties(made)).toBe(true)
    expect([made.name, made.protocol, made.bufferedAmount, made.binary]).toEqual(['websocket', '', 0, true])
    made.close(1000, 'done')

    const client = createClient('ws://127.0.0.1:1/parley', { transport: autoTransport({ websocket: { WebSocket: SilentSocket }, openTimeoutMs: 60_000 }) })
    const { join, on, close } = client
    const states: string[] = []
    on('state', (state) => states.push(state))
    const room = join('lobby')
    expect(hasFastProperties(client)).toBe(true)
    expect(hasFastProperties(room)).toBe(true)
    expect([client.state, client.url, client.protocol, client.transport, client.session]).toEqual(['connecting', 'ws://127.0.0.1:1/parley', undefined, undefined, undefined])
    expect([room.name, room.state, room.memberCount, room.members()]).toEqual(['lobby', 'joining', 0, []])
    // Through a Proxy (Vue's reactive(), say), the getters still read the client's and the room's state.
    const proxied = { client: new Proxy(client, {}), room: new Proxy(room, {}) }
    expect([proxied.client.state, proxied.client.url, proxied.room.state, proxied.room.memberCount]).toEqual(['connecting', 'ws://127.0.0.1:1/parley', 'joining', 0])
    const { on: onRoom, leave } = room
    const left: unknown[] = []
    onRoom('left', (event) => left.push(event))
    await leave()
    expect(room.state).toBe('left')
    expect(left).toHaveLength(1)
    await close()
    expect(client.state).toBe('closed')
    expect(states.at(-1)).toBe('closed')
  })
})
