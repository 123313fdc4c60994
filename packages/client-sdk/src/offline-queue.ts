/**
 * Publishes waiting to be sent, in call order: made while disconnected, or before their room's `joined`. Bounded:
 * `push` refuses once `maxSize` items wait. In-flight publishes of a lost connection go back to the front with
 * `unshift` (already accepted once, so they may pass the bound) and keep their ids.
 */
export interface OfflineQueue<T extends { readonly id: string }> {
  /** Appends; false (and nothing queued) when full. */
  push(item: T): boolean
  /** Puts items back at the front, in their order. */
  unshift(items: readonly T[]): void
  /** Removes the item with this id. */
  remove(id: string): T | undefined
  /** Removes and returns, in order, the items `ready` accepts; the others keep their places. */
  take(ready: (item: T) => boolean): T[]
  readonly size: number
}

/**
 * Creates an empty {@link OfflineQueue}. A class, not an object literal: a literal with a getter is kept in V8's
 * dictionary mode (about 1 KB per client held; docs/benchmarks.md, "The client's own cost").
 */
export function createOfflineQueue<T extends { readonly id: string }>(maxSize: number): OfflineQueue<T> {
  return new BoundedQueue<T>(maxSize)
}

class BoundedQueue<T extends { readonly id: string }> implements OfflineQueue<T> {
  readonly #maxSize: number
  #items: T[] = []

  constructor(maxSize: number) {
    this.#maxSize = maxSize
  }

  push(item: T): boolean {
    if (this.#items.length >= this.#maxSize) return false
    this.#items.push(item)
    return true
  }

  unshift(front: readonly T[]): void {
    this.#items = [...front, ...this.#items]
  }

  remove(id: string): T | undefined {
    const index = this.#items.findIndex((item) => item.id === id)
    return index === -1 ? undefined : this.#items.splice(index, 1)[0]
  }

  take(ready: (item: T) => boolean): T[] {
    const taken: T[] = []
    this.#items = this.#items.filter((item) => (ready(item) ? (taken.push(item), false) : true))
    return taken
  }

  get size(): number {
    return this.#items.length
  }
}
