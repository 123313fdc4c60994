import { afterEach, describe, expect, it } from 'vitest'
import { encodeBinary } from '@parley/protocol'
import { createRedisAdapter } from '@parley/redis-adapter'
import { connect } from '../../server-sdk/test/helpers/raw-client.js'
import { startServer, type TestServer } from '../../server-sdk/test/helpers/start-server.js'
import { redisAvailable } from './redis-available.js'

const hasRedis = await redisAvailable()
const servers: TestServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

describe.skipIf(!hasRedis)('redis adapter: two nodes in one process', () => {
  it('fans out across nodes with one sequence, shares presence, and recovers on the other node', async () => {
    const keyPrefix = `parley-test-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const a = await startServer({ adapter: createRedisAdapter({ keyPrefix }) })
    const b = await startServer({ adapter: createRedisAdapter({ keyPrefix }) })
    servers.push(a, b)
    const alice = await connect(a.url)
    const bob = await connect(b.url)
    await alice.next('welcome')
    const bobWelcome = await bob.next('welcome')
    alice.send({ type: 'join', room: 'lobby', id: 'j' })
    await alice.next('joined')
    bob.send({ type: 'join', room: 'lobby', id: 'j', presence: { name: 'Bob' } })
    const joined = await bob.next('joined')
    expect(joined.members.map((m) => m.user).sort()).toHaveLength(2)
    const presence = await alice.next('presence')
    expect(presence).toMatchObject({ event: 'join', member: { user: bobWelcome.user, presence: { name: 'Bob' } } })
    for (let i = 0; i < 5; i++) alice.send({ type: 'publish', room: 'lobby', id: `p${i}`, data: { i } })
    const seqs: number[] = []
    for (let i = 0; i < 5; i++) seqs.push((await bob.next('message')).seq)
    expect(seqs).toEqual([1, 2, 3, 4, 5])
    const ack = await alice.next('ack')
    expect(ack.seq).toBe(1)
    // Bob drops; messages go on; Bob comes back on node A with his resume point and gets exactly what he missed.
    bob.ws.terminate()
    for (let i = 5; i < 8; i++) alice.send({ type: 'publish', room: 'lobby', data: { i } })
    // Alice's own copies of the first five are still unread: wait for her copy of the last one, so all three are
    // stored before Bob resumes (reading three messages here raced Bob's join against the last publishes).
    while (((await alice.next('message')).data as { i: number }).i !== 7);
    const bob2 = await connect(a.url)
    await bob2.next('welcome')
    bob2.send({ type: 'join', room: 'lobby', resume: { epoch: joined.epoch, seq: 5 } })
    const rejoined = await bob2.next('joined')
    expect(rejoined.recovery).toEqual({ recovered: true, replayed: 3, gap: null })
    const replayed = [await bob2.next('message'), await bob2.next('message'), await bob2.next('message')]
    expect(replayed.map((m) => m.data)).toEqual([{ i: 5 }, { i: 6 }, { i: 7 }])
    alice.close()
    bob2.close()
  })
})

describe.skipIf(!hasRedis)('redis adapter: bytes (protocol v2) across nodes', () => {
  it('carries bytes to the other node live (binary to v2, base64 to v1), and in a replay and a history page', async () => {
    const keyPrefix = `parley-test-bytes-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const a = await startServer({ adapter: createRedisAdapter({ keyPrefix }) })
    const b = await startServer({ adapter: createRedisAdapter({ keyPrefix }) })
    servers.push(a, b)
    const sender = await connect(a.url, { protocols: ['parley.v2.json'] })
    const v2 = await connect(b.url, { protocols: ['parley.v2.json'] })
    const v1 = await connect(b.url, { protocols: ['parley.v1.json'] })
    for (const client of [sender, v2, v1]) {
      await client.next('welcome')
      client.send({ type: 'join', room: 'photos' })
    }
    const joined = await v2.next('joined')
    await sender.next('joined')
    await v1.next('joined')
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255])
    const empty = new Uint8Array(0)
    sender.send(encodeBinary({ type: 'publish', room: 'photos', data: { n: 1 }, bytes }))
    sender.send(encodeBinary({ type: 'publish', room: 'photos', data: { n: 2 }, bytes: empty }))
    sender.send({ type: 'publish', room: 'photos', data: { n: 3 } })
    const live = [await v2.next('message'), await v2.next('message'), await v2.next('message')]
    expect(live.map((m) => (m.bytes === undefined ? 'none' : [...m.bytes]))).toEqual([[...bytes], [], 'none'])
    expect(v2.binaryFrames).toBe(2)
    const old = await v1.next('message')
    expect([...(old.bytes ?? [])]).toEqual([...bytes])
    expect(v1.binaryFrames).toBe(0)
    // A replay from Redis's history on node B, and a history page.
    const again = await connect(b.url, { protocols: ['parley.v2.json'] })
    await again.next('welcome')
    again.send({ type: 'join', room: 'photos', resume: { epoch: joined.epoch, seq: 0 } })
    await again.next('joined')
    const replayed = [await again.next('message'), await again.next('message'), await again.next('message')]
    expect(replayed.map((m) => (m.bytes === undefined ? 'none' : [...m.bytes]))).toEqual([[...bytes], [], 'none'])
    again.send({ type: 'history', room: 'photos', id: 'h', limit: 3 })
    const page = await again.next('history')
    expect(page.messages.map((m) => (m.bytes === undefined ? 'none' : [...m.bytes]))).toEqual([[...bytes], [], 'none'])
    for (const client of [sender, v2, v1, again]) client.close()
  })
})

