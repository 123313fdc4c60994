import type { JsonValue, ResumePoint, RoomMessage } from '@parley/protocol'
import type { HistoryQuery, HistoryRows, HistorySearch, HistoryStore, StoredMessage } from './history-store.js'
import { optionError } from './server-error.js'
import { MAX_SEARCH_TEXT, searchTextOf, searchTerms } from './search-text.js'

/** Options of {@link createMemoryHistory}. */
export interface MemoryHistoryOptions {
  /** Messages kept per room; the oldest go first. @default 10_000 */
  readonly maxPerRoom?: number | undefined
  /** Messages older than this (by `ts`) are dropped when the store prunes (on every append to their room, and `prune()`). @default no age limit */
  readonly maxAgeMs?: number | undefined
  /** The text of a message that search matches. @default every string in `data`, joined by spaces */
  readonly searchText?: ((data: JsonValue) => string) | undefined
  /** @internal Clock, for tests. */
  readonly now?: () => number
}

interface Kept {
  readonly message: RoomMessage
  /** Lower-cased search text. */
  readonly text: string
}

interface RoomHistory {
  readonly name: string
  /** Epochs in the order first stored, with their rank. */
  readonly epochs: Map<string, number>
  /** Oldest first: by epoch rank, then seq. */
  kept: Kept[]
}

/**
 * The reference history store: every room's messages in this process's memory, bounded per room. For tests,
 * development and single-process apps that can lose history on restart; `@parley/postgres-history` keeps it.
 */
export function createMemoryHistory(options: MemoryHistoryOptions = {}): HistoryStore {
  const maxPerRoom = options.maxPerRoom ?? 10_000
  if (!Number.isInteger(maxPerRoom) || maxPerRoom < 1) {
    throw optionError(`createMemoryHistory: maxPerRoom: expected a positive integer, got ${String(maxPerRoom)}`)
  }
  const maxAgeMs = options.maxAgeMs
  if (maxAgeMs !== undefined && !(maxAgeMs > 0)) throw optionError(`createMemoryHistory: maxAgeMs: expected a positive number, got ${String(maxAgeMs)}`)
  const now = options.now ?? Date.now
  const searchText = options.searchText ?? searchTextOf
  const rooms = new Map<string, RoomHistory>()

  /** Index of the first kept message at or after `position` (by epoch rank, then seq); `undefined` for an unknown epoch. */
  const indexOf = (history: RoomHistory, position: ResumePoint): number | undefined => {
    const rank = history.epochs.get(position.epoch)
    if (rank === undefined) return undefined
    const { kept } = history
    let low = 0
    let high = kept.length
    while (low < high) {
      const middle = (low + high) >>> 1
      const message = (kept[middle] as Kept).message
      const messageRank = history.epochs.get(message.epoch) as number
      if (messageRank < rank || (messageRank === rank && message.seq < position.seq)) low = middle + 1
      else high = middle
    }
    return low
  }

  const prune = (history: RoomHistory): number => {
    const before = history.kept.length
    const drop = Math.max(0, before - maxPerRoom)
    if (drop === 1) history.kept.shift()
    else if (drop > 1) history.kept.splice(0, drop)
    if (maxAgeMs !== undefined) {
      // By `ts`, wherever the message sits (a late message of an old epoch may be older than its neighbours).
      const cutoff = now() - maxAgeMs
      if (history.kept.some((kept) => kept.message.ts < cutoff)) history.kept = history.kept.filter((kept) => kept.message.ts >= cutoff)
    }
    return before - history.kept.length
  }

  /** The newest `limit` of `matching` at indexes below `end`, oldest first, and whether older ones match too. */
  const pageBack = (kept: readonly Kept[], end: number, limit: number, matching: (kept: Kept) => boolean): HistoryRows => {
    const page: RoomMessage[] = []
    let i = end - 1
    for (; i >= 0 && page.length < limit; i--) if (matching(kept[i] as Kept)) page.push((kept[i] as Kept).message)
    let more = false
    for (; i >= 0 && !more; i--) more = matching(kept[i] as Kept)
    return { messages: page.reverse(), more }
  }

  const store: HistoryStore = {
    carriesBytes: true,
    async append(batch: readonly StoredMessage[]): Promise<void> {
      const touched = new Set<RoomHistory>()
      for (const item of batch) {
        let history = rooms.get(item.room)
        if (history === undefined) rooms.set(item.room, (history = { name: item.room, epochs: new Map(), kept: [] }))
        if (!history.epochs.has(item.epoch)) history.epochs.set(item.epoch, history.epochs.size)
        const at = indexOf(history, item) as number
        const there = history.kept[at]?.message
        if (there !== undefined && there.epoch === item.epoch && there.seq === item.seq) continue
        // A copy of its own (from the JSON text), so changing the published object later cannot change history.
        const data = JSON.parse(item.dataJson) as JsonValue
        const message: RoomMessage =
          item.bytes === undefined
            ? { type: 'message', room: item.room, seq: item.seq, epoch: item.epoch, from: item.from, ts: item.ts, data }
            : { type: 'message', room: item.room, seq: item.seq, epoch: item.epoch, from: item.from, ts: item.ts, bytes: new Uint8Array(item.bytes), data }
        const entry = { message, text: searchText(data).slice(0, MAX_SEARCH_TEXT).toLowerCase() }
        // The newest message (nearly every append) goes on the end with `push`: with the front trimmed by `shift`
        // (prune), V8 keeps both O(1), where inserting with `splice` copied the whole room's array every time (about
        // 50 µs per append to a full room of 10 000, docs/benchmarks.md).
        if (at === history.kept.length) history.kept.push(entry)
        else history.kept.splice(at, 0, entry)
        touched.add(history)
      }
      for (const history of touched) {
        prune(history)
        if (history.kept.length === 0) rooms.delete(history.name)
      }
    },

    async read(room: string, query: HistoryQuery): Promise<HistoryRows | undefined> {
      const history = rooms.get(room)
      const cursor = query.after ?? query.before
      if (history === undefined) return cursor === undefined ? { messages: [], more: false } : undefined
      if (query.after !== undefined) {
        const start = indexOf(history, { epoch: query.after.epoch, seq: query.after.seq + 1 })
        if (start === undefined) return undefined
        const page = history.kept.slice(start, start + query.limit).map((kept) => kept.message)
        return { messages: page, more: start + query.limit < history.kept.length }
      }
      const end = query.before === undefined ? history.kept.length : indexOf(history, query.before)
      if (end === undefined) return undefined
      return pageBack(history.kept, end, query.limit, () => true)
    },

    async search(room: string, text: string, query: HistorySearch): Promise<HistoryRows | undefined> {
      const history = rooms.get(room)
      if (history === undefined) return query.before === undefined ? { messages: [], more: false } : undefined
      const end = query.before === undefined ? history.kept.length : indexOf(history, query.before)
      if (end === undefined) return undefined
      const terms = searchTerms(text)
      if (terms.length === 0) return { messages: [], more: false }
      return pageBack(history.kept, end, query.limit, (kept) => terms.every((term) => kept.text.includes(term)))
    },

    async prune(): Promise<number> {
      let removed = 0
      for (const [room, history] of rooms) {
        removed += prune(history)
        if (history.kept.length === 0) rooms.delete(room)
      }
      return removed
    },
  }
  return store
}
