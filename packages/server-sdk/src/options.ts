import { closestName, DEFAULT_HEARTBEAT, DEFAULT_LIMITS, MAX_MEMBERS_PAGE, serverFrameLimit, SUBPROTOCOL_V1_JSON, SUBPROTOCOL_V2_JSON, SUBPROTOCOLS, type Contract, type JsonValue, type Logger, type ProtocolLimits } from '@parley/protocol'
import type { Adapter } from './adapters/adapter.js'
import type { HistoryStore } from './history-store.js'
import type { HistoryWriterSettings } from './history-writer.js'
import { optionError } from './server-error.js'
import { SILENT_LOGGER } from './logging.js'
import type { HandshakeHeaders } from './transports/connection.js'

/** A user as the server sees it, returned by `authenticate`. */
export interface ServerUser {
  /** Stable user id: presence counts connections per id. Must match the protocol's id pattern. */
  readonly id: string
  /** When the credentials expire (ms since epoch): without an in-band refresh the session closes with 4419. */
  readonly expiresAt?: number
  /** Anything else the app wants on `session.user`. */
  readonly [key: string]: unknown
}

/** The request a connection was opened with, as plain data, whichever transport carried it. */
export interface HandshakeRequest {
  /** Request headers, lower-case names (`cookie`, `authorization`, ...). */
  readonly headers: HandshakeHeaders
  /** Path and query of the request. */
  readonly url: string | undefined
  readonly remoteAddress: string | undefined
}

/** What `authenticate` receives. */
export interface AuthenticateContext {
  /**
   * The opening request's headers, URL and address; absent for first-message and in-band authentication, and for
   * a transport with no HTTP request (a loopback).
   */
  readonly request: HandshakeRequest | undefined
  /** The token found in the request (header, cookie, query or subprotocol entry) or the `authenticate` message. */
  readonly token: string | undefined
}

/** The actions `authorize` is asked about. */
export type RoomAction = 'join' | 'publish' | 'signal' | 'history'

/** What `authorize` receives. */
export interface AuthorizeContext {
  readonly user: ServerUser
  readonly room: string
  readonly action: RoomAction
  /** The payload of a publish or signal, the presence of a join. */
  readonly data: JsonValue | undefined
}

/** The logger Parley takes (defined with the protocol, shared by the client SDK): `(fields, message)` per level. */
export type { Logger, LogFields } from '@parley/protocol'

/** Which presence changes a room's members are told of (`presence.announce`). */
export type PresenceAnnouncements = 'all' | 'count' | 'none'

/** A token bucket: at most `messages` per `perMs` milliseconds, with bursts up to `messages`. */
export interface RateLimit {
  readonly messages: number
  readonly perMs: number
}

