import { afterEach, describe, expect, it } from 'vitest'
import { createMemoryAdapter } from '@parley/server-sdk'
import { connect } from './helpers/raw-client.js'
import { startServer, type TestServer } from './helpers/start-server.js'

const servers: TestServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

describe('clusterStats()', () => {
  it('sums the nodes sharing an adapter and counts rooms cluster-wide', async () => {
    const adapter = createMemoryAdapter()
    const a = await startServer({ adapter })
    const b = await startServer({ adapter })
    servers.push(a, b)
    const alice = await connect(a.url)
    const bob = await connect(b.url)
    const carol = await connect(b.url)
    for (const client of [alice, bob, carol]) await client.next('welcome')
    alice.send({ type: 'join', room: 'shared', id: 'j' })
    bob.send({ type: 'join', room: 'shared', id: 'j' })
    carol.send({ type: 'join', room: 'only-b', id: 'j' })
    for (const client of [alice, bob, carol]) await client.next('joined')
    const stats = await a.parley.clusterStats()
    expect(stats.partial).toBe(false)
    expect(stats.nodes).toHaveLength(2)
    expect(stats.total.connections).toBe(3)
    expect(stats.total.members).toBe(3)
    // 'shared' lives on both nodes but is one room.
    expect(stats.total.rooms).toBe(2)
    expect(a.parley.stats().connections).toBe(1)
  })

  it('a single node with its own adapter reports itself', async () => {
    const a = await startServer()
    servers.push(a)
    const client = await connect(a.url)
    await client.next('welcome')
    const stats = await a.parley.clusterStats()
    expect(stats).toMatchObject({ partial: false, total: { connections: 1 } })
    expect(stats.nodes).toHaveLength(1)
  })
})
