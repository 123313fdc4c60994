import type { HistoryGap, HistoryMessage, JoinedMessage, JsonValue, MembersMessage, PresenceChange, PresenceCounts, Recovery, ResumePoint, RoomMessage, SignalBroadcastMessage } from '@parley/protocol'
import { ParleyClientError } from './client-error.js'
import { BOUND, defineBoundMethods } from './bound-methods.js'
import { Emitter } from './emitter.js'

/** A room handle's state: `joining` until the server's `joined` (again after every reconnect), `left` for good. */
export type RoomState = 'joining' | 'joined' | 'left'

/** One user in a room's presence, however many connections it has. */
export interface Member<P = JsonValue> {
  readonly user: string
  readonly presence: P
  readonly connections: number
}

/** A room message as delivered: the server's `message` with its `seq`, `epoch`, `from`, `ts` and typed `data`. */
export type RoomMessageEvent<M = JsonValue> = Readonly<Omit<RoomMessage, 'data'>> & { readonly data: M }

/** A presence change: `join` on a user's first connection, `leave` after its last, `update` for new metadata. */
export interface PresenceEvent<P = JsonValue> {
  readonly event: 'join' | 'leave' | 'update'
  readonly member: Member<P>
}

/** Presence told as counts (see {@link RoomEvents.count}). */
export interface CountEvent {
  readonly joined: number
  readonly left: number
  readonly updated: number
  readonly memberCount: number
}

/** A peer started or stopped typing (the `typing` signal; `false` also when it expired). */
export interface TypingEvent {
  readonly user: string
  readonly typing: boolean
}

/** A peer's signal (every key but `typing`); `value: null` with `ttlMs: 0` means cleared or expired. */
export interface SignalEvent<S = JsonValue> {
  readonly from: string
  readonly key: string
  readonly value: S | null
  readonly ttlMs: number
}

/** The server's answer to a join: the stream position, the presence snapshot and, for a re-join, the recovery. */
export interface JoinedEvent<P = JsonValue> {
  readonly epoch: string
  readonly seq: number
  readonly members: readonly Member<P>[]
  readonly recovery: Recovery | null
}

/** The room handle is done: `leave()` was called (`reason: 'leave'`), the server removed the client, or refused the join. */
export interface LeftEvent {
  readonly reason: string | undefined
}

/**
 * A page of a room's history, oldest first: the answer to `room.history()` and `room.search()`, and the `history`
 * event of a join with `last`. `more`: older messages exist (page back with `before: page.messages[0]`). `gaps`:
 * messages of the page's span that the server's history lacks (never stored), so nothing is missing silently.
 */
export interface HistoryPage<M = JsonValue> {
  readonly messages: readonly RoomMessageEvent<M>[]
  readonly more: boolean
  readonly gaps: readonly HistoryGap[]
}

/** Options of {@link Room.history} and {@link Room.search}. */
export interface HistoryOptions {
  /** Only messages older than this position: a message (its `epoch` and `seq`), to page back from it. @default the newest */
  readonly before?: ResumePoint | undefined
  /** At most this many messages (1-500); a page is also cut to what fits one frame. @default 50 */
  readonly limit?: number | undefined
  /** How long to wait for the answer, in ms. @default the client's ackTimeoutMs (10_000) */
  readonly timeoutMs?: number | undefined
}

/** Events of a room handle. */
export type RoomEvents<M = JsonValue, P = JsonValue, S = JsonValue> = {
  message: RoomMessageEvent<M>
  presence: PresenceEvent<P>
  /**
   * A large room's presence told as counts (the server's `presence.countAbove`, protocol.md §7.15): how many users
   * joined, left or changed their presence in the last window, and `memberCount` after them. Who they were is not
   * said; `members()` keeps what it had (call `loadMembers()` again for a fresh list).
   */
  count: CountEvent
  typing: TypingEvent
  signal: SignalEvent<S>
  /** After a re-join with a resume point: `{ recovered, replayed, gap }`, before the replayed messages arrive. */
  recovery: Recovery
  joined: JoinedEvent<P>
  /** The room's last messages, for a join with `last` (once, before any live message of that join). */
  history: HistoryPage<M>
  left: LeftEvent
  error: ParleyClientError
}

