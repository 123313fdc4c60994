import { base64Length, serverFrameLimit, type HistoryEntry, type HistoryGap, type ResumePoint, type RoomMessage } from '@parley/protocol'
import type { AdapterNode, PublishRequest, PublishResult } from './adapters/adapter.js'
import type { HistoryRows, HistoryStore } from './history-store.js'
import { HistoryWriter, type HistoryWriterStats } from './history-writer.js'
import type { ResolvedOptions } from './options.js'
import { ParleyServerError } from './server-error.js'
import type { StatsCounters, TimingObserver } from './stats.js'

/** A page of history as the server answers it. */
export interface HistoryPageResult {
  /** Oldest first. */
  readonly messages: readonly RoomMessage[]
  /** Older messages exist beyond this page. */
  readonly more: boolean
  /** Messages the page's span should hold but history lacks (never stored). */
  readonly gaps: readonly HistoryGap[]
}

/** A room's head, as a join or a resume read it. */
export interface RoomPosition {
  readonly epoch: string
  readonly seq: number
}

/** Bytes a history frame spends besides its entries: type, room, id, more, gaps (a few), brackets. */
const FRAME_OVERHEAD_BYTES = 1_024
/** Bytes an entry spends besides its data: epoch, seq, from, ts and the keys. */
const ENTRY_OVERHEAD_BYTES = 200

/**
 * A room's history for readers, and the writing of each published message to the history store.
 *
 * Reads merge two sources: the store (everything kept, across epochs), and the adapter's recovery window (the room's
 * newest messages, some of which the store may not have yet, since writes are batched). Without a store, history
 * is the recovery window alone. A page is cut to fit one frame a client accepts. Holes in a page's seqs (messages
 * the store never got, because its queue overflowed while it was down) are reported as gaps, never skipped silently.
 */
export class RoomHistory {
  readonly #node: AdapterNode
  readonly #store: HistoryStore | undefined
  readonly #writer: HistoryWriter | undefined
  /** Data bytes a page may hold: what fits one server frame with the page's own overhead. */
  readonly #budget: number

  readonly #stats: StatsCounters

  constructor(options: ResolvedOptions, node: AdapterNode, stats: StatsCounters) {
    this.#node = node
    this.#stats = stats
    const { store, writer } = options.historyStore
    this.#store = store
    this.#writer = store === undefined ? undefined : new HistoryWriter(store, writer, options.logger)
    this.#budget = serverFrameLimit(options.limits.maxPayload) - FRAME_OVERHEAD_BYTES
  }

  /** Whether full-text search is available (the store has it). */
  get searchable(): boolean {
    return this.#store?.search !== undefined
  }

  get hasStore(): boolean {
    return this.#store !== undefined
  }

  /** Publishes through the adapter and hands the message to the store's writer (a retry's duplicate is not written again). */
  publish(request: PublishRequest): Promise<PublishResult> {
    const writer = this.#writer
    const timing = this.#stats.timing
    const published = timing === undefined ? this.#node.publish(request) : this.#timedPublish(request, timing)
    // Without a store the publish is the adapter's alone: no extra promise on the hot path.
    if (writer === undefined) return published
    return published.then((result) => {
      if (!result.duplicate) this.#record(writer, request, result)
      return result
    })
  }

