import { CloseCode, encode, randomId, type ClientMessageOf, type DirectMessage, type JsonValue } from '@parley/protocol'
import { checked } from './contract-check.js'
import type { RequestHandler } from './parley.js'
import type { EventEmitter } from 'eventemitter3'
import type { AdapterHooks, AdapterNode } from './adapters/adapter.js'
import { armExpiry, authenticateInBand } from './authentication.js'
import { runControl, type ControlCommand } from './control.js'
import { HeartbeatMonitor } from './heartbeat.js'
import type { ResolvedOptions, ServerUser } from './options.js'
import { historyDenied, Pipeline, type Handled, type Middleware } from './pipeline.js'
import { Rooms } from './room.js'
import { RoomHistory, toEntry, type HistoryPageResult } from './room-history.js'
import { ParleyServerError, RequestError, toParleyError } from './server-error.js'
import { Session, type ParleySession, type SessionHost } from './session.js'
import { StatsCounters, type CompressionStats, type ParleyStats } from './stats.js'
import { UserIndex } from './user-index.js'
import { WelcomeFrames } from './welcome.js'
import { Frame, type Connection } from './transports/connection.js'
import type { ForwardAnswer, ForwardRequest } from './transports/forwarding.js'

/** The events of a Parley instance (eventemitter3, typed). */
export interface ParleyEvents {
  /** A session opened (after authentication at the handshake, or the upgrade in first-message mode). */
  connection: [session: ParleySession]
  /** A session ended, with the close code and reason. */
  disconnect: [session: ParleySession, code: number, reason: string]
  /** A session joined a room. */
  join: [session: ParleySession, room: string]
  /** A session left a room (asked, or disconnected). */
  leave: [session: ParleySession, room: string]
  /** A failure inside Parley or a hook; `session` when it concerned one. Never thrown. */
  error: [error: ParleyServerError, session: ParleySession | undefined]
}

/**
 * The transport-agnostic core of one node: the session registry (by id and by user), the wiring of each session's
 * connection to the pipeline and the rooms, in-band authentication, direct messages and the graceful stop. It
 * knows `Connection` and `AdapterNode`, never a socket; rooms live in room.ts, the per-message steps in pipeline.ts.
 */
