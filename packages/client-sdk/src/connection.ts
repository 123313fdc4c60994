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
  const offered = options.request.protocols
  let done = false
  let welcomed = false
  let welcomedVersion: number | undefined
  let lastError: ParleyClientError | undefined
  let heartbeat: Heartbeat | undefined
  let transportClosed: () => void = () => undefined
  const closedPromise = new Promise<void>((resolve) => (transportClosed = resolve))
  const transport = options.transport(options.request)

  const finish = (code: number, reason: string, error: ParleyClientError | undefined): void => {
    if (done) return
    done = true
    clearTimeout(connectTimer)
    heartbeat?.stop()
    handlers.closed(code, reason, error)
  }
  // Ends the connection from this side and reports it at once: a dead or mismatched peer may never finish a close
  // handshake. 1006 is never sent on the wire (RFC 6455 §7.4.1), so the peer gets 1000 with the reason.
  const abort = (code: number, reason: string, error?: ParleyClientError): void => {
    if (done) return
    // Reported first: some transports (Node 20's WebSocket while connecting) fire their own error and close from
    // inside close(), which must not be taken for the reason this side ended the connection.
    finish(code, reason, error)
    transport.close(code === CloseCode.Abnormal ? CloseCode.Normal : code, reason)
  }
  const mismatch = (selected: string): void =>
    abort(CloseCode.UnsupportedVersion, 'Unsupported protocol version', new UnsupportedProtocolError(offered, [selected]))

  const connectTimer = setTimeout(
    () => abort(CloseCode.Abnormal, `No welcome within ${options.connectTimeoutMs} ms`),
    options.connectTimeoutMs,
  )

  transport.onOpen(() => {
    const selected = transport.protocol
    // '' means the server selected nothing; the welcome then says which version it speaks. The negotiation entry
    // means no version in common: the server's 4406 close (with what it speaks) follows at once.
    if (selected !== '' && selected !== NEGOTIATE_SUBPROTOCOL && !offered.includes(selected)) mismatch(selected)
  })
  transport.onMessage((frame) => {
    if (done) return
    heartbeat?.received()
    // The welcome's version, else the selected subprotocol's, else 1: a binary frame is read only once v2 is agreed.
    const version = welcomedVersion ?? parseSubprotocol(transport.protocol)?.version ?? 1
    const result = decode(frame, { from: 'server', limits: options.inboundLimits, version })
    if (!result.ok) return handlers.invalid(toParleyClientError(result.error))
    const message = result.message
    if (message.type === 'welcome') {
      if (!offered.includes(message.protocol)) return mismatch(message.protocol)
      welcomedVersion = message.version
      if (!welcomed) {
        welcomed = true
        clearTimeout(connectTimer)
        if (options.heartbeat !== false) {
          heartbeat = startHeartbeat(
            { ...message.heartbeat, ...options.heartbeat },
            () => transport.send(encode({ type: 'ping', ts: Date.now() })),
            () => abort(CloseCode.Abnormal, 'Heartbeat timeout'),
          )
        }
      }
      handlers.welcome(message)
    } else if (!welcomed) {
      handlers.invalid(new ParleyClientError('UNEXPECTED_MESSAGE', `Expected welcome first, got ${message.type}`))
    } else {
      handlers.message(message)
    }
  })
  transport.onError((error) => {
    if (!done) lastError = toParleyClientError(error)
  })
  transport.onClose((code, reason) => {
    transportClosed()
    finish(code, reason, lastError)
  })

  const close = (code: number, reason: string): Promise<void> => {
    if (!done) {
      done = true
      clearTimeout(connectTimer)
      heartbeat?.stop()
      transport.close(code, reason)
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    return Promise.race([closedPromise, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]).then(() => clearTimeout(timer))
  }
  return new OpenConnection(transport, (frame) => {
    if (!done) transport.send(frame)
  }, close)
}

/**
 * The {@link Connection} `openConnection` hands out: its state is read from the transport. A class, since an object
 * literal with getters is kept in V8's dictionary mode (about 1 KB for every client a process holds).
 */
class OpenConnection implements Connection {
  readonly #transport: ClientTransport
  readonly send: (frame: string | Uint8Array) => void
  readonly close: (code: number, reason: string) => Promise<void>

  constructor(transport: ClientTransport, send: (frame: string | Uint8Array) => void, close: (code: number, reason: string) => Promise<void>) {
    this.#transport = transport
    this.send = send
    this.close = close
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
}
