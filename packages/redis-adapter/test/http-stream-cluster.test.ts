import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type Client, type Room } from '@parley/client-sdk'
import type { Recovery } from '@parley/protocol'
import { startHttpProxy } from '../../client-sdk/test/helpers/http-proxy.js'
import { startNode, waitFor } from './helpers.js'
import { redisAvailable } from './redis-available.js'

// Two server processes on Redis behind a round-robin HTTP proxy that alternates every request between them and
// refuses WebSocket upgrades: clients fall back to the HTTP stream, whose POSTs land on either node (no sticky
// sessions) and are forwarded to the stream's node. They chat, see presence and recover; nothing lost or twice.

const hasRedis = await redisAvailable()
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

interface Member {
  readonly name: string
  readonly client: Client
  readonly room: Room<{ text: string }>
  readonly texts: string[]
  readonly seqs: number[]
  readonly recoveries: Recovery[]
}

describe.skipIf(!hasRedis)('the HTTP stream across two processes, no sticky sessions', () => {
  it('chats, shows presence and recovers behind a proxy that alternates nodes per request and refuses upgrades', async () => {
    const keyPrefix = `parley-sse-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const nodes = await Promise.all([0, 1].map(() => startNode({ redisUrl: 'redis://127.0.0.1:6379', keyPrefix, nodeTimeoutMs: 1_000 })))
    for (const node of nodes) cleanup.push(() => node.stop())
    const proxy = await startHttpProxy(nodes.map((node) => node.port), { blockUpgrades: true })
    cleanup.push(() => proxy.close())

    const member = (name: string): Member => {
      // A drop here ends the stream itself, so the heartbeat need not find it: a tight one (its ping is a POST through the
      // proxy, maybe forwarded across Redis, its pong an event back) would only make a loaded machine flap.
      const client = createClient(proxy.url, { token: name, reconnect: { initialDelayMs: 50, maxDelayMs: 300 }, heartbeat: { intervalMs: 5_000, timeoutMs: 5_000 } })
      cleanup.push(() => client.close())
      const room = client.join<{ text: string }>('lobby')
      const seen: Member = { name, client, room, texts: [], seqs: [], recoveries: [] }
      room.on('message', (message) => {
        seen.texts.push(message.data.text)
        seen.seqs.push(message.seq)
      })
      room.on('recovery', (recovery) => void seen.recoveries.push(recovery))
      return seen
    }
    const members = ['ava', 'bo', 'cy', 'dee'].map(member)
    await waitFor('all joined', () => members.every((m) => m.room.state === 'joined'))
    for (const m of members) expect(m.client.transport).toBe('http-stream')
    await waitFor('everyone sees four members', () => members.every((m) => m.room.members().length === 4))

    for (let i = 0; i < 10; i++) for (const m of members) await m.room.publish({ text: `${m.name}:${i}` })
    await waitFor('forty messages everywhere', () => members.every((m) => m.seqs.length === 40), 15_000)
    for (const m of members) {
      expect(m.seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      for (const author of members) expect(m.texts.filter((t) => t.startsWith(`${author.name}:`))).toEqual(Array.from({ length: 10 }, (_, i) => `${author.name}:${i}`))
    }
    // Requests really alternated: both nodes took POSTs for streams they may not hold.
    expect(proxy.forwarded.every((count) => count > 20)).toBe(true)

    // A drop: every stream is cut at the proxy; while they reconnect, one of them keeps publishing; each resumes
    // on a new stream (on either node) with its resume point and gets exactly what it missed.
    const [ava, bo] = members as [Member, Member]
    proxy.drop()
    for (let i = 0; i < 5; i++) await bo.room.publish({ text: `bo:late${i}` })
    await waitFor('everyone has all forty-five', () => members.every((m) => m.seqs.length === 45), 20_000).catch((error: unknown) => {
      // Say who is behind, and in what state, before failing.
      throw new Error(`${String(error)}: ${JSON.stringify(members.map((m) => ({ name: m.name, got: m.seqs.length, last: m.seqs.at(-1), state: m.client.state, room: m.room.state, transport: m.client.transport, recoveries: m.recoveries })))}`)
    })
    for (const m of members) {
      expect(m.seqs).toEqual(Array.from({ length: 45 }, (_, i) => i + 1))
      expect(new Set(m.texts).size).toBe(45)
    }
    expect(ava.recoveries.length).toBeGreaterThan(0)
    expect(ava.recoveries.every((recovery) => recovery.recovered)).toBe(true)
  }, 60_000)
})
