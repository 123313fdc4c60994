import { ParleyClientError } from './client-error.js'

/**
 * The states of a client, each with the client's action in it:
 *
 * - `connecting`: the first connection is being made (token, socket, handshake, `welcome`), failed attempts are
 *   retried with backoff; joins and publishes wait in the queue.
 * - `open`: the server's `welcome` arrived; rooms are (re-)joined, the queue is flushed, the heartbeat runs.
 * - `reconnecting`: an open connection was lost; the client waits out the backoff delay and tries again, as often
 *   as the policy allows, queueing publishes meanwhile; rooms are re-joined with their resume point once open.
 * - `closed`: final. `close()` was called, the server refused the client for good (authentication, version), or
 *   reconnecting gave up. Nothing is retried, pending publishes are rejected.
 */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** The one table of legal transitions: from each state, the states it may move to. */
export const STATE_TRANSITIONS: Readonly<Record<ClientState, readonly ClientState[]>> = Object.freeze({
  connecting: Object.freeze(['open', 'closed'] as const),
  open: Object.freeze(['reconnecting', 'closed'] as const),
  reconnecting: Object.freeze(['open', 'closed'] as const),
  closed: Object.freeze([] as const),
})

/** Is `from → to` in {@link STATE_TRANSITIONS}? */
export function canTransition(from: ClientState, to: ClientState): boolean {
  return STATE_TRANSITIONS[from].includes(to)
}

/** Returns `to` when the move is legal; throws otherwise (a bug in the client, never the app's or the server's). */
export function transition(from: ClientState, to: ClientState): ClientState {
  if (!canTransition(from, to)) throw new ParleyClientError('INVALID_STATE', `Illegal state transition ${from} → ${to}`)
  return to
}
