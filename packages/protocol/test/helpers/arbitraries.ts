import fc from 'fast-check'
import {
  MAX_HISTORY_LIMIT,
  MAX_SEARCH_LENGTH,
  MAX_MEMBERS_PAGE,
  MAX_SIGNAL_TTL_MS,
  type ClientMessage,
  type ClientMessageOf,
  type JsonValue,
  type Message,
  type ServerMessage,
  type ServerMessageOf,
} from '@parley/protocol'
import { hasProtoKey } from './tree.js'

/**
 * fast-check arbitraries that produce only valid protocol v1 messages (under the default limits), one per message
 * type and direction, plus the required-field table the decoder is expected to enforce.
 */

/** The characters from `first` to `last` inclusive. */
const range = (first: string, last: string): string[] =>
  Array.from({ length: last.charCodeAt(0) - first.charCodeAt(0) + 1 }, (_, i) => String.fromCharCode(first.charCodeAt(0) + i))
const UPPER = range('A', 'Z')
const DIGITS = range('0', '9')
const ALNUM = [...UPPER, ...range('a', 'z'), ...DIGITS]
export const ROOM_CHARS: readonly string[] = Object.freeze([...ALNUM, '_', '-', '.', ':', '/', '@', '#'])
export const ID_CHARS: readonly string[] = Object.freeze([...ALNUM, '_', '-', '.', ':', '~'])

const fromChars = (set: readonly string[], minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...set), minLength, maxLength: Math.min(maxLength, 24) }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...set), minLength: maxLength, maxLength }) },
  )

export const roomArb: fc.Arbitrary<string> = fromChars(ROOM_CHARS, 1, 128)
export const idArb: fc.Arbitrary<string> = fromChars(ID_CHARS, 1, 64)

/** A safe integer in [min, max], biased to the bounds. */
export const safeIntArb = (min: number, max: number = Number.MAX_SAFE_INTEGER): fc.Arbitrary<number> =>
  fc.oneof(
    fc.constantFrom(min, max),
    fc.integer({ min, max: Math.min(max, min + 1_000) }),
    fc.maxSafeNat().map((n) => min + (n % (max - min + 1))),
  )

/** A finite non-negative number, never -0 (which JSON cannot carry). */
export const timestampArb: fc.Arbitrary<number> = fc
  .oneof(fc.constant(0), fc.maxSafeNat(), fc.double({ min: 0, max: 1e300, noNaN: true }))
  .map((n) => (n === 0 ? 0 : n))

/** Free text: any well-formed string, short enough for every text field even in UTF-16 code units. */
export const textArb: fc.Arbitrary<string> = fc.string({ unit: 'binary', maxLength: 200 })
export const nonEmptyTextArb: fc.Arbitrary<string> = fc.string({ unit: 'binary', minLength: 1, maxLength: 200 })

/** Any JSON value as JSON.parse would return it: no -0, no lone surrogates, no "__proto__" key, shallow. */
export const jsonArb: fc.Arbitrary<JsonValue> = fc
  .jsonValue({ maxDepth: 4, stringUnit: 'binary' })
  .map((value) => JSON.parse(JSON.stringify(value)) as JsonValue)
  .filter((value) => !hasProtoKey(value))

const resumeArb = fc.record({ epoch: idArb, seq: safeIntArb(0) })
const memberArb = fc.record({ user: idArb, presence: jsonArb, connections: safeIntArb(0) })
const gapArb = fc.record(
  {
    reason: fc.constantFrom('window-exceeded' as const, 'epoch-changed' as const, 'history-unavailable' as const),
    from: safeIntArb(1),
    to: safeIntArb(0),
  },
  { requiredKeys: ['reason'] },
)
const recoveryArb = fc.record({ recovered: fc.boolean(), replayed: safeIntArb(0), gap: fc.option(gapArb, { nil: null }) })
const errorCodeArb = fc
  .tuple(fc.constantFrom(...UPPER), fc.string({ unit: fc.constantFrom(...UPPER, ...DIGITS, '_'), maxLength: 63 }))
  .map(([head, tail]) => head + tail)

type ClientArbs = { readonly [T in ClientMessage['type']]: fc.Arbitrary<ClientMessageOf<T>> }
type ServerArbs = { readonly [T in ServerMessage['type']]: fc.Arbitrary<ServerMessageOf<T>> }

