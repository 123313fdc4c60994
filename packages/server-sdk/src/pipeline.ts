import {
  base64Length,
  CloseCode,
  decode,
  encode,
  resolveLimits,
  validateMessage,
  type ClientMessage,
  type Contract,
  type JsonValue,
  type ProtocolLimits,
} from '@parley/protocol'
import { checkAgainstContract } from './contract-check.js'
import type { ResolvedOptions, RoomAction } from './options.js'
import { ParleyServerError, toParleyError } from './server-error.js'
import type { ParleySession, Session } from './session.js'
import type { StatsCounters } from './stats.js'

/** What message middleware sees. Middleware may replace `message` (keeping its type) or throw to reject it. */
export interface MiddlewareContext {
  readonly session: ParleySession
  message: ClientMessage
}

/** Koa-style message middleware: call `next()` to go on; throw a `ParleyServerError` to answer with its code. */
export type Middleware = (context: MiddlewareContext, next: () => Promise<void>) => Promise<void> | void

/** Composes middleware around a final handler, Koa style; calling `next()` twice is a bug and rejects. */
export function compose(middleware: readonly Middleware[], handler: (context: MiddlewareContext) => Promise<void>) {
  return (context: MiddlewareContext): Promise<void> => {
    let last = -1
    const dispatch = async (index: number): Promise<void> => {
      if (index <= last) throw new ParleyServerError('MIDDLEWARE_NEXT_TWICE', 'Parley middleware called next() more than once', { expose: false })
      last = index
      const current = middleware[index]
      if (current === undefined) return handler(context)
      await current(context, () => dispatch(index + 1))
    }
    return dispatch(0)
  }
}

/**
 * A message that made it through the pipeline, as the handler gets it. For a publish, `dataJson` is its `data`
 * serialised once (for the size check), which the adapter and the outgoing frame reuse.
 */
export interface Handled {
  readonly session: Session
  readonly message: ClientMessage
  readonly dataJson: string | undefined
}

/** What the pipeline needs from the instance. */
export interface PipelineHost {
  /** Handles a message that passed every step. */
  handle(handled: Handled): Promise<void>
  /** An internal failure, for the `error` event. */
  failed(error: ParleyServerError, session: Session): void
}

/**
 * The per-message pipeline of one node: decode (a wire fault closes, a message fault is answered) → rate limit
 * (a bucket per kind of message) → the session's serial inbox → authentication required → `authorize` → middleware
 * (what it leaves is validated again, and may not change type or room) → the payload size check → the handler.
 * Every refusal is answered with an `error` carrying its code, or a documented close; nothing reaches other members.
 */
export class Pipeline {
  readonly #options: ResolvedOptions
  readonly #stats: StatsCounters
  readonly #host: PipelineHost
  readonly #middleware: Middleware[] = []
  /** Frozen, so the protocol reuses its merge with the defaults on every frame (see limitsFor). */
  readonly #limits: Partial<ProtocolLimits>
  readonly #fullLimits: ProtocolLimits
  #run: ((context: MiddlewareContext) => Promise<void>) | undefined
  /** The message each middleware run started with, to see what middleware changed. */
  readonly #original = new WeakMap<MiddlewareContext, { readonly type: string; readonly room: string | undefined; readonly message: ClientMessage }>()
  /** The app's contract, when runtime checks are on. */
  readonly #contract: Contract | undefined

  constructor(options: ResolvedOptions, stats: StatsCounters, host: PipelineHost) {
    this.#options = options
    this.#stats = stats
    this.#host = host
    this.#limits = Object.freeze({ maxPayload: options.limits.maxPayload })
    this.#fullLimits = resolveLimits(this.#limits)
    this.#contract = options.validate ? options.contract : undefined
  }

  use(middleware: Middleware): void {
    this.#middleware.push(middleware)
    this.#run = compose(this.#middleware, (context) => this.#afterMiddleware(context))
  }

