/**
 * The load-generator process of one trial: `loadgen-child.ts <target> <port>`. Opens the target's clients on
 * 127.0.0.1, runs the job the runner sends (`run`), and answers with what it measured. It reaches the server child
 * only through the runner (`server` requests), to take the server's samples at the edges of each measured window
 * and to have it publish or drop connections. Every message is checked: count per client, order per publisher.
 */
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { channel } from './ipc.js'
import type { IdleJob, IdleResult, Job, JobResult, LatencySummary, Mark, RecoveryJob, RecoveryResult, TrafficJob, TrafficResult, Validity, Window } from './jobs.js'
import { processDelta, sampleProcess, type ProcessSample } from './process-sample.js'
import { loadTarget } from '../targets/index.js'
import { TEXT, textOf, type BenchClient, type Payload } from '../targets/target.js'

const [targetName = '', portText = '0'] = process.argv.slice(2)
const port = Number(portText)
const ipc = channel(process)
process.on('disconnect', () => process.exit(1))
const target = await loadTarget(targetName)

const server = <T>(body: unknown): Promise<T> => ipc.request<T>({ type: 'server', body })
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function mark(): Promise<Mark> {
  const loadgen = sampleProcess()
  const serverSample = await server<ProcessSample>({ type: 'sample' })
  return { server: serverSample, loadgen }
}

function windowOf(from: Mark, to: Mark): Window {
  return { server: processDelta(from.server, to.server), loadgen: processDelta(from.loadgen, to.loadgen) }
}

/** Resolves when `done()` is true, checked after every call of the returned `poke`, or rejects after `timeoutMs`. */
function waitFor(done: () => boolean, timeoutMs: number, what: string): { promise: Promise<void>; poke: () => void } {
  let poke: () => void = () => undefined
  const promise = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
    poke = () => {
      if (done()) {
        clearTimeout(timer)
        poke = () => undefined
        resolve()
      }
    }
    poke()
  })
  return { promise, poke: () => poke() }
}

async function openAll<T>(count: number, concurrency: number, open: (index: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++
      out[index] = await open(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return out
}

/** Nearest-rank percentiles of the first `count` samples. */
function summarize(samples: Float64Array, count: number): LatencySummary {
  const sorted = samples.slice(0, count).sort()
  const at = (q: number): number => sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))] ?? Number.NaN
  let sum = 0
  for (let i = 0; i < count; i++) sum += sorted[i] ?? 0
  return { count, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: count > 0 ? (sorted[count - 1] ?? 0) : Number.NaN, mean: count > 0 ? sum / count : Number.NaN }
}

