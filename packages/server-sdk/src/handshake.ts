import type { IncomingMessage } from 'node:http'
import { CloseCode, ID_PATTERN, negotiate, parseSubprotocolHeader, SUBPROTOCOLS, TOKEN_SUBPROTOCOL_PREFIX } from '@parley/protocol'
import type { ResolvedOptions, ServerUser } from './options.js'
import type { Handshake } from './transports/connection.js'

/** The outcome of checking a handshake, before any upgrade: who it is, or how to refuse over HTTP or with a close. */
export type Admission =
  | { readonly ok: true; readonly protocol: string; readonly user: ServerUser | undefined }
  | {
      readonly ok: false
      /** HTTP status for transports that can still answer in HTTP. */
      readonly status: number
      /** Close code for transports that have already connected. */
      readonly closeCode: number
      readonly body: { readonly code: string; readonly message: string; readonly [key: string]: unknown }
      readonly headers?: Readonly<Record<string, string>>
    }

/** A refused admission. */
export type Refusal = Extract<Admission, { ok: false }>

/** What admission needs to know about the running instance. */
export interface AdmissionState {
  readonly closing: boolean
  readonly connections: number
  connectionsOf(user: string): number
}

/** A user id the protocol can carry (`from`, `member.user`): 1-64 characters of the id pattern. */
export function isValidUserId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 64 && ID_PATTERN.test(id)
}

/** Finds the token: `Authorization: Bearer`, the token cookie, `?token=`, or a `parley.token.<t>` subprotocol entry. */
export function findToken(request: IncomingMessage, cookieName: string): string | undefined {
  const authorization = request.headers.authorization
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match !== null) return match[1]
  }
  const cookie = request.headers.cookie
  if (cookie !== undefined) {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=')
      if (eq > 0 && part.slice(0, eq).trim() === cookieName) {
        const raw = part.slice(eq + 1).trim()
        try {
          return decodeURIComponent(raw)
        } catch {
          return raw
        }
      }
    }
  }
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token')
  if (query !== null && query !== '') return query
  for (const entry of parseSubprotocolHeader(request.headers['sec-websocket-protocol'])) {
    if (entry.startsWith(TOKEN_SUBPROTOCOL_PREFIX) && entry.length > TOKEN_SUBPROTOCOL_PREFIX.length) {
      return entry.slice(TOKEN_SUBPROTOCOL_PREFIX.length)
    }
  }
  return undefined
}

function refuse(status: number, closeCode: number, code: string, message: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>): Refusal {
  return { ok: false, status, closeCode, body: { code, message, ...extra }, ...(headers === undefined ? {} : { headers }) }
}

/**
 * The draining and capacity checks (with `user`, the per-user cap too). Synchronous, so a transport can repeat them
 * in the same tick as it opens the session: handshakes that waited in an async `authenticate` together all passed
 * the first check, and only one decision made right before opening keeps the caps exact.
 */
export function checkCapacity(user: ServerUser | undefined, options: ResolvedOptions, state: AdmissionState): Refusal | undefined {
  if (state.closing) {
    return refuse(503, CloseCode.TryAgainLater, 'TRY_AGAIN_LATER', 'Server is shutting down', {}, { 'Retry-After': '1' })
  }
  if (state.connections >= options.limits.maxConnections) {
    return refuse(503, CloseCode.TryAgainLater, 'TRY_AGAIN_LATER', 'Server is at its connection limit', {}, { 'Retry-After': '5' })
  }
  if (user !== undefined && state.connectionsOf(user.id) >= options.limits.maxConnectionsPerUser) {
    return refuse(429, CloseCode.TooManyConnections, 'TOO_MANY_CONNECTIONS', `At most ${options.limits.maxConnectionsPerUser} connections per user`)
  }
  return undefined
}

/**
 * Decides a handshake: draining, version, origin, capacity, authentication, per-user cap, in that order.
 * Used by every transport, so a refusal means the same whatever carries it.
 */
export async function admit(handshake: Handshake, options: ResolvedOptions, state: AdmissionState): Promise<Admission> {
  if (state.closing) {
    return refuse(503, CloseCode.TryAgainLater, 'TRY_AGAIN_LATER', 'Server is shutting down', {}, { 'Retry-After': '1' })
  }
  const negotiation = negotiate(handshake.protocols, SUBPROTOCOLS)
  if (!negotiation.ok) {
    return refuse(426, CloseCode.UnsupportedVersion, 'UNSUPPORTED_VERSION', `No common protocol version: server speaks ${negotiation.supported.join(', ')}; client offered ${negotiation.offered.join(', ') || 'none'}`, {
      supported: negotiation.supported,
      offered: negotiation.offered,
    }, { 'Sec-WebSocket-Protocol': negotiation.supported.join(', ') })
  }
  const origin = handshake.request?.headers.origin
  if (origin !== undefined && options.origins !== undefined) {
    const allowed = typeof options.origins === 'function' ? options.origins(origin) : options.origins.includes(origin)
    if (!allowed) return refuse(403, CloseCode.Forbidden, 'FORBIDDEN', `Origin ${origin} is not allowed`)
  }
  // Checked before authenticate too, so a full server sheds load without calling it.
  const full = checkCapacity(undefined, options, state)
  if (full !== undefined) return full
  let user: ServerUser | undefined
  if (options.authenticate !== undefined && options.authMode === 'handshake') {
    let found: ServerUser | null = null
    try {
      found = await options.authenticate({ request: handshake.request, token: handshake.token })
    } catch {
      found = null
    }
    if (found === null || typeof found !== 'object') return refuse(401, CloseCode.Unauthorized, 'UNAUTHORIZED', 'Authentication failed')
    if (!isValidUserId(found.id)) {
      options.logger.error('parley: authenticate returned a user without a valid id (1-64 chars of [A-Za-z0-9_-.:~])', found.id)
      return refuse(500, CloseCode.InternalError, 'INTERNAL_ERROR', 'Internal server error')
    }
    if (typeof found.expiresAt === 'number' && found.expiresAt <= Date.now()) {
      return refuse(401, CloseCode.Unauthorized, 'UNAUTHORIZED', 'Token expired')
    }
    user = found
    const capped = checkCapacity(user, options, state)
    if (capped !== undefined) return capped
  }
  return { ok: true, protocol: negotiation.protocol, user }
}
