import { closestName, DEFAULT_LIMITS, SUBPROTOCOLS, type Contract, type HeartbeatSettings, type Logger, type ProtocolLimits } from '@parley/protocol'
import { ParleyClientError } from './client-error.js'
import type { TransportFactory } from './transports/transport.js'
import { autoTransport } from './transports/auto.js'

/** What `getToken` may return: the token, or the token with its expiry (ms since the Unix epoch). */
export type TokenResult = string | { readonly token: string; readonly expiresAt?: number | undefined }

/** Reconnect policy: exponential backoff with full jitter (see `reconnect.ts`). */
export interface ReconnectOptions {
  /** Upper bound of the first retry's delay, in ms. @default 500 */
  readonly initialDelayMs: number
  /** Cap on any retry's delay bound, in ms. @default 30_000 */
  readonly maxDelayMs: number
  /** Growth of the delay bound per attempt. @default 2 */
  readonly factor: number
  /** Retries in a row (without a `welcome` in between) before giving up; `Infinity` never gives up. @default Infinity */
  readonly maxAttempts: number
}

/** Options of `createClient()`. Every one is optional. */
export interface ClientOptions {
  /** A static access token, sent on the first connect (and on every reconnect when there is no `getToken`). */
  readonly token?: string | undefined
  /**
   * Called before every connect and reconnect (after the first, when `token` is also given) and before an in-band
   * refresh. Return `{ token, expiresAt }` to have the client refresh it in band before it expires. Throw an
   * `AuthError` to stop the client for good; anything else thrown counts as a failed attempt and is retried.
   */
  readonly getToken?: (() => TokenResult | Promise<TokenResult>) | undefined
  /** When the static `token` expires (ms since the Unix epoch); with `getToken`, it is refreshed in band before then. */
  readonly tokenExpiresAt?: number | undefined
  /** How long before a token's expiry the client refreshes it with an `authenticate` message, in ms. @default 30_000 */
  readonly refreshBeforeMs?: number | undefined
  /** Reconnect policy, or `false` to never reconnect. @default { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, maxAttempts: Infinity } */
  readonly reconnect?: Partial<ReconnectOptions> | false | undefined
  /**
   * Heartbeat settings overriding those the server announces in `welcome`, or `false` to turn the client-side
   * heartbeat off. @default the server's (protocol default 25_000 / 20_000)
   */
  readonly heartbeat?: Partial<HeartbeatSettings> | false | undefined
  /** How long a `publish()` (and a join or leave) waits for the server's answer, in ms, counted from the call. @default 10_000 */
  readonly ackTimeoutMs?: number | undefined
  /** How long a connection attempt may take from the socket's creation to the server's `welcome`, in ms. @default 10_000 */
  readonly connectTimeoutMs?: number | undefined
  /** Most publishes waiting to be sent (offline, or for their room's join); more are refused with `QUEUE_FULL`. @default 100 */
  readonly offlineQueueSize?: number | undefined
  /** How to reach the server. @default websocketTransport() */
  readonly transport?: TransportFactory | undefined
  /** Subprotocols to offer, newest first. @default SUBPROTOCOLS */
  readonly subprotocols?: readonly string[] | undefined
  /** Limits applied when decoding the server's frames. @default the protocol's defaults, with maxPayload 1 MiB */
  readonly inboundLimits?: Partial<ProtocolLimits> | undefined
  /** Random source in [0, 1) for backoff jitter (injectable for tests). @default Math.random */
  readonly random?: (() => number) | undefined
  /**
   * The app's contract (`defineContract`, shared with the server): types `join()` and `request()` by room and
   * request name, and checks what arrives against its schemas (a value that breaks them is not delivered; the room
   * emits `error` `VALIDATION_FAILED` naming the path).
   */
  readonly contract?: Contract | undefined
  /** Check values against `contract` at run time (types hold either way). @default true */
  readonly validate?: boolean | undefined
  /**
   * Where the client logs its connection's life (connected, reconnecting, errors, closed) as structured events:
   * `(fields, message)` per level, so `pino` and `console` fit. Tokens and URL query strings are never logged.
   * @default silent
   */
  readonly logger?: Logger | undefined
}