/** Options of {@link Room.publish}. */
export interface PublishOptions {
  /** The message id (`[A-Za-z0-9_-.:~]`, ≤ 64): reuse one to retry a publish safely; the server de-duplicates by it. @default a fresh unique id */
  readonly id?: string | undefined
  /** `false` leaves this connection out of the fan-out. @default true */
  readonly echo?: boolean | undefined
  /** How long to wait for the ack, from this call, in ms. @default the client's ackTimeoutMs (10_000) */
  readonly timeoutMs?: number | undefined
  /**
   * Bytes to send with `data` (an image, a file, a protobuf): protocol v2, one binary frame on WebSocket, base64 on
   * the HTTP stream. Members get them in the message's `bytes`. Rejects with `UNSUPPORTED_DATA` when the server
   * speaks only v1. They count against `maxPayload` as base64 (4/3 of their size) with `data`.
   */
  readonly bytes?: Uint8Array | undefined
}

/** The server's ack of a publish. */
export interface PublishAck {
  readonly id: string
  /** The message's seq in the room. */
  readonly seq: number | undefined
  readonly epoch: string | undefined
  /** True when the server had this id already (a retry): it was not delivered twice. */
  readonly duplicate: boolean
}

/** Options of {@link Room.signal}. */
export interface SignalOptions {
  /** How long peers keep the value, in ms (1-60_000). @default the server's (5_000) */
  readonly ttlMs?: number | undefined
}

/**
 * A room, returned at once by `client.join()` and usable before the connection is open. `M`, `P` and `S` type the
 * message, presence and signal data.
 */
export interface Room<M = JsonValue, P = JsonValue, S = JsonValue> {
  readonly name: string
  readonly state: RoomState
  /** Adds a handler; returns its unsubscribe. */
  on<K extends keyof RoomEvents<M, P, S>>(type: K, handler: (event: RoomEvents<M, P, S>[K]) => void): () => void
  off<K extends keyof RoomEvents<M, P, S>>(type: K, handler: (event: RoomEvents<M, P, S>[K]) => void): void
  /**
   * Publishes `data`. Resolves with the server's ack; rejects with a `ParleyClientError`: the server's refusal
   * (`FORBIDDEN`, `RATE_LIMITED`, ...), `TIMEOUT`, `PAYLOAD_TOO_LARGE` (checked locally against the server's
   * `maxPayload`), `QUEUE_FULL`, `NOT_JOINED` after `leave()`, `CLOSED`. While offline it waits in the queue.
   */
  publish(data: M, options?: PublishOptions): Promise<PublishAck>
  /** Tells peers this user is typing or stopped; repeated `true` calls are coalesced. Dropped while not joined. */
  typing(isTyping: boolean): void
  /** Sets ephemeral per-key state for peers; `null` clears it. Returns false when dropped (not joined). */
  signal(key: string, value: S | null, options?: SignalOptions): boolean
  /** Replaces this user's presence metadata; also sent with every re-join. */
  setPresence(presence: P): void
  /**
   * The members this client knows: all of them, unless the room is larger than the server's snapshot limit
   * (`memberCount` > `members().length`); then the first ones by user id, those that joined since, and those pages of
   * `loadMembers()` brought.
   */
  members(): Member<P>[]
  /** How many users the room has, whether or not `members()` lists them all (kept up to date by presence events). */
  readonly memberCount: number
  /**
   * Fetches the next page of members (ordered by user id, up to `limit`, default 100) of a room larger than its
   * snapshot, adds them to `members()`, and resolves with them and whether more remain: call until `more` is false.
   * Resolves with none when the snapshot was whole. Rejects with `NOT_JOINED` while the room is not joined,
   * `TIMEOUT`, `CLOSED`; a reconnect starts the paging again from the new snapshot.
   */
  loadMembers(options?: { readonly limit?: number }): Promise<{ members: Member<P>[]; more: boolean }>
  /**
   * A page of the room's history: the newest `limit` messages older than `before`, oldest first, across server
   * restarts when the server has a history store (else its recovery window). Needs no join, but goes through the
   * server's `authorize` (action `history`). Waits for the connection while offline. Rejects with a
   * `ParleyClientError`: `FORBIDDEN`, `HISTORY_CURSOR_INVALID` (a `before` from another room or epoch),
   * `HISTORY_UNAVAILABLE` (the store is down, or the server keeps no history), `INVALID_FIELD`, `TIMEOUT`, `CLOSED`.
   */
  history(options?: HistoryOptions): Promise<HistoryPage<M>>
  /**
   * Full-text search in the room's history (1-256 characters: words, "a phrase", -excluded): the newest `limit`
   * matches older than `before`, oldest first. Needs a server with a history store that searches (its `welcome`
   * lists `search`); rejects like `history()`.
   */
  search(text: string, options?: HistoryOptions): Promise<HistoryPage<M>>
  /** Leaves the room; resolves when the server confirmed (or the connection is gone). Never rejects. */
  leave(): Promise<void>
}

