import { describeError } from './logging.js'
import type { HistoryStore, StoredMessage } from './history-store.js'
import type { Logger } from './options.js'

/** How the writer batches and queues. */
export interface HistoryWriterSettings {
  /** Messages waiting for the store at most; past it new messages are dropped and counted. */
  readonly maxQueue: number
  /** Messages per write at most. */
  readonly batchSize: number
  /**
   * How long the first message of a batch waits for others before the write goes (unless `batchSize` are
   * waiting): a few ms of durability latency buy batches large enough that the per-write cost stops counting.
   */
  readonly flushMs: number
  /** First wait before a failed write is retried; it doubles up to `maxRetryMs`. */
  readonly retryMs: number
  readonly maxRetryMs: number
  /** How long one store write may take before it counts as failed and is retried. @default APPEND_TIMEOUT_MS */
  readonly appendTimeoutMs?: number | undefined
}

/** The writer's figures, in `stats().history`. */
export interface HistoryWriterStats {
  /** Messages waiting for the store now. */
  readonly queued: number
  /** Messages the store accepted. */
  readonly written: number
  /** Messages never stored: the queue was full (the store was down or too slow). Reported as gaps on read. */
  readonly dropped: number
  /** Writes the store refused (each is retried). */
  readonly failedWrites: number
}

/** A run of dropped seqs of one room epoch, for the log. */
interface DroppedRange {
  readonly room: string
  readonly epoch: string
  from: number
  to: number
}

/** How long one store write may take before it counts as failed and is retried. */
export const APPEND_TIMEOUT_MS = 30_000

/** Resolves or rejects as `work` does, or rejects after `ms`. */
function settleWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the history store did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

/** Dropped ranges kept for the log at most; more are counted, not listed. */
const MAX_DROPPED_RANGES = 20

/**
 * Writes published messages to a history store off the fan-out path: `add` is synchronous and O(1); writes go out
 * one batch at a time (the messages that arrived meanwhile, up to `batchSize`), so a slow store gets bigger batches,
 * never more concurrent writes. A failed write is retried with backoff, the batch kept at the head of the queue.
 * The queue is bounded: past `maxQueue` new messages are dropped, counted and logged with their ranges, so a store
 * that is down never grows memory without limit nor slows delivery. Reads report what was dropped as gaps.
 */
export class HistoryWriter {
  readonly #store: HistoryStore
  readonly #settings: HistoryWriterSettings
  readonly #logger: Logger
  #queue: StoredMessage[] = []
  #writing = false
  #scheduled: ReturnType<typeof setTimeout> | undefined
  #retryMs: number
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #written = 0
  #dropped = 0
  #failedWrites = 0
  /** True while the store is failing: logged once when it starts and once when it ends. */
  #failing = false
  #droppedRanges: DroppedRange[] = []
  #droppedUnlisted = 0
  #idle: Array<() => void> = []
  #closed = false

  constructor(store: HistoryStore, settings: HistoryWriterSettings, logger: Logger) {
    this.#store = store
    this.#settings = settings
    this.#logger = logger
    this.#retryMs = settings.retryMs
  }

