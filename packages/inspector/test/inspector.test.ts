import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient, websocketTransport, type Client } from '@parley/client-sdk'
import { attachInspector, MAX_SESSIONS, SnapshotBuilder, type Inspector, type InspectorSnapshot } from '@parley/inspector'
import { attach, createMemoryAdapter, type NodeInspection, type Parley, type ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'

const KEY = 'inspector-key-0123456789'
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface App {
  readonly server: Server
  readonly parley: Parley
  readonly inspector: Inspector
  readonly http: string
  readonly ws: string
}

/** An app: its own request handler, Parley at /parley, the inspector at /parley-inspector. */
async function startApp(inspectorOptions: Parameters<typeof attachInspector>[2] = { key: KEY, intervalMs: 250 }, options: ServerOptions = {}): Promise<App> {
  const server = createServer((_request, response) => response.end('the app'))
  const parley = attach(server, { authenticate: ({ token }) => (token === undefined ? null : { id: token }), ...options })
  const inspector = attachInspector(server, parley, inspectorOptions)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await parley.ready
  const port = (server.address() as AddressInfo).port
  cleanups.push(async () => {
    await inspector.close()
    await parley.close()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { server, parley, inspector, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` }
}

function connect(url: string, token: string, options: Parameters<typeof createClient>[1] = {}): Client {
  const client = createClient(url, { token, reconnect: false, ...options })
  cleanups.push(() => client.close())
  return client
}

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Connects an operator to the live channel and collects its snapshots. */
async function operator(app: App, token = KEY): Promise<{ client: Client; snapshots: InspectorSnapshot[] }> {
  const client = connect(`${app.ws}/parley-inspector/live`, token)
  const snapshots: InspectorSnapshot[] = []
  client.on('direct', (message) => snapshots.push(message.data as unknown as InspectorSnapshot))
  await until(() => client.state === 'open', 'the operator connected')
  return { client, snapshots }
}

describe('attachInspector', () => {
  it('serves the page with a strict CSP, leaves every other request to the app, and hands them back on close()', async () => {
    const app = await startApp()
    const page = await fetch(`${app.http}/parley-inspector`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    const html = await page.text()
    expect(html).toContain('<script type="module" src="/parley-inspector/inspector.js">')
    const script = await fetch(`${app.http}/parley-inspector/inspector.js`)
    expect(script.headers.get('content-type')).toContain('javascript')
    expect((await script.text()).length).toBeGreaterThan(10_000)
    expect((await fetch(`${app.http}/parley-inspector/inspector.css`)).headers.get('content-type')).toContain('text/css')
    expect((await fetch(`${app.http}/parley-inspector/..%2f..%2fpackage.json`)).status).toBe(404)
    expect((await fetch(`${app.http}/parley-inspector/nothing.js`)).status).toBe(404)
    expect(await (await fetch(`${app.http}/elsewhere`)).text()).toBe('the app')
    await app.inspector.close()
    expect(await (await fetch(`${app.http}/parley-inspector`)).text()).toBe('the app')
    expect(await (await fetch(`${app.http}/other`)).text()).toBe('the app')
  })

  it.each(['the inspector first', 'Parley first'])('closing %s leaves every request answered once by the app', async (first) => {
    let calls = 0
    const server = createServer((_request, response) => {
      calls++
      response.end('the app')
    })
    const parley = attach(server)
    const inspector = attachInspector(server, parley, { key: KEY })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (first === 'Parley first') {
      await parley.close()
      expect(await (await fetch(`${url}/parley-inspector`)).text()).toContain('Parley inspector')
      await inspector.close()
    } else {
      await inspector.close()
      await parley.close()
    }
    calls = 0
    for (const path of ['/a', '/parley', '/parley-inspector']) expect(await (await fetch(url + path)).text()).toBe('the app')
    expect(calls).toBe(3)
  })

  it('admits operators by key or by the app\'s own check of the request, and refuses everyone else (401)', async () => {
    const app = await startApp({ key: KEY, authenticate: ({ headers }) => (headers['cookie'] === 'session=admin' ? 'ada' : null) })
    const refused = (options: Parameters<typeof createClient>[1]): Promise<unknown> =>
      new Promise((resolve) => {
        const client = createClient(`${app.ws}/parley-inspector/live`, { reconnect: false, ...options })
        cleanups.push(() => client.close())
        client.on('error', (error) => resolve((error as { code?: string }).code))
      })
    expect(await refused({ token: 'wrong-key-0123456789', transport: websocketTransport({ preferWs: true }) })).toBe('UNAUTHORIZED')
    expect(await refused({ transport: websocketTransport({ preferWs: true, headers: { cookie: 'session=guest' } }) })).toBe('UNAUTHORIZED')
    const byKey = await operator(app)
    const byCookie = createClient(`${app.ws}/parley-inspector/live`, { reconnect: false, transport: websocketTransport({ preferWs: true, headers: { cookie: 'session=admin' } }) })
    cleanups.push(() => byCookie.close())
    await until(() => byCookie.state === 'open', 'the cookie operator connected')
    expect(byCookie.user).toBe('ada')
    expect(byKey.client.user).toBe('key-holder')
    // The app's own Parley does not take the inspector's key, nor the reverse: two endpoints, two checks.
    expect(app.parley.sessions()).toEqual([])
  })

  it('sends live snapshots of rooms, members, rates, sessions and errors while a page is open', async () => {
    const app = await startApp()
    const alice = connect(`${app.ws}/parley`, 'alice')
    const bob = connect(`${app.ws}/parley`, 'bob')
    const lobby = alice.join('lobby')
    bob.join('lobby')
    alice.join('random')
    await until(() => app.parley.stats().members === 3, 'three memberships')
    // An error to show: a request nobody handles.
    await bob.request('nope', {}).catch(() => undefined)
    const { snapshots } = await operator(app)
    for (let i = 0; i < 20; i++) await lobby.publish({ text: `m${i}` })
    await until(() => snapshots.some((s) => (s.rooms.find((r) => r.room === 'lobby')?.messagesPerSec ?? 0) > 0), 'a message rate')
    const last = snapshots.at(-1) as InspectorSnapshot
    expect(last.totals).toMatchObject({ connections: 2, rooms: 2, members: 3 })
    expect(last.rooms.map((r) => [r.room, r.members])).toEqual([['lobby', 2], ['random', 1]])
    expect(last.sessions.map((s) => [s.user, s.transport, s.protocol, [...s.rooms].sort()]).sort()).toEqual([
      ['alice', 'websocket', 'parley.v2.json', ['lobby', 'random']],
      ['bob', 'websocket', 'parley.v2.json', ['lobby']],
    ])
    expect(last.errors).toEqual([expect.objectContaining({ code: 'UNKNOWN_REQUEST', user: 'bob', node: app.parley.nodeId })])
    expect(last.nodes).toEqual([expect.objectContaining({ node: app.parley.nodeId, connections: 2 })])
    expect(app.inspector.snapshot).toBeDefined()
  })

  it('acts through the server control API: remove from a room, disconnect a user, publish a system message; bad input is refused', async () => {
    const actions: unknown[] = []
    const logger = { debug: () => undefined, info: (fields: unknown) => void actions.push(fields), warn: () => undefined, error: () => undefined }
    const app = await startApp({ key: KEY, intervalMs: 250, logger })
    const carol = connect(`${app.ws}/parley`, 'carol')
    const dave = connect(`${app.ws}/parley`, 'dave')
    const room = carol.join('ops')
    const daveRoom = dave.join('ops')
    const received: unknown[] = []
    room.on('message', (message) => received.push(message.data))
    await until(() => app.parley.stats().members === 2, 'both joined')
    const { client } = await operator(app)

    const detail = (await client.request('room.detail', { room: 'ops' })) as { members: Array<{ user: string }> }
    expect(detail.members.map((m) => m.user).sort()).toEqual(['carol', 'dave'])

    expect(await client.request('room.publish', { room: 'ops', text: 'maintenance at noon' })).toMatchObject({ seq: 1 })
    await until(() => received.length === 1, 'the system message')
    expect(received).toEqual([{ text: 'maintenance at noon', system: true }])

    const left: string[] = []
    daveRoom.on('left', (reason) => left.push(String(reason)))
    expect(await client.request('room.remove', { room: 'ops', user: 'dave' })).toMatchObject({ sessions: 1 })
    await until(() => app.parley.stats().members === 1, 'dave removed')

    expect(await client.request('user.disconnect', { user: 'carol' })).toMatchObject({ sessions: 1 })
    await until(() => carol.state === 'closed', 'carol disconnected')

    await expect(client.request('room.publish', { room: 'ops', text: '' })).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    await expect(client.request('user.disconnect', ['not', 'an', 'object'])).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    await expect(client.request('room.detail', { room: 'bad room name!' })).rejects.toMatchObject({ code: 'ROOM_NAME_INVALID' })
    await expect(client.request('shutdown', {})).rejects.toMatchObject({ code: 'UNKNOWN_REQUEST' })
    expect(actions).toEqual([
      expect.objectContaining({ event: 'inspector.action', operator: 'key-holder', action: 'room.publish', room: 'ops', seq: 1 }),
      expect.objectContaining({ event: 'inspector.action', action: 'room.remove', room: 'ops', user: 'dave', sessions: 1 }),
      expect.objectContaining({ event: 'inspector.action', action: 'user.disconnect', user: 'carol', sessions: 1 }),
    ])
  })

  it('sees the sessions of every node sharing an adapter', async () => {
    const adapter = createMemoryAdapter()
    const a = await startApp({ key: KEY, intervalMs: 250 }, { adapter })
    const b = await startApp({ key: KEY, intervalMs: 250 }, { adapter })
    connect(`${a.ws}/parley`, 'on-a').join('shared')
    connect(`${b.ws}/parley`, 'on-b').join('shared')
    const { snapshots } = await operator(a)
    await until(() => (snapshots.at(-1)?.sessions.length ?? 0) === 2, 'both nodes\' sessions')
    const last = snapshots.at(-1) as InspectorSnapshot
    expect(last.sessions.map((s) => [s.user, s.node]).sort()).toEqual([['on-a', a.parley.nodeId], ['on-b', b.parley.nodeId]].sort())
    expect(last.rooms).toEqual([expect.objectContaining({ room: 'shared', members: 2 })])
  })

  it('refuses bad options with INVALID_OPTION', async () => {
    const server = createServer()
    const parley = attach(server)
    cleanups.push(() => parley.close())
    const before = server.listeners('request')
    expect(() => attachInspector(server, parley, {})).toThrow(/key.*authenticate/)
    expect(() => attachInspector(server, parley, { key: 'short' })).toThrow(/16 characters/)
    expect(() => attachInspector(server, parley, { key: KEY, path: 'no-slash' })).toThrow(/path/)
    expect(() => attachInspector(server, parley, { key: KEY, path: '/a"><script>' })).toThrow(/path/)
    expect(() => attachInspector(server, parley, { key: KEY, intervalMs: 10 })).toThrow(/intervalMs/)
    // The live channel's path is taken: the inspector gives the requests back as it found them.
    const other = attach(server, { path: '/parley-inspector/live' })
    cleanups.push(() => other.close())
    const current = server.listeners('request')
    expect(() => attachInspector(server, parley, { key: KEY })).toThrow(/path/)
    expect(server.listeners('request')).toEqual(current)
    expect(before).toHaveLength(1)
  })
})

describe('SnapshotBuilder', () => {
  const inspection = (node: string, at: number, deliveries: number, rooms: Array<[string, number]>): NodeInspection =>
    ({ node, at, stats: { connections: 1, members: 1, slowConsumers: 0, errors: { NOT_JOINED: 2 }, deliveries, outboundBuffered: 0 }, sessions: [], sessionsTotal: 1, rooms: rooms.map(([room, messages]) => ({ room, messages, sessions: 1 })), errors: [] }) as unknown as NodeInspection

  it('gives per-room rates from each node\'s counters, the busiest node\'s for a shared room, and keeps a rate between heartbeats', () => {
    const builder = new SnapshotBuilder()
    const rooms = [{ room: 'a', members: 3 }, { room: 'b', members: 5 }]
    builder.build([inspection('n1', 1_000, 0, [['a', 0], ['b', 0]]), inspection('n2', 1_000, 0, [['a', 0]])], rooms, false)
    const second = builder.build([inspection('n1', 3_000, 100, [['a', 20], ['b', 4]]), inspection('n2', 3_000, 50, [['a', 10]])], rooms, false)
    expect(second.rooms).toEqual([{ room: 'b', members: 5, messagesPerSec: 2 }, { room: 'a', members: 3, messagesPerSec: 10 }])
    expect(second.totals).toMatchObject({ deliveriesPerSec: 75, errors: 4, rooms: 2 })
    // n2's inspection did not change (between its heartbeats): its rate stands.
    const third = builder.build([inspection('n1', 4_000, 100, [['a', 20], ['b', 4]]), inspection('n2', 3_000, 50, [['a', 10]])], rooms, true)
    expect(third.rooms.find((r) => r.room === 'a')?.messagesPerSec).toBe(5)
    expect(third.partial).toBe(true)
    // A snapshot asked for 100 ms later (a page that just connected) keeps the rates rather than measure a blip.
    const blip = builder.build([inspection('n1', 4_100, 150, [['a', 20], ['b', 9]]), inspection('n2', 3_000, 50, [['a', 10]])], rooms, false)
    expect(blip.rooms.find((r) => r.room === 'b')?.messagesPerSec).toBe(0)
    expect(blip.totals.deliveriesPerSec).toBe(0 + 25)
  })

  it('lists at most MAX_SESSIONS sessions over every node', () => {
    const session = (i: number) => ({ id: `s${i}`, user: `u${i}`, transport: 'websocket', protocol: 'parley.v1.json', bufferedBytes: 0, openedAt: 0, rooms: [], roomCount: 0, remoteAddress: undefined })
    const node = (name: string, count: number): NodeInspection =>
      ({ ...inspection(name, 1_000, 0, []), sessions: Array.from({ length: count }, (_, i) => session(i)), sessionsTotal: count }) as unknown as NodeInspection
    const snapshot = new SnapshotBuilder().build([node('n1', 300), node('n2', 300)], [], false)
    expect(snapshot.sessions).toHaveLength(MAX_SESSIONS)
    expect(snapshot.nodes.map((n) => n.sessionsTotal)).toEqual([300, 300])
  })
})
