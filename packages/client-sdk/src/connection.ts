import { CloseCode, decode, encode, NEGOTIATE_SUBPROTOCOL, parseSubprotocol, type HeartbeatSettings, type ProtocolLimits, type ServerMessage, type WelcomeMessage } from '@parley/protocol'
import { ParleyClientError, UnsupportedProtocolError, toParleyClientError } from './client-error.js'
import { startHeartbeat, type Heartbeat } from './heartbeat.js'
import type { ClientTransport, TransportFactory, TransportRequest } from './transports/transport.js'

/** What one connection needs. */
export interface ConnectionOptions {
  readonly request: TransportRequest
  readonly transport: TransportFactory
  readonly connectTimeoutMs: number
  /** Overrides of the server's heartbeat settings, or `false` for none. */
  readonly heartbeat: Partial<HeartbeatSettings> | false
  readonly inboundLimits: ProtocolLimits
}

/** What a connection reports to its client. None of these is called after `closed`, or after `close()`. */
export interface ConnectionHandlers {
  welcome(message: WelcomeMessage): void
  message(message: ServerMessage): void
  /** A frame that did not decode, or a message out of place: reported, never thrown, and the connection goes on. */
  invalid(error: ParleyClientError): void
  /** The connection is over; `error` is what the transport reported about it, if anything. Called once. */
  closed(code: number, reason: string, error: ParleyClientError | undefined): void
}

/** One connection's lifetime, as the client sees it. */
export interface Connection {
  /** The subprotocol the server selected (`''` before open). */
  readonly protocol: string
  /** The transport's name, when it says (`'websocket'`, `'http-stream'`). */
  readonly transportName: string | undefined
  readonly bufferedAmount: number
  /** Whether the transport carries binary frames (WebSocket): a v2 publish with bytes goes as one. */
  readonly binary: boolean
  send(frame: string | Uint8Array): void
  /** Ends the connection from this side; resolves once the transport closed (or after 1 s, for a dead peer). */
  close(code: number, reason: string): Promise<void>
}

const CLOSE_WAIT_MS = 1_000

/**
 * Opens one connection: creates the transport, checks the selected subprotocol and the `welcome`, decodes every
 * frame with the protocol's `decode`, runs the heartbeat once welcomed, and enforces the connect timeout.
 */
export function openConnection(options: ConnectionOptions, handlers: ConnectionHandlers): Connection {
  return new OpenConnection(options, handlers)
}

/**
 * The {@link Connection} `openConnection` hands out. A class with its methods on the prototype: a process holding
 * thousands of clients pays for one connection's fields, not for a dozen closures and their context each
 * (docs/benchmarks.md, "The client's own cost"); its getters read the transport's state.
 */
class OpenConnection implements Connection {
  readonly #options: ConnectionOptions
  readonly #handlers: ConnectionHandlers
  readonly #transport: ClientTransport
  #done = false
  /** The version the last welcome agreed; undefined until the first welcome. */
  #welcomedVersion: number | undefined = undefined
  #lastError: ParleyClientError | undefined = undefined
  #heartbeat: Heartbeat | undefined = undefined
  #connectTimer: ReturnType<typeof setTimeout> | undefined
  /** Resolves the promise `close()` waits on, once the transport closed; made by the first `close()`. */
  #transportClosed: (() => void) | undefined = undefined
  #closedPromise: Promise<void> | undefined = undefined
  #isClosed = false