/** Options of `attach()` / `createParley()`. Every default lives in {@link resolveOptions}. */
export interface ServerOptions {
  /** URL path of the endpoint (WebSocket upgrades, and the HTTP stream's GET and POSTs). @default '/parley' */
  readonly path?: string
  /**
   * Transports `attach()` serves: `'websocket'`, and `'http-stream'` (server-sent events down, POSTs up), which
   * clients fall back to where WebSocket is blocked. @default ['websocket', 'http-stream']
   */
  readonly transports?: readonly ('websocket' | 'http-stream')[]
  readonly httpStream?: {
    /** A comment line this often keeps proxies from closing an idle stream. @default 15_000 */
    readonly keepaliveMs?: number
  }
  /**
   * permessage-deflate (RFC 7692) on the WebSocket transport, off by default. On, it is negotiated per connection
   * with no server context takeover, so a broadcast's frame is compressed once and the same bytes go to every member
   * whose connection negotiated it; frames under `threshold` bytes go uncompressed. Inbound compressed frames are
   * inflated only up to `limits.maxPayload` (close 1009 past it). `true` takes the defaults. @default false
   */
  readonly compression?: boolean | CompressionOptions
  /**
   * The protocol versions this server speaks, as subprotocol names, any order: a subset of `SUBPROTOCOLS`
   * (`parley.v2.json`, `parley.v1.json`). Each connection gets the newest one its client also offers. Leave out
   * `parley.v2.json` to refuse bytes (binary frames) while clients move, or `parley.v1.json` to refuse old clients.
   * @default SUBPROTOCOLS (every version this package speaks)
   */
  readonly protocols?: readonly string[]
  /**
   * Authenticates a connection. Return the user, or `null` to refuse (HTTP 401 before the upgrade, close 4401
   * after it). A hook that throws could not decide (its backend is down): that is logged and answered as retryable
   * (HTTP 503 before the upgrade, close 1013 after it), so clients keep trying. Without it every connection is an
   * anonymous user whose id is its session id.
   */
  readonly authenticate?: (context: AuthenticateContext) => ServerUser | null | Promise<ServerUser | null>
  /**
   * `'handshake'`: the token comes with the upgrade request. `'first-message'`: the upgrade succeeds without a
   * token and the client must send `authenticate` within `authTimeoutMs` (close 4408 otherwise).
   * @default 'handshake'
   */
  readonly authMode?: 'handshake' | 'first-message'
  /** Time for first-message authentication. @default 10_000 */
  readonly authTimeoutMs?: number
  /** Cookie that may carry the token; `false` reads no cookie. @default 'parley_token' */
  readonly tokenCookie?: string | false
  /** Per-room permission for join, publish and signal; `false` answers `FORBIDDEN`. @default allow all */
  readonly authorize?: (context: AuthorizeContext) => boolean | Promise<boolean>
  /**
   * Allowed `Origin` values (exact match), a predicate, or `'*'` for any. Requests without Origin (non-browsers)
   * always pass. @default same-origin only while tokens are read from a cookie (`authenticate` set, handshake mode,
   * `tokenCookie` not false), else any
   */
  readonly origins?: readonly string[] | ((origin: string) => boolean) | '*'
  /** Heartbeat: ping every `intervalMs`; a peer silent for `intervalMs + timeoutMs` is terminated. */
  readonly heartbeat?: { readonly intervalMs?: number; readonly timeoutMs?: number }
  readonly limits?: {
    /** Largest inbound frame in bytes (close 1009 past it). @default 65_536 */
    readonly maxPayload?: number
    /** Rooms one session may be in. @default 100 */
    readonly maxRooms?: number
    /** Connections in total (HTTP 503 past it). @default 50_000 */
    readonly maxConnections?: number
    /** Connections of one user (HTTP 429 past it). @default 20 */
    readonly maxConnectionsPerUser?: number
    /** Publishes per session. @default { messages: 50, perMs: 1_000 } */
    readonly rate?: RateLimit
    /** Signals per session. @default { messages: 20, perMs: 1_000 } */
    readonly signalRate?: RateLimit
    /** Joins, leaves, presence updates, pings and authenticates per session. @default { messages: 20, perMs: 1_000 } */
    readonly controlRate?: RateLimit
    /** Rate-limited messages within 10 s after which the session is closed with 4429. @default 200 */
    readonly maxRateLimitedPer10s?: number
    /** Invalid messages within a minute after which the session is closed with 4400. @default 10 */
    readonly maxInvalidPerMinute?: number
  }
  readonly backpressure?: {
    /** Outbound bytes buffered for one connection after which it is cut with 4509. @default 1_048_576 */
    readonly maxBufferedBytes?: number
    /** Buffered bytes past which signals are dropped (room messages and presence never are). @default maxBufferedBytes / 4 */
    readonly highWaterBytes?: number
  }
  readonly history?: {
    /** Messages kept per room for recovery. @default 100 */
    readonly size?: number
    /** How long messages (and an empty room's history) are kept. @default 300_000 */
    readonly ttlMs?: number
    /**
     * Where messages go to last, beyond the recovery window: `createMemoryHistory()`, `createPostgresHistory()` from
     * `@parley/postgres-history`, or your own `HistoryStore`. Clients then page back (`room.history()`), get the
     * last N on join and search. Without it, history is the recovery window. Parley writes to it; you close it.
     */
    readonly store?: HistoryStore
    /** Messages waiting for the store at most (it is down or slow); past it they are dropped and reported as gaps. @default 10_000 */
    readonly maxQueue?: number
    /** Messages per store write at most. @default 500 */
    readonly batchSize?: number
    /** How long a message waits for others to share its store write (unless a batch is full), in ms. @default 100 */
    readonly flushMs?: number
  }
  readonly presence?: {
    /** After an abrupt disconnect, how long before `leave` is announced, so a quick reconnect does not flap. @default 5_000 */
    readonly graceMs?: number
    /**
     * Most members a `joined` lists (the first by user id; `memberCount` then says how many there are, and the rest is
     * paged with `members` requests), so a join's answer stays small however large the room. 1-1000. @default 100
     */
    readonly snapshotLimit?: number
    /**
     * Whether members are told of each other's joins, leaves and presence updates: `'all'` (each change, but see
     * `countAbove`), `'count'` (members whose client takes batches get, per window, how many joined, left or
     * changed, not who: protocol.md §7.15), or `'none'` for broadcast-style rooms (a live event's audience), where
     * announcing every join to every member would cost O(members²) frames while the room fills. Members are still
     * tracked (`joined`'s snapshot and `memberCount`, `members` pages, `room(name).members()`). A function decides
     * per room. @default 'all'
     */
    readonly announce?: PresenceAnnouncements | ((room: string) => PresenceAnnouncements)
    /**
     * Past this many members, a room announced `'all'` tells its batching members counts only (as `'count'`), so a
     * room of 10 000 does not send every member every join: O(members) bytes per window instead of O(members²) in
     * all. Members without batches still get each change. `false`: never. @default presence.snapshotLimit
     */
    readonly countAbove?: number | false
    /** How long counts are gathered before going out, in a room told counts (see `countAbove`). @default 1_000 */
    readonly countMs?: number
    /**
     * How long a room's presence changes are gathered before going out as one `presences` frame, to every member
     * whose client asked for batches (the client SDK does): a room filling with N members then costs O(N) frames per
     * window instead of one per change per member. 0 sends each change at once, as `presence`. @default 50
     */
    readonly batchMs?: number
  }
  readonly signals?: {
    /** TTL of a signal that does not set one. @default 5_000 */
    readonly defaultTtlMs?: number
    /** Changes of one key by one user are forwarded at most this often; the latest value wins. @default 100 */
    readonly minIntervalMs?: number
  }
  /** How long a publish id is remembered for de-duplication of retries. @default 120_000 */
  readonly dedupWindowMs?: number
  /**
   * How long a cluster-wide call (`user(id).disconnect()`, `room(name).remove()`, `broadcast()`, ...) waits for
   * every node's answer before it resolves with the silent ones in `missing`. @default 5_000
   */
  readonly clusterTimeoutMs?: number
  /** Graceful shutdown pacing. */
  readonly shutdown?: {
    /** Sessions told to go (1001) per batch. @default 200 */
    readonly batchSize?: number
    /** Pause between batches. @default 50 */
    readonly batchIntervalMs?: number
    /** How long to wait for clients to close before terminating them. @default 5_000 */
    readonly timeoutMs?: number
  }
  /**
   * The app's contract (`defineContract` from `@parley/protocol`): the schemas of rooms' messages, presence and
   * signals, and of requests. With it, every inbound value is checked before anything else sees it
   * (`VALIDATION_FAILED` with the issue paths otherwise), and `parley.handle()` is typed.
   */
  readonly contract?: Contract
  /** Check inbound values against `contract` at run time (types hold either way). @default true */
  readonly validate?: boolean
  /** Cross-node adapter; the default is a memory adapter private to this instance. */
  readonly adapter?: Adapter
  /** Logger. @default silent */
  readonly logger?: Logger
  /** Show internal error messages to clients (never in production). @default false */
  readonly development?: boolean
}

