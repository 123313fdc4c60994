import { CloseCode, encode, limitCloseReason, resolveLimits, validateMessage, type DirectMessage, type ProtocolLimits } from '@parley/protocol'
import { isValidUserId } from './handshake.js'
import type { Rooms } from './room.js'
import { toParleyError } from './server-error.js'
import type { Session } from './session.js'
import { Frame } from './transports/connection.js'

/**
 * What a node is asked to do to its own sessions. A cluster-wide call (`parley.user(id).disconnect()`,
 * `parley.room(name).remove()`, ...) sends one command to every node through the adapter; each node acts on its
 * sessions and answers how many it acted on.
 */
export type ControlCommand =
  /** Close every session of `user` with `code` and `reason`. */
  | { readonly kind: 'disconnect'; readonly user: string; readonly code: number; readonly reason: string }
  /** Take every session of `user` out of `room`, telling it `left` with `reason`. */
  | { readonly kind: 'remove'; readonly user: string; readonly room: string; readonly reason: string }
  /** Join every session of `user` to `room`, without `authorize` (the server decided): an unprompted `joined`. */
  | { readonly kind: 'join'; readonly user: string; readonly room: string }
  /** Send a `direct` message to every session on the node. */
  | { readonly kind: 'broadcast'; readonly message: DirectMessage }

/** What a cluster-wide call achieved. */
export interface ControlReport {
  /** Sessions acted on, summed over the nodes that answered (0 for an unknown user or room: not an error). */
  readonly sessions: number
  /** Ids of the nodes that answered. */
  readonly nodes: readonly string[]
  /** Ids of the nodes known to be in the cluster that did not answer within the timeout. Empty when all did. */
  readonly missing: readonly string[]
}

const LIMITS = resolveLimits()
/** Longest reason a `left` may carry (protocol §7.3). */
const MAX_LEFT_REASON = 1_024
const ROOM_PATTERN = /^[A-Za-z0-9_\-.:/@#]{1,128}$/

/** Close codes an app may choose for a disconnect: 1000, or its own 4000-4999 (RFC 6455 §7.4.2). */
export function isAppCloseCode(code: unknown): code is number {
  return code === CloseCode.Normal || (typeof code === 'number' && Number.isInteger(code) && code >= 4000 && code <= 4999)
}

/**
 * Checks a command, from this node's API or from another node through an adapter (where it is untrusted input):
 * returns it, normalised, or a reason it is not one. Adapters call this on what they receive, as they check
 * message envelopes.
 */
export function checkControl(value: unknown): ControlCommand | string {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const command = value as Record<string, unknown>
  const user = command['user']
  const room = command['room']
  switch (command['kind']) {
    case 'disconnect': {
      if (!isValidUserId(user)) return 'user: expected a user id'
      if (!isAppCloseCode(command['code'])) return 'code: expected 1000 or 4000-4999'
      const reason = command['reason']
      if (typeof reason !== 'string') return 'reason: expected a string'
      return { kind: 'disconnect', user, code: command['code'], reason: limitCloseReason(reason) }
    }
    case 'remove': {
      if (!isValidUserId(user)) return 'user: expected a user id'
      if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) return 'room: expected a room name'
      const reason = command['reason']
      if (typeof reason !== 'string' || reason === '' || reason.length > MAX_LEFT_REASON) return `reason: expected 1-${MAX_LEFT_REASON} characters`
      return { kind: 'remove', user, room, reason }
    }
    case 'join': {
      if (!isValidUserId(user)) return 'user: expected a user id'
      if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) return 'room: expected a room name'
      return { kind: 'join', user, room }
    }
    case 'broadcast': {
      const message = validateMessage(command['message'], 'server', LIMITS)
      if (message instanceof Error) return `message: ${message.message}`
      if (message.type !== 'direct') return 'message: expected a direct message'
      return { kind: 'broadcast', message }
    }
    default:
      return `unknown command ${String(command['kind'])}`
  }
}

/** What a node lends a control command to act on. */
export interface ControlTarget {
  sessions(): Iterable<Session>
  sessionsOf(user: string): Session[]
  readonly rooms: Rooms
  readonly encodeLimits: Partial<ProtocolLimits>
}

/** Runs a command on one node's sessions; resolves with how many it acted on, once it has. */
export async function runControl(command: ControlCommand, target: ControlTarget): Promise<number> {
  if (command.kind === 'broadcast') {
    const frame = new Frame(encode(command.message, { limits: target.encodeLimits }))
    let sent = 0
    for (const session of target.sessions()) if (session.authenticated && session.sendFrame(frame)) sent++
    return sent
  }
  const sessions = target.sessionsOf(command.user)
  switch (command.kind) {
    case 'disconnect':
      for (const session of sessions) session.close(command.code, command.reason)
      return sessions.length
    case 'remove': {
      const removed = await Promise.all(sessions.map((session) => target.rooms.removeByServer(session, command.room, command.reason)))
      return removed.filter(Boolean).length
    }
    case 'join': {
      // Through each session's inbox, so the join is ordered with what the client sends; no `authorize`: the server
      // decided. The answer is an unprompted `joined` (no id), which the client SDK surfaces as a room of its own.
      const joins = sessions
        .filter((session) => session.memberships.get(command.room) === undefined)
        .map((session) => serverJoin(session, command.room, target.rooms))
      return (await Promise.all(joins)).filter(Boolean).length
    }
  }
}

function serverJoin(session: Session, room: string, rooms: Rooms): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const queued = session.enqueue(async () => {
      try {
        await rooms.join(session, { type: 'join', room })
        resolve(session.memberships.get(room) !== undefined)
      } catch (thrown) {
        const error = toParleyError(thrown)
        session.sendError(error.wireCode, error.expose ? error.message : 'Internal server error', undefined, room)
        resolve(false)
      }
    })
    if (!queued) resolve(false)
  })
}
