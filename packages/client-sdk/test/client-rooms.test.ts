import type { JsonValue, RoomMessage } from '@parley/protocol'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ParleyClientError, createClient, type Client, type ClientOptions, type Room } from '@parley/client-sdk'
import { createFakeServer, createRoomServer, type FakeConnection, type FakeServer, type RoomServer } from './helpers/fake-server.js'
import { collect, flush, nextEvent, opened } from './helpers/wait.js'

let clients: Client[] = []
function connect(server: FakeServer, options: ClientOptions = {}): Client {
  const client = createClient('loop://rooms', { transport: server.transport, random: () => 0.5, ...options })
  clients.push(client)
  return client
}

/** The payloads delivered to a room's `message` handlers. */
function delivered(room: Room): JsonValue[] {
  const data: JsonValue[] = []
  room.on('message', (message) => void data.push(message.data))
  return data
}

beforeEach(() => void vi.useFakeTimers())
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()))
  clients = []
  vi.useRealTimers()
})

async function joinedRoom(server: RoomServer, name = 'general', options: ClientOptions = {}) {
  const client = connect(server, options)
  const room = client.join(name)
  const joined = nextEvent(room, 'joined')
  const connection = await server.nextConnection()
  await joined
  return { client, room, connection }
}

describe('joining', () => {
  it('returns the handle at once, joins after the welcome, and keeps the presence snapshot', async () => {
    const server = createRoomServer()
    const client = connect(server)
    const room = client.join('general', { presence: { name: 'Ada' } })
    expect(room.name).toBe('general')
    expect(room.state).toBe('joining')
    const joined = nextEvent(room, 'joined')
    const connection = await server.nextConnection()
    const join = await connection.next('join')
    expect(join).toMatchObject({ type: 'join', room: 'general', presence: { name: 'Ada' } })
    expect(join.resume).toBeUndefined()
    expect((await joined).members).toEqual([{ user: 'u-1', presence: { name: 'Ada' }, connections: 1 }])
    expect(room.state).toBe('joined')
    expect(room.members()).toEqual([{ user: 'u-1', presence: { name: 'Ada' }, connections: 1 }])
  })

  it('joining a joined room returns the same handle and updates presence', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    expect(client.join('general', { presence: { away: true } })).toBe(room)
    expect(await connection.next('presence-update')).toEqual({ type: 'presence-update', room: 'general', presence: { away: true } })
    expect(connection.received.filter((m) => m.type === 'join')).toHaveLength(1)
  })

  it('throws ROOM_NAME_INVALID at once for a bad name', () => {
    const server = createRoomServer()
    const client = connect(server)
    expect(() => client.join('no spaces')).toThrowError(expect.objectContaining({ code: 'ROOM_NAME_INVALID' }))
    expect(() => client.join('')).toThrowError(ParleyClientError)
  })

  it('a refused join ends the handle: error event, state left, its queued publishes rejected', async () => {
    const server = createFakeServer()
    const client = connect(server)
    const room = client.join('secret')
    const queued = room.publish({ text: 'hi' })
    const error = nextEvent(room, 'error')
    const left = nextEvent(room, 'left')
    const connection = await server.nextConnection()
    const join = await connection.next('join')
    connection.send({ type: 'error', code: 'FORBIDDEN', message: 'not for you', ...(join.id === undefined ? {} : { id: join.id }), room: 'secret' })
    expect((await error).code).toBe('FORBIDDEN')
    expect(await left).toEqual({ reason: 'FORBIDDEN' })
    expect(room.state).toBe('left')
    await expect(queued).rejects.toMatchObject({ code: 'FORBIDDEN' })
    expect(client.join('secret')).not.toBe(room)
  })

  it('leave and join again before the first joined: the new handle takes only the answer to its own join', async () => {
    const server = createFakeServer()
    const client = connect(server)
    const connection = await server.nextConnection()
    await opened(client)
    const first = client.join('general')
    void first.leave()
    const second = client.join('general')
    const joins = collect(second, 'joined')
    const [join1, leave, join2] = [await connection.next('join'), await connection.next('leave'), await connection.next('join')]
    const answer = (id: string | undefined, seq: number) =>
      connection.send({ type: 'joined', room: 'general', ...(id === undefined ? {} : { id }), epoch: 'e1', seq, members: [], recovery: null })
    answer(join1.id, 5)
    connection.send({ type: 'left', room: 'general', ...(leave.id === undefined ? {} : { id: leave.id }) })
    answer(join2.id, 7)
    await flush()
    expect(joins.map((j) => j.seq)).toEqual([7])
    const data = delivered(second)
    for (const seq of [6, 7, 8]) connection.send({ type: 'message', room: 'general', seq, epoch: 'e1', from: null, ts: seq, data: seq })
    await flush()
    expect(data).toEqual([8])
  })

  it('the refusal of a join left before its answer reaches no one: neither the client nor a new handle of the room', async () => {
    const server = createFakeServer()
    const client = connect(server)
    const clientErrors = collect(client, 'error')
    const connection = await server.nextConnection()
    await opened(client)
    const first = client.join('general')
    const firstErrors = collect(first, 'error')
    const join = await connection.next('join')
    void first.leave()
    await connection.next('leave')
    const second = client.join('general')
    const secondErrors = collect(second, 'error')
    await connection.next('join')
    // An authorize that took its time refuses the first join after the room was left and joined again.
    connection.send({ type: 'error', ...(join.id === undefined ? {} : { id: join.id }), room: 'general', code: 'FORBIDDEN', message: 'not in this room' })
    await flush()
    expect(clientErrors).toEqual([])
    expect(firstErrors).toEqual([])
    expect(secondErrors).toEqual([])
    expect(second.state).toBe('joining')
  })

  it('a join answered after its timeout still counts', async () => {
    const server = createFakeServer()
    const client = connect(server)
    const room = client.join('general')
    const errors = collect(room, 'error')
    const connection = await server.nextConnection()
    const join = await connection.next('join')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(errors.map((e) => e.code)).toEqual(['TIMEOUT'])
    expect(room.state).toBe('joining')
    connection.send({ type: 'joined', room: 'general', ...(join.id === undefined ? {} : { id: join.id }), epoch: 'e1', seq: 0, members: [], recovery: null })
    await flush()
    expect(room.state).toBe('joined')
  })

  it('the server removing the client (left without id) ends the handle with its reason', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    const left = nextEvent(room, 'left')
    connection.send({ type: 'left', room: 'general', reason: 'kicked' })
    expect(await left).toEqual({ reason: 'kicked' })
    expect(room.state).toBe('left')
    await expect(room.publish('late')).rejects.toMatchObject({ code: 'NOT_JOINED' })
  })

  it('leave() sends leave, resolves on left, and drops the room’s later messages', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    const data = delivered(room)
    const leaving = room.leave()
    expect(room.state).toBe('left')
    const leave = await connection.next('leave')
    expect(leave.room).toBe('general')
    await leaving
    connection.send({ type: 'message', room: 'general', seq: 99, epoch: 'e1', from: null, ts: 1, data: 'after' })
    await flush()
    expect(data).toEqual([])
    await expect(room.leave()).resolves.toBeUndefined()
    expect(client.state).toBe('open')
  })

  it('leave() resolves even when the server never answers (after the ack timeout)', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    server.silence(connection)
    let done = false
    void room.leave().then(() => (done = true))
    await vi.advanceTimersByTimeAsync(9_999)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(done).toBe(true)
  })
})