/** The `compression` option's settings. */
export interface CompressionOptions {
  /** Frames with fewer payload bytes than this go uncompressed. @default 1024 */
  readonly threshold?: number
  /** zlib's level, 1 (fastest) to 9 (smallest). @default 1 */
  readonly level?: number
}

/** Options with every default applied. */
export interface ResolvedOptions {
  readonly path: string
  readonly transports: readonly ('websocket' | 'http-stream')[]
  readonly httpStream: { readonly keepaliveMs: number }
  /** Undefined when compression is off. */
  readonly compression: Required<CompressionOptions> | undefined
  /** The subprotocols this server speaks, newest first. */
  readonly protocols: readonly string[]
  /** Whether the adapter and the history store keep bytes (`carriesBytes`): without both, no bytes are accepted. */
  readonly carriesBytes: boolean
  readonly authenticate: ServerOptions['authenticate']
  readonly authMode: 'handshake' | 'first-message'
  readonly authTimeoutMs: number
  readonly tokenCookie: string | false
  /** Whether handshake tokens may come from a cookie, which makes the default of `origins` same-origin. */
  readonly cookieTokens: boolean
  readonly authorize: ServerOptions['authorize']
  readonly origins: ServerOptions['origins']
  readonly heartbeat: { readonly intervalMs: number; readonly timeoutMs: number }
  readonly limits: {
    readonly maxPayload: number
    readonly maxRooms: number
    readonly maxConnections: number
    readonly maxConnectionsPerUser: number
    readonly rate: RateLimit
    readonly signalRate: RateLimit
    readonly controlRate: RateLimit
    readonly maxRateLimitedPer10s: number
    readonly maxInvalidPerMinute: number
  }
  readonly backpressure: { readonly maxBufferedBytes: number; readonly highWaterBytes: number }
  readonly history: { readonly size: number; readonly ttlMs: number }
  readonly historyStore: { readonly store: HistoryStore | undefined; readonly writer: HistoryWriterSettings }
  readonly contract: Contract | undefined
  readonly validate: boolean
  readonly presence: {
    readonly graceMs: number
    readonly snapshotLimit: number
    /** Infinity for `false`. */
    readonly countAbove: number
    readonly countMs: number
    readonly announce: (room: string) => PresenceAnnouncements
    readonly batchMs: number
  }
  readonly signals: { readonly defaultTtlMs: number; readonly minIntervalMs: number }
  readonly dedupWindowMs: number
  readonly clusterTimeoutMs: number
  readonly shutdown: { readonly batchSize: number; readonly batchIntervalMs: number; readonly timeoutMs: number }
  readonly adapter: Adapter | undefined
  readonly logger: Logger
  readonly development: boolean
  /** Limits for frames this server sends: `maxPayload` plus the envelope headroom clients allow. */
  readonly encodeLimits: Partial<ProtocolLimits>
}

