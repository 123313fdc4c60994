import type { RateLimit } from './options.js'

/** A token bucket: bursts up to `messages`, refilled continuously at `messages` per `perMs`. */
export class TokenBucket {
  readonly #capacity: number
  readonly #refillPerMs: number
  #tokens: number
  #updatedAt: number

  constructor(limit: RateLimit, now: number) {
    this.#capacity = limit.messages
    this.#refillPerMs = limit.messages / limit.perMs
    this.#tokens = limit.messages
    this.#updatedAt = now
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    const elapsed = now - this.#updatedAt
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#refillPerMs)
      this.#updatedAt = now
    }
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

/** Counts events in a sliding window of fixed buckets, to spot sustained abuse cheaply. */
export class WindowCounter {
  readonly #windowMs: number
  #times: number[] = []

  constructor(windowMs: number) {
    this.#windowMs = windowMs
  }

  /** Records one event and returns how many fell in the window, this one included. */
  hit(now: number): number {
    const cutoff = now - this.#windowMs
    let drop = 0
    while (drop < this.#times.length && (this.#times[drop] as number) <= cutoff) drop++
    if (drop > 0) this.#times = this.#times.slice(drop)
    this.#times.push(now)
    return this.#times.length
  }
}
