import {
  CloseCode,
  DEFAULT_LIMITS,
  describeIssues,
  base64Length,
  BYTES_VERSION,
  utf8ByteLength,
  encode,
  encodeBinary,
  validateWith,
  type Contract,
  type MessageOf,
  type PresenceOf,
  type RequestInput,
  type RequestNames,
  type RequestOutput,
  type IsTypedContract,
  type Schema,
  type SignalOf,
  type AckMessage,
  type ClientMessage,
  type DirectMessage,
  type JsonValue,
  type MembersMessage,
  type PublishMessage,
  type ServerMessage,
  type WelcomeMessage,
} from '@parley/protocol'
import { createIdSource, createPendingRequests } from './acks.js'
import { AuthError, ParleyClientError, errorFromClose, toParleyClientError } from './client-error.js'
import { openConnection, type Connection, type ConnectionHandlers } from './connection.js'
import { BOUND } from './bound-methods.js'
import { ClientHandle, type ClientCoreView } from './client-handle.js'
import { Emitter } from './emitter.js'
import { logClientEvents } from './client-logger.js'
import { createOfflineQueue, type OfflineQueue } from './offline-queue.js'
import { resolveOptions, type ClientOptions, type ResolvedOptions } from './options.js'
import { decideReconnect } from './reconnect.js'
import { createRecoveryTracker } from './recovery.js'
import { createRoom, historyPage, type HistoryOptions, type HistoryPage, type PublishAck, type PublishOptions, type Room, type RoomCore, type RoomHost } from './room.js'
import { transition, type ClientState } from './state.js'
import { createTokenSource, normalizeToken, refreshDelayMs, type TokenSource, type TokenState } from './token.js'

/** A scheduled reconnect: the retry number, its delay, and the close that caused it. */
export interface ReconnectEvent {
  /** 1 for the first retry since the last `welcome`. */
  readonly attempt: number
  readonly delayMs: number
  /** The close code of the lost connection (1006 for a drop, a heartbeat or connect timeout). */
  readonly code: number
  readonly reason: string
  /** The URL the retry will use (clients rotate through their URLs). */
  readonly url: string
  /** What the transport or `getToken` reported about the failure, if anything. */
  readonly error: ParleyClientError | undefined
}

/** Failed attempts after which a first connection that never opened reports an `error` (retrying goes on). */
export const FIRST_CONNECT_REPORT_AFTER = 3

/** Events of a client. */
export type ClientEvents = {
  /** Every state change (see `state.ts`). */
  state: ClientState
  /** Fatal errors (then `closed`), invalid server frames, and server errors no request or room claims. */
  error: ParleyClientError
  /** Every (re)connect's `welcome`: session, negotiated protocol, limits, heartbeat, user. */
  welcome: WelcomeMessage
  reconnect: ReconnectEvent
  /** A server-initiated message to this user, outside any room. */
  direct: DirectMessage
  /** The transport carrying the connection changed (`'websocket'`, `'http-stream'`), e.g. after a fallback. */
  transport: string
  /**
   * The server joined this client to a room it did not ask for (a server-side subscription,
   * `parley.user(id).join(room)`): the handle, already joined. It is re-joined after a reconnect like any room (its
   * own join then goes through the server's `authorize`), until `leave()` or the server removes it.
   */
  room: Room
}

/** Options of {@link Client.join}. */
export interface JoinOptions<P = JsonValue> {
  /** This user's presence metadata in the room. */
  readonly presence?: P | undefined
  /** Resume from where this client last was in the room (if it was). @default true */
  readonly resume?: boolean | undefined
  /**
   * Also get the room's last `last` messages (1-500) as one `history` event, before any live message: what a chat
   * page shows on open. Asked once (a re-join after a reconnect resumes instead, so nothing comes twice); not when
   * the room resumes from a position this client has, nor from a server without history (its `welcome` lacks it).
   */
  readonly last?: number | undefined
}

/** Options of {@link Client.request}. */
export interface RequestOptions {
  /** How long to wait for the answer, in ms. @default the contract's timeoutMs for the request, else ackTimeoutMs */
  readonly timeoutMs?: number | undefined
}

