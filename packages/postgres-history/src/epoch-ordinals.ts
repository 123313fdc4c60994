/**
 * The ordinals of the (room, epoch) pairs this process has met, least recently used dropped first past `max`. An
 * ordinal never changes once given (retention removes messages, never epochs), so a cached one is always right;
 * an epoch the database does not know is not cached, as another node may register it any moment.
 */
export class EpochOrdinals {
  readonly #max: number
  readonly #known = new Map<string, number>()

  constructor(max: number) {
    this.#max = max
  }

  get size(): number {
    return this.#known.size
  }

  get(room: string, epoch: string): number | undefined {
    const key = keyOf(room, epoch)
    const ordinal = this.#known.get(key)
    if (ordinal !== undefined) {
      // Map keeps insertion order: moving a hit to the end makes the first key the least recently used.
      this.#known.delete(key)
      this.#known.set(key, ordinal)
    }
    return ordinal
  }

  set(room: string, epoch: string, ordinal: number): void {
    const key = keyOf(room, epoch)
    this.#known.delete(key)
    this.#known.set(key, ordinal)
    if (this.#known.size > this.#max) this.#known.delete(this.#known.keys().next().value as string)
  }
}

/** Unambiguous for any two strings: the room's length first. */
function keyOf(room: string, epoch: string): string {
  return `${room.length}:${room}${epoch}`
}
