import type { JoinedMessage, ResumePoint, RoomMessage } from '@parley/protocol'

/**
 * Where this client stands in each room's stream (epoch and last seq seen), which is what makes delivery
 * exactly-once: a message at or below the position is a duplicate and is dropped, and a re-join resumes from it.
 * Positions outlive a `leave()`, so joining the same room again later resumes too (unless `resume: false`).
 */
export interface RecoveryTracker {
  /** The resume point to send with a join, when this room was seen before. */
  resumePoint(room: string): ResumePoint | undefined
  /** Sets the position from a `joined`: after it, exactly the replayed messages and then live ones are accepted. */
  joined(message: JoinedMessage): void
  /**
   * True for a message to deliver, advancing the position first; false for a duplicate. Called before user handlers
   * run, so a handler that leaves and re-joins resumes after this message.
   */
  accept(message: RoomMessage): boolean
  /** Drops the position (the next join starts live). */
  forget(room: string): void
}

/** Creates an empty {@link RecoveryTracker}. */
export function createRecoveryTracker(): RecoveryTracker {
  return new StreamPositions()
}

/** The tracker `createRecoveryTracker` hands out: a class, so a client pays for one map, not four closures. */
class StreamPositions implements RecoveryTracker {
  readonly #positions = new Map<string, { epoch: string; seq: number }>()

  resumePoint(room: string): ResumePoint | undefined {
    const position = this.#positions.get(room)
    return position === undefined ? undefined : { epoch: position.epoch, seq: position.seq }
  }

  joined(message: JoinedMessage): void {
    // The replayed messages are the room's last `replayed` ones, ending at `joined.seq`; whatever came before them
    // is either seen already (recovered) or lost and reported as a gap (window exceeded, epoch changed).
    const start = message.seq - (message.recovery?.replayed ?? 0)
    const old = this.#positions.get(message.room)
    const seq = old !== undefined && old.epoch === message.epoch && message.recovery !== null ? Math.max(old.seq, start) : start
    this.#positions.set(message.room, { epoch: message.epoch, seq })
  }

  accept(message: RoomMessage): boolean {
    const position = this.#positions.get(message.room)
    if (position === undefined || position.epoch !== message.epoch) {
      // A new epoch means a new stream (the room was recreated): start over from this message.
      this.#positions.set(message.room, { epoch: message.epoch, seq: message.seq })
      return true
    }
    if (message.seq <= position.seq) return false
    position.seq = message.seq
    return true
  }

  forget(room: string): void {
    this.#positions.delete(room)
  }
}