/** One arbitrary per client message type, covering every optional field present and absent. */
export const clientMessageArbs: ClientArbs = {
  authenticate: fc.record(
    { type: fc.constant('authenticate'), token: nonEmptyTextArb, id: idArb },
    { requiredKeys: ['type', 'token'] },
  ),
  join: fc.record(
    { type: fc.constant('join'), room: roomArb, id: idArb, resume: resumeArb, presence: jsonArb, last: safeIntArb(1, MAX_HISTORY_LIMIT), batch: fc.boolean() },
    { requiredKeys: ['type', 'room'] },
  ),
  leave: fc.record({ type: fc.constant('leave'), room: roomArb, id: idArb }, { requiredKeys: ['type', 'room'] }),
  publish: fc.record(
    { type: fc.constant('publish'), room: roomArb, data: jsonArb, id: idArb, echo: fc.boolean() },
    { requiredKeys: ['type', 'room', 'data'] },
  ),
  signal: fc.record(
    { type: fc.constant('signal'), room: roomArb, key: idArb, value: jsonArb, ttlMs: safeIntArb(1, MAX_SIGNAL_TTL_MS) },
    { requiredKeys: ['type', 'room', 'key', 'value'] },
  ),
  'presence-update': fc.record(
    { type: fc.constant('presence-update'), room: roomArb, presence: jsonArb, id: idArb },
    { requiredKeys: ['type', 'room', 'presence'] },
  ),
  ping: fc.record({ type: fc.constant('ping'), id: idArb, ts: timestampArb }, { requiredKeys: ['type'] }),
  history: fc.record(
    { type: fc.constant('history'), room: roomArb, id: idArb, before: resumeArb, limit: safeIntArb(1, MAX_HISTORY_LIMIT) },
    { requiredKeys: ['type', 'room', 'id'] },
  ),
  search: fc.record(
    {
      type: fc.constant('search'),
      room: roomArb,
      id: idArb,
      text: fc.string({ unit: 'binary', minLength: 1, maxLength: MAX_SEARCH_LENGTH }).filter((t) => t.length <= MAX_SEARCH_LENGTH),
      before: resumeArb,
      limit: safeIntArb(1, MAX_HISTORY_LIMIT),
    },
    { requiredKeys: ['type', 'room', 'id', 'text'] },
  ),
  request: fc.record({ type: fc.constant('request'), id: idArb, name: fc.stringMatching(/^[A-Za-z0-9_\-.:/]{1,128}$/), input: jsonArb }),
  members: fc.record(
    { type: fc.constant('members'), room: roomArb, id: idArb, after: idArb, limit: safeIntArb(1, MAX_MEMBERS_PAGE) },
    { requiredKeys: ['type', 'room', 'id'] },
  ),
}

