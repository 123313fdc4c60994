import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { attach, createMemoryAdapter, type Parley } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import { all, connectAnon, connectAs, join, seqs, sleep, tokenAuth, useServers, waitUntil } from './helpers/harness.js'
import type { RawClient } from './helpers/raw-client.js'

const servers = useServers()
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Where a client stands in a room: the epoch and last seq it has seen. */
function positionOf(client: RawClient, room: string, joinedEpoch: string, joinedSeq: number): { epoch: string; seq: number } {
  const last = all(client, 'message', room).at(-1)
  return last === undefined ? { epoch: joinedEpoch, seq: joinedSeq } : { epoch: last.epoch, seq: last.seq }
}

describe('sequencing', () => {
  it('stamps every message with a per-room seq, strictly increasing with no gaps, the same order for all', async () => {
    const { url } = await servers.start({ limits: { rate: { messages: 1_000, perMs: 1_000 } } })
    const publishers = [await connectAnon(url), await connectAnon(url), await connectAnon(url)]
    const { client: observer } = await connectAnon(url)
    for (const { client } of publishers) await join(client, 'lobby')
    const joined = await join(observer, 'lobby')
    for (let i = 0; i < 40; i++) {
      for (const [index, { client }] of publishers.entries()) client.send({ type: 'publish', room: 'lobby', data: `${index}:${i}` })
    }
    await waitUntil(() => seqs(observer, 'lobby').length === 120, 'the observer got 120 messages')
    expect(seqs(observer, 'lobby')).toEqual(range(1, 120))
    expect(new Set(all(observer, 'message').map((m) => m.epoch))).toEqual(new Set([joined.epoch]))
    const order = all(observer, 'message').map((m) => m.data)
    for (const { client } of publishers) {
      await waitUntil(() => seqs(client, 'lobby').length === 120, 'each publisher got 120 messages')
      expect(all(client, 'message').map((m) => m.data)).toEqual(order)
    }
    // Each publisher's own messages keep the order it sent them in.
    const ofFirst = order.filter((data) => String(data).startsWith('0:'))
    expect(ofFirst).toEqual(range(0, 39).map((i) => `0:${i}`))
  })
})