/** {@link ClientOptions} with every default filled in. */
export interface ResolvedOptions {
  readonly urls: readonly string[]
  readonly token: string | undefined
  readonly getToken: (() => TokenResult | Promise<TokenResult>) | undefined
  readonly tokenExpiresAt: number | undefined
  readonly refreshBeforeMs: number
  readonly reconnect: ReconnectOptions
  readonly heartbeat: Partial<HeartbeatSettings> | false
  readonly ackTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly offlineQueueSize: number
  readonly transport: TransportFactory
  readonly subprotocols: readonly string[]
  readonly inboundLimits: ProtocolLimits
  readonly random: () => number
  /** The contract, when values are checked at run time (undefined with `validate: false`). */
  readonly checks: Contract | undefined
  readonly contract: Contract | undefined
  readonly logger: Logger | undefined
}

/** The defaults, in one place; docs/client.md lists the same values. */
export const DEFAULTS = Object.freeze({
  refreshBeforeMs: 30_000,
  ackTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  offlineQueueSize: 100,
  reconnect: Object.freeze({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, maxAttempts: Infinity }) as ReconnectOptions,
  inboundMaxPayload: 1_048_576,
})

/** Lower bounds of the numeric options that cannot be 0; every other one must be >= 0. */
const MIN: Readonly<Record<string, number>> = { factor: 1, ackTimeoutMs: 1, connectTimeoutMs: 1, intervalMs: 1, timeoutMs: 1 }

const invalid = (name: string, expected: string, value: unknown): ParleyClientError =>
  new ParleyClientError('INVALID_OPTION', `Option ${name}: expected ${expected}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`)

/** Checks the given numeric options (named `prefix + key`) and fills in `defaults` for the missing ones. */
function numbers<T extends { [K in keyof T]: number }>(prefix: string, given: object, defaults: T): T {
  const out: Record<string, number> = {}
  for (const [key, fallback] of Object.entries(defaults)) {
    const value: unknown = (given as Record<string, unknown>)[key]
    const min = MIN[key] ?? 0
    if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value) || value < min)) {
      throw invalid(prefix + key, `a number >= ${min}`, value)
    }
    const chosen = (value as number | undefined) ?? (fallback as number | undefined)
    if (chosen !== undefined) out[key] = chosen
  }
  return out as T
}

const KNOWN = [
  'token', 'getToken', 'tokenExpiresAt', 'refreshBeforeMs', 'reconnect', 'heartbeat', 'ackTimeoutMs', 'connectTimeoutMs',
  'offlineQueueSize', 'transport', 'subprotocols', 'inboundLimits', 'random', 'contract', 'validate', 'logger',
]

/** Refuses keys that are not options, naming the likely one meant ("did you mean ..."). */
function onlyKnown(prefix: string, given: unknown, known: readonly string[]): void {
  if (typeof given !== 'object' || given === null) return
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue
    const near = closestName(key, known)
    throw new ParleyClientError('INVALID_OPTION', `Unknown option ${prefix}${key}${near === undefined ? '' : `; did you mean ${prefix}${near}?`}`)
  }
}

function fn<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalid(name, 'a function', value)
  return value
}

/**
 * A server URL as `ws://` or `wss://`: `http(s)://` is taken as the same server (the HTTP stream transport turns it
 * back), anything else (no scheme: `localhost:3000/parley`, or another one) is refused at once with what to write.
 */
function checkUrl(url: string): string {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  const scheme = parsed?.protocol
  if (parsed === undefined || (scheme !== 'ws:' && scheme !== 'wss:' && scheme !== 'http:' && scheme !== 'https:')) {
    throw new ParleyClientError('INVALID_OPTION', `Option url: expected a ws://, wss://, http:// or https:// URL such as "ws://localhost:3000/parley", got ${JSON.stringify(url)}`)
  }
  // ws(s) URLs are kept exactly as given; http(s) ones get the WebSocket scheme of the same server.
  return scheme === 'http:' || scheme === 'https:' ? `ws${url.slice(4)}` : url
}