/** What a room handle asks of its client. */
export interface RoomHost {
  publish(room: RoomCore, data: unknown, options: PublishOptions): Promise<PublishAck>
  signal(room: RoomCore, key: string, value: unknown, ttlMs: number | undefined): boolean
  presence(room: RoomCore, presence: unknown): void
  leave(room: RoomCore): Promise<void>
  history(room: RoomCore, text: string | undefined, options: HistoryOptions): Promise<HistoryPage>
  members(room: RoomCore, after: string, limit: number | undefined): Promise<MembersMessage>
}

/** The client's side of a room handle. */
export interface RoomCore {
  readonly name: string
  readonly handle: Room
  state: RoomState
  /** How many users the room has (`memberCount` of the handle). */
  memberCount: number
  /** Presence metadata sent with every join. */
  presence: unknown
  /** The id of the join in flight. */
  joinId: string | undefined
  /**
   * Messages the join asks for (`last`), until its `history` answer (or error) arrived. A re-join that resumes does
   * not ask again: it has the room's position, so it gets what it missed instead (when the connection drops between
   * `joined` and the page, which the server sends back to back, the app reads it with `room.history()`).
   */
  last: number | undefined
  /** The id of the join that asked for `last`, whose `history` answer the client waits for. */
  lastJoinId: string | undefined
  emit<K extends keyof RoomEvents>(type: K, event: RoomEvents[K]): void
  joined(message: JoinedMessage): void
  presenceChanged(change: PresenceChange): void
  /** A `presences` batch's `omitted` counts: the member count moves by joins − leaves. */
  counted(omitted: PresenceCounts): void
  signalled(message: SignalBroadcastMessage): void
}

/** The signal key behind `typing()`. */
export const TYPING_KEY = 'typing'
/** Re-send `typing(true)` this often while it is repeated, so peers' copy (5 s TTL by default) does not expire. */
const TYPING_REFRESH_MS = 2_500

/** A page as the app gets it: each entry a room message again (with `type` and `room`). */
export function historyPage(room: string, message: HistoryMessage): HistoryPage {
  return {
    messages: message.messages.map(({ epoch, seq, from, ts, bytes, data }) =>
      bytes === undefined ? { type: 'message', room, epoch, seq, from, ts, data } : { type: 'message', room, epoch, seq, from, ts, bytes, data },
    ),
    more: message.more,
    gaps: message.gaps,
  }
}

/** Where a room handle keeps its core: a symbol-keyed property, so its getters work on a Proxy of it too (see ClientHandle). */
const CORE = Symbol('parley.room.core')

/** The methods of a room handle. */
type RoomMethods = Omit<Room, 'name' | 'state' | 'memberCount'>

/**
 * A room handle: a class with its getters on the prototype, so each handle is a small object in V8's fast mode
 * (docs/benchmarks.md, "The client's own cost"). Its methods are getters too, each answering a function bound to
 * the room, made on first use and the same ever after (see `defineBoundMethods`): `const { publish } = room` works,
 * and a room whose methods nobody reads holds no closures.
 */
class RoomHandle {
  readonly name: string
  readonly [CORE]: ClientRoom

  constructor(core: ClientRoom) {
    this.name = core.name
    this[CORE] = core
  }

  get state(): RoomState {
    return this[CORE].state
  }

  get memberCount(): number {
    return this[CORE].memberCount
  }
}

// The handle's methods: getters on the prototype (declaration merging types them).
interface RoomHandle extends RoomMethods {}
defineBoundMethods<RoomMethods>(RoomHandle.prototype, CORE, {
  on: true,
  off: true,
  publish: true,
  typing: true,
  signal: true,
  setPresence: true,
  members: true,
  loadMembers: true,
  history: true,
  search: true,
  leave: true,
})

/** Creates a room handle and its client side. */
export function createRoom(name: string, presence: unknown, host: RoomHost): RoomCore {
  return new ClientRoom(name, presence, host)
}

/**
 * The client's side of a room, behind its handle: one object with its methods on the prototype, so a room costs
 * its fields and not a closure per method (docs/benchmarks.md, "The client's own cost").
 */
