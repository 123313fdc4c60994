import { afterEach, describe, expect, it } from 'vitest'
import { autoTransport, AuthError, forgetTransportChoice, httpStreamTransport, type Client, type Room } from '@parley/client-sdk'
import type { ServerOptions } from '@parley/server-sdk'
import { startHttpProxy, type HttpProxy } from './helpers/http-proxy.js'
import { tokenAuth, useLive, waitUntil } from './helpers/live-server.js'

// The HTTP stream transport (server-sent events down, POSTs up) and the automatic choice: WebSocket first, the HTTP
// stream when something between client and server blocks WebSocket, never on a refusal Parley made.

const live = useLive()
afterEach(() => forgetTransportChoice())

const proxies: HttpProxy[] = []
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
})

async function proxy(targets: readonly number[], options: { blockUpgrades?: boolean } = {}): Promise<HttpProxy> {
  const started = await startHttpProxy(targets, options)
  proxies.push(started)
  return started
}

function record(room: Room<{ n: number }>): number[] {
  const seen: number[] = []
  room.on('message', (message) => void seen.push(message.data.n))
  return seen
}

const RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 }
const options: ServerOptions = { authenticate: tokenAuth(), presence: { graceMs: 0 } }

describe('the HTTP stream transport', () => {
  it('joins, publishes with acks, receives, and sees presence like a WebSocket client', async () => {
    const server = await live.server(options)
    const viaStream = live.client(server.url, { token: 'sse', transport: httpStreamTransport(), reconnect: RECONNECT })
    const viaWs = live.client(server.url, { token: 'ws', reconnect: RECONNECT })
    const a = viaStream.join<{ n: number }>('mixed')
    const b = viaWs.join<{ n: number }>('mixed')
    const atA = record(a)
    const atB = record(b)
    await waitUntil(() => a.state === 'joined' && b.state === 'joined', 'both joined')
    expect(viaStream.transport).toBe('http-stream')
    await waitUntil(() => a.members().length === 2, 'presence of both')
    for (let n = 1; n <= 20; n++) await (n % 2 === 0 ? a : b).publish({ n })
    await waitUntil(() => atA.length === 20 && atB.length === 20, 'all twenty at both')
    expect(atA).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    expect(atB).toEqual(atA)
    await viaStream.close()
    await waitUntil(() => b.members().length === 1, 'the stream client leaves presence at once on close')
  })

  it('reads refusals: a bad token is an AuthError (final), not a retry loop', async () => {
    const server = await live.server(options)
    const client = live.client(server.url, { transport: httpStreamTransport(), reconnect: RECONNECT })
    const errors: unknown[] = []
    client.on('error', (error) => void errors.push(error))
    await waitUntil(() => client.state === 'closed', 'the client to give up')
    expect(errors.some((error) => error instanceof AuthError)).toBe(true)
  })
})

describe('the automatic choice', () => {
  it('falls back to the HTTP stream within the attempt when a proxy refuses the upgrade, and says so', async () => {
    const server = await live.server(options)
    const front = await proxy([server.port], { blockUpgrades: true })
    const client = live.client(front.url, { token: 'behind-proxy', reconnect: RECONNECT })
    const transports: string[] = []
    client.on('transport', (name) => void transports.push(name))
    const started = Date.now()
    await waitUntil(() => client.state === 'open', 'open through the fallback', 5_000)
    console.log(`[fallback] open over ${client.transport} ${Date.now() - started} ms after start`)
    expect(client.transport).toBe('http-stream')
    expect(transports).toEqual(['http-stream'])
    const room = client.join<{ n: number }>('r')
    const seen = record(room)
    await waitUntil(() => room.state === 'joined', 'joined')
    await server.parley.room('r').publish({ n: 1 })
    await waitUntil(() => seen.length === 1, 'a message over the stream')
  })

  it('does not fall back on a refusal Parley made (401 read by ws): no stream is opened', async () => {
    const server = await live.server(options)
    let streams = 0
    server.http.prependListener('request', (request) => {
      if ((request.headers.accept ?? '').includes('text/event-stream')) streams++
    })
    const client = live.client(server.url, { transport: autoTransport({ websocket: { preferWs: true } }), reconnect: RECONNECT })
    await waitUntil(() => client.state === 'closed', 'the client to give up on the 401')
    expect(streams).toBe(0)
  })

  it('recovers across a change of transport: nothing lost, nothing twice', async () => {
    const server = await live.server(options)
    const front = await proxy([server.port])
    const client = live.client(front.url, { token: 'mover', reconnect: RECONNECT, heartbeat: { intervalMs: 300, timeoutMs: 300 } })
    const room = client.join<{ n: number }>('stream')
    const seen = record(room)
    const recoveries: unknown[] = []
    room.on('recovery', (recovery) => void recoveries.push(recovery))
    await waitUntil(() => room.state === 'joined', 'joined over WebSocket')
    expect(client.transport).toBe('websocket')
    for (let n = 1; n <= 5; n++) await server.parley.room('stream').publish({ n })
    await waitUntil(() => seen.length === 5, 'the first five')
    // The proxy starts refusing upgrades and cuts the WebSocket; messages go on meanwhile.
    front.blockUpgrades(true)
    for (let n = 6; n <= 10; n++) await server.parley.room('stream').publish({ n })
    await waitUntil(() => client.transport === 'http-stream' && room.state === 'joined', 'back over the HTTP stream', 8_000)
    for (let n = 11; n <= 15; n++) await server.parley.room('stream').publish({ n })
    await waitUntil(() => seen.length >= 15, 'all fifteen', 5_000, () => seen)
    expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => i + 1))
    expect(recoveries).toEqual([{ recovered: true, replayed: 5, gap: null }])
  })
})

describe('no sticky sessions', () => {
  it('works through a proxy that sends each request to another node (one process, two instances on one memory adapter)', async () => {
    const { createMemoryAdapter } = await import('@parley/server-sdk')
    const adapter = createMemoryAdapter()
    const first = await live.server({ ...options, adapter })
    const second = await live.server({ ...options, adapter })
    const front = await proxy([first.port, second.port], { blockUpgrades: true })
    const clients: Client[] = ['ann', 'ben', 'cal'].map((name) => live.client(front.url, { token: name, reconnect: RECONNECT }))
    const rooms = clients.map((client) => client.join<{ n: number }>('lb'))
    const seen = rooms.map(record)
    await waitUntil(() => rooms.every((room) => room.state === 'joined'), 'all joined')
    await waitUntil(() => rooms.every((room) => room.members().length === 3), 'presence of all three')
    for (let n = 1; n <= 9; n++) await (rooms[n % 3] as Room<{ n: number }>).publish({ n })
    await waitUntil(() => seen.every((list) => list.length === 9), 'every message everywhere')
    for (const list of seen) expect(list.slice().sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(front.forwarded.every((count) => count > 5)).toBe(true)
  })
})