async function traffic(job: TrafficJob): Promise<TrafficResult> {
  const perRoom = job.subscribersPerRoom + job.publishersPerRoom
  const clientCount = job.rooms * perRoom
  const pubsPerRoom = job.publishersPerRoom
  const publishers = job.rooms * pubsPerRoom
  const recipients = perRoom - 1
  let ring = 64
  while (ring < job.full.window * 2) ring *= 2
  const sent = new Int32Array(publishers)
  const completed = new Int32Array(publishers)
  const counts = new Int32Array(publishers * ring)
  const received = new Float64Array(clientCount)
  const last = new Int32Array(clientCount * pubsPerRoom).fill(-1)
  let outOfOrder = 0
  let total = 0
  let outstanding = 0
  let pumping = false
  let latencyFrom = Number.POSITIVE_INFINITY
  const latencyCapacity = Math.ceil(publishers * job.fixed.ratePerPublisher * (job.fixed.durationMs / 1_000) * recipients * 1.2) + 1_000
  const latencies = new Float64Array(latencyCapacity)
  let latencyCount = 0
  let drained: (() => void) | undefined
  const problems: string[] = []

  const clientOf = (publisher: number): number => Math.floor(publisher / pubsPerRoom) * perRoom + (publisher % pubsPerRoom)
  let clients: BenchClient[] = []
  // Random bytes as base64 (the same for every message, made once): what a client sends without protocol v2's bytes.
  const text = job.bytesPayload !== undefined ? randomBytes(job.bytesPayload).toString('base64') : job.textBytes === undefined ? TEXT : textOf(job.textBytes)
  const acks = job.acks === true
  let acked = 0
  let ackWait: { promise: Promise<void>; poke: () => void } | undefined
  const onAck = (): void => {
    acked++
    ackWait?.poke()
  }
  const send = (publisher: number): void => {
    const n = sent[publisher]!
    sent[publisher] = n + 1
    outstanding++
    clients[clientOf(publisher)]!.publish({ p: publisher, n, t: performance.now(), text }, acks)
  }
  const pump = (publisher: number): void => {
    while (sent[publisher]! - completed[publisher]! < job.full.window) send(publisher)
  }
  const onReceive = (client: number, data: Payload): void => {
    const { p, n } = data
    const slot = client * pubsPerRoom + (p % pubsPerRoom)
    if (n !== last[slot]! + 1) outOfOrder++
    last[slot] = n
    received[client]!++
    total++
    if (data.t >= latencyFrom && latencyCount < latencyCapacity) latencies[latencyCount++] = performance.now() - data.t
    const index = p * ring + (n & (ring - 1))
    if (++counts[index]! === recipients) {
      // Each client gets a publisher's messages in order, so they complete in order too.
      counts[index] = 0
      completed[p]!++
      outstanding--
      if (pumping) pump(p)
      else if (outstanding === 0) drained?.()
    }
  }
  const drain = async (what: string): Promise<void> => {
    if (outstanding === 0) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        drained = undefined
        reject(new Error(`${outstanding} messages still undelivered ${job.drainTimeoutMs} ms after ${what}`))
      }, job.drainTimeoutMs)
      drained = () => {
        clearTimeout(timer)
        drained = undefined
        resolve()
      }
    })
  }
  const runFull = async (durationMs: number): Promise<void> => {
    pumping = true
    for (let p = 0; p < publishers; p++) pump(p)
    await sleep(durationMs)
    pumping = false
  }

  const setupStart = performance.now()
  clients = await openAll(clientCount, job.connectConcurrency, (client) =>
    target.connect({ port, user: `u${client}`, room: `room-${Math.floor(client / perRoom)}`, onMessage: (data) => onReceive(client, data), onAck }),
  )
  const setupMs = performance.now() - setupStart

  let full: TrafficResult['full'] | undefined
  let fixed: TrafficResult['fixed'] | undefined
  let burst: TrafficResult['burst']
  try {
    await runFull(job.warmupMs)
    await drain('the warm-up')

    const sentBefore = (): number => sent.reduce((a, b) => a + b, 0)
    await server({ type: 'profile-start' })
    const fullStart = await mark()
    const fullDeliveriesStart = total
    const fullSentStart = sentBefore()
    await runFull(job.full.durationMs)
    const fullEnd = await mark()
    await server({ type: 'profile-stop', window: 'full' })
    const fullDeliveries = total - fullDeliveriesStart
    full = {
      ...windowOf(fullStart, fullEnd),
      messages: sentBefore() - fullSentStart,
      deliveries: fullDeliveries,
      deliveriesPerSec: fullDeliveries / ((fullEnd.loadgen.at - fullStart.loadgen.at) / 1_000),
    }
    await drain('the full-rate phase')

    const paced = async (window: string, burst: number): Promise<TrafficResult['fixed']> => {
      const totalRate = publishers * job.fixed.ratePerPublisher
      const toSend = Math.round((totalRate * job.fixed.durationMs) / 1_000)
      latencyCount = 0
      await server({ type: 'profile-start' })
      const startMark = await mark()
      const deliveriesStart = total
      const start = performance.now()
      latencyFrom = start
      let issued = 0
      await new Promise<void>((resolve) => {
        // Round-robin over publishers, paced by the clock: each one sends ratePerPublisher a second, `burst`
        // messages back to back at a time.
        const tick = (): void => {
          const due = Math.min(toSend, Math.floor(((performance.now() - start) * totalRate) / 1_000 / burst) * burst)
          while (issued < due) send(issued++ % publishers)
          if (issued >= toSend) {
            clearInterval(timer)
            resolve()
          }
        }
        const timer = setInterval(tick, 1)
      })
      const endMark = await mark()
      await server({ type: 'profile-stop', window })
      const deliveries = total - deliveriesStart
      await drain(`the ${window} phase`)
      latencyFrom = Number.POSITIVE_INFINITY
      return {
        ...windowOf(startMark, endMark),
        messages: toSend,
        deliveries,
        deliveriesPerSec: deliveries / ((endMark.loadgen.at - startMark.loadgen.at) / 1_000),
        latencyMs: summarize(latencies, latencyCount),
      }
    }
    fixed = await paced('fixed', 1)
    if (job.fixed.burst !== undefined && job.fixed.burst > 1) burst = await paced('burst', job.fixed.burst)
    if (acks) {
      // Every publish asked for an acknowledgement: each must have come back, once.
      const sentTotal = sent.reduce((a, b) => a + b, 0)
      ackWait = waitFor(() => acked >= sentTotal, job.drainTimeoutMs, `${sentTotal} acknowledgements (${acked} so far)`)
      await ackWait.promise
      if (acked !== sentTotal) problems.push(`${acked} acknowledgements for ${sentTotal} publishes`)
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error))
  }

  // Every client should have every message of every other publisher in its room, once, in order.
  let expected = 0
  let clientsShort = 0
  for (let room = 0; room < job.rooms; room++) {
    let roomSent = 0
    for (let slot = 0; slot < pubsPerRoom; slot++) roomSent += sent[room * pubsPerRoom + slot]!
    for (let member = 0; member < perRoom; member++) {
      const client = room * perRoom + member
      const own = member < pubsPerRoom ? sent[room * pubsPerRoom + member]! : 0
      expected += roomSent - own
      let short = received[client] !== roomSent - own
      for (let slot = 0; slot < pubsPerRoom; slot++) {
        if (slot !== member && last[client * pubsPerRoom + slot] !== sent[room * pubsPerRoom + slot]! - 1) short = true
      }
      if (short) clientsShort++
    }
  }
  if (clientsShort > 0) problems.push(`${clientsShort} clients did not get every message`)
  if (outOfOrder > 0) problems.push(`${outOfOrder} messages out of order or duplicated`)
  for (const client of clients) client.close()
  const validity: Validity = { valid: problems.length === 0, expected, received: total, clientsShort, outOfOrder, problems }
  const empty: Window = { server: processDelta(sampleProcess(), sampleProcess()), loadgen: processDelta(sampleProcess(), sampleProcess()) }
  return {
    kind: 'traffic',
    clients: clientCount,
    setupMs,
    full: full ?? { ...empty, messages: 0, deliveries: 0, deliveriesPerSec: 0 },
    fixed: fixed ?? { ...empty, messages: 0, deliveries: 0, deliveriesPerSec: 0, latencyMs: summarize(latencies, 0) },
    burst,
    validity,
  }
}

