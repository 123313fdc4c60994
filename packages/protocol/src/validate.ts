import { BASE64_PATTERN } from './binary-frame.js'
import type { ErrorCode } from './error-codes.js'
import { describeType, isObject, isWellFormedString } from './guards.js'
import { isId, isRoomName, MAX_HISTORY_LIMIT, MAX_MEMBERS_PAGE, MAX_SEARCH_LENGTH, type ProtocolLimits } from './limits.js'
import type { ClientMessage, Direction, JsonValue, Message, PublishMessage, RoomMessage, ServerMessage } from './messages.js'
import { ProtocolError } from './protocol-error.js'
import { MAX_REQUEST_NAME_LENGTH, MAX_VALIDATION_ISSUES, REQUEST_NAME_PATTERN } from './contract.js'

/**
 * Validation of parsed messages. Each message type has a field table built from a few field readers; a reader
 * returns the checked value or throws a {@link ProtocolError} naming the message type, the field, what was expected
 * and what arrived. Unknown fields are dropped: the output holds the known fields only.
 */

interface Ctx {
  readonly limits: ProtocolLimits
  readonly type: string
  /** The whole message, whose `id` errors repeat when it is readable (looked up only when there is an error). */
  readonly message: Record<string, unknown>
}

type Reader<T> = (value: unknown, path: string, ctx: Ctx) => T

/** The message's `id` when it is a valid id, so an error can answer the request; otherwise `undefined`. */
function readableId(message: Record<string, unknown>, limits: ProtocolLimits): string | undefined {
  const raw = message['id']
  return typeof raw === 'string' && raw.length <= limits.maxIdLength && isId(raw) ? raw : undefined
}

/** Fields whose value an error never repeats: a credential must not reach logs, stats or an inspector through it. */
const SECRET_FIELD = /(^|\.)token$/

function fail(ctx: Ctx, code: ErrorCode, path: string, expected: string, value: unknown): never {
  const received = SECRET_FIELD.test(path) && typeof value === 'string' ? `a string of ${value.length} characters` : describeType(value)
  const id = readableId(ctx.message, ctx.limits)
  throw new ProtocolError(code, `${ctx.type}.${path}: expected ${expected}, got ${received}`, {
    messageType: ctx.type,
    field: path,
    expected,
    received,
    ...(id === undefined ? {} : { id }),
  })
}

const text =
  (expected: string, test: (value: string, ctx: Ctx) => boolean, code: ErrorCode = 'INVALID_FIELD'): Reader<string> =>
  (value, path, ctx) => {
    if (typeof value !== 'string' || !test(value, ctx)) fail(ctx, code, path, expected, value)
    return value
  }

// The value rules, as predicates shared by the field readers and the hot paths below, so both apply the same rule.
// Each is written as the negation of its reader's rejection test, so that odd limits (NaN, undefined from untyped
// callers) are answered the same way on both paths.

function isRoomValue(value: unknown, limits: ProtocolLimits): value is string {
  return typeof value === 'string' && !(value.length > limits.maxRoomNameLength) && isRoomName(value)
}

function isIdValue(value: unknown, limits: ProtocolLimits): value is string {
  return typeof value === 'string' && !(value.length > limits.maxIdLength) && isId(value)
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && !(value < min) && !(value > max)
}

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && !(value < 0)
}

const room: Reader<string> = (value, path, ctx) => {
  if (!isRoomValue(value, ctx.limits)) {
    const max = ctx.limits.maxRoomNameLength
    fail(ctx, 'ROOM_NAME_INVALID', path, `a room name of 1-${max} characters from [A-Za-z0-9_-.:/@#]`, value)
  }
  return value
}

const id: Reader<string> = (value, path, ctx) => {
  if (!isIdValue(value, ctx.limits)) {
    fail(ctx, 'INVALID_FIELD', path, `an id of 1-${ctx.limits.maxIdLength} characters from [A-Za-z0-9_-.:~]`, value)
  }
  return value
}

