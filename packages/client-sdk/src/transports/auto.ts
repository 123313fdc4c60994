import { AuthError, ParleyClientError, UnsupportedProtocolError } from '../client-error.js'
import { httpStreamTransport, type HttpStreamTransportOptions } from './http-stream.js'
import { ListenedTransport, type ClientTransport, type TransportFactory, type TransportRequest } from './transport.js'
import { websocketTransport, type WebSocketTransportOptions } from './websocket.js'

/** The transports a client can choose from. */
export type TransportName = 'websocket' | 'http-stream'

/** Options of {@link autoTransport}. */
export interface AutoTransportOptions {
  /** Which transports, in order of preference. @default ['websocket', 'http-stream'] */
  readonly transports?: readonly TransportName[] | undefined
  /** An attempt that has not opened after this long counts as blocked, and the next transport is tried. @default 3_000 */
  readonly openTimeoutMs?: number | undefined
  /** After falling back, WebSocket is tried first again once this long has passed. @default 300_000 */
  readonly probeAfterMs?: number | undefined
  readonly websocket?: WebSocketTransportOptions | undefined
  readonly httpStream?: HttpStreamTransportOptions | undefined
}

/**
 * What worked for this page or process: after a fallback, later connections (and other clients) go straight to the
 * transport that worked, until `probeAfterMs` has passed and the preferred one is tried again.
 */
const remembered: { name: TransportName | undefined; until: number } = { name: undefined, until: 0 }

/** Forgets what {@link autoTransport} remembered (tests, or after a network change). */
export function forgetTransportChoice(): void {
  remembered.name = undefined
  remembered.until = 0
}

/**
 * Whether a failure before open means "something between us and the server blocks this transport": anything but a
 * refusal Parley itself made and could read (401 → `AuthError`, 426 → `UnsupportedProtocolError`, or another close
 * code the server chose). A proxy that refuses the upgrade, a 1006 before open, a timeout: all blocked.
 */
function blocked(error: unknown, code: number): boolean {
  if (error instanceof AuthError || error instanceof UnsupportedProtocolError) return false
  if (error instanceof ParleyClientError && error.closeCode !== undefined && error.closeCode !== 1006) return false
  return code === 1006
}

/**
 * The default transport: WebSocket, falling back to the HTTP stream when WebSocket is blocked (never on a refusal
 * Parley made), within the same connection attempt. `name` says which one carries the connection.
 */
export function autoTransport(options: AutoTransportOptions = {}): TransportFactory {
  const order = options.transports ?? ['websocket', 'http-stream']
  const openTimeoutMs = options.openTimeoutMs ?? 3_000
  const probeAfterMs = options.probeAfterMs ?? 300_000
  const factories: Record<TransportName, TransportFactory> = {
    websocket: websocketTransport(options.websocket),
    'http-stream': httpStreamTransport(options.httpStream),
  }
  return (request) => new AutoConnection(request, order, factories, openTimeoutMs, probeAfterMs)
}

/**
 * One connection attempt of {@link autoTransport}: tries the transports in turn until one opens, then carries the
 * connection on it. A class, so a client's transport is a plain object in V8's fast mode, not a getter-bearing
 * literal kept as a dictionary (docs/benchmarks.md, "The client's own cost").
 */
class AutoConnection extends ListenedTransport implements ClientTransport {
  readonly #request: TransportRequest
  readonly #order: readonly TransportName[]
  readonly #factories: Record<TransportName, TransportFactory>
  readonly #openTimeoutMs: number
  readonly #probeAfterMs: number
  readonly #queue: TransportName[]
  #current: ClientTransport | undefined
  #currentName: TransportName | undefined
  #closedByUs = false
  #finished = false

  constructor(request: TransportRequest, order: readonly TransportName[], factories: Record<TransportName, TransportFactory>, openTimeoutMs: number, probeAfterMs: number) {
    super()
    this.#request = request
    this.#order = order
    this.#factories = factories
    this.#openTimeoutMs = openTimeoutMs
    this.#probeAfterMs = probeAfterMs
    const now = Date.now()
    const choice = remembered.name !== undefined && now < remembered.until && order.includes(remembered.name) ? remembered.name : undefined
    this.#queue = choice === undefined ? [...order] : [choice, ...order.filter((name) => name !== choice)]
    this.#start()
  }

  get name(): TransportName | undefined {
    return this.#currentName
  }

  get protocol(): string {
    return this.#current?.protocol ?? ''
  }

  get bufferedAmount(): number {
    return this.#current?.bufferedAmount ?? 0
  }

  get binary(): boolean {
    return this.#current?.binary === true
  }

  send(frame: string | Uint8Array): void {
    this.#current?.send(frame)
  }

  close(code: number, reason: string): void {
    this.#closedByUs = true
    if (this.#current !== undefined) this.#current.close(code, reason)
    else if (!this.#finished) {
      this.#finished = true
      queueMicrotask(() => this.closeListener(code, reason))
    }
  }

  #start(): void {
    const queue = this.#queue
    const name = queue.shift() as TransportName
    const inner = this.#factories[name](this.#request)
    this.#current = inner
    this.#currentName = name
    let opened = false
    let lastError: unknown
    // Dropped once cleared: the listeners below keep this scope for as long as the connection is up.
    let timer = queue.length === 0 ? undefined : setTimeout(() => {
      // No open in time: treat it as blocked and move on, quietly.
      if (opened || this.#current !== inner) return
      this.#current = undefined
      inner.close(1000, 'fallback')
      this.#start()
    }, this.#openTimeoutMs)
    inner.onOpen(() => {
      opened = true
      clearTimeout(timer)
      timer = undefined
      if (this.#current !== inner) return
      if (name === this.#order[0]) forgetTransportChoice()
      else Object.assign(remembered, { name, until: Date.now() + this.#probeAfterMs })
      this.openListener()
    })
    inner.onMessage((frame) => this.#current === inner && this.messageListener(frame))
    inner.onError((error) => {
      lastError = error
      if (this.#current === inner && (opened || queue.length === 0 || !blocked(error, 1006))) this.errorListener(error)
    })
    inner.onClose((code, reason) => {
      clearTimeout(timer)
      if (this.#current !== inner || this.#finished) return
      if (!opened && !this.#closedByUs && queue.length > 0 && blocked(lastError, code)) return this.#start()
      this.#finished = true
      this.closeListener(code, reason)
    })
  }
}