/** One arbitrary per server message type, covering every optional field present and absent. */
export const serverMessageArbs: ServerArbs = {
  welcome: fc.record(
    {
      type: fc.constant('welcome'),
      session: idArb,
      protocol: nonEmptyTextArb,
      version: safeIntArb(1),
      heartbeat: fc.record({ intervalMs: safeIntArb(1), timeoutMs: safeIntArb(1) }),
      limits: fc.record({
        maxPayload: safeIntArb(1),
        maxRooms: safeIntArb(1),
        rate: fc.record({ messages: safeIntArb(1), perMs: safeIntArb(1) }),
      }),
      capabilities: fc.array(idArb, { maxLength: 64 }),
      user: idArb,
    },
    { requiredKeys: ['type', 'session', 'protocol', 'version', 'heartbeat', 'limits', 'capabilities'] },
  ),
  joined: fc.record(
    {
      type: fc.constant('joined'),
      room: roomArb,
      id: idArb,
      epoch: idArb,
      seq: safeIntArb(0),
      members: fc.array(memberArb, { maxLength: 5 }),
      memberCount: safeIntArb(0),
      recovery: fc.option(recoveryArb, { nil: null }),
    },
    { requiredKeys: ['type', 'room', 'epoch', 'seq', 'members', 'recovery'] },
  ),
  left: fc.record({ type: fc.constant('left'), room: roomArb, id: idArb, reason: textArb }, { requiredKeys: ['type', 'room'] }),
  message: fc.record({
    type: fc.constant('message'),
    room: roomArb,
    seq: safeIntArb(1),
    epoch: idArb,
    from: fc.option(idArb, { nil: null }),
    ts: timestampArb,
    data: jsonArb,
  }),
  direct: fc.record({ type: fc.constant('direct'), from: fc.option(idArb, { nil: null }), ts: timestampArb, data: jsonArb }),
  presence: fc.record({
    type: fc.constant('presence'),
    room: roomArb,
    event: fc.constantFrom('join' as const, 'leave' as const, 'update' as const),
    member: memberArb,
  }),
  signal: fc.record({
    type: fc.constant('signal'),
    room: roomArb,
    from: idArb,
    key: idArb,
    value: jsonArb,
    ttlMs: safeIntArb(0, MAX_SIGNAL_TTL_MS),
  }),
  ack: fc.record(
    { type: fc.constant('ack'), id: idArb, room: roomArb, seq: safeIntArb(1), epoch: idArb, duplicate: fc.boolean() },
    { requiredKeys: ['type', 'id'] },
  ),
  error: fc.record(
    {
      type: fc.constant('error'),
      code: errorCodeArb,
      message: textArb,
      id: idArb,
      room: roomArb,
      issues: fc.array(fc.record({ path: textArb, message: textArb }), { maxLength: 3 }),
    },
    { requiredKeys: ['type', 'code', 'message'] },
  ),
  pong: fc.record({ type: fc.constant('pong'), id: idArb, ts: timestampArb }, { requiredKeys: ['type'] }),
  history: fc.record({
    type: fc.constant('history'),
    room: roomArb,
    id: idArb,
    messages: fc.array(
      fc.record({ epoch: idArb, seq: safeIntArb(1), from: fc.option(idArb, { nil: null }), ts: timestampArb, data: jsonArb }),
      { maxLength: 5 },
    ),
    more: fc.boolean(),
    gaps: fc.array(fc.record({ epoch: idArb, from: safeIntArb(1), to: safeIntArb(1) }), { maxLength: 3 }),
  }),
  response: fc.record({ type: fc.constant('response'), id: idArb, output: jsonArb }),
  members: fc.record(
    { type: fc.constant('members'), room: roomArb, id: idArb, members: fc.array(memberArb, { maxLength: 5 }), next: idArb },
    { requiredKeys: ['type', 'room', 'id', 'members'] },
  ),
  presences: fc.record({
    type: fc.constant('presences'),
    room: roomArb,
    events: fc.array(fc.record({ event: fc.constantFrom('join' as const, 'leave' as const, 'update' as const), member: memberArb }), { maxLength: 5 }),
  }),
}

/** Any valid client message. */
export const clientMessageArb: fc.Arbitrary<ClientMessage> = fc.oneof(...Object.values(clientMessageArbs))
/** Any valid server message. */
export const serverMessageArb: fc.Arbitrary<ServerMessage> = fc.oneof(...Object.values(serverMessageArbs))
/** Any valid message with its direction. */
export const directedMessageArb: fc.Arbitrary<{ from: 'client' | 'server'; message: Message }> = fc.oneof(
  clientMessageArb.map((message) => ({ from: 'client' as const, message })),
  serverMessageArb.map((message) => ({ from: 'server' as const, message })),
)

/** The fields each message type requires (besides `type`): what the decoder answers MISSING_FIELD for. */
export const REQUIRED_FIELDS: {
  readonly client: { readonly [T in ClientMessage['type']]: readonly (keyof ClientMessageOf<T>)[] }
  readonly server: { readonly [T in ServerMessage['type']]: readonly (keyof ServerMessageOf<T>)[] }
} = {
  client: {
    authenticate: ['token'],
    join: ['room'],
    leave: ['room'],
    publish: ['room', 'data'],
    signal: ['room', 'key', 'value'],
    'presence-update': ['room', 'presence'],
    ping: [],
    history: ['room', 'id'],
    search: ['room', 'id', 'text'],
    request: ['id', 'name', 'input'],
    members: ['room', 'id'],
  },
  server: {
    welcome: ['session', 'protocol', 'version', 'heartbeat', 'limits', 'capabilities'],
    joined: ['room', 'epoch', 'seq', 'members', 'recovery'],
    left: ['room'],
    message: ['room', 'seq', 'epoch', 'from', 'ts', 'data'],
    direct: ['from', 'ts', 'data'],
    presence: ['room', 'event', 'member'],
    signal: ['room', 'from', 'key', 'value', 'ttlMs'],
    ack: ['id'],
    error: ['code', 'message'],
    pong: [],
    history: ['room', 'id', 'messages', 'more', 'gaps'],
    response: ['id', 'output'],
    members: ['room', 'id', 'members'],
    presences: ['room', 'events'],
  },
}

/** Fields that hold arbitrary JSON, where any JSON value is valid. */
export const JSON_SLOTS: ReadonlySet<string> = new Set(['data', 'value', 'presence', 'input', 'output'])
