import {
  CloseCode,
  decode,
  encode,
  MAX_SIGNAL_TTL_MS,
  type ClientMessage,
  type ClientMessageOf,
  type DirectMessage,
  type JsonValue,
  type PresenceMember,
  type ProtocolLimits,
  type ResumePoint,
  type RoomMessage,
  type SignalBroadcastMessage,
} from '@parley/protocol'
import type { EventEmitter } from 'eventemitter3'
import type { AdapterHooks, AdapterNode } from './adapters/adapter.js'
import { isValidUserId } from './handshake.js'
import { presenceAfterSnapshot } from './held-presence.js'
import { HeartbeatMonitor } from './heartbeat.js'
import type { ResolvedOptions, RoomAction, ServerUser } from './options.js'
import { compose, type Middleware, type MiddlewareContext } from './pipeline.js'
import { randomId } from './random-id.js'
import { ParleyServerError, toParleyError } from './server-error.js'
import { Session, type Membership, type ParleySession } from './session.js'
import { Signals } from './signals.js'
import { StatsCounters, type ParleyStats } from './stats.js'
import { Frame, type Connection, type Handshake } from './transports/connection.js'

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

/** A room with members on this node. */
interface LocalRoom {
  readonly sessions: Set<Session>
  /** The adapter subscription of this room on this node. */
  readonly subscribed: Promise<void>
}

/** Anonymous users are named after their session, so presence still counts them one by one. */
function anonymousUser(sessionId: string): ServerUser {
  return { id: sessionId }
}

/**
 * The transport-agnostic core: sessions, the per-message pipeline (decode → rate limit → authorize → middleware →
 * handle, with what middleware left validated again) and local fan-out. It knows `Connection` and `AdapterNode`, never a socket.
 */
export class Hub {
  readonly options: ResolvedOptions
  readonly stats = new StatsCounters()
  readonly sessions = new Map<string, Session>()
  /** Sessions by user: the session itself while a user has one (the usual case, and no Set per connection), else a Set. */
  readonly #byUser = new Map<string, Session | Set<Session>>()
  readonly #rooms = new Map<string, LocalRoom>()
  readonly #node: AdapterNode
  readonly #events: EventEmitter<ParleyEvents>
  readonly #middleware: Middleware[] = []
  readonly #heartbeat: HeartbeatMonitor
  readonly #signals: Signals
  readonly #limits: Partial<ProtocolLimits>
  readonly #encodeOptions: { readonly limits: Partial<ProtocolLimits> }
  /**
   * The encoded frame of each room message still reachable (live, in the adapter's history, waiting in a join's
   * `pending`): a message is encoded once, however many sessions get it live or in a replay after a reconnect.
   */
  readonly #frames = new WeakMap<RoomMessage, Frame>()
  /** Presence leaves waiting out the grace period after an abrupt disconnect. */
  readonly #graceTimers = new Set<{ timer: ReturnType<typeof setTimeout>; run: () => Promise<void> }>()
  #run: (context: MiddlewareContext) => Promise<void>
  /** The message each middleware run started with, to see what middleware changed. */
  readonly #original = new WeakMap<MiddlewareContext, { readonly type: string; readonly room: string | undefined }>()
  #closing = false