  /** One inbound frame of a session. */
  receive(session: Session, frame: string | Uint8Array): void {
    if (session.closed) return
    const now = Date.now()
    session.lastSeenAt = now
    this.#stats.messagesIn++
    this.#stats.bytesIn += typeof frame === 'string' ? frame.length : frame.byteLength
    const result = decode(frame, { from: 'client', limits: this.#limits, version: session.version })
    if (!result.ok) {
      const { error } = result
      // Wire faults end the session with the RFC 6455 code that fits; message faults get an `error` answer.
      if (error.code === 'UNSUPPORTED_DATA' || error.code === 'PAYLOAD_TOO_LARGE' || error.code === 'INVALID_BINARY_FRAME') {
        this.#stats.countError(error.code, { message: error.message, session: session.id, user: session.user.id })
        session.close(error.closeCode ?? CloseCode.PolicyViolation, error.message)
        return
      }
      session.sendError(error.code, error.message, error.details.id)
      if (session.invalid.hit(now) > this.#options.limits.maxInvalidPerMinute) {
        session.close(CloseCode.BadRequest, 'too many invalid messages')
      }
      return
    }
    const message = result.message
    // Read only while a metrics exporter observes timings, and only for a publish that will be acked.
    if (this.#stats.timing !== undefined && message.type === 'publish' && message.id !== undefined) receivedAt.set(message, performance.now())
    if (!this.#rateLimit(session, message, now)) return
    const accepted = session.enqueue(() => this.#process(session, message))
    if (!accepted) this.#refuse(session, message, now)
  }

  /** Rate limits: each kind of message has its own bucket, so chat traffic cannot starve pings or leaves. */
  #rateLimit(session: Session, message: ClientMessage, now: number): boolean {
    const bucket =
      message.type === 'publish' || message.type === 'request' ? session.publishBucket : message.type === 'signal' ? session.signalBucket : session.controlBucket
    if (bucket.take(now)) return true
    this.#refuse(session, message, now)
    return false
  }

  #refuse(session: Session, message: ClientMessage, now: number): void {
    this.#stats.dropped++
    // Dropped signals are not answered: they are superseded by the next one anyway.
    if (message.type !== 'signal') {
      session.sendError('RATE_LIMITED', `Rate limit exceeded for ${message.type}`, 'id' in message ? message.id : undefined, 'room' in message ? message.room : undefined)
    } else {
      this.#stats.countError('RATE_LIMITED', { message: 'signal dropped: rate limit', session: session.id, user: session.user.id, room: message.room })
    }
    if (session.rateLimited.hit(now) > this.#options.limits.maxRateLimitedPer10s) {
      session.close(CloseCode.RateLimited, 'rate limit exceeded')
    }
  }

  async #process(session: Session, received: ClientMessage): Promise<void> {
    let message = received
    if (session.closed) return
    try {
      if (!session.authenticated && message.type !== 'authenticate' && message.type !== 'ping') {
        throw new ParleyServerError('UNAUTHORIZED', 'Authenticate first')
      }
      if (message.type === 'authenticate' || message.type === 'ping') {
        await this.#host.handle({ session, message, dataJson: undefined })
        return
      }
      // DESIGN's pipeline order: authorize, then middleware, then the handler.
      // Without an `authorize` hook nothing is awaited: no promise and no turn of the microtask queue per message.
      if (message.type === 'join') {
        const check = this.#authorize(session, message.room, 'join', message.presence)
        if (check !== undefined) await check
        // A join's `last` reads history: it needs `history` too. Denied, the join still stands without its page and
        // the client hears FORBIDDEN for the page (room.ts), as a `history` request would.
        if (message.last !== undefined && message.resume === undefined && !(await this.#allowed(session, message.room, 'history', undefined))) {
          historyDenied.add(message)
        }
      }
      else {
        const check =
          message.type === 'publish' ? this.#authorize(session, message.room, 'publish', message.data)
          : message.type === 'signal' ? this.#authorize(session, message.room, 'signal', message.value)
          : message.type === 'history' || message.type === 'search' ? this.#authorize(session, message.room, 'history', undefined)
          : undefined
        if (check !== undefined) await check
      }
      if (session.closed) return
      // The contract's schemas, before middleware and the handler: a value that breaks them reaches nobody.
      if (this.#contract !== undefined) message = carryMarks(message, checkAgainstContract(this.#contract, message))
      const run = this.#run
      if (run === undefined) {
        await this.#host.handle({ session, message, dataJson: this.#sizedData(message) })
      } else {
        const context: MiddlewareContext = { session, message }
        this.#original.set(context, { type: message.type, room: 'room' in message ? message.room : undefined, message })
        await run(context)
      }
    } catch (thrown) {
      const error = toParleyError(thrown)
      if (error.wireCode === 'INTERNAL_ERROR') this.#host.failed(error, session)
      // toParleyError hides an unknown error's message; in development the original one is shown.
      const internal = error.cause instanceof Error && error.cause.message !== '' ? error.cause.message : error.message
      const text = error.expose ? error.message : this.#options.development ? internal : 'Internal server error'
      session.sendError(error.wireCode, text, 'id' in message ? message.id : undefined, 'room' in message ? message.room : undefined, error.issues)
    }
  }

  /** Throws FORBIDDEN when `authorize` refuses; a promise only while an asynchronous hook decides. */
  #authorize(session: Session, room: string, action: RoomAction, data: JsonValue | undefined): Promise<void> | undefined {
    const allowed = this.#allowed(session, room, action, data)
    if (allowed === true) return undefined
    if (allowed === false) throw forbidden(action, room)
    // Only an asynchronous hook gets a closure: the common case (no hook) allocates nothing per message.
    return allowed.then((yes) => {
      if (!yes) throw forbidden(action, room)
    })
  }

  /** Whether `authorize` allows it: at once without a hook or with a synchronous one, else a promise. */
  #allowed(session: Session, room: string, action: RoomAction, data: JsonValue | undefined): boolean | Promise<boolean> {
    const authorize = this.#options.authorize
    if (authorize === undefined) return true
    const answer = authorize({ user: session.user, room, action, data })
    return typeof answer === 'object' && answer !== null ? Promise.resolve(answer).then(Boolean) : Boolean(answer)
  }

  /**
   * Behind middleware: what it left is validated again (it may have changed the message in place, to values JSON
   * cannot carry), and it may not move a message to another type or room, since `authorize` judged the original.
   */
  async #afterMiddleware(context: MiddlewareContext): Promise<void> {
    const original = this.#original.get(context)
    const message = original === undefined ? context.message : carryMarks(original.message, context.message)
    const room = 'room' in message ? message.room : undefined
    if (original !== undefined && (message.type !== original.type || room !== original.room)) {
      throw new ParleyServerError('INTERNAL_ERROR', "Middleware may not change a message's type or room", { expose: false })
    }
    try {
      // A publish is validated without serialising (its one serialisation is the size check's, just below); any
      // other message is encoded as for sending, which checks its size too.
      if (message.type !== 'publish') encode(message, { limits: this.#limits })
      else {
        const checked = validateMessage(message, 'client', this.#fullLimits)
        if (checked instanceof Error) throw checked
        // In memory, bytes are bytes: base64 text is only their form on the wire.
        if (message.bytes !== undefined && !(message.bytes instanceof Uint8Array)) throw new Error('publish.bytes: expected a Uint8Array')
      }
    } catch (error) {
      throw new ParleyServerError('INTERNAL_ERROR', `Middleware produced an invalid message: ${String(error)}`, { expose: false, cause: error })
    }
    return this.#host.handle({ session: context.session as Session, message, dataJson: this.#sizedData(message) })
  }

  /** A publish's `data`, serialised once and checked against `maxPayload`; undefined for other messages. */
  #sizedData(message: ClientMessage): string | undefined {
    return message.type === 'publish' ? serialiseData(message.data, this.#options.limits.maxPayload, message.bytes) : undefined
  }
}

/** What a refused `authorize` throws. */
function forbidden(action: RoomAction, room: string): ParleyServerError {
  return new ParleyServerError('FORBIDDEN', `Not allowed to ${action} in ${room}`)
}

/**
 * Joins whose `last` page `authorize` denied (action `history`): the join goes on, its page is refused. Keyed by the
 * message object, which the pipeline hands on unchanged unless the contract or middleware replaced it; a
 * replacement keeps the denial through {@link carryMarks}.
 */
export const historyDenied = new WeakSet<ClientMessage>()

/** When a publish's frame arrived (`performance.now()`), kept only while timings are observed; same keying. */
export const receivedAt = new WeakMap<ClientMessage, number>()

/** Carries what is known about a message (a join's history denial, a publish's arrival) to the one that replaces it. */
export function carryMarks(from: ClientMessage, to: ClientMessage): ClientMessage {
  if (from === to) return to
  if (historyDenied.has(from)) historyDenied.add(to)
  const arrived = receivedAt.get(from)
  if (arrived !== undefined) receivedAt.set(to, arrived)
  return to
}

/**
 * Serialises a payload and refuses one that would not fit a frame once re-encoded (JSON.stringify may write a
 * number longer than the client did, e.g. 1e20): checked before anything is sequenced, so a stored message can
 * always be delivered. A message's bytes count as the base64 of its text form, the largest form any member may get
 * (a v1 member, the HTTP transport, a history page). Returns the JSON text, for the adapter and the frame to reuse.
 */
export function serialiseData(data: JsonValue, maxPayload: number, bytes?: Uint8Array): string {
  const text = JSON.stringify(data)
  const extra = bytes === undefined ? 0 : base64Length(bytes.byteLength)
  if (text.length + extra > maxPayload || ((text.length + extra) * 3 > maxPayload && Buffer.byteLength(text) + extra > maxPayload)) {
    const what = bytes === undefined ? 'data re-encodes' : 'data and bytes (as base64) re-encode'
    throw new ParleyServerError('PAYLOAD_TOO_LARGE', `${what} to more than maxPayload (${maxPayload} bytes)`)
  }
  return text
}