function fail(option: string, expected: string, value: unknown): never {
  let shown: string
  try {
    shown = typeof value === 'function' ? 'a function' : JSON.stringify(value) ?? String(value)
  } catch {
    shown = String(value)
  }
  throw optionError(`Parley: option "${option}" must be ${expected}, got ${shown}`)
}

function positiveInt(option: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    fail(option, allowZero ? 'a non-negative integer' : 'a positive integer', value)
  }
  return value
}

function rate(option: string, value: unknown, fallback: RateLimit): RateLimit {
  if (value === undefined) return fallback
  if (typeof value !== 'object' || value === null) fail(option, 'an object { messages, perMs }', value)
  onlyKnown(`${option}.`, value, ['messages', 'perMs'])
  const { messages, perMs } = value as Record<string, unknown>
  // Both fields are required: a missing one must not silently become 0 (a bucket that refuses all, or refills at once).
  if (messages === undefined) fail(`${option}.messages`, 'a positive integer', messages)
  if (perMs === undefined) fail(`${option}.perMs`, 'a positive integer', perMs)
  return { messages: positiveInt(`${option}.messages`, messages, 0), perMs: positiveInt(`${option}.perMs`, perMs, 0) }
}

function fn<T>(option: string, value: unknown): T | undefined {
  if (value !== undefined && typeof value !== 'function') fail(option, 'a function', value)
  return value as T | undefined
}

