import { describeError } from './logging.js'
import { CloseCode, ID_PATTERN, negotiate } from '@parley/protocol'
import type { AuthenticateContext, ResolvedOptions, ServerUser } from './options.js'
import type { Handshake, Refusal } from './transports/connection.js'

export type { Refusal } from './transports/connection.js'

/** The outcome of checking a handshake, before any upgrade: who it is, or how to refuse over HTTP or with a close. */
export type Admission = { readonly ok: true; readonly protocol: string; readonly user: ServerUser | undefined } | Refusal

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

/**
 * What `authenticate` decided. A hook that returns no user refused the credentials (401 / 4401, which clients treat
 * as final); a hook that threw could not decide (its database is down, say), which is the server's fault and
 * retryable (503 / 1013), so an auth backend outage does not make every client give up.
 */
export type AuthOutcome =
  | { readonly kind: 'user'; readonly user: ServerUser }
  | { readonly kind: 'refused'; readonly reason: 'no user' | 'expired' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'invalid-user'; readonly id: unknown }

/** Runs the `authenticate` hook and classifies what came back. Never throws. */
export async function runAuthenticate(options: ResolvedOptions, context: AuthenticateContext): Promise<AuthOutcome> {
  const authenticate = options.authenticate
  if (authenticate === undefined) return { kind: 'refused', reason: 'no user' }
  let found: ServerUser | null
  try {
    found = await authenticate(context)
  } catch (error) {
    options.logger.error({ event: 'auth.unavailable', error: describeError(error) }, 'parley: authenticate threw; answering retryable (503 / 1013)')
    return { kind: 'failed', error }
  }
  if (found === null || typeof found !== 'object') return { kind: 'refused', reason: 'no user' }
  if (!isValidUserId(found.id)) {
    options.logger.error({ event: 'auth.invalid-user', id: String(found.id).slice(0, 100) }, 'parley: authenticate returned a user without a valid id (1-64 chars of [A-Za-z0-9_-.:~])')
    return { kind: 'invalid-user', id: found.id }
  }
  if (typeof found.expiresAt === 'number' && found.expiresAt <= Date.now()) return { kind: 'refused', reason: 'expired' }
  return { kind: 'user', user: found }
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

function firstHeader(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0]
}

/**
 * Whether a handshake's `Origin` may connect. Requests without one (non-browser clients) always pass. With
 * `origins` set, it decides (`'*'` allows all). Without it, a server that reads tokens from a cookie accepts only
 * same-origin requests (Origin's host equals Host): a cookie rides along on cross-site requests too, so any page
 * could otherwise open a session as the visitor (cross-site WebSocket hijacking).
 */
export function originAllowed(handshake: Handshake, options: ResolvedOptions): boolean {
  const origin = firstHeader(handshake.headers['origin'])
  if (origin === undefined) return true
  const { origins } = options
  if (origins === '*') return true
  if (origins !== undefined) return typeof origins === 'function' ? origins(origin) : origins.includes(origin)
  if (!options.cookieTokens) return true
  let originHost: string
  try {
    originHost = new URL(origin).host
  } catch {
    return false
  }
  const host = firstHeader(handshake.headers['host'])
  return host !== undefined && originHost.toLowerCase() === host.toLowerCase()
}

/**
 * The request as `authenticate` sees it: plain data from the handshake, whatever transport carried it; undefined
 * when the transport had no HTTP request at all (no headers, no URL: a loopback).
 */
export function requestOf(handshake: Handshake): AuthenticateContext['request'] {
  if (handshake.url === undefined && Object.keys(handshake.headers).length === 0) return undefined
  return { headers: handshake.headers, url: handshake.url, remoteAddress: handshake.remoteAddress }
}

/**
 * Decides a handshake: draining, version, origin, capacity, authentication, per-user cap, in that order.
 * Used by every transport, so a refusal means the same whatever carries it.
 */
export async function admit(handshake: Handshake, options: ResolvedOptions, state: AdmissionState): Promise<Admission> {
  if (state.closing) {
    return refuse(503, CloseCode.TryAgainLater, 'TRY_AGAIN_LATER', 'Server is shutting down', {}, { 'Retry-After': '1' })
  }
  const negotiation = negotiate(handshake.protocols, options.protocols)
  if (!negotiation.ok) {
    return refuse(426, CloseCode.UnsupportedVersion, 'UNSUPPORTED_VERSION', `No common protocol version: server speaks ${negotiation.supported.join(', ')}; client offered ${negotiation.offered.join(', ') || 'none'}`, {
      supported: negotiation.supported,
      offered: negotiation.offered,
    }, { 'Sec-WebSocket-Protocol': negotiation.supported.join(', ') })
  }
  if (!originAllowed(handshake, options)) {
    const origin = firstHeader(handshake.headers['origin']) ?? ''
    const why = options.origins === undefined ? ' (cookie tokens accept same-origin requests only; set the "origins" option)' : ''
    return refuse(403, CloseCode.Forbidden, 'FORBIDDEN', `Origin ${origin.slice(0, 200)} is not allowed${why}`)
  }
  // Checked before authenticate too, so a full server sheds load without calling it.
  const full = checkCapacity(undefined, options, state)
  if (full !== undefined) return full
  let user: ServerUser | undefined
  if (options.authenticate !== undefined && options.authMode === 'handshake') {
    const outcome = await runAuthenticate(options, { request: requestOf(handshake), token: handshake.token })
    switch (outcome.kind) {
      case 'failed':
        return refuse(503, CloseCode.TryAgainLater, 'TRY_AGAIN_LATER', 'Authentication is unavailable; try again', {}, { 'Retry-After': '1' })
      case 'invalid-user':
        return refuse(500, CloseCode.InternalError, 'INTERNAL_ERROR', 'Internal server error')
      case 'refused':
        return refuse(401, CloseCode.Unauthorized, 'UNAUTHORIZED', outcome.reason === 'expired' ? 'Token expired' : 'Authentication failed')
      case 'user':
        user = outcome.user
    }
    const capped = checkCapacity(user, options, state)
    if (capped !== undefined) return capped
  }
  return { ok: true, protocol: negotiation.protocol, user }
}