describe('publishing', () => {
  it('resolves with the server ack (id, seq, epoch) and the echo arrives as a message', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    const messages = collect(room, 'message')
    const ack = await room.publish({ text: 'hi' })
    const publish = connection.received.find((m) => m.type === 'publish')
    expect(publish).toMatchObject({ type: 'publish', room: 'general', data: { text: 'hi' }, id: ack.id })
    expect(ack).toEqual({ id: ack.id, seq: 1, epoch: 'e1', duplicate: false })
    await flush()
    expect(messages).toEqual([{ type: 'message', room: 'general', seq: 1, epoch: 'e1', from: 'u-1', ts: 1_700_000_000_001, data: { text: 'hi' } }])
  })

  it('passes echo: false and a caller id through', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    const data = delivered(room)
    const ack = await room.publish('quiet', { echo: false, id: 'my-id-1' })
    expect(ack.id).toBe('my-id-1')
    expect(connection.received.find((m) => m.type === 'publish')).toMatchObject({ id: 'my-id-1', echo: false })
    await flush()
    expect(data).toEqual([])
  })

  it('rejects with the server’s error code', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    server.silence(connection)
    const publishing = room.publish('x')
    const publish = await connection.next('publish')
    connection.send({ type: 'error', code: 'RATE_LIMITED', message: 'slow down', ...(publish.id === undefined ? {} : { id: publish.id }), room: 'general' })
    const error = await publishing.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParleyClientError)
    expect(error).toMatchObject({ code: 'RATE_LIMITED', message: 'slow down', room: 'general', id: publish.id })
  })

  it('times out after 10 s by default with TIMEOUT', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    server.silence(connection)
    const outcome = room.publish('x').catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(9_999)
    let settled = false
    void outcome.then(() => (settled = true))
    await flush()
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' })
  })

  it('refuses a publish over the server’s maxPayload locally, sending nothing', async () => {
    const server = createRoomServer({ welcome: { limits: { maxPayload: 200, maxRooms: 10, rate: { messages: 5, perMs: 1_000 } } } })
    const { room, connection } = await joinedRoom(server)
    const error = await room.publish('x'.repeat(300)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParleyClientError)
    expect((error as ParleyClientError).code).toBe('PAYLOAD_TOO_LARGE')
    await flush()
    expect(connection.received.filter((m) => m.type === 'publish')).toHaveLength(0)
    await expect(room.publish('x'.repeat(50))).resolves.toMatchObject({ seq: 1 })
  })

  it('refuses data JSON cannot carry, at once', async () => {
    const server = createRoomServer()
    const { room } = await joinedRoom(server)
    await expect(room.publish({ when: new Date() } as never)).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    await expect(room.publish(Number.NaN)).rejects.toMatchObject({ code: 'INVALID_FIELD' })
  })

  it('rejects a second publish with an id already pending', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    server.silence(connection)
    void room.publish(1, { id: 'same' }).catch(() => undefined)
    await expect(room.publish(2, { id: 'same' })).rejects.toMatchObject({ code: 'INVALID_FIELD' })
  })
})

