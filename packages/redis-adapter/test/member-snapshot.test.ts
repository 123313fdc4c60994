import { createServer as createNetServer, connect as connectTcp, type AddressInfo, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { PresenceMember, ServerMessage } from '@parley/protocol'
import { createRedisAdapter } from '@parley/redis-adapter'
import type { AdapterHooks, AdapterNode } from '@parley/server-sdk'
import { createClient } from 'redis'
import { connectAs, join, sleep, tokenAuth, waitUntil } from '../../server-sdk/test/helpers/harness.js'
import type { RawClient } from '../../server-sdk/test/helpers/raw-client.js'
import { startServer, type TestServer } from '../../server-sdk/test/helpers/start-server.js'
import { recordingNode, type RecordingNode } from './helpers.js'
import { redisAvailable } from './redis-available.js'

const hasRedis = await redisAvailable()
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
})

const uniquePrefix = (): string => `parley-test-snapshot-${Date.now()}-${Math.random().toString(36).slice(2)}`

/** An adapter node of its own, recording the presence changes it is handed. */
const nodeOn = (keyPrefix: string): Promise<RecordingNode> => recordingNode(keyPrefix, cleanups)

describe.skipIf(!hasRedis)('redis adapter: member snapshots and pages in O(page) (issue 20)', () => {
  it('hands back the same first page while it reads the same, so the hub serves its encoded list again', async () => {
    const keyPrefix = uniquePrefix()
    const watcher = await nodeOn(keyPrefix)
    const writer = await nodeOn(keyPrefix)
    await watcher.node.subscribe('hall')
    const snapshot = (watcher.node.memberSnapshot as NonNullable<AdapterNode['memberSnapshot']>).bind(watcher.node)
    await Promise.all(Array.from({ length: 30 }, (_, i) => writer.node.presenceJoin({ room: 'hall', user: `u-${String(i).padStart(2, '0')}`, session: `s-${i}`, presence: { i } })))
    const first = await snapshot('hall', 10, () => undefined)
    // Someone past the first page joins: the count moves, the page reads the same and comes back as the same array.
    await writer.node.presenceJoin({ room: 'hall', user: 'u-99', session: 's-99', presence: null })
    const second = await snapshot('hall', 10, () => undefined)
    expect(second.count).toBe(31)
    expect(second.first).toBe(first.first)
    // A change inside the page (a presence update, then a join before every listed id) makes a new one.
    await writer.node.presenceUpdate('hall', 'u-03', { i: 'updated' })
    const third = await snapshot('hall', 10, () => undefined)
    expect(third.first).not.toBe(first.first)
    expect(third.first.find((member) => member.user === 'u-03')?.presence).toEqual({ i: 'updated' })
    await writer.node.presenceJoin({ room: 'hall', user: 'a-first', session: 's-a', presence: null })
    const fourth = await snapshot('hall', 10, () => undefined)
    expect(fourth.first.map((member) => member.user)).toEqual(['a-first', ...third.first.slice(0, 9).map((member) => member.user)])
    // Not kept for a room this node left.
    await watcher.node.unsubscribe('hall')
    const afterLeaving = await snapshot('hall', 10, () => undefined)
    expect(afterLeaving.first).toEqual(fourth.first)
    expect(afterLeaving.first).not.toBe(fourth.first)
  })

  it('answers the count and the first page by user id, and calls taken once every earlier change has been delivered', async () => {
    const keyPrefix = uniquePrefix()
    const watcher = await nodeOn(keyPrefix)
    const writer = await nodeOn(keyPrefix)
    await watcher.node.subscribe('big')
    // 250 users in a scrambled order, every fifth with a second connection; then 30 of them leave.
    const users = Array.from({ length: 250 }, (_, i) => `user-${String((i * 97) % 250).padStart(3, '0')}`)
    const changes: Array<Promise<void>> = []
    for (const [i, user] of users.entries()) {
      changes.push(writer.node.presenceJoin({ room: 'big', user, session: `s-${user}`, presence: { i } }))
      if (i % 5 === 0) changes.push(writer.node.presenceJoin({ room: 'big', user, session: `t-${user}`, presence: null }))
    }
    await Promise.all(changes)
    // 30 connections leave; 6 of them are a user's first of two, so that user stays with one connection.
    const leaving = users.filter((_, i) => i % 8 === 1).slice(0, 30)
    await Promise.all(leaving.map((user) => writer.node.presenceLeave('big', user, `s-${user}`)))
    const twice = (user: string): boolean => users.indexOf(user) % 5 === 0
    const gone = leaving.filter((user) => !twice(user))
    expect(gone).toHaveLength(24)
    // 250 joins and 24 leaves were announced before the read: all of them must be in by the time it is taken.
    let deliveredAtTaken = -1
    const snapshot = await (watcher.node.memberSnapshot as NonNullable<AdapterNode['memberSnapshot']>)('big', 20, () => {
      expect(deliveredAtTaken).toBe(-1)
      deliveredAtTaken = watcher.changes.length
    })
    expect(deliveredAtTaken).toBe(274)
    const present = users.filter((user) => !gone.includes(user)).sort()
    expect(snapshot.count).toBe(226)
    expect(snapshot.first.map((member) => member.user)).toEqual(present.slice(0, 20))
    for (const member of snapshot.first) {
      const i = users.indexOf(member.user)
      expect(member).toEqual({ user: member.user, presence: { i }, connections: twice(member.user) && !leaving.includes(member.user) ? 2 : 1 })
    }
    // A room within the limit is answered whole, as members() lists it.
    const small = await (watcher.node.memberSnapshot as NonNullable<AdapterNode['memberSnapshot']>)('big', 500, () => undefined)
    expect(small.count).toBe(226)
    expect(small.first.map((member) => member.user).sort()).toEqual(present)
    expect(await watcher.node.members('big')).toEqual(expect.arrayContaining(small.first as PresenceMember[]))
    // A client's `members` pages, also read from the order: every member once, by user id.
    const memberPage = (watcher.node.memberPage as NonNullable<AdapterNode['memberPage']>).bind(watcher.node)
    const paged: string[] = []
    let after: string | undefined
    for (let pages = 0; pages < 100; pages++) {
      const page = await memberPage('big', after, 30)
      expect(page.members.length).toBeLessThanOrEqual(30)
      paged.push(...page.members.map((member) => member.user))
      if (!page.more) break
      after = page.members.at(-1)?.user
    }
    expect(paged).toEqual(present)
    const gap = await memberPage('big', 'user-100x', 2)
    expect(gap).toEqual({ members: small.first.filter((m) => m.user > 'user-100x').sort((x, y) => (x.user < y.user ? -1 : 1)).slice(0, 2), more: true })
    expect(await memberPage('big', 'zzz', 5)).toEqual({ members: [], more: false })
  })

  it('is exact while changes pour in: at taken, the changes delivered add up to the count read', async () => {
    const keyPrefix = uniquePrefix()
    const watcher = await nodeOn(keyPrefix)
    const writer = await nodeOn(keyPrefix)
    await watcher.node.subscribe('busy')
    const snapshot = (watcher.node.memberSnapshot as NonNullable<AdapterNode['memberSnapshot']>).bind(watcher.node)
    const net = (): number => watcher.changes.reduce((sum, change) => sum + (change.event === 'join' ? 1 : change.event === 'leave' ? -1 : 0), 0)
    // Joins and leaves from another node, 60 at a time in flight, while this node reads snapshots one after another.
    let writing = true
    const writes = (async () => {
      const inFlight: Array<Promise<void>> = []
      for (let i = 0; i < 1_500; i++) {
        inFlight.push(writer.node.presenceJoin({ room: 'busy', user: `u${i}`, session: `s${i}`, presence: null }))
        if (i % 3 === 2) inFlight.push(writer.node.presenceLeave('busy', `u${i - 1}`, `s${i - 1}`))
        if (inFlight.length >= 60) await Promise.all(inFlight.splice(0))
      }
      await Promise.all(inFlight)
      writing = false
    })()
    const compared: Array<{ atTaken: number; count: number }> = []
    while (writing || compared.length < 10) {
      let atTaken = Number.NaN
      const { count } = await snapshot('busy', 10, () => (atTaken = net()))
      compared.push({ atTaken, count })
    }
    await writes
    // The snapshots were read while the room grew (not all at its start or end) ...
    expect(new Set(compared.map((c) => c.count)).size).toBeGreaterThan(3)
    // ... and each one's count is exactly what the changes delivered before its `taken` add up to.
    expect(compared.filter((c) => c.atTaken !== c.count)).toEqual([])
  })

  /**
   * A node that reaches Redis through a proxy able to hold back what Redis sends its subscriber (the connection that
   * sent SUBSCRIBE): while held, the snapshot's mark arrives late or not at all, as from a subscriber that lags or
   * lost its connection. A third of 600 ms: a mark not there after 200 ms voids its read.
   */
  async function nodeBehindProxy(): Promise<{ node: AdapterNode; warnings: string[]; hold(): void; release(): void }> {
    const held: Array<{ chunks: Buffer[]; client: Socket }> = []
    let holding = false
    const subscribers: Array<{ chunks: Buffer[]; client: Socket }> = []
    const proxy = createNetServer((client) => {
      const upstream = connectTcp(6379, '127.0.0.1')
      const entry = { chunks: [] as Buffer[], client }
      let isSubscriber = false
      client.on('data', (chunk) => {
        if (!isSubscriber && /subscribe/i.test(chunk.toString('latin1'))) {
          isSubscriber = true
          subscribers.push(entry)
        }
        upstream.write(chunk)
      })
      upstream.on('data', (chunk) => {
        if (isSubscriber && holding) entry.chunks.push(chunk)
        else client.write(chunk)
      })
      const end = (): void => {
        client.destroy()
        upstream.destroy()
      }
      client.on('error', end).on('close', end)
      upstream.on('error', end).on('close', end)
      held.push(entry)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const { client } of held) client.destroy()
          proxy.close(() => resolve())
        }),
    )
    const warnings: string[] = []
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (fields: { event?: unknown }) => void warnings.push(String(fields.event)) }
    const hooks: AdapterHooks = {
      message: () => undefined,
      presence: () => undefined,
      signal: () => undefined,
      direct: () => undefined,
      control: async () => 0,
      forwarded: async () => ({ status: 404 }),
    }
    const url = `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    const node = await createRedisAdapter({ url, keyPrefix: uniquePrefix(), nodeTimeoutMs: 600, logger }).connect(hooks, { history: { size: 10, ttlMs: 60_000 }, dedupWindowMs: 1_000 })
    cleanups.push(() => node.disconnect())
    await node.subscribe('lossy')
    for (let i = 0; i < 12; i++) await node.presenceJoin({ room: 'lossy', user: `u${String(i).padStart(2, '0')}`, session: `s${i}`, presence: null })
    expect(subscribers).toHaveLength(1)
    return {
      node,
      warnings,
      hold: () => void (holding = true),
      release: () => {
        holding = false
        for (const entry of subscribers) for (const chunk of entry.chunks.splice(0)) entry.client.write(chunk)
      },
    }
  }

  it('reads again when the mark is late, and calls taken once, for the read whose mark came', async () => {
    const { node, warnings, hold, release } = await nodeBehindProxy()
    hold()
    // Let through after 300 ms: the first read's mark is given up on at 200 ms; the second's comes.
    setTimeout(release, 300)
    let taken = 0
    const snapshot = await (node.memberSnapshot as NonNullable<AdapterNode['memberSnapshot']>).call(node, 'lossy', 5, () => taken++)
    expect(taken).toBe(1)
    expect(snapshot.count).toBe(12)
    expect(snapshot.first.map((member) => member.user)).toEqual(['u00', 'u01', 'u02', 'u03', 'u04'])
    expect(warnings.filter((event) => event === 'adapter.snapshot-unmarked').length).toBeGreaterThanOrEqual(1)
  })

  it('fails the snapshot with TRY_AGAIN_LATER after three marks that did not come, without calling taken', async () => {
    const { node, warnings, hold, release } = await nodeBehindProxy()
    hold()
    let taken = 0
    const read = (node.memberSnapshot as NonNullable<AdapterNode['memberSnapshot']>).call(node, 'lossy', 5, () => taken++)
    await expect(read).rejects.toMatchObject({ code: 'TRY_AGAIN_LATER' })
    release()
    // The three late marks arrive now, and are ignored.
    await sleep(50)
    expect(taken).toBe(0)
    expect(warnings.filter((event) => event === 'adapter.snapshot-unmarked')).toHaveLength(3)
  })

  it('rebuilds the room\'s order when it does not match the presence hash (a room written by an earlier adapter version)', async () => {
    const keyPrefix = uniquePrefix()
    const { node } = await nodeOn(keyPrefix)
    for (let i = 0; i < 30; i++) await node.presenceJoin({ room: 'old', user: `u${String(i).padStart(2, '0')}`, session: `s${i}`, presence: null })
    const redis = createClient()
    await redis.connect()
    cleanups.push(async () => {
      await redis.quit()
    })
    // An earlier version kept no order, and added its users to the hash and the connections sets only.
    await redis.del(`${keyPrefix}:presence-order:old`)
    await redis.hSet(`${keyPrefix}:presence:old`, 'a-early', '{"v":1}')
    await redis.sAdd(`${keyPrefix}:conns:old|a-early`, 'node|s-early')
    const snapshot = await (node.memberSnapshot as NonNullable<AdapterNode['memberSnapshot']>)('old', 5, () => undefined)
    expect(snapshot.count).toBe(31)
    expect(snapshot.first).toEqual([
      { user: 'a-early', presence: { v: 1 }, connections: 1 },
      ...['u00', 'u01', 'u02', 'u03'].map((user) => ({ user, presence: null, connections: 1 })),
    ])
    expect(await redis.zCard(`${keyPrefix}:presence-order:old`)).toBe(31)
    // An order that lists a user the hash no longer has (left through an earlier version) is rebuilt too.
    await redis.hDel(`${keyPrefix}:presence:old`, 'u00')
    await redis.hSet(`${keyPrefix}:presence:old`, 'zz-late', 'null')
    const again = await (node.memberSnapshot as NonNullable<AdapterNode['memberSnapshot']>)('old', 5, () => undefined)
    expect(again.count).toBe(31)
    expect(again.first.map((member) => member.user)).toEqual(['a-early', 'u01', 'u02', 'u03', 'u04'])
    // A page read after the hash changed behind the order's back rebuilds it too.
    await redis.hSet(`${keyPrefix}:presence:old`, 'a-earliest', 'null')
    const page = await (node.memberPage as NonNullable<AdapterNode['memberPage']>).call(node, 'old', undefined, 2)
    expect(page).toEqual({ members: [{ user: 'a-earliest', presence: null, connections: 0 }, { user: 'a-early', presence: { v: 1 }, connections: 1 }], more: true })
  })
})

/** What a raw client counts of a room's members: `joined`'s count, moved by every presence frame since. */
function memberCounter(client: RawClient, room: string): { readonly count: number } {
  let count = Number.NaN
  client.ws.on('message', (raw, binary) => {
    if (binary) return
    const message = JSON.parse(String(raw)) as ServerMessage
    if (!('room' in message) || message.room !== room) return
    if (message.type === 'joined') count = message.memberCount ?? message.members.length
    else if (message.type === 'presence') count += message.event === 'join' ? 1 : message.event === 'leave' ? -1 : 0
    else if (message.type === 'presences') {
      for (const change of message.events) count += change.event === 'join' ? 1 : change.event === 'leave' ? -1 : 0
      if (message.omitted !== undefined) count += message.omitted.join - message.omitted.leave
    }
  })
  return {
    get count() {
      return count
    },
  }
}

describe.skipIf(!hasRedis)('redis adapter: a large room\'s joins across nodes stay exact (issue 20)', () => {
  it('members joining on one node while others come and go on another each count the room exactly', async () => {
    const keyPrefix = uniquePrefix()
    const options = { authenticate: tokenAuth, presence: { snapshotLimit: 5, graceMs: 0 } }
    const servers: TestServer[] = [await startServer({ ...options, adapter: createRedisAdapter({ keyPrefix }) }), await startServer({ ...options, adapter: createRedisAdapter({ keyPrefix }) })]
    cleanups.push(async () => {
      await Promise.all(servers.map((server) => server.stop()))
    })
    const [a, b] = servers as [TestServer, TestServer]
    const resident: RawClient[] = []
    for (let i = 0; i < 20; i++) {
      const client = await connectAs(b.url, `resident-${i}`)
      await join(client, 'hall', { batch: true })
      resident.push(client)
    }
    // Churn on node B: users join, and every other one leaves again, while watchers join on node A.
    let stop = false
    const churn = (async () => {
      let n = 0
      while (!stop) {
        const client = await connectAs(b.url, `churn-${n}`)
        await join(client, 'hall', { batch: true })
        if (n % 2 === 0) client.send({ type: 'leave', room: 'hall', id: `l${n}` })
        n++
      }
      return n
    })()
    const watchers: Array<{ readonly count: number }> = []
    for (let i = 0; i < 8; i++) {
      const client = await connectAs(a.url, `watcher-${i}`)
      watchers.push(memberCounter(client, 'hall'))
      await join(client, 'hall', { batch: true })
      await sleep(5)
    }
    stop = true
    const churned = await churn
    expect(churned).toBeGreaterThan(4)
    // Once every change has settled, each watcher's count is the room's.
    const truth = async (): Promise<number> => {
      const probe = await connectAs(a.url, `probe-${Math.random().toString(36).slice(2)}`)
      const joined = await join(probe, 'hall')
      probe.close()
      return (joined.memberCount ?? joined.members.length) - 1
    }
    await sleep(300)
    const expected = await truth()
    expect(expected).toBe(20 + 8 + Math.floor(churned / 2))
    await waitUntil(() => watchers.every((watcher) => watcher.count === expected), `every watcher counts ${expected} (${watchers.map((w) => w.count).join(', ')})`)
  })
})