const token = text('a non-empty token of at most maxTokenLength characters', (v, ctx) => {
  return v.length > 0 && v.length <= ctx.limits.maxTokenLength
})
const nonEmpty = text('a non-empty string of at most 1024 characters', (v) => v.length > 0 && v.length <= 1024)
const message = text('a string of at most 1024 characters', (v) => v.length <= 1024)

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): Reader<number> =>
  (value, path, ctx) => {
    if (!isIntegerIn(value, min, max)) fail(ctx, 'INVALID_FIELD', path, `an integer from ${min} to ${max}`, value)
    return value
  }

const timestamp: Reader<number> = (value, path, ctx) => {
  if (!isTimestamp(value)) fail(ctx, 'INVALID_FIELD', path, 'a finite non-negative number', value)
  return value
}

const boolean: Reader<boolean> = (value, path, ctx) => {
  if (typeof value !== 'boolean') fail(ctx, 'INVALID_FIELD', path, 'a boolean', value)
  return value
}

/**
 * A message's bytes: a Uint8Array in memory (what encode turns into either form), base64 text in a text frame
 * (decode turns it into bytes once the shape is valid).
 */
const bytes: Reader<Uint8Array | string> = (value, path, ctx) => {
  if (value instanceof Uint8Array) return value
  if (typeof value !== 'string' || !BASE64_PATTERN.test(value)) fail(ctx, 'INVALID_FIELD', path, 'padded base64', value)
  return value
}

/** Any JSON value; its strings, keys and depth were already checked by {@link checkTree}. */
const json: Reader<JsonValue> = (value) => value as JsonValue

const oneOf =
  <T extends string>(...options: readonly T[]): Reader<T> =>
  (value, path, ctx) => {
    if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
      fail(ctx, 'INVALID_FIELD', path, `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`, value)
    }
    return value as T
  }

const nullable =
  <T>(reader: Reader<T>): Reader<T | null> =>
  (value, path, ctx) =>
    value === null ? null : reader(value, path, ctx)

const list =
  <T>(reader: Reader<T>, max = 100_000): Reader<T[]> =>
  (value, path, ctx) => {
    if (!Array.isArray(value) || value.length > max) fail(ctx, 'INVALID_FIELD', path, `an array`, value)
    return value.map((item, index) => reader(item, `${path}[${index}]`, ctx))
  }

/** How a field is read, and whether it may be absent. */
interface FieldSpec {
  readonly read: Reader<unknown>
  readonly optional: boolean
}
/** The fields of an object as written below: name → spec, in output order. */
type FieldSpecs = Readonly<Record<string, FieldSpec>>
/** The same, as the array {@link readFields} walks on every message (no `for...in` on the hot path). */
type Fields = ReadonlyArray<FieldSpec & { readonly name: string }>

const required = (read: Reader<unknown>): FieldSpec => ({ read, optional: false })
const optional = (read: Reader<unknown>): FieldSpec => ({ read, optional: true })
const fieldsOf = (specs: FieldSpecs): Fields => Object.entries(specs).map(([name, spec]) => ({ name, ...spec }))

const hasOwn = Object.prototype.hasOwnProperty

/** Reads `fields` of `source` into `out` (which may already hold `type`), throwing on the first bad field. */
function readFields(fields: Fields, source: Record<string, unknown>, prefix: string, ctx: Ctx, out: Record<string, unknown>): Record<string, unknown> {
  for (let i = 0; i < fields.length; i++) {
    const { name, read, optional } = fields[i] as Fields[number]
    const value = hasOwn.call(source, name) ? source[name] : undefined
    if (value === undefined) {
      if (optional) continue
      const path = prefix === '' ? name : `${prefix}.${name}`
      const id = readableId(ctx.message, ctx.limits)
      throw new ProtocolError('MISSING_FIELD', `${ctx.type}.${path}: required field is missing`, {
        messageType: ctx.type,
        field: path,
        expected: 'present',
        received: 'nothing',
        ...(id === undefined ? {} : { id }),
      })
    }
    out[name] = read(value, prefix === '' ? name : `${prefix}.${name}`, ctx)
  }
  return out
}