describe('offline queue', () => {
  it('queues publishes made before the connection opens and sends them in order after the join', async () => {
    const server = createRoomServer()
    const client = connect(server)
    const room = client.join('general')
    const acks = [room.publish(1), room.publish(2), room.publish(3)]
    const connection = await server.nextConnection()
    expect((await Promise.all(acks)).map((a) => a.seq)).toEqual([1, 2, 3])
    expect(connection.received.map((m) => m.type)).toEqual(['join', 'publish', 'publish', 'publish'])
    expect(connection.received.filter((m) => m.type === 'publish').map((m) => m.data)).toEqual([1, 2, 3])
  })

  it('is bounded: past offlineQueueSize a publish is refused with QUEUE_FULL', async () => {
    const server = createRoomServer()
    const client = connect(server, { offlineQueueSize: 2 })
    const room = client.join('general')
    const first = room.publish(1)
    const second = room.publish(2)
    const error = await room.publish(3).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'QUEUE_FULL' })
    expect(error).toBeInstanceOf(ParleyClientError)
    await server.nextConnection()
    expect((await Promise.all([first, second])).map((a) => a.seq)).toEqual([1, 2])
  })

  it('with offlineQueueSize 0 there is no queue: publishes go straight out when joined, and are refused otherwise', async () => {
    const server = createRoomServer()
    const client = connect(server, { offlineQueueSize: 0 })
    const room = client.join('general')
    const joined = nextEvent(room, 'joined')
    await expect(room.publish('early')).rejects.toMatchObject({ code: 'QUEUE_FULL' })
    await joined
    await expect(room.publish('now')).resolves.toMatchObject({ seq: 1 })
    expect(client.state).toBe('open')
  })

  it('publishes made while reconnecting are flushed after the re-join, in order, keeping their ids', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    connection.close(1012)
    await flush()
    expect(client.state).toBe('reconnecting')
    const acks = [room.publish('a'), room.publish('b')]
    await flush()
    await vi.advanceTimersByTimeAsync(250)
    const second = await server.nextConnection()
    const settled = await Promise.all(acks)
    expect(second.received.map((m) => m.type)).toEqual(['join', 'publish', 'publish'])
    expect(second.received.filter((m) => m.type === 'publish').map((m) => [m.data, m.id])).toEqual([
      ['a', settled[0]?.id],
      ['b', settled[1]?.id],
    ])
  })

  it('re-sends in-flight publishes after a reconnect with the same id; the server de-duplicates, nothing is delivered twice', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    const data = delivered(room)
    // The server takes the publish but the connection dies before the ack reaches the client.
    server.silence(connection)
    const publishing = room.publish('once')
    const publish = await connection.next('publish')
    const id = publish.id as string
    server.seen.set(id, { room: 'general', seq: server.publish('general', 'once').seq, epoch: 'e1' })
    connection.close(1006)
    await vi.advanceTimersByTimeAsync(250)
    const second = await server.nextConnection()
    const ack = await publishing
    expect(ack).toMatchObject({ id, seq: 1, duplicate: true })
    expect(second.received.find((m) => m.type === 'publish')).toMatchObject({ id, data: 'once' })
    await flush()
    expect(data).toEqual(['once'])
  })

  it('a publish that times out while queued is never sent later', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server, 'general', { reconnect: { initialDelayMs: 40_000 } })
    server.handshake = () => ({ accept: false, status: 503 })
    connection.close(1012)
    await flush()
    const outcome = room.publish('stale', { timeoutMs: 1_000 }).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' })
    server.handshake = () => ({ accept: true })
    await vi.advanceTimersByTimeAsync(60_000)
    await opened(client)
    const last = server.connections.at(-1) as FakeConnection
    await flush()
    expect(last.received.filter((m) => m.type === 'publish')).toEqual([])
  })

  it('close() rejects queued publishes with CLOSED', async () => {
    const server = createRoomServer()
    server.handshake = () => ({ accept: false, status: 503 })
    const client = connect(server)
    const room = client.join('general')
    const outcome = room.publish('never').catch((e: unknown) => e)
    await client.close()
    expect(await outcome).toMatchObject({ code: 'CLOSED' })
    await expect(room.publish('after')).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('a fatal close rejects pending publishes with the fatal error', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    server.silence(connection)
    const outcome = room.publish('x').catch((e: unknown) => e)
    await connection.next('publish')
    connection.close(4401, 'revoked')
    expect(await outcome).toMatchObject({ name: 'AuthError', code: 'UNAUTHORIZED' })
  })
})

