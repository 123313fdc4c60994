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
  type PublishMessage,
  type ServerMessage,
  type WelcomeMessage,
} from '@parley/protocol'
import { createIdSource, createPendingRequests } from './acks.js'
import { AuthError, ParleyClientError, errorFromClose, toParleyClientError } from './client-error.js'
import { openConnection, type Connection } from './connection.js'
import { ClientHandle, ClientView, type ClientMethods } from './client-handle.js'
import { Emitter } from './emitter.js'
import { logClientEvents } from './client-logger.js'
import { createOfflineQueue } from './offline-queue.js'
import { resolveOptions, type ClientOptions } from './options.js'
import { decideReconnect } from './reconnect.js'
import { createRecoveryTracker } from './recovery.js'
import { createRoom, historyPage, type HistoryPage, type PublishAck, type Room, type RoomCore, type RoomHost } from './room.js'
import { transition, type ClientState } from './state.js'
import { createTokenSource, normalizeToken, refreshDelayMs, type TokenState } from './token.js'

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
  const opts = resolveOptions(url, options)
  const events = new Emitter<ClientEvents>()
  const recovery = createRecoveryTracker()
  // A request that times out while the client is not connected names the last connection error: that is the cause.
  const pending = createPendingRequests<ServerMessage | undefined>(() =>
    view.state !== 'open' && lastError !== undefined ? `not connected; last connection error: ${lastError.message}` : undefined,
  )
  const queue = createOfflineQueue<Outgoing>(opts.offlineQueueSize)
  /** Publishes sent on the current connection and not yet answered, in send order. */
  const inflight = new Map<string, Outgoing>()
  const rooms = new Map<string, RoomCore>()
  /** The last error a connection attempt or a lost connection reported, for timeouts to name. */
  let lastError: ParleyClientError | undefined
  // The next four are made on first use: an empty Map or Set takes about 190 bytes of heap, and most clients never
  // send a request, read history or leave a room.
  /** Requests waiting for the connection, by id: each is sent once (it may not be safe to run twice). */
  let waitingRequests: Map<string, ClientMessage> | undefined
  /** Requests sent on the current connection and not answered yet: a lost connection rejects them. */
  let sentRequests: Set<string> | undefined
  /** History reads waiting for the connection (or for their answer), by id: sent again after a reconnect. */
  let reads: Map<string, ClientMessage> | undefined
  /** Rooms whose leave is not answered yet. */
  let leaving: Set<string> | undefined
  const nextId = createIdSource()
  const nextToken = createTokenSource(opts)
  /** Cleanups of the current connection's requests (joins, leaves, authenticates), run when it ends. */
  let onDisconnect: Array<() => void> = []
  let connection: Connection | undefined
  /** Welcomed (and, with first-message authentication, authenticated): joins may go out. */
  let ready = false
  let failures = 0
  let urlIndex = 0
  const view = new ClientView(opts.urls[0] as string)
  if (opts.logger !== undefined) logClientEvents(events, opts.logger, () => view.url)
  let token: TokenState = { token: undefined, expiresAt: undefined }
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let refreshTimer: ReturnType<typeof setTimeout> | undefined
  let closing: Promise<void> | undefined

  const setState = (next: ClientState): void => {
    view.state = transition(view.state, next)
    events.emit('state', view.state)
  }
  const maxPayload = (): number => view.welcome?.limits.maxPayload ?? DEFAULT_LIMITS.maxPayload
  /** Encodes with the server's limits; a bad value from the app throws a typed error to the caller. */
  const encodeOrThrow = (message: ClientMessage): string => {
    try {
      return encode(message, { limits: { maxPayload: maxPayload() } })
    } catch (error) {
      throw toParleyClientError(error)
    }
  }
  const send = (message: ClientMessage): void => connection?.send(encodeOrThrow(message))
  /** A publish with bytes goes as a binary frame where the connection speaks v2 and carries them (WebSocket). */
  const binaryFor = (message: PublishMessage): boolean =>
    message.bytes !== undefined && connection?.binary === true && (view.welcome?.version ?? 0) >= BYTES_VERSION
  /**
   * The form a publish's frame takes on the current connection: the `maxPayload` it is checked against, binary or
   * text, and for one with bytes the version agreed (a publish queued before a welcome is checked again after it).
   */
  const formOf = (message: PublishMessage): string =>
    `${maxPayload()}${message.bytes === undefined ? '' : `${binaryFor(message) ? 'b' : 't'}${view.welcome?.version ?? 0}`}`
  /**
   * Encodes a publish in the form the connection wants. Bytes to a v1 server are UNSUPPORTED_DATA, and bytes whose
   * text form (with `data`) would pass `maxPayload` are PAYLOAD_TOO_LARGE, the server's own rule (protocol §19.4):
   * both refused here, before anything is sent.
   */
  const encodePublish = (message: PublishMessage): string | Uint8Array => {
    const bytes = message.bytes
    const where = { room: message.room, ...(message.id === undefined ? {} : { id: message.id }) }
    if (bytes !== undefined && view.welcome !== undefined && view.welcome.version < BYTES_VERSION) {
      throw new ParleyClientError('UNSUPPORTED_DATA', `The server speaks ${view.welcome.protocol}, which carries no bytes (protocol v2 does)`, where)
    }
    let frame: string | Uint8Array
    try {
      // Validates `data` too (a value JSON cannot carry is INVALID_FIELD), before it is serialised below.
      frame = binaryFor(message) ? encodeBinary(message, { limits: { maxPayload: maxPayload() } }) : encode(message, { limits: { maxPayload: maxPayload() } })
    } catch (error) {
      throw toParleyClientError(error)
    }
    if (bytes !== undefined) {
      const size = utf8ByteLength(JSON.stringify(message.data)) + base64Length(bytes.byteLength)
      if (size > maxPayload()) throw new ParleyClientError('PAYLOAD_TOO_LARGE', `data and bytes (as base64) are ${size} bytes, more than maxPayload (${maxPayload()})`, where)
    }
    return frame
  }
  const isOpen = (): boolean => view.state === 'open' && connection !== undefined
  const onCleanup = (cleanup: () => void): void => void onDisconnect.push(cleanup)

  async function connect(): Promise<void> {
    view.url = opts.urls[urlIndex++ % opts.urls.length] as string
    let next: TokenState
    try {
      next = await nextToken()
    } catch (thrown) {
      if (view.state === 'closed') return
      const error = toParleyClientError(thrown)
      if (error instanceof AuthError) return void shutdown(error)
      return lost(CloseCode.Abnormal, 'getToken failed', error)
    }
    if (view.state === 'closed') return
    token = next
    try {
      connection = openConnection(
        {
          request: { url: view.url, protocols: opts.subprotocols, token: next.token },
          transport: opts.transport,
          connectTimeoutMs: opts.connectTimeoutMs,
          heartbeat: opts.heartbeat,
          inboundLimits: opts.inboundLimits,
        },
        { welcome: onWelcome, message: onMessage, invalid: (error) => events.emit('error', error), closed: lost },
      )
    } catch (error) {
      // A custom transport that throws instead of reporting: a failed attempt like any other.
      lost(CloseCode.Abnormal, 'Transport failed', toParleyClientError(error))
    }
  }

  function onWelcome(message: WelcomeMessage): void {
    view.welcome = message
    const carrying = connection?.transportName
    if (carrying !== view.transportName) {
      view.transportName = carrying
      if (carrying !== undefined) events.emit('transport', carrying)
    }
    failures = 0
    if (view.state !== 'open') setState('open')
    if (view.state !== 'open') return
    events.emit('welcome', message)
    if (view.state !== 'open') return
    scheduleRefresh()
    // First-message authentication: the server welcomed an anonymous session and waits for the token in band.
    if (message.user === undefined && token.token !== undefined) authenticate(token.token, joinAll)
    else joinAll()
  }

  function joinAll(): void {
    ready = true
    for (const room of rooms.values()) if (room.state === 'joining' && room.joinId === undefined) sendJoin(room)
    flush()
    if (reads !== undefined) for (const message of reads.values()) send(message)
    if (waitingRequests !== undefined) for (const [id, message] of waitingRequests) sendRequest(id, message)
    waitingRequests?.clear()
  }

  /** Sends a request now; a connection lost before its answer rejects it (it may have run). */
  function sendRequest(id: string, message: ClientMessage): void {
    send(message)
    ;(sentRequests ??= new Set()).add(id)
  }

  /** A page of history with each message checked like a live one: one that breaks its schema is reported and left out. */
  function checkedPage(room: RoomCore, page: HistoryPage): HistoryPage {
    const schema = opts.checks?.room(room.name)?.message
    if (schema === undefined) return page
    const messages: HistoryPage['messages'][number][] = []
    for (const message of page.messages) {
      const checked = checkedOrReported(schema, message.data, room, `message ${message.seq} in history`)
      if (checked !== undefined) messages.push(checked.value === message.data ? message : { ...message, data: checked.value as JsonValue })
    }
    return messages.length === page.messages.length ? page : { ...page, messages }
  }

  /** The value checked against `schema` when the client checks values; reports and answers undefined when it breaks it. */
  function checkedOrReported(schema: Schema | undefined, value: unknown, room: RoomCore, what: string): { value: unknown } | undefined {
    if (schema === undefined) return { value }
    const result = validateWith(schema, value)
    if ('value' in result) return result
    room.emit('error', new ParleyClientError('VALIDATION_FAILED', `${what} in ${room.name}: ${describeIssues(result.issues)}`, { room: room.name, issues: result.issues }))
    return undefined
  }

  /** Whether the server keeps history (its `welcome` says so); a server that predates it ignores `last`. */
  const hasHistory = (): boolean => view.welcome?.capabilities.includes('history') === true

  function sendJoin(room: RoomCore): void {
    if (!ready || !isOpen()) return
    const id = nextId()
    const resume = recovery.resumePoint(room.name)
    room.joinId = id
    const last = resume === undefined && hasHistory() ? room.last : undefined
    room.lastJoinId = last === undefined ? undefined : id
    send({
      type: 'join',
      room: room.name,
      id,
      ...(resume === undefined ? {} : { resume }),
      ...(last === undefined ? {} : { last }),
      ...(room.presence === undefined ? {} : { presence: room.presence as JsonValue }),
      // Presence changes in batches from a server that gathers them: a large room fills in O(members) frames.
      ...(view.welcome?.capabilities.includes('presence-batch') === true ? { batch: true } : {}),
    })
    pending.add(id, opts.ackTimeoutMs, (result) => {
      // A join that timed out stays `joining` and keeps its id, so a late `joined` still counts; it is sent again on
      // the next connection. A refused one is final.
      const timedOut = !result.ok && result.error.code === 'TIMEOUT'
      if (room.joinId === id && !timedOut) room.joinId = undefined
      if (result.ok || room.state === 'left') return
      if (!timedOut) removeRoom(room, result.error, result.error.code)
      room.emit('error', result.error)
    })
    onCleanup(() => {
      pending.cancel(id)
      room.joinId = undefined
    })
  }

  function authenticate(value: string, then: () => void): void {
    const id = nextId()
    send({ type: 'authenticate', token: value, id })
    pending.add(id, opts.ackTimeoutMs, (result) => (result.ok ? then() : events.emit('error', result.error)))
    onCleanup(() => pending.cancel(id))
  }

  function scheduleRefresh(): void {
    clearTimeout(refreshTimer)
    const { expiresAt } = token
    if (expiresAt === undefined || opts.getToken === undefined) return
    refreshTimer = setTimeout(() => void refresh(), refreshDelayMs(expiresAt, opts.refreshBeforeMs, Date.now()))
  }

  async function refresh(): Promise<void> {
    const current = connection
    let next: TokenState
    try {
      next = normalizeToken(await (opts.getToken as NonNullable<typeof opts.getToken>)())
    } catch (error) {
      // The server closes with 4419 once the old token expires; the reconnect then asks getToken again.
      if (connection === current) events.emit('error', toParleyClientError(error))
      return
    }
    if (connection !== current || !isOpen() || next.token === undefined) return
    authenticate(next.token, () => {
      const progressed = next.expiresAt !== undefined && next.expiresAt > (token.expiresAt ?? -Infinity)
      token = next
      if (progressed) scheduleRefresh()
    })
  }

  function onMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'joined': {
        const room = rooms.get(message.room)
        // Only the answer to this handle's join moves the stream position: not a stray `joined`, nor the late answer
        // to an earlier handle's join of the same room (leave and join again before it came).
        const ours = room?.state === 'joining' && (message.id === undefined || message.id === room.joinId)
        // A `joined` without id for a joined room is the server's re-sync (protocol §8): its stream jumped (another
        // epoch, a lost subscription), so the position moves and the app gets the recovery result.
        const resync = room?.state === 'joined' && message.id === undefined
        if (message.id !== undefined) pending.resolve(message.id, message)
        if (room === undefined && message.id === undefined && leaving?.has(message.room) !== true) {
          // A server-side join: a room of the server's choosing, surfaced with a handle of its own.
          const joined = createRoom(message.room, undefined, host)
          rooms.set(message.room, joined)
          recovery.joined(message)
          joined.joined(message)
          events.emit('room', joined.handle)
          return flush()
        }
        if ((!ours && !resync) || room === undefined) return
        recovery.joined(message)
        room.joined(message)
        return flush()
      }
      case 'left': {
        if (message.id !== undefined && pending.resolve(message.id, message)) return
        const room = rooms.get(message.room)
        if (room !== undefined) removeRoom(room, new ParleyClientError('NOT_JOINED', `Removed from room ${room.name}`, { room: room.name }), message.reason)
        return
      }
      case 'message': {
        const room = rooms.get(message.room)
        // The position advances before any handler runs (exactly-once even when a handler leaves or re-joins).
        if (room?.state !== 'joined' || !recovery.accept(message)) return
        // Checked after the position moved: a message that breaks its schema is reported, never delivered, never asked again.
        const checked = checkedOrReported(opts.checks?.room(message.room)?.message, message.data, room, 'message data')
        if (checked !== undefined) room.emit('message', checked.value === message.data ? message : { ...message, data: checked.value as JsonValue })
        return
      }
      case 'presence':
      case 'presences': {
        const room = rooms.get(message.room)
        if (room?.state !== 'joined') return
        const presenceSchema = opts.checks?.room(message.room)?.presence
        for (const change of message.type === 'presence' ? [message] : message.events) {
          // null is no presence at all (a join without one), which the server does not check either.
          const schema = change.event === 'leave' || change.member.presence === null ? undefined : presenceSchema
          if (checkedOrReported(schema, change.member.presence, room, `presence of ${change.member.user}`) !== undefined) room.presenceChanged(change)
        }
        if (message.type === 'presences' && message.omitted !== undefined) room.counted(message.omitted)
        return
      }
      case 'signal': {
        const room = rooms.get(message.room)
        if (room?.state !== 'joined') return
        const signals = opts.checks?.room(message.room)?.signals
        if (signals !== undefined && message.value !== null) {
          const schema = Object.prototype.hasOwnProperty.call(signals, message.key) ? signals[message.key] : undefined
          if (schema === undefined) return void room.emit('error', new ParleyClientError('VALIDATION_FAILED', `signal ${message.key} in ${room.name}: the contract has no such signal`, { room: room.name }))
          if (checkedOrReported(schema, message.value, room, `signal ${message.key}`) === undefined) return
        }
        room.signalled(message)
        return
      }
      case 'ack':
        pending.resolve(message.id, message)
        return
      case 'response':
      case 'members':
        pending.resolve(message.id, message)
        return
      case 'history': {
        if (pending.resolve(message.id, message)) return
        // The answer to a join with `last`: once, before the join's live messages (the server sends it first).
        const room = rooms.get(message.room)
        if (room === undefined || room.lastJoinId !== message.id) return
        room.last = undefined
        room.lastJoinId = undefined
        room.emit('history', checkedPage(room, historyPage(room.name, message)))
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
        if (message.id !== undefined && pending.reject(message.id, error)) return
        const room = message.room === undefined ? undefined : rooms.get(message.room)
        // The history of a join with `last` could not be read: the join stands, the room's `error` says so.
        if (room !== undefined && message.id !== undefined && room.lastJoinId === message.id) {
          room.last = undefined
          room.lastJoinId = undefined
        }
        if (room !== undefined) room.emit('error', error)
        else events.emit('error', error)
        return
      }
      case 'direct':
        events.emit('direct', message)
        return
      default:
        // pong: its arrival already fed the heartbeat; welcome: handled by the connection.
        return
    }
  }

  /** Sends every queued publish whose room is joined, in order. */
  function flush(): void {
    if (!ready || !isOpen()) return
    for (const item of queue.take((queued) => rooms.get(queued.room)?.state === 'joined')) {
      let frame = item.frame
      if (item.form !== formOf(item.message)) {
        try {
          frame = encodePublish(item.message)
        } catch (error) {
          pending.reject(item.id, toParleyClientError(error))
          continue
        }
      }
      inflight.set(item.id, item)
      connection?.send(frame)
    }
  }

  function removeRoom(room: RoomCore, error: ParleyClientError, reason: string | undefined): void {
    room.state = 'left'
    if (rooms.get(room.name) === room) rooms.delete(room.name)
    for (const item of queue.take((queued) => queued.room === room.name)) pending.reject(item.id, error)
    room.emit('left', { reason })
  }

  function lost(code: number, reason: string, error: ParleyClientError | undefined): void {
    connection = undefined
    ready = false
    if (view.state === 'closed') return
    clearTimeout(refreshTimer)
    runCleanups()
    // In-flight publishes go back to the front of the queue with their ids: the server de-duplicates by id, so
    // sending them again after the re-join cannot deliver any of them twice.
    queue.unshift([...inflight.values()])
    inflight.clear()
    for (const room of rooms.values()) room.state = 'joining'

    if (error !== undefined) lastError = error
    // An HTTP 404 for the endpoint is a wrong URL, not an outage: final, naming the path.
    if (error?.code === 'NOT_FOUND') {
      let path = ''
      try {
        path = new URL(view.url).pathname
      } catch {
        // A custom transport's URL: the message says what it can.
      }
      return void shutdown(new ParleyClientError('NOT_FOUND', `${error.message.replace("this URL's path", path === '' ? "this URL's path" : path)}`, { status: 404, cause: error }))
    }
    const decision = decideReconnect(code, failures + 1, opts.reconnect, opts.random)
    if (!decision.retry) {
      const fatal =
        decision.reason === 'fatal-close'
          ? error !== undefined && error.closeCode === code
            ? error
            : errorFromClose(code, reason, opts.subprotocols)
          : new ParleyClientError(
              'CONNECTION_FAILED',
              `Connection lost (${code}${reason ? `: ${reason}` : ''}) and not retried after ${failures} attempt(s)`,
              { closeCode: code, cause: error },
            )
      return void shutdown(fatal)
    }
    failures = decision.attempt
    // A first connection that keeps failing is reported once, with its cause, while retrying goes on: a wrong port
    // or host should not look like a client that is merely slow to connect.
    if (view.welcome === undefined && failures === FIRST_CONNECT_REPORT_AFTER && error !== undefined) {
      events.emit('error', new ParleyClientError('CONNECTION_FAILED', `Cannot connect to ${view.url} after ${failures} attempts (retrying): ${error.message}`, { closeCode: code, cause: error }))
    }
    if (view.state === 'open') setState('reconnecting')
    // A state handler may have called close().
    if (closing !== undefined) return
    retryTimer = setTimeout(() => void connect().catch((e: unknown) => events.emit('error', toParleyClientError(e))), decision.delayMs)
    events.emit('reconnect', {
      attempt: failures,
      delayMs: decision.delayMs,
      code,
      reason,
      url: opts.urls[urlIndex % opts.urls.length] as string,
      error,
    })
  }

  function runCleanups(): void {
    const cleanups = onDisconnect
    onDisconnect = []
    for (const cleanup of cleanups) cleanup()
    const lost = [...(sentRequests ?? [])]
    sentRequests?.clear()
    for (const id of lost) pending.reject(id, new ParleyClientError('CONNECTION_FAILED', 'The connection was lost before the answer; the request may have run', { id }))
  }

  function shutdown(error: ParleyClientError | undefined): Promise<void> {
    if (closing !== undefined) return closing
    clearTimeout(retryTimer)
    clearTimeout(refreshTimer)
    closing = connection?.close(CloseCode.Normal, 'Client closed') ?? Promise.resolve()
    connection = undefined
    // Requests in flight end with CLOSED below, like everything pending, not as a lost connection.
    sentRequests?.clear()
    runCleanups()
    // Publishes (queued or in flight) are all that is left pending: they learn why the client stopped.
    pending.rejectAll(error ?? new ParleyClientError('CLOSED', 'The client was closed'))
    inflight.clear()
    for (const room of rooms.values()) room.state = 'left'
    rooms.clear()
    if (error !== undefined) events.emit('error', error)
    setState('closed')
    return closing
  }

  /** Sends a history or search request now, or once connected; resolves with its page. */
  function readHistory(room: RoomCore, text: string | undefined, options: { before?: { epoch: string; seq: number } | undefined; limit?: number | undefined; timeoutMs?: number | undefined }): Promise<HistoryPage> {
    return new Promise<HistoryPage>((resolve, reject) => {
      if (view.state === 'closed') return reject(new ParleyClientError('CLOSED', 'The client is closed', { room: room.name }))
      if (view.welcome !== undefined && !hasHistory()) {
        return reject(new ParleyClientError('HISTORY_UNAVAILABLE', 'This server keeps no history (its welcome does not list it)', { room: room.name }))
      }
      const id = nextId()
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
        encodeOrThrow(message)
      } catch (error) {
        return reject(error)
      }
      ;(reads ??= new Map()).set(id, message)
      pending.add(id, options.timeoutMs ?? opts.ackTimeoutMs, (result) => {
        reads?.delete(id)
        if (!result.ok) return reject(result.error)
        resolve(checkedPage(room, historyPage(room.name, result.value as Extract<ServerMessage, { type: 'history' }>)))
      })
      if (ready && isOpen()) send(message)
    })
  }

  const host: RoomHost = {
    history: readHistory,
    members(room, after, limit) {
      return new Promise((resolve, reject) => {
        if (view.state !== 'open') return reject(new ParleyClientError('NOT_JOINED', `Room ${room.name} is not joined`, { room: room.name }))
        const id = nextId()
        const message: ClientMessage = { type: 'members', room: room.name, id, after, ...(limit === undefined ? {} : { limit }) }
        try {
          encodeOrThrow(message)
        } catch (error) {
          return reject(error)
        }
        pending.add(id, opts.ackTimeoutMs, (result) => (result.ok ? resolve(result.value as Extract<ServerMessage, { type: 'members' }>) : reject(result.error)))
        send(message)
      })
    },
    publish(room, data, publishOptions) {
      return new Promise<PublishAck>((resolve, reject) => {
        if (view.state === 'closed') return reject(new ParleyClientError('CLOSED', 'The client is closed', { room: room.name }))
        if (room.state === 'left') return reject(new ParleyClientError('NOT_JOINED', `Room ${room.name} was left`, { room: room.name }))
        const id = publishOptions.id ?? nextId()
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
          frame = encodePublish(message)
        } catch (error) {
          return reject(error)
        }
        const item: Outgoing = { id, room: room.name, message, frame, form: formOf(message) }
        // Straight out when nothing waits before it; otherwise behind the others, in the bounded queue.
        const now = ready && isOpen() && room.state === 'joined' && queue.size === 0
        if (!now && !queue.push(item)) {
          return reject(new ParleyClientError('QUEUE_FULL', `The offline queue is full (${opts.offlineQueueSize} publishes)`, { id, room: room.name }))
        }
        pending.add(id, publishOptions.timeoutMs ?? opts.ackTimeoutMs, (result) => {
          // Whatever the outcome, a settled publish is never sent (again): a timed-out one leaves the queue.
          queue.remove(id)
          inflight.delete(id)
          if (!result.ok) return reject(result.error)
          const ack = result.value as AckMessage
          resolve({ id, seq: ack.seq, epoch: ack.epoch, duplicate: ack.duplicate === true })
        })
        if (now) {
          inflight.set(id, item)
          connection?.send(frame)
        }
      })
    },
    signal(room, key, value, ttlMs) {
      const frame = encodeOrThrow({ type: 'signal', room: room.name, key, value: value as JsonValue, ...(ttlMs === undefined ? {} : { ttlMs }) })
      if (!isOpen() || room.state !== 'joined') return false
      connection?.send(frame)
      return true
    },
    presence(room, presence) {
      const frame = encodeOrThrow({ type: 'presence-update', room: room.name, presence: presence as JsonValue })
      room.presence = presence
      if (isOpen() && room.state === 'joined') connection?.send(frame)
    },
    leave(room) {
      if (room.state === 'left') return Promise.resolve()
      removeRoom(room, new ParleyClientError('NOT_JOINED', `Room ${room.name} was left`, { room: room.name }), 'leave')
      if (!isOpen()) return Promise.resolve()
      const id = nextId()
      send({ type: 'leave', room: room.name, id })
      // Until the leave is answered, a `joined` without id for this room is the server's re-sync of the old
      // membership, not a server-side join.
      ;(leaving ??= new Set()).add(room.name)
      return new Promise<void>((resolve) => {
        pending.add(id, opts.ackTimeoutMs, () => {
          leaving?.delete(room.name)
          resolve()
        })
        onCleanup(() => pending.resolve(id, undefined))
      })
    },
  }

  const methods: ClientMethods = {
    on: (type, handler) => events.on(type, handler),
    off: (type, handler) => events.off(type, handler),
    join<M = JsonValue, P = JsonValue, S = JsonValue>(name: string, joinOptions: JoinOptions<P> = {}): Room<M, P, S> {
      const { presence, last } = joinOptions
      // Checks the name, presence and last now, so a mistake throws here rather than coming back as a refusal later.
      encodeOrThrow({ type: 'join', room: name, ...(presence === undefined ? {} : { presence: presence as JsonValue }), ...(last === undefined ? {} : { last }) })
      if (view.state === 'closed') throw new ParleyClientError('CLOSED', 'The client is closed', { room: name })
      const existing = rooms.get(name)
      if (existing !== undefined) {
        if (presence !== undefined) existing.handle.setPresence(presence as JsonValue)
        return existing.handle as unknown as Room<M, P, S>
      }
      if (joinOptions.resume === false) recovery.forget(name)
      const room = createRoom(name, presence, host)
      room.last = last
      rooms.set(name, room)
      sendJoin(room)
      return room.handle as unknown as Room<M, P, S>
    },
    request(name: string, input: unknown, requestOptions: RequestOptions = {}): Promise<never> {
      return new Promise((resolve, reject) => {
        if (view.state === 'closed') return reject(new ParleyClientError('CLOSED', 'The client is closed'))
        const contract = opts.contract?.request(name)
        if (opts.contract !== undefined && contract === undefined) return reject(new ParleyClientError('UNKNOWN_REQUEST', `The contract has no request ${name}`))
        // Checked here to fail early, and sent as given: the server applies the input schema itself.
        if (contract !== undefined && opts.checks !== undefined) {
          const result = validateWith(contract.input, input)
          if ('issues' in result) return reject(new ParleyClientError('VALIDATION_FAILED', `request ${name}: input: ${describeIssues(result.issues)}`, { issues: result.issues }))
        }
        const id = nextId()
        const message: ClientMessage = { type: 'request', id, name, input: input as JsonValue }
        try {
          encodeOrThrow(message)
        } catch (error) {
          return reject(error)
        }
        pending.add(id, requestOptions.timeoutMs ?? contract?.timeoutMs ?? opts.ackTimeoutMs, (result) => {
          waitingRequests?.delete(id)
          sentRequests?.delete(id)
          if (!result.ok) return reject(result.error)
          const { output } = result.value as Extract<ServerMessage, { type: 'response' }>
          if (contract === undefined || opts.checks === undefined) return resolve(output as never)
          const checked = validateWith(contract.output, output)
          if ('issues' in checked) return reject(new ParleyClientError('VALIDATION_FAILED', `request ${name}: output: ${describeIssues(checked.issues)}`, { id, issues: checked.issues }))
          resolve(checked.value as never)
        })
        if (ready && isOpen()) sendRequest(id, message)
        else (waitingRequests ??= new Map()).set(id, message)
      })
    },
    close: () => shutdown(undefined),
  }
  const client = new ClientHandle(view, methods) as unknown as Client<C>

  void connect().catch((error: unknown) => events.emit('error', toParleyClientError(error)))
  return client
}
