/**
 * The chat's contract (docs/typed-contract.md): what a message, a member's presence and the typing signal hold in
 * every chat room, and the request the page makes. One module, imported by the server (./chat-server.ts, which
 * refuses what breaks it with `VALIDATION_FAILED`), the page (./page/app.ts) and the Node bot (../node-bot/bot.ts),
 * whose clients check what arrives and get their types from it. The schemas are Valibot's: small, and only the
 * functions used here end up in the page's bundle. Pure: no I/O, safe to bundle for the browser.
 */
import { defineContract } from '@parley/protocol'
import * as v from 'valibot'
import { CHAT_ROOM_PATTERN, IMAGE_TYPES, MAX_IMAGE_BYTES, MAX_TEXT_LENGTH, REACTIONS } from './chat-rules.js'

/**
 * A chat message: its text (1-2000 characters, not only spaces) and the id the sending page gave it (used to
 * de-duplicate). A loose object: other keys pass as they are, as the load test's counters (`k`, `t`) and the
 * server's system lines (`system: true`) need; a strict one would refuse them, a plain one strip them.
 */
export const chatMessageSchema = v.looseObject({
  text: v.pipe(
    v.string(),
    v.check((text) => text.trim() !== '', 'Write something: the text is empty'),
    v.maxLength(MAX_TEXT_LENGTH, `At most ${MAX_TEXT_LENGTH} characters`),
  ),
  mid: v.optional(v.pipe(v.string(), v.maxLength(64))),
})

/** What a chat message carries. */
export type ChatMessage = v.InferOutput<typeof chatMessageSchema>

/**
 * A reaction, itself a room message so that it is ordered, stored in history and replayed like any other: one of
 * {@link REACTIONS} put on (`on: true`) or taken off a message, named by its epoch and seq. Strict: nothing else may
 * ride along. Which message it names is not checked by anyone but the pages, which count a user's reaction once and
 * ignore one to a message they do not have.
 */
export const chatReactionSchema = v.strictObject({
  reaction: v.strictObject({
    epoch: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
    seq: v.pipe(v.number(), v.integer(), v.minValue(1)),
    emoji: v.picklist(REACTIONS, `One of ${REACTIONS.join(' ')}`),
    on: v.boolean(),
  }),
})

/** What a reaction carries. */
export type ChatReaction = v.InferOutput<typeof chatReactionSchema>

/**
 * An image: what it is (type, file name, size in bytes), with the image itself as the message's bytes (protocol v2,
 * `publish(data, { bytes })`). The contract checks this description; the server's rules (chat-server.ts) check that
 * the bytes match it: as many as `size`, and of `type` by their signature.
 */
export const chatImageSchema = v.strictObject({
  image: v.strictObject({
    type: v.picklist(IMAGE_TYPES, `One of ${IMAGE_TYPES.join(', ')}`),
    name: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
    size: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_IMAGE_BYTES, `At most ${MAX_IMAGE_BYTES} bytes`)),
  }),
})

/** What an image message carries besides its bytes. */
export type ChatImage = v.InferOutput<typeof chatImageSchema>

/**
 * What a chat room's message may be: a reaction when it has a `reaction` key, an image when it has an `image` key,
 * else a chat message. Chosen by that key rather than tried in turn (a union), so a broken message is told what is
 * wrong with it (`text`: "Write something") rather than that it matched neither.
 */
export const chatRoomMessageSchema = v.lazy((input: unknown) =>
  typeof input !== 'object' || input === null ? chatMessageSchema : 'reaction' in input ? chatReactionSchema : 'image' in input ? chatImageSchema : chatMessageSchema,
)

/** A chat room's message: a chat message, a reaction or an image. */
export type ChatRoomMessage = ChatMessage | ChatReaction | ChatImage

/**
 * What each connection tells a room about itself: which client it is. `null` is a member that joined without
 * presence (the load test, a script): Parley records that as `null`, and clients check it like any other.
 */
export const chatPresenceSchema = v.nullable(v.object({ client: v.picklist(['web', 'bot']) }))

/** A member's presence in a chat room. */
export type ChatPresence = v.InferOutput<typeof chatPresenceSchema>

/** Is `data` a chat message? For what the contract does not check on arrival: history pages, search results, direct messages. */
export function isChatMessage(data: unknown): data is ChatMessage {
  return v.is(chatMessageSchema, data)
}

/** Is `data` an image's description? */
export function isChatImage(data: unknown): data is ChatImage {
  return v.is(chatImageSchema, data)
}

/** Is `data` a reaction? */
export function isChatReaction(data: unknown): data is ChatReaction {
  return v.is(chatReactionSchema, data)
}

/** The chat's contract: every room alike, and `rooms.list`. */
export const chatContract = defineContract({
  rooms: {
    // Every room: chat room names have no prefix to match on (`general`, `team-talk`); which names exist at all is
    // `authorize`'s call (CHAT_ROOM_PATTERN).
    '*': {
      message: chatRoomMessageSchema,
      presence: chatPresenceSchema,
      signals: { typing: v.boolean() },
    },
  },
  requests: {
    /** The active rooms with their member counts, busiest first: the page's rooms list. */
    'rooms.list': {
      input: v.object({}),
      output: v.object({
        rooms: v.array(v.object({ room: v.pipe(v.string(), v.regex(CHAT_ROOM_PATTERN)), members: v.pipe(v.number(), v.integer(), v.minValue(0)) })),
      }),
      timeoutMs: 5_000,
    },
  },
})

/** The type of {@link chatContract}, for `Client<ChatContract>`. */
export type ChatContract = typeof chatContract