  constructor(options: ConnectionOptions, handlers: ConnectionHandlers) {
    this.#options = options
    this.#handlers = handlers
    const transport = (this.#transport = options.transport(options.request))
    this.#connectTimer = setTimeout(() => this.#abort(CloseCode.Abnormal, `No welcome within ${options.connectTimeoutMs} ms`), options.connectTimeoutMs)
    transport.onOpen(() => this.#opened())
    transport.onMessage((frame) => this.#received(frame))
    transport.onError((error) => {
      if (!this.#done) this.#lastError = toParleyClientError(error)
    })
    transport.onClose((code, reason) => {
      this.#isClosed = true
      this.#transportClosed?.()
      this.#finish(code, reason, this.#lastError)
    })
  }

  get protocol(): string {
    return this.#transport.protocol
  }

  get transportName(): string | undefined {
    return this.#transport.name
  }

  get bufferedAmount(): number {
    return this.#transport.bufferedAmount
  }

  get binary(): boolean {
    return this.#transport.binary === true
  }

  send(frame: string | Uint8Array): void {
    if (!this.#done) this.#transport.send(frame)
  }

  close(code: number, reason: string): Promise<void> {
    if (!this.#done) {
      this.#done = true
      this.#stopConnectTimer()
      this.#heartbeat?.stop()
      this.#transport.close(code, reason)
    }
    if (this.#isClosed) return Promise.resolve()
    const closed = (this.#closedPromise ??= new Promise<void>((resolve) => (this.#transportClosed = resolve)))
    let timer: ReturnType<typeof setTimeout> | undefined
    return Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]).then(() => clearTimeout(timer))
  }

  #opened(): void {
    const selected = this.#transport.protocol
    // '' means the server selected nothing; the welcome then says which version it speaks. The negotiation entry
    // means no version in common: the server's 4406 close (with what it speaks) follows at once.
    if (selected !== '' && selected !== NEGOTIATE_SUBPROTOCOL && !this.#options.request.protocols.includes(selected)) this.#mismatch(selected)
  }

  #received(frame: unknown): void {
    if (this.#done) return
    this.#heartbeat?.received()
    // The welcome's version, else the selected subprotocol's, else 1: a binary frame is read only once v2 is agreed.
    const version = this.#welcomedVersion ?? parseSubprotocol(this.#transport.protocol)?.version ?? 1
    const result = decode(frame, { from: 'server', limits: this.#options.inboundLimits, version })
    if (!result.ok) return this.#handlers.invalid(toParleyClientError(result.error))
    const message = result.message
    if (message.type === 'welcome') {
      if (!this.#options.request.protocols.includes(message.protocol)) return this.#mismatch(message.protocol)
      const first = this.#welcomedVersion === undefined
      this.#welcomedVersion = message.version
      if (first) {
        this.#stopConnectTimer()
        const heartbeat = this.#options.heartbeat
        if (heartbeat !== false) {
          const transport = this.#transport
          this.#heartbeat = startHeartbeat(
            { ...message.heartbeat, ...heartbeat },
            () => transport.send(encode({ type: 'ping', ts: Date.now() })),
            () => this.#abort(CloseCode.Abnormal, 'Heartbeat timeout'),
          )
        }
      }
      this.#handlers.welcome(message)
    } else if (this.#welcomedVersion === undefined) {
      this.#handlers.invalid(new ParleyClientError('UNEXPECTED_MESSAGE', `Expected welcome first, got ${message.type}`))
    } else {
      this.#handlers.message(message)
    }
  }

  /** Stops the connect timeout and lets go of its timer (a client holds its connection for as long as it is up). */
  #stopConnectTimer(): void {
    clearTimeout(this.#connectTimer)
    this.#connectTimer = undefined
  }

  #finish(code: number, reason: string, error: ParleyClientError | undefined): void {
    if (this.#done) return
    this.#done = true
    this.#stopConnectTimer()
    this.#heartbeat?.stop()
    this.#handlers.closed(code, reason, error)
  }

  // Ends the connection from this side and reports it at once: a dead or mismatched peer may never finish a close
  // handshake. 1006 is never sent on the wire (RFC 6455 §7.4.1), so the peer gets 1000 with the reason.
  #abort(code: number, reason: string, error?: ParleyClientError): void {
    if (this.#done) return
    // Reported first: some transports (Node 20's WebSocket while connecting) fire their own error and close from
    // inside close(), which must not be taken for the reason this side ended the connection.
    this.#finish(code, reason, error)
    this.#transport.close(code === CloseCode.Abnormal ? CloseCode.Normal : code, reason)
  }

  #mismatch(selected: string): void {
    this.#abort(CloseCode.UnsupportedVersion, 'Unsupported protocol version', new UnsupportedProtocolError(this.#options.request.protocols, [selected]))
  }
}
