import type { PresenceMember } from '@parley/protocol'
import type { Frame } from './transports/connection.js'

/** A presence change that reached a session while its `joined` snapshot was being read. */
export interface HeldPresence {
  readonly event: 'join' | 'leave' | 'update'
  readonly member: PresenceMember
  readonly frame: Frame
}

/**
 * The held presence changes a session still needs after its `joined` snapshot, in order. The snapshot was read at
 * some point in the stream of changes the session held, so it may already show some of them.
 *
 * `snapshot` is either the member list the snapshot read, or, from an adapter's `memberSnapshot`, `readAt`: the
 * number of changes held when the adapter said its answer was taken.
 * - With `readAt`, the changes before it are in the answer and are dropped; every change after it is kept, in order,
 *   so a client that counts (a large room's `joined` lists only a first page) adds them up exactly.
 * - With a list, where the read fell is not known. Each change sets or removes one user, so for each user only the
 *   last held change decides where it ends: it is kept unless the list shows that already. The session then sees
 *   exactly the room's presence, never a change it already has (its own join, say).
 */
export function heldAfterSnapshot(held: readonly HeldPresence[], snapshot: readonly PresenceMember[] | { readonly readAt: number }): HeldPresence[] {
  if (!Array.isArray(snapshot)) return held.slice((snapshot as { readonly readAt: number }).readAt)
  if (held.length === 0) return []
  const last = new Map<string, HeldPresence>()
  for (const change of held) {
    last.delete(change.member.user) // re-inserted, so the map keeps the order of each user's last change
    last.set(change.member.user, change)
  }
  // Only the users with a held change are looked up: a large room's snapshot is scanned, not copied into a map.
  const shown = new Map<string, PresenceMember>()
  for (const member of snapshot as readonly PresenceMember[]) if (last.has(member.user)) shown.set(member.user, member)
  const kept: HeldPresence[] = []
  for (const change of last.values()) {
    const current = shown.get(change.member.user)
    const alreadyShown =
      change.event === 'leave'
        ? current === undefined
        : current !== undefined && current.connections === change.member.connections && sameJson(current.presence, change.member.presence)
    if (!alreadyShown) kept.push(change)
  }
  return kept
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
