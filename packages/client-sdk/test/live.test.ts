import { beforeAll, describe, expect, it } from 'vitest'
import {
  AuthError,
  UnsupportedProtocolError,
  websocketTransport,
  type Client,
  type ClientOptions,
  type ClientState,
  type PublishAck,
  type ReconnectEvent,
  type Room,
  type TransportFactory,
} from '@parley/client-sdk'
import type { Recovery } from '@parley/protocol'
import { createMemoryAdapter, createParley, type ServerOptions } from '@parley/server-sdk'
import { freePort, sleep, startRefusingServer, tokenAuth, useLive, waitUntil, within } from './helpers/live-server.js'
import { startBlackhole } from './helpers/tcp-proxy.js'
import { collect, nextEvent } from './helpers/wait.js'

// Fault tests of the real client SDK against the real server SDK: attach() on a plain http server on 127.0.0.1,
// real sockets, real timers, small settings. Each fault runs with both WebSockets a Node app may use: the global
// one (Node 20 with --experimental-websocket, as the vitest config sets; the default transport picks it) and the
// `ws` package (websocketTransport({ preferWs: true })), which reads HTTP refusals. Waits poll with deadlines;
// timing figures are printed, and bounded with margins meant for a loaded 2-core machine.

const live = useLive()

interface Kind {
  readonly name: string
  /** undefined: the default transport, which uses the global WebSocket. */
  readonly transport: TransportFactory | undefined
  /** How the token reaches the server with this WebSocket. */
  readonly tokenVia: 'subprotocol' | 'header'
}
const NATIVE: Kind = { name: 'the global WebSocket', transport: undefined, tokenVia: 'subprotocol' }
const WS: Kind = { name: 'ws (preferWs)', transport: websocketTransport({ preferWs: true }), tokenVia: 'header' }
const KINDS = [NATIVE, WS]
const using = (kind: Kind, options: ClientOptions): ClientOptions => (kind.transport === undefined ? options : { ...options, transport: kind.transport })

const RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 }
const HEARTBEAT = { intervalMs: 200, timeoutMs: 200 }

type Entry = { readonly seq: number; readonly n: number; readonly epoch: string } | { readonly recovery: Recovery }

