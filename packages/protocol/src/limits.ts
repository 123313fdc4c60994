/**
 * Limits of protocol v1, as data. Both SDKs read them from here, the server may lower (never raise past what its
 * peers accept) the payload limit and announces what it enforces in `welcome.limits`.
 */
export interface ProtocolLimits {
  /** Largest frame accepted, in UTF-8 bytes. @default 65_536 */
  readonly maxPayload: number
  /** Longest room name, in characters. @default 128 */
  readonly maxRoomNameLength: number
  /** Longest request id (`id`) and signal key, in characters. @default 64 */
  readonly maxIdLength: number
  /** Longest token in an `authenticate` message, in characters. @default 4_096 */
  readonly maxTokenLength: number
  /** Deepest nesting of arrays and objects inside a message, counting the message itself as depth 1. @default 32 */
  readonly maxDepth: number
}

/** The defaults of {@link ProtocolLimits}. */
export const DEFAULT_LIMITS: ProtocolLimits = Object.freeze({
  maxPayload: 64 * 1024,
  maxRoomNameLength: 128,
  maxIdLength: 64,
  maxTokenLength: 4_096,
  maxDepth: 32,
})

/**
 * Characters allowed in a room name: ASCII letters, digits and `_ - . : / @ #`. Kept to ASCII so names are safe
 * in URLs, logs, Redis keys and metrics labels, and compare equal byte for byte everywhere.
 */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_\-.:/@#]+$/

/** Characters allowed in request ids (`id`) and signal keys: URL-safe ASCII, enough for UUIDs and nanoids. */
export const ID_PATTERN = /^[A-Za-z0-9_\-.:~]+$/

// Both patterns are one ASCII character class, repeated, with no flags: a string matches exactly when it is non-empty
// and each UTF-16 unit is in the class. Fields are checked on every message, so a 128-entry table built from the
// patterns themselves (one source of truth) answers instead of a regex call per field.
const ROOM_NAME_CHARS = charsMatching(ROOM_NAME_PATTERN)
const ID_CHARS = charsMatching(ID_PATTERN)

function charsMatching(pattern: RegExp): Uint8Array {
  const table = new Uint8Array(128)
  for (let code = 0; code < 128; code++) table[code] = pattern.test(String.fromCharCode(code)) ? 1 : 0
  return table
}

function isMadeOf(text: string, table: Uint8Array): boolean {
  const length = text.length
  if (length === 0) return false
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code > 127 || table[code] === 0) return false
  }
  return true
}

/** Same answer as `ROOM_NAME_PATTERN.test(text)`, without the regex. */
export function isRoomName(text: string): boolean {
  return isMadeOf(text, ROOM_NAME_CHARS)
}

/** Same answer as `ID_PATTERN.test(text)`, without the regex. */
export function isId(text: string): boolean {
  return isMadeOf(text, ID_CHARS)
}

/** Merges partial limits over the defaults. */
export function resolveLimits(limits?: Partial<ProtocolLimits>): ProtocolLimits {
  return limits === undefined ? DEFAULT_LIMITS : { ...DEFAULT_LIMITS, ...limits }
}

/**
 * {@link resolveLimits} for encode and decode, which run it on every frame and never hand the result out. Each of
 * the five limits comes from `limits` when it is an own enumerable property there, as a spread takes it (even when
 * `undefined`), and from {@link DEFAULT_LIMITS} otherwise. Other keys are not copied: nothing reads them.
 */
export function limitsFor(limits: Partial<ProtocolLimits> | undefined): ProtocolLimits {
  if (limits === undefined) return MERGED_DEFAULTS
  let merged = fixedMerges.get(limits)
  if (merged === undefined) {
    merged = mergeOverDefaults(limits)
    if (isFixed(limits)) fixedMerges.set(limits, merged)
  }
  return merged
}

// The SDKs pass the same few limits objects with every frame. When such an object cannot change (frozen, data
// properties only), its merge is kept and reused: a WeakMap look-up instead of five property checks and a new
// object per frame.
const fixedMerges = new WeakMap<object, ProtocolLimits>()

/** Frozen, with no getter that could answer differently next time: a merge of it stays right. */
function isFixed(limits: object): boolean {
  if (!Object.isFrozen(limits)) return false
  for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(limits))) if (!('value' in descriptor)) return false
  return true
}

const hasOwn = Object.prototype.hasOwnProperty
const isEnumerable = Object.prototype.propertyIsEnumerable
// propertyIsEnumerable alone would answer, but it is slow; hasOwnProperty first rules out the keys left out, cheaply.
const spreads = (limits: object, key: keyof ProtocolLimits): boolean => hasOwn.call(limits, key) && isEnumerable.call(limits, key)

// One object literal with static keys instead of `{ ...DEFAULT_LIMITS, ...limits }`: V8 copies a second spread
// through a generic slow path (measured at 2.5 times the cost of this literal), and every result has the same
// hidden class, the defaults included, so the reads of limits in the validators stay monomorphic.
function mergeOverDefaults(limits: Partial<ProtocolLimits>): ProtocolLimits {
  return {
    maxPayload: spreads(limits, 'maxPayload') ? (limits.maxPayload as number) : DEFAULT_LIMITS.maxPayload,
    maxRoomNameLength: spreads(limits, 'maxRoomNameLength') ? (limits.maxRoomNameLength as number) : DEFAULT_LIMITS.maxRoomNameLength,
    maxIdLength: spreads(limits, 'maxIdLength') ? (limits.maxIdLength as number) : DEFAULT_LIMITS.maxIdLength,
    maxTokenLength: spreads(limits, 'maxTokenLength') ? (limits.maxTokenLength as number) : DEFAULT_LIMITS.maxTokenLength,
    maxDepth: spreads(limits, 'maxDepth') ? (limits.maxDepth as number) : DEFAULT_LIMITS.maxDepth,
  }
}

/** The defaults as a merge result: the values of DEFAULT_LIMITS with the hidden class of every other merge. */
const MERGED_DEFAULTS: ProtocolLimits = mergeOverDefaults({})

/** Most messages one `history` or `search` request, or a join's `last`, may ask for. */
export const MAX_HISTORY_LIMIT = 500

/** Longest `search` text, in characters. */
export const MAX_SEARCH_LENGTH = 256

/** Most members one `members` page holds (the client's `limit`, and what a server answers). */
export const MAX_MEMBERS_PAGE = 1_000

/**
 * How far a server frame may exceed the `maxPayload` its clients send under: a `message` wraps a publish's `data`
 * in an envelope (room, seq, epoch, from, ts) that the publish did not have. Clients decode server frames with
 * `maxPayload + ENVELOPE_HEADROOM_BYTES`.
 */
export const ENVELOPE_HEADROOM_BYTES = 1_024

/** The largest server frame a client accepts, given the `maxPayload` announced in `welcome.limits`. */
export function serverFrameLimit(maxPayload: number): number {
  return maxPayload + ENVELOPE_HEADROOM_BYTES
}
