import type { NodeInspection, RecentError, SessionInfo } from '@parley/server-sdk'

/** A room as the inspector lists it: members cluster-wide, and its message rate. */
export interface RoomRow {
  readonly room: string
  /** Users in the room, cluster-wide. */
  readonly members: number
  /** Messages per second over the last interval (the busiest node's count: every node with members sees them all). */
  readonly messagesPerSec: number
}

/** A node's line in the snapshot. */
export interface NodeRow {
  readonly node: string
  /** When its inspection was taken: this node's now, another's at its last heartbeat. */
  readonly at: number
  readonly connections: number
  readonly sessionsTotal: number
  readonly outboundBuffered: number
}

/** What the inspector page gets every interval: plain JSON. */
export interface InspectorSnapshot {
  readonly at: number
  /** Some node could not be asked (see `clusterStats()`): the figures leave it out. */
  readonly partial: boolean
  readonly totals: {
    readonly connections: number
    readonly rooms: number
    readonly members: number
    readonly deliveriesPerSec: number
    readonly errors: number
    readonly slowConsumers: number
  }
  readonly nodes: readonly NodeRow[]
  /** At most {@link MAX_ROOMS}, the most members first. */
  readonly rooms: readonly RoomRow[]
  /** Each node's listed sessions (see `NodeInspection`), with their node. */
  readonly sessions: ReadonlyArray<SessionInfo & { readonly node: string }>
  /** The last {@link MAX_ERRORS} errors across nodes, newest first. */
  readonly errors: ReadonlyArray<RecentError & { readonly node: string }>
}

/** Rooms a snapshot lists at most. */
export const MAX_ROOMS = 200
/** Errors a snapshot lists at most. */
export const MAX_ERRORS = 50
/** Sessions a snapshot lists at most, over every node (each node lists its most buffered first). */
export const MAX_SESSIONS = 500
/** Shortest span a rate is measured over: a snapshot asked for right after another keeps the rates it had. */
export const MIN_RATE_WINDOW_MS = 500

/** What one node's counters were at its last inspection, for rates. */
interface Previous {
  readonly at: number
  readonly deliveries: number
  readonly rooms: ReadonlyMap<string, number>
  /** The rates computed then: kept while the node's inspection has not changed (another node's, between heartbeats). */
  readonly rates: ReadonlyMap<string, number>
  readonly deliveriesPerSec: number
}

/**
 * Turns the cluster's inspections into snapshots, remembering each node's counters between calls to give rates.
 * One per inspector.
 */
export class SnapshotBuilder {
  readonly #previous = new Map<string, Previous>()

  build(inspections: readonly NodeInspection[], rooms: ReadonlyArray<{ room: string; members: number }>, partial: boolean, now = Date.now()): InspectorSnapshot {
    const rates = new Map<string, number>()
    let deliveriesPerSec = 0
    const seen = new Set<string>()
    for (const inspection of inspections) {
      seen.add(inspection.node)
      const node = this.#rates(inspection)
      deliveriesPerSec += node.deliveriesPerSec
      for (const [room, rate] of node.rates) rates.set(room, Math.max(rates.get(room) ?? 0, rate))
    }
    for (const node of this.#previous.keys()) if (!seen.has(node)) this.#previous.delete(node)

    const totals = inspections.reduce(
      (sum, { stats }) => ({
        connections: sum.connections + stats.connections,
        members: sum.members + stats.members,
        errors: sum.errors + Object.values(stats.errors).reduce((a: number, b) => a + (b ?? 0), 0),
        slowConsumers: sum.slowConsumers + stats.slowConsumers,
      }),
      { connections: 0, members: 0, errors: 0, slowConsumers: 0 },
    )
    return {
      at: now,
      partial,
      totals: { ...totals, rooms: rooms.length, deliveriesPerSec: Math.round(deliveriesPerSec) },
      nodes: inspections.map(({ node, at, stats, sessionsTotal }) => ({ node, at, connections: stats.connections, sessionsTotal, outboundBuffered: stats.outboundBuffered })),
      rooms: [...rooms]
        .sort((a, b) => b.members - a.members || a.room.localeCompare(b.room))
        .slice(0, MAX_ROOMS)
        .map(({ room, members }) => ({ room, members, messagesPerSec: Math.round((rates.get(room) ?? 0) * 10) / 10 })),
      sessions: inspections.flatMap(({ node, sessions }) => sessions.map((session) => ({ ...session, node }))).slice(0, MAX_SESSIONS),
      errors: inspections
        .flatMap(({ node, errors }) => errors.map((error) => ({ ...error, node })))
        .sort((a, b) => b.ts - a.ts)
        .slice(0, MAX_ERRORS),
    }
  }

  /** A node's room message rates and deliveries per second since its previous inspection. */
  #rates(inspection: NodeInspection): Previous {
    const before = this.#previous.get(inspection.node)
    const counts = new Map(inspection.rooms.map(({ room, messages }) => [room, messages]))
    if (before !== undefined && inspection.at - before.at < MIN_RATE_WINDOW_MS) return before
    const seconds = before === undefined ? 0 : (inspection.at - before.at) / 1_000
    const rates = new Map<string, number>()
    if (before !== undefined && seconds > 0) {
      for (const [room, count] of counts) {
        const previous = before.rooms.get(room)
        // A room that came back to this node started counting again from 0.
        if (previous !== undefined && count >= previous) rates.set(room, (count - previous) / seconds)
      }
    }
    const deliveries = inspection.stats.deliveries
    const deliveriesPerSec = before !== undefined && seconds > 0 && deliveries >= before.deliveries ? (deliveries - before.deliveries) / seconds : 0
    const next: Previous = { at: inspection.at, deliveries, rooms: counts, rates, deliveriesPerSec }
    this.#previous.set(inspection.node, next)
    return next
  }
}
