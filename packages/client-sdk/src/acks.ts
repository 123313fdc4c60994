import { randomId } from '@parley/protocol'
import { ParleyClientError } from './client-error.js'

/** How a request ended: the answering value, or the error it was rejected with. */
export type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ParleyClientError }

/**
 * Requests waiting for an answer, by id, each with its own timeout. Settling is synchronous, so an answer is
 * handled before the next frame (a `joined` must set the stream position before the replayed messages after it).
 * Every request settles exactly once: answered, rejected, timed out, or cancelled silently.
 */
export interface PendingRequests<T> {
  /** Waits for `id`; after `timeoutMs` it settles with a `TIMEOUT` error. */
  add(id: string, timeoutMs: number, settle: (result: Settled<T>) => void): void
  /** Settles `id` with a value; false when nothing waited for it. */
  resolve(id: string, value: T): boolean
  /** Settles `id` with an error; false when nothing waited for it. */
  reject(id: string, error: ParleyClientError): boolean
  /** Forgets `id` without settling it. */
  cancel(id: string): void
  /** Settles every waiting request with `error`. */
  rejectAll(error: ParleyClientError): void
  has(id: string): boolean
  readonly size: number
}

interface Entry<T> {
  readonly settle: (result: Settled<T>) => void
  readonly timer: ReturnType<typeof setTimeout>
}

/**
 * Creates an empty {@link PendingRequests}. `why`, when given, may add the likely reason to a timeout's message (the
 * client names its last connection error while it is not connected). A class, not an object literal with a getter,
 * which V8 would keep in dictionary mode (about 1 KB per client held).
 */
export function createPendingRequests<T>(why?: () => string | undefined): PendingRequests<T> {
  return new RequestTable<T>(why)
}

class RequestTable<T> implements PendingRequests<T> {
  readonly #entries = new Map<string, Entry<T>>()
  readonly #why: (() => string | undefined) | undefined

  constructor(why: (() => string | undefined) | undefined) {
    this.#why = why
  }

  add(id: string, timeoutMs: number, settle: (result: Settled<T>) => void): void {
    this.#take(id)
    const timer = setTimeout(() => {
      const reason = this.#why?.()
      this.reject(id, new ParleyClientError('TIMEOUT', `No answer to request ${id} within ${timeoutMs} ms${reason === undefined ? '' : `; ${reason}`}`, { id }))
    }, timeoutMs)
    this.#entries.set(id, { settle, timer })
  }

  resolve(id: string, value: T): boolean {
    const entry = this.#take(id)
    entry?.settle({ ok: true, value })
    return entry !== undefined
  }

  reject(id: string, error: ParleyClientError): boolean {
    const entry = this.#take(id)
    entry?.settle({ ok: false, error })
    return entry !== undefined
  }

  cancel(id: string): void {
    this.#take(id)
  }

  rejectAll(error: ParleyClientError): void {
    for (const id of [...this.#entries.keys()]) this.reject(id, error)
  }

  has(id: string): boolean {
    return this.#entries.has(id)
  }

  get size(): number {
    return this.#entries.size
  }

  #take(id: string): Entry<T> | undefined {
    const entry = this.#entries.get(id)
    if (entry !== undefined) {
      this.#entries.delete(id)
      clearTimeout(entry.timer)
    }
    return entry
  }
}

/**
 * Request ids unique across clients: the server de-duplicates publishes by id per user, so two tabs of one user must
 * never produce the same id. A random prefix per client, then a counter.
 */
export class IdSource {
  readonly #prefix = randomId(12)
  #counter = 0

  next(): string {
    return `${this.#prefix}-${(++this.#counter).toString(36)}`
  }
}

/** A new {@link IdSource}. */
export function createIdSource(): IdSource {
  return new IdSource()
}
