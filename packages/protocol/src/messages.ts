/**
 * The message catalogue of protocol v1. Field names are readable words; every message is a JSON object with a
 * `type`. Unknown fields are ignored by decoders (so v1 can grow additively) and stripped from decoded messages.
 */

/** Any JSON value: what `data`, `presence` and signal values may hold. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/** Where a client's stream of a room stood: the room's `epoch` and the last `seq` it saw (0 for none). */
export interface ResumePoint {
  readonly epoch: string
  readonly seq: number
}

/* ----------------------------------------------------------------- client → server */

/** Authenticates the session, or refreshes an expiring token in band. Answered by `ack` or `error` with `id`. */
export interface AuthenticateMessage {
  readonly type: 'authenticate'
  readonly token: string
  readonly id?: string
}

/** Joins a room; with `resume`, asks for the messages after that point. Answered by `joined` or `error`. */
export interface JoinMessage {
  readonly type: 'join'
  readonly room: string
  readonly id?: string
  readonly resume?: ResumePoint
  /** Presence metadata of this user in the room (name, status, ...). */
  readonly presence?: JsonValue
  /**
   * Also send the room's last `last` messages (1-`MAX_HISTORY_LIMIT`), as a `history` answer with this join's `id`
   * right after `joined` and before any live message: a newcomer sees the conversation. Ignored with `resume`.
   */
  readonly last?: number
  /**
   * This client takes the room's presence changes as `presences` batches (a server listing `presence-batch` in its
   * capabilities then coalesces them); without it, one `presence` per change.
   */
  readonly batch?: boolean
}

/**
 * Asks for a page of a room's members, ordered by user id: those after `after` (a user id; from the start without
 * it), at most `limit` (1-`MAX_MEMBERS_PAGE`, default 100). For a room whose `joined` listed only part of its members
 * (`memberCount`). Needs the room joined. Answered by `members` or `error` with `id`.
 */
export interface MembersRequestMessage {
  readonly type: 'members'
  readonly room: string
  readonly id: string
  readonly after?: string
  readonly limit?: number
}

/** Leaves a room. Answered by `left`. */
export interface LeaveMessage {
  readonly type: 'leave'
  readonly room: string
  readonly id?: string
}

/**
 * Publishes `data` to a room. With `id` (a client message id) the server answers `ack` or `error` with that id and
 * de-duplicates retries of the same id. `echo: false` leaves the sender's own connection out of the fan-out.
 */
export interface PublishMessage {
  readonly type: 'publish'
  readonly room: string
  /** Protocol v2: bytes carried with `data` (a binary frame, or base64 in a text frame; see binary-frame.ts). */
  readonly bytes?: Uint8Array
  readonly data: JsonValue
  readonly id?: string
  readonly echo?: boolean
}

/** Sets ephemeral per-key state (e.g. `typing`) for `ttlMs`; `value: null` clears it. Never stored or replayed. */
export interface SignalMessage {
  readonly type: 'signal'
  readonly room: string
  readonly key: string
  readonly value: JsonValue
  readonly ttlMs?: number
}

/** Replaces this user's presence metadata in a room. */
export interface PresenceUpdateMessage {
  readonly type: 'presence-update'
  readonly room: string
  readonly presence: JsonValue
  readonly id?: string
}

/**
 * Asks for a page of a room's history: the newest `limit` messages older than `before` (the newest of all without
 * it), across epochs. Answered by `history` or `error` with `id`; goes through `authorize` as action `history`.
 */
export interface HistoryRequestMessage {
  readonly type: 'history'
  readonly room: string
  readonly id: string
  /** Only messages older than this position (a message's `epoch` and `seq`). */
  readonly before?: ResumePoint
  /** @default 50 */
  readonly limit?: number
}

/** Full-text search in a room's history: the newest `limit` matches older than `before`. Answered like `history`. */
export interface SearchMessage {
  readonly type: 'search'
  readonly room: string
  readonly id: string
  /** What to look for (1-256 characters), in the store's search syntax (words, "quoted phrases", -excluded). */
  readonly text: string
  readonly before?: ResumePoint
  /** @default 50 */
  readonly limit?: number
}

/**
 * Calls a request the server handles (`parley.handle(name, ...)`), declared in the app's contract. Answered by
 * `response` or `error` with `id` (`VALIDATION_FAILED` with `issues`, `UNKNOWN_REQUEST`, or the handler's own code).
 */
export interface RequestMessage {
  readonly type: 'request'
  readonly id: string
  /** 1-128 characters from `[A-Za-z0-9_-.:/]`. */
  readonly name: string
  readonly input: JsonValue
}

/** Application-level heartbeat (browsers cannot see WebSocket ping frames). Answered by `pong`. */
export interface PingMessage {
  readonly type: 'ping'
  readonly id?: string
  readonly ts?: number
}

