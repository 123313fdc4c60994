/**
 * examples/cluster: two workers of node:cluster on one port, sharing rooms through Redis. Clients land on both
 * workers (WebSocket and the HTTP stream, whose POSTs go to either), and every message reaches every client.
 */
import { createClient, httpStreamTransport, type Client } from '@parley/client-sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisAvailable } from '../../packages/redis-adapter/test/redis-available.js'
import { freePort, runExample, type ExampleProcess } from './helpers/processes.js'

const haveRedis = await redisAvailable()

describe.runIf(haveRedis)('examples/cluster: node:cluster workers on one port, sharing rooms through Redis', () => {
  let example: ExampleProcess
  let port = 0
  const clients: Client[] = []

  beforeAll(async () => {
    port = await freePort()
    example = runExample('examples/cluster/server.ts', [], { WORKERS: '2', PORT: String(port), CLUSTER_KEY_PREFIX: `cluster-e2e-${Date.now()}` })
    await example.waitForOutput(/Parley cluster: 2 workers/, 30_000)
  }, 40_000)
  afterAll(async () => {
    for (const client of clients) await client.close()
    await example?.kill('SIGTERM')
  })

  it('spreads connections over both workers, and every message reaches every client whichever worker holds it', async () => {
    const names = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 's1', 's2']
    const received = new Map<string, string[]>()
    const rooms = names.map((name) => {
      const client = createClient(`ws://127.0.0.1:${port}/parley`, {
        token: name,
        ...(name.startsWith('s') ? { transport: httpStreamTransport() } : {}),
      })
      clients.push(client)
      const room = client.join('lobby')
      received.set(name, [])
      room.on('message', (message) => received.get(name)?.push(String(message.data)))
      return room
    })
    await expect.poll(() => rooms.every((room) => room.state === 'joined'), { timeout: 10_000 }).toBe(true)
    type Answer = { answeredBy: string; nodes: Array<{ node: string; connections: number }> }
    const ask = async (): Promise<Answer> => (await fetch(`http://127.0.0.1:${port}/api/cluster`)).json() as Promise<Answer>
    // Requests alternate between the workers.
    const answers = await Promise.all([1, 2, 3, 4].map(ask))
    expect(new Set(answers.map((a) => a.answeredBy)).size).toBe(2)
    // Both hold some of the clients (the other worker's figures arrive with its heartbeat, every second here).
    await expect
      .poll(async () => (await ask()).nodes.map((n) => n.connections).sort(), { timeout: 5_000 })
      .toSatisfy((counts: number[]) => counts.length === 2 && counts.every((c) => c > 0) && counts[0]! + counts[1]! === 8)
    for (const [i, client] of clients.entries()) expect(client.transport).toBe(names[i]!.startsWith('s') ? 'http-stream' : 'websocket')

    for (const [i, room] of rooms.entries()) await room.publish(`from ${names[i]}`)
    await expect.poll(() => [...received.values()].every((texts) => texts.length === names.length), { timeout: 10_000 }).toBe(true)
    for (const texts of received.values()) expect([...texts].sort()).toEqual(names.map((name) => `from ${name}`).sort())
  }, 30_000)
})
