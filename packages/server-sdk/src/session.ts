import { BYTES_VERSION, CloseCode, encode, limitCloseReason, parseSubprotocol, SUBPROTOCOLS, type ErrorCode, type ServerMessage, type ValidationIssue } from '@parley/protocol'
import type { ResolvedOptions, ServerUser } from './options.js'
import { TokenBucket, WindowCounter } from './rate-limiter.js'
import { Memberships } from './room.js'
import type { StatsCounters } from './stats.js'
import { Frame, type Connection, type ConnectionReceiver } from './transports/connection.js'

/** A session as the app sees it (events, middleware). */
export interface ParleySession {
  readonly id: string
  /** The authenticated user; an anonymous user's id is the session id. */
  readonly user: ServerUser
  /** Rooms this session is in. */
  readonly rooms: ReadonlySet<string>
  readonly remoteAddress: string | undefined
  /** Whether the session is still open. */
  readonly open: boolean
  /** Ends the session with a close code (default 1000) and reason. */
  close(code?: number, reason?: string): void
}

/** Rough cap on messages waiting in one session's inbox before new ones are refused as rate limited. */
const MAX_QUEUED = 256
/** How long a slow consumer gets to take its close frame before it is dropped. */
const SLOW_CONSUMER_TERMINATE_MS = 1_000
/**
 * A paced writer waits for the connection's drain, and re-checks after this long without one: a transport emits
 * drain only once its own buffer filled past its own mark, which a small `highWaterBytes` may never reach.
 */
const DRAIN_RECHECK_MS = 16

/** The version of each subprotocol this server speaks, read once rather than per session. */
const VERSIONS: ReadonlyMap<string, number> = new Map(SUBPROTOCOLS.map((name) => [name, parseSubprotocol(name)?.version ?? 1]))

/** What a session reports its connection's frames and close to: the hub. */
export interface SessionHost {
  receive(session: Session, frame: string | Uint8Array): void
  closed(session: Session, code: number, reason: string): void
}

/**
 * One client connection: who it is, the rooms it is in, its rate limits, its serial inbox, and the outbound guard
 * that keeps its buffered bytes under the cap.
 */
export class Session implements ParleySession, ConnectionReceiver {
  readonly id: string
  user: ServerUser
  authenticated: boolean
  readonly connection: Connection
  /** From the handshake; the rest of it is not kept, so it does not live as long as the session. */
  readonly remoteAddress: string | undefined
  /** The negotiated protocol version (1 when the subprotocol is not a Parley one: a custom transport's). */
  readonly version: number
  /** Whether a message with bytes goes to this session as a binary frame (v2 on a transport that has them). */
  readonly binaryFrames: boolean
  /** The rooms this session is in, kept by the room module (room.ts). */
  readonly memberships = new Memberships()
  // Buckets, counters and the timer set are made on first use (a bucket starts full, so that changes nothing): most
  // sessions never signal, are never refused and never hold a timer, and an idle connection should cost little.
  #publishBucket: TokenBucket | undefined
  #signalBucket: TokenBucket | undefined
  #controlBucket: TokenBucket | undefined
  #rateLimited: WindowCounter | undefined
  #invalid: WindowCounter | undefined
  #timers: Set<ReturnType<typeof setTimeout>> | undefined
  lastSeenAt: number
  /** When the session opened (ms since the epoch). */
  readonly openedAt: number
  lastPingAt = 0
  closed = false
  /** The close code the server chose for this session, once it started closing it. */
  closeCode: number | undefined
  closeReason = ''
  /** The serial inbox: tasks not started yet, in order; undefined while none runs (an idle session holds nothing). */
  #inbox: Array<() => Promise<void>> | undefined
  #queued = 0
  /** Bytes held for all this session's rooms while their joins are answered (the sum of their `heldBytes`). */
  #heldBytes = 0
  /** Writers waiting for the connection to drain; the drain listener is added on the first wait. */
  #drainWaiters: Array<() => void> | undefined
  #drainListening = false
  readonly #options: ResolvedOptions
  readonly #stats: StatsCounters
  readonly #host: SessionHost