/** Fills in defaults and checks every option, so a bad one throws at `createClient()` rather than later. */
function checkLogger(logger: unknown): Logger | undefined {
  if (logger === undefined) return undefined
  const levels = ['debug', 'info', 'warn', 'error'] as const
  if (typeof logger !== 'object' || logger === null || levels.some((level) => typeof (logger as Record<string, unknown>)[level] !== 'function')) {
    throw invalid('logger', 'an object with debug, info, warn and error functions', logger)
  }
  return logger as Logger
}

/**
 * The default transport, made once and shared by every client that names none: a transport factory keeps no state
 * of its own (each connection attempt is an object of its own), so a process holding thousands of clients need not
 * hold thousands of factories.
 */
let defaultTransport: TransportFactory | undefined
let defaultInboundLimits: ProtocolLimits | undefined

/** The limits inbound frames are decoded with: frozen, so the protocol reuses its merge with the defaults (see limitsFor). */
function inboundLimits(given: Partial<ProtocolLimits> | undefined): ProtocolLimits {
  return Object.freeze({ ...DEFAULT_LIMITS, maxPayload: DEFAULTS.inboundMaxPayload, ...given })
}

export function resolveOptions(url: string | readonly string[], options: ClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options)
  const given = typeof url === 'string' ? [url] : [...url]
  if (given.length === 0 || given.some((u) => typeof u !== 'string' || u === '')) throw invalid('url', 'a URL or a non-empty list of URLs', url)
  // A custom transport decides what its URLs look like; the default ones need ws(s):// or http(s)://.
  const urls = options.transport === undefined ? given.map(checkUrl) : given
  onlyKnown('', options, KNOWN)
  onlyKnown('reconnect.', options.reconnect, Object.keys(DEFAULTS.reconnect))
  onlyKnown('heartbeat.', options.heartbeat, ['intervalMs', 'timeoutMs'])
  onlyKnown('inboundLimits.', options.inboundLimits, Object.keys(DEFAULT_LIMITS))
  const { token, heartbeat } = options
  if (token !== undefined && (typeof token !== 'string' || token === '')) throw invalid('token', 'a non-empty string', token)
  const subprotocols = options.subprotocols ?? SUBPROTOCOLS
  if (subprotocols.length === 0) throw invalid('subprotocols', 'at least one subprotocol', '[]')
  // tokenExpiresAt has no default: -1 (below its minimum of 0, so never a user's value) stands for "not given".
  const timing = numbers('', options, {
    tokenExpiresAt: -1,
    refreshBeforeMs: DEFAULTS.refreshBeforeMs,
    ackTimeoutMs: DEFAULTS.ackTimeoutMs,
    connectTimeoutMs: DEFAULTS.connectTimeoutMs,
    offlineQueueSize: DEFAULTS.offlineQueueSize,
  })
  // Every field named, in one literal: a rest and a spread here gave each client's options a hidden class of its own
  // (about 0.5 KB per client in a process holding many).
  return {
    urls,
    token,
    getToken: fn('getToken', options.getToken),
    tokenExpiresAt: timing.tokenExpiresAt === -1 ? undefined : timing.tokenExpiresAt,
    refreshBeforeMs: timing.refreshBeforeMs,
    ackTimeoutMs: timing.ackTimeoutMs,
    connectTimeoutMs: timing.connectTimeoutMs,
    offlineQueueSize: timing.offlineQueueSize,
    reconnect: numbers('reconnect.', options.reconnect === false ? { maxAttempts: 0 } : (options.reconnect ?? {}), DEFAULTS.reconnect),
    // Only what is given overrides the server's heartbeat settings.
    heartbeat: heartbeat === false ? false : (numbers('heartbeat.', heartbeat ?? {}, { ...heartbeat } as HeartbeatSettings) as Partial<HeartbeatSettings>),
    transport: fn('transport', options.transport) ?? (defaultTransport ??= autoTransport()),
    subprotocols,
    // One object for every client that sets none.
    inboundLimits: options.inboundLimits === undefined ? (defaultInboundLimits ??= inboundLimits(undefined)) : inboundLimits(options.inboundLimits),
    random: fn('random', options.random) ?? Math.random,
    contract: options.contract,
    checks: options.validate === false ? undefined : options.contract,
    logger: checkLogger(options.logger),
  }
}