  constructor(options: ResolvedOptions, node: AdapterNode, events: EventEmitter<ParleyEvents>) {
    this.options = options
    this.#node = node
    this.#events = events
    // Frozen, so the protocol reuses its merge with the defaults on every frame (see limitsFor).
    this.#limits = Object.freeze({ maxPayload: options.limits.maxPayload })
    this.#encodeOptions = { limits: options.encodeLimits }
    this.#run = (context) => this.#handleChecked(context)
    this.#heartbeat = new HeartbeatMonitor(options.heartbeat, () => this.sessions.values(), (session) => {
      this.options.logger.debug('parley: heartbeat timeout', session.id)
      session.closed = true
      session.connection.terminate()
    })
    this.#signals = new Signals((message) => this.#background(this.#node.signal(message)), options.signals.minIntervalMs)
    this.#heartbeat.start()
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
      message: (message, except) => guard((hub) => hub.deliverMessage(message, except)),
      presence: (room, event, member) => guard((hub) => hub.deliverPresence(room, event, member)),
      signal: (message) => guard((hub) => hub.deliverSignal(message)),
      direct: (user, message) => guard((hub) => hub.deliverDirect(user, message)),
    }
  }

  get node(): AdapterNode {
    return this.#node
  }

  get closing(): boolean {
    return this.#closing
  }

  use(middleware: Middleware): void {
    this.#middleware.push(middleware)
    this.#run = compose(this.#middleware, (context) => this.#handleChecked(context))
  }

  /**
   * The handler behind middleware: what middleware left is validated again (it may have changed the message), and
   * it may not move a message to another type or room, since `authorize` has judged the original.
   */
  async #handleChecked(context: MiddlewareContext): Promise<void> {
    const original = this.#original.get(context)
    const message = context.message
    const room = 'room' in message ? message.room : undefined
    if (original !== undefined && (message.type !== original.type || room !== original.room)) {
      throw new ParleyServerError('INTERNAL_ERROR', "Middleware may not change a message's type or room", { expose: false })
    }
    try {
      // Middleware may have changed the message in place: encode() validates it as for sending, so values JSON
      // cannot carry (NaN, undefined in arrays, ...) are refused before anything is sequenced or stored.
      encode(message, { limits: this.#limits })
    } catch (error) {
      throw new ParleyServerError('INTERNAL_ERROR', `Middleware produced an invalid message: ${String(error)}`, { expose: false, cause: error })
    }
    return this.#handle(context)
  }

  /** Connections of a user on this node. */
  connectionsOf(user: string): number {
    const entry = this.#byUser.get(user)
    return entry === undefined ? 0 : entry instanceof Set ? entry.size : 1
  }

  /** Opens a session on a connection whose handshake has been checked. `user` is undefined in first-message mode. */
  open(connection: Connection, handshake: Handshake, user: ServerUser | undefined): Session {
    const id = randomId(16)
    const session = new Session(id, user ?? anonymousUser(id), user !== undefined || this.options.authenticate === undefined, connection, handshake, this.options, this.stats, Date.now())
    this.sessions.set(id, session)
    if (session.authenticated) this.#indexUser(session)
    connection.onMessage((frame) => this.#receive(session, frame))
    connection.onPong(() => {
      session.lastSeenAt = Date.now()
    })
    connection.onClose((code, reason) => this.#closed(session, code, reason))
    session.send({
      type: 'welcome',
      session: id,
      protocol: connection.protocol,
      version: 1,
      heartbeat: this.options.heartbeat,
      limits: { maxPayload: this.options.limits.maxPayload, maxRooms: this.options.limits.maxRooms, rate: this.options.limits.rate },
      capabilities: ['presence', 'signals', 'recovery', 'dedup', 'direct'],
      ...(session.authenticated ? { user: session.user.id } : {}),
    })
    if (!session.authenticated) {
      const timer = setTimeout(() => session.close(CloseCode.AuthenticationTimeout, 'authentication timeout'), this.options.authTimeoutMs)
      session.timers.add(timer)
    } else {
      this.#armExpiry(session)
    }
    this.#events.emit('connection', session)
    return session
  }

  /* ------------------------------------------------------------ inbound */

  #receive(session: Session, frame: string | Uint8Array): void {
    if (session.closed) return
    const now = Date.now()
    session.lastSeenAt = now
    this.stats.messagesIn++
    this.stats.bytesIn += typeof frame === 'string' ? frame.length : frame.byteLength
    const result = decode(frame, { from: 'client', limits: this.#limits })
    if (!result.ok) {
      const { error } = result
      // Wire faults end the session with the RFC 6455 code that fits; message faults get an `error` answer.
      if (error.code === 'UNSUPPORTED_DATA' || error.code === 'PAYLOAD_TOO_LARGE') {
        this.stats.countError(error.code)
        session.close(error.closeCode ?? CloseCode.PolicyViolation, error.message)
        return
      }
      session.sendError(error.code, error.message, error.details.id)
      if (session.invalid.hit(now) > this.options.limits.maxInvalidPerMinute) {
        session.close(CloseCode.BadRequest, 'too many invalid messages')
      }
      return
    }
    const message = result.message
    if (!this.#admit(session, message, now)) return
    const accepted = session.enqueue(() => this.#process(session, message))
    if (!accepted) this.#refuse(session, message, now)
  }

  /** Rate limits: each kind of message has its own bucket, so chat traffic cannot starve pings or leaves. */
  #admit(session: Session, message: ClientMessage, now: number): boolean {
    const bucket =
      message.type === 'publish' ? session.publishBucket : message.type === 'signal' ? session.signalBucket : session.controlBucket
    if (bucket.take(now)) return true
    this.#refuse(session, message, now)
    return false
  }

  #refuse(session: Session, message: ClientMessage, now: number): void {
    this.stats.dropped++
    // Dropped signals are not answered: they are superseded by the next one anyway.
    if (message.type !== 'signal') {
      session.sendError('RATE_LIMITED', `Rate limit exceeded for ${message.type}`, 'id' in message ? message.id : undefined, 'room' in message ? message.room : undefined)
    } else {
      this.stats.countError('RATE_LIMITED')
    }
    if (session.rateLimited.hit(now) > this.options.limits.maxRateLimitedPer10s) {
      session.close(CloseCode.RateLimited, 'rate limit exceeded')
    }
  }

  async #process(session: Session, message: ClientMessage): Promise<void> {
    if (session.closed) return
    const id = 'id' in message ? message.id : undefined
    const room = 'room' in message ? message.room : undefined
    try {
      if (!session.authenticated && message.type !== 'authenticate' && message.type !== 'ping') {
        throw new ParleyServerError('UNAUTHORIZED', 'Authenticate first')
      }
      if (message.type === 'authenticate' || message.type === 'ping') {
        await this.#handle({ session, message })
        return
      }
      // DESIGN's pipeline order: authorize, then middleware, then the handler.
      if (message.type === 'join') await this.#authorize(session, message.room, 'join', message.presence)
      else if (message.type === 'publish') await this.#authorize(session, message.room, 'publish', message.data)
      else if (message.type === 'signal') await this.#authorize(session, message.room, 'signal', message.value)
      if (session.closed) return
      if (this.#middleware.length === 0) {
        await this.#handle({ session, message })
      } else {
        const context: MiddlewareContext = { session, message }
        this.#original.set(context, { type: message.type, room: 'room' in message ? message.room : undefined })
        await this.#run(context)
      }
    } catch (thrown) {
      const error = toParleyError(thrown)
      if (error.code === 'INTERNAL_ERROR') this.#events.emit('error', error, session)
      // toParleyError hides an unknown error's message; in development the original one is shown.
      const internal = error.cause instanceof Error && error.cause.message !== '' ? error.cause.message : error.message
      const text = error.expose ? error.message : this.options.development ? internal : 'Internal server error'
      session.sendError(error.code, text, id, room)
    }
  }

  async #handle(context: MiddlewareContext): Promise<void> {
    const session = context.session as Session
    const message = context.message
    switch (message.type) {
      case 'authenticate':
        return this.#authenticate(session, message)
      case 'join':
        return this.#join(session, message)
      case 'leave':
        return this.#leave(session, message.room, message.id)
      case 'publish':
        return this.#publish(session, message)
      case 'signal':
        return this.#signal(session, message)
      case 'presence-update':
        return this.#presenceUpdate(session, message)
      case 'ping':
        session.send({ type: 'pong', ...(message.id === undefined ? {} : { id: message.id }), ...(message.ts === undefined ? {} : { ts: message.ts }) })
        return
    }
  }

  async #authenticate(session: Session, message: ClientMessageOf<'authenticate'>): Promise<void> {
    const authenticate = this.options.authenticate
    if (authenticate === undefined) throw new ParleyServerError('UNAUTHORIZED', 'This server does not take tokens')
    let user: ServerUser | null
    try {
      user = await authenticate({ request: undefined, token: message.token })
    } catch {
      user = null
    }
    if (user !== null && !isValidUserId(user.id)) {
      this.options.logger.error('parley: authenticate returned a user without a valid id (1-64 chars of [A-Za-z0-9_-.:~])', user.id)
      throw new ParleyServerError('INTERNAL_ERROR', 'authenticate returned an invalid user id', { expose: false })
    }
    const replacing = session.authenticated
    // A token that is already expired is refused like a bad one (as at the handshake), not accepted then cut.
    const expired = user !== null && typeof user.expiresAt === 'number' && user.expiresAt <= Date.now()
    if (user === null || expired || (replacing && user.id !== session.user.id)) {
      session.sendError('UNAUTHORIZED', replacing ? 'Token refresh rejected' : 'Authentication failed', message.id)
      session.close(CloseCode.Unauthorized, 'unauthorized')
      return
    }
    if (!replacing && this.connectionsOf(user.id) >= this.options.limits.maxConnectionsPerUser) {
      session.close(CloseCode.TooManyConnections, 'too many connections for this user')
      return
    }
    session.clearTimers()
    if (!replacing) this.#unindexUser(session)
    session.user = user
    session.authenticated = true
    if (!replacing) this.#indexUser(session)
    this.#armExpiry(session)
    if (message.id !== undefined) session.send({ type: 'ack', id: message.id })
  }

  #armExpiry(session: Session): void {
    const expiresAt = session.user.expiresAt
    if (typeof expiresAt !== 'number') return
    // setTimeout holds at most 2^31-1 ms; a later expiry is re-armed when that fires.
    const delay = Math.min(Math.max(0, expiresAt - Date.now()), 2_147_483_647)
    const timer = setTimeout(() => {
      session.timers.delete(timer)
      if (session.user.expiresAt !== expiresAt) return
      if (Date.now() >= expiresAt) session.close(CloseCode.TokenExpired, 'token expired')
      else this.#armExpiry(session)
    }, delay)
    session.timers.add(timer)
  }

  async #authorize(session: Session, room: string, action: RoomAction, data: JsonValue | undefined): Promise<void> {
    const authorize = this.options.authorize
    if (authorize === undefined) return
    if (!(await authorize({ user: session.user, room, action, data }))) {
      throw new ParleyServerError('FORBIDDEN', `Not allowed to ${action} in ${room}`)
    }
  }

  async #join(session: Session, message: ClientMessageOf<'join'>): Promise<void> {
    const { room } = message
    const existing = session.memberships.get(room)
    if (existing === undefined && session.memberships.size >= this.options.limits.maxRooms) {
      throw new ParleyServerError('TOO_MANY_ROOMS', `At most ${this.options.limits.maxRooms} rooms per session`)
    }
    if (session.closed) return
    const presence = message.presence ?? existing?.presence ?? null
    // A re-sync of this room may be under way (in the background); this join's answer takes over from it.
    const interrupted = existing !== undefined && existing.pending !== null
    // Live messages that arrive while the join is answered wait in `pending`, so they follow the replay in order.
    const membership: Membership = existing ?? { pending: null, heldPresence: null, heldBytes: 0, lastSeq: 0, epoch: '', presence }
    session.release(membership)
    membership.pending = []
    membership.heldPresence = []
    membership.presence = presence
    try {
      if (existing === undefined) {
        session.memberships.set(room, membership)
        let local = this.#rooms.get(room)
        if (local === undefined) {
          // Every joiner waits for the same subscription, so nobody reads a position before live delivery is on.
          local = { sessions: new Set(), subscribed: this.#node.subscribe(room) }
          this.#rooms.set(room, local)
        }
        local.sessions.add(session)
        await local.subscribed
        await this.#node.presenceJoin({ room, user: session.user.id, session: session.id, presence })
      } else if (message.presence !== undefined) {
        await this.#node.presenceUpdate(room, session.user.id, presence)
      }
      // `join` once `joined` is out, not after the replay: it comes before a `leave` of this room, even mid-replay.
      const announce = existing === undefined ? () => this.#events.emit('join', session, room) : undefined
      await this.#answerPosition(session, room, membership, message.resume, message.id, announce)
    } catch (error) {
      this.#abandonJoin(session, room, membership, existing === undefined, interrupted)
      throw error
    }
  }

  /**
   * Undoes a join the adapter failed half-way (the error goes to the client): a new membership is removed, with its
   * subscription and presence entry, so nothing keeps buffering for it; an existing one gets what waited meanwhile,
   * or, when the join had taken over a re-sync whose replay it cut short, a fresh re-sync from where it stands.
   */
  #abandonJoin(session: Session, room: string, membership: Membership, created: boolean, interrupted: boolean): void {
    if (session.memberships.get(room) !== membership) return
    const pending = membership.pending ?? []
    const heldPresence = membership.heldPresence ?? []
    membership.pending = null
    membership.heldPresence = null
    session.release(membership)
    if (interrupted) {
      // What waited is in the history too: the re-sync replays it from the session's position, or reports the gap.
      this.#resync(session, room, membership, undefined)
      return
    }
    if (!created) {
      for (const message of pending) this.#deliverTo(session, membership, message, this.#frameOf(message))
      for (const change of heldPresence) session.sendFrame(change.frame)
      return
    }
    session.memberships.delete(room)
    const local = this.#rooms.get(room)
    local?.sessions.delete(session)
    if (local !== undefined && local.sessions.size === 0) {
      this.#rooms.delete(room)
      this.#background(this.#node.unsubscribe(room).catch(() => undefined))
    }
    this.#background(this.#node.presenceLeave(room, session.user.id, session.id).catch(() => undefined))
  }

  /**
   * Sends `joined` with the room's position (and recovery, for a resume), then the replay, then the live messages
   * that waited in `pending` meanwhile, skipping any the session already has, then the held presence changes.
   *
   * The replay and the waiting messages are paced by the reader: each frame waits until the connection's buffer is
   * under `backpressure.highWaterBytes`, so a backlog larger than `maxBufferedBytes` reaches a client that keeps
   * reading instead of cutting it off. Live traffic keeps queueing in `pending` meanwhile, within the cap
   * (`Session.hold`). `answered` runs once `joined` is out.
   */
  async #answerPosition(
    session: Session,
    room: string,
    membership: Membership,
    from: ResumePoint | undefined,
    id: string | undefined,
    answered?: () => void,
  ): Promise<void> {
    // Taken before the first await: a join that arrives meanwhile puts a new list in place and so takes over.
    const pending = membership.pending ?? []
    // Still this answer's: the session is open, still in the room, and no later join took the answer over.
    const current = (): boolean => !session.closed && session.memberships.get(room) === membership && membership.pending === pending
    const [position, members] = await Promise.all([this.#node.resume(room, from), this.#node.members(room)])
    if (!current()) return
    membership.epoch = position.epoch
    // Delivered so far: up to the room's head, or, when a replay follows, up to just before its first message.
    const firstReplayed = position.replay[0]
    membership.lastSeq = firstReplayed === undefined ? position.seq : firstReplayed.seq - 1
    session.send({
      type: 'joined',
      room,
      ...(id === undefined ? {} : { id }),
      epoch: position.epoch,
      seq: position.seq,
      members,
      recovery: position.recovery,
    })
    answered?.()
    // The replay, then what waited in `pending`, which may grow while this waits: read by index until it is done.
    const { replay } = position
    for (let i = 0; i < replay.length + pending.length; i++) {
      const waited = i >= replay.length
      const message = (waited ? pending[i - replay.length] : replay[i]) as RoomMessage
      const frame = this.#frameOf(message)
      if (!session.fitsUnderHighWater(frame.byteLength) && !((await session.whenUnderHighWater(frame.byteLength)) && current())) return
      if (waited) session.release(membership, frame.byteLength)
      this.#deliverTo(session, membership, message, frame)
    }
    const heldPresence = membership.heldPresence ?? []
    membership.pending = null
    membership.heldPresence = null
    session.release(membership)
    for (const frame of presenceAfterSnapshot(heldPresence, members)) session.sendFrame(frame)
  }

  /**
   * The adapter delivered a message that does not follow the last one this session got (another epoch, or a seq
   * jump after a lost subscription): re-sync as if the session had resumed, with an unsolicited `joined` whose
   * recovery says whether the missed messages could be replayed. Nothing is skipped silently.
   */
  #resync(session: Session, room: string, membership: Membership, trigger: RoomMessage | undefined): void {
    membership.pending = []
    membership.heldPresence = []
    if (trigger !== undefined && session.hold(membership, this.#frameOf(trigger).byteLength)) membership.pending.push(trigger)
    this.#background(this.#answerPosition(session, room, membership, { epoch: membership.epoch, seq: membership.lastSeq }, undefined))
  }

  async #leave(session: Session, room: string, id: string | undefined): Promise<void> {
    await this.#removeFromRoom(session, room, true)
    session.send({ type: 'left', room, ...(id === undefined ? {} : { id }) })
  }

  /** Takes a session out of a room; `clean` leaves presence at once, otherwise after the grace period. */
  async #removeFromRoom(session: Session, room: string, clean: boolean): Promise<void> {
    const membership = session.memberships.get(room)
    if (membership === undefined) return
    session.memberships.delete(room)
    // A join still being answered stops at its next frame; what it held is given back now.
    session.release(membership)
    this.#signals.clearSession(session.id, room)
    const local = this.#rooms.get(room)
    let emptied = false
    if (local !== undefined) {
      local.sessions.delete(session)
      if (local.sessions.size === 0) {
        this.#rooms.delete(room)
        emptied = true
      }
    }
    // Emitted before any adapter round trip, so a session's `leave` events always come before its `disconnect`.
    this.#events.emit('leave', session, room)
    // Unsubscribing may fail (a cluster adapter's store is down): that must not keep presence from being left.
    if (emptied) this.#background(this.#node.unsubscribe(room))
    const leave = (): Promise<void> => this.#node.presenceLeave(room, session.user.id, session.id)
    if (clean || this.options.presence.graceMs === 0 || this.#closing) {
      await leave()
    } else {
      const entry = {
        timer: setTimeout(() => {
          this.#graceTimers.delete(entry)
          this.#background(leave())
        }, this.options.presence.graceMs),
        run: leave,
      }
      this.#graceTimers.add(entry)
    }
  }

  #requireMember(session: Session, room: string): Membership {
    const membership = session.memberships.get(room)
    if (membership === undefined) throw new ParleyServerError('NOT_JOINED', `Join ${room} first`)
    return membership
  }

  async #publish(session: Session, message: ClientMessageOf<'publish'>): Promise<void> {
    this.#requireMember(session, message.room)
    checkDataSize(message.data, this.options.limits.maxPayload)
    const result = await this.#node.publish({
      room: message.room,
      from: session.user.id,
      data: message.data,
      dedupKey: message.id === undefined ? undefined : this.#dedupKey(session, message.id),
      exceptSession: message.echo === false ? session.id : undefined,
    })
    if (message.id !== undefined) {
      session.send({
        type: 'ack',
        id: message.id,
        room: message.room,
        seq: result.message.seq,
        epoch: result.message.epoch,
        ...(result.duplicate ? { duplicate: true } : {}),
      })
    }
  }

  /**
   * Ids are the client's: scoped to the user, so two users' ids never collide. An anonymous user's id is its
   * session, which a reconnect changes, so anonymous ids share one scope: a retry after a reconnect is still
   * recognised (client ids are random, and never sent to anyone else, so they cannot be guessed to suppress one).
   */
  #dedupKey(session: Session, id: string): string {
    return this.options.authenticate === undefined ? `\u0000anonymous\u0000${id}` : `${session.user.id}\u0000${id}`
  }

  async #signal(session: Session, message: ClientMessageOf<'signal'>): Promise<void> {
    this.#requireMember(session, message.room)
    const ttlMs = Math.min(message.ttlMs ?? this.options.signals.defaultTtlMs, MAX_SIGNAL_TTL_MS)
    this.#signals.set(message.room, session.user.id, session.id, message.key, message.value, ttlMs)
  }

  async #presenceUpdate(session: Session, message: ClientMessageOf<'presence-update'>): Promise<void> {
    const membership = this.#requireMember(session, message.room)
    membership.presence = message.presence
    await this.#node.presenceUpdate(message.room, session.user.id, message.presence)
    if (message.id !== undefined) session.send({ type: 'ack', id: message.id, room: message.room })
  }

  /* ------------------------------------------------------------ outbound (adapter → local sessions) */

  deliverMessage(message: RoomMessage, exceptSession: string | undefined): void {
    const local = this.#rooms.get(message.room)
    if (local === undefined) return
    // Encoded once; every member gets the same Frame (and so the same bytes).
    let frame: Frame | undefined
    for (const session of local.sessions) {
      const membership = session.memberships.get(message.room)
      if (membership === undefined) continue
      if (membership.pending !== null) {
        if (session.id !== exceptSession) {
          frame ??= this.#frameOf(message)
          if (session.hold(membership, frame.byteLength)) membership.pending.push(message)
        }
        continue
      }
      const sameEpoch = message.epoch === membership.epoch
      if (sameEpoch && message.seq <= membership.lastSeq) continue
      if (!sameEpoch || message.seq !== membership.lastSeq + 1) {
        this.#resync(session, message.room, membership, session.id === exceptSession ? undefined : message)
        continue
      }
      if (session.id === exceptSession) {
        // echo: false — the sender learns this seq from its ack; its stream position still moves on.
        membership.lastSeq = message.seq
        continue
      }
      frame ??= this.#frameOf(message)
      this.#deliverTo(session, membership, message, frame)
    }
  }

  #frameOf(message: RoomMessage): Frame {
    let frame = this.#frames.get(message)
    if (frame === undefined) {
      frame = new Frame(encode(message, this.#encodeOptions))
      this.#frames.set(message, frame)
    }
    return frame
  }

  /** Sends a room message unless this session has it already (a replay overlapping live traffic). */
  #deliverTo(session: Session, membership: Membership, message: RoomMessage, frame: Frame): void {
    if (message.epoch === membership.epoch && message.seq <= membership.lastSeq) return
    membership.epoch = message.epoch
    membership.lastSeq = message.seq
    session.sendFrame(frame)
  }

  deliverPresence(room: string, event: 'join' | 'leave' | 'update', member: PresenceMember): void {
    const local = this.#rooms.get(room)
    if (local === undefined) return
    const frame = new Frame(encode({ type: 'presence', room, event, member }, this.#encodeOptions))
    for (const session of local.sessions) {
      const membership = session.memberships.get(room)
      if (membership === undefined) continue
      // A session whose join is being answered gets the change after its snapshot, never instead of it.
      if (membership.heldPresence === null) session.sendFrame(frame)
      else if (session.hold(membership, frame.byteLength)) membership.heldPresence.push({ event, member, frame })
    }
  }

  deliverSignal(message: SignalBroadcastMessage): void {
    const local = this.#rooms.get(message.room)
    if (local === undefined) return
    const frame = new Frame(encode(message, this.#encodeOptions))
    for (const session of local.sessions) {
      if (session.user.id === message.from) continue
      if (session.memberships.get(message.room)?.pending === null) session.sendFrame(frame, true)
    }
  }

  deliverDirect(user: string, message: DirectMessage): void {
    const entry = this.#byUser.get(user)
    if (entry === undefined) return
    const frame = new Frame(encode(message, this.#encodeOptions))
    if (entry instanceof Set) for (const session of entry) session.sendFrame(frame)
    else entry.sendFrame(frame)
  }

  /* ------------------------------------------------------------ lifecycle */

  #indexUser(session: Session): void {
    const id = session.user.id
    const entry = this.#byUser.get(id)
    if (entry === undefined) this.#byUser.set(id, session)
    else if (entry instanceof Set) entry.add(session)
    else if (entry !== session) this.#byUser.set(id, new Set([entry, session]))
  }

  #unindexUser(session: Session): void {
    const id = session.user.id
    const entry = this.#byUser.get(id)
    if (entry === session) {
      this.#byUser.delete(id)
    } else if (entry instanceof Set) {
      entry.delete(session)
      if (entry.size === 1) this.#byUser.set(id, entry.values().next().value as Session)
      else if (entry.size === 0) this.#byUser.delete(id)
    }
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
    session.clearTimers()
    this.#unindexUser(session)
    this.#signals.clearSession(session.id)
    // A close the client asked for (1000) leaves presence at once; anything else waits out the grace period.
    const clean = code === CloseCode.Normal
    const removals = [...session.memberships.keys()].map((room) => this.#removeFromRoom(session, room, clean))
    this.#events.emit('disconnect', session, code, reason)
    const done = Promise.all(removals).then(() => undefined)
    this.#background(done)
    return done
  }

  /** Runs adapter work that nobody awaits, reporting failures as `error` events. */
  #background(work: Promise<void>): void {
    work.catch((error: unknown) => this.#events.emit('error', toParleyError(error), undefined))
  }

  statsSnapshot(): ParleyStats {
    let members = 0
    for (const local of this.#rooms.values()) members += local.sessions.size
    return this.stats.snapshot({ connections: this.sessions.size, rooms: this.#rooms.size, members })
  }

  /**
   * Graceful stop: tell sessions to go (1001) in batches so a fleet does not stampede the next node, wait for them
   * up to the timeout, then terminate the rest; run pending presence leaves so nobody is left as a ghost.
   */
  async close(): Promise<void> {
    this.#closing = true
    const { batchSize, batchIntervalMs, timeoutMs } = this.options.shutdown
    const deadline = Date.now() + timeoutMs
    const open = [...this.sessions.values()]
    const gone = Promise.all(
      open.map((session) => new Promise<void>((resolve) => session.connection.onClose(() => resolve()))),
    )
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
    this.#signals.dispose()
    const pending = [...this.#graceTimers]
    this.#graceTimers.clear()
    for (const entry of pending) clearTimeout(entry.timer)
    await Promise.allSettled(pending.map((entry) => entry.run()))
    for (const session of this.sessions.values()) session.clearTimers()
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Refuses data that would not fit a frame once re-encoded (JSON.stringify may write a number longer than the client
 * did, e.g. 1e20): checked before anything is sequenced, so a stored message can always be delivered.
 */
export function checkDataSize(data: JsonValue, maxPayload: number): void {
  const text = JSON.stringify(data)
  if (text.length > maxPayload || (text.length * 3 > maxPayload && Buffer.byteLength(text) > maxPayload)) {
    throw new ParleyServerError('PAYLOAD_TOO_LARGE', `data re-encodes to more than maxPayload (${maxPayload} bytes)`)
  }
}
