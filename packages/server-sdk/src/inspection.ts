import type { LocalRoomInfo } from './room.js'
import type { Session } from './session.js'
import type { ParleyStats, RecentError } from './stats.js'

/** One session as an inspector shows it. */
export interface SessionInfo {
  readonly id: string
  readonly user: string
  /** `websocket`, `http-stream`, `loopback`; `custom` for a transport that does not say. */
  readonly transport: string
  /** The negotiated subprotocol, e.g. `parley.v1.json`. */
  readonly protocol: string
  /** Bytes queued for it and not yet written. */
  readonly bufferedBytes: number
  /** When it opened (ms since the epoch). */
  readonly openedAt: number
  /** Its first {@link INSPECTED_ROOMS_PER_SESSION} rooms; `roomCount` counts all. */
  readonly rooms: readonly string[]
  readonly roomCount: number
  readonly remoteAddress: string | undefined
}

/**
 * What one node shows an inspector: its stats, its sessions (the `sessions.length` with the most buffered bytes
 * first when there are more than the limit; `sessionsTotal` counts all), its rooms with the messages delivered to
 * them, and its recent errors. Plain JSON, so a cluster adapter can carry it.
 */
export interface NodeInspection {
  readonly node: string
  /** When it was taken (ms since the epoch). */
  readonly at: number
  readonly stats: ParleyStats
  readonly sessions: readonly SessionInfo[]
  readonly sessionsTotal: number
  /** At most {@link MAX_INSPECTED_ROOMS}, the busiest (most messages) first. */
  readonly rooms: readonly LocalRoomInfo[]
  readonly errors: readonly RecentError[]
}

/** Sessions a node's inspection lists at most by default. */
export const INSPECTED_SESSIONS = 200
/** Rooms listed per session at most (a session may be in 100 rooms of 128 characters). */
export const INSPECTED_ROOMS_PER_SESSION = 10
/** Rooms a node's inspection lists at most. */
export const MAX_INSPECTED_ROOMS = 500

/** Builds a node's inspection from its sessions, rooms and counters. */
export function inspectNode(
  node: string,
  stats: ParleyStats,
  sessions: Iterable<Session>,
  rooms: readonly LocalRoomInfo[],
  errors: readonly RecentError[],
  limit = INSPECTED_SESSIONS,
): NodeInspection {
  const all = [...sessions]
  const shown = all.length <= limit ? all : all.sort((a, b) => b.connection.bufferedAmount - a.connection.bufferedAmount).slice(0, limit)
  return {
    node,
    at: Date.now(),
    stats,
    sessions: shown.map((session) => ({
      id: session.id,
      user: session.user.id,
      transport: session.connection.transport ?? 'custom',
      protocol: session.connection.protocol,
      bufferedBytes: session.connection.bufferedAmount,
      openedAt: session.openedAt,
      rooms: [...session.memberships.keys()].slice(0, INSPECTED_ROOMS_PER_SESSION),
      roomCount: session.memberships.size,
      remoteAddress: session.remoteAddress,
    })),
    sessionsTotal: all.length,
    rooms: rooms.length <= MAX_INSPECTED_ROOMS ? rooms : [...rooms].sort((a, b) => b.messages - a.messages).slice(0, MAX_INSPECTED_ROOMS),
    errors,
  }
}
