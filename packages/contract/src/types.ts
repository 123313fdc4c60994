import type { JsonValue, PresenceMember, Recovery, ValidationIssue } from '@parley/protocol'

/**
 * What a scenario asks of the server side. A server under test maps each field onto its own configuration; every
 * field has a default (see {@link resolveSetup}), so scenarios only name what they depend on.
 */
export interface ServerSetup {
  /**
   * Authenticate at the handshake with the contract's token rule ({@link userOfToken}): the user id is the token up to
   * its first `.`, and tokens starting with `bad` (or none at all) are refused. Without it every connection is an
   * anonymous user of its own. @default false
   */
  readonly auth: boolean
  /** Server nodes sharing rooms, presence and history (a client may fail over between them). @default 1 */
  readonly nodes: number
  /** Largest inbound frame in UTF-8 bytes, announced as `welcome.limits.maxPayload`. @default 65_536 */
  readonly maxPayload: number
  /** Publish rate per session, announced as `welcome.limits.rate`. @default { messages: 10_000, perMs: 1_000 } */
  readonly rate: { readonly messages: number; readonly perMs: number }
  /** Messages kept per room for recovery. @default 100 */
  readonly historySize: number
  /** How long after an abrupt disconnect a presence `leave` is announced. @default 5_000 */
  readonly presenceGraceMs: number
  /** Outbound bytes buffered for one connection before it is cut off as a slow consumer (4509). @default 1_048_576 */
  readonly maxBufferedBytes: number
  /**
   * Serve the suite's requests, checked against {@link REQUESTS_CONTRACT}: `echo` answers its input unchanged (an
   * input that is not an object with a string `text` is `VALIDATION_FAILED`, with an issue at its path), `whoami` the
   * caller's user id (`null` when anonymous, i.e. without `auth`), `refuse` the error `TEAPOT`; any other name is
   * `UNKNOWN_REQUEST`. The server lists `requests` in `welcome.capabilities`. @default false
   */
  readonly requests: boolean
  /**
   * The protocol versions the server speaks, as subprotocol names (protocol §3, §19): a client gets the newest it
   * also offers. @default ['parley.v2.json', 'parley.v1.json']
   */
  readonly protocols: readonly string[]
}

/** How a scenario wants one client. */
export interface ClientOptions {
  /** The access token to connect with. @default none */
  readonly token?: string | undefined
  /** Subprotocols to offer, newest first. @default ['parley.v1.json'] */
  readonly protocols?: readonly string[] | undefined
  /** Right after the first `welcome`, refresh the token in band (`authenticate`) with this one. */
  readonly refreshTo?: string | undefined
  /** The server nodes to use, in order; reconnects move to the next one. @default [0] */
  readonly nodes?: readonly number[] | undefined
}

/** A `welcome` as a client saw it, with the URL of the connection it came on. */
export interface WelcomeInfo {
  readonly url: string
  readonly session: string
  readonly protocol: string
  readonly version: number
  readonly user: string | undefined
  readonly heartbeat: { readonly intervalMs: number; readonly timeoutMs: number }
  readonly limits: { readonly maxPayload: number; readonly maxRooms: number; readonly rate: { readonly messages: number; readonly perMs: number } }
  readonly capabilities: readonly string[]
}

/** The answer to a join (or a re-join after a reconnect). */
export interface JoinInfo {
  readonly epoch: string
  readonly seq: number
  readonly members: readonly PresenceMember[]
  readonly recovery: Recovery | null
}

/** A room message as delivered to the application. */
export interface MessageInfo {
  readonly seq: number
  readonly epoch: string
  readonly from: string | null
  readonly ts: number
  readonly data: JsonValue
  /** The bytes published with it (protocol v2, §19), whichever form they came in; absent when none. */
  readonly bytes?: Uint8Array
}

/** A presence change as delivered to the application. */
export interface PresenceInfo {
  readonly event: 'join' | 'leave' | 'update'
  readonly member: PresenceMember
}

/** A peer's signal as delivered to the application, with the local time it arrived. */
export interface SignalInfo {
  readonly from: string
  readonly key: string
  readonly value: JsonValue
  readonly ttlMs: number
  readonly at: number
}

/** Options of {@link ContractClient.publish}. */
export interface PublishOptions {
  readonly id?: string | undefined
  readonly echo?: boolean | undefined
  readonly bytes?: Uint8Array | undefined
}

/** A publish's acknowledgement. */
export interface PublishResult {
  readonly seq: number | undefined
  readonly epoch: string | undefined
  readonly duplicate: boolean
}

/** A connection that ended, as the client saw it (only connections that had opened). */
export interface CloseInfo {
  readonly code: number
  readonly reason: string
}

/**
 * A refusal or failure as a plain object (never a class, so it survives any bundling): the protocol's error `code`
 * (`UNAUTHORIZED`, `UNSUPPORTED_VERSION`, `RATE_LIMITED`, `PAYLOAD_TOO_LARGE`, ...) and what else is known.
 */
export interface ContractError {
  readonly code: string
  readonly message: string
  /** The close code that went with it, when a connection ended over it. */
  readonly closeCode?: number | undefined
  /** The HTTP status of a refused handshake, when the client could read it. */
  readonly status?: number | undefined
  /** The subprotocols the client offered (version refusals). */
  readonly offered?: readonly string[] | undefined
  /** The subprotocols the server speaks, when it said (version refusals). */
  readonly supported?: readonly string[] | undefined
  /** Where a value broke its schema (`VALIDATION_FAILED`), as the server's `error` listed them. */
  readonly issues?: readonly ValidationIssue[] | undefined
}