/** A Parley client; `C` is the app's contract (option `contract`), which types `join()` and `request()`. */
export interface Client<C extends Contract | undefined = Contract | undefined> {
  readonly state: ClientState
  /** The URL of the current (or last) connection attempt. */
  readonly url: string
  /** The negotiated subprotocol, e.g. `parley.v1.json`, once welcomed. */
  readonly protocol: string | undefined
  /** The transport of the current (last welcomed) connection: `'websocket'` or `'http-stream'` with the default transport. */
  readonly transport: string | undefined
  /** The negotiated protocol version, once welcomed. */
  readonly version: number | undefined
  /** The server's session id of the current connection. */
  readonly session: string | undefined
  /** The authenticated user id, as the server sees it. */
  readonly user: string | undefined
  /** The last `welcome`. */
  readonly welcome: WelcomeMessage | undefined
  /** Adds a handler; returns its unsubscribe. */
  on<K extends keyof ClientEvents>(type: K, handler: (event: ClientEvents[K]) => void): () => void
  off<K extends keyof ClientEvents>(type: K, handler: (event: ClientEvents[K]) => void): void
  /**
   * Joins a room and returns its handle at once, usable before the connection is open. Joining a room already
   * joined returns the same handle (updating presence when given). Throws `ROOM_NAME_INVALID` for a bad name and
   * `CLOSED` after `close()`.
   */
  join<N extends string>(room: N, options?: JoinOptions<PresenceOf<C, N>>): Room<MessageOf<C, N>, PresenceOf<C, N>, SignalOf<C, N>>
  /** Without a contract, the types of a room are given as type arguments (`join<ChatMessage>('general')`). */
  join<M = JsonValue, P = JsonValue, S = JsonValue>(room: IsTypedContract<C> extends true ? never : string, options?: JoinOptions<P>): Room<M, P, S>
  /**
   * Calls a request the server handles (`parley.handle()`), typed by the contract: resolves with the output;
   * rejects with a `ParleyClientError`: `VALIDATION_FAILED` (the input, checked here first, or the output) with
   * `issues`, `UNKNOWN_REQUEST`, a code the contract lists for it, `TIMEOUT`, `CONNECTION_FAILED` when the connection
   * is lost before the answer (the request may have run), `CLOSED`. Waits for the connection while offline.
   */
  request<N extends RequestNames<C>>(name: N, input: RequestInput<C, N>, options?: RequestOptions): Promise<RequestOutput<C, N>>
  request(name: IsTypedContract<C> extends true ? never : string, input: JsonValue, options?: RequestOptions): Promise<JsonValue>
  /** Closes for good: idempotent; pending publishes reject with `CLOSED`; resolves once the socket closed. */
  close(): Promise<void>
}

interface Outgoing {
  readonly id: string
  readonly room: string
  readonly message: PublishMessage
  readonly frame: string | Uint8Array
  /** The form the frame was made in (see `formOf`): made again when the connection wants another. */
  readonly form: string
}

/**
 * Creates a client and starts connecting at once. `url` may be a list: each reconnect moves to the next one, so a
 * client fails over between server nodes.
 */
export function createClient<C extends Contract | undefined = Contract | undefined>(url: string | readonly string[], options: ClientOptions & { readonly contract?: C } = {}): Client<C> {
  const core = new ClientCore(resolveOptions(url, options))
  core.start()
  return core.handle as unknown as Client<C>
}

/**
 * A client's state and logic: one object per client, with its methods on the prototype, so that a process holding
 * thousands of clients pays for their fields and not for forty closures and their context each (docs/benchmarks.md,
 * "The client's own cost"). It is the room handles' host and the connection's listener; the app sees only its
 * `handle`.
 */
class ClientCore implements ClientCoreView, RoomHost, ConnectionHandlers {
  readonly opts: ResolvedOptions
  readonly handle: ClientHandle
  readonly #events = new Emitter<ClientEvents>()
  readonly #recovery = createRecoveryTracker()
  // A request that times out while the client is not connected names the last connection error: that is the cause.
  readonly #pending = createPendingRequests<ServerMessage | undefined>(() => this.#notConnectedReason())
  readonly #queue: OfflineQueue<Outgoing>
  readonly #rooms = new Map<string, RoomCore>()
  // The next five are made on first use: an empty Map or Set takes about 190 bytes of heap, and most clients never
  // send a request, read history or leave a room.
  /** Publishes sent on the current connection and not yet answered, in send order. */
  #inflight: Map<string, Outgoing> | undefined
  /** Requests waiting for the connection, by id: each is sent once (it may not be safe to run twice). */
  #waitingRequests: Map<string, ClientMessage> | undefined
  /** Requests sent on the current connection and not answered yet: a lost connection rejects them. */
  #sentRequests: Set<string> | undefined
  /** History reads waiting for the connection (or for their answer), by id: sent again after a reconnect. */
  #reads: Map<string, ClientMessage> | undefined
  /** Rooms whose leave is not answered yet. */
  #leaving: Set<string> | undefined
  /** The last error a connection attempt or a lost connection reported, for timeouts to name. */
  #lastError: ParleyClientError | undefined
  /** Request ids: a random prefix per client, then a counter (see `createIdSource`). */
  readonly #ids = createIdSource()
  readonly #tokens: TokenSource
  /** Cleanups of the current connection's requests (leaves, authenticates), run when it ends. */
  #onDisconnect: Array<() => void> = []
  #connection: Connection | undefined
  /** Welcomed (and, with first-message authentication, authenticated): joins may go out. */
  #ready = false
  #failures = 0
  #urlIndex = 0
  #token: TokenState = { token: undefined, expiresAt: undefined }
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #refreshTimer: ReturnType<typeof setTimeout> | undefined
  #closing: Promise<void> | undefined
  // What the handle's getters read (ClientCoreView).
  state: ClientState = 'connecting'
  /** The URL of the current (or last) connection attempt. */
  url: string
  /** The last `welcome`. */
  lastWelcome: WelcomeMessage | undefined = undefined
  /** The transport of the last welcomed connection. */
  transportName: string | undefined = undefined
  /** The handle's bound methods (see `defineBoundMethods`). */
  ;[BOUND]: Record<string, (...args: unknown[]) => unknown> | undefined = undefined