  constructor(
    host: SessionHost,
    id: string,
    user: ServerUser,
    authenticated: boolean,
    connection: Connection,
    remoteAddress: string | undefined,
    options: ResolvedOptions,
    stats: StatsCounters,
    now: number,
  ) {
    this.id = id
    this.user = user
    this.authenticated = authenticated
    this.connection = connection
    this.remoteAddress = remoteAddress
    this.version = VERSIONS.get(connection.protocol) ?? parseSubprotocol(connection.protocol)?.version ?? 1
    this.binaryFrames = this.version >= BYTES_VERSION && connection.binary === true
    this.#host = host
    this.#options = options
    this.#stats = stats
    this.lastSeenAt = now
    this.openedAt = now
  }

  // The connection reports here (ConnectionReceiver): a session needs no listener closures of its own.
  receiveFrame(frame: string | Uint8Array): void {
    this.#host.receive(this, frame)
  }

  receivePong(): void {
    this.lastSeenAt = Date.now()
  }

  receiveClose(code: number, reason: string): void {
    this.#host.closed(this, code, reason)
  }

  get publishBucket(): TokenBucket {
    return (this.#publishBucket ??= new TokenBucket(this.#options.limits.rate, Date.now()))
  }

  get signalBucket(): TokenBucket {
    return (this.#signalBucket ??= new TokenBucket(this.#options.limits.signalRate, Date.now()))
  }

  get controlBucket(): TokenBucket {
    return (this.#controlBucket ??= new TokenBucket(this.#options.limits.controlRate, Date.now()))
  }

  /** Rate-limited messages in the last 10 s. */
  get rateLimited(): WindowCounter {
    return (this.#rateLimited ??= new WindowCounter(10_000))
  }

  /** Invalid messages in the last minute. */
  get invalid(): WindowCounter {
    return (this.#invalid ??= new WindowCounter(60_000))
  }

  /** Timers owned by this session (auth timeout, token expiry, slow-consumer cut). */
  get timers(): Set<ReturnType<typeof setTimeout>> {
    return (this.#timers ??= new Set())
  }

  get rooms(): ReadonlySet<string> {
    return new Set(this.memberships.keys())
  }

  get open(): boolean {
    return !this.closed
  }

  /**
   * Sends a frame unless doing so would pass the outbound cap, in which case the session is cut off as a slow
   * consumer (4509) so server memory stays bounded. `droppable` frames (signals) are dropped first, past the
   * high-water mark. Returns whether the frame was queued.
   */
  sendFrame(frame: Frame, droppable = false): boolean {
    if (this.closed) return false
    const buffered = this.connection.bufferedAmount
    const { highWaterBytes, maxBufferedBytes } = this.#options.backpressure
    if (droppable && buffered > highWaterBytes) {
      this.#stats.dropped++
      return false
    }
    const size = frame.byteLength
    if (buffered + size > maxBufferedBytes) {
      this.#stats.dropped++
      this.cutOff()
      return false
    }
    this.connection.send(frame)
    this.#stats.messagesOut++
    this.#stats.bytesOut += size
    if (buffered + size > this.#stats.outboundHighWater) this.#stats.outboundHighWater = buffered + size
    return true
  }

  /**
   * Holds `bytes` for a room whose join is being answered. What every room of the session holds counts against
   * `backpressure.maxBufferedBytes` together with the connection's buffer; past it the session is cut off as a slow
   * consumer (4509), as it would be if the frame had been queued on the connection. Returns whether it was held.
   */
  holdBytes(bytes: number): boolean {
    this.#heldBytes += bytes
    if (this.connection.bufferedAmount + this.#heldBytes <= this.#options.backpressure.maxBufferedBytes) return true
    this.#stats.dropped++
    this.cutOff()
    return false
  }

  /** Gives back held bytes: they were sent, or will never be. */
  releaseBytes(bytes: number): void {
    this.#heldBytes -= bytes
  }

  /** Cuts the session off as a slow consumer (4509), dropping it outright if it does not take the close in time. */
  cutOff(): void {
    if (this.closed) return
    this.#stats.slowConsumers++
    this.#options.logger.warn(
      { event: 'session.slow-consumer', session: this.id, user: this.user.id, bufferedBytes: this.connection.bufferedAmount, heldBytes: this.#heldBytes, maxBufferedBytes: this.#options.backpressure.maxBufferedBytes },
      'parley: slow consumer cut off (4509): its outbound buffer passed backpressure.maxBufferedBytes',
    )
    this.close(CloseCode.SlowConsumer, 'slow consumer: outbound buffer full')
    const timer = setTimeout(() => this.connection.terminate(), SLOW_CONSUMER_TERMINATE_MS)
    this.timers.add(timer)
  }

  /**
   * Whether a frame of `bytes` can be written now by a writer that paces itself by the reader (a recovery replay):
   * it fits under the high-water mark, or nothing is buffered, so waiting cannot help. Pacing to the high-water mark
   * rather than to the cap leaves the rest of the cap for live traffic held meanwhile; so that some is always left,
   * the mark counts as at most half the cap here.
   */
  fitsUnderHighWater(bytes: number): boolean {
    const buffered = this.connection.bufferedAmount
    const { highWaterBytes, maxBufferedBytes } = this.#options.backpressure
    return buffered === 0 || buffered + bytes <= Math.min(highWaterBytes, maxBufferedBytes / 2)
  }

  /**
   * Waits until a frame of `bytes` fits under the high-water mark (see `fitsUnderHighWater`): on the connection's
   * drain, with a re-check every {@link DRAIN_RECHECK_MS} in case the transport's own buffer never filled far enough
   * to emit one. Resolves false once the session is closed; a reader that stalls for good is ended by the heartbeat.
   */
  async whenUnderHighWater(bytes: number): Promise<boolean> {
    while (!this.closed && !this.fitsUnderHighWater(bytes)) await this.#drainOrRecheck()
    return !this.closed
  }

  #drainOrRecheck(): Promise<void> {
    if (!this.#drainListening) {
      this.#drainListening = true
      this.connection.onDrain?.(() => this.wake())
    }
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, DRAIN_RECHECK_MS)
      ;(this.#drainWaiters ??= []).push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** Wakes every paced writer (the connection drained, or the session ended). */
  wake(): void {
    const waiters = this.#drainWaiters
    if (waiters === undefined) return
    this.#drainWaiters = undefined
    for (const resolve of waiters) resolve()
  }

  /** Encodes and sends one message to this session alone. */
  send(message: ServerMessage, droppable = false): boolean {
    return this.sendFrame(new Frame(encode(message, { limits: this.#options.encodeLimits })), droppable)
  }

  /** Answers a request with an `error`. */
  sendError(code: ErrorCode | (string & {}), message: string, id?: string, room?: string, issues?: readonly ValidationIssue[]): void {
    this.#stats.countError(code as ErrorCode, { message, session: this.id, user: this.user.id, room })
    this.send({
      type: 'error',
      code,
      message,
      ...(id === undefined ? {} : { id }),
      ...(room === undefined ? {} : { room }),
      ...(issues === undefined || issues.length === 0 ? {} : { issues }),
    })
  }

  /**
   * Runs `task` after every earlier task of this session: a session's messages are handled in the order they
   * arrived, even when a hook is asynchronous (a publish right after a join must see the join done).
   * Returns false when the inbox is full.
   */
  enqueue(task: () => Promise<void>): boolean {
    if (this.#queued >= MAX_QUEUED) return false
    this.#queued++
    if (this.#inbox !== undefined) {
      this.#inbox.push(task)
    } else {
      this.#inbox = [task]
      void this.#drain(this.#inbox)
    }
    return true
  }

  /**
   * Runs the inbox's tasks one after another, the first on a later microtask (never inside `enqueue`'s caller). One
   * loop per burst instead of a promise chain per task: a `then`, a `catch` and a `finally` per message were most of
   * what the inbox allocated on the hot path.
   */
  async #drain(inbox: Array<() => Promise<void>>): Promise<void> {
    await undefined
    for (let task = inbox.shift(); task !== undefined; task = inbox.shift()) {
      try {
        await task()
      } catch {
        // The hub's tasks answer their own failures; this only keeps one failure from stalling the inbox.
      }
      this.#queued--
    }
    this.#inbox = undefined
  }

  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.closed) return
    this.closed = true
    this.closeCode = code
    this.closeReason = limitCloseReason(reason)
    this.connection.close(code, this.closeReason)
    this.wake()
  }

  clearTimers(): void {
    if (this.#timers === undefined) return
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
  }
}
