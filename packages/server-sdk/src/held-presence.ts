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
 */
export function presenceAfterSnapshot(held: readonly HeldPresence[], snapshot: readonly PresenceMember[]): Frame[] {
  if (held.length === 0) return []
  const last = new Map<string, HeldPresence>()
  for (const change of held) {
    last.delete(change.member.user) // re-inserted, so the map keeps the order of each user's last change
    last.set(change.member.user, change)
  }
  // Only the users with a held change are looked up: a large room's snapshot is scanned, not copied into a map.
  const shown = new Map<string, PresenceMember>()
  for (const member of snapshot) if (last.has(member.user)) shown.set(member.user, member)
  const frames: Frame[] = []
  for (const change of last.values()) {
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