/** Everything a room delivers to the app, in order: messages (seq, payload) and recovery events. */
function record(room: Room<{ n: number }>): { timeline: Entry[]; messages: () => Array<{ seq: number; n: number; epoch: string }> } {
  const timeline: Entry[] = []
  room.on('message', (m) => void timeline.push({ seq: m.seq, n: m.data.n, epoch: m.epoch }))
  room.on('recovery', (recovery) => void timeline.push({ recovery }))
  return { timeline, messages: () => timeline.filter((e): e is Extract<Entry, { seq: number }> => 'seq' in e) }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Resolves with `performance.now()` at the client's next move to `state`. */
function stateAt(client: Client, state: ClientState): Promise<number> {
  return new Promise((resolve) => {
    const off = client.on('state', (s) => {
      if (s !== state) return
      off()
      resolve(performance.now())
    })
  })
}

beforeAll(() => {
  // Without it the default transport would silently fall back to `ws` and the "native" runs would test nothing new.
  expect(typeof (globalThis as { WebSocket?: unknown }).WebSocket).toBe('function')
})

describe.each(KINDS)('server restart mid-stream, with $name', (kind) => {
  it('reconnects to the restarted server on the same port, re-joins with its resume point and gets exactly the messages published while away', async () => {
    // The adapter outlives parley.close(): the restarted instance finds the room's epoch, seq and history again.
    const adapter = createMemoryAdapter()
    const tokens: Array<'header' | 'subprotocol' | 'no-request'> = []
    const options: ServerOptions = { adapter, authenticate: tokenAuth(tokens) }
    const first = await live.server(options)
    const client = live.client(first.url, using(kind, { token: 'alice', reconnect: RECONNECT }))
    const room = client.join<{ n: number }>('stream')
    const { timeline, messages } = record(room)
    const joined = await nextEvent(room, 'joined')
    for (const n of range(1, 3)) await first.parley.room('stream').publish({ n })
    await waitUntil(() => messages().length === 3, 'the first 3 messages arrived', 5_000, timeline)
    const states = collect(client, 'state')
    const reconnects = collect(client, 'reconnect')

    await first.stop() // graceful: 1001 to the client, then the port closes
    await waitUntil(() => client.state === 'reconnecting', 'the client saw the server go')
    // The client now retries against a closed port (refused: 1006) every ≤ 200 ms. The restarted server publishes
    // 4..8 before it listens, so the client cannot have seen any of them live.
    const second = await live.server(options, {
      port: first.port,
      beforeListen: async (parley) => {
        for (const n of range(4, 8)) await parley.room('stream').publish({ n })
      },
    })
    await waitUntil(() => messages().length === 8, 'the missed messages were replayed', 5_000, timeline)
    for (const n of range(9, 10)) await second.parley.room('stream').publish({ n })
    await waitUntil(() => messages().length === 10, 'the live messages after the restart arrived', 5_000, timeline)

    expect(timeline).toEqual([
      ...range(1, 3).map((n) => ({ seq: n, n, epoch: joined.epoch })),
      { recovery: { recovered: true, replayed: 5, gap: null } },
      ...range(4, 10).map((n) => ({ seq: n, n, epoch: joined.epoch })),
    ])
    expect(states).toEqual(['reconnecting', 'open'])
    expect(reconnects[0]).toMatchObject({ attempt: 1, code: 1001 })
    // Every later retry met the closed port; their attempt numbers count up without a gap.
    expect(reconnects.slice(1).every((r) => r.code === 1006)).toBe(true)
    expect(reconnects.map((r) => r.attempt)).toEqual(range(1, reconnects.length))
    expect(second.upgrades).toHaveLength(1)
    expect(new Set(tokens)).toEqual(new Set([kind.tokenVia]))
  })

  it('loses nothing and duplicates nothing while another node keeps publishing through the restart', async () => {
    const adapter = createMemoryAdapter()
    const options: ServerOptions = { adapter, authenticate: tokenAuth(), history: { size: 10_000 } }
    // A second node on the same in-memory bus, with no transport: it publishes throughout, like a busy cluster.
    const publisher = createParley({ adapter, history: { size: 10_000 } })
    await publisher.ready
    live.defer(() => publisher.close())
    const first = await live.server(options)
    const client = live.client(first.url, using(kind, { token: 'alice', reconnect: RECONNECT }))
    const room = client.join<{ n: number }>('firehose')
    const { timeline, messages } = record(room)
    await nextEvent(room, 'joined')

    let published = 0
    let publishing = true
    const loop = (async () => {
      while (publishing) {
        published++
        await publisher.room('firehose').publish({ n: published })
        await sleep(3)
      }
    })()
    await waitUntil(() => messages().length >= 10, 'messages flow', 5_000, () => messages().length)
    await first.stop()
    const downAt = published
    // Stay down until at least 20 messages went by unseen, then come back on the same port.
    await waitUntil(() => published >= downAt + 20, 'messages published while down')
    await live.server(options, { port: first.port })
    await waitUntil(() => timeline.some((e) => 'recovery' in e), 'recovery', 5_000)
    const afterRecovery = messages().length
    await waitUntil(() => messages().length >= afterRecovery + 20, 'live messages after the restart', 5_000, () => messages().length)
    publishing = false
    await loop
    await waitUntil(() => messages().at(-1)?.seq === published, 'the last message arrived', 5_000, () => [messages().at(-1), published])

    const seqs = messages().map((m) => m.seq)
    expect(seqs).toEqual(range(1, published))
    expect(messages().every((m) => m.n === m.seq)).toBe(true)
    const recoveries = timeline.filter((e): e is { recovery: Recovery } => 'recovery' in e).map((e) => e.recovery)
    expect(recoveries).toHaveLength(1)
    expect(recoveries[0]).toMatchObject({ recovered: true, gap: null })
    expect(recoveries[0]?.replayed).toBeGreaterThanOrEqual(20)
    console.log(`[restart under load, ${kind.name}] ${published} messages, ${recoveries[0]?.replayed} replayed after the restart, none lost or repeated`)
  })

  it('acks and delivers exactly once, in order, every publish the client makes straight through the restart (before, while down, after)', async () => {
    const adapter = createMemoryAdapter()
    const options: ServerOptions = { adapter, authenticate: tokenAuth(), limits: { rate: { messages: 10_000, perMs: 1_000 } } }
    const first = await live.server(options)
    // The observer is on another node of the same bus, which stays up: it sees the room's stream as it happens.
    const other = await live.server(options)
    const alice = live.client(first.url, using(kind, { token: 'alice', reconnect: RECONNECT, offlineQueueSize: 10_000 }))
    const bob = live.client(other.url, using(kind, { token: 'bob' }))
    const a = alice.join<{ i: number }>('outbox')
    const b = bob.join<{ i: number }>('outbox')
    await Promise.all([nextEvent(a, 'joined'), nextEvent(b, 'joined')])
    const atBob = collect(b, 'message')
    const atAlice = collect(a, 'message')

    const acks: Array<Promise<PublishAck>> = []
    let sending = true
    const loop = (async () => {
      while (sending) {
        acks.push(a.publish({ i: acks.length + 1 }))
        await sleep(3)
      }
    })()
    await waitUntil(() => atBob.length >= 10, 'publishes flow', 5_000, () => atBob.length)
    await first.stop()
    const downAt = acks.length
    await waitUntil(() => acks.length >= downAt + 10, 'publishes made while down')
    await live.server(options, { port: first.port })
    await waitUntil(() => alice.state === 'open', 'alice is back')
    const upAt = acks.length
    await waitUntil(() => acks.length >= upAt + 10, 'publishes made after the restart')
    sending = false
    await loop
    const results = await Promise.all(acks)
    const total = results.length
    await waitUntil(() => atBob.length >= total && atAlice.length >= total, 'every publish was delivered', 5_000, () => [total, atBob.length, atAlice.length])

    // Each publish exactly once, in the order it was made, under the seq its ack named (duplicates included).
    for (const received of [atBob, atAlice]) {
      expect(received.map((m) => m.data.i)).toEqual(range(1, total))
      expect(received.map((m) => m.seq)).toEqual(results.map((r) => r.seq))
    }
    expect(results.map((r) => r.seq)).toEqual(range(1, total))
    const duplicates = results.filter((r) => r.duplicate).length
    console.log(`[publishing through a restart, ${kind.name}] ${total} publishes (${upAt - downAt} made while down), ${duplicates} re-sent and acked as duplicates`)
  })
})

describe('server restart that loses messages, with the global WebSocket', () => {
  it('beyond the history window: recovery names the lost seqs (window-exceeded), then the messages still kept, then live ones', async () => {
    const adapter = createMemoryAdapter()
    const options: ServerOptions = { adapter, authenticate: tokenAuth(), history: { size: 3 } }
    const first = await live.server(options)
    const client = live.client(first.url, { token: 'alice', reconnect: RECONNECT })
    const room = client.join<{ n: number }>('narrow')
    const { timeline, messages } = record(room)
    const joined = await nextEvent(room, 'joined')
    for (const n of range(1, 3)) await first.parley.room('narrow').publish({ n })
    await waitUntil(() => messages().length === 3, 'the first messages arrived', 5_000, timeline)
    await first.stop()
    const second = await live.server(options, {
      port: first.port,
      beforeListen: async (parley) => {
        for (const n of range(4, 8)) await parley.room('narrow').publish({ n })
      },
    })
    await waitUntil(() => timeline.some((e) => 'recovery' in e) && messages().length === 6, 'the kept messages were replayed', 5_000, timeline)
    await second.parley.room('narrow').publish({ n: 9 })
    await waitUntil(() => messages().length === 7, 'a live message arrived', 5_000, timeline)
    // 4 and 5 fell out of the 3-message window: the app is told so, never handed a stream that looks complete.
    expect(timeline).toEqual([
      ...range(1, 3).map((n) => ({ seq: n, n, epoch: joined.epoch })),
      { recovery: { recovered: false, replayed: 3, gap: { reason: 'window-exceeded', from: 4, to: 5 } } },
      ...range(6, 9).map((n) => ({ seq: n, n, epoch: joined.epoch })),
    ])
  })

  it('with the adapter lost too (a new epoch): recovery says epoch-changed, and the new epoch is delivered from its start', async () => {
    // No adapter in options: each instance has its own memory adapter, which dies with it, as in a process restart.
    const first = await live.server({ authenticate: tokenAuth() })
    const client = live.client(first.url, { token: 'alice', reconnect: RECONNECT })
    const room = client.join<{ n: number }>('fresh')
    const { timeline, messages } = record(room)
    const joined = await nextEvent(room, 'joined')
    for (const n of range(1, 3)) await first.parley.room('fresh').publish({ n })
    await waitUntil(() => messages().length === 3, 'the first messages arrived', 5_000, timeline)
    await first.stop()
    let epoch = ''
    const second = await live.server({ authenticate: tokenAuth() }, {
      port: first.port,
      beforeListen: async (parley) => {
        for (const n of range(101, 102)) epoch = (await parley.room('fresh').publish({ n })).epoch
      },
    })
    await waitUntil(() => messages().length === 5, 'the new epoch was replayed', 5_000, timeline)
    await second.parley.room('fresh').publish({ n: 103 })
    await waitUntil(() => messages().length === 6, 'a live message arrived', 5_000, timeline)
    expect(epoch).not.toBe(joined.epoch)
    // Seqs 1-3 again, in the new epoch: not mistaken for duplicates of the old stream's 1-3.
    expect(timeline).toEqual([
      ...range(1, 3).map((n) => ({ seq: n, n, epoch: joined.epoch })),
      { recovery: { recovered: false, replayed: 2, gap: { reason: 'epoch-changed' } } },
      { seq: 1, n: 101, epoch },
      { seq: 2, n: 102, epoch },
      { seq: 3, n: 103, epoch },
    ])
  })
})

// Node 20's WebSocket dispatches `error` synchronously inside close() on a CONNECTING socket ("Connection was closed
// before it was established."); the connection reports its own reason (the connect timeout) before closing, so the
// reconnect event says "No welcome within 200 ms", not that transport error.
describe.each(KINDS)('a server that accepts TCP but never answers the handshake, with $name', (kind) => {
  it('abandons the attempt after connectTimeoutMs and moves on to the next URL', async () => {
    const hole = await startBlackhole()
    live.defer(() => hole.close())
    const server = await live.server()
    const connectTimeoutMs = 200
    const startedAt = performance.now()
    const client = live.client([hole.url('/parley'), server.url], using(kind, { connectTimeoutMs, reconnect: RECONNECT }))
    const reconnects: Array<ReconnectEvent & { at: number }> = []
    client.on('reconnect', (r) => void reconnects.push({ ...r, at: performance.now() }))
    await nextEvent(client, 'welcome')

    // The attempt ended because the client gave up on it: the close it reports says so, with no transport error.
    expect(reconnects).toEqual([
      expect.objectContaining({ attempt: 1, code: 1006, reason: `No welcome within ${connectTimeoutMs} ms`, url: server.url, error: undefined }),
    ])
    const abandonedAfter = (reconnects[0]?.at ?? 0) - startedAt
    console.log(`[hanging handshake, ${kind.name}] attempt abandoned after ${abandonedAfter.toFixed(0)} ms (connectTimeoutMs ${connectTimeoutMs})`)
    expect(abandonedAfter).toBeGreaterThanOrEqual(connectTimeoutMs - 5)
    expect(abandonedAfter).toBeLessThanOrEqual(connectTimeoutMs + 150)
    // One attempt by the client (the single reconnect event above proves it); Node's own WebSocket (undici) may open
    // a second TCP connection for the same handshake when it is aborted, which is not the client's doing.
    if (kind === NATIVE) expect(hole.accepted).toBeGreaterThanOrEqual(1)
    else expect(hole.accepted).toBe(1)
    expect(client.state).toBe('open')
    expect(client.url).toBe(server.url)
  })
})

describe.each([
  { kind: NATIVE, route: 'fails over to the second URL (the server directly)' },
  { kind: WS, route: 'reconnects through the same proxy (new connections pass again)' },
])('half-open connection, with $kind.name', ({ kind, route }) => {
  it(`is detected within heartbeat interval + timeout, then the client ${route} and recovers what was published meanwhile`, async () => {
    const server = await live.server({ authenticate: tokenAuth() })
    const proxy = await live.proxy(server.port)
    const urls = kind === NATIVE ? [proxy.url('/parley'), server.url] : [proxy.url('/parley')]
    const client = live.client(urls, using(kind, { token: 'alice', heartbeat: HEARTBEAT, reconnect: RECONNECT }))
    const room = client.join<{ n: number }>('watch')
    const { timeline, messages } = record(room)
    const joined = await nextEvent(room, 'joined')
    for (const n of range(1, 2)) await server.parley.room('watch').publish({ n })
    await waitUntil(() => messages().length === 2, 'the first messages arrived', 5_000, timeline)
    const reconnects = collect(client, 'reconnect')

    // A healthy idle connection survives several heartbeat rounds (pings answered through the proxy).
    await sleep(2 * (HEARTBEAT.intervalMs + HEARTBEAT.timeoutMs))
    expect(client.state).toBe('open')
    expect(reconnects).toEqual([])

    const detected = stateAt(client, 'reconnecting')
    proxy.freeze() // both ways; neither socket is closed: only the heartbeat can tell
    const frozenAt = performance.now()
    const lastFrameAt = proxy.lastToClientAt
    for (const n of range(3, 5)) await server.parley.room('watch').publish({ n }) // into the black hole
    const detectedAt = await within(detected, 5_000, 'the client noticed the dead connection')
    const sinceLastFrame = detectedAt - lastFrameAt
    const sinceFreeze = detectedAt - frozenAt
    const bound = HEARTBEAT.intervalMs + HEARTBEAT.timeoutMs
    console.log(
      `[half-open, ${kind.name}] detected ${sinceLastFrame.toFixed(0)} ms after the last inbound frame ` +
        `(${sinceFreeze.toFixed(0)} ms after the freeze); bound interval + timeout = ${bound} ms`,
    )
    // Never before the bound (no false alarm: it is the heartbeat that judged), and within it plus a margin for
    // timer lateness on a loaded machine.
    expect(sinceLastFrame).toBeGreaterThanOrEqual(bound - 25)
    expect(sinceLastFrame).toBeLessThanOrEqual(bound + 150)
    expect(sinceFreeze).toBeLessThanOrEqual(bound + 150)
    expect(reconnects[0]).toMatchObject({ attempt: 1, code: 1006, url: urls.length > 1 ? server.url : proxy.url('/parley') })

    await waitUntil(() => messages().length === 5, 'the messages published meanwhile were recovered', 5_000, timeline)
    expect(timeline).toEqual([
      ...range(1, 2).map((n) => ({ seq: n, n, epoch: joined.epoch })),
      { recovery: { recovered: true, replayed: 3, gap: null } },
      ...range(3, 5).map((n) => ({ seq: n, n, epoch: joined.epoch })),
    ])
    expect(client.state).toBe('open')
    expect(client.url).toBe(urls.length > 1 ? server.url : proxy.url('/parley'))
    expect(proxy.accepted).toBe(urls.length > 1 ? 1 : 2)
  })
})

describe('a publish whose ack was lost on a half-open connection', () => {
  it('is sent again with its id after the reconnect, acked as a duplicate, and delivered once', async () => {
    const server = await live.server({ authenticate: tokenAuth() })
    const arrived: string[] = []
    server.parley.use(async (context, next) => {
      if (context.message.type === 'publish' && context.message.id !== undefined) arrived.push(context.message.id)
      await next()
    })
    const proxy = await live.proxy(server.port)
    const alice = live.client(proxy.url('/parley'), { token: 'alice', heartbeat: HEARTBEAT, reconnect: RECONNECT })
    const bob = live.client(server.url, { token: 'bob' })
    const a = alice.join<{ text: string }>('chat')
    const b = bob.join<{ text: string }>('chat')
    const recoveries = collect(a, 'recovery')
    await Promise.all([nextEvent(a, 'joined'), nextEvent(b, 'joined')])
    const atAlice = collect(a, 'message')
    const atBob = collect(b, 'message')

    // Only the server's bytes are swallowed: the publish reaches the server, its ack never comes back.
    proxy.freeze('to-client')
    const acked = a.publish({ text: 'exactly once' }, { id: 'alice-1' })
    await waitUntil(() => atBob.length === 1, 'the server sequenced the publish and fanned it out')
    const original = atBob[0]
    const ack = await acked
    expect(ack).toEqual({ id: 'alice-1', seq: original?.seq, epoch: original?.epoch, duplicate: true })
    expect(arrived).toEqual(['alice-1', 'alice-1'])
    expect(recoveries).toEqual([{ recovered: true, replayed: 1, gap: null }])

    const after = await a.publish({ text: 'after' })
    expect(after).toMatchObject({ seq: 2, duplicate: false })
    await waitUntil(() => atAlice.length === 2 && atBob.length === 2, 'both saw the next message', 5_000, [atAlice, atBob])
    for (const received of [atAlice, atBob]) {
      expect(received.map((m) => [m.seq, m.from, m.data.text])).toEqual([
        [1, 'alice', 'exactly once'],
        [2, 'alice', 'after'],
      ])
    }
  })
})

describe('backoff delays stay inside the configured bounds', () => {
  const policy = { initialDelayMs: 40, maxDelayMs: 200, factor: 2, maxAttempts: 6 }
  const bound = (attempt: number): number => Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1))
  // How much later than its delay a retry may really start: timer lateness and the TCP/HTTP round trip on a loaded
  // machine. Earlier than the delay it may not be (a few ms of clock granularity aside).
  const LATE_MS = 120
  const EARLY_MS = 5

  function checkDelays(reconnects: ReadonlyArray<ReconnectEvent>): void {
    expect(reconnects.map((r) => r.attempt)).toEqual(range(1, policy.maxAttempts))
    for (const r of reconnects) {
      expect(Number.isInteger(r.delayMs)).toBe(true)
      expect(r.delayMs).toBeGreaterThanOrEqual(0)
      // Full jitter: floor(random × bound), so strictly below the bound (docs/client.md, "Reconnect policy").
      expect(r.delayMs).toBeLessThan(bound(r.attempt))
      expect(r.delayMs).toBeLessThanOrEqual(Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** r.attempt))
      expect(r.code).toBe(1006)
    }
    // Jittered, not a fixed schedule.
    expect(new Set(reconnects.map((r) => r.delayMs)).size).toBeGreaterThan(1)
  }

  it('against a server that refuses with 503 (ws reads the status): real gaps between attempts match the delays', async () => {
    const refusing = await startRefusingServer(503, { code: 'TRY_AGAIN_LATER', message: 'overloaded' })
    live.defer(() => refusing.stop())
    const client = live.client(refusing.url, { transport: websocketTransport({ preferWs: true }), reconnect: policy })
    const reconnects: Array<ReconnectEvent & { at: number }> = []
    client.on('reconnect', (r) => void reconnects.push({ ...r, at: performance.now() }))
    const errors = collect(client, 'error')
    await waitUntil(() => client.state === 'closed', 'attempts ran out', 5_000)

    checkDelays(reconnects)
    expect(reconnects.every((r) => r.error?.code === 'CONNECTION_FAILED' && r.error.status === 503)).toBe(true)
    // The first attempt plus one per retry, each seen by the server.
    expect(refusing.upgrades).toHaveLength(policy.maxAttempts + 1)
    const rows = reconnects.map((r, i) => {
      const gap = (refusing.upgrades[i + 1] as number) - r.at
      return { attempt: r.attempt, bound: bound(r.attempt), delayMs: r.delayMs, realMs: Math.round(gap), lateMs: Math.round(gap - r.delayMs) }
    })
    console.log(`[backoff, ws, HTTP 503] ${JSON.stringify(rows)}`)
    for (const row of rows) {
      expect(row.lateMs).toBeGreaterThanOrEqual(-EARLY_MS)
      expect(row.lateMs).toBeLessThanOrEqual(LATE_MS)
    }
    // The third failed attempt of a first connection is reported with its cause (retrying goes on), then the give-up.
    expect(errors).toHaveLength(2)
    expect(errors[0]?.message).toContain('after 3 attempts (retrying)')
    expect(errors[1]).toMatchObject({ code: 'CONNECTION_FAILED', closeCode: 1006 })
  })

  it('against a port where nothing listens (the global WebSocket): real gaps between attempts match the delays', async () => {
    const port = await freePort()
    const client = live.client(`ws://127.0.0.1:${port}/parley`, { reconnect: policy })
    const reconnects: Array<ReconnectEvent & { at: number }> = []
    client.on('reconnect', (r) => void reconnects.push({ ...r, at: performance.now() }))
    const closed = stateAt(client, 'closed')
    const errors = collect(client, 'error')
    const closedAt = await closed

    checkDelays(reconnects)
    expect(reconnects.every((r) => r.error?.code === 'CONNECTION_FAILED' && r.error.status === undefined)).toBe(true)
    // Each retry is refused at once, so the next event (or the final close) follows its delay closely.
    const ends = [...reconnects.slice(1).map((r) => r.at), closedAt]
    const rows = reconnects.map((r, i) => {
      const gap = (ends[i] as number) - r.at
      return { attempt: r.attempt, bound: bound(r.attempt), delayMs: r.delayMs, realMs: Math.round(gap), lateMs: Math.round(gap - r.delayMs) }
    })
    console.log(`[backoff, global WebSocket, refused port] ${JSON.stringify(rows)}`)
    for (const row of rows) {
      expect(row.lateMs).toBeGreaterThanOrEqual(-EARLY_MS)
      expect(row.lateMs).toBeLessThanOrEqual(LATE_MS)
    }
    // The report after the third failed attempt (retrying goes on), then the give-up.
    expect(errors.map((e) => e.code)).toEqual(['CONNECTION_FAILED', 'CONNECTION_FAILED'])
    expect(errors[0]?.message).toContain('after 3 attempts (retrying)')
  })
})

