import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type Client, type Room } from '@parley/client-sdk'
import type { Recovery } from '@parley/protocol'
import { startNode, startRedis, waitFor, type NodeProcess, type RedisProcess } from './helpers.js'
import { redisAvailable } from './redis-available.js'

const hasRedis = await redisAvailable()
const NODE_TIMEOUT_MS = 1_000

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

interface Member {
  readonly name: string
  readonly client: Client
  readonly room: Room
  readonly seqs: number[]
  readonly texts: string[]
  readonly recoveries: Recovery[]
  readonly presence: Array<{ event: string; user: string; at: number }>
}

/** A client SDK user in room `chat`, failing over along `urls`, recording what it sees. */
function member(name: string, urls: string[], reconnect = true): Member {
  const client = createClient(urls, {
    token: name,
    reconnect: reconnect ? { initialDelayMs: 50, maxDelayMs: 300 } : false,
    heartbeat: { intervalMs: 500, timeoutMs: 500 },
  })
  const room = client.join('chat')
  const seen: Member = { name, client, room, seqs: [], texts: [], recoveries: [], presence: [] }
  room.on('message', (message) => {
    seen.seqs.push(message.seq)
    seen.texts.push(String((message.data as { text: string }).text))
  })
  room.on('recovery', (recovery) => seen.recoveries.push(recovery))
  room.on('presence', (event) => seen.presence.push({ event: event.event, user: event.member.user, at: Date.now() }))
  cleanup.push(() => client.close())
  return seen
}

function rotate<T>(list: T[], by: number): T[] {
  return [...list.slice(by % list.length), ...list.slice(0, by % list.length)]
}

async function startCluster(count: number, redisUrl: string): Promise<NodeProcess[]> {
  const keyPrefix = `parley-mp-${Date.now()}-${Math.random().toString(36).slice(2)}`
  const nodes = await Promise.all(Array.from({ length: count }, () => startNode({ redisUrl, keyPrefix, nodeTimeoutMs: NODE_TIMEOUT_MS })))
  for (const node of nodes) cleanup.push(() => node.stop())
  return nodes
}

const joined = (m: Member): boolean => m.room.state === 'joined'

describe.skipIf(!hasRedis)('redis adapter across processes', () => {
  it('three nodes: cross-node messages arrive in order with zero loss, and presence is the same everywhere', async () => {
    const nodes = await startCluster(3, 'redis://127.0.0.1:6379')
    const urls = nodes.map((n) => n.url)
    const members = Array.from({ length: 9 }, (_, i) => member(`user-${i}`, rotate(urls, i)))
    await waitFor('all joined', () => members.every(joined))
    await waitFor('9 members seen by everyone', () => members.every((m) => m.room.members().length === 9))
    for (const m of members) expect(m.room.members().map((x) => x.user).sort()).toEqual(members.map((x) => x.name).sort())

    const perPublisher = 100
    const publishers = members.slice(0, 3) // one on each node
    await Promise.all(
      publishers.map(async (p) => {
        for (let i = 0; i < perPublisher; i++) await p.room.publish({ text: `${p.name}:${i}` })
      }),
    )
    const total = perPublisher * publishers.length
    await waitFor('every member has every message', () => members.every((m) => m.seqs.length >= total), 20_000)
    for (const m of members) {
      expect(m.seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1))
      for (const p of publishers) {
        const own = m.texts.filter((t) => t.startsWith(`${p.name}:`))
        expect(own).toEqual(Array.from({ length: perPublisher }, (_, i) => `${p.name}:${i}`))
      }
    }
  }, 60_000)

  it('kill -9 of a node: its clients fail over and recover without gaps or duplicates; its members leave presence within the bound', async () => {
    const nodes = await startCluster(3, 'redis://127.0.0.1:6379')
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess]
    const observers = [member('obs-a', [a.url, c.url]), member('obs-c', [c.url, a.url])]
    const movers = [member('mover-1', [b.url, c.url, a.url]), member('mover-2', [b.url, a.url, c.url])]
    const ghost = member('ghost', [b.url], false)
    const all = [...observers, ...movers, ghost]
    await waitFor('all joined', () => all.every(joined))
    await waitFor('presence complete', () => observers.every((o) => o.room.members().length === 5))

    const publisher = observers[0] as Member
    const total = 200
    let killedAt = 0
    for (let i = 0; i < total; i++) {
      if (i === 80) {
        await b.kill9()
        killedAt = Date.now()
      }
      await publisher.room.publish({ text: `m${i}` })
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await waitFor('movers caught up', () => movers.every((m) => m.seqs.length >= total), 20_000)
    for (const m of [...observers, ...movers]) {
      expect(m.seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    }
    for (const m of movers) {
      expect(m.recoveries.length).toBeGreaterThan(0)
      expect(m.recoveries.every((r) => r.recovered)).toBe(true)
    }
    // The ghost never comes back: the dead node's entry must be swept within ~1.5 × nodeTimeoutMs (+ slack).
    const bound = NODE_TIMEOUT_MS * 1.5 + 1_500
    await waitFor('ghost left presence', () => observers.every((o) => o.presence.some((p) => p.event === 'leave' && p.user === 'ghost')), bound + 3_000)
    const leftAt = Math.max(...observers.map((o) => (o.presence.find((p) => p.event === 'leave' && p.user === 'ghost') as { at: number }).at))
    expect(leftAt - killedAt).toBeLessThanOrEqual(bound + 3_000)
    console.log(`[parley] ghost presence removed ${leftAt - killedAt} ms after kill -9 (nodeTimeoutMs ${NODE_TIMEOUT_MS})`)
    // Movers are still members (they came back elsewhere): no leave for them.
    for (const o of observers) expect(o.presence.some((p) => p.event === 'leave' && p.user.startsWith('mover'))).toBe(false)
  }, 60_000)

  it('Redis restarted mid-run: service resumes and clients learn of the gap (recovered: false)', async () => {
    const redis: RedisProcess = await startRedis()
    cleanup.push(() => redis.stop())
    const nodes = await startCluster(2, redis.url)
    const [a, b] = nodes as [NodeProcess, NodeProcess]
    const alice = member('alice', [a.url])
    const bob = member('bob', [b.url])
    await waitFor('joined', () => [alice, bob].every(joined))
    for (let i = 0; i < 5; i++) await alice.room.publish({ text: `before-${i}` })
    await waitFor('bob has 5', () => bob.seqs.length === 5)

    await redis.restart() // empty: --save "" and no AOF, so epochs, history and presence are gone
    // Publishing works again once the adapters have reconnected.
    let published = false
    const deadline = Date.now() + 15_000
    while (!published && Date.now() < deadline) {
      try {
        await alice.room.publish({ text: 'after-0' })
        published = true
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    expect(published).toBe(true)
    await waitFor('bob told of the gap', () => bob.recoveries.some((r) => !r.recovered), 10_000)
    await waitFor('bob gets new messages', () => bob.texts.includes('after-0'), 10_000)
    expect(bob.recoveries.find((r) => !r.recovered)?.gap?.reason).toBe('epoch-changed')
    await alice.room.publish({ text: 'after-1' })
    await waitFor('bob gets live traffic', () => bob.texts.includes('after-1'))
    expect(bob.texts.filter((t) => t.startsWith('before-'))).toHaveLength(5)
  }, 60_000)
})