/** Refuses keys that are not options, naming the likely one meant ("did you mean ..."). */
function onlyKnown(prefix: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const near = closestName(key, known)
    throw optionError(
      `Parley: unknown option "${prefix}${key}"${near === undefined ? '' : `; did you mean "${prefix}${near}"?`} Known: ${known.map((k) => prefix + k).join(', ')}`,
    )
  }
}

function section(option: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(option, 'an object', value)
  onlyKnown(`${option}.`, value, known)
  return value as Record<string, unknown>
}

function resolveCompression(value: unknown): Required<CompressionOptions> | undefined {
  if (value === undefined || value === false) return undefined
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) fail('compression', 'a boolean or an object', value)
  const given = value === true ? {} : section('compression', value, ['threshold', 'level'])
  const level = given['level'] ?? 1
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 1 || level > 9) fail('compression.level', 'an integer from 1 to 9', level)
  return Object.freeze({ threshold: positiveInt('compression.threshold', given['threshold'], 1024, true), level })
}

const KNOWN_OPTIONS = new Set([
  'path', 'transports', 'httpStream', 'compression', 'protocols', 'authenticate', 'authMode', 'authTimeoutMs', 'tokenCookie', 'authorize', 'origins', 'heartbeat', 'limits',
  'backpressure', 'history', 'presence', 'signals', 'dedupWindowMs', 'clusterTimeoutMs', 'shutdown', 'adapter', 'logger', 'development',
  'contract', 'validate',
])