describe('version mismatch', () => {
  // Any retry would come within maxDelayMs; watching twice that long shows none comes.
  const reconnect = { initialDelayMs: 20, maxDelayMs: 50 }

  it('with ws: the 426 is read, UnsupportedProtocolError names both sides, closed after exactly one attempt', async () => {
    const server = await live.server()
    const client = live.client(server.url, { transport: websocketTransport({ preferWs: true }), subprotocols: ['parley.v9.json'], reconnect })
    const states = collect(client, 'state')
    const reconnects = collect(client, 'reconnect')
    const error = await nextEvent(client, 'error')

    expect(error).toBeInstanceOf(UnsupportedProtocolError)
    const mismatch = error as UnsupportedProtocolError
    expect(mismatch).toMatchObject({ code: 'UNSUPPORTED_VERSION', closeCode: 4406, status: 426 })
    expect(mismatch.offered).toEqual(['parley.v9.json'])
    expect(mismatch.supported).toEqual(['parley.v2.json', 'parley.v1.json'])
    expect(mismatch.message).toContain('the client speaks parley.v9.json')
    expect(mismatch.message).toContain('the server speaks parley.v2.json, parley.v1.json')
    expect(client.state).toBe('closed')
    await sleep(2 * reconnect.maxDelayMs)
    expect(states).toEqual(['closed'])
    expect(reconnects).toEqual([])
    expect(server.upgrades).toHaveLength(1)
    expect(server.parley.stats().connections).toBe(0)
  })

  it('with the global WebSocket: the negotiation entry makes the mismatch readable — UnsupportedProtocolError, one attempt', async () => {
    // A WHATWG WebSocket cannot read the 426. The client also offers `parley.negotiate`; a server with no version in
    // common upgrades on it and closes 4406 with "supported: ..." in the reason, which the client turns into a typed
    // error and never retries.
    const server = await live.server()
    const client = live.client(server.url, { subprotocols: ['parley.v9.json'], reconnect })
    const reconnects = collect(client, 'reconnect')
    const error = await nextEvent(client, 'error')

    expect(error).toBeInstanceOf(UnsupportedProtocolError)
    const mismatch = error as UnsupportedProtocolError
    expect(mismatch).toMatchObject({ code: 'UNSUPPORTED_VERSION', closeCode: 4406 })
    expect(mismatch.offered).toEqual(['parley.v9.json'])
    expect(mismatch.supported).toEqual(['parley.v2.json', 'parley.v1.json'])
    await waitUntil(() => client.state === 'closed', 'closed')
    await sleep(2 * reconnect.maxDelayMs)
    expect(reconnects).toEqual([])
    expect(server.upgrades).toHaveLength(1)
  })
})