export class Hub {
  readonly options: ResolvedOptions
  readonly stats = new StatsCounters()
  readonly sessions = new Map<string, Session>()
  readonly rooms: Rooms
  /** Rooms' history: the store's writer, and pages, searches and "last N" for readers. */
  readonly history: RoomHistory
  /** The HTTP stream transport's handler for POSTs other nodes forward here, when that transport is attached. */
  forwardHandler: ((request: ForwardRequest) => Promise<ForwardAnswer>) | undefined
  readonly #users = new UserIndex()
  /** Open sessions by transport and subprotocol, kept as they open and close (for `stats().connectionsBy`). */
  readonly #byTransport = new Map<string, { transport: string; protocol: string; connections: number }>()
  readonly #node: AdapterNode
  readonly #events: EventEmitter<ParleyEvents>
  readonly #pipeline: Pipeline
  readonly #heartbeat: HeartbeatMonitor
  readonly #encodeOptions: { readonly limits: ResolvedOptions['encodeLimits'] }
  readonly #welcome: WelcomeFrames
  /** Where every session reports its frames and its close (one object for all, not closures per session). */
  readonly #sessionHost: SessionHost = {
    receive: (session, frame) => this.#pipeline.receive(session, frame),
    closed: (session, code, reason) => void this.#closed(session, code, reason),
  }
  #closing = false

  readonly #handlers: ReadonlyMap<string, RequestHandler<unknown, unknown>>
  /** Requests each session has running (outside its inbox). */
  readonly #requestsInFlight = new WeakMap<Session, number>()

  constructor(options: ResolvedOptions, node: AdapterNode, events: EventEmitter<ParleyEvents>, handlers: ReadonlyMap<string, RequestHandler<unknown, unknown>> = new Map()) {
    this.options = options
    this.#handlers = handlers
    this.#node = node
    this.#events = events
    this.#encodeOptions = { limits: options.encodeLimits }
    this.history = new RoomHistory(options, node, this.stats)
    this.rooms = new Rooms(options, node, this.history, {
      joined: (session, room) => events.emit('join', session, room),
      left: (session, room) => events.emit('leave', session, room),
      background: (work) => this.#background(work),
    }, this.stats)
    this.#pipeline = new Pipeline(options, this.stats, {
      handle: (handled) => this.#handle(handled),
      failed: (error, session) => events.emit('error', error, session),
    })
    this.#heartbeat = new HeartbeatMonitor(options.heartbeat, () => this.sessions.values(), (session) => {
      this.options.logger.debug({ event: 'session.heartbeat-timeout', session: session.id, user: session.user.id }, 'parley: no pong within the heartbeat timeout; connection dropped')
      session.closed = true
      session.connection.terminate()
    })
    this.#heartbeat.start()
    // What `welcome` announces: `history` always (the recovery window at least), `search` when the store has it.
    this.#welcome = new WelcomeFrames(options, ['presence', 'signals', 'recovery', 'dedup', 'direct', 'history', ...(this.history.searchable ? ['search'] : []), 'requests', 'members', ...(options.presence.batchMs > 0 ? ['presence-batch'] : [])])
  }

  /** The hooks the adapter delivers to. */
  static hooks(target: () => Hub | undefined): AdapterHooks {
    // A delivery that throws must not reach the adapter: a cluster adapter's subscription would stop for every room.
    const guard = (deliver: (hub: Hub) => void): void => {
      const hub = target()
      if (hub === undefined) return
      try {
        deliver(hub)
      } catch (error) {
        hub.#events.emit('error', toParleyError(error), undefined)
      }
    }
    return {
      message: (message, except, dataJson) => guard((hub) => hub.rooms.deliverMessage(message, except, dataJson)),
      presence: (room, event, member) => guard((hub) => hub.rooms.deliverPresence(room, event, member)),
      signal: (message) => guard((hub) => hub.rooms.deliverSignal(message)),
      direct: (user, message) => guard((hub) => hub.#deliverDirect(user, message)),
      forwarded: async (request) => {
        const handler = target()?.forwardHandler
        if (handler === undefined) return { status: 404, body: { code: 'NOT_FOUND', message: 'No such stream' } }
        try {
          return await handler(request)
        } catch {
          return { status: 500, body: { code: 'INTERNAL_ERROR', message: 'Internal server error' } }
        }
      },
      control: async (command) => {
        const hub = target()
        if (hub === undefined) return 0
        try {
          return await hub.#act(command)
        } catch (error) {
          hub.#events.emit('error', toParleyError(error), undefined)
          return 0
        }
      },
    }
  }

  get node(): AdapterNode {
    return this.#node
  }

  use(middleware: Middleware): void {
    this.#pipeline.use(middleware)
  }

  /** Connections of a user on this node. */
  connectionsOf(user: string): number {
    return this.#users.count(user)
  }

  /** Opens a session on a connection whose handshake has been checked. `user` is undefined in first-message mode. */
  open(connection: Connection, remoteAddress: string | undefined, user: ServerUser | undefined): Session {
    const id = randomId(16)
    // Anonymous users are named after their session, so presence still counts them one by one.
    const authenticated = user !== undefined || this.options.authenticate === undefined
    const session = new Session(this.#sessionHost, id, user ?? { id }, authenticated, connection, remoteAddress, this.options, this.stats, Date.now())
    this.sessions.set(id, session)
    this.stats.connectionsOpened++
    this.#countTransport(connection, 1)
    if (session.authenticated) this.#users.add(session)
    if (connection.receiveWith !== undefined) connection.receiveWith(session)
    else {
      connection.onMessage((frame) => session.receiveFrame(frame))
      connection.onPong(() => session.receivePong())
      connection.onClose((code, reason) => session.receiveClose(code, reason))
    }
    session.sendFrame(this.#welcome.frameFor(session))
    if (!session.authenticated) {
      session.timers.add(setTimeout(() => session.close(CloseCode.AuthenticationTimeout, 'authentication timeout'), this.options.authTimeoutMs))
    } else {
      armExpiry(session)
    }
    this.options.logger.debug(
      { event: 'connection.accepted', session: id, user: session.authenticated ? session.user.id : undefined, transport: connection.transport ?? 'custom', protocol: connection.protocol, remoteAddress },
      'parley: connection accepted',
    )
    this.#events.emit('connection', session)
    return session
  }

  async #handle({ session, message, dataJson }: Handled): Promise<void> {
    switch (message.type) {
      case 'authenticate':
        return authenticateInBand(this.options, this.#users, session, message)
      case 'join':
        return this.rooms.join(session, message, historyDenied.has(message))
      case 'leave':
        return this.rooms.leave(session, message.room, message.id)
      case 'publish':
        return this.rooms.publish(session, message, dataJson ?? JSON.stringify(message.data), message.id === undefined ? undefined : this.#dedupKey(session, message.id))
      case 'signal':
        return this.rooms.signal(session, message)
      case 'presence-update':
        return this.rooms.presenceUpdate(session, message)
      case 'ping':
        session.send({ type: 'pong', ...(message.id === undefined ? {} : { id: message.id }), ...(message.ts === undefined ? {} : { ts: message.ts }) })
        return
      case 'history':
        return this.#answerHistory(session, message.room, message.id, this.history.page(message.room, message.before, message.limit ?? DEFAULT_HISTORY_LIMIT))
      case 'search':
        return this.#answerHistory(session, message.room, message.id, this.history.search(message.room, message.text, message.before, message.limit ?? DEFAULT_HISTORY_LIMIT))
      case 'request':
        return this.#startRequest(session, message)
      case 'members':
        return this.rooms.membersPage(session, message)
    }
  }

  /**
   * Starts a request outside the session's one-at-a-time inbox, so a slow handler holds up neither the session's
   * publishes nor its pings; at most {@link MAX_REQUESTS_IN_FLIGHT} per session run at once (more: `RATE_LIMITED`).
   */
  #startRequest(session: Session, message: ClientMessageOf<'request'>): void {
    const running = this.#requestsInFlight.get(session) ?? 0
    if (running >= MAX_REQUESTS_IN_FLIGHT) {
      session.sendError('RATE_LIMITED', `At most ${MAX_REQUESTS_IN_FLIGHT} requests of a session run at once`, message.id)
      return
    }
    this.#requestsInFlight.set(session, running + 1)
    void this.#answerRequest(session, message)
      .catch((thrown: unknown) => {
        if (session.closed) return
        const error = toParleyError(thrown)
        if (error.wireCode === 'INTERNAL_ERROR') this.#events.emit('error', error, session)
        const internal = error.cause instanceof Error && error.cause.message !== '' ? error.cause.message : error.message
        const text = error.expose ? error.message : this.options.development ? internal : 'Internal server error'
        session.sendError(error.wireCode, text, message.id, undefined, error.issues)
      })
      .finally(() => this.#requestsInFlight.set(session, (this.#requestsInFlight.get(session) ?? 1) - 1))
  }

  /**
   * Runs a request's handler (its input was checked against the contract by the pipeline) and answers `response`,
   * or `error`: `UNKNOWN_REQUEST`, a `RequestError` code the contract lists, or `INTERNAL_ERROR` for anything else
   * (an output that breaks its schema is the server's bug, reported through the `error` event).
   */
  async #answerRequest(session: Session, message: ClientMessageOf<'request'>): Promise<void> {
    const handler = this.#handlers.get(message.name)
    if (handler === undefined) throw new ParleyServerError('UNKNOWN_REQUEST', `No handler for request ${message.name}`)
    const contract = this.options.contract?.request(message.name)
    let output: unknown
    try {
      output = await handler(message.input, { session, user: session.user })
    } catch (error) {
      if (error instanceof RequestError && (contract === undefined || contract.errors?.includes(error.code) === true)) {
        session.sendError(error.code, error.message, message.id)
        return
      }
      if (error instanceof RequestError) {
        throw new ParleyServerError('INTERNAL_ERROR', `request ${message.name}: the handler answered ${error.code}, which the contract does not list in its errors`, { expose: false, cause: error })
      }
      throw error
    }
    output ??= null
    if (contract !== undefined && this.options.validate) {
      // Checked, and sent as the handler returned it: the client applies the output schema itself.
      try {
        checked(contract.output, output, `request ${message.name}: output`)
      } catch (error) {
        throw new ParleyServerError('INTERNAL_ERROR', (error as Error).message, { expose: false, cause: error })
      }
    }
    if (session.closed) return
    session.send({ type: 'response', id: message.id, output: output as JsonValue })
  }

  async #answerHistory(session: Session, room: string, id: string, reading: Promise<HistoryPageResult>): Promise<void> {
    const { messages, more, gaps } = await reading
    session.send({ type: 'history', room, id, messages: messages.map(toEntry), more, gaps })
  }

  /**
   * Ids are the client's: scoped to the user, so two users' ids never collide. An anonymous user's id is its
   * session, which a reconnect changes, so anonymous ids share one scope: a retry after a reconnect is still
   * recognised (client ids are random, and never sent to anyone else, so they cannot be guessed to suppress one).
   */
  #dedupKey(session: Session, id: string): string {
    return this.options.authenticate === undefined ? `\u0000anonymous\u0000${id}` : `${session.user.id}\u0000${id}`
  }

  #deliverDirect(user: string, message: DirectMessage): void {
    if (this.#users.count(user) === 0) return
    const frame = new Frame(encode(message, this.#encodeOptions))
    this.#users.forEach(user, (session) => session.sendFrame(frame))
  }

  /** Runs a control command on this node's sessions; resolves with how many it acted on, once it has. */
  #act(command: ControlCommand): Promise<number> {
    return runControl(command, {
      sessions: () => this.sessions.values(),
      sessionsOf: (user) => {
        const found: Session[] = []
        this.#users.forEach(user, (session) => void found.push(session))
        return found
      },
      rooms: this.rooms,
      encodeLimits: this.options.encodeLimits,
    })
  }

  #closed(session: Session, code: number, reason: string): Promise<void> {
    if (!this.sessions.delete(session.id)) return Promise.resolve()
    // A close the server started but the peer never answered (a stalled slow consumer, a straggler at shutdown)
    // ends as 1006 at the transport; the code the server chose says why the session ended.
    if (code === CloseCode.Abnormal && session.closeCode !== undefined) {
      code = session.closeCode
      reason = session.closeReason
    }
    session.closed = true
    session.wake()
    session.clearTimers()
    this.#users.delete(session)
    this.#countTransport(session.connection, -1)
    // The server's own codes, and RFC 6455's, as they are; any other code a peer chose counts as `other`, so clients
    // cannot make a label per code.
    const chosenByServer = session.closeCode !== undefined && session.closeCode === code
    this.stats.countClose(chosenByServer || (code >= 1000 && code <= 1015) ? code : 'other')
    this.options.logger.debug({ event: 'connection.closed', session: session.id, user: session.user.id, code, reason }, 'parley: connection closed')
    // A close the client asked for (1000) leaves presence at once; anything else waits out the grace period.
    const removals = this.rooms.removeAll(session, code === CloseCode.Normal)
    this.#events.emit('disconnect', session, code, reason)
    const done = Promise.all(removals).then(() => undefined)
    this.#background(done)
    return done
  }

  /** Runs adapter work that nobody awaits, reporting failures as `error` events. */
  #background(work: Promise<void>): void {
    work.catch((error: unknown) => this.#events.emit('error', toParleyError(error), undefined))
  }

  #countTransport(connection: Connection, change: 1 | -1): void {
    const transport = connection.transport ?? 'custom'
    const key = `${transport} ${connection.protocol}`
    const entry = this.#byTransport.get(key)
    if (entry === undefined) this.#byTransport.set(key, { transport, protocol: connection.protocol, connections: change })
    else if ((entry.connections += change) === 0) this.#byTransport.delete(key)
  }

  statsSnapshot(compression?: CompressionStats): ParleyStats {
    let outboundBuffered = 0
    for (const session of this.sessions.values()) outboundBuffered += session.connection.bufferedAmount
    const connectionsBy = [...this.#byTransport.values()].map((entry) => ({ ...entry }))
    return this.stats.snapshot({ connections: this.sessions.size, ...this.rooms.counts(), connectionsBy, outboundBuffered }, this.history.stats(), compression)
  }

  /**
   * Graceful stop: tell sessions to go (1001) in batches so a fleet does not stampede the next node, wait for them
   * up to the timeout, then terminate the rest; run pending presence leaves so nobody is left as a ghost.
   */
  async close(): Promise<void> {
    this.#closing = true
    this.rooms.startClosing()
    const { batchSize, batchIntervalMs, timeoutMs } = this.options.shutdown
    const deadline = Date.now() + timeoutMs
    const open = [...this.sessions.values()]
    const gone = Promise.all(open.map((session) => new Promise<void>((resolve) => session.connection.onClose(() => resolve()))))
    for (let i = 0; i < open.length; i += batchSize) {
      for (const session of open.slice(i, i + batchSize)) session.close(CloseCode.GoingAway, 'server shutting down; reconnect')
      if (i + batchSize < open.length && batchIntervalMs > 0) await delay(batchIntervalMs)
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([gone, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))])
    clearTimeout(timer)
    const stragglers = [...this.sessions.values()]
    for (const session of stragglers) session.connection.terminate()
    // Their close events may come a tick later; their rooms are left now, while the adapter is still there.
    await Promise.allSettled(stragglers.map((session) => this.#closed(session, CloseCode.Abnormal, 'terminated at shutdown')))
    this.#heartbeat.stop()
    await this.rooms.close()
    for (const session of this.sessions.values()) session.clearTimers()
    // What the store has not written yet gets the shutdown timeout's length again to go out.
    await this.history.close(timeoutMs)
  }

  get closing(): boolean {
    return this.#closing
  }
}

/** Requests of one session that may run at once. */
export const MAX_REQUESTS_IN_FLIGHT = 16

/** Messages a `history` or `search` request gets without a `limit`. */
export const DEFAULT_HISTORY_LIMIT = 50

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