const object = (specs: FieldSpecs): Reader<Record<string, unknown>> => {
  const fields = fieldsOf(specs)
  return (value, path, ctx) => {
    if (!isObject(value)) fail(ctx, 'INVALID_FIELD', path, 'an object', value)
    return readFields(fields, value, path, ctx, {})
  }
}

const resume = object({ epoch: required(id), seq: required(integer(0)) })
const member = object({ user: required(id), presence: required(json), connections: required(integer(0)) })
const gap = object({
  reason: required(oneOf('window-exceeded', 'epoch-changed', 'history-unavailable')),
  from: optional(integer(1)),
  to: optional(integer(0)),
})

const historyEntry = object({
  epoch: required(id),
  seq: required(integer(1)),
  from: required(nullable(id)),
  ts: required(timestamp),
  bytes: optional(bytes),
  data: required(json),
})
const historyGap = object({ epoch: required(id), from: required(integer(1)), to: required(integer(1)) })
const historyLimit = integer(1, MAX_HISTORY_LIMIT)
const requestName = text(`a request name of 1-${MAX_REQUEST_NAME_LENGTH} characters from [A-Za-z0-9_-.:/]`, (v) => v.length <= MAX_REQUEST_NAME_LENGTH && REQUEST_NAME_PATTERN.test(v))
const issue = object({ path: required(message), message: required(message) })
const searchText = text(`a search text of 1-${MAX_SEARCH_LENGTH} characters`, (v) => v.length > 0 && v.length <= MAX_SEARCH_LENGTH)

/** Longest signal TTL: signals are ephemeral by definition. */
export const MAX_SIGNAL_TTL_MS = 60_000

const CLIENT_FIELDS: Readonly<Record<ClientMessage['type'], FieldSpecs>> = {
  authenticate: { token: required(token), id: optional(id) },
  join: { room: required(room), id: optional(id), resume: optional(resume), presence: optional(json), last: optional(historyLimit), batch: optional(boolean) },
  leave: { room: required(room), id: optional(id) },
  publish: { room: required(room), bytes: optional(bytes), data: required(json), id: optional(id), echo: optional(boolean) },
  signal: { room: required(room), key: required(id), value: required(json), ttlMs: optional(integer(1, MAX_SIGNAL_TTL_MS)) },
  'presence-update': { room: required(room), presence: required(json), id: optional(id) },
  ping: { id: optional(id), ts: optional(timestamp) },
  history: { room: required(room), id: required(id), before: optional(resume), limit: optional(historyLimit) },
  search: { room: required(room), id: required(id), text: required(searchText), before: optional(resume), limit: optional(historyLimit) },
  request: { id: required(id), name: required(requestName), input: required(json) },
  members: { room: required(room), id: required(id), after: optional(id), limit: optional(integer(1, MAX_MEMBERS_PAGE)) },
}

