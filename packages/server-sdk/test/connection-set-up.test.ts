import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { decode, encode, type ServerMessageOf } from '@parley/protocol'
import { isPlainPath, pathnameOf } from '../src/transports/ws.js'
import { Resources } from './helpers/fixtures.js'
import { startServer } from './helpers/start-server.js'

// What a connection costs the server to set up (issue 20: set-up rate against plain ws): the 101 and the welcome in
// one write, the welcome from a template, the request target read without the URL parser when it is the path itself.

const resources = new Resources()
afterEach(() => resources.dispose())

/** Counts the writes that reach the socket's handle (`_write` / `_writev`, one syscall each), not `write()` calls. */
function countHandleWrites(socket: Socket): { readonly writes: number } {
  const counter = { writes: 0 }
  const target = socket as unknown as { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void }
  const write = target._write.bind(socket)
  const writev = target._writev.bind(socket)
  target._write = (...args) => {
    counter.writes++
    write(...args)
  }
  target._writev = (...args) => {
    counter.writes++
    writev(...args)
  }
  return counter
}

function welcomeOf(ws: WebSocket): Promise<ServerMessageOf<'welcome'>> {
  return new Promise((resolve, reject) =>
    ws.once('message', (data: Buffer) => {
      const result = decode(data.toString('utf8'), { from: 'server' })
      if (result.ok && result.message.type === 'welcome') resolve(result.message)
      else reject(new Error(`expected a welcome, got ${data.toString('utf8').slice(0, 100)}`))
    }),
  )
}

describe('connection set-up', () => {
  it('writes the 101 response and the welcome to the socket in one write', async () => {
    const server = resources.add(await startServer(), (s) => s.stop())
    const counters: Array<{ readonly writes: number }> = []
    server.server.on('connection', (socket: Socket) => counters.push(countHandleWrites(socket)))
    const ws = resources.add(new WebSocket(server.url, ['parley.v1.json']), (socket) => socket.terminate())
    const welcome = await welcomeOf(ws)
    expect(welcome.type).toBe('welcome')
    // Give a second write (the welcome after the 101) every chance to happen before counting.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(counters.map((c) => c.writes)).toEqual([1])
  })

  it('sends each session a welcome with its own ids, the same as the message encoded in full', async () => {
    const server = resources.add(
      await startServer({ authenticate: ({ token }) => (token === undefined ? null : { id: token }) }),
      (s) => s.stop(),
    )
    const welcomes: Array<ServerMessageOf<'welcome'>> = []
    for (const [user, protocol] of [['ann', 'parley.v1.json'], ['bob.b:1~x', 'parley.v1.json'], ['cy', 'parley.v2.json']] as const) {
      const ws = resources.add(new WebSocket(`${server.url}?token=${user}`, [protocol]), (socket) => socket.terminate())
      welcomes.push(await welcomeOf(ws))
    }
    expect(welcomes.map((w) => [w.user, w.protocol, w.version])).toEqual([['ann', 'parley.v1.json', 1], ['bob.b:1~x', 'parley.v1.json', 1], ['cy', 'parley.v2.json', 2]])
    expect(new Set(welcomes.map((w) => w.session)).size).toBe(3)
    const sessions = new Map(server.parley.sessions().map((session) => [session.id, session]))
    for (const welcome of welcomes) {
      const session = sessions.get(welcome.session)
      expect(session?.user.id).toBe(welcome.user)
      // Field for field, in order, the message the protocol defines, as encoding it in full gives it.
      const { limits, heartbeat } = server.parley.options
      const full = {
        type: 'welcome',
        session: welcome.session,
        protocol: welcome.protocol,
        version: welcome.version,
        heartbeat: { intervalMs: heartbeat.intervalMs, timeoutMs: heartbeat.timeoutMs },
        limits: { maxPayload: limits.maxPayload, maxRooms: limits.maxRooms, rate: limits.rate },
        capabilities: ['presence', 'signals', 'recovery', 'dedup', 'direct', 'history', 'requests', 'members', 'presence-batch'],
        user: session?.user.id,
      }
      expect(JSON.stringify(welcome)).toBe(encode(full as Parameters<typeof encode>[0]))
    }
  })

  it('leaves `user` out of the welcome of a session that authenticates with its first message', async () => {
    const server = resources.add(await startServer({ authMode: 'first-message', authenticate: ({ token }) => (token === undefined ? null : { id: token }) }), (s) => s.stop())
    const ws = resources.add(new WebSocket(server.url, ['parley.v1.json']), (socket) => socket.terminate())
    const welcome = await welcomeOf(ws)
    expect(welcome.user).toBeUndefined()
    expect(welcome.session).toMatch(/^[0-9a-z]{16}$/)
  })
})

