import { describe, expect, it, vi } from 'vitest'
import { HeartbeatMonitor } from '../src/heartbeat.js'
import type { Session } from '../src/session.js'
import { connectRaw, sleep, useServers } from './helpers/harness.js'

const servers = useServers()
const intervalMs = 100
const timeoutMs = 100
/** The monitor's tick: a quarter of the shorter setting. */
const tickMs = 25

describe('heartbeat over sockets', () => {
  it('terminates a silent peer (no pongs, no messages) within intervalMs + timeoutMs + a tick', async () => {
    const { url, parley } = await servers.start({ heartbeat: { intervalMs, timeoutMs } })
    // Timed on the server's own events: the session's clock starts when it opens, not when the client hears of it.
    let openedAt = 0
    const disconnects: Array<{ code: number; at: number }> = []
    parley.on('connection', () => (openedAt = Date.now()))
    parley.on('disconnect', (_session, code) => disconnects.push({ code, at: Date.now() }))
    const silent = await connectRaw(url, { autoPong: false })
    let pings = 0
    silent.ws.on('ping', () => pings++)
    const { code } = await silent.closed
    // Terminated without a close frame: the client sees 1006.
    expect(code).toBe(1006)
    expect(pings).toBeGreaterThanOrEqual(1)
    await vi.waitFor(() => expect(disconnects).toHaveLength(1))
    expect(disconnects[0]!.code).toBe(1006)
    const silentFor = disconnects[0]!.at - openedAt
    expect(silentFor).toBeGreaterThanOrEqual(intervalMs + timeoutMs - 2)
    // The bound plus one tick, plus room for a loaded test machine's timer lateness.
    expect(silentFor).toBeLessThanOrEqual(intervalMs + timeoutMs + tickMs + 150)
    expect(parley.stats().connections).toBe(0)
  })

  it('keeps a peer that answers ping frames', async () => {
    const { url, parley } = await servers.start({ heartbeat: { intervalMs, timeoutMs } })
    const lively = await connectRaw(url)
    let pings = 0
    lively.ws.on('ping', () => pings++)
    await sleep(3 * (intervalMs + timeoutMs))
    expect(lively.ws.readyState).toBe(lively.ws.OPEN)
    expect(pings).toBeGreaterThanOrEqual(2)
    expect(parley.stats().connections).toBe(1)
  })

  it('keeps a peer that sends messages even when it never answers ping frames', async () => {
    const { url } = await servers.start({ heartbeat: { intervalMs, timeoutMs } })
    const chatty = await connectRaw(url, { autoPong: false })
    for (let i = 0; i < 12; i++) {
      chatty.send({ type: 'ping', id: `p${i}` })
      await sleep(50)
    }
    expect(chatty.ws.readyState).toBe(chatty.ws.OPEN)
    // A peer that goes quiet afterwards is dropped as usual.
    expect((await chatty.closed).code).toBe(1006)
  })

  it('answers the protocol ping with a pong echoing id and ts', async () => {
    const { url } = await servers.start()
    const client = await connectRaw(url)
    await client.next('welcome')
    client.send({ type: 'ping', id: 'hb-1', ts: 1_700_000_000_123 })
    expect(await client.next('pong')).toEqual({ type: 'pong', id: 'hb-1', ts: 1_700_000_000_123 })
    client.send({ type: 'ping' })
    expect(await client.next('pong')).toEqual({ type: 'pong' })
    client.send({ type: 'ping', ts: 5 })
    expect(await client.next('pong')).toEqual({ type: 'pong', ts: 5 })
  })

  it('announces the heartbeat settings in welcome', async () => {
    const { url } = await servers.start({ heartbeat: { intervalMs: 1_234, timeoutMs: 567 } })
    const client = await connectRaw(url)
    expect((await client.next('welcome')).heartbeat).toEqual({ intervalMs: 1_234, timeoutMs: 567 })
  })
})

describe('HeartbeatMonitor', () => {
  function fakeSession(lastSeenAt: number) {
    const pings: number[] = []
    const session = { lastSeenAt, lastPingAt: 0, connection: { ping: () => pings.push(1) } }
    return { session: session as unknown as Session, pings, raw: session }
  }

  it('pings a session silent for intervalMs, once per interval, and reports one silent for interval + timeout', () => {
    let now = 1_000
    const a = fakeSession(1_000)
    const dead: Session[] = []
    const monitor = new HeartbeatMonitor({ intervalMs: 100, timeoutMs: 50 }, () => [a.session], (s) => dead.push(s), () => now)
    now = 1_099
    monitor.tick()
    expect(a.pings).toHaveLength(0)
    now = 1_100
    monitor.tick()
    expect(a.pings).toHaveLength(1)
    now = 1_120
    monitor.tick()
    expect(a.pings).toHaveLength(1)
    now = 1_149
    monitor.tick()
    expect(dead).toEqual([])
    now = 1_150
    monitor.tick()
    expect(dead).toEqual([a.session])
  })

  it('counts any sign of life: a fresh lastSeenAt resets the deadline', () => {
    let now = 0
    const a = fakeSession(0)
    const dead: Session[] = []
    const monitor = new HeartbeatMonitor({ intervalMs: 100, timeoutMs: 100 }, () => [a.session], (s) => dead.push(s), () => now)
    for (now = 0; now <= 1_000; now += 25) {
      if (now % 150 === 0) a.raw.lastSeenAt = now
      monitor.tick()
    }
    expect(dead).toEqual([])
  })

  it('ticks at a quarter of the shorter setting, at least every 10 ms, and stops on stop()', async () => {
    expect(new HeartbeatMonitor({ intervalMs: 100, timeoutMs: 200 }, () => [], () => undefined).tickMs).toBe(25)
    expect(new HeartbeatMonitor({ intervalMs: 8, timeoutMs: 8 }, () => [], () => undefined).tickMs).toBe(10)
    let ticks = 0
    const monitor = new HeartbeatMonitor({ intervalMs: 40, timeoutMs: 40 }, () => {
      ticks++
      return []
    }, () => undefined)
    monitor.start()
    await sleep(60)
    monitor.stop()
    const seen = ticks
    expect(seen).toBeGreaterThanOrEqual(2)
    await sleep(60)
    expect(ticks).toBe(seen)
  })
})
