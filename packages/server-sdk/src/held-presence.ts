import type { PresenceMember } from '@parley/protocol'
import type { Frame } from './transports/connection.js'

/** A presence change that reached a session while its `joined` snapshot was being read. */
export interface HeldPresence {
  readonly event: 'join' | 'leave' | 'update'
  readonly member: PresenceMember
  readonly frame: Frame
}

/**
 * The held presence changes a session still needs after its `joined` snapshot. The snapshot was read at some point
 * in the stream of changes the session held, so it may already show some of them. Each change sets or removes one
 * user, so for each user only the last held change decides where it ends: it is sent unless the snapshot shows that
 * already. The session then sees exactly the room's presence, never a change it already has (its own join, say).
 *
 * `snapshot` is the member list the snapshot read, or, from an adapter's `memberSnapshot`, the entries of the held
 * users as of the snapshot with `readAt`, the number of changes held when it was taken: the snapshot cannot show a
 * change held after that, so those are sent as they are.
 */
export function presenceAfterSnapshot(
  held: readonly HeldPresence[],
  snapshot: readonly PresenceMember[] | ReadonlyMap<string, PresenceMember | undefined>,
  readAt = held.length,
): Frame[] {
  if (held.length === 0) return []
  const last = new Map<string, { readonly change: HeldPresence; readonly index: number }>()
  for (let index = 0; index < held.length; index++) {
    const change = held[index] as HeldPresence
    last.delete(change.member.user) // re-inserted, so the map keeps the order of each user's last change
    last.set(change.member.user, { change, index })
  }
  // Only the users with a held change are looked up: a large room's snapshot is scanned, not copied into a map.
  let shown: ReadonlyMap<string, PresenceMember | undefined>
  if (snapshot instanceof Map) {
    shown = snapshot
  } else {
    const found = new Map<string, PresenceMember>()
    for (const member of snapshot as readonly PresenceMember[]) if (last.has(member.user)) found.set(member.user, member)
    shown = found
  }
  const frames: Frame[] = []
  for (const { change, index } of last.values()) {
    if (index >= readAt) {
      frames.push(change.frame)
      continue
    }
    const current = shown.get(change.member.user)
    const alreadyShown =
      change.event === 'leave'
        ? current === undefined
        : current !== undefined && current.connections === change.member.connections && sameJson(current.presence, change.member.presence)
    if (!alreadyShown) frames.push(change.frame)
  }
  return frames
}

/** Structural equality of two JSON values, object key order aside. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  const left = a as Record<string, unknown>
  const right = b as Record<string, unknown>
  return keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]))
}