/** This process's memory after two full GCs (the children run with --expose-gc). */
function collected(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  return process.memoryUsage()
}

async function idle(job: IdleJob): Promise<IdleResult> {
  const got = new Int32Array(job.clients)
  let total = 0
  let presenceFrames = 0
  // Made when the liveness message goes out, not before set-up: 10 000 joins can take longer than its timeout.
  let all: { promise: Promise<void>; poke: () => void } | undefined
  const before = await server<ProcessSample>({ type: 'gc' })
  const clientBefore = collected()
  await server({ type: 'profile-start' })
  const setupStart = await mark()
  const rooms = Math.ceil(job.clients / job.roomSize)
  const clients = await openAll(job.clients, job.connectConcurrency, (client) =>
    target.connect({
      port,
      user: `u${client}`,
      room: `room-${Math.floor(client / job.roomSize)}`,
      onMessage: () => {
        got[client]!++
        total++
        all?.poke()
      },
      onPresenceFrame: () => presenceFrames++,
    }),
  )
  const setupEnd = await mark()
  await server({ type: 'profile-stop', window: 'setup' })
  await sleep(job.settleMs)
  const idleEnd = await mark()
  const after = await server<ProcessSample>({ type: 'gc' })
  const clientAfter = collected()
  let settled: IdleResult['settled']
  if (job.settledMs !== undefined) {
    await sleep(Math.max(0, job.settledMs - (performance.now() - setupEnd.loadgen.at + performance.timeOrigin)))
    const sample = await server<ProcessSample>({ type: 'gc' })
    settled = { sample, rssPerConnection: (sample.rss - before.rss) / job.clients, heapPerConnection: (sample.heapUsed - before.heapUsed) / job.clients }
  }
  const problems: string[] = []
  // Proof that every connection is alive and in its room: one server-side message per room reaches every client.
  all = waitFor(() => total >= job.clients, 30_000, 'one message per idle client')
  await server({ type: 'publish', rooms: Array.from({ length: rooms }, (_, room) => `room-${room}`), data: [{ p: 0, n: 0, t: 0, text: TEXT }] })
  await all.promise.catch((error: unknown) => problems.push(String(error)))
  await sleep(50)
  let clientsShort = 0
  for (let client = 0; client < job.clients; client++) if (got[client] !== 1) clientsShort++
  if (clientsShort > 0) problems.push(`${clientsShort} clients did not get exactly one message`)
  let cpuPerMessageUs = Number.NaN
  const extra = job.clientMessages ?? 0
  if (extra > 0 && problems.length === 0) {
    // What the clients cost per message: the same messages to every room for every target, counted on arrival.
    const expected = job.clients * (1 + extra)
    const more = waitFor(() => total >= expected, 60_000, `${extra} more messages per client`)
    const poke = more.poke
    const count = setInterval(poke, 20)
    const start = await mark()
    const data = Array.from({ length: extra }, (_, i) => ({ p: 0, n: i + 1, t: 0, text: TEXT }))
    await server({ type: 'publish', rooms: Array.from({ length: rooms }, (_, room) => `room-${room}`), data })
    await more.promise.catch((error: unknown) => problems.push(String(error)))
    clearInterval(count)
    const end = await mark()
    cpuPerMessageUs = (processDelta(start.loadgen, end.loadgen).cpuMs * 1_000) / (job.clients * extra)
    let short = 0
    for (let client = 0; client < job.clients; client++) if (got[client] !== 1 + extra) short++
    if (short > 0) problems.push(`${short} clients did not get all ${1 + extra} messages`)
  }
  for (const client of clients) client.close()
  const setupMs = setupEnd.loadgen.at - setupStart.loadgen.at
  return {
    kind: 'idle',
    clients: job.clients,
    setupMs,
    connectionsPerSec: job.clients / (setupMs / 1_000),
    setup: windowOf(setupStart, setupEnd),
    before,
    after,
    rssPerConnection: (after.rss - before.rss) / job.clients,
    heapPerConnection: (after.heapUsed - before.heapUsed) / job.clients,
    settled,
    idle: windowOf(setupEnd, idleEnd),
    client: {
      heapPerConnection: (clientAfter.heapUsed - clientBefore.heapUsed) / job.clients,
      rssPerConnection: (clientAfter.rss - clientBefore.rss) / job.clients,
      cpuPerMessageUs,
    },
    presenceFrames,
    validity: { valid: problems.length === 0, expected: job.clients * (1 + (job.clientMessages ?? 0)), received: total, clientsShort, outOfOrder: 0, problems },
  }
}