describe('rejected token', () => {
  const reconnect = { initialDelayMs: 20, maxDelayMs: 50 }

  it('at the handshake (authenticate returns null) with ws: AuthError from the 401, closed after exactly one attempt', async () => {
    const server = await live.server({ authenticate: ({ token }) => (token === 'good' ? { id: 'u' } : null) })
    const client = live.client(server.url, { transport: websocketTransport({ preferWs: true }), token: 'bad', reconnect })
    const states = collect(client, 'state')
    const reconnects = collect(client, 'reconnect')
    const error = await nextEvent(client, 'error')

    expect(error).toBeInstanceOf(AuthError)
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', closeCode: 4401, status: 401, message: 'Authentication failed' })
    expect(client.state).toBe('closed')
    await sleep(2 * reconnect.maxDelayMs)
    expect(states).toEqual(['closed'])
    expect(reconnects).toEqual([])
    expect(server.upgrades).toHaveLength(1)
  })

  it('in band (first-message authentication refused: error, then close 4401) with the global WebSocket: AuthError, no retry', async () => {
    const server = await live.server({ authMode: 'first-message', authenticate: ({ token }) => (token === 'good' ? { id: 'u' } : null) })
    const client = live.client(server.url, { token: 'bad', reconnect })
    const errors = collect(client, 'error')
    const reconnects = collect(client, 'reconnect')
    const states = collect(client, 'state')
    await waitUntil(() => client.state === 'closed', 'the client stopped')

    // The welcome (anonymous) opened the client; the refusal closed it for good.
    expect(states).toEqual(['open', 'closed'])
    expect(errors.length).toBeGreaterThanOrEqual(1)
    expect(errors.every((e) => e instanceof AuthError && e.code === 'UNAUTHORIZED')).toBe(true)
    expect(errors.at(-1)?.closeCode).toBe(4401)
    await sleep(2 * reconnect.maxDelayMs)
    expect(reconnects).toEqual([])
    expect(server.upgrades).toHaveLength(1)
    console.log(`[in-band token refusal] error events: ${JSON.stringify(errors.map((e) => `${e.name}: ${e.message}`))}`)
  })

  it('revoked in band (the server closes an open session with 4401) with the global WebSocket: AuthError with the reason, no retry', async () => {
    const server = await live.server({ authenticate: tokenAuth() })
    server.parley.on('connection', (session) => {
      if (session.user.id === 'mallory') setTimeout(() => session.close(4401, 'token revoked'), 10)
    })
    const client = live.client(server.url, { token: 'mallory', reconnect })
    const reconnects = collect(client, 'reconnect')
    const states = collect(client, 'state')
    const error = await nextEvent(client, 'error')

    expect(error).toBeInstanceOf(AuthError)
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', closeCode: 4401, message: 'token revoked' })
    expect(client.state).toBe('closed')
    await sleep(2 * reconnect.maxDelayMs)
    expect(states).toEqual(['open', 'closed'])
    expect(reconnects).toEqual([])
    expect(server.upgrades).toHaveLength(1)
  })
})

