import type { Gap, RoomMessage } from '@parley/protocol'
import { gapAfter } from './adapters/kit.js'

/** What a resume from a seq can get out of a history window. */
export interface HistorySlice {
  readonly messages: readonly RoomMessage[]
  /** `null` when every message after the resume point is in `messages`. */
  readonly gap: Gap | null
}

/**
 * A room's recent messages for recovery: a ring buffer of at most `size` messages, each kept for `ttlMs`.
 * Appends are O(1); a resume is O(replayed).
 */
export class History {
  readonly #size: number
  readonly #ttlMs: number
  readonly #now: () => number
  readonly #messages: Array<RoomMessage | undefined>
  readonly #storedAt: number[]
  #head = 0
  #count = 0

  constructor(size: number, ttlMs: number, now: () => number = Date.now) {
    this.#size = size
    this.#ttlMs = ttlMs
    this.#now = now
    this.#messages = new Array<RoomMessage | undefined>(size)
    this.#storedAt = new Array<number>(size).fill(0)
  }

  get length(): number {
    this.#prune()
    return this.#count
  }

  /** Time of the newest message, or `undefined` when the window is empty. */
  get lastStoredAt(): number | undefined {
    this.#prune()
    return this.#count === 0 ? undefined : this.#storedAt[(this.#head + this.#count - 1) % this.#size]
  }

  append(message: RoomMessage): void {
    if (this.#size === 0) return
    const slot = (this.#head + this.#count) % this.#size
    this.#messages[slot] = message
    this.#storedAt[slot] = this.#now()
    if (this.#count < this.#size) this.#count++
    else this.#head = (this.#head + 1) % this.#size
  }

  /**
   * The messages after `seq`, given that the room's last seq is `lastSeq`. When some of them have left the window
   * (count or TTL), the slice says which with a `window-exceeded` gap and holds the ones still kept.
   */
  since(seq: number, lastSeq: number): HistorySlice {
    this.#prune()
    if (seq >= lastSeq) return { messages: [], gap: null }
    const messages: RoomMessage[] = []
    for (let i = 0; i < this.#count; i++) {
      const message = this.#messages[(this.#head + i) % this.#size] as RoomMessage
      if (message.seq > seq) messages.push(message)
    }
    return { messages, gap: gapAfter(seq, messages, lastSeq) }
  }

  #prune(): void {
    const cutoff = this.#now() - this.#ttlMs
    while (this.#count > 0 && (this.#storedAt[this.#head] as number) <= cutoff) {
      this.#messages[this.#head] = undefined
      this.#head = (this.#head + 1) % this.#size
      this.#count--
    }
  }
}