/** Every message a client sends. */
export type ClientMessage =
  | AuthenticateMessage
  | JoinMessage
  | LeaveMessage
  | PublishMessage
  | SignalMessage
  | PresenceUpdateMessage
  | PingMessage
  | HistoryRequestMessage
  | SearchMessage
  | RequestMessage
  | MembersRequestMessage

/* ----------------------------------------------------------------- server → client */

/** Heartbeat settings announced in `welcome`. */
export interface HeartbeatSettings {
  /** The client pings when it has received nothing for this long; the server pings a client silent this long. */
  readonly intervalMs: number
  /** After a ping, silence longer than this means the connection is dead. */
  readonly timeoutMs: number
}

/** Rate limit: at most `messages` per `perMs` milliseconds (token bucket). */
export interface RateSettings {
  readonly messages: number
  readonly perMs: number
}

/** Limits the server enforces, announced in `welcome`. */
export interface SessionLimits {
  readonly maxPayload: number
  readonly maxRooms: number
  readonly rate: RateSettings
}

/** First message of every session: who the client is to the server and what it may do. */
export interface WelcomeMessage {
  readonly type: 'welcome'
  readonly session: string
  readonly protocol: string
  readonly version: number
  readonly heartbeat: HeartbeatSettings
  readonly limits: SessionLimits
  /** Optional features this server has, e.g. `presence`, `signals`, `recovery`, `dedup`. */
  readonly capabilities: readonly string[]
  /** The authenticated user's id; absent while first-message authentication is pending. */
  readonly user?: string
}

/** One user in a room's presence (however many connections it has). */
export interface PresenceMember {
  readonly user: string
  readonly presence: JsonValue
  readonly connections: number
}

/** Why a resume could not be honoured in full. */
export type GapReason = 'window-exceeded' | 'epoch-changed' | 'history-unavailable'

/** Messages a resume could not replay: `from`..`to` (inclusive seqs) where known. */
export interface Gap {
  readonly reason: GapReason
  readonly from?: number
  readonly to?: number
}

/** Outcome of a join with `resume`. */
export interface Recovery {
  /** True when every missed message is replayed right after `joined`. */
  readonly recovered: boolean
  /** How many `message`s follow as the replay. */
  readonly replayed: number
  readonly gap: Gap | null
}

/** Answers `join`: the room's position, a presence snapshot and, for a resume, the recovery result. */
export interface JoinedMessage {
  readonly type: 'joined'
  readonly room: string
  readonly id?: string
  readonly epoch: string
  /** The room's last assigned seq (its head): a replay that follows ends with this seq, live messages come after. */
  readonly seq: number
  readonly members: readonly PresenceMember[]
  /**
   * Present when `members` is only the first part of the room's members (ordered by user id): how many users the room
   * has in all. The rest is paged with `members` requests (capability `members`), or learnt from presence events.
   */
  readonly memberCount?: number
  /** `null` when the join had no `resume`. */
  readonly recovery: Recovery | null
}

/** The session is no longer in a room: it asked (`id` answers the leave), or the server removed it. */
export interface LeftMessage {
  readonly type: 'left'
  readonly room: string
  readonly id?: string
  readonly reason?: string
}

/** A room message, stamped with the room's `epoch` and `seq` (strictly increasing, no gaps). */
export interface RoomMessage {
  readonly type: 'message'
  readonly room: string
  readonly seq: number
  readonly epoch: string
  /** The sender's user id; `null` for a server-side publish. */
  readonly from: string | null
  /** Server time in ms since the Unix epoch. */
  readonly ts: number
  /** Bytes published with the message (protocol v2; sent to v1 sessions as base64, see docs/protocol.md §16). */
  readonly bytes?: Uint8Array
  readonly data: JsonValue
}

/** A message sent to one user (all its connections), outside any room. Not sequenced, not recoverable. */
export interface DirectMessage {
  readonly type: 'direct'
  readonly from: string | null
  readonly ts: number
  readonly data: JsonValue
}

/** A change in a room's presence: `join` on a user's first connection, `leave` after its last, `update` for metadata. */
export interface PresenceMessage {
  readonly type: 'presence'
  readonly room: string
  readonly event: 'join' | 'leave' | 'update'
  readonly member: PresenceMember
}

/** One change in a `presences` batch. */
export interface PresenceChange {
  readonly event: 'join' | 'leave' | 'update'
  readonly member: PresenceMember
}

/**
 * Several presence changes of a room, oldest first, for a session whose `join` asked for batches. In a room told
 * counts only (a large room, past the server's `presence.countAbove`), `events` is empty and `omitted` counts the
 * changes of the window: a member count moves by `join` − `leave`.
 */
