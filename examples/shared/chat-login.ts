/**
 * Signing in to the chat from a client: the page, the Node bot and the load test ask `POST /api/login` for a
 * short-lived token, give it to `createClient`, and ask again from `getToken`, which the client calls before every
 * reconnect and ahead of each token's expiry (it then sends the new token in band). Runs in browsers and in Node.
 */
import { AuthError } from '@parley/client-sdk'
import type { IssuedToken } from './chat-auth.js'

/**
 * A token for `username` from the chat's `POST /api/login` at `loginUrl` (a demo sign-in: the name is all it takes).
 * The server saying no (a bad or banned name) throws an AuthError, which also stops a client that asked through
 * `getToken`; any other failure (the server is unreachable, or answers something else) throws a plain Error, which
 * the client counts as a failed attempt and retries.
 */
export async function requestChatToken(loginUrl: string, username: string): Promise<IssuedToken> {
  const response = await fetch(loginUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username }),
    cache: 'no-store',
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await response.json().catch(() => ({}))) as Partial<IssuedToken & { message: string }>
  if (response.status === 400 || response.status === 403) throw new AuthError(body.message ?? `Sign-in refused (HTTP ${response.status})`)
  if (!response.ok || typeof body.token !== 'string' || typeof body.expiresAt !== 'number' || body.user !== username) {
    throw new Error(`Sign-in failed: ${loginUrl} answered HTTP ${response.status}`)
  }
  return { token: body.token, expiresAt: body.expiresAt, user: body.user }
}

/**
 * `createClient` options for a sign-in: its token opens the first connection, `getToken` (asking the server again)
 * every later one and each in-band refresh. The refresh comes 30 s (the SDK's default) ahead of expiry for the
 * chat's 15-minute tokens, or with a third of the lifetime left for shorter ones (`CHAT_TOKEN_TTL_SECONDS`), so it
 * never comes due the moment its token arrives.
 */
export function chatTokenOptions(first: IssuedToken, getToken: () => Promise<IssuedToken>) {
  return {
    token: first.token,
    tokenExpiresAt: first.expiresAt,
    getToken,
    refreshBeforeMs: Math.min(30_000, Math.max(0, Math.floor((first.expiresAt - Date.now()) / 3))),
  }
}
