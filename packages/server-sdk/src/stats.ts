import type { ErrorCode, Recovery } from '@parley/protocol'
import type { HistoryWriterStats } from './history-writer.js'

/** How a resume ended: every missed message replayed, some lost (the window or the store fell short), or a new epoch. */
export type RecoveryOutcome = 'recovered' | 'gap' | 'reset'

/** The outcome a `joined`'s recovery reports (see {@link RecoveryOutcome}). */
export function recoveryOutcome(recovery: Recovery): RecoveryOutcome {
  return recovery.recovered ? 'recovered' : recovery.gap?.reason === 'epoch-changed' ? 'reset' : 'gap'
}

/** One entry of the recent errors a node keeps for the inspector. */
export interface RecentError {
  readonly ts: number
  readonly code: string
  readonly message: string
  readonly session?: string | undefined
  readonly user?: string | undefined
  readonly room?: string | undefined
}

/** How many recent errors a node keeps (a ring: the oldest go first). */
export const RECENT_ERRORS = 50

/**
 * Timings a metrics exporter asks for (`parley.observeTimings()`): measured only while one is registered, so a node
 * without one never reads the clock for them.
 */
export interface TimingObserver {
  /** Milliseconds from a publish's frame arriving to its `ack` being sent (publishes with an id). */
  publishAck?(ms: number): void
  /** Milliseconds one adapter call took: `publish` (sequence, store, fan out) or `resume` (a join's position). */
  adapter?(operation: 'publish' | 'resume', ms: number): void
}

/** What `parley.stats()` returns. Counters run from `attach()`; gauges are current values. */
export interface ParleyStats {
  /** Open sessions on this node. */
  readonly connections: number
  /** Rooms with at least one session on this node. */
  readonly rooms: number
  /** Room memberships (session × room) on this node. */
  readonly members: number
  readonly messagesIn: number
  readonly messagesOut: number
  readonly bytesIn: number
  readonly bytesOut: number
  /** Messages not carried: inbound ones refused by rate limits, signals dropped under backpressure, frames to cut-off slow consumers. */
  readonly dropped: number
  /** Sessions cut off as slow consumers. */
  readonly slowConsumers: number
  /** Faults by code: `error` messages sent, plus refusals that get no answer (dropped signals, wire faults that close). */
  readonly errors: Readonly<Partial<Record<ErrorCode, number>>>
  /** The history store's writer (all zero without a store): queued now, written, dropped (queue full), failed writes. */
  readonly history: HistoryWriterStats
  /** Room messages delivered to members (one per member a message reached, replays included). */
  readonly deliveries: number
  /** Sessions opened since start (closed ones included). */
  readonly connectionsOpened: number
  /** Open sessions by transport (`websocket`, `http-stream`, `loopback`, ...) and subprotocol (`parley.v1.json`). */
  readonly connectionsBy: ReadonlyArray<{ readonly transport: string; readonly protocol: string; readonly connections: number }>
  /** Handshakes refused, by the code they were refused with (`UNAUTHORIZED`, `TRY_AGAIN_LATER`, ...). */
  readonly refused: Readonly<Record<string, number>>
  /** Sessions ended, by close code: the code the server chose, RFC 6455's (1000-1015) as a peer sent them, `other` for the rest. */
  readonly closes: Readonly<Record<string, number>>
  /** Resumes by outcome. */
  readonly recovery: Readonly<Record<RecoveryOutcome, number>>
  /** Bytes queued for sessions and not yet written, summed now. */
  readonly outboundBuffered: number
  /** The most any one session had queued, since start (the outbound buffer's high-water). */
  readonly outboundHighWater: number
  /** permessage-deflate (all zero with `compression` off). */
  readonly compression: CompressionStats
}

/**
 * What the WebSocket transport's compression did: `frames` compressed, each once however many members it went to,
 * and their payload bytes before and after. Frames under the threshold, or that would not shrink, are not counted.
 */
export interface CompressionStats {
  readonly frames: number
  readonly bytesBefore: number
  readonly bytesAfter: number
}

/** The mutable counters behind {@link CompressionStats}, kept by the WebSocket transport. */
export class CompressionCounters implements CompressionStats {
  frames = 0
  bytesBefore = 0
  bytesAfter = 0

  snapshot(): CompressionStats {
    return { frames: this.frames, bytesBefore: this.bytesBefore, bytesAfter: this.bytesAfter }
  }
}

/** The mutable counters behind {@link ParleyStats}. */
export class StatsCounters {
  messagesIn = 0
  messagesOut = 0
  bytesIn = 0
  bytesOut = 0
  dropped = 0
  slowConsumers = 0
  deliveries = 0
  connectionsOpened = 0
  outboundHighWater = 0
  readonly errors: Partial<Record<ErrorCode, number>> = {}
  readonly refused: Record<string, number> = {}
  readonly closes: Record<string, number> = {}
  readonly recovery: Record<RecoveryOutcome, number> = { recovered: 0, gap: 0, reset: 0 }
  /** The last {@link RECENT_ERRORS} errors, a ring written at `#next`. */
  readonly #recent: RecentError[] = []
  #next = 0
  /** Registered timing observers; `timing` is set only while there is one, so the hot path checks one field. */
  readonly #observers = new Set<TimingObserver>()
  timing: TimingObserver | undefined

