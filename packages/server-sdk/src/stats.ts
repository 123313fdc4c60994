import type { ErrorCode } from '@parley/protocol'
import type { HistoryWriterStats } from './history-writer.js'

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
}

/** The mutable counters behind {@link ParleyStats}. */
export class StatsCounters {
  messagesIn = 0
  messagesOut = 0
  bytesIn = 0
  bytesOut = 0
  dropped = 0
  slowConsumers = 0
  readonly errors: Partial<Record<ErrorCode, number>> = {}

  countError(code: ErrorCode): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1
  }

  snapshot(gauges: { connections: number; rooms: number; members: number }, history: HistoryWriterStats = NO_HISTORY): ParleyStats {
    return {
      ...gauges,
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

/** The history figures of a node without a store. */
export const NO_HISTORY: HistoryWriterStats = Object.freeze({ queued: 0, written: 0, dropped: 0, failedWrites: 0 })

/** Adds up several nodes' stats; `rooms` is given, since the same room may live on several nodes. */
export function sumStats(all: readonly ParleyStats[], rooms: number): ParleyStats {
  const errors: Partial<Record<ErrorCode, number>> = {}
  const total = { connections: 0, members: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, slowConsumers: 0 }
  const history = { queued: 0, written: 0, dropped: 0, failedWrites: 0 }
  for (const stats of all) {
    for (const key of Object.keys(total) as Array<keyof typeof total>) total[key] += stats[key]
    // Stats from a node of an older version may lack `history`.
    for (const key of Object.keys(history) as Array<keyof typeof history>) history[key] += stats.history?.[key] ?? 0
    for (const [code, count] of Object.entries(stats.errors) as Array<[ErrorCode, number]>) errors[code] = (errors[code] ?? 0) + count
  }
  return { ...total, rooms, errors, history }
}
