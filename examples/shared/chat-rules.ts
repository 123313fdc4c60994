/**
 * What the chat accepts, shared by the server (which enforces it) and the page (which checks early for a friendly
 * message): usernames, room names, the longest message. The shape of messages, presence and signals is the
 * contract's (./chat-contract.ts). Pure: no I/O, safe to bundle for the browser.
 */
import { ID_PATTERN } from '@parley/protocol'

/**
 * A username: the protocol's user id pattern (`[A-Za-z0-9_-.:~]`) minus `:`, at most 32 characters; it is the user
 * id, and the `sub` of the sign-in token. No `:` since the name itself was the token, sent in a WebSocket
 * subprotocol entry, where RFC 6455 §4.1 does not allow one; the rule stays so that every name keeps working.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.~-]{1,32}$/

/** A chat room: lowercase letters, digits and dashes, at most 32 characters (a subset of the protocol's room names). */
export const CHAT_ROOM_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/

/** Longest chat message, in characters. */
export const MAX_TEXT_LENGTH = 2_000

/** The reactions a message can get, in the order the page offers them. */
export const REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'] as const

/** One of {@link REACTIONS}. */
export type Reaction = (typeof REACTIONS)[number]

/** Is `name` a username the chat accepts? */
export function isUsername(name: unknown): name is string {
  return typeof name === 'string' && USERNAME_PATTERN.test(name) && ID_PATTERN.test(name)
}

/** Turns what someone typed ("Team Talk!") into a room name ("team-talk"), or `undefined` if nothing is left. */
export function toRoomName(input: string): string | undefined {
  const name = input
    .trim()
    .toLowerCase()
    .replace(/^#/, '')
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
  return CHAT_ROOM_PATTERN.test(name) ? name : undefined
}