describe.each(KINDS)('publish while the server is down, with $name', (kind) => {
  it('is queued and delivered exactly once after the reconnect, with its original id', async () => {
    const adapter = createMemoryAdapter()
    const options: ServerOptions = { adapter, authenticate: tokenAuth() }
    const nodeA = await live.server(options)
    // A second node on the same bus stays up for the observer, so bob sees every message live, exactly once.
    const nodeB = await live.server(options)
    const alice = live.client(nodeA.url, using(kind, { token: 'alice', reconnect: RECONNECT }))
    const bob = live.client(nodeB.url, using(kind, { token: 'bob' }))
    const a = alice.join<{ n: number }>('queue')
    const b = bob.join<{ n: number }>('queue')
    await Promise.all([nextEvent(a, 'joined'), nextEvent(b, 'joined')])
    const atAlice = collect(a, 'message')
    const atBob = collect(b, 'message')
    expect(await a.publish({ n: 1 })).toMatchObject({ seq: 1, duplicate: false })

    const reconnects = collect(alice, 'reconnect')
    await nodeA.stop()
    await waitUntil(() => alice.state === 'reconnecting', 'alice saw the server go')
    const settled: string[] = []
    const pending = range(2, 4).map((n) => a.publish({ n }, { id: `offline-${n}` }).finally(() => settled.push(`offline-${n}`)))
    // Down for real: at least one retry was refused while the publishes waited in the queue.
    await waitUntil(() => reconnects.some((r) => r.code === 1006), 'a retry was refused while down')
    expect(settled).toEqual([])
    expect(alice.state).toBe('reconnecting')

    const arrived: string[] = []
    await live.server(options, {
      port: nodeA.port,
      beforeListen: async (parley) => {
        parley.use(async (context, next) => {
          if (context.message.type === 'publish' && context.message.id !== undefined) arrived.push(context.message.id)
          await next()
        })
      },
    })
    const acks = await Promise.all(pending)
    expect(acks.map((ack) => [ack.id, ack.seq, ack.duplicate])).toEqual([
      ['offline-2', 2, false],
      ['offline-3', 3, false],
      ['offline-4', 4, false],
    ])
    expect(arrived).toEqual(['offline-2', 'offline-3', 'offline-4'])
    await b.publish({ n: 5 })
    await waitUntil(() => atAlice.length === 5 && atBob.length === 5, 'both saw every message', 5_000, [atAlice.length, atBob.length])
    for (const received of [atAlice, atBob]) expect(received.map((m) => [m.seq, m.data.n])).toEqual(range(1, 5).map((n) => [n, n]))
  })
})