describe('per-connection listeners', () => {
  it("adds the same listener functions to every open WebSocket: no closure per connection for frames, pongs or the close", async () => {
    const server = resources.add(await startServer(), (s) => s.stop())
    const clients = new Set<WebSocket>()
    const added = new Map<object, Array<[string | symbol, unknown]>>()
    const on = EventEmitter.prototype.on
    const spy = vi.spyOn(EventEmitter.prototype, 'on').mockImplementation(function (this: EventEmitter, event: unknown, listener: (...args: unknown[]) => void) {
      if (this instanceof WebSocket && !clients.has(this)) added.set(this, [...(added.get(this) ?? []), [event as string | symbol, listener]])
      return on.call(this, event as string | symbol, listener)
    })
    resources.add(spy, (s) => s.mockRestore())
    for (let i = 0; i < 2; i++) {
      const ws = new WebSocket(server.url, ['parley.v1.json'])
      clients.add(ws)
      resources.add(ws, (socket) => socket.terminate())
      await welcomeOf(ws)
    }
    const [first, second] = [...added.values()]
    expect(added.size).toBe(2)
    for (const event of ['message', 'pong', 'close']) {
      const of = (list: Array<[string | symbol, unknown]> | undefined) => (list ?? []).filter(([name]) => name === event).map(([, listener]) => listener)
      expect(of(first), event).toHaveLength(1)
      expect(of(first), event).toEqual(of(second))
      expect(of(first)[0], event).toBe(of(second)[0])
    }
    // And they still reach the session: a ping is answered, a close ends it.
    const ws = [...clients][0] as WebSocket
    const pong = new Promise((resolve) => ws.on('message', (data: Buffer) => data.toString().includes('"pong"') && resolve(true)))
    ws.send(JSON.stringify({ type: 'ping', id: 'p' }))
    expect(await pong).toBe(true)
    ws.close()
    await vi.waitFor(() => expect(server.parley.sessions()).toHaveLength(1))
  })
})

describe('the request target', () => {
  it('is the path itself without parsing when it is the path, with or without a query', () => {
    expect(isPlainPath('/parley')).toBe(true)
    expect(pathnameOf('/parley', '/parley', true)).toBe('/parley')
    expect(pathnameOf('/parley?token=a', '/parley', true)).toBe('/parley')
  })

  it('goes through the URL parser otherwise, as before', () => {
    // Prefixes and neighbours of the path are other paths.
    expect(pathnameOf('/parleyx', '/parley', true)).toBe('/parleyx')
    expect(pathnameOf('/parley/', '/parley', true)).toBe('/parley/')
    // Dot segments and fragments normalise to the path.
    expect(pathnameOf('/x/../parley', '/parley', true)).toBe('/parley')
    expect(pathnameOf('/parley#top', '/parley', true)).toBe('/parley')
    // A target the URL parser refuses is no path of ours.
    expect(pathnameOf('//a:99999/', '/parley', true)).toBe('')
  })

  it('is parsed every time for a path the URL parser would not give back as it is', () => {
    expect(isPlainPath('/a b')).toBe(false)
    expect(isPlainPath('/a/../b')).toBe(false)
    // With such a path, a target equal to it is parsed, and so never matches it.
    expect(pathnameOf('/a b', '/a b', isPlainPath('/a b'))).toBe('/a%20b')
  })
})