  /** Queues a message for the store; drops it (counted) when the queue is full. */
  add(message: StoredMessage): void {
    if (this.#closed) return
    if (this.#queue.length >= this.#settings.maxQueue) {
      this.#drop(message)
      return
    }
    this.#queue.push(message)
    if (!this.#writing && this.#retryTimer === undefined) this.#schedule()
  }

  /** The next write: after `flushMs`, so messages share it, or at once when a batch is full. */
  #schedule(): void {
    const full = this.#queue.length >= this.#settings.batchSize
    if (this.#scheduled !== undefined) {
      if (!full) return
      clearTimeout(this.#scheduled)
    }
    this.#scheduled = setTimeout(
      () => {
        this.#scheduled = undefined
        void this.#write()
      },
      full ? 0 : this.#settings.flushMs,
    )
  }

  stats(): HistoryWriterStats {
    return { queued: this.#queue.length, written: this.#written, dropped: this.#dropped, failedWrites: this.#failedWrites }
  }

  /**
   * Resolves once everything queued now is written, or after `timeoutMs` (the store is down): for a graceful
   * stop. Resolves with how many messages were still waiting.
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.#queue.length > 0 && (this.#retryTimer !== undefined || this.#scheduled !== undefined)) {
      clearTimeout(this.#retryTimer)
      clearTimeout(this.#scheduled)
      this.#retryTimer = undefined
      this.#scheduled = undefined
      void this.#write()
    }
    if (this.#queue.length === 0 && !this.#writing) return 0
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      new Promise<void>((resolve) => this.#idle.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ])
    clearTimeout(timer)
    return this.#queue.length
  }

  /** Stops writing; what is still queued is dropped (call `flush` first). */
  close(): void {
    this.#closed = true
    clearTimeout(this.#scheduled)
    this.#scheduled = undefined
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    for (const message of this.#queue) this.#drop(message)
    this.#queue = []
    this.#logDropped()
  }

  async #write(): Promise<void> {
    if (this.#writing || this.#closed) return
    const batch = this.#queue.slice(0, this.#settings.batchSize)
    if (batch.length === 0) {
      this.#settle()
      return
    }
    this.#writing = true
    try {
      // A store call that never settles (a connection gone silent) must not stop writing for good: it counts as failed,
      // and the batch is written again (stores are idempotent, so a late success of the first call is harmless).
      await settleWithin(this.#store.append(batch), this.#settings.appendTimeoutMs ?? APPEND_TIMEOUT_MS)
      this.#queue.splice(0, batch.length)
      this.#written += batch.length
      this.#retryMs = this.#settings.retryMs
      if (this.#failing) {
        this.#failing = false
        this.#logger.info({ event: 'history.resumed', queued: this.#queue.length }, 'parley: history store writes resumed')
        this.#logDropped()
      } else if (this.#queue.length === 0) {
        // A store that was slow, not failing: what overflowed meanwhile is reported once the queue is empty again.
        this.#logDropped()
      }
    } catch (error) {
      this.#failedWrites++
      if (!this.#failing) {
        this.#failing = true
        this.#logger.warn({ event: 'history.write-failed', error: describeError(error), queued: this.#queue.length }, 'parley: history store write failed; queueing and retrying')
      }
      this.#writing = false
      if (this.#closed) return
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined
        void this.#write()
      }, this.#retryMs)
      this.#retryTimer.unref?.()
      this.#retryMs = Math.min(this.#retryMs * 2, this.#settings.maxRetryMs)
      return
    }
    this.#writing = false
    if (this.#queue.length > 0 && this.#idle.length > 0) void this.#write()
    else if (this.#queue.length > 0) this.#schedule()
    else this.#settle()
  }

  #settle(): void {
    const waiting = this.#idle
    this.#idle = []
    for (const resolve of waiting) resolve()
  }

  #drop(message: StoredMessage): void {
    if (this.#droppedRanges.length === 0 && this.#droppedUnlisted === 0 && !this.#closed) {
      this.#logger.warn({ event: 'history.queue-full', maxQueue: this.#settings.maxQueue }, 'parley: history store queue is full; new messages are not stored until it drains')
    }
    this.#dropped++
    const last = this.#droppedRanges.find((range) => range.room === message.room && range.epoch === message.epoch && range.to === message.seq - 1)
    if (last !== undefined) last.to = message.seq
    else if (this.#droppedRanges.length < MAX_DROPPED_RANGES) this.#droppedRanges.push({ room: message.room, epoch: message.epoch, from: message.seq, to: message.seq })
    else this.#droppedUnlisted++
  }

  #logDropped(): void {
    if (this.#droppedRanges.length === 0 && this.#droppedUnlisted === 0) return
    this.#logger.warn(
      {
        event: 'history.dropped',
        ranges: this.#droppedRanges.map(({ room, epoch, from, to }) => `${room} ${epoch} ${from}-${to}`),
        unlisted: this.#droppedUnlisted,
        droppedTotal: this.#dropped,
      },
      'parley: history store queue was full; messages not stored (reported to readers as gaps)',
    )
    this.#droppedRanges = []
    this.#droppedUnlisted = 0
  }
}