describe('recovery and exactly-once delivery', () => {
  async function reconnect(server: RoomServer, client: Client, connection: FakeConnection, close = 1012): Promise<FakeConnection> {
    connection.close(close)
    await vi.advanceTimersByTimeAsync(1_000)
    const next = await server.nextConnection()
    await opened(client)
    return next
  }

  it('re-joins with its resume point and receives exactly the missed messages, in order, then live ones', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    const data = delivered(room)
    const recoveries = collect(room, 'recovery')
    server.publish('general', 1)
    server.publish('general', 2)
    await flush()
    server.restart({ code: 1012 })
    server.publish('general', 3)
    server.publish('general', 4)
    await vi.advanceTimersByTimeAsync(1_000)
    const second = await server.nextConnection()
    await opened(client)
    expect(await second.next('join')).toMatchObject({ room: 'general', resume: { epoch: 'e1', seq: 2 } })
    await flush()
    expect(recoveries).toEqual([{ recovered: true, replayed: 2, gap: null }])
    server.publish('general', 5)
    await flush()
    expect(data).toEqual([1, 2, 3, 4, 5])
    expect(connection.isClosed).toBe(true)
  })

  it('drops duplicates and replays a server repeats (seq <= last seen)', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    const data = delivered(room)
    const frame = (seq: number): RoomMessage => ({ type: 'message', room: 'general', seq, epoch: 'e1', from: null, ts: seq, data: seq })
    for (const seq of [1, 2, 2, 1, 3, 3, 4]) connection.send(frame(seq))
    await flush()
    expect(data).toEqual([1, 2, 3, 4])
  })

  it('reports recovered: false with the gap when the history window was exceeded, then delivers what remains', async () => {
    const server = createRoomServer({ historySize: 3 })
    const { client, room, connection } = await joinedRoom(server)
    const data = delivered(room)
    server.publish('general', 1)
    await flush()
    connection.close(1006)
    for (let i = 2; i <= 10; i++) server.publish('general', i)
    const recovery = nextEvent(room, 'recovery')
    await vi.advanceTimersByTimeAsync(1_000)
    await server.nextConnection()
    await opened(client)
    expect(await recovery).toEqual({ recovered: false, replayed: 3, gap: { reason: 'window-exceeded', from: 2, to: 7 } })
    await flush()
    expect(data).toEqual([1, 8, 9, 10])
  })

  it('reports epoch-changed when the server lost the room’s history, and starts over live', async () => {
    const server = createRoomServer()
    const { client, room } = await joinedRoom(server)
    const data = delivered(room)
    server.publish('general', 'old')
    await flush()
    server.restart({ loseHistory: true })
    server.publish('general', 'new-1')
    const recovery = nextEvent(room, 'recovery')
    await vi.advanceTimersByTimeAsync(1_000)
    await server.nextConnection()
    await opened(client)
    expect(await recovery).toEqual({ recovered: false, replayed: 0, gap: { reason: 'epoch-changed' } })
    server.publish('general', 'new-2')
    await flush()
    expect(data).toEqual(['old', 'new-2'])
  })

  it('takes an unsolicited joined (no id) on a joined room as the server\'s re-sync: recovery event, new position, replay once', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    const data = delivered(room)
    const recovery = nextEvent(room, 'recovery')
    connection.send({
      type: 'joined',
      room: 'general',
      epoch: 'e-new',
      seq: 2,
      members: [],
      recovery: { recovered: false, replayed: 2, gap: { reason: 'epoch-changed' } },
    })
    for (const seq of [1, 2, 2]) {
      connection.send({ type: 'message', room: 'general', seq, epoch: 'e-new', from: null, ts: 1, data: `n${seq}` })
    }
    expect(await recovery).toEqual({ recovered: false, replayed: 2, gap: { reason: 'epoch-changed' } })
    await flush()
    expect(data).toEqual(['n1', 'n2'])
  })

  it('advances the position before handlers run: a handler that leaves and re-joins causes no replay', async () => {
    const server = createRoomServer()
    const { client, room } = await joinedRoom(server)
    const seen: JsonValue[] = []
    let again: Room | undefined
    room.on('message', (message) => {
      seen.push(message.data)
      if (message.data === 2) {
        void room.leave()
        again = client.join('general')
        again.on('message', (m) => void seen.push(m.data))
      }
    })
    server.publish('general', 1)
    server.publish('general', 2)
    await flush()
    server.publish('general', 3)
    await flush()
    expect(again).toBeDefined()
    expect(seen).toEqual([1, 2, 3])
  })

  it('a handler that throws does not stop delivery or un-advance the position', async () => {
    const thrown: unknown[] = []
    const original = globalThis.queueMicrotask
    vi.stubGlobal('queueMicrotask', (callback: () => void) =>
      original(() => {
        try {
          callback()
        } catch (error) {
          thrown.push(error)
        }
      }),
    )
    try {
      const server = createRoomServer()
      const { room } = await joinedRoom(server)
      const data = delivered(room)
      room.on('message', () => {
        throw new Error('app bug')
      })
      server.publish('general', 1)
      server.publish('general', 2)
      await flush()
      expect(data).toEqual([1, 2])
      expect(thrown.map((e) => (e as Error).message)).toEqual(['app bug', 'app bug'])
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('resume: false starts a re-join live instead of replaying', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    expect((await connection.next('join')).resume).toBeUndefined()
    server.publish('general', 1)
    await flush()
    await room.leave()
    server.publish('general', 2)
    const fresh = client.join('general', { resume: false })
    const join = await connection.next('join')
    expect(join.resume).toBeUndefined()
    const data = delivered(fresh)
    await nextEvent(fresh, 'joined')
    server.publish('general', 3)
    await flush()
    expect(data).toEqual([3])
  })

  it('a later join of a left room resumes from where the client was', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    expect((await connection.next('join')).resume).toBeUndefined()
    server.publish('general', 1)
    await flush()
    await room.leave()
    server.publish('general', 2)
    const back = client.join('general')
    const data = delivered(back)
    expect((await connection.next('join')).resume).toEqual({ epoch: 'e1', seq: 1 })
    await flush()
    expect(data).toEqual([2])
  })

  it('the server restarting mid-stream: every message exactly once across several reconnects', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    const data = delivered(room)
    let current = connection
    let n = 0
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++) server.publish('general', ++n)
      await flush()
      current.close(round % 2 === 0 ? 1012 : 1006)
      server.publish('general', ++n)
      current = await reconnect(server, client, current, 1001)
    }
    await flush()
    expect(data).toEqual(Array.from({ length: n }, (_, i) => i + 1))
  })
})

