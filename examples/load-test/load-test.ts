/**
 * The load test as a function: N clients in R rooms publish M messages in all; every member of a room must get
 * each of its messages exactly once. Used by ./run.ts (the CLI) and by test/e2e/load-test.test.ts.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { createClient, type Client, type ClientOptions, type Room } from '@parley/client-sdk'
import { attach, type Parley } from '@parley/server-sdk'
import { chatTokenOptions, requestChatToken } from '../shared/chat-login.js'

export interface LoadTestOptions {
  /** Connected clients. @default 100 */
  readonly clients?: number
  /** Messages published in all, spread round-robin over the clients. @default 1_000 */
  readonly messages?: number
  /** Rooms the clients are spread over. @default one per 10 clients */
  readonly rooms?: number
  /**
   * A running chat example to test (express-chat or koa-chat, loopback only): each client signs in through its
   * `POST /api/login` on the same host and port. Without it a server is started in this process on 127.0.0.1:0.
   */
  readonly url?: string
  /** Client i is the user `<prefix><i>`. @default 'load-' */
  readonly namePrefix?: string
  /** Publishes per second per client: under the server's default rate limit (50/s). @default 40 */
  readonly ratePerClient?: number
  /** Publishes one client has waiting for their ack at once. @default 8 */
  readonly inflightPerClient?: number
  /** The whole run (connect, publish, drain) must finish within this. @default 60_000 */
  readonly timeoutMs?: number
  /** Called about four times a second. */
  readonly onProgress?: (progress: LoadTestProgress) => void
}

export interface LoadTestProgress {
  readonly phase: 'connecting' | 'publishing' | 'draining' | 'done'
  readonly connected: number
  readonly published: number
  readonly acked: number
  readonly delivered: number
  readonly expected: number
  readonly elapsedMs: number
}

export interface LoadTestResult {
  readonly url: string
  readonly clients: number
  readonly rooms: number
  readonly messages: number
  /** Publishes the server acknowledged. */
  readonly acked: number
  /** Publishes that failed (rejected or timed out). */
  readonly failed: number
  /** Deliveries owed: each message times the members of its room (senders get their own too). */
  readonly expected: number
  /** Distinct (receiver, message) pairs received. */
  readonly delivered: number
  /** expected - delivered. Must be 0. */
  readonly lost: number
  /** Deliveries of a message a receiver already had. Must be 0. */
  readonly duplicated: number
  /** Deliveries whose seq was not above the receiver's previous one in that room. Must be 0. */
  readonly outOfOrder: number
  /** The run hit `timeoutMs` before every delivery arrived. */
  readonly timedOut: boolean
  /** From the first publish to the last delivery (or the timeout). */
  readonly durationMs: number
  readonly connectMs: number
  /** Deliveries per second over `durationMs`. */
  readonly deliveriesPerSecond: number
  readonly publishesPerSecond: number
  /** Publish-to-delivery latency over every delivery, in ms. */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number }
}

/** What the load test publishes: `k` identifies the message, `text` makes it a valid message for the chat examples. */
interface LoadMessage {
  readonly text: string
  readonly k: number
  readonly t: number
}