  countError(code: ErrorCode, detail?: Omit<RecentError, 'ts' | 'code'>): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1
    const entry: RecentError = { ts: Date.now(), code, message: detail?.message ?? '', ...detail }
    if (this.#recent.length < RECENT_ERRORS) this.#recent.push(entry)
    else this.#recent[this.#next] = entry
    this.#next = (this.#next + 1) % RECENT_ERRORS
  }

  /** The recent errors, oldest first. */
  recentErrors(): RecentError[] {
    return this.#recent.length < RECENT_ERRORS ? [...this.#recent] : [...this.#recent.slice(this.#next), ...this.#recent.slice(0, this.#next)]
  }

  countClose(code: number | 'other'): void {
    this.closes[code] = (this.closes[code] ?? 0) + 1
  }

  countRefusal(code: string): void {
    this.refused[code] = (this.refused[code] ?? 0) + 1
  }

  /** Registers a timing observer; returns the function that removes it. */
  observe(observer: TimingObserver): () => void {
    this.#observers.add(observer)
    this.#updateTiming()
    return () => {
      this.#observers.delete(observer)
      this.#updateTiming()
    }
  }

  #updateTiming(): void {
    const observers = [...this.#observers]
    const [only] = observers
    this.timing =
      observers.length <= 1
        ? only
        : {
            publishAck: (ms) => observers.forEach((o) => o.publishAck?.(ms)),
            adapter: (operation, ms) => observers.forEach((o) => o.adapter?.(operation, ms)),
          }
  }

  snapshot(gauges: NodeGauges, history: HistoryWriterStats = NO_HISTORY, compression: CompressionStats = NO_COMPRESSION): ParleyStats {
    return {
      ...gauges,
      compression,
      deliveries: this.deliveries,
      connectionsOpened: this.connectionsOpened,
      refused: { ...this.refused },
      closes: { ...this.closes },
      recovery: { ...this.recovery },
      outboundHighWater: this.outboundHighWater,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      dropped: this.dropped,
      slowConsumers: this.slowConsumers,
      errors: { ...this.errors },
      history,
    }
  }
}

/** What a node measures at the moment it is asked (see {@link ParleyStats}). */
export interface NodeGauges {
  readonly connections: number
  readonly rooms: number
  readonly members: number
  readonly connectionsBy: ParleyStats['connectionsBy']
  readonly outboundBuffered: number
}

/** The history figures of a node without a store. */
export const NO_HISTORY: HistoryWriterStats = Object.freeze({ queued: 0, written: 0, dropped: 0, failedWrites: 0 })

/** The compression figures of a node with compression off. */
export const NO_COMPRESSION: CompressionStats = Object.freeze({ frames: 0, bytesBefore: 0, bytesAfter: 0 })

/** Adds `from`'s counts into `into`, key by key. */
function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>> | undefined): void {
  for (const [key, count] of Object.entries(from ?? {})) into[key] = (into[key] ?? 0) + count
}

/**
 * Adds up several nodes' stats; `rooms` is given, since the same room may live on several nodes. The high-water is
 * the highest node's. Stats from a node of an older version may lack the later fields; they count as zero.
 */
export function sumStats(all: readonly ParleyStats[], rooms: number): ParleyStats {
  const errors: Record<string, number> = {}
  const refused: Record<string, number> = {}
  const closes: Record<string, number> = {}
  const recovery: Record<RecoveryOutcome, number> = { recovered: 0, gap: 0, reset: 0 }
  const by = new Map<string, { transport: string; protocol: string; connections: number }>()
  const total = { connections: 0, members: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, slowConsumers: 0, deliveries: 0, connectionsOpened: 0, outboundBuffered: 0 }
  const history = { queued: 0, written: 0, dropped: 0, failedWrites: 0 }
  const compression = { frames: 0, bytesBefore: 0, bytesAfter: 0 }
  let outboundHighWater = 0
  for (const stats of all as ReadonlyArray<Partial<ParleyStats>>) {
    for (const key of Object.keys(total) as Array<keyof typeof total>) total[key] += stats[key] ?? 0
    for (const key of Object.keys(history) as Array<keyof typeof history>) history[key] += stats.history?.[key] ?? 0
    for (const key of Object.keys(compression) as Array<keyof typeof compression>) compression[key] += stats.compression?.[key] ?? 0
    addCounts(errors, stats.errors as Record<string, number> | undefined)
    addCounts(refused, stats.refused)
    addCounts(closes, stats.closes)
    addCounts(recovery, stats.recovery)
    for (const entry of stats.connectionsBy ?? []) {
      const key = `${entry.transport} ${entry.protocol}`
      const found = by.get(key) ?? { transport: entry.transport, protocol: entry.protocol, connections: 0 }
      found.connections += entry.connections
      by.set(key, found)
    }
    outboundHighWater = Math.max(outboundHighWater, stats.outboundHighWater ?? 0)
  }
  return { ...total, rooms, errors: errors as ParleyStats['errors'], history, compression, refused, closes, recovery, connectionsBy: [...by.values()], outboundHighWater }
}
