import type { IncomingMessage, ServerResponse } from 'node:http'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Parley } from './parley.js'
import { BucketHistogram } from './bucket-histogram.js'
import { optionError } from './server-error.js'
import type { ParleyStats } from './stats.js'

/** Options of {@link parleyMetrics}. */
export interface MetricsOptions {
  /** The registry to register on, so Parley's metrics sit beside the app's own. @default a new `Registry` */
  readonly registry?: Registry
  /** Prefix of every metric name. @default 'parley_' */
  readonly prefix?: string
  /**
   * `node`: this node's figures (scrape every node; sum in PromQL). `cluster`: counters and gauges are the cluster's
   * sum through `clusterStats()` (one scrape target for the cluster; other nodes' figures are as recent as their
   * adapter's last report). The latency histograms are always this node's.
   * @default 'node'
   */
  readonly scope?: 'node' | 'cluster'
  /** Buckets (seconds) of the publish-to-ack histogram. @default 0.0005 … 2.5 */
  readonly ackBuckets?: readonly number[]
  /** Buckets (seconds) of the adapter round-trip histogram. @default 0.0001 … 1 */
  readonly adapterBuckets?: readonly number[]
}

/** What {@link parleyMetrics} gives back. */
export interface ParleyMetrics {
  readonly registry: Registry
  /** Answers a scrape (`GET /metrics`) with the registry's text exposition: a plain Node handler, Express-compatible. */
  handler(request: IncomingMessage, response: ServerResponse): void
  /** Removes Parley's metrics from the registry and stops observing timings. */
  stop(): void
}

const ACK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
const ADAPTER_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/** A numeric field of the stats, read as a counter or a gauge. */
type Figure = 'connectionsOpened' | 'rooms' | 'members' | 'messagesIn' | 'messagesOut' | 'bytesIn' | 'bytesOut' | 'deliveries' | 'dropped' | 'slowConsumers' | 'outboundBuffered' | 'outboundHighWater'

/** The plain figures: metric name (without prefix), kind, help, and the stats field. */
const FIGURES: ReadonlyArray<readonly [name: string, kind: 'counter' | 'gauge', help: string, field: Figure]> = [
  ['connections_opened_total', 'counter', 'Sessions opened.', 'connectionsOpened'],
  ['rooms', 'gauge', 'Rooms with at least one member.', 'rooms'],
  ['members', 'gauge', 'Room memberships (sessions × rooms).', 'members'],
  ['messages_received_total', 'counter', 'Frames received from clients, valid or not.', 'messagesIn'],
  ['messages_sent_total', 'counter', 'Frames sent to clients.', 'messagesOut'],
  ['received_bytes_total', 'counter', 'Size of the frames received.', 'bytesIn'],
  ['sent_bytes_total', 'counter', 'UTF-8 bytes of the frames sent.', 'bytesOut'],
  ['deliveries_total', 'counter', 'Room messages delivered to members, live or replayed.', 'deliveries'],
  ['dropped_total', 'counter', 'Messages not passed on: rate-limited, signals dropped under backpressure, frames to cut-off slow consumers.', 'dropped'],
  ['slow_consumers_total', 'counter', 'Sessions cut off as slow consumers (close 4509).', 'slowConsumers'],
  ['outbound_buffered_bytes', 'gauge', 'Bytes queued for sessions and not yet written.', 'outboundBuffered'],
  ['outbound_high_water_bytes', 'gauge', 'The most bytes one session has had queued since start.', 'outboundHighWater'],
]

/**
 * Parley's metrics through `prom-client` (a peer dependency: install it beside Parley), registered on the registry
 * given: counters and gauges read from `parley.stats()` (or `clusterStats()`) when scraped, so counting costs the hot
 * path nothing it did not already do, and two histograms fed while registered (publish-to-ack, adapter calls).
 * Metric names, labels and meanings: docs/operations.md.
 */