describe.skipIf(!hasRedis)('redis adapter: cluster-wide stats', () => {
  it('sums every live node, and answers partial (not hanging) when a listed node is gone', async () => {
    const keyPrefix = `parley-test-stats-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const a = await startServer({ adapter: createRedisAdapter({ keyPrefix, nodeTimeoutMs: 300 }) })
    const b = await startServer({ adapter: createRedisAdapter({ keyPrefix, nodeTimeoutMs: 300 }) })
    servers.push(a, b)
    const clients = [await connect(a.url), await connect(b.url), await connect(b.url)]
    for (const client of clients) await client.next('welcome')
    // B's stats reach Redis on its next heartbeat; this node's own figures are always fresh.
    await new Promise((resolve) => setTimeout(resolve, 250))
    const fromB = await b.parley.clusterStats()
    expect(fromB.partial).toBe(false)
    expect(fromB.nodes).toHaveLength(2)
    expect(fromB.nodes.map((n) => n.stats.connections).sort()).toEqual([1, 2])

    // A node that is listed but no longer beats (killed before it could be swept) makes the answer partial.
    const { createClient } = await import('redis')
    const redis = createClient({ url: 'redis://127.0.0.1:6379' })
    await redis.connect()
    // Hold its sweep lock so the live nodes' sweeps leave it listed for the length of this check.
    await redis.set(`${keyPrefix}:sweep:dead-node`, 'test', { PX: 10_000 })
    await redis.sAdd(`${keyPrefix}:nodes`, 'dead-node')
    const started = Date.now()
    const partial = await a.parley.clusterStats()
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(partial.partial).toBe(true)
    expect(partial.nodes).toHaveLength(2)
    await redis.sRem(`${keyPrefix}:nodes`, 'dead-node')
    await redis.del(`${keyPrefix}:sweep:dead-node`)
    await redis.quit()
    for (const client of clients) client.close()
  })

  it('carries each sharing node\'s inspection, and leaves out only a node whose entry cannot be read', async () => {
    const keyPrefix = `parley-test-inspect-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const a = await startServer({ adapter: createRedisAdapter({ keyPrefix, nodeTimeoutMs: 300 }) })
    const b = await startServer({ adapter: createRedisAdapter({ keyPrefix, nodeTimeoutMs: 300 }) })
    servers.push(a, b)
    b.parley.shareInspection()
    const client = await connect(b.url)
    await client.next('welcome')
    await new Promise((resolve) => setTimeout(resolve, 250))
    const both = await a.parley.clusterInspect()
    expect(both.nodes.map((n) => [n.node, n.sessionsTotal])).toEqual([[a.parley.nodeId, 0], [b.parley.nodeId, 1]])

    // A live node whose stored figures are not JSON: left out, the answer partial, the other nodes still there.
    const { createClient } = await import('redis')
    const redis = createClient({ url: 'redis://127.0.0.1:6379' })
    await redis.connect()
    await redis.set(`${keyPrefix}:sweep:garbled-node`, 'test', { PX: 10_000 })
    await redis.set(`${keyPrefix}:node:garbled-node`, String(Date.now()), { PX: 10_000 })
    await redis.sAdd(`${keyPrefix}:nodes`, 'garbled-node')
    await redis.hSet(`${keyPrefix}:stats`, 'garbled-node', '{not json')
    const stats = await a.parley.clusterStats()
    expect(stats.partial).toBe(true)
    expect(stats.nodes.map((n) => n.node).sort()).toEqual([a.parley.nodeId, b.parley.nodeId].sort())
    await redis.sRem(`${keyPrefix}:nodes`, 'garbled-node')
    await redis.del([`${keyPrefix}:sweep:garbled-node`, `${keyPrefix}:node:garbled-node`])
    await redis.hDel(`${keyPrefix}:stats`, 'garbled-node')
    await redis.quit()
    client.close()
  })
})