describe('the offline queue while the server is down, with the global WebSocket', () => {
  it('refuses at once with QUEUE_FULL when full; a queued publish that times out is dropped and never sent', async () => {
    const adapter = createMemoryAdapter()
    const options: ServerOptions = { adapter, authenticate: tokenAuth() }
    const server = await live.server(options)
    const alice = live.client(server.url, { token: 'alice', reconnect: RECONNECT, offlineQueueSize: 2 })
    const a = alice.join<{ n: number }>('bounded')
    await nextEvent(a, 'joined')
    await server.stop()
    await waitUntil(() => alice.state === 'reconnecting', 'alice saw the server go')

    const expiring = a.publish({ n: 1 }, { id: 'expiring', timeoutMs: 100 })
    const kept = a.publish({ n: 2 }, { id: 'kept' })
    await expect(a.publish({ n: 3 }, { id: 'overflow' })).rejects.toMatchObject({ code: 'QUEUE_FULL', id: 'overflow' })
    await expect(expiring).rejects.toMatchObject({ code: 'TIMEOUT', id: 'expiring' })

    const arrived: string[] = []
    await live.server(options, {
      port: server.port,
      beforeListen: async (parley) => {
        parley.use(async (context, next) => {
          if (context.message.type === 'publish' && context.message.id !== undefined) arrived.push(context.message.id)
          await next()
        })
      },
    })
    expect(await kept).toEqual({ id: 'kept', seq: 1, epoch: expect.any(String), duplicate: false })
    expect(arrived).toEqual(['kept'])
  })
})
