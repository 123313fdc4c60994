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

/** Creates an empty {@link OfflineQueue}. */
export function createOfflineQueue<T extends { readonly id: string }>(maxSize: number): OfflineQueue<T> {
  let items: T[] = []
  return {
    push(item) {
      if (items.length >= maxSize) return false
      items.push(item)
      return true
    },
    unshift(front) {
      items = [...front, ...items]
    },
    remove(id) {
      const index = items.findIndex((item) => item.id === id)
      return index === -1 ? undefined : items.splice(index, 1)[0]
    },
    take(ready) {
      const taken: T[] = []
      items = items.filter((item) => (ready(item) ? (taken.push(item), false) : true))
      return taken
    },
    get size() {
      return items.length
    },
  }
}
