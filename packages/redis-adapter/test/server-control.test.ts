import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type Client, type Room } from '@parley/client-sdk'
import { startNode, waitFor, type NodeProcess } from './helpers.js'
import { redisAvailable } from './redis-available.js'

// Server control across two server processes on Redis, through node A's HTTP API: a user with tabs on nodes A and
// B is kicked, disconnected and joined server-side on every node at once; a node that is down is reported, never
// waited for.

const hasRedis = await redisAvailable()
const API_KEY = 'test-key-0123456789abcdef'

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

interface Node extends NodeProcess {
  readonly api: string
  /** Lines the node printed `authorize <user> <room>` for, in order. */
  readonly authorized: string[]
}

async function cluster(count: number): Promise<Node[]> {
  const keyPrefix = `parley-ctl-${Date.now()}-${Math.random().toString(36).slice(2)}`
  const nodes = await Promise.all(Array.from({ length: count }, () => startNode({ redisUrl: 'redis://127.0.0.1:6379', keyPrefix, nodeTimeoutMs: 1_000 })))
  return nodes.map((node) => {
    cleanup.push(() => node.stop())
    const authorized: string[] = []
    node.child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('authorize ')) authorized.push(line.slice('authorize '.length))
    })
    return { ...node, api: `http://127.0.0.1:${node.port}/parley-api`, authorized }
  })
}

async function post(node: Node, path: string, body: unknown): Promise<{ status: number; body: { sessions: number; nodes: string[]; missing: string[] } }> {
  const response = await fetch(`${node.api}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as { sessions: number; nodes: string[]; missing: string[] } }
}

interface Tab {
  readonly client: Client
  readonly room: Room
  readonly left: Array<string | undefined>
  readonly presence: Array<{ event: string; user: string }>
  readonly rooms: Room[]
}

function tab(user: string, url: string): Tab {
  const client = createClient(url, { token: user, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } })
  cleanup.push(() => client.close())
  const room = client.join('chat')
  const seen: Tab = { client, room, left: [], presence: [], rooms: [] }
  room.on('left', ({ reason }) => void seen.left.push(reason))
  room.on('presence', ({ event, member }) => void seen.presence.push({ event, user: member.user }))
  client.on('room', (handle) => void seen.rooms.push(handle))
  return seen
}

describe.skipIf(!hasRedis)('server control across two processes', () => {
  it("kicks a user from node A's HTTP API: every tab on A and B leaves, presence says leave once, and the next join is authorized again", async () => {
    const [a, b] = (await cluster(2)) as [Node, Node]
    const alice = tab('alice', a.url)
    const bobA = tab('bob', a.url)
    const bobB = tab('bob', b.url)
    await waitFor('all joined', () => [alice, bobA, bobB].every((t) => t.room.state === 'joined'))
    await waitFor('alice sees bob', () => alice.room.members().length === 2)
    const answer = await post(a, `/rooms/chat/remove`, { user: 'bob', reason: 'kicked' })
    expect(answer.status).toBe(200)
    expect(answer.body.sessions).toBe(2)
    expect(answer.body.nodes).toHaveLength(2)
    expect(answer.body.missing).toEqual([])
    await waitFor('both tabs told', () => bobA.left.length > 0 && bobB.left.length > 0)
    for (const bob of [bobA, bobB]) {
      expect(bob.left).toEqual(['kicked'])
      expect(bob.room.state).toBe('left')
    }
    await waitFor('alice sees the leave', () => alice.presence.some((p) => p.event === 'leave' && p.user === 'bob'))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(alice.presence.filter((p) => p.event === 'leave' && p.user === 'bob')).toHaveLength(1)
    // Bob joins again on B, by himself: authorize is asked again there.
    const before = b.authorized.filter((line) => line === 'bob chat').length
    const again = bobB.client.join('chat')
    await waitFor('bob back in', () => again.state === 'joined')
    expect(b.authorized.filter((line) => line === 'bob chat').length).toBe(before + 1)
  }, 30_000)

  it('disconnects every tab of a user on every node, and joins a user to a room server-side on every node', async () => {
    const [a, b] = (await cluster(2)) as [Node, Node]
    const carolA = tab('carol', a.url)
    const carolB = tab('carol', b.url)
    const dave = tab('dave', b.url)
    await waitFor('all joined', () => [carolA, carolB, dave].every((t) => t.room.state === 'joined'))
    const joined = await post(b, '/users/carol/join', { room: 'news' })
    expect(joined.body).toMatchObject({ sessions: 2, missing: [] })
    await waitFor('both tabs got the room', () => carolA.rooms.length === 1 && carolB.rooms.length === 1)
    for (const carol of [carolA, carolB]) expect(carol.rooms[0]?.name).toBe('news')
    const news: unknown[] = []
    carolA.rooms[0]?.on('message', (message) => void news.push(message.data))
    await fetch(`${a.api}/rooms/news/publish`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ data: { headline: 1 } }) })
    await waitFor('news delivered', () => news.length === 1)

    const closed = await post(a, '/users/carol/disconnect', { code: 4403, reason: 'suspended' })
    expect(closed.body).toMatchObject({ sessions: 2, missing: [] })
    await waitFor('both tabs closed for good', () => carolA.client.state === 'closed' && carolB.client.state === 'closed')
    expect(dave.client.state).toBe('open')
  }, 30_000)

  it('reports a node that is down in `missing` within the cluster timeout, instead of hanging', async () => {
    const [a, b] = (await cluster(2)) as [Node, Node]
    const erin = tab('erin', a.url)
    await waitFor('erin joined', () => erin.room.state === 'joined')
    await b.kill9()
    const started = Date.now()
    const answer = await post(a, '/broadcast', { data: { notice: 'still here' } })
    const took = Date.now() - started
    expect(answer.status).toBe(200)
    expect(answer.body.sessions).toBe(1)
    expect(answer.body.nodes).toHaveLength(1)
    expect(answer.body.missing).toHaveLength(1)
    // The fixture's clusterTimeoutMs is 1.5 s.
    expect(took).toBeLessThan(5_000)
  }, 30_000)
})