/** Is this a loopback WebSocket URL? The load test never targets anything else. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const parsed = new URL(url)
    return (parsed.protocol === 'ws:' || parsed.protocol === 'wss:') && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)
  } catch {
    return false
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs the load test; resolves with the figures (it does not throw on loss: callers check `lost`). */
export async function runLoadTest(options: LoadTestOptions = {}): Promise<LoadTestResult> {
  const clientCount = options.clients ?? 100
  const messageCount = options.messages ?? 1_000
  const roomCount = Math.min(clientCount, options.rooms ?? Math.max(1, Math.ceil(clientCount / 10)))
  const ratePerClient = options.ratePerClient ?? 40
  const inflightPerClient = options.inflightPerClient ?? 8
  const timeoutMs = options.timeoutMs ?? 60_000
  const namePrefix = options.namePrefix ?? 'load-'
  for (const [name, value] of Object.entries({ clientCount, messageCount, roomCount, ratePerClient, inflightPerClient, timeoutMs })) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`)
  }
  if (options.url !== undefined && !isLoopbackUrl(options.url)) {
    throw new Error(`The load test only targets loopback servers (ws://127.0.0.1:<port>/...), got ${options.url}`)
  }

  const started = performance.now()
  const deadline = started + timeoutMs
  let server: Server | undefined
  let parley: Parley | undefined
  let url = options.url
  if (url === undefined) {
    server = createServer()
    parley = attach(server, { authenticate: ({ token }) => (token ? { id: token } : null) })
    await new Promise<void>((resolve) => (server as Server).listen(0, '127.0.0.1', resolve))
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/parley`
  }
  const names = Array.from({ length: clientCount }, (_, i) => `${namePrefix}${i}`)
  // The in-process server takes the name itself as the token; a chat example signs each client in (a short-lived
  // JWT, refreshed in band when the run outlasts it).
  const tokens: Array<Pick<ClientOptions, 'token' | 'tokenExpiresAt' | 'getToken' | 'refreshBeforeMs'>> =
    options.url === undefined ? names.map((name) => ({ token: name })) : await signInAll(new URL('/api/login', url.replace(/^ws/, 'http')).href, names)

  const clients: Client[] = []
  const rooms: Array<Room<LoadMessage>> = []
  const roomOf = (i: number): number => i % roomCount
  const membersOfRoom = new Array<number>(roomCount).fill(0)
  for (let i = 0; i < clientCount; i++) membersOfRoom[roomOf(i)] = (membersOfRoom[roomOf(i)] ?? 0) + 1
  /** Per receiver: messages (by k) received. */
  const received: Array<Set<number>> = []
  const lastSeq: number[] = []
  const latencies: number[] = []
  const sentAt = new Float64Array(messageCount)
  let connected = 0
  let published = 0
  let acked = 0
  let failed = 0
  let delivered = 0
  let duplicated = 0
  let outOfOrder = 0
  let expected = 0
  for (let k = 0; k < messageCount; k++) expected += membersOfRoom[roomOf(k % clientCount)] as number
  let lastDeliveryAt = started
  let phase: LoadTestProgress['phase'] = 'connecting'

  const progress = (): LoadTestProgress => ({ phase, connected, published, acked, delivered, expected, elapsedMs: performance.now() - started })
  const ticker = options.onProgress === undefined ? undefined : setInterval(() => options.onProgress?.(progress()), 250)

  let timedOut = false
  let connectMs = 0
  let publishStart = performance.now()
  try {
    // Connect and join.
    const joins: Array<Promise<void>> = []
    for (let i = 0; i < clientCount; i++) {
      const client = createClient(url, { ...tokens[i], reconnect: { maxDelayMs: 1_000 } })
      const room = client.join<LoadMessage>(`load-${roomOf(i)}`)
      const seen = new Set<number>()
      received.push(seen)
      lastSeq.push(0)
      room.on('message', ({ data, seq }) => {
        const now = performance.now()
        if (seq <= (lastSeq[i] as number)) outOfOrder++
        lastSeq[i] = seq
        if (seen.has(data.k)) {
          duplicated++
          return
        }
        seen.add(data.k)
        delivered++
        lastDeliveryAt = now
        latencies.push(now - (sentAt[data.k] as number))
      })
      joins.push(
        new Promise<void>((resolve) => {
          const off = room.on('joined', () => {
            off()
            connected++
            resolve()
          })
        }),
      )
      clients.push(client)
      rooms.push(room)
    }
    const allJoined = await Promise.race([Promise.all(joins).then(() => true), sleep(Math.max(0, deadline - performance.now())).then(() => false)])
    connectMs = performance.now() - started
    if (!allJoined) {
      timedOut = true
      return finish()
    }

    // Publish: client i sends messages i, i + N, i + 2N, ... paced to `ratePerClient`, `inflightPerClient` at a time.
    phase = 'publishing'
    publishStart = performance.now()
    const intervalMs = 1_000 / ratePerClient
    await Promise.all(
      rooms.map(async (room, i) => {
        const inflight = new Set<Promise<void>>()
        let next = performance.now()
        for (let k = i; k < messageCount; k += clientCount) {
          if (performance.now() > deadline) return
          while (inflight.size >= inflightPerClient) await Promise.race(inflight)
          const wait = next - performance.now()
          if (wait > 0) await sleep(wait)
          next = Math.max(next + intervalMs, performance.now())
          sentAt[k] = performance.now()
          published++
          const pending: Promise<void> = room.publish({ text: `load ${k}`, k, t: sentAt[k] as number }).then(
            () => void acked++,
            () => void failed++,
          )
          const tracked = pending.finally(() => inflight.delete(tracked))
          inflight.add(tracked)
        }
        await Promise.all(inflight)
      }),
    )

    // Drain: wait for the deliveries still on their way.
    phase = 'draining'
    while (delivered < expected && performance.now() < deadline) await sleep(10)
    timedOut = delivered < expected
    return finish()
  } finally {
    phase = 'done'
    if (ticker !== undefined) clearInterval(ticker)
    options.onProgress?.(progress())
    await Promise.all(clients.map((client) => client.close()))
    if (parley !== undefined) await parley.close()
    if (server !== undefined) await new Promise<void>((resolve) => (server as Server).close(() => resolve()))
  }

  function finish(): LoadTestResult {
    const end = timedOut ? performance.now() : lastDeliveryAt
    const durationMs = Math.max(1, end - publishStart)
    latencies.sort((a, b) => a - b)
    const mean = latencies.length === 0 ? 0 : latencies.reduce((sum, value) => sum + value, 0) / latencies.length
    return {
      url: url as string,
      clients: clientCount,
      rooms: roomCount,
      messages: messageCount,
      acked,
      failed,
      expected,
      delivered,
      lost: expected - delivered,
      duplicated,
      outOfOrder,
      timedOut,
      durationMs,
      connectMs,
      deliveriesPerSecond: (delivered / durationMs) * 1_000,
      publishesPerSecond: (acked / durationMs) * 1_000,
      latencyMs: {
        p50: percentile(latencies, 50),
        p90: percentile(latencies, 90),
        p99: percentile(latencies, 99),
        max: latencies.at(-1) ?? 0,
        mean,
      },
    }
  }
}

/** Signs every client in through a chat example's `POST /api/login`, or says why `--url` cannot be tested. */
async function signInAll(loginUrl: string, names: readonly string[]) {
  try {
    return await Promise.all(names.map(async (name) => chatTokenOptions(await requestChatToken(loginUrl, name), () => requestChatToken(loginUrl, name))))
  } catch (error) {
    throw new Error(`Cannot sign in at ${loginUrl} (${(error as Error).message}): --url takes a chat example (express-chat, koa-chat)`)
  }
}