async function recovery(job: RecoveryJob): Promise<RecoveryResult> {
  const room = 'recovery'
  const warm = 5
  const expected = warm + job.missed + 1
  const got = new Int32Array(job.clients)
  const last = new Int32Array(job.clients).fill(-1)
  const liveAt = new Float64Array(job.clients)
  let outOfOrder = 0
  let recoveringFrom = Number.POSITIVE_INFINITY
  let waiting = waitFor(() => false, 1, 'nothing')
  waiting.promise.catch(() => undefined)
  const clients = await openAll(job.clients, 50, (client) =>
    target.connect({
      port,
      user: `u${client}`,
      room,
      onMessage: (data) => {
        if (data.n !== last[client]! + 1) outOfOrder++
        last[client] = data.n
        got[client]!++
        if (got[client] === warm + job.missed && liveAt[client] === 0) liveAt[client] = performance.now() - recoveringFrom
        waiting.poke()
      },
    }),
  )
  const publish = (from: number, count: number): Promise<unknown> =>
    server({ type: 'publish', rooms: [room], data: Array.from({ length: count }, (_, i) => ({ p: 0, n: from + i, t: 0, text: TEXT })) })
  const everyone = (count: number): (() => boolean) => () => got.every((n) => n >= count)
  const problems: string[] = []
  let window: Window | undefined
  let allJoinedMs = Number.NaN
  try {
    waiting = waitFor(everyone(warm), job.timeoutMs, 'the live messages before the drop')
    await publish(0, warm)
    await waiting.promise
    const dropped = await server<number>({ type: 'drop' })
    if (dropped < job.clients) throw new Error(`the server dropped ${dropped} of ${job.clients} connections`)
    await Promise.all(clients.map((client) => client.dropped))
    await publish(warm, job.missed)
    waiting = waitFor(everyone(warm + job.missed), job.timeoutMs, 'the missed messages')
    await server({ type: 'profile-start' })
    const start = await mark()
    recoveringFrom = performance.now()
    const joins = Promise.all(clients.map((client) => client.reconnect().then(() => performance.now() - recoveringFrom)))
    const joined = await joins
    allJoinedMs = Math.max(...joined)
    await waiting.promise
    const end = await mark()
    window = windowOf(start, end)
    await server({ type: 'profile-stop', window: 'recovery' })
    waiting = waitFor(everyone(expected), job.timeoutMs, 'a live message after recovery')
    await publish(warm + job.missed, 1)
    await waiting.promise
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error))
  }
  let clientsShort = 0
  for (let client = 0; client < job.clients; client++) if (got[client] !== expected || last[client] !== expected - 1) clientsShort++
  if (clientsShort > 0) problems.push(`${clientsShort} clients did not get all ${expected} messages exactly once`)
  if (outOfOrder > 0) problems.push(`${outOfOrder} messages out of order or duplicated`)
  for (const client of clients) client.close()
  const times = [...liveAt].sort((a, b) => a - b)
  const empty: Window = { server: processDelta(sampleProcess(), sampleProcess()), loadgen: processDelta(sampleProcess(), sampleProcess()) }
  return {
    kind: 'recovery',
    clients: job.clients,
    missed: job.missed,
    allLiveMs: times[times.length - 1] ?? Number.NaN,
    medianLiveMs: times[Math.floor((times.length - 1) / 2)] ?? Number.NaN,
    allJoinedMs,
    window: window ?? empty,
    validity: {
      valid: problems.length === 0,
      expected: expected * job.clients,
      received: got.reduce((a, b) => a + b, 0),
      clientsShort,
      outOfOrder,
      problems,
    },
  }
}

function run(job: Job): Promise<JobResult> {
  switch (job.kind) {
    case 'traffic':
      return traffic(job)
    case 'idle':
      return idle(job)
    case 'recovery':
      return recovery(job)
  }
}

ipc.handle(async (body) => {
  const request = body as { type: 'run'; job: Job } | { type: 'stop' }
  if (request.type === 'run') return run(request.job)
  setImmediate(() => process.exit(0))
  return null
})
ipc.emit({ type: 'ready', pid: process.pid })