  #timedPublish(request: PublishRequest, timing: TimingObserver): Promise<PublishResult> {
    const started = performance.now()
    return this.#node.publish(request).then((result) => {
      timing.adapter?.('publish', performance.now() - started)
      return result
    })
  }

  #record(writer: HistoryWriter, request: PublishRequest, result: PublishResult): void {
    writer.add({
      room: request.room,
      epoch: result.epoch,
      seq: result.seq,
      from: request.from,
      ts: result.ts,
      data: request.data,
      dataJson: request.dataJson,
      ...(request.bytes === undefined ? {} : { bytes: request.bytes }),
    })
  }

  /**
   * The newest `limit` messages older than `before` (the newest of all without it), oldest first. `head` is the
   * room's position when the caller has it already (a join). Rejects with `HISTORY_CURSOR_INVALID` for a position
   * that is not one of this room's, `HISTORY_UNAVAILABLE` when the store cannot be read.
   */
  async page(room: string, before: ResumePoint | undefined, limit: number, head?: RoomPosition): Promise<HistoryPageResult> {
    const position = head ?? (await this.#node.resume(room, undefined))
    const current = before === undefined || before.epoch === position.epoch
    const windowBefore = before === undefined ? position.seq + 1 : before.seq
    // The window holds the current epoch only: before a position of an older epoch it has nothing.
    const recent = current && this.#node.history !== undefined ? await this.#node.history(room, { before: windowBefore, limit: limit + 1 }) : []
    if (this.#store === undefined) {
      if (!current) throw new ParleyServerError('HISTORY_CURSOR_INVALID', `${before?.epoch ?? ''} is not the current epoch of ${room}, and this server keeps no older history`)
      return this.#cut(recent, recent.length > limit, limit, false)
    }
    let stored: HistoryRows | undefined
    try {
      // Never past the head read above: a message sequenced since (and written by now) follows live, not in the page.
      const cursor = before ?? { epoch: position.epoch, seq: position.seq + 1 }
      stored = await this.#store.read(room, { before: cursor, limit: limit + 1 })
      // The store does not know the current epoch yet (nothing of it written so far): all it has is older.
      if (stored === undefined && current) stored = await this.#store.read(room, { limit: limit + 1 })
    } catch (error) {
      throw new ParleyServerError('HISTORY_UNAVAILABLE', `History of ${room} cannot be read now; try again later`, { cause: error })
    }
    if (stored === undefined) throw new ParleyServerError('HISTORY_CURSOR_INVALID', `${before?.epoch ?? ''} is not an epoch of ${room}`)
    const merged = mergeByPosition(stored.messages, recent, position.epoch)
    const page = this.#cut(merged, stored.more || merged.length > limit, limit, true)
    // Messages between the newest one read and the page's upper end (the head, or just before `before`) are missing
    // too: dropped at the end of what the store got. Only known within the current epoch, whose head is known.
    const newest = page.messages[page.messages.length - 1]
    const upper = before === undefined ? position.seq : Math.min(before.seq - 1, position.seq)
    if (newest !== undefined && current && newest.epoch === position.epoch && newest.seq < upper) {
      return { ...page, gaps: [...page.gaps, { epoch: position.epoch, from: newest.seq + 1, to: upper }] }
    }
    return page
  }

  /** Full-text search in the store: the newest `limit` matches older than `before`, oldest first. */
  async search(room: string, text: string, before: ResumePoint | undefined, limit: number): Promise<HistoryPageResult> {
    const store = this.#store
    if (store?.search === undefined) throw new ParleyServerError('HISTORY_UNAVAILABLE', 'This server has no history search (it needs a history store that searches)')
    let found: HistoryRows | undefined
    try {
      found = await store.search(room, text, { before, limit })
    } catch (error) {
      throw new ParleyServerError('HISTORY_UNAVAILABLE', `History of ${room} cannot be searched now; try again later`, { cause: error })
    }
    if (found === undefined) throw new ParleyServerError('HISTORY_CURSOR_INVALID', `${before?.epoch ?? ''} is not an epoch of ${room}`)
    // Matches are not consecutive: seq holes between them are not gaps.
    return this.#cut(found.messages, found.more, limit, false)
  }

  /**
   * The newest `limit` of `oldestFirst` that fit one frame, with `more` when older ones were left out, and, when
   * `findGaps`, the holes among them (and between the oldest and the one just older, when it was read).
   */
  #cut(oldestFirst: readonly RoomMessage[], more: boolean, limit: number, findGaps: boolean): HistoryPageResult {
    let start = Math.max(0, oldestFirst.length - limit)
    let bytes = 0
    for (let i = oldestFirst.length - 1; i >= start; i--) {
      bytes += entryBytes(oldestFirst[i] as RoomMessage)
      if (bytes > this.#budget && i < oldestFirst.length - 1) {
        start = i + 1
        break
      }
    }
    const messages = oldestFirst.slice(start)
    const gaps = findGaps ? holes(oldestFirst, Math.max(0, start - 1)) : []
    return { messages, more: more || start > 0, gaps }
  }

  stats(): HistoryWriterStats {
    return this.#writer?.stats() ?? { queued: 0, written: 0, dropped: 0, failedWrites: 0 }
  }

  /** Writes what is queued (up to `timeoutMs`), then stops writing. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#writer === undefined) return
    await this.#writer.flush(timeoutMs)
    this.#writer.close()
  }
}

/** A history entry as it goes out: a room message without `type` and `room`. */
export function toEntry(message: RoomMessage): HistoryEntry {
  const { epoch, seq, from, ts, data, bytes } = message
  return bytes === undefined ? { epoch, seq, from, ts, data } : { epoch, seq, from, ts, bytes, data }
}

/** An entry's size in the frame: its data as JSON text (escapes included), its bytes as base64, plus the envelope. */
function entryBytes(message: RoomMessage): number {
  return Buffer.byteLength(JSON.stringify(message.data)) + (message.bytes === undefined ? 0 : base64Length(message.bytes.byteLength)) + ENTRY_OVERHEAD_BYTES
}

/**
 * Store rows (oldest first, across epochs) and window rows (oldest first, all of `epoch`, the room's current and
 * newest epoch) as one list oldest first, each position once.
 */
export function mergeByPosition(stored: readonly RoomMessage[], recent: readonly RoomMessage[], epoch: string): RoomMessage[] {
  if (recent.length === 0) return [...stored]
  const older = stored.filter((message) => message.epoch !== epoch)
  const current = new Map<number, RoomMessage>()
  for (const message of stored) if (message.epoch === epoch) current.set(message.seq, message)
  for (const message of recent) current.set(message.seq, message)
  return [...older, ...[...current.values()].sort((a, b) => a.seq - b.seq)]
}

/**
 * The holes in a list of consecutive messages oldest first, from index `from` on: a seq jump within an epoch, and
 * the start of an epoch that follows an older one's messages (its first seqs were never stored). The start of the
 * oldest epoch read is not reported: retention may have removed it.
 */
export function holes(messages: readonly RoomMessage[], from = 0): HistoryGap[] {
  const gaps: HistoryGap[] = []
  for (let i = from + 1; i < messages.length; i++) {
    const previous = messages[i - 1] as RoomMessage
    const message = messages[i] as RoomMessage
    if (message.epoch === previous.epoch) {
      if (message.seq > previous.seq + 1) gaps.push({ epoch: message.epoch, from: previous.seq + 1, to: message.seq - 1 })
    } else if (message.seq > 1) {
      gaps.push({ epoch: message.epoch, from: 1, to: message.seq - 1 })
    }
  }
  return gaps
}
