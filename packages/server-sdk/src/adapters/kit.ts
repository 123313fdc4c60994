import type { Gap, ResumePoint, RoomMessage } from '@parley/protocol'
import type { ResumeResult } from './adapter.js'

/**
 * The pieces every adapter needs and should not write again: resume arithmetic here, and, re-exported from the
 * package root, `randomId`, `limitCloseReason` and `SILENT_LOGGER`. See docs/adapters.md, "Writing an adapter".
 */

/** A room's head: its epoch and last assigned seq. */
export interface RoomHead {
  readonly epoch: string
  readonly seq: number
}

/**
 * Which kept messages a resume needs: those from this seq on. Undefined when there is no resume point (a plain
 * join: no replay). A resume into another epoch, or past the head, reads everything the epoch still keeps (from 1):
 * the client's stream is gone, but nothing the room still holds is lost with it.
 */
export function replayStart(head: RoomHead, from: ResumePoint | undefined): number | undefined {
  if (from === undefined) return undefined
  return from.epoch !== head.epoch || from.seq > head.seq ? 1 : from.seq + 1
}

/**
 * A resume's answer from the room's head and the kept messages from {@link replayStart} on (oldest first, none
 * past their TTL). A gap is reported when the oldest kept message is later than the first one the client lacks,
 * so nothing missing is ever passed over silently. `seq` is the room's head, moved past any message that was
 * published between reading the head and reading the messages, so the replay always ends at `joined.seq`.
 */
export function resumeResult(head: RoomHead, from: ResumePoint | undefined, kept: readonly RoomMessage[]): ResumeResult {
  const last = kept[kept.length - 1]
  const seq = Math.max(head.seq, last?.seq ?? 0)
  if (from === undefined) return { epoch: head.epoch, seq, replay: [], recovery: null }
  if (from.epoch !== head.epoch || from.seq > head.seq) {
    return { epoch: head.epoch, seq, replay: kept, recovery: { recovered: false, replayed: kept.length, gap: { reason: 'epoch-changed' } } }
  }
  const replay = kept.filter((message) => message.seq > from.seq)
  const gap = gapAfter(from.seq, replay, seq)
  return { epoch: head.epoch, seq, replay, recovery: { recovered: gap === null, replayed: replay.length, gap } }
}

/**
 * The messages a client at `seq` lacks but that `replay` (the kept messages after `seq`, oldest first) does not
 * hold, in a room whose head is `head`: none, or the `window-exceeded` range before the oldest kept one.
 */
export function gapAfter(seq: number, replay: readonly RoomMessage[], head: number): Gap | null {
  const oldest = replay[0]?.seq ?? head + 1
  return oldest <= seq + 1 ? null : { reason: 'window-exceeded', from: seq + 1, to: oldest - 1 }
}
