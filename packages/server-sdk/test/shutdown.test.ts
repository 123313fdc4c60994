import { createHook } from 'node:async_hooks'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { attach, createMemoryAdapter, type Parley, type ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HeartbeatMonitor } from '../src/heartbeat.js'
import { connect, refusedHandshake, type RawClient } from './helpers/raw-client.js'
import { all, connectAs, join, sleep, stall, tokenAuth, unstall, waitUntil } from './helpers/harness.js'

interface Running {
  readonly server: Server
  readonly parley: Parley
  readonly url: string
  /** Closes the http server (Parley must have been closed by the test, or is closed here). */
  dispose(): Promise<void>
}

const running: Running[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(running.splice(0).map((r) => r.dispose()))
})

async function listen(): Promise<Server> {
  const server = createServer((_request, response) => response.end('still here'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

async function start(options: ServerOptions, server?: Server): Promise<Running> {
  const http = server ?? (await listen())
  const parley = attach(http, options)
  await parley.ready
  const entry: Running = {
    server: http,
    parley,
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/parley`,
    async dispose() {
      await parley.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
  running.push(entry)
  return entry
}

/** Records the timers (setTimeout / setInterval) created from now on that are still pending. */
function trackTimers(): { readonly pending: Map<number, string>; stop(): void } {
  const pending = new Map<number, string>()
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') pending.set(id, new Error().stack?.split('\n').slice(2, 8).join('\n') ?? '')
    },
    destroy(id) {
      pending.delete(id)
    },
  })
  hook.enable()
  return { pending, stop: () => hook.disable() }
}

describe('close()', () => {
  it('sends 1001 to every client, in batches of shutdown.batchSize spaced by batchIntervalMs', async () => {
    const { url, parley } = await start({ shutdown: { batchSize: 2, batchIntervalMs: 150, timeoutMs: 2_000 } })
    const clients: RawClient[] = []
    for (let i = 0; i < 6; i++) {
      const client = await connect(url)
      await client.next('welcome')
      clients.push(client)
    }
    const startedAt = Date.now()
    const closing = parley.close()
    const closes = await Promise.all(clients.map(async (client) => ({ ...(await client.closed), at: Date.now() - startedAt })))
    await closing
    for (const close of closes) expect(close).toMatchObject({ code: 1001, reason: 'server shutting down; reconnect' })
    const times = closes.map((c) => c.at).sort((a, b) => a - b)
    // Three batches of two: close together within a batch, ~150 ms apart between batches.
    expect(times[1]! - times[0]!).toBeLessThan(75)
    expect(times[3]! - times[2]!).toBeLessThan(75)
    expect(times[5]! - times[4]!).toBeLessThan(75)
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(100)
    expect(times[4]! - times[3]!).toBeGreaterThanOrEqual(100)
    expect(times[4]!).toBeGreaterThanOrEqual(280)
  })

  it('waits for clients up to shutdown.timeoutMs, then terminates the ones that did not close', async () => {
    const timeoutMs = 300
    const { url, parley } = await start({ shutdown: { timeoutMs } })
    const disconnects: Array<[string, number]> = []
    parley.on('disconnect', (session, code) => disconnects.push([session.id, code]))
    const polite = await connect(url)
    const politeId = (await polite.next('welcome')).session
    const deaf = await connect(url)
    const deafId = (await deaf.next('welcome')).session
    stall(deaf) // never reads the close frame, so never answers it
    const startedAt = Date.now()
    await parley.close()
    const took = Date.now() - startedAt
    expect(took).toBeGreaterThanOrEqual(timeoutMs - 10)
    expect(took).toBeLessThan(timeoutMs + 500)
    expect((await polite.closed).code).toBe(1001)
    // Both sessions ended; the one that never answered reports the code the server chose.
    expect(disconnects.sort()).toEqual([[deafId, 1001], [politeId, 1001]].sort())
    expect(parley.sessions()).toEqual([])
    unstall(deaf)
    await deaf.closed
  })

  it('resolves at once when every client closes promptly', async () => {
    const { url, parley } = await start({ shutdown: { timeoutMs: 5_000 } })
    const client = await connect(url)
    await client.next('welcome')
    const startedAt = Date.now()
    await parley.close()
    expect(Date.now() - startedAt).toBeLessThan(1_000)
  })

  it('is idempotent: every call returns the same promise', async () => {
    const { parley } = await start({})
    const first = parley.close()
    const second = parley.close()
    expect(second).toBe(first)
    await first
    expect(parley.close()).toBe(first)
  })

  it('answers new connections during the drain with HTTP 503, and detaches afterwards', async () => {
    const server = await listen()
    const upgradeListeners = server.listenerCount('upgrade')
    const { url, parley } = await start({ shutdown: { timeoutMs: 600 } }, server)
    expect(server.listenerCount('upgrade')).toBe(upgradeListeners + 1)
    const deaf = await connect(url)
    await deaf.next('welcome')
    stall(deaf)
    const closing = parley.close()
    await sleep(50)
    const refused = await refusedHandshake(url)
    expect(refused.status).toBe(503)
    expect(refused.body).toMatchObject({ code: 'TRY_AGAIN_LATER' })
    expect(refused.headers['retry-after']).toBeDefined()
    await closing
    // The server is as it was: no Parley upgrade listener, plain HTTP still served.
    expect(server.listenerCount('upgrade')).toBe(upgradeListeners)
    const response = await fetch(url.replace('ws:', 'http:'))
    expect(await response.text()).toBe('still here')
    await expect(parley.room('lobby').publish(1)).rejects.toThrow(/closed/)
    unstall(deaf)
  })

  it('clears every timer: none of its timers are left, and the heartbeat stops ticking', async () => {
    const tick = vi.spyOn(HeartbeatMonitor.prototype, 'tick')
    const server = await listen()
    const timers = trackTimers()
    const { url, parley } = await start(
      {
        // Tokens that expire in a minute arm an expiry timer per session.
        authenticate: ({ token }) => (token === undefined ? null : { id: token, expiresAt: Date.now() + 60_000 }),
        // Ticks every 10 ms; the long timeout keeps a loaded machine's slow pongs from ending sessions.
        heartbeat: { intervalMs: 40, timeoutMs: 5_000 },
        presence: { graceMs: 60_000 },
        signals: { minIntervalMs: 60_000 },
        shutdown: { timeoutMs: 300 },
      },
      server,
    )
    const alice = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    const carol = await connectAs(url, 'carol')
    for (const client of [alice, bob, carol]) await join(client, 'lobby')
    // A signal with a TTL timer and a pending coalesced value (a trailing timer).
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: true, ttlMs: 60_000 })
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: 'still', ttlMs: 60_000 })
    await bob.next('signal')
    // An abrupt disconnect leaves a presence grace timer.
    carol.ws.terminate()
    await carol.closed
    await waitUntil(() => parley.stats().connections === 2, 'carol gone')
    expect(timers.pending.size).toBeGreaterThanOrEqual(5)
    await waitUntil(() => tick.mock.calls.length >= 2, 'the heartbeat ticks')

    await parley.close()
    await Promise.all([alice.closed, bob.closed])
    await sleep(20)
    // Destroy hooks are emitted asynchronously: let them land (including the one of the sleep above).
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
    timers.stop()
    expect([...timers.pending.values()]).toEqual([])
    const ticks = tick.mock.calls.length
    await sleep(150)
    expect(tick.mock.calls.length).toBe(ticks)
  })

  it('announces the leaves of its users on a shared adapter, including those still in their grace period', async () => {
    const adapter = createMemoryAdapter()
    const options: ServerOptions = { adapter, authenticate: tokenAuth, presence: { graceMs: 60_000 }, shutdown: { timeoutMs: 300 } }
    const leaving = await start(options)
    const staying = await start(options)
    const bob = await connectAs(staying.url, 'bob')
    await join(bob, 'lobby')
    const alice = await connectAs(leaving.url, 'alice')
    const carol = await connectAs(leaving.url, 'carol')
    await join(alice, 'lobby')
    await join(carol, 'lobby')
    carol.ws.terminate()
    await carol.closed
    await waitUntil(() => all(bob, 'presence').length === 2, 'bob saw both join')
    await sleep(50)
    // Carol is in her grace period: not announced yet.
    expect(all(bob, 'presence').map((p) => p.event)).toEqual(['join', 'join'])
    const startedAt = Date.now()
    await leaving.parley.close()
    await waitUntil(() => all(bob, 'presence').length === 4, 'bob saw both leave', 2_000)
    expect(Date.now() - startedAt).toBeLessThan(1_500)
    const leaves = all(bob, 'presence').filter((p) => p.event === 'leave').map((p) => p.member.user)
    expect(leaves.sort()).toEqual(['alice', 'carol'])
    expect(await staying.parley.room('lobby').members()).toEqual([{ user: 'bob', presence: null, connections: 1 }])
    // The room goes on for the node that stayed.
    await staying.parley.room('lobby').publish('still here')
    expect(await bob.next('message')).toMatchObject({ data: 'still here' })
  })
})
