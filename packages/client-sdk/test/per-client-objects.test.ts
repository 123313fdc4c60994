import { setFlagsFromString } from 'node:v8'
import { describe, expect, it, vi } from 'vitest'
import { createPendingRequests } from '../src/acks.js'
import { createOfflineQueue } from '../src/offline-queue.js'
import { openConnection } from '../src/connection.js'
import { websocketTransport, type WebSocketLike } from '../src/transports/websocket.js'
import { autoTransport } from '../src/transports/auto.js'
import { createClient, type Client } from '../src/create-client.js'
import { resolveOptions } from '../src/options.js'
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

const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean

describe("what a client holds per connection is shared where it can be (issue 20)", () => {
  it("two clients' resolved options share one hidden class, and the default transport and inbound limits are one object", () => {
    const one = resolveOptions('ws://127.0.0.1:1/parley', {})
    const two = resolveOptions(['ws://127.0.0.1:2/parley'], { token: 't', ackTimeoutMs: 5_000 })
    // A rest and a spread gave each client's options a map (and a descriptor array, about 0.5 KB) of its own.
    expect(haveSameMap(one, two)).toBe(true)
    expect(one.transport).toBe(two.transport)
    expect(one.inboundLimits).toBe(two.inboundLimits)
    expect(Object.isFrozen(one.inboundLimits)).toBe(true)
    // Given limits still make an object of their own, over the defaults.
    const three = resolveOptions('ws://127.0.0.1:1/parley', { inboundLimits: { maxPayload: 1_000 } })
    expect(three.inboundLimits).not.toBe(one.inboundLimits)
    expect(three.inboundLimits.maxPayload).toBe(1_000)
    expect(three.inboundLimits.maxRoomNameLength).toBe(one.inboundLimits.maxRoomNameLength)
  })

  it("a client's and a room's methods are bound on first read and the same function after, not own closures", async () => {
    const client = createClient('ws://127.0.0.1:1/parley', { transport: autoTransport({ websocket: { WebSocket: standInSocket('', 0) }, openTimeoutMs: 60_000 }) })
    // No method is an own property: a client whose methods nobody reads holds no closures for them.
    expect(Object.keys(client)).toEqual([])
    const room = client.join('lobby')
    expect(Object.keys(room)).toEqual(['name'])
    expect(client.join).toBe(client.join)
    expect(room.publish).toBe(room.publish)
    expect(room.on).not.toBe(client.on)
    // Bound to their own client and room: a detached call reaches the right one.
    const { join } = client
    expect(join('lobby')).toBe(room)
    const other = createClient('ws://127.0.0.1:1/parley', { transport: autoTransport({ websocket: { WebSocket: standInSocket('', 0) }, openTimeoutMs: 60_000 }) })
    const otherRoom = other.join('lobby')
    expect(otherRoom).not.toBe(room)
    const { members } = otherRoom
    expect(members()).toEqual([])
    await Promise.all([client.close(), other.close()])
  })

  it("every `ws` socket of the WebSocket transport gets the same listener functions, not closures of its own", async () => {
    const { WebSocket: Ws } = await import('ws')
    const seen: Array<Map<string | symbol, unknown>> = []
    const on = Ws.prototype.on
    // Records what the transport registers on each socket; the sockets aim at a closed port and fail by themselves.
    Object.defineProperty(Ws.prototype, 'on', {
      configurable: true,
      writable: true,
      value: function (this: InstanceType<typeof Ws>, event: string | symbol, listener: (...args: unknown[]) => void) {
        let mine = seen.find((map) => map.get('socket') === this)
        if (mine === undefined) seen.push((mine = new Map<string | symbol, unknown>([['socket', this]])))
        mine.set(event, listener)
        return on.call(this, event, listener)
      },
    })
    try {
      const factory = websocketTransport({ preferWs: true })
      const closes: Promise<void>[] = []
      for (let i = 0; i < 2; i++) {
        const made = factory({ url: 'ws://127.0.0.1:1/parley', protocols: ['parley.v1.json'], token: undefined })
        closes.push(new Promise((resolve) => made.onClose(() => resolve())))
      }
      await Promise.all(closes)
    } finally {
      delete (Ws.prototype as { on?: unknown }).on
    }
    expect(Ws.prototype.on).toBe(on)
    expect(seen).toHaveLength(2)
    const [a, b] = seen as [Map<string | symbol, unknown>, Map<string | symbol, unknown>]
    for (const event of ['open', 'message', 'error', 'close', 'unexpected-response']) {
      expect(typeof a.get(event)).toBe('function')
      expect(a.get(event)).toBe(b.get(event))
    }
  })
})

describe("a client's and a room's methods, as getters, still behave like methods (issue 20)", () => {
  const SilentSocket = standInSocket('', 0)
  const silentClient = () => createClient('ws://127.0.0.1:1/parley', { transport: autoTransport({ websocket: { WebSocket: SilentSocket }, openTimeoutMs: 60_000 }) })

  /** What Vue's `reactive()` does to reads: every object read through it comes back wrapped too, unless it is not extensible. */
  function deepReactive<T extends object>(target: T): T {
    return new Proxy(target, {
      get(object, key, receiver) {
        const value: unknown = Reflect.get(object, key, receiver)
        return typeof value === 'object' && value !== null && Object.isExtensible(value) ? deepReactive(value) : value
      },
    })
  }

  it('through a deep reactive proxy, and on the client itself after that', async () => {
    const client = silentClient()
    const reactive = deepReactive(client)
    const room = reactive.join('lobby')
    expect(room.name).toBe('lobby')
    const reactiveRoom = deepReactive(room)
    const off = reactiveRoom.on('message', () => undefined)
    off()
    expect(reactiveRoom.members()).toEqual([])
    // The bound functions a proxied read made serve the client itself too.
    expect(client.join('other').name).toBe('other')
    expect(client.join('lobby')).toBe(client.join('lobby'))
    await reactive.close()
    expect(client.state).toBe('closed')
  })

  it('on a frozen client and room (a store that freezes what it holds)', async () => {
    const client = Object.freeze(silentClient())
    const room = Object.freeze(client.join('lobby'))
    expect(room.members()).toEqual([])
    await room.leave()
    expect(room.state).toBe('left')
    await client.close()
    expect(client.state).toBe('closed')
  })

  it('spied on, replaced, and read off the prototype', async () => {
    const client = silentClient()
    const join = vi.spyOn(client, 'join')
    const room = client.join('lobby')
    expect(join).toHaveBeenCalledWith('lobby')
    expect(join.mock.results[0]?.value).toBe(room)
    const leave = vi.spyOn(room, 'leave')
    await room.leave()
    expect(leave).toHaveBeenCalledTimes(1)
    expect(room.state).toBe('left')
    const replaced = vi.fn(async () => undefined)
    client.close = replaced
    await client.close()
    expect(replaced).toHaveBeenCalledTimes(1)
    expect(client.state).not.toBe('closed')
    // A method read off the prototype calls the method of whatever it is called on.
    const prototypeJoin = Object.getPrototypeOf(client).join as Client['join']
    expect(prototypeJoin.call(client, 'lobby').name).toBe('lobby')
    join.mockRestore()
    await Object.getPrototypeOf(client).close.call(client)
    expect(client.state).toBe('closed')
  })
})