describe('presence, typing and signals', () => {
  it('keeps members() in step with presence events', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    const events = collect(room, 'presence')
    connection.send({ type: 'presence', room: 'general', event: 'join', member: { user: 'u-2', presence: { name: 'Bo' }, connections: 1 } })
    connection.send({ type: 'presence', room: 'general', event: 'update', member: { user: 'u-2', presence: { name: 'Bob' }, connections: 2 } })
    await flush()
    expect(room.members().map((m) => [m.user, m.presence])).toEqual([
      ['u-1', null],
      ['u-2', { name: 'Bob' }],
    ])
    connection.send({ type: 'presence', room: 'general', event: 'leave', member: { user: 'u-2', presence: null, connections: 0 } })
    await flush()
    expect(room.members().map((m) => m.user)).toEqual(['u-1'])
    expect(events.map((e) => [e.event, e.member.user])).toEqual([
      ['join', 'u-2'],
      ['update', 'u-2'],
      ['leave', 'u-2'],
    ])
  })

  it('typing(true) sends the typing signal, coalesces repeats, refreshes after 2.5 s, and typing(false) clears', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    room.typing(true)
    room.typing(true)
    await vi.advanceTimersByTimeAsync(1_000)
    room.typing(true)
    await vi.advanceTimersByTimeAsync(1_500)
    room.typing(true)
    room.typing(false)
    room.typing(false)
    await flush()
    expect(connection.received.filter((m) => m.type === 'signal')).toEqual([
      { type: 'signal', room: 'general', key: 'typing', value: true },
      { type: 'signal', room: 'general', key: 'typing', value: true },
      { type: 'signal', room: 'general', key: 'typing', value: false },
    ])
  })

  it('emits typing for the typing key and signal for the others', async () => {
    const server = createRoomServer()
    const { room, connection } = await joinedRoom(server)
    const typing = collect(room, 'typing')
    const signals = collect(room, 'signal')
    connection.send({ type: 'signal', room: 'general', from: 'u-2', key: 'typing', value: true, ttlMs: 5_000 })
    connection.send({ type: 'signal', room: 'general', from: 'u-2', key: 'typing', value: null, ttlMs: 0 })
    connection.send({ type: 'signal', room: 'general', from: 'u-2', key: 'cursor', value: { x: 1 }, ttlMs: 3_000 })
    await flush()
    expect(typing).toEqual([
      { user: 'u-2', typing: true },
      { user: 'u-2', typing: false },
    ])
    expect(signals).toEqual([{ from: 'u-2', key: 'cursor', value: { x: 1 }, ttlMs: 3_000 }])
  })

  it('signal() sends with ttlMs, returns false when not joined, and throws on an invalid key', async () => {
    const server = createRoomServer()
    const client = connect(server)
    const room = client.join('general')
    expect(room.signal('cursor', 1)).toBe(false)
    const connection = await server.nextConnection()
    await nextEvent(room, 'joined')
    expect(room.signal('cursor', { x: 2 }, { ttlMs: 1_000 })).toBe(true)
    expect(await connection.next('signal')).toEqual({ type: 'signal', room: 'general', key: 'cursor', value: { x: 2 }, ttlMs: 1_000 })
    expect(() => room.signal('bad key', 1)).toThrowError(expect.objectContaining({ code: 'INVALID_FIELD' }))
  })

  it('setPresence() is sent when joined and carried by the next re-join', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    room.setPresence({ status: 'away' })
    expect(await connection.next('presence-update')).toMatchObject({ presence: { status: 'away' } })
    connection.close(1012)
    await vi.advanceTimersByTimeAsync(1_000)
    const second = await server.nextConnection()
    await opened(client)
    expect(await second.next('join')).toMatchObject({ presence: { status: 'away' } })
  })
})