describe('recovery', () => {
  it('a join with a resume point replays exactly the missed messages in order, then live ones', async () => {
    const { url, parley } = await servers.start()
    const { client: first } = await connectAnon(url)
    const joined = await join(first, 'lobby')
    for (let i = 1; i <= 3; i++) await parley.room('lobby').publish(`before-${i}`)
    await waitUntil(() => seqs(first, 'lobby').length === 3, 'three messages before the cut')
    const resume = positionOf(first, 'lobby', joined.epoch, joined.seq)
    expect(resume).toEqual({ epoch: joined.epoch, seq: 3 })
    first.ws.terminate()
    await first.closed
    for (let i = 4; i <= 8; i++) await parley.room('lobby').publish(`missed-${i}`)

    const { client: back } = await connectAnon(url)
    back.send({ type: 'join', room: 'lobby', id: 'rejoin', resume })
    const rejoined = await back.next('joined')
    expect(rejoined).toMatchObject({ id: 'rejoin', epoch: joined.epoch, seq: 8, recovery: { recovered: true, replayed: 5, gap: null } })
    await parley.room('lobby').publish('live-9')
    await waitUntil(() => seqs(back, 'lobby').length === 6, 'replay and the live message')
    expect(all(back, 'message').map((m) => [m.seq, m.data])).toEqual([
      [4, 'missed-4'], [5, 'missed-5'], [6, 'missed-6'], [7, 'missed-7'], [8, 'missed-8'], [9, 'live-9'],
    ])
    // The replay comes right after `joined`, before anything else of the room.
    const afterJoined = back.received.slice(back.received.indexOf(rejoined) + 1, back.received.indexOf(rejoined) + 6)
    expect(afterJoined.map((m) => m.type)).toEqual(['message', 'message', 'message', 'message', 'message'])
  })

  it('a resume at the head replays nothing and reports recovered', async () => {
    const { url, parley } = await servers.start()
    const { client } = await connectAnon(url)
    const joined = await join(client, 'lobby')
    await parley.room('lobby').publish('one')
    await client.next('message')
    const again = await join(client, 'lobby', { resume: { epoch: joined.epoch, seq: 1 } })
    expect(again).toMatchObject({ seq: 1, recovery: { recovered: true, replayed: 0, gap: null } })
    expect(await client.quiet(50)).toEqual([])
  })

  it('reports window-exceeded with the gap and replays the kept tail', async () => {
    const { url, parley } = await servers.start({ history: { size: 5 } })
    const { client: keeper } = await connectAnon(url)
    const joined = await join(keeper, 'lobby')
    for (let i = 1; i <= 12; i++) await parley.room('lobby').publish(i)
    const { client: late } = await connectAnon(url)
    late.send({ type: 'join', room: 'lobby', resume: { epoch: joined.epoch, seq: 2 } })
    const rejoined = await late.next('joined')
    expect(rejoined).toMatchObject({
      seq: 12,
      recovery: { recovered: false, replayed: 5, gap: { reason: 'window-exceeded', from: 3, to: 7 } },
    })
    await waitUntil(() => seqs(late, 'lobby').length === 5, 'the kept tail')
    expect(seqs(late, 'lobby')).toEqual([8, 9, 10, 11, 12])
    expect(await late.quiet(50)).toEqual([])
  })

  it('reports epoch-changed for a resume point of another epoch, and replays what the current epoch keeps', async () => {
    const { url, parley } = await servers.start()
    const { client } = await connectAnon(url)
    const joined = await join(client, 'lobby')
    await parley.room('lobby').publish('x')
    await client.next('message')
    const { client: other } = await connectAnon(url)
    other.send({ type: 'join', room: 'lobby', resume: { epoch: 'someotherepoch', seq: 1 } })
    const rejoined = await other.next('joined')
    expect(rejoined).toMatchObject({ epoch: joined.epoch, seq: 1, recovery: { recovered: false, replayed: 1, gap: { reason: 'epoch-changed' } } })
    // The old stream is gone, but the current epoch's kept messages are not lost on top of it.
    expect(await other.next('message')).toMatchObject({ seq: 1, epoch: joined.epoch, data: 'x' })
    expect(await other.quiet(50)).toEqual([])
  })

  it('treats a resume seq past the room\'s head as another epoch\'s', async () => {
    const { url } = await servers.start()
    const { client } = await connectAnon(url)
    const joined = await join(client, 'lobby')
    const again = await join(client, 'lobby', { resume: { epoch: joined.epoch, seq: 50 } })
    expect(again.recovery).toMatchObject({ recovered: false, replayed: 0, gap: { reason: 'epoch-changed' } })
  })

  it('expires history after history.ttlMs: a later resume sees a window-exceeded gap', async () => {
    const { url, parley } = await servers.start({ history: { ttlMs: 150 } })
    const { client: keeper } = await connectAnon(url)
    const joined = await join(keeper, 'lobby')
    for (let i = 1; i <= 3; i++) await parley.room('lobby').publish(`old-${i}`)
    await sleep(250)
    await parley.room('lobby').publish('fresh-4')
    const { client: late } = await connectAnon(url)
    late.send({ type: 'join', room: 'lobby', resume: { epoch: joined.epoch, seq: 0 } })
    expect(await late.next('joined')).toMatchObject({
      seq: 4,
      recovery: { recovered: false, replayed: 1, gap: { reason: 'window-exceeded', from: 1, to: 3 } },
    })
    expect(await late.next('message')).toMatchObject({ seq: 4, data: 'fresh-4' })
    // Once everything has expired, nothing is replayed and the whole range is the gap.
    await sleep(250)
    const { client: later } = await connectAnon(url)
    later.send({ type: 'join', room: 'lobby', resume: { epoch: joined.epoch, seq: 1 } })
    expect(await later.next('joined')).toMatchObject({
      seq: 4,
      recovery: { recovered: false, replayed: 0, gap: { reason: 'window-exceeded', from: 2, to: 4 } },
    })
  })

  it('keeps an empty room\'s history until its TTL, then starts a new epoch', async () => {
    let now = Date.now()
    const adapter = createMemoryAdapter({ now: () => now })
    const { url, parley } = await servers.start({ adapter, history: { ttlMs: 60_000 } })
    const { client } = await connectAnon(url)
    const joined = await join(client, 'lobby')
    await parley.room('lobby').publish('kept')
    await client.next('message')
    client.send({ type: 'leave', room: 'lobby' })
    await client.next('left')
    expect(parley.stats().rooms).toBe(0)
    now += 30_000
    const within = await join(client, 'lobby', { resume: { epoch: joined.epoch, seq: 0 } })
    expect(within).toMatchObject({ epoch: joined.epoch, seq: 1, recovery: { recovered: true, replayed: 1 } })
    await client.next('message')
    client.send({ type: 'leave', room: 'lobby' })
    await client.next('left')
    now += 61_000
    const after = await join(client, 'lobby', { resume: { epoch: joined.epoch, seq: 1 } })
    expect(after.epoch).not.toBe(joined.epoch)
    expect(after).toMatchObject({ seq: 0, recovery: { recovered: false, replayed: 0, gap: { reason: 'epoch-changed' } } })
  })

  it('merges messages published during the join answer after the replay, with no duplicate', async () => {
    const { url, parley } = await servers.start({ limits: { rate: { messages: 10_000, perMs: 1_000 } } })
    const { client: keeper } = await connectAnon(url)
    const joined = await join(keeper, 'lobby')
    for (let i = 1; i <= 20; i++) await parley.room('lobby').publish(i)
    const { client: resumer } = await connectAnon(url)
    resumer.send({ type: 'join', room: 'lobby', resume: { epoch: joined.epoch, seq: 10 } })
    // Publishes racing the join, spread over event-loop turns: each arrives exactly once, after the replay.
    for (let i = 21; i <= 300; i++) {
      await parley.room('lobby').publish(i)
      if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await waitUntil(() => seqs(resumer, 'lobby').at(-1) === 300, 'the resumer got up to 300', 3_000)
    expect(seqs(resumer, 'lobby')).toEqual(range(11, 300))
    const rejoined = all(resumer, 'joined')[0]!
    // Whatever raced the join: the replay is 11..joined.seq and live messages follow joined.seq.
    expect(rejoined.recovery).toEqual({ recovered: true, replayed: rejoined.seq - 10, gap: null })
  })
})

describe('restart and resume with a shared adapter', () => {
  async function startOn(adapter: ReturnType<typeof createMemoryAdapter>): Promise<{ url: string; parley: Parley; stop(): Promise<void> }> {
    const server = createServer()
    const parley = attach(server, { adapter, authenticate: tokenAuth, shutdown: { timeoutMs: 500 } })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    await parley.ready
    const stop = async (): Promise<void> => {
      await parley.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    servers.defer(stop)
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/parley`, parley, stop }
  }

  it('members that rejoin a new server with their resume point get exactly what they missed, none twice', async () => {
    const adapter = createMemoryAdapter()
    const before = await startOn(adapter)
    const alice = await connectAs(before.url, 'alice')
    const bob = await connectAs(before.url, 'bob')
    const aliceJoined = await join(alice, 'lobby')
    const bobJoined = await join(bob, 'lobby')
    for (let i = 1; i <= 5; i++) await before.parley.room('lobby').publish(`first-${i}`)
    await waitUntil(() => seqs(alice, 'lobby').length === 5 && seqs(bob, 'lobby').length === 5, 'both got the first five')
    // Alice drops off; the room goes on without her on the old server.
    alice.ws.terminate()
    await alice.closed
    for (let i = 6; i <= 7; i++) await before.parley.room('lobby').publish(`while-alice-away-${i}`)
    await waitUntil(() => seqs(bob, 'lobby').length === 7, 'bob got seven')
    const aliceResume = positionOf(alice, 'lobby', aliceJoined.epoch, aliceJoined.seq)
    const bobResume = positionOf(bob, 'lobby', bobJoined.epoch, bobJoined.seq)
    expect(aliceResume.seq).toBe(5)
    expect(bobResume.seq).toBe(7)

    // The old server shuts down (bob is told 1001); a new one starts on the same adapter.
    const closing = before.stop()
    expect((await bob.closed).code).toBe(1001)
    await closing
    const after = await startOn(adapter)
    for (let i = 8; i <= 10; i++) await after.parley.room('lobby').publish(`after-restart-${i}`)

    const alice2 = await connectAs(after.url, 'alice')
    const bob2 = await connectAs(after.url, 'bob')
    const aliceBack = await join(alice2, 'lobby', { resume: aliceResume })
    const bobBack = await join(bob2, 'lobby', { resume: bobResume })
    expect(aliceBack).toMatchObject({ epoch: aliceJoined.epoch, seq: 10, recovery: { recovered: true, replayed: 5, gap: null } })
    expect(bobBack).toMatchObject({ epoch: bobJoined.epoch, seq: 10, recovery: { recovered: true, replayed: 3, gap: null } })
    await waitUntil(() => seqs(alice2, 'lobby').length === 5 && seqs(bob2, 'lobby').length === 3, 'the replays')
    await after.parley.room('lobby').publish('live-11')
    await waitUntil(() => seqs(alice2, 'lobby').length === 6 && seqs(bob2, 'lobby').length === 4, 'the live message')
    // Across both connections, each client saw every message exactly once.
    expect([...seqs(alice, 'lobby'), ...seqs(alice2, 'lobby')]).toEqual(range(1, 11))
    expect([...seqs(bob, 'lobby'), ...seqs(bob2, 'lobby')]).toEqual(range(1, 11))
    expect(all(alice2, 'message').map((m) => m.data)).toEqual([
      'while-alice-away-6', 'while-alice-away-7', 'after-restart-8', 'after-restart-9', 'after-restart-10', 'live-11',
    ])
  })
})
