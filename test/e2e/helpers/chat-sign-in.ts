/**
 * Signing a Node client in to a chat example as the page does: a short-lived JWT from its `POST /api/login`, given
 * to `createClient` with a `getToken` that asks again (before each reconnect, and ahead of expiry for the in-band
 * refresh).
 */
import type { IssuedToken } from '../../../examples/shared/chat-auth.js'
import { chatTokenOptions, requestChatToken } from '../../../examples/shared/chat-login.js'
import type { ChatServer } from './processes.js'

/** A token for `user` from the chat's `POST /api/login`. */
export function login(server: Pick<ChatServer, 'httpUrl'>, user: string): Promise<IssuedToken> {
  return requestChatToken(`${server.httpUrl}/api/login`, user)
}

/** `createClient` options that sign `user` in and keep the token fresh. */
export async function signedIn(server: Pick<ChatServer, 'httpUrl'>, user: string): Promise<ReturnType<typeof chatTokenOptions>> {
  return chatTokenOptions(await login(server, user), () => login(server, user))
}