const SERVER_FIELDS: Readonly<Record<ServerMessage['type'], FieldSpecs>> = {
  welcome: {
    session: required(id),
    protocol: required(nonEmpty),
    version: required(integer(1)),
    heartbeat: required(object({ intervalMs: required(integer(1)), timeoutMs: required(integer(1)) })),
    limits: required(
      object({
        maxPayload: required(integer(1)),
        maxRooms: required(integer(1)),
        rate: required(object({ messages: required(integer(1)), perMs: required(integer(1)) })),
      }),
    ),
    capabilities: required(list(id, 64)),
    user: optional(id),
  },
  joined: {
    room: required(room),
    id: optional(id),
    epoch: required(id),
    seq: required(integer(0)),
    members: required(list(member)),
    memberCount: optional(integer(0)),
    recovery: required(
      nullable(object({ recovered: required(boolean), replayed: required(integer(0)), gap: required(nullable(gap)) })),
    ),
  },
  left: { room: required(room), id: optional(id), reason: optional(message) },
  message: {
    room: required(room),
    seq: required(integer(1)),
    epoch: required(id),
    from: required(nullable(id)),
    ts: required(timestamp),
    bytes: optional(bytes),
    data: required(json),
  },
  direct: { from: required(nullable(id)), ts: required(timestamp), data: required(json) },
  presence: { room: required(room), event: required(oneOf('join', 'leave', 'update')), member: required(member) },
  presences: {
    room: required(room),
    events: required(list(object({ event: required(oneOf('join', 'leave', 'update')), member: required(member) }))),
    omitted: optional(object({ join: required(integer(0)), leave: required(integer(0)), update: required(integer(0)) })),
  },
  signal: {
    room: required(room),
    from: required(id),
    key: required(id),
    value: required(json),
    ttlMs: required(integer(0, MAX_SIGNAL_TTL_MS)),
  },
  ack: {
    id: required(id),
    room: optional(room),
    seq: optional(integer(1)),
    epoch: optional(id),
    duplicate: optional(boolean),
  },
  error: {
    code: required(text('an error code such as "INVALID_FIELD"', (v) => /^[A-Z][A-Z0-9_]{0,63}$/.test(v))),
    message: required(message),
    id: optional(id),
    room: optional(room),
    issues: optional(list(issue, MAX_VALIDATION_ISSUES)),
  },
  pong: { id: optional(id), ts: optional(timestamp) },
  history: {
    room: required(room),
    id: required(id),
    messages: required(list(historyEntry, MAX_HISTORY_LIMIT)),
    more: required(boolean),
    gaps: required(list(historyGap, MAX_HISTORY_LIMIT)),
  },
  response: { id: required(id), output: required(json) },
  members: { room: required(room), id: required(id), members: required(list(member, MAX_MEMBERS_PAGE)), next: optional(id) },
}

const compile = (table: Readonly<Record<string, FieldSpecs>>): ReadonlyMap<string, Fields> =>
  new Map(Object.entries(table).map(([type, specs]) => [type, fieldsOf(specs)]))

/** Each direction's message types, in catalogue order, with their fields. A Map: a `type` such as `toString` finds nothing. */
const FIELDS: Readonly<Record<Direction, ReadonlyMap<string, Fields>>> = {
  client: compile(CLIENT_FIELDS),
  server: compile(SERVER_FIELDS),
}

/**
 * One pass over the whole tree: nesting depth, lone surrogates in strings and keys, and `__proto__` keys. Iterative,
 * so hostile nesting cannot overflow the stack.
 */
export function checkTree(root: unknown, limits: ProtocolLimits, outgoing = false): ProtocolError | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 1 }]
  while (stack.length > 0) {
    const { value, depth } = stack.pop() as { value: unknown; depth: number }
    if (typeof value === 'string') {
      if (!isWellFormedString(value)) return new ProtocolError('INVALID_UNICODE', 'A string holds a lone UTF-16 surrogate')
      continue
    }
    // Parsed JSON only holds JSON values; values built in code may not, and JSON.stringify would drop or mangle them.
    if (outgoing && !isJsonScalar(value) && (typeof value !== 'object' || value === null || (!Array.isArray(value) && !isPlainObject(value)))) {
      return new ProtocolError('INVALID_FIELD', `Not a JSON value: ${describeType(value)}`, {
        expected: 'a JSON value',
        received: describeType(value),
      })
    }
    if (typeof value !== 'object' || value === null) continue
    if (depth > limits.maxDepth) {
      return new ProtocolError('NESTING_TOO_DEEP', `Message nests deeper than maxDepth (${limits.maxDepth})`, {
        expected: `at most ${limits.maxDepth} levels`,
      })
    }
    if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'number' && !Number.isFinite(item)) return numberOutOfRange()
        if (outgoing || typeof item === 'object' || typeof item === 'string') stack.push({ value: item, depth: depth + 1 })
      }
      continue
    }
    for (const key in value) {
      if (key === '__proto__') {
        return new ProtocolError('FORBIDDEN_KEY', 'Object key "__proto__" is not allowed (prototype pollution)', {
          received: '__proto__',
        })
      }
      if (!isWellFormedString(key)) return new ProtocolError('INVALID_UNICODE', 'An object key holds a lone UTF-16 surrogate')
      const item = (value as Record<string, unknown>)[key]
      // An undefined property is left out by JSON.stringify, as users of JSON expect.
      if (item === undefined) continue
      if (typeof item === 'number' && !Number.isFinite(item)) return numberOutOfRange()
      if (outgoing || typeof item === 'object' || typeof item === 'string') stack.push({ value: item, depth: depth + 1 })
    }
  }
  return undefined
}

