/**
 * A recovery replay is paced by the reader: the hub writes it while the connection's buffer is under
 * `backpressure.highWaterBytes` and waits while it is not, so a backlog many times `maxBufferedBytes` reaches a
 * client that keeps reading in one join. Live traffic that arrives meanwhile waits behind the replay within the cap.
 * Over the loopback transport, whose `bufferedAmount` is exact and grows while the peer is paused.
 */
import type { ServerMessage } from '@parley/protocol'
import { createLoopback, createParley, type Connection, type Parley, type ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { faultyAdapter, type AdapterFaults } from './helpers/faulty-adapter.js'
import { Resources, until } from './helpers/fixtures.js'
import { LoopbackClient } from './helpers/loopback-client.js'

const resources = new Resources()
afterEach(() => resources.dispose())

const maxBufferedBytes = 32 * 1024
const highWaterBytes = 8 * 1024
/** Each message is a little over 2 KB on the wire. */
const pad = 'x'.repeat(2_000)
const BACKLOG = 128

async function hub(options: ServerOptions = {}): Promise<Parley> {
  const parley = resources.add(
    createParley({ backpressure: { maxBufferedBytes, highWaterBytes }, history: { size: 500 }, ...options }),
    (p) => p.close(),
  )
  await parley.ready
  return parley
}

/** A loopback client whose server end records the largest `bufferedAmount` it ever reached. */
async function peer(parley: Parley, token: string): Promise<{ client: LoopbackClient; maxBuffered: () => number }> {
  const { connection, peer: end } = createLoopback()
  let max = 0
  const watched: Connection = {
    protocol: connection.protocol,
    get bufferedAmount() {
      return connection.bufferedAmount
    },
    send(frame) {
      connection.send(frame)
      max = Math.max(max, connection.bufferedAmount)
    },
    close: (code, reason) => connection.close(code, reason),
    terminate: () => connection.terminate(),
    ping: () => connection.ping(),
    onMessage: (listener) => connection.onMessage(listener),
    onPong: (listener) => connection.onPong(listener),
    onClose: (listener) => connection.onClose(listener),
  }
  const client = new LoopbackClient(end)
  resources.add(end, (p) => p.close())
  await parley.accept(watched, { token })
  await client.next('welcome')
  return { client, maxBuffered: () => max }
}

const authenticate: NonNullable<ServerOptions['authenticate']> = ({ token }) => (token === undefined ? null : { id: token })
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const ofType = <T extends ServerMessage['type']>(client: LoopbackClient, type: T) =>
  client.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type)

/** A room with `count` messages in its history; returns its epoch. */
async function roomWithBacklog(parley: Parley, count: number): Promise<string> {
  const { client } = await peer(parley, 'owner')
  client.send({ type: 'join', room: 'r' })
  const { epoch } = await client.next('joined')
  for (let i = 1; i <= count; i++) await parley.room('r').publish({ i, pad })
  return epoch
}

/**
 * A reader in `rooms` whose node then loses `missed` messages of each, and a paused reader, so the next message of
 * each room starts a re-sync whose replay waits for it.
 */
async function resyncingReader(rooms: readonly string[], missed: number, slowResumeMs = 0): Promise<{ parley: Parley; client: LoopbackClient; faults: AdapterFaults; epoch: string }> {
  const { adapter, faults } = faultyAdapter()
  const parley = await hub({ authenticate, adapter })
  const { client } = await peer(parley, 'reader')
  let epoch = ''
  for (const room of rooms) {
    client.send({ type: 'join', room })
    epoch = (await client.next('joined')).epoch
  }
  faults.lose = true
  for (const room of rooms) for (let i = 1; i <= missed; i++) await parley.room(room).publish({ i, pad })
  faults.lose = false
  client.peer.pause()
  const before = parley.stats().messagesOut
  if (slowResumeMs > 0) faults.delayOnce.set('resume', slowResumeMs)
  for (const room of rooms) await parley.room(room).publish({ i: missed + 1, pad })
  // Each room's re-sync has sent its joined and begun its replay, which now waits for the reader (unless its read
  // of the position was made slow: then it is still waiting for that).
  if (slowResumeMs === 0) await until(() => parley.stats().messagesOut >= before + 2 * rooms.length, 2_000, 'the re-syncs to start')
  return { parley, client, faults, epoch }
}

/** The room's messages and joined answers as the client got them: `J` for a joined, with its id, then seqs. */
const trace = (client: LoopbackClient, room: string): Array<string | number> =>
  client.received.flatMap((m): Array<string | number> =>
    m.type === 'message' && m.room === room ? [m.seq] : m.type === 'joined' && m.room === room ? [`J${m.id ?? ''}`] : [],
  )

