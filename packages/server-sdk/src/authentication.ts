import { CloseCode, type ClientMessageOf } from '@parley/protocol'
import { runAuthenticate } from './handshake.js'
import type { ResolvedOptions } from './options.js'
import { ParleyServerError } from './server-error.js'
import type { Session } from './session.js'
import type { UserIndex } from './user-index.js'

/**
 * In-band authentication: first-message mode, or a token refresh. A refused token closes with 4401; a hook that
 * threw (its backend is down) is retryable: in first-message mode the session closes with 1013 so the client
 * comes back, and a refresh is answered `TRY_AGAIN_LATER` while the session keeps its current credentials.
 */
export async function authenticateInBand(
  options: ResolvedOptions,
  users: UserIndex,
  session: Session,
  message: ClientMessageOf<'authenticate'>,
): Promise<void> {
  if (options.authenticate === undefined) throw new ParleyServerError('UNAUTHORIZED', 'This server does not take tokens')
  const outcome = await runAuthenticate(options, { request: undefined, token: message.token })
  const replacing = session.authenticated
  if (outcome.kind === 'invalid-user') throw new ParleyServerError('INTERNAL_ERROR', 'authenticate returned an invalid user id', { expose: false })
  if (outcome.kind === 'failed') {
    session.sendError('TRY_AGAIN_LATER', 'Authentication is unavailable; try again', message.id)
    if (!replacing) session.close(CloseCode.TryAgainLater, 'authentication unavailable; try again')
    return
  }
  // A token that is already expired is refused like a bad one (as at the handshake), not accepted then cut.
  if (outcome.kind === 'refused' || (replacing && outcome.user.id !== session.user.id)) {
    options.logger.warn(
      { event: 'auth.failed', phase: replacing ? 'refresh' : 'first-message', session: session.id, user: replacing ? session.user.id : undefined, reason: outcome.kind === 'refused' ? outcome.reason : 'another user', remoteAddress: session.remoteAddress },
      'parley: authentication failed; session closed (4401)',
    )
    session.sendError('UNAUTHORIZED', replacing ? 'Token refresh rejected' : 'Authentication failed', message.id)
    session.close(CloseCode.Unauthorized, 'unauthorized')
    return
  }
  const { user } = outcome
  if (!replacing && users.count(user.id) >= options.limits.maxConnectionsPerUser) {
    session.close(CloseCode.TooManyConnections, 'too many connections for this user')
    return
  }
  session.clearTimers()
  if (!replacing) users.delete(session)
  session.user = user
  session.authenticated = true
  if (!replacing) users.add(session)
  armExpiry(session)
  if (message.id !== undefined) session.send({ type: 'ack', id: message.id })
}

/** Closes the session with 4419 when its credentials expire, unless a refresh moved `expiresAt` meanwhile. */
export function armExpiry(session: Session): void {
  const expiresAt = session.user.expiresAt
  if (typeof expiresAt !== 'number') return
  // setTimeout holds at most 2^31-1 ms; a later expiry is re-armed when that fires.
  const delay = Math.min(Math.max(0, expiresAt - Date.now()), 2_147_483_647)
  const timer = setTimeout(() => {
    session.timers.delete(timer)
    if (session.user.expiresAt !== expiresAt) return
    if (Date.now() >= expiresAt) session.close(CloseCode.TokenExpired, 'token expired')
    else armExpiry(session)
  }, delay)
  session.timers.add(timer)
}