class ClientRoom implements RoomCore {
  readonly name: string
  readonly handle: Room
  state: RoomState = 'joining'
  memberCount = 0
  presence: unknown
  joinId: string | undefined = undefined
  last: number | undefined = undefined
  lastJoinId: string | undefined = undefined
  readonly #host: RoomHost
  readonly #events = new Emitter<RoomEvents>()
  readonly #members = new Map<string, Member>()
  /** Where the next members page starts (the last user of the partial snapshot or page), or undefined when complete. */
  #membersCursor: string | undefined = undefined
  #typingSent: boolean | undefined = undefined
  #typingAt = 0
  /** The handle's bound methods (see `defineBoundMethods`). */
  ;[BOUND]: Record<string, (...args: unknown[]) => unknown> | undefined = undefined

  constructor(name: string, presence: unknown, host: RoomHost) {
    this.name = name
    this.presence = presence
    this.#host = host
    this.handle = new RoomHandle(this)
    // Every field is made above: a core no one can add to is one Vue's `reactive()` leaves as it is.
    Object.preventExtensions(this)
  }

  // --- What the client tells the room (RoomCore) ---

  emit<K extends keyof RoomEvents>(type: K, event: RoomEvents[K]): void {
    this.#events.emit(type, event)
  }

  joined(message: JoinedMessage): void {
    const members = this.#members
    members.clear()
    for (const member of message.members) members.set(member.user, member)
    this.memberCount = message.memberCount ?? message.members.length
    this.#membersCursor = message.memberCount === undefined ? undefined : message.members.at(-1)?.user
    this.state = 'joined'
    this.#typingSent = undefined
    const { epoch, seq, members: snapshot, recovery } = message
    this.#events.emit('joined', { epoch, seq, members: snapshot, recovery })
    if (recovery !== null) this.#events.emit('recovery', recovery)
  }

  presenceChanged({ event, member }: PresenceChange): void {
    const members = this.#members
    // A join is a user's first connection anywhere, a leave its last: the count moves by one either way.
    if (event === 'join' && !members.has(member.user)) this.memberCount++
    if (event === 'leave') this.memberCount = Math.max(0, this.memberCount - 1)
    if (event === 'leave') members.delete(member.user)
    else members.set(member.user, member)
    this.#events.emit('presence', { event, member })
  }

  counted({ join, leave, update }: PresenceCounts): void {
    this.memberCount = Math.max(0, this.memberCount + join - leave)
    this.#events.emit('count', { joined: join, left: leave, updated: update, memberCount: this.memberCount })
  }

  signalled({ from, key, value, ttlMs }: SignalBroadcastMessage): void {
    if (key === TYPING_KEY) this.#events.emit('typing', { user: from, typing: value === true })
    else this.#events.emit('signal', { from, key, value, ttlMs })
  }

  // --- The app's calls, through the handle (Room) ---

  on<K extends keyof RoomEvents>(type: K, handler: (event: RoomEvents[K]) => void): () => void {
    return this.#events.on(type, handler)
  }

  off<K extends keyof RoomEvents>(type: K, handler: (event: RoomEvents[K]) => void): void {
    this.#events.off(type, handler)
  }

  publish(data: unknown, options: PublishOptions = {}): Promise<PublishAck> {
    return this.#host.publish(this, data, options)
  }

  typing(isTyping: boolean): void {
    const now = Date.now()
    if (isTyping === this.#typingSent && (!isTyping || now - this.#typingAt < TYPING_REFRESH_MS)) return
    if (this.#host.signal(this, TYPING_KEY, isTyping, undefined)) {
      this.#typingSent = isTyping
      this.#typingAt = now
    }
  }

  signal(key: string, value: unknown, options: SignalOptions = {}): boolean {
    return this.#host.signal(this, key, value, options.ttlMs)
  }

  setPresence(value: unknown): void {
    this.#host.presence(this, value)
  }

  members(): Member[] {
    return [...this.#members.values()]
  }

  async loadMembers(options: { readonly limit?: number } = {}): Promise<{ members: Member[]; more: boolean }> {
    if (this.state !== 'joined') throw new ParleyClientError('NOT_JOINED', `Room ${this.name} is not joined`, { room: this.name })
    const after = this.#membersCursor
    if (after === undefined) return { members: [], more: false }
    const page = await this.#host.members(this, after, options.limit)
    if (this.#membersCursor !== after) return { members: [], more: this.#membersCursor !== undefined }
    for (const member of page.members) this.#members.set(member.user, member)
    this.#membersCursor = page.next
    return { members: page.members as Member[], more: page.next !== undefined }
  }

  history(options: HistoryOptions = {}): Promise<HistoryPage> {
    return this.#host.history(this, undefined, options)
  }

  search(text: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    return this.#host.history(this, text, options)
  }

  leave(): Promise<void> {
    return this.#host.leave(this)
  }
}