/** A client that resumes the room from its start and stops reading, so the replay is left waiting mid-way. */
async function stalledReplay(parley: Parley, epoch: string, token: string): Promise<LoopbackClient> {
  const { client } = await peer(parley, token)
  client.peer.pause()
  const before = parley.stats().messagesOut
  client.send({ type: 'join', room: 'r', resume: { epoch, seq: 0 } })
  // `joined` and the first replayed messages are queued: the replay has begun and waits for the reader.
  await until(() => parley.stats().messagesOut >= before + 3, 2_000, 'the replay to start')
  await new Promise((resolve) => setTimeout(resolve, 20))
  expect(parley.stats().messagesOut - before).toBeLessThan(BACKLOG)
  return client
}

describe('paced recovery replay', () => {
  it(`replays a backlog 8× the cap in one join to a client that keeps reading, never passing the high-water mark`, async () => {
    const parley = await hub({ authenticate })
    const epoch = await roomWithBacklog(parley, BACKLOG)
    const disconnects: number[] = []
    parley.on('disconnect', (_session, code) => disconnects.push(code))
    const { client, maxBuffered } = await peer(parley, 'reader')
    client.send({ type: 'join', room: 'r', resume: { epoch, seq: 0 } })
    expect(await client.next('joined')).toMatchObject({ seq: BACKLOG, recovery: { recovered: true, replayed: BACKLOG, gap: null } })
    await until(() => ofType(client, 'message').length === BACKLOG, 5_000, 'the whole backlog')
    expect(ofType(client, 'message').map((m) => m.seq)).toEqual(range(1, BACKLOG))
    // 128 × 2 KB = 256 KB through a 32 KB cap, with at most the high-water mark (8 KB) plus one frame queued at once.
    expect(maxBuffered()).toBeGreaterThan(0)
    expect(maxBuffered()).toBeLessThanOrEqual(highWaterBytes + pad.length + 100)
    expect(parley.stats()).toMatchObject({ slowConsumers: 0, connections: 2 })
    expect(disconnects).toEqual([])
  })

  it('sends live messages that arrive during a stalled replay after it, in order, none twice', async () => {
    const parley = await hub({ authenticate })
    const epoch = await roomWithBacklog(parley, BACKLOG)
    // The replay is under way and waiting for the paused reader; live messages now wait behind it.
    const client = await stalledReplay(parley, epoch, 'reader')
    for (let i = BACKLOG + 1; i <= BACKLOG + 5; i++) await parley.room('r').publish({ i, pad })
    client.peer.resume()
    await until(() => ofType(client, 'message').length === BACKLOG + 5, 5_000, 'backlog and live messages')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(ofType(client, 'message').map((m) => m.seq)).toEqual(range(1, BACKLOG + 5))
    expect(ofType(client, 'message').map((m) => (m.data as { i: number }).i)).toEqual(range(1, BACKLOG + 5))
    expect(client.received[1]?.type).toBe('joined')
    expect(parley.stats().slowConsumers).toBe(0)
  })

  it('sends a presence change that lands during the replay after the replayed messages', async () => {
    const parley = await hub({ authenticate })
    const epoch = await roomWithBacklog(parley, BACKLOG)
    const client = await stalledReplay(parley, epoch, 'reader')
    const { client: late } = await peer(parley, 'late')
    late.send({ type: 'join', room: 'r' })
    await late.next('joined')
    client.peer.resume()
    const change = await client.next('presence', 5_000)
    expect(change).toMatchObject({ event: 'join', member: { user: 'late' } })
    const types = client.received.map((m) => m.type)
    expect(types.indexOf('presence')).toBe(types.lastIndexOf('message') + 1)
    expect(ofType(client, 'message')).toHaveLength(BACKLOG)
  })

  it('cuts a reader that stalls during the replay once held live traffic passes the cap (4509), and no one else', async () => {
    const parley = await hub({ authenticate })
    const epoch = await roomWithBacklog(parley, BACKLOG)
    const { client: other } = await peer(parley, 'other')
    other.send({ type: 'join', room: 'r' })
    await other.next('joined')
    const client = await stalledReplay(parley, epoch, 'stalled')
    let published = BACKLOG
    while (parley.stats().slowConsumers === 0 && published < BACKLOG + 100) await parley.room('r').publish({ i: ++published, pad })
    // The cap (32 KB) minus what the paused connection holds (≤ 8 KB + a frame) leaves room for about 12 held frames.
    expect(parley.stats().slowConsumers).toBe(1)
    expect(published - BACKLOG).toBeGreaterThanOrEqual(10)
    expect(published - BACKLOG).toBeLessThanOrEqual(16)
    client.peer.resume()
    expect((await client.closed).code).toBe(4509)
    await until(() => ofType(other, 'message').length === published - BACKLOG, 2_000, 'the other member got every live message')
    expect(ofType(other, 'message').map((m) => m.seq)).toEqual(range(BACKLOG + 1, published))
  })

  it('paces to half the cap when the high-water mark is set at the cap, so live traffic still fits beside the replay', async () => {
    const parley = await hub({ authenticate, backpressure: { maxBufferedBytes, highWaterBytes: maxBufferedBytes } })
    const epoch = await roomWithBacklog(parley, BACKLOG)
    const client = await stalledReplay(parley, epoch, 'reader')
    // The replay waits at about 16 KB of the 32 KB cap: 6 live messages of 2 KB still fit beside it.
    for (let i = BACKLOG + 1; i <= BACKLOG + 6; i++) await parley.room('r').publish({ i, pad })
    expect(parley.stats().slowConsumers).toBe(0)
    client.peer.resume()
    await until(() => ofType(client, 'message').length === BACKLOG + 6, 5_000, 'backlog and live messages')
    expect(ofType(client, 'message').map((m) => m.seq)).toEqual(range(1, BACKLOG + 6))
  })

  it('counts what every room of a session holds against one cap: three rooms re-syncing at once are cut together', async () => {
    const rooms = ['a', 'b', 'c']
    const { parley } = await resyncingReader(rooms, 20)
    let published = 0
    while (parley.stats().slowConsumers === 0 && published < 60) for (const room of rooms) await parley.room(room).publish({ live: ++published, pad })
    // 32 KB for the whole session: about 12 held frames over three rooms (a cap per room would allow about 36).
    expect(parley.stats().slowConsumers).toBe(1)
    expect(published).toBeLessThanOrEqual(15)
  })

  it('lets a re-join during a paced re-sync take the answer over: its replay is whole and nothing interleaves', async () => {
    const { client, epoch } = await resyncingReader(['r'], 40)
    client.send({ type: 'join', room: 'r', id: 'again', resume: { epoch, seq: 0 } })
    await new Promise((resolve) => setTimeout(resolve, 20))
    client.peer.resume()
    await until(() => trace(client, 'r').indexOf(41) > trace(client, 'r').indexOf('Jagain'), 5_000, 'the re-join answer')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const all = trace(client, 'r')
    const rejoin = all.indexOf('Jagain')
    // First joined, then the re-sync's joined and the part of its replay written before the re-join took over.
    const cutShort = all.slice(2, rejoin)
    expect(all.slice(0, 2)).toEqual(['J', 'J'])
    expect(cutShort).toEqual(range(1, cutShort.length))
    expect(cutShort.length).toBeLessThan(41)
    expect(all.slice(rejoin + 1)).toEqual(range(1, 41))
  })

  it('lets a re-join that arrives while a re-sync reads the position answer alone: one joined, one whole replay', async () => {
    const { client, epoch } = await resyncingReader(['r'], 40, 100)
    client.send({ type: 'join', room: 'r', id: 'again', resume: { epoch, seq: 0 } })
    await new Promise((resolve) => setTimeout(resolve, 150))
    client.peer.resume()
    await until(() => trace(client, 'r').length >= 43, 5_000, 'the re-join answer')
    await new Promise((resolve) => setTimeout(resolve, 50))
    // The re-sync, overtaken before it answered, sends nothing: the re-join's answer is the only one.
    expect(trace(client, 'r')).toEqual(['J', 'Jagain', ...range(1, 41)])
  })

  it('re-syncs again when a re-join that took over a paced re-sync fails, so the replay still ends at the head', async () => {
    const { client, faults } = await resyncingReader(['r'], 40)
    faults.fail.add('presenceUpdate')
    client.send({ type: 'join', room: 'r', id: 'again', presence: { away: true } })
    await new Promise((resolve) => setTimeout(resolve, 20))
    client.peer.resume()
    expect(await client.next('error')).toMatchObject({ code: 'TRY_AGAIN_LATER', id: 'again' })
    // A quiet room: nothing else would ever bring the missing messages.
    await until(() => trace(client, 'r').includes(41), 5_000, 'the rest of the replay')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const seqs = trace(client, 'r').filter((entry): entry is number => typeof entry === 'number')
    expect(seqs).toEqual(range(1, 41))
  })

  it("emits a session's join when joined is out, before the leave and disconnect of a client that drops mid-replay", async () => {
    const parley = await hub({ authenticate })
    const epoch = await roomWithBacklog(parley, BACKLOG)
    const events: string[] = []
    parley.on('join', (session) => void (session.user.id === 'reader' && events.push('join')))
    parley.on('leave', (session) => void (session.user.id === 'reader' && events.push('leave')))
    parley.on('disconnect', (session) => void (session.user.id === 'reader' && events.push('disconnect')))
    const client = await stalledReplay(parley, epoch, 'reader')
    client.peer.close(1001, 'gone')
    await until(() => events.includes('disconnect'), 2_000, 'the disconnect')
    expect(events).toEqual(['join', 'leave', 'disconnect'])
    expect(parley.stats()).toMatchObject({ connections: 1, slowConsumers: 0 })
  })
})