/**
 * JSON.parse reads a literal past the double range (`1e400`) as Infinity, which JSON cannot carry back out: such a
 * number is refused on the way in, as encode refuses it on the way out.
 */
function numberOutOfRange(): ProtocolError {
  return new ProtocolError('INVALID_FIELD', 'A number is out of range: it overflows to Infinity', {
    expected: 'a finite number',
    received: 'Infinity',
  })
}

/**
 * A cheaper proof that {@link checkTree} would pass on `parsed`, the result of `JSON.parse(frame)`: `true` proves
 * it, `false` only means "run checkTree", which then finds and words the fault. `decode` asks this first, because
 * nearly every frame passes and the full walk is a large part of the cost of decoding.
 *
 * - Strings: a parsed string or key holds the frame's own characters, and what its escapes stand for. A surrogate
 *   pair cannot straddle a quote, so a well-formed frame adds no lone surrogate; only a `\uD800`-`\uDFFF` escape
 *   can, and a frame without one (most frames: `\u00e9`-style escapes from ASCII-only encoders are fine) needs
 *   no string checked one by one.
 * - Keys, depth and numbers: a walk over the arrays and objects, with the same `for...in`, `__proto__`, depth and
 *   overflowing-number rules as checkTree (escapes cannot hide a `__proto__` key from it: it compares the parsed keys).
 */
export function parsedFramePassesTreeCheck(frame: string, parsed: unknown, maxDepth: number): boolean {
  if (!isWellFormedString(frame) || (frame.includes('\\u') && SURROGATE_ESCAPE.test(frame))) return false
  return containersPass(parsed, 1, maxDepth)
}

/** A JSON escape of a UTF-16 surrogate, `\uD800` to `\uDFFF` (matched even after an escaped backslash: harmless). */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/

/** The nesting at which {@link containersPass} gives up and leaves the tree to checkTree, which is iterative. */
const MAX_RECURSION = 64

function containersPass(value: unknown, depth: number, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return true
  if (depth > maxDepth || depth > MAX_RECURSION) return false
  if (Array.isArray(value)) {
    for (let i = 0, length = value.length; i < length; i++) {
      const item: unknown = value[i]
      if (typeof item === 'object' ? item !== null && !containersPass(item, depth + 1, maxDepth) : typeof item === 'number' && !Number.isFinite(item)) return false
    }
    return true
  }
  for (const key in value) {
    if (key === '__proto__') return false
    const item = (value as Record<string, unknown>)[key]
    if (typeof item === 'object' ? item !== null && !containersPass(item, depth + 1, maxDepth) : typeof item === 'number' && !Number.isFinite(item)) return false
  }
  return true
}

/**
 * {@link checkTree}'s outgoing check (JSON values only, plain objects, well-formed strings and keys, finite numbers,
 * no `__proto__`, within `maxDepth`) as a yes or no, recursively and without allocating: every message a server
 * sends goes through it. On "no" (or past the recursion cap), {@link checkTree} runs to name the fault.
 */