export interface PresenceBatchMessage {
  readonly type: 'presences'
  readonly room: string
  readonly events: readonly PresenceChange[]
  /** Changes of the window not listed in `events`, by kind. */
  readonly omitted?: PresenceCounts
}

/** How many presence changes of each kind a `presences` batch counts without listing them. */
export interface PresenceCounts {
  readonly join: number
  readonly leave: number
  readonly update: number
}

/** A peer's signal; `value: null` with `ttlMs: 0` means cleared or expired. */
export interface SignalBroadcastMessage {
  readonly type: 'signal'
  readonly room: string
  readonly from: string
  readonly key: string
  readonly value: JsonValue
  readonly ttlMs: number
}

/** One message of a page of history: a room `message` without its `type` and `room`. */
export interface HistoryEntry {
  readonly epoch: string
  readonly seq: number
  readonly from: string | null
  readonly ts: number
  /** The message's bytes, if it had any: always base64 on the wire, since a history answer is a text frame. */
  readonly bytes?: Uint8Array
  readonly data: JsonValue
}

/** Messages a page of history should hold but the store does not have (never stored): `from`..`to` of `epoch`. */
export interface HistoryGap {
  readonly epoch: string
  readonly from: number
  readonly to: number
}

/**
 * Answers `history`, `search`, or a `join` with `last`: messages oldest first. `more` is true when older ones
 * exist (page back with `before` set to the first message's position); `gaps` names messages of the page's span
 * that history lacks, so nothing is missing silently.
 */
export interface HistoryMessage {
  readonly type: 'history'
  readonly room: string
  readonly id: string
  readonly messages: readonly HistoryEntry[]
  readonly more: boolean
  readonly gaps: readonly HistoryGap[]
}

/** Answers `request` `id` with the handler's output. */
export interface ResponseMessage {
  readonly type: 'response'
  readonly id: string
  readonly output: JsonValue
}

/** Acknowledges the request `id`. For a publish: its `room`, `seq` and `epoch`, and `duplicate` for a retry. */
export interface AckMessage {
  readonly type: 'ack'
  readonly id: string
  readonly room?: string
  readonly seq?: number
  readonly epoch?: string
  readonly duplicate?: boolean
}

/** A refused or failed request; `id` names the request it answers when there was one. */
export interface ErrorMessage {
  readonly type: 'error'
  /** An `ErrorCode`; clients must accept codes they do not know (new ones may be added within v1). */
  readonly code: string
  readonly message: string
  readonly id?: string
  readonly room?: string
  /** For `VALIDATION_FAILED`: where the value broke its schema (`text`, `items.0.name`) and how; at most 20. */
  readonly issues?: readonly ValidationIssueEntry[]
}

/** One schema problem in an `error`: the path in the value (dot-separated; empty for the value itself) and what is wrong. */
export interface ValidationIssueEntry {
  readonly path: string
  readonly message: string
}

/** Answers `ping`, echoing its `id` and `ts`. */
export interface PongMessage {
  readonly type: 'pong'
  readonly id?: string
  readonly ts?: number
}

/** Every message a server sends. */
export type ServerMessage =
  | WelcomeMessage
  | JoinedMessage
  | LeftMessage
  | RoomMessage
  | DirectMessage
  | PresenceMessage
  | PresenceBatchMessage
  | SignalBroadcastMessage
  | AckMessage
  | ErrorMessage
  | PongMessage
  | HistoryMessage
  | ResponseMessage
  | MembersMessage

/** Any protocol message. */
export type Message = ClientMessage | ServerMessage

/** Which side sent a frame; decoding is direction-aware because `signal` has a form in each direction. */
export type Direction = 'client' | 'server'

/** Answers a `members` request: a page of the room's members ordered by user id; `next` is the `after` of the next page, absent on the last. */
export interface MembersMessage {
  readonly type: 'members'
  readonly room: string
  readonly id: string
  readonly members: readonly PresenceMember[]
  readonly next?: string
}

/** The `type` values of client messages. */
export const CLIENT_MESSAGE_TYPES = Object.freeze([
  'authenticate',
  'join',
  'leave',
  'publish',
  'signal',
  'presence-update',
  'ping',
  'history',
  'search',
  'request',
  'members',
] as const satisfies readonly ClientMessage['type'][])

/** The `type` values of server messages. */
export const SERVER_MESSAGE_TYPES = Object.freeze([
  'welcome',
  'joined',
  'left',
  'message',
  'direct',
  'presence',
  'signal',
  'ack',
  'error',
  'pong',
  'history',
  'response',
  'members',
  'presences',
] as const satisfies readonly ServerMessage['type'][])

/** The client message of a given type. */
export type ClientMessageOf<T extends ClientMessage['type']> = Extract<ClientMessage, { type: T }>
/** The server message of a given type. */
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>
