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

/** The image types the chat shows inline. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const

/** One of {@link IMAGE_TYPES}. */
export type ImageType = (typeof IMAGE_TYPES)[number]

/**
 * Largest image, in bytes. It travels as protocol v2 bytes (a binary frame; base64 on the HTTP stream and in history
 * pages), which count against `maxPayload` as base64: {@link CHAT_MAX_PAYLOAD} leaves room for that and the caption.
 */
export const MAX_IMAGE_BYTES = 96 * 1024

/** The chat server's `limits.maxPayload`: an image of {@link MAX_IMAGE_BYTES} as base64 (128 KiB) and its metadata. */
export const CHAT_MAX_PAYLOAD = 136 * 1024

/** The bytes an image of each type starts with (its file signature); `-1` is any byte. */
const SIGNATURES: ReadonlyArray<readonly [ImageType, readonly number[]]> = [
  ['image/png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['image/jpeg', [0xff, 0xd8, 0xff]],
  ['image/gif', [0x47, 0x49, 0x46, 0x38, -1, 0x61]],
  ['image/webp', [0x52, 0x49, 0x46, 0x46, -1, -1, -1, -1, 0x57, 0x45, 0x42, 0x50]],
]

/** The image type `bytes` are, read from their signature (not from a name or a claimed type), or undefined. */
export function imageTypeOf(bytes: Uint8Array): ImageType | undefined {
  for (const [type, signature] of SIGNATURES) {
    if (bytes.byteLength >= signature.length && signature.every((byte, i) => byte === -1 || bytes[i] === byte)) return type
  }
  return undefined
}

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
