import type { JsonValue, SignalBroadcastMessage } from '@parley/protocol'

interface SignalEntry {
  readonly room: string
  readonly user: string
  readonly key: string
  readonly session: string
  value: JsonValue
  ttlMs: number
  lastSentAt: number
  expiry: ReturnType<typeof setTimeout> | undefined
  trailing: ReturnType<typeof setTimeout> | undefined
}

/**
 * Ephemeral per-key state (typing and the like) set by this node's sessions. Changes of one key are coalesced to
 * the latest value and forwarded at most every `minIntervalMs`; a key not refreshed within its TTL expires and
 * peers are told (`value: null, ttlMs: 0`). Nothing here is stored or replayed.
 */
export class Signals {
  readonly #entries = new Map<string, SignalEntry>()
  readonly #broadcast: (message: SignalBroadcastMessage) => void
  readonly #minIntervalMs: number
  readonly #now: () => number

  constructor(broadcast: (message: SignalBroadcastMessage) => void, minIntervalMs: number, now: () => number = Date.now) {
    this.#broadcast = broadcast
    this.#minIntervalMs = minIntervalMs
    this.#now = now
  }

  /** Sets (or, with `null`, clears) a key of a user in a room. */
  set(room: string, user: string, session: string, key: string, value: JsonValue, ttlMs: number): void {
    const id = `${room}\u0000${user}\u0000${key}`
    if (value === null) {
      this.#clear(id)
      return
    }
    let entry = this.#entries.get(id)
    if (entry === undefined) {
      entry = { room, user, key, session, value, ttlMs, lastSentAt: -Infinity, expiry: undefined, trailing: undefined }
      this.#entries.set(id, entry)
    }
    entry.value = value
    entry.ttlMs = ttlMs
    clearTimeout(entry.expiry)
    entry.expiry = setTimeout(() => this.#clear(id), ttlMs)
    const wait = entry.lastSentAt + this.#minIntervalMs - this.#now()
    if (wait <= 0) {
      this.#send(entry)
    } else if (entry.trailing === undefined) {
      const pending = entry
      pending.trailing = setTimeout(() => {
        pending.trailing = undefined
        if (this.#entries.get(id) === pending) this.#send(pending)
      }, wait)
    }
  }

  /** Clears every key a session set in a room (or in every room), telling peers. */
  clearSession(session: string, room?: string): void {
    for (const [id, entry] of this.#entries) {
      if (entry.session === session && (room === undefined || entry.room === room)) this.#clear(id)
    }
  }

  /** Stops every timer without telling anyone (shutdown). */
  dispose(): void {
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.expiry)
      clearTimeout(entry.trailing)
    }
    this.#entries.clear()
  }

  #send(entry: SignalEntry): void {
    entry.lastSentAt = this.#now()
    this.#broadcast({ type: 'signal', room: entry.room, from: entry.user, key: entry.key, value: entry.value, ttlMs: entry.ttlMs })
  }

  #clear(id: string): void {
    const entry = this.#entries.get(id)
    if (entry === undefined) return
    clearTimeout(entry.expiry)
    clearTimeout(entry.trailing)
    this.#entries.delete(id)
    this.#broadcast({ type: 'signal', room: entry.room, from: entry.user, key: entry.key, value: null, ttlMs: 0 })
  }
}