export function outgoingTreePasses(value: unknown, depth: number, maxDepth: number): boolean {
  switch (typeof value) {
    case 'string':
      return isWellFormedString(value)
    case 'number':
      return Number.isFinite(value)
    case 'boolean':
      return true
    case 'object':
      break
    default:
      return false
  }
  if (value === null) return true
  if (depth > maxDepth || depth > MAX_RECURSION) return false
  if (Array.isArray(value)) {
    for (let i = 0, length = value.length; i < length; i++) if (!outgoingTreePasses(value[i], depth + 1, maxDepth)) return false
    return true
  }
  if (!isPlainObject(value)) return false
  for (const key in value) {
    if (key === '__proto__' || !isWellFormedString(key)) return false
    const item = (value as Record<string, unknown>)[key]
    if (item !== undefined && !outgoingTreePasses(item, depth + 1, maxDepth)) return false
  }
  return true
}

function isJsonScalar(value: unknown): boolean {
  return value === null || typeof value === 'boolean' || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Validates a parsed value as a message sent by `from`. Returns the message with known fields only, or a
 * {@link ProtocolError}. Never throws.
 */
export function validateMessage(value: unknown, from: 'client', limits: ProtocolLimits): ClientMessage | ProtocolError
export function validateMessage(value: unknown, from: 'server', limits: ProtocolLimits): ServerMessage | ProtocolError
export function validateMessage(value: unknown, from: Direction, limits: ProtocolLimits): Message | ProtocolError
export function validateMessage(value: unknown, from: Direction, limits: ProtocolLimits): Message | ProtocolError {
  // A message's own bytes are not JSON and need no tree walk (64 KiB of indices); the shape check still reads them.
  const tree = isObject(value) && value['bytes'] instanceof Uint8Array ? { ...value, bytes: '' } : value
  const treeError = checkTree(tree, limits)
  if (treeError !== undefined) return treeError
  return validateShape(value, from, limits)
}

/** {@link validateMessage} without the tree pass, for callers that have run {@link checkTree} already. */
export function validateShape(value: unknown, from: Direction, limits: ProtocolLimits): Message | ProtocolError {
  if (isObject(value)) {
    // The hot paths first: a hit skips only the table lookup and the generic field loop.
    const type = value['type']
    const hot = from === 'client' ? (type === 'publish' ? publishFromClient(value, limits) : undefined) : type === 'message' ? messageFromServer(value, limits) : undefined
    if (hot !== undefined) return hot
  }
  return validateShapeByTable(value, from, limits)
}

/** {@link validateShape} by the field tables alone: the reference the hot paths are tested against. */
export function validateShapeByTable(value: unknown, from: Direction, limits: ProtocolLimits): Message | ProtocolError {
  if (!isObject(value)) {
    return new ProtocolError('UNKNOWN_TYPE', `Expected a message object with a "type", got ${describeType(value)}`, {
      field: 'type',
      expected: 'an object',
      received: describeType(value),
    })
  }
  const type = value['type']
  const fields = typeof type === 'string' ? FIELDS[from].get(type) : undefined
  if (fields === undefined) {
    const known = messageTypes(from).join(', ')
    const id = readableId(value, limits)
    return new ProtocolError('UNKNOWN_TYPE', `Unknown ${from} message type ${describeType(type)}; expected one of ${known}`, {
      field: 'type',
      expected: `one of ${known}`,
      received: describeType(type),
      ...(id === undefined ? {} : { id }),
    })
  }
  try {
    // `type` first, then the known fields in table order: the same object as spreading the fields after `type`.
    const out = readFields(fields, value, '', { limits, type: type as string, message: value }, { type })
    return out as unknown as Message
  } catch (error) {
    if (error instanceof ProtocolError) return error
    return new ProtocolError('INVALID_FIELD', `${String(type)}: ${String(error)}`)
  }
}

/** The `type`s a direction accepts. */
export function messageTypes(from: Direction): readonly string[] {
  return [...FIELDS[from].keys()]
}

/*
 * Hot paths. Every message a user sends reaches a server as a `publish`, and every room message leaves it (and
 * reaches each client) as a `message`. The field tables above read and write properties by computed name, which V8
 * can only serve through its slow megamorphic caches; these two functions are the same tables written out with
 * static names. Each returns the validated message only when every field is valid, and `undefined` otherwise, and
 * then the table path runs and words the error: the hot paths can make a valid message faster, never an answer
 * different. They must list the same fields, in the same order, with the same rules as the tables (see
 * test/fast-paths.test.ts). Properties count only when own, as in readFields.
 */

/** The table path's `publish` from a client: `{ room, data, id?, echo? }`. */
function publishFromClient(m: Record<string, unknown>, limits: ProtocolLimits): PublishMessage | undefined {
  const room = m['room']
  const data = m['data']
  const id = m['id']
  const echo = m['echo']
  // The tables count own properties only. A plain object (all JSON.parse makes) can inherit a field only from
  // Object.prototype, so while that holds none of these names (always, unless polluted) a defined value is own and
  // the hasOwnProperty calls can be skipped. `in` rather than a read, so a getter planted there is never run.
  const own =
    Object.getPrototypeOf(m) === Object.prototype &&
    !('room' in Object.prototype) &&
    !('data' in Object.prototype) &&
    !('id' in Object.prototype) &&
    !('echo' in Object.prototype)
  // A publish with bytes takes the table path: the hot path is for the common message, JSON alone.
  if (!isRoomValue(room, limits) || data === undefined || m['bytes'] !== undefined || (!own && (!hasOwn.call(m, 'room') || !hasOwn.call(m, 'data')))) return undefined
  const hasId = id !== undefined && (own || hasOwn.call(m, 'id'))
  const hasEcho = echo !== undefined && (own || hasOwn.call(m, 'echo'))
  if ((hasId && !isIdValue(id, limits)) || (hasEcho && typeof echo !== 'boolean')) return undefined
  const json = data as JsonValue
  // One literal per combination of optional fields: each gets its final shape at once, with no property added later.
  if (hasId) {
    return hasEcho ? { type: 'publish', room, data: json, id: id as string, echo: echo as boolean } : { type: 'publish', room, data: json, id: id as string }
  }
  return hasEcho ? { type: 'publish', room, data: json, echo: echo as boolean } : { type: 'publish', room, data: json }
}

/** The table path's `message` from a server: `{ room, seq, epoch, from, ts, data }`, all required. */
function messageFromServer(m: Record<string, unknown>, limits: ProtocolLimits): RoomMessage | undefined {
  const room = m['room']
  const seq = m['seq']
  const epoch = m['epoch']
  const from = m['from']
  const ts = m['ts']
  const data = m['data']
  if (
    !isRoomValue(room, limits) ||
    !isIntegerIn(seq, 1, Number.MAX_SAFE_INTEGER) ||
    !isIdValue(epoch, limits) ||
    (from !== null && !isIdValue(from, limits)) ||
    !isTimestamp(ts) ||
    data === undefined ||
    m['bytes'] !== undefined
  ) {
    return undefined
  }
  // As in publishFromClient: defined values are own when nothing up the (plain) prototype chain holds these names.
  const allOwn =
    (Object.getPrototypeOf(m) === Object.prototype &&
      !('room' in Object.prototype) &&
      !('seq' in Object.prototype) &&
      !('epoch' in Object.prototype) &&
      !('from' in Object.prototype) &&
      !('ts' in Object.prototype) &&
      !('data' in Object.prototype)) ||
    (hasOwn.call(m, 'room') && hasOwn.call(m, 'seq') && hasOwn.call(m, 'epoch') && hasOwn.call(m, 'from') && hasOwn.call(m, 'ts') && hasOwn.call(m, 'data'))
  return allOwn ? { type: 'message', room, seq, epoch, from, ts, data: data as JsonValue } : undefined
}