describe('redis adapter: Redis unreachable at start', () => {
  it('rejects parley.ready within connectTimeoutMs and emits error, instead of hanging handshakes', async () => {
    const { freePort } = await import('./helpers.js')
    const port = await freePort()
    const { createParley } = await import('@parley/server-sdk')
    const parley = createParley({ adapter: createRedisAdapter({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 }) })
    const errors: unknown[] = []
    parley.on('error', (error) => errors.push(error))
    const started = Date.now()
    await expect(parley.ready).rejects.toThrow(/within 300 ms/)
    expect(Date.now() - started).toBeLessThan(2_000)
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(errors).toHaveLength(1)
    await parley.close()
  })
})

describe.skipIf(!hasRedis)('redis adapter: keys named by two ids', () => {
  it('room "a:b" with user "c" and room "a" with user "b:c" keep separate presence', async () => {
    const keyPrefix = `parley-test-keys-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const server = await startServer({
      adapter: createRedisAdapter({ keyPrefix }),
      authenticate: ({ token }) => (token === undefined ? null : { id: token }),
    })
    servers.push(server)
    const c = await connect(server.url, { headers: { authorization: 'Bearer c' } })
    const bc = await connect(server.url, { headers: { authorization: 'Bearer b:c' } })
    await c.next('welcome')
    await bc.next('welcome')
    c.send({ type: 'join', room: 'a:b', id: 'j' })
    bc.send({ type: 'join', room: 'a', id: 'j' })
    expect((await c.next('joined')).members).toEqual([{ user: 'c', presence: null, connections: 1 }])
    expect((await bc.next('joined')).members).toEqual([{ user: 'b:c', presence: null, connections: 1 }])
    expect(await server.parley.room('a:b').members()).toEqual([{ user: 'c', presence: null, connections: 1 }])
    c.close()
    bc.close()
  })
})

describe.skipIf(!hasRedis)('redis adapter: presence while Redis is down', () => {
  it('a leave that fails while Redis is down is run when it is back, not turned into a ghost', async () => {
    const { startRedis, waitFor } = await import('./helpers.js')
    const redis = await startRedis()
    try {
      const keyPrefix = `parley-test-ghost-${Date.now()}`
      const options = {
        adapter: createRedisAdapter({ url: redis.url, keyPrefix, nodeTimeoutMs: 60_000 }),
        authenticate: ({ token }: { token: string | undefined }) => (token === undefined ? null : { id: token }),
      }
      const a = await startServer(options)
      const b = await startServer({ ...options, adapter: createRedisAdapter({ url: redis.url, keyPrefix, nodeTimeoutMs: 60_000 }) })
      servers.push(a, b)
      const bob = await connect(a.url, { headers: { authorization: 'Bearer bob' } })
      const alice = await connect(b.url, { headers: { authorization: 'Bearer alice' } })
      await bob.next('welcome')
      await alice.next('welcome')
      bob.send({ type: 'join', room: 'lobby', id: 'j' })
      await bob.next('joined')
      alice.send({ type: 'join', room: 'lobby', id: 'j' })
      expect((await alice.next('joined')).members.map((m) => m.user).sort()).toEqual(['alice', 'bob'])
      await redis.stop()
      // Bob leaves cleanly while Redis is down; he was node A's last member of the room.
      bob.close()
      await bob.closed
      await new Promise((resolve) => setTimeout(resolve, 100))
      await redis.restart()
      // Once the nodes are back, presence has no bob: neither a stale entry nor one put back by re-registration.
      let members: string[] = []
      await waitFor('presence settled without bob', () => {
        void b.parley.room('lobby').members().then(
          (list) => (members = list.map((m) => m.user).sort()),
          () => undefined,
        )
        return members.length === 1 && members[0] === 'alice'
      }, 10_000)
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect((await b.parley.room('lobby').members()).map((m) => m.user)).toEqual(['alice'])
      alice.close()
    } finally {
      await Promise.all(servers.splice(0).map((s) => s.stop()))
      await redis.stop()
    }
  })
})