  constructor(opts: ResolvedOptions) {
    this.opts = opts
    this.url = opts.urls[0] as string
    this.#queue = createOfflineQueue<Outgoing>(opts.offlineQueueSize)
    this.#tokens = createTokenSource(opts)
    this.handle = new ClientHandle(this)
    if (opts.logger !== undefined) logClientEvents(this.#events, opts.logger, () => this.url)
    // Every field is made above: a core no one can add to is one Vue's `reactive()` leaves as it is.
    Object.preventExtensions(this)
  }

  start(): void {
    void this.#connect().catch((error: unknown) => this.#events.emit('error', toParleyClientError(error)))
  }

  // --- The app's calls, through the handle (Client) ---

  on<K extends keyof ClientEvents>(type: K, handler: (event: ClientEvents[K]) => void): () => void {
    return this.#events.on(type, handler)
  }

  off<K extends keyof ClientEvents>(type: K, handler: (event: ClientEvents[K]) => void): void {
    this.#events.off(type, handler)
  }

  join(name: string, joinOptions: JoinOptions = {}): Room {
    const { presence, last } = joinOptions
    // Checks the name, presence and last now, so a mistake throws here rather than coming back as a refusal later.
    this.#encodeOrThrow({ type: 'join', room: name, ...(presence === undefined ? {} : { presence }), ...(last === undefined ? {} : { last }) })
    if (this.state === 'closed') throw new ParleyClientError('CLOSED', 'The client is closed', { room: name })
    const existing = this.#rooms.get(name)
    if (existing !== undefined) {
      if (presence !== undefined) existing.handle.setPresence(presence)
      return existing.handle
    }
    if (joinOptions.resume === false) this.#recovery.forget(name)
    const room = createRoom(name, presence, this)
    room.last = last
    this.#rooms.set(name, room)
    this.#sendJoin(room)
    return room.handle
  }

  request(name: string, input: unknown, requestOptions: RequestOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const opts = this.opts
      if (this.state === 'closed') return reject(new ParleyClientError('CLOSED', 'The client is closed'))
      const contract = opts.contract?.request(name)
      if (opts.contract !== undefined && contract === undefined) return reject(new ParleyClientError('UNKNOWN_REQUEST', `The contract has no request ${name}`))
      // Checked here to fail early, and sent as given: the server applies the input schema itself.
      if (contract !== undefined && opts.checks !== undefined) {
        const result = validateWith(contract.input, input)
        if ('issues' in result) return reject(new ParleyClientError('VALIDATION_FAILED', `request ${name}: input: ${describeIssues(result.issues)}`, { issues: result.issues }))
      }
      const id = this.#ids.next()
      const message: ClientMessage = { type: 'request', id, name, input: input as JsonValue }
      try {
        this.#encodeOrThrow(message)
      } catch (error) {
        return reject(error)
      }
      this.#pending.add(id, requestOptions.timeoutMs ?? contract?.timeoutMs ?? opts.ackTimeoutMs, (result) => {
        this.#waitingRequests?.delete(id)
        this.#sentRequests?.delete(id)
        if (!result.ok) return reject(result.error)
        const { output } = result.value as Extract<ServerMessage, { type: 'response' }>
        if (contract === undefined || opts.checks === undefined) return resolve(output)
        const checked = validateWith(contract.output, output)
        if ('issues' in checked) return reject(new ParleyClientError('VALIDATION_FAILED', `request ${name}: output: ${describeIssues(checked.issues)}`, { id, issues: checked.issues }))
        resolve(checked.value)
      })
      if (this.#ready && this.#isOpen()) this.#sendRequest(id, message)
      else (this.#waitingRequests ??= new Map()).set(id, message)
    })
  }

  close(): Promise<void> {
    return this.#shutdown(undefined)
  }

  // --- What a connection reports (ConnectionHandlers) ---

  welcome(message: WelcomeMessage): void {
    this.lastWelcome = message
    const carrying = this.#connection?.transportName
    if (carrying !== this.transportName) {
      this.transportName = carrying
      if (carrying !== undefined) this.#events.emit('transport', carrying)
    }
    this.#failures = 0
    if (this.state !== 'open') this.#setState('open')
    if (this.state !== 'open') return
    this.#events.emit('welcome', message)
    if (this.state !== 'open') return
    this.#scheduleRefresh()
    // First-message authentication: the server welcomed an anonymous session and waits for the token in band.
    if (message.user === undefined && this.#token.token !== undefined) this.#authenticate(this.#token.token, () => this.#joinAll())
    else this.#joinAll()
  }

  message(message: ServerMessage): void {
    const rooms = this.#rooms
    switch (message.type) {
      case 'joined': {
        const room = rooms.get(message.room)
        // Only the answer to this handle's join moves the stream position: not a stray `joined`, nor the late answer
        // to an earlier handle's join of the same room (leave and join again before it came).
        const ours = room?.state === 'joining' && (message.id === undefined || message.id === room.joinId)
        // A `joined` without id for a joined room is the server's re-sync (protocol §8): its stream jumped (another
        // epoch, a lost subscription), so the position moves and the app gets the recovery result.
        const resync = room?.state === 'joined' && message.id === undefined
        if (message.id !== undefined) this.#pending.resolve(message.id, message)
        if (room === undefined && message.id === undefined && this.#leaving?.has(message.room) !== true) {
          // A server-side join: a room of the server's choosing, surfaced with a handle of its own.
          const joined = createRoom(message.room, undefined, this)
          rooms.set(message.room, joined)
          this.#recovery.joined(message)
          joined.joined(message)
          this.#events.emit('room', joined.handle)
          return this.#flush()
        }
        if ((!ours && !resync) || room === undefined) return
        this.#recovery.joined(message)
        room.joined(message)
        return this.#flush()
      }
      case 'left': {
        if (message.id !== undefined && this.#pending.resolve(message.id, message)) return
        const room = rooms.get(message.room)
        if (room !== undefined) this.#removeRoom(room, new ParleyClientError('NOT_JOINED', `Removed from room ${room.name}`, { room: room.name }), message.reason)
        return
      }
      case 'message': {
        const room = rooms.get(message.room)
        // The position advances before any handler runs (exactly-once even when a handler leaves or re-joins).
        if (room?.state !== 'joined' || !this.#recovery.accept(message)) return
        // Checked after the position moved: a message that breaks its schema is reported, never delivered, never asked again.
        const checked = this.#checkedOrReported(this.opts.checks?.room(message.room)?.message, message.data, room, 'message data')
        if (checked !== undefined) room.emit('message', checked.value === message.data ? message : { ...message, data: checked.value as JsonValue })
        return
      }
      case 'presence':
      case 'presences': {
        const room = rooms.get(message.room)
        if (room?.state !== 'joined') return
        const presenceSchema = this.opts.checks?.room(message.room)?.presence
        for (const change of message.type === 'presence' ? [message] : message.events) {
          // null is no presence at all (a join without one), which the server does not check either.
          const schema = change.event === 'leave' || change.member.presence === null ? undefined : presenceSchema
          if (this.#checkedOrReported(schema, change.member.presence, room, `presence of ${change.member.user}`) !== undefined) room.presenceChanged(change)
        }
        if (message.type === 'presences' && message.omitted !== undefined) room.counted(message.omitted)
        return
      }
      case 'signal': {
        const room = rooms.get(message.room)
        if (room?.state !== 'joined') return
        const signals = this.opts.checks?.room(message.room)?.signals
        if (signals !== undefined && message.value !== null) {
          const schema = Object.prototype.hasOwnProperty.call(signals, message.key) ? signals[message.key] : undefined
          if (schema === undefined) return void room.emit('error', new ParleyClientError('VALIDATION_FAILED', `signal ${message.key} in ${room.name}: the contract has no such signal`, { room: room.name }))
          if (this.#checkedOrReported(schema, message.value, room, `signal ${message.key}`) === undefined) return
        }
        room.signalled(message)
        return
      }
      case 'ack':
      case 'response':
      case 'members':
        this.#pending.resolve(message.id, message)
        return
      case 'history': {
        if (this.#pending.resolve(message.id, message)) return
        // The answer to a join with `last`: once, before the join's live messages (the server sends it first).
        const room = rooms.get(message.room)
        if (room === undefined || room.lastJoinId !== message.id) return
        room.last = undefined
        room.lastJoinId = undefined
        room.emit('history', this.#checkedPage(room, historyPage(room.name, message)))
        return
      }
      case 'error': {
        const details = {
          ...(message.id === undefined ? {} : { id: message.id }),
          ...(message.room === undefined ? {} : { room: message.room }),
          ...(message.issues === undefined ? {} : { issues: message.issues }),
        }
        const error =
          message.code === 'UNAUTHORIZED' ? new AuthError(message.message, details) : new ParleyClientError(message.code, message.message, details)
        if (message.id !== undefined && this.#pending.reject(message.id, error)) return
        const room = message.room === undefined ? undefined : rooms.get(message.room)
        // The history of a join with `last` could not be read: the join stands, the room's `error` says so.
        if (room !== undefined && message.id !== undefined && room.lastJoinId === message.id) {
          room.last = undefined
          room.lastJoinId = undefined
        }
        if (room !== undefined) room.emit('error', error)
        else this.#events.emit('error', error)
        return
      }
      case 'direct':
        this.#events.emit('direct', message)
        return
      default:
        // pong: its arrival already fed the heartbeat; welcome: handled by the connection.
        return
    }
  }

  invalid(error: ParleyClientError): void {
    this.#events.emit('error', error)
  }

  closed(code: number, reason: string, error: ParleyClientError | undefined): void {
    this.#connection = undefined
    this.#ready = false
    if (this.state === 'closed') return
    clearTimeout(this.#refreshTimer)
    this.#runCleanups()
    // In-flight publishes go back to the front of the queue with their ids: the server de-duplicates by id, so
    // sending them again after the re-join cannot deliver any of them twice.
    if (this.#inflight !== undefined) {
      this.#queue.unshift([...this.#inflight.values()])
      this.#inflight.clear()
    }
    for (const room of this.#rooms.values()) room.state = 'joining'

    if (error !== undefined) this.#lastError = error
    // An HTTP 404 for the endpoint is a wrong URL, not an outage: final, naming the path.
    if (error?.code === 'NOT_FOUND') {
      let path = ''
      try {
        path = new URL(this.url).pathname
      } catch {
        // A custom transport's URL: the message says what it can.
      }
      return void this.#shutdown(new ParleyClientError('NOT_FOUND', `${error.message.replace("this URL's path", path === '' ? "this URL's path" : path)}`, { status: 404, cause: error }))
    }
    const opts = this.opts
    const decision = decideReconnect(code, this.#failures + 1, opts.reconnect, opts.random)
    if (!decision.retry) {
      const fatal =
        decision.reason === 'fatal-close'
          ? error !== undefined && error.closeCode === code
            ? error
            : errorFromClose(code, reason, opts.subprotocols)
          : new ParleyClientError(
              'CONNECTION_FAILED',
              `Connection lost (${code}${reason ? `: ${reason}` : ''}) and not retried after ${this.#failures} attempt(s)`,
              { closeCode: code, cause: error },
            )
      return void this.#shutdown(fatal)
    }
    this.#failures = decision.attempt
    // A first connection that keeps failing is reported once, with its cause, while retrying goes on: a wrong port
    // or host should not look like a client that is merely slow to connect.
    if (this.lastWelcome === undefined && this.#failures === FIRST_CONNECT_REPORT_AFTER && error !== undefined) {
      this.#events.emit('error', new ParleyClientError('CONNECTION_FAILED', `Cannot connect to ${this.url} after ${this.#failures} attempts (retrying): ${error.message}`, { closeCode: code, cause: error }))
    }
    if (this.state === 'open') this.#setState('reconnecting')
    // A state handler may have called close().
    if (this.#closing !== undefined) return
    this.#retryTimer = setTimeout(() => this.start(), decision.delayMs)
    this.#events.emit('reconnect', {
      attempt: this.#failures,
      delayMs: decision.delayMs,
      code,
      reason,
      url: opts.urls[this.#urlIndex % opts.urls.length] as string,
      error,
    })
  }

  // --- What room handles ask (RoomHost) ---

  publish(room: RoomCore, data: unknown, publishOptions: PublishOptions): Promise<PublishAck> {
    return new Promise<PublishAck>((resolve, reject) => {
      if (this.state === 'closed') return reject(new ParleyClientError('CLOSED', 'The client is closed', { room: room.name }))
      if (room.state === 'left') return reject(new ParleyClientError('NOT_JOINED', `Room ${room.name} was left`, { room: room.name }))
      const id = publishOptions.id ?? this.#ids.next()
      const pending = this.#pending
      if (pending.has(id)) return reject(new ParleyClientError('INVALID_FIELD', `A request with id ${id} is already pending`, { id }))
      const bytes = publishOptions.bytes
      if (bytes !== undefined && !(bytes instanceof Uint8Array)) return reject(new ParleyClientError('INVALID_FIELD', 'bytes: expected a Uint8Array', { id, room: room.name }))
      const message: PublishMessage = {
        type: 'publish',
        room: room.name,
        data: data as JsonValue,
        id,
        ...(publishOptions.echo === undefined ? {} : { echo: publishOptions.echo }),
        // A copy: the app may reuse its buffer while the publish waits in the queue.
        ...(bytes === undefined ? {} : { bytes: new Uint8Array(bytes) }),
      }
      let frame: string | Uint8Array
      try {
        frame = this.#encodePublish(message)
      } catch (error) {
        return reject(error)
      }
      const item: Outgoing = { id, room: room.name, message, frame, form: this.#formOf(message) }
      const queue = this.#queue
      // Straight out when nothing waits before it; otherwise behind the others, in the bounded queue.
      const now = this.#ready && this.#isOpen() && room.state === 'joined' && queue.size === 0
      if (!now && !queue.push(item)) {
        return reject(new ParleyClientError('QUEUE_FULL', `The offline queue is full (${this.opts.offlineQueueSize} publishes)`, { id, room: room.name }))
      }
      pending.add(id, publishOptions.timeoutMs ?? this.opts.ackTimeoutMs, (result) => {
        // Whatever the outcome, a settled publish is never sent (again): a timed-out one leaves the queue.
        queue.remove(id)
        this.#inflight?.delete(id)
        if (!result.ok) return reject(result.error)
        const ack = result.value as AckMessage
        resolve({ id, seq: ack.seq, epoch: ack.epoch, duplicate: ack.duplicate === true })
      })
      if (now) {
        ;(this.#inflight ??= new Map()).set(id, item)
        this.#connection?.send(frame)
      }
    })
  }

  signal(room: RoomCore, key: string, value: unknown, ttlMs: number | undefined): boolean {
    const frame = this.#encodeOrThrow({ type: 'signal', room: room.name, key, value: value as JsonValue, ...(ttlMs === undefined ? {} : { ttlMs }) })
    if (!this.#isOpen() || room.state !== 'joined') return false
    this.#connection?.send(frame)
    return true
  }

  presence(room: RoomCore, presence: unknown): void {
    const frame = this.#encodeOrThrow({ type: 'presence-update', room: room.name, presence: presence as JsonValue })
    room.presence = presence
    if (this.#isOpen() && room.state === 'joined') this.#connection?.send(frame)
  }

  leave(room: RoomCore): Promise<void> {
    if (room.state === 'left') return Promise.resolve()
    this.#removeRoom(room, new ParleyClientError('NOT_JOINED', `Room ${room.name} was left`, { room: room.name }), 'leave')
    if (!this.#isOpen()) return Promise.resolve()
    const id = this.#ids.next()
    this.#send({ type: 'leave', room: room.name, id })
    // Until the leave is answered, a `joined` without id for this room is the server's re-sync of the old
    // membership, not a server-side join.
    ;(this.#leaving ??= new Set()).add(room.name)
    return new Promise<void>((resolve) => {
      this.#pending.add(id, this.opts.ackTimeoutMs, () => {
        this.#leaving?.delete(room.name)
        resolve()
      })
      this.#onDisconnect.push(() => this.#pending.resolve(id, undefined))
    })
  }

  /** Sends a history or search request now, or once connected; resolves with its page. */
  history(room: RoomCore, text: string | undefined, options: HistoryOptions): Promise<HistoryPage> {
    return new Promise<HistoryPage>((resolve, reject) => {
      if (this.state === 'closed') return reject(new ParleyClientError('CLOSED', 'The client is closed', { room: room.name }))
      if (this.lastWelcome !== undefined && !this.#hasHistory()) {
        return reject(new ParleyClientError('HISTORY_UNAVAILABLE', 'This server keeps no history (its welcome does not list it)', { room: room.name }))
      }
      const id = this.#ids.next()
      const { before, limit } = options
      const message: ClientMessage = {
        type: text === undefined ? 'history' : 'search',
        room: room.name,
        id,
        ...(text === undefined ? {} : { text }),
        ...(before === undefined ? {} : { before: { epoch: before.epoch, seq: before.seq } }),
        ...(limit === undefined ? {} : { limit }),
      } as ClientMessage
      try {
        this.#encodeOrThrow(message)
      } catch (error) {
        return reject(error)
      }
      ;(this.#reads ??= new Map()).set(id, message)
      this.#pending.add(id, options.timeoutMs ?? this.opts.ackTimeoutMs, (result) => {
        this.#reads?.delete(id)
        if (!result.ok) return reject(result.error)
        resolve(this.#checkedPage(room, historyPage(room.name, result.value as Extract<ServerMessage, { type: 'history' }>)))
      })
      if (this.#ready && this.#isOpen()) this.#send(message)
    })
  }

  members(room: RoomCore, after: string, limit: number | undefined): Promise<MembersMessage> {
    return new Promise((resolve, reject) => {
      if (this.state !== 'open') return reject(new ParleyClientError('NOT_JOINED', `Room ${room.name} is not joined`, { room: room.name }))
      const id = this.#ids.next()
      const message: ClientMessage = { type: 'members', room: room.name, id, after, ...(limit === undefined ? {} : { limit }) }
      try {
        this.#encodeOrThrow(message)
      } catch (error) {
        return reject(error)
      }
      this.#pending.add(id, this.opts.ackTimeoutMs, (result) => (result.ok ? resolve(result.value as MembersMessage) : reject(result.error)))
      this.#send(message)
    })
  }

  // --- Inside ---

  #notConnectedReason(): string | undefined {
    return this.state !== 'open' && this.#lastError !== undefined ? `not connected; last connection error: ${this.#lastError.message}` : undefined
  }

  #setState(next: ClientState): void {
    this.state = transition(this.state, next)
    this.#events.emit('state', this.state)
  }

  #maxPayload(): number {
    return this.lastWelcome?.limits.maxPayload ?? DEFAULT_LIMITS.maxPayload
  }

  /** Encodes with the server's limits; a bad value from the app throws a typed error to the caller. */
  #encodeOrThrow(message: ClientMessage): string {
    try {
      return encode(message, { limits: { maxPayload: this.#maxPayload() } })
    } catch (error) {
      throw toParleyClientError(error)
    }
  }

  #send(message: ClientMessage): void {
    this.#connection?.send(this.#encodeOrThrow(message))
  }

  /** A publish with bytes goes as a binary frame where the connection speaks v2 and carries them (WebSocket). */
  #binaryFor(message: PublishMessage): boolean {
    return message.bytes !== undefined && this.#connection?.binary === true && (this.lastWelcome?.version ?? 0) >= BYTES_VERSION
  }

  /**
   * The form a publish's frame takes on the current connection: the `maxPayload` it is checked against, binary or
   * text, and for one with bytes the version agreed (a publish queued before a welcome is checked again after it).
   */
  #formOf(message: PublishMessage): string {
    return `${this.#maxPayload()}${message.bytes === undefined ? '' : `${this.#binaryFor(message) ? 'b' : 't'}${this.lastWelcome?.version ?? 0}`}`
  }

  /**
   * Encodes a publish in the form the connection wants. Bytes to a v1 server are UNSUPPORTED_DATA, and bytes whose
   * text form (with `data`) would pass `maxPayload` are PAYLOAD_TOO_LARGE, the server's own rule (protocol §19.4):
   * both refused here, before anything is sent.
   */
  #encodePublish(message: PublishMessage): string | Uint8Array {
    const bytes = message.bytes
    const welcome = this.lastWelcome
    if (bytes !== undefined && welcome !== undefined && welcome.version < BYTES_VERSION) {
      throw new ParleyClientError('UNSUPPORTED_DATA', `The server speaks ${welcome.protocol}, which carries no bytes (protocol v2 does)`, whereOf(message))
    }
    const maxPayload = this.#maxPayload()
    let frame: string | Uint8Array
    try {
      // Validates `data` too (a value JSON cannot carry is INVALID_FIELD), before it is serialised below.
      frame = this.#binaryFor(message) ? encodeBinary(message, { limits: { maxPayload } }) : encode(message, { limits: { maxPayload } })
    } catch (error) {
      throw toParleyClientError(error)
    }
    if (bytes !== undefined) {
      const size = utf8ByteLength(JSON.stringify(message.data)) + base64Length(bytes.byteLength)
      if (size > maxPayload) throw new ParleyClientError('PAYLOAD_TOO_LARGE', `data and bytes (as base64) are ${size} bytes, more than maxPayload (${maxPayload})`, whereOf(message))
    }
    return frame
  }

  #isOpen(): boolean {
    return this.state === 'open' && this.#connection !== undefined
  }

  async #connect(): Promise<void> {
    const opts = this.opts
    this.url = opts.urls[this.#urlIndex++ % opts.urls.length] as string
    let next: TokenState
    try {
      next = await this.#tokens.next()
    } catch (thrown) {
      if (this.state === 'closed') return
      const error = toParleyClientError(thrown)
      if (error instanceof AuthError) return void this.#shutdown(error)
      return this.closed(CloseCode.Abnormal, 'getToken failed', error)
    }
    if (this.state === 'closed') return
    this.#token = next
    try {
      this.#connection = openConnection(
        {
          request: { url: this.url, protocols: opts.subprotocols, token: next.token },
          transport: opts.transport,
          connectTimeoutMs: opts.connectTimeoutMs,
          heartbeat: opts.heartbeat,
          inboundLimits: opts.inboundLimits,
        },
        this,
      )
    } catch (error) {
      // A custom transport that throws instead of reporting: a failed attempt like any other.
      this.closed(CloseCode.Abnormal, 'Transport failed', toParleyClientError(error))
    }
  }

  #joinAll(): void {
    this.#ready = true
    for (const room of this.#rooms.values()) if (room.state === 'joining' && room.joinId === undefined) this.#sendJoin(room)
    this.#flush()
    if (this.#reads !== undefined) for (const message of this.#reads.values()) this.#send(message)
    const waiting = this.#waitingRequests
    if (waiting !== undefined) for (const [id, message] of waiting) this.#sendRequest(id, message)
    waiting?.clear()
  }

  /** Sends a request now; a connection lost before its answer rejects it (it may have run). */
  #sendRequest(id: string, message: ClientMessage): void {
    this.#send(message)
    ;(this.#sentRequests ??= new Set()).add(id)
  }

  /** A page of history with each message checked like a live one: one that breaks its schema is reported and left out. */
  #checkedPage(room: RoomCore, page: HistoryPage): HistoryPage {
    const schema = this.opts.checks?.room(room.name)?.message
    if (schema === undefined) return page
    const messages: HistoryPage['messages'][number][] = []
    for (const message of page.messages) {
      const checked = this.#checkedOrReported(schema, message.data, room, `message ${message.seq} in history`)
      if (checked !== undefined) messages.push(checked.value === message.data ? message : { ...message, data: checked.value as JsonValue })
    }
    return messages.length === page.messages.length ? page : { ...page, messages }
  }

  /** The value checked against `schema` when the client checks values; reports and answers undefined when it breaks it. */
  #checkedOrReported(schema: Schema | undefined, value: unknown, room: RoomCore, what: string): { value: unknown } | undefined {
    if (schema === undefined) return { value }
    const result = validateWith(schema, value)
    if ('value' in result) return result
    room.emit('error', new ParleyClientError('VALIDATION_FAILED', `${what} in ${room.name}: ${describeIssues(result.issues)}`, { room: room.name, issues: result.issues }))
    return undefined
  }

  /** Whether the server keeps history (its `welcome` says so); a server that predates it ignores `last`. */
  #hasHistory(): boolean {
    return this.lastWelcome?.capabilities.includes('history') === true
  }

  #sendJoin(room: RoomCore): void {
    if (!this.#ready || !this.#isOpen()) return
    const id = this.#ids.next()
    const resume = this.#recovery.resumePoint(room.name)
    room.joinId = id
    const last = resume === undefined && this.#hasHistory() ? room.last : undefined
    room.lastJoinId = last === undefined ? undefined : id
    this.#send({
      type: 'join',
      room: room.name,
      id,
      ...(resume === undefined ? {} : { resume }),
      ...(last === undefined ? {} : { last }),
      ...(room.presence === undefined ? {} : { presence: room.presence as JsonValue }),
      // Presence changes in batches from a server that gathers them: a large room fills in O(members) frames.
      ...(this.lastWelcome?.capabilities.includes('presence-batch') === true ? { batch: true } : {}),
    })
    this.#pending.add(id, this.opts.ackTimeoutMs, (result) => {
      // A join that timed out stays `joining` and keeps its id, so a late `joined` still counts; it is sent again on
      // the next connection. A refused one is final.
      const timedOut = !result.ok && result.error.code === 'TIMEOUT'
      if (room.joinId === id && !timedOut) room.joinId = undefined
      if (result.ok || room.state === 'left') return
      if (!timedOut) this.#removeRoom(room, result.error, result.error.code)
      room.emit('error', result.error)
    })
    // A lost connection forgets the join (see #runCleanups); it is sent again on the next one.
  }

  #authenticate(value: string, then: () => void): void {
    const id = this.#ids.next()
    this.#send({ type: 'authenticate', token: value, id })
    this.#pending.add(id, this.opts.ackTimeoutMs, (result) => (result.ok ? then() : this.#events.emit('error', result.error)))
    this.#onDisconnect.push(() => this.#pending.cancel(id))
  }

  #scheduleRefresh(): void {
    clearTimeout(this.#refreshTimer)
    const { expiresAt } = this.#token
    if (expiresAt === undefined || this.opts.getToken === undefined) return
    this.#refreshTimer = setTimeout(() => void this.#refresh(), refreshDelayMs(expiresAt, this.opts.refreshBeforeMs, Date.now()))
  }

  async #refresh(): Promise<void> {
    const current = this.#connection
    let next: TokenState
    try {
      next = normalizeToken(await (this.opts.getToken as NonNullable<ResolvedOptions['getToken']>)())
    } catch (error) {
      // The server closes with 4419 once the old token expires; the reconnect then asks getToken again.
      if (this.#connection === current) this.#events.emit('error', toParleyClientError(error))
      return
    }
    if (this.#connection !== current || !this.#isOpen() || next.token === undefined) return
    this.#authenticate(next.token, () => {
      const progressed = next.expiresAt !== undefined && next.expiresAt > (this.#token.expiresAt ?? -Infinity)
      this.#token = next
      if (progressed) this.#scheduleRefresh()
    })
  }

  /** Sends every queued publish whose room is joined, in order. */
  #flush(): void {
    if (!this.#ready || !this.#isOpen()) return
    const queue = this.#queue
    if (queue.size === 0) return
    for (const item of queue.take((queued) => this.#rooms.get(queued.room)?.state === 'joined')) {
      let frame = item.frame
      if (item.form !== this.#formOf(item.message)) {
        try {
          frame = this.#encodePublish(item.message)
        } catch (error) {
          this.#pending.reject(item.id, toParleyClientError(error))
          continue
        }
      }
      ;(this.#inflight ??= new Map()).set(item.id, item)
      this.#connection?.send(frame)
    }
  }

  #forgetJoin(room: RoomCore): void {
    if (room.joinId === undefined) return
    this.#pending.cancel(room.joinId)
    room.joinId = undefined
  }

  #removeRoom(room: RoomCore, error: ParleyClientError, reason: string | undefined): void {
    // A join in flight stays pending: its answer (a refusal, say) still comes, to be dropped since the room is left.
    room.state = 'left'
    if (this.#rooms.get(room.name) === room) this.#rooms.delete(room.name)
    for (const item of this.#queue.take((queued) => queued.room === room.name)) this.#pending.reject(item.id, error)
    room.emit('left', { reason })
  }

  #runCleanups(): void {
    // Joins in flight: their answer can no longer come. Found through the rooms, not a cleanup closure per join.
    for (const room of this.#rooms.values()) this.#forgetJoin(room)
    const cleanups = this.#onDisconnect
    if (cleanups.length > 0) {
      this.#onDisconnect = []
      for (const cleanup of cleanups) cleanup()
    }
    const sent = this.#sentRequests
    if (sent === undefined || sent.size === 0) return
    const lost = [...sent]
    sent.clear()
    for (const id of lost) this.#pending.reject(id, new ParleyClientError('CONNECTION_FAILED', 'The connection was lost before the answer; the request may have run', { id }))
  }

  #shutdown(error: ParleyClientError | undefined): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#refreshTimer)
    this.#closing = this.#connection?.close(CloseCode.Normal, 'Client closed') ?? Promise.resolve()
    this.#connection = undefined
    // Requests in flight end with CLOSED below, like everything pending, not as a lost connection.
    this.#sentRequests?.clear()
    this.#runCleanups()
    // Publishes (queued or in flight) are all that is left pending: they learn why the client stopped.
    this.#pending.rejectAll(error ?? new ParleyClientError('CLOSED', 'The client was closed'))
    this.#inflight?.clear()
    for (const room of this.#rooms.values()) room.state = 'left'
    this.#rooms.clear()
    if (error !== undefined) this.#events.emit('error', error)
    this.#setState('closed')
    return this.#closing
  }
}

/** Where a refused publish was headed, for its error's details: made only when one is refused. */
function whereOf(message: PublishMessage): { readonly room: string; readonly id?: string } {
  return message.id === undefined ? { room: message.room } : { room: message.room, id: message.id }
}
