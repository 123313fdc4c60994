import { createMemoryAdapter, INSPECTED_ROOMS_PER_SESSION, RECENT_ERRORS, type TimingObserver } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import { tryHandshake } from './helpers/fixtures.js'
import { connectAnon, connectAs, join, tokenAuth, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()

describe('stats an operator reads (issue 18)', () => {
  it('counts connections by transport and protocol, refusals by code, and closes by the code that ended them', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const alice = await connectAs(url, 'alice')
    await connectAs(url, 'bob')
    expect(await tryHandshake(url, {})).toMatchObject({ kind: 'http', status: 401 })
    expect(await tryHandshake(url, { protocols: ['parley.v9.json'] })).toMatchObject({ kind: 'http', status: 426 })
    let stats = parley.stats()
    expect(stats.connectionsBy).toEqual([{ transport: 'websocket', protocol: 'parley.v1.json', connections: 2 }])
    expect(stats.connectionsOpened).toBe(2)
    expect(stats.refused).toEqual({ UNAUTHORIZED: 1, UNSUPPORTED_VERSION: 1 })
    alice.close(4000, 'bye')
    await waitUntil(() => parley.stats().connections === 1, 'alice gone')
    const bob = parley.sessions()[0]!
    bob.close(4003, 'by the server')
    await waitUntil(() => parley.stats().connections === 0, 'bob gone')
    stats = parley.stats()
    // The server's own code as it is; a code a client chose outside RFC 6455's range as `other`.
    expect(stats.closes).toEqual({ other: 1, 4003: 1 })
    expect(stats.connectionsOpened).toBe(2)
  })

  it('counts resumes by outcome: recovered, gap (window exceeded) and reset (another epoch)', async () => {
    const { url, parley } = await servers.start({ history: { size: 2 } })
    const { client } = await connectAnon(url)
    const joined = await join(client, 'lobby')
    await join(client, 'lobby', { resume: { epoch: joined.epoch, seq: 0 } })
    for (let i = 1; i <= 5; i++) await parley.room('lobby').publish(i)
    const { client: late } = await connectAnon(url)
    await join(late, 'lobby', { resume: { epoch: joined.epoch, seq: 1 } })
    await join(late, 'other', { resume: { epoch: 'someotherepoch', seq: 3 } })
    expect(parley.stats().recovery).toEqual({ recovered: 1, gap: 1, reset: 1 })
  })

  it('tracks the outbound buffer: the high-water of any one session, and what is buffered now', async () => {
    const { url, parley } = await servers.start()
    const { client } = await connectAnon(url)
    await join(client, 'lobby')
    await parley.room('lobby').publish('x'.repeat(10_000))
    await client.next('message')
    const stats = parley.stats()
    // The 10 000-byte payload was queued in one frame; nothing stays buffered once it is written.
    expect(stats.outboundHighWater).toBeGreaterThan(10_000)
    expect(stats.outboundBuffered).toBe(0)
  })

  it('keeps the last RECENT_ERRORS errors with who they concerned, oldest first, and shows them in inspect()', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth, limits: { rate: { messages: 1_000, perMs: 1_000 } } })
    const eve = await connectAs(url, 'eve')
    for (let i = 0; i < RECENT_ERRORS + 5; i++) eve.send({ type: 'publish', room: `not-joined-${i}`, data: i, id: `p${i}` })
    await waitUntil(() => (parley.stats().errors.NOT_JOINED ?? 0) === RECENT_ERRORS + 5, 'every refusal')
    const { errors, sessions, node } = parley.inspect()
    expect(errors).toHaveLength(RECENT_ERRORS)
    expect(errors[0]).toMatchObject({ code: 'NOT_JOINED', user: 'eve', room: 'not-joined-5' })
    expect(errors.at(-1)).toMatchObject({ code: 'NOT_JOINED', user: 'eve', room: `not-joined-${RECENT_ERRORS + 4}` })
    expect(node).toBe(parley.nodeId)
    expect(sessions).toEqual([expect.objectContaining({ user: 'eve', transport: 'websocket', protocol: 'parley.v1.json', bufferedBytes: 0, rooms: [] })])
  })

  it('inspect() lists rooms with the messages delivered to them, and sessions up to the limit', async () => {
    const { url, parley } = await servers.start()
    const clients = await Promise.all([1, 2, 3].map(() => connectAnon(url)))
    for (const { client } of clients) await join(client, 'busy')
    await join(clients[0]!.client, 'calm')
    for (let i = 0; i < 7; i++) await parley.room('busy').publish(i)
    await waitUntil(() => parley.inspect().rooms.find((r) => r.room === 'busy')?.messages === 7, 'delivered')
    const inspection = parley.inspect({ sessions: 2 })
    expect(inspection.rooms).toEqual(expect.arrayContaining([{ room: 'busy', sessions: 3, messages: 7 }, { room: 'calm', sessions: 1, messages: 0 }]))
    expect(inspection.sessions).toHaveLength(2)
    expect(inspection.sessionsTotal).toBe(3)
  })

  it('inspect() lists at most 10 rooms of a session, with roomCount counting all', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth, limits: { controlRate: { messages: 100, perMs: 1_000 } } })
    const busy = await connectAs(url, 'busy')
    for (let i = 0; i < 12; i++) await join(busy, `room-${String(i).padStart(2, '0')}`)
    const [session] = parley.inspect().sessions
    expect(session?.rooms).toHaveLength(INSPECTED_ROOMS_PER_SESSION)
    expect(session?.roomCount).toBe(12)
  })

  it('clusterInspect() shows every node that shares its inspection', async () => {
    const adapter = createMemoryAdapter()
    const a = await servers.start({ adapter })
    const b = await servers.start({ adapter })
    await connectAnon(b.url)
    expect((await a.parley.clusterInspect()).nodes.map((n) => n.node)).toEqual([a.parley.nodeId])
    b.parley.shareInspection()
    const { nodes, partial } = await a.parley.clusterInspect()
    expect(partial).toBe(false)
    expect(nodes.map((n) => [n.node, n.sessionsTotal])).toEqual([[a.parley.nodeId, 0], [b.parley.nodeId, 1]])
  })

  it('measures publish-to-ack and adapter calls only while an observer is registered', async () => {
    const { url, parley } = await servers.start()
    const { client } = await connectAnon(url)
    await join(client, 'lobby')
    const seen: string[] = []
    const observer: TimingObserver = {
      publishAck: (ms) => void seen.push(ms >= 0 && ms < 5_000 ? 'ack' : `bad ack ${ms}`),
      adapter: (operation, ms) => void seen.push(ms >= 0 && ms < 5_000 ? operation : `bad ${operation} ${ms}`),
    }
    client.send({ type: 'publish', room: 'lobby', data: 'unobserved', id: 'p0' })
    await client.next('ack')
    const stop = parley.observeTimings(observer)
    client.send({ type: 'publish', room: 'lobby', data: 'observed', id: 'p1' })
    await client.next('ack')
    await join(client, 'hall')
    stop()
    client.send({ type: 'publish', room: 'lobby', data: 'unobserved', id: 'p2' })
    await client.next('ack')
    expect(seen).toEqual(['publish', 'ack', 'resume'])
  })
})