describe('server frames that are not for a room', () => {
  it('direct messages go to the client’s direct event', async () => {
    const server = createRoomServer()
    const { client, connection } = await joinedRoom(server)
    const direct = nextEvent(client, 'direct')
    connection.send({ type: 'direct', from: null, ts: 5, data: { note: 'hi' } })
    expect(await direct).toEqual({ type: 'direct', from: null, ts: 5, data: { note: 'hi' } })
  })

  it('an error no request claims goes to its room, else to the client', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    const roomError = nextEvent(room, 'error')
    const clientError = nextEvent(client, 'error')
    connection.send({ type: 'error', code: 'RATE_LIMITED', message: 'typing too fast', room: 'general' })
    connection.send({ type: 'error', code: 'SOMETHING_NEW', message: 'a code from a newer server' })
    expect(await roomError).toMatchObject({ code: 'RATE_LIMITED', room: 'general' })
    expect(await clientError).toMatchObject({ code: 'SOMETHING_NEW' })
  })

  it('invalid frames are reported as error events and the connection carries on', async () => {
    const server = createRoomServer()
    const { client, room, connection } = await joinedRoom(server)
    const errors = collect(client, 'error')
    const data = delivered(room)
    connection.sendRaw('{not json')
    connection.sendRaw(new Uint8Array([1, 2, 3]))
    connection.sendRaw(JSON.stringify({ type: 'warp', room: 'general' }))
    connection.sendRaw(JSON.stringify({ type: 'message', room: 'general' }))
    server.publish('general', 'still here')
    await flush()
    expect(errors.map((e) => e.code)).toEqual(['INVALID_JSON', 'UNSUPPORTED_DATA', 'UNKNOWN_TYPE', 'MISSING_FIELD'])
    expect(errors.every((e) => e instanceof ParleyClientError)).toBe(true)
    expect(data).toEqual(['still here'])
    expect(client.state).toBe('open')
  })

  it('anything before the welcome is reported as UNEXPECTED_MESSAGE', async () => {
    const server = createRoomServer()
    server.handshake = () => ({ accept: true, welcome: false })
    const client = connect(server)
    const error = nextEvent(client, 'error')
    const connection = await server.nextConnection()
    connection.send({ type: 'pong' })
    expect(await error).toMatchObject({ code: 'UNEXPECTED_MESSAGE' })
    expect(client.state).toBe('connecting')
  })
})