/** What a client collected for one room, in arrival order. */
export interface RoomView {
  /** Every `joined` for this room: the first join, then one per re-join after a reconnect. */
  readonly joins: readonly JoinInfo[]
  readonly messages: readonly MessageInfo[]
  readonly presence: readonly PresenceInfo[]
  readonly signals: readonly SignalInfo[]
  /** The current presence snapshot (the last `joined` with the events after it applied). */
  members(): readonly PresenceMember[]
}

/**
 * One client, driven by scenarios. The Parley client SDK, the raw scripted client and your own client each implement
 * this (see `rawClient()` for a small reference). A client connects as soon as it is created, follows the protocol's
 * reconnect rules (retryable close codes reconnect and re-join with `resume`; refusals are final), and records what
 * it sees; scenarios read the records and poll until they hold.
 */
export interface ContractClient {
  /** Every `welcome`, one per connection. */
  readonly welcomes: readonly WelcomeInfo[]
  /** Every connection that opened and then ended, in order. */
  readonly closes: readonly CloseInfo[]
  /** Connection attempts made so far (handshakes started, refused ones included). */
  readonly attempts: number
  /** Why the client gave up for good (a refusal or a fatal close); undefined while it is still trying. */
  readonly failure: ContractError | undefined
  /** Server frames this client could not decode, or messages out of place: each a breach of the contract. */
  readonly violations: readonly string[]
  /** Joins a room (or re-joins it after a leave) and resolves with the server's answer; rejects with the refusal. */
  join(room: string, options?: { readonly presence?: JsonValue | undefined; readonly resume?: boolean | undefined }): Promise<JoinInfo>
  /** Leaves a room and resolves once the server confirmed. */
  leave(room: string): Promise<void>
  /**
   * Publishes and resolves with the ack; rejects with a {@link ContractError} (`RATE_LIMITED`, `NOT_JOINED`, ...).
   * `bytes` go with `data` (protocol v2, §19); on a v1 connection a client refuses them with `UNSUPPORTED_DATA`.
   */
  publish(room: string, data: JsonValue, options?: PublishOptions): Promise<PublishResult>
  /** Sets a signal for the room's other members; `null` clears it. */
  signal(room: string, key: string, value: JsonValue, ttlMs?: number): void
  /** Replaces this user's presence metadata in a room. */
  setPresence(room: string, presence: JsonValue): void
  /**
   * Calls a request the server handles (protocol §6.10) and resolves with its output (§7.13); rejects with a
   * {@link ContractError} carrying the server's error `code`, `message` and `issues`. No local checks: what is tested
   * is what the server answers. Several may be in flight at once; each settles with the answer to its own id.
   */
  request(name: string, input: JsonValue): Promise<JsonValue>
  /**
   * With `refreshTo`: resolves once the in-band refresh was answered, with `undefined` when it was acknowledged and
   * the refusal otherwise.
   */
  refreshed(): Promise<ContractError | undefined>
  /** What arrived for a room so far (an empty view for a room never joined). */
  room(name: string): RoomView
  /** Closes for good (a normal 1000 close); resolves once the connection is gone. */
  close(): Promise<void>
}

/**
 * The network between one client and its server, for fault injection. Implemented by the pairing (a TCP proxy for
 * WebSocket pairings, the loopback bridge for in-memory ones), never by the client.
 */
export interface Network {
  /** Drops the current connection abruptly (no close frame on either side: both see 1006). */
  drop(): void
  /** Drops the current connection and refuses new ones until {@link online}. */
  offline(): void
  online(): void
  /** Stops delivering server → client bytes (a client that stopped reading); the server's buffers fill up. */
  stall(): void
  /** Delivers again what queued during a stall. */
  resume(): void
}

/** A client in a scenario: the client, its network, and the URLs it was given (in node order). */
export interface Peer extends ContractClient {
  readonly network: Network
  readonly urls: readonly string[]
}

/** One running server side (one or more nodes) for one scenario. */
export interface PairingSession {
  /** Creates a client of this pairing's kind; it starts connecting at once (resolves before it is welcomed). */
  connect(options?: ClientOptions): Promise<Peer>
  /** Shuts one node down gracefully: its clients get 1001 and it accepts no more connections. */
  shutdown(node: number): Promise<void>
  /** Breaches of the contract the server side saw (a mock's view of client frames); optional. */
  violations?(): readonly string[]
  /** Stops every node, client and proxy of this session. */
  close(): Promise<void>
}

/**
 * A server × client combination the suite runs against. `start` brings up a fresh server side for each scenario.
 * `notApplicable` names scenarios this pairing cannot run, with the reason: the matrix shows them as `n/a`.
 */
export interface Pairing {
  readonly name: string
  readonly notApplicable?: Readonly<Record<string, string>> | undefined
  start(setup: ServerSetup, context: { readonly timeoutMs: number }): Promise<PairingSession>
}

/** Creates one client over WebSocket URLs (given in node order): how a client kind plugs into {@link wsPairing}. */
export type ClientFactory = (request: {
  readonly urls: readonly string[]
  readonly options: ClientOptions
  /** How long the client should wait for any answer (acks, joins) before giving up on it. */
  readonly timeoutMs: number
}) => ContractClient

/** A server reachable over WebSocket: how a server plugs into {@link wsPairing}. */
export interface WsServer {
  /** Starts `setup.nodes` nodes sharing rooms; resolves with one `ws://` URL per node. */
  start(setup: ServerSetup): Promise<RunningWsServer>
}

/** A running {@link WsServer}. */
export interface RunningWsServer {
  readonly urls: readonly string[]
  /** Graceful shutdown of one node: 1001 to its clients, then no more connections. */
  shutdown(node: number): Promise<void>
  close(): Promise<void>
}