/** Applies the defaults and checks every option, throwing a `TypeError` that names the first bad one. */
export function resolveOptions(options: ServerOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) fail('options', 'an object', options)
  onlyKnown('', options, [...KNOWN_OPTIONS])
  const path = options.path ?? '/parley'
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) fail('path', 'a URL path starting with "/"', path)
  const authMode = options.authMode ?? 'handshake'
  if (authMode !== 'handshake' && authMode !== 'first-message') fail('authMode', '"handshake" or "first-message"', authMode)
  if (authMode === 'first-message' && options.authenticate === undefined) {
    fail('authenticate', 'a function when authMode is "first-message"', undefined)
  }
  const origins = options.origins
  if (origins !== undefined && origins !== '*' && typeof origins !== 'function' && !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))) {
    fail('origins', "an array of origin strings, a function or '*'", origins)
  }
  const transports = options.transports ?? ['websocket', 'http-stream']
  if (!Array.isArray(transports) || transports.length === 0 || !transports.every((t) => t === 'websocket' || t === 'http-stream') || new Set(transports).size !== transports.length) {
    fail('transports', "a non-empty list of 'websocket' and 'http-stream'", transports)
  }
  const httpStream = section('httpStream', options.httpStream, ['keepaliveMs'])
  const compression = resolveCompression(options.compression)
  const protocols = options.protocols
  if (protocols !== undefined && (!Array.isArray(protocols) || protocols.length === 0 || !protocols.every((name) => (SUBPROTOCOLS as readonly string[]).includes(name)) || new Set(protocols).size !== protocols.length)) {
    fail('protocols', `a non-empty list of distinct subprotocols from ${SUBPROTOCOLS.join(', ')}`, protocols)
  }
  const heartbeat = section('heartbeat', options.heartbeat, ['intervalMs', 'timeoutMs'])
  const limits = section('limits', options.limits, [
    'maxPayload', 'maxRooms', 'maxConnections', 'maxConnectionsPerUser', 'rate', 'signalRate', 'controlRate', 'maxRateLimitedPer10s', 'maxInvalidPerMinute',
  ])
  const backpressure = section('backpressure', options.backpressure, ['maxBufferedBytes', 'highWaterBytes'])
  const history = section('history', options.history, ['size', 'ttlMs', 'store', 'maxQueue', 'batchSize', 'flushMs'])
  const store = history['store'] as HistoryStore | undefined
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.append !== 'function' || typeof store.read !== 'function')) {
    fail('history.store', 'a HistoryStore (see createMemoryHistory)', store)
  }
  const presence = section('presence', options.presence, ['graceMs', 'snapshotLimit', 'announce', 'batchMs', 'countAbove', 'countMs'])
  const announce = presence['announce'] ?? 'all'
  if (announce !== 'all' && announce !== 'count' && announce !== 'none' && typeof announce !== 'function') {
    fail('presence.announce', "'all', 'count', 'none' or a function (room) => one of them", announce)
  }
  const snapshotLimit = Math.min(positiveInt('presence.snapshotLimit', presence['snapshotLimit'], 100), MAX_MEMBERS_PAGE)
  const countAbove = presence['countAbove'] === false ? Number.POSITIVE_INFINITY : positiveInt('presence.countAbove', presence['countAbove'], snapshotLimit)
  const signals = section('signals', options.signals, ['defaultTtlMs', 'minIntervalMs'])
  const shutdown = section('shutdown', options.shutdown, ['batchSize', 'batchIntervalMs', 'timeoutMs'])
  const maxBufferedBytes = positiveInt('backpressure.maxBufferedBytes', backpressure['maxBufferedBytes'], 1024 * 1024)
  const highWaterBytes = positiveInt('backpressure.highWaterBytes', backpressure['highWaterBytes'], Math.floor(maxBufferedBytes / 4))
  if (highWaterBytes > maxBufferedBytes) fail('backpressure.highWaterBytes', 'at most backpressure.maxBufferedBytes', highWaterBytes)
  const maxPayload = positiveInt('limits.maxPayload', limits['maxPayload'], DEFAULT_LIMITS.maxPayload)
  // ws keeps the limit in 32 bits (`maxPayload | 0`): past 2^31 - 1 it would mean no limit, for frames and inflation.
  if (maxPayload > 2 ** 31 - 1) fail('limits.maxPayload', 'a positive integer up to 2147483647', maxPayload)
  const adapter = options.adapter
  if (adapter !== undefined && (typeof adapter !== 'object' || adapter === null || typeof adapter.connect !== 'function')) {
    fail('adapter', 'an Adapter (see createMemoryAdapter)', adapter)
  }
  // Bytes need an adapter and a store that keep them (the memory adapter, the default, does); otherwise v1 only.
  const carriesBytes = (adapter === undefined || adapter.carriesBytes === true) && (store === undefined || store.carriesBytes === true)
  if (!carriesBytes && protocols?.includes(SUBPROTOCOL_V2_JSON) === true) {
    const what = adapter !== undefined && adapter.carriesBytes !== true ? 'the adapter' : 'history.store'
    fail('protocols', `without parley.v2.json: ${what} does not keep bytes (carriesBytes), so protocol v2 cannot be spoken`, protocols)
  }
  const spoken = protocols ?? (carriesBytes ? SUBPROTOCOLS : [SUBPROTOCOL_V1_JSON])
  const logger = options.logger ?? SILENT_LOGGER
  if (typeof logger !== 'object' || logger === null || (['debug', 'info', 'warn', 'error'] as const).some((k) => typeof logger[k] !== 'function')) {
    fail('logger', 'an object with debug, info, warn and error functions', logger)
  }
  if (options.tokenCookie !== undefined && options.tokenCookie !== false && (typeof options.tokenCookie !== 'string' || options.tokenCookie === '')) {
    fail('tokenCookie', 'a non-empty string or false', options.tokenCookie)
  }
  const tokenCookie = options.tokenCookie ?? 'parley_token'
  if (options.development !== undefined && typeof options.development !== 'boolean') fail('development', 'a boolean', options.development)
  const contract = options.contract
  if (contract !== undefined && (typeof contract !== 'object' || contract === null || typeof contract.room !== 'function' || typeof contract.request !== 'function')) {
    fail('contract', 'a contract made by defineContract()', contract)
  }
  if (options.validate !== undefined && typeof options.validate !== 'boolean') fail('validate', 'a boolean', options.validate)
  return {
    path,
    transports: Object.freeze([...transports]),
    httpStream: { keepaliveMs: positiveInt('httpStream.keepaliveMs', httpStream['keepaliveMs'], 15_000) },
    compression,
    // Newest first, as negotiation and the 426 list them.
    protocols: Object.freeze(SUBPROTOCOLS.filter((name) => spoken.includes(name))),
    carriesBytes,
    authenticate: fn('authenticate', options.authenticate),
    authMode,
    authTimeoutMs: positiveInt('authTimeoutMs', options.authTimeoutMs, 10_000),
    tokenCookie,
    cookieTokens: tokenCookie !== false && options.authenticate !== undefined && authMode === 'handshake',
    authorize: fn('authorize', options.authorize),
    origins,
    heartbeat: {
      intervalMs: positiveInt('heartbeat.intervalMs', heartbeat['intervalMs'], DEFAULT_HEARTBEAT.intervalMs),
      timeoutMs: positiveInt('heartbeat.timeoutMs', heartbeat['timeoutMs'], DEFAULT_HEARTBEAT.timeoutMs),
    },
    limits: {
      maxPayload,
      maxRooms: positiveInt('limits.maxRooms', limits['maxRooms'], 100),
      maxConnections: positiveInt('limits.maxConnections', limits['maxConnections'], 50_000),
      maxConnectionsPerUser: positiveInt('limits.maxConnectionsPerUser', limits['maxConnectionsPerUser'], 20),
      rate: rate('limits.rate', limits['rate'], { messages: 50, perMs: 1_000 }),
      signalRate: rate('limits.signalRate', limits['signalRate'], { messages: 20, perMs: 1_000 }),
      controlRate: rate('limits.controlRate', limits['controlRate'], { messages: 20, perMs: 1_000 }),
      maxRateLimitedPer10s: positiveInt('limits.maxRateLimitedPer10s', limits['maxRateLimitedPer10s'], 200),
      maxInvalidPerMinute: positiveInt('limits.maxInvalidPerMinute', limits['maxInvalidPerMinute'], 10),
    },
    backpressure: { maxBufferedBytes, highWaterBytes },
    history: {
      size: positiveInt('history.size', history['size'], 100, true),
      ttlMs: positiveInt('history.ttlMs', history['ttlMs'], 300_000),
    },
    historyStore: {
      store,
      writer: {
        maxQueue: positiveInt('history.maxQueue', history['maxQueue'], 10_000),
        batchSize: positiveInt('history.batchSize', history['batchSize'], 500),
        flushMs: positiveInt('history.flushMs', history['flushMs'], 100, true),
        retryMs: 100,
        maxRetryMs: 5_000,
      },
    },
    presence: {
      graceMs: positiveInt('presence.graceMs', presence['graceMs'], 5_000, true),
      snapshotLimit,
      countAbove,
      countMs: positiveInt('presence.countMs', presence['countMs'], 1_000),
      announce: typeof announce === 'function' ? (announce as (room: string) => PresenceAnnouncements) : () => announce as PresenceAnnouncements,
      batchMs: positiveInt('presence.batchMs', presence['batchMs'], 50, true),
    },
    signals: {
      defaultTtlMs: positiveInt('signals.defaultTtlMs', signals['defaultTtlMs'], 5_000),
      minIntervalMs: positiveInt('signals.minIntervalMs', signals['minIntervalMs'], 100, true),
    },
    dedupWindowMs: positiveInt('dedupWindowMs', options.dedupWindowMs, 120_000),
    clusterTimeoutMs: positiveInt('clusterTimeoutMs', options.clusterTimeoutMs, 5_000),
    shutdown: {
      batchSize: positiveInt('shutdown.batchSize', shutdown['batchSize'], 200),
      batchIntervalMs: positiveInt('shutdown.batchIntervalMs', shutdown['batchIntervalMs'], 50, true),
      timeoutMs: positiveInt('shutdown.timeoutMs', shutdown['timeoutMs'], 5_000),
    },
    adapter,
    logger,
    development: options.development ?? false,
    contract,
    validate: options.validate ?? true,
    encodeLimits: Object.freeze({ maxPayload: serverFrameLimit(maxPayload) }),
  }
}