export function parleyMetrics(parley: Parley, options: MetricsOptions = {}): ParleyMetrics {
  const registry = options.registry ?? new Registry()
  const prefix = options.prefix ?? 'parley_'
  const scope = options.scope ?? 'node'
  if (!PREFIX.test(prefix)) throw optionError(`parleyMetrics: option "prefix" must match ${PREFIX.source}, got ${JSON.stringify(prefix)}`)
  if (scope !== 'node' && scope !== 'cluster') throw optionError(`parleyMetrics: option "scope" must be 'node' or 'cluster', got ${JSON.stringify(scope)}`)
  for (const name of ['ackBuckets', 'adapterBuckets'] as const) {
    const buckets = options[name]
    if (buckets !== undefined && (!Array.isArray(buckets) || buckets.length === 0 || !buckets.every((b, i) => Number.isFinite(b) && b > 0 && (i === 0 || b > (buckets[i - 1] as number))))) {
      throw optionError(`parleyMetrics: option "${name}" must be increasing positive numbers (seconds)`)
    }
  }

  // One read of the stats per scrape, shared by every metric's collect (they run in one `registry.metrics()`).
  let pending: Promise<ParleyStats> | undefined
  const read = (): Promise<ParleyStats> => {
    pending ??= (
      scope === 'cluster'
        ? parley.clusterStats().then((cluster) => {
            // Summed without a node, every counter would drop and read as a reset: no answer is better (a 500).
            if (cluster.partial) throw new Error('some nodes of the cluster did not answer; scrape each node, or try again')
            return cluster.total
          })
        : Promise.resolve(parley.stats())
    ).finally(() => {
      queueMicrotask(() => (pending = undefined))
    })
    return pending
  }

  /** Names registered, for `stop()`. */
  const names: string[] = []
  const register = <M>(name: string, make: (name: string) => M): M => {
    names.push(prefix + name)
    return make(prefix + name)
  }
  /** A counter or gauge whose values are read from the stats at each scrape (`set` once per label set). */
  const figure =
    (kind: 'counter' | 'gauge') =>
    (name: string, help: string, labelNames: readonly string[], fill: (stats: ParleyStats, set: (value: number, labels?: Record<string, string>) => void) => void): void => {
      register(name, (fullName) => {
        const settings = { name: fullName, help, labelNames, registers: [registry] }
        if (kind === 'counter') {
          return new Counter({
            ...settings,
            async collect() {
              const stats = await read()
              this.reset()
              fill(stats, (value, labels) => (labels === undefined ? this.inc(value) : this.inc(labels, value)))
            },
          })
        }
        return new Gauge({
          ...settings,
          async collect() {
            const stats = await read()
            this.reset()
            fill(stats, (value, labels) => (labels === undefined ? this.set(value) : this.set(labels, value)))
          },
        })
      })
    }
  const counter = figure('counter')
  const gauge = figure('gauge')

  gauge('connections', 'Open sessions, by transport and negotiated subprotocol.', ['transport', 'protocol'], (stats, set) => {
    for (const { transport, protocol, connections } of stats.connectionsBy) set(connections, { transport, protocol })
  })
  for (const [name, kind, help, field] of FIGURES) (kind === 'counter' ? counter : gauge)(name, help, [], (stats, set) => set(stats[field]))
  counter('handshakes_refused_total', 'Handshakes refused, by the code of the refusal.', ['code'], (stats, set) => {
    for (const [code, count] of Object.entries(stats.refused)) set(count, { code })
  })
  counter('errors_total', 'Errors sent to clients, and refusals without an answer, by error code.', ['code'], (stats, set) => {
    for (const [code, count] of Object.entries(stats.errors)) set(count ?? 0, { code })
  })
  counter('closes_total', 'Sessions ended, by close code.', ['code'], (stats, set) => {
    for (const [code, count] of Object.entries(stats.closes)) set(count, { code })
  })
  counter('recoveries_total', 'Resumes, by outcome: recovered (all replayed), gap (some lost), reset (another epoch).', ['outcome'], (stats, set) => {
    for (const [outcome, count] of Object.entries(stats.recovery)) set(count, { outcome })
  })
  gauge('history_queued', 'Messages waiting for the history store.', [], (stats, set) => set(stats.history.queued))
  counter('history_written_total', 'Messages written to the history store.', [], (stats, set) => set(stats.history.written))
  counter('history_dropped_total', 'Messages not stored because the history queue was full.', [], (stats, set) => set(stats.history.dropped))
  counter('history_failed_writes_total', 'History store writes that failed (and were retried).', [], (stats, set) => set(stats.history.failedWrites))
  counter('compressed_frames_total', 'Frames compressed with permessage-deflate (once per broadcast, however many members).', [], (stats, set) => set(stats.compression.frames))
  counter('compression_in_bytes_total', 'Payload bytes of the compressed frames, before compression.', [], (stats, set) => set(stats.compression.bytesBefore))
  counter('compression_out_bytes_total', 'Payload bytes of the compressed frames, after compression.', [], (stats, set) => set(stats.compression.bytesAfter))

  const ack = register('publish_ack_seconds', (name) => new BucketHistogram(name, 'From a publish frame arriving to its ack being sent (publishes with an id).', options.ackBuckets ?? ACK_BUCKETS))
  const adapter = register('adapter_seconds', (name) => new BucketHistogram(name, "Adapter calls: publish (sequence, store, fan out) and resume (a join's position).", options.adapterBuckets ?? ADAPTER_BUCKETS))
  // A metric object the registry reads through get() (see BucketHistogram); prom-client's types name only its classes.
  for (const histogram of [ack, adapter]) registry.registerMetric(histogram as unknown as Histogram)
  let stopped = false
  let unobserve: (() => void) | undefined
  parley.ready.then(
    () => {
      if (stopped) return
      // Series made once, so an observation allocates nothing.
      const acked = ack.series()
      const byOperation = { publish: adapter.series({ operation: 'publish' }), resume: adapter.series({ operation: 'resume' }) }
      unobserve = parley.observeTimings({
        publishAck: (ms) => acked(ms / 1_000),
        adapter: (operation, ms) => byOperation[operation](ms / 1_000),
      })
    },
    () => undefined,
  )

  return {
    registry,
    handler(_request, response) {
      registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' })
          response.end(text)
        },
        (error: unknown) => {
          response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
          response.end(`metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`)
        },
      )
    },
    stop() {
      stopped = true
      unobserve?.()
      for (const name of names) registry.removeSingleMetric(name)
    },
  }
}
