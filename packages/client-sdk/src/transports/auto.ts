import { AuthError, ParleyClientError, UnsupportedProtocolError } from '../client-error.js'
import { httpStreamTransport, type HttpStreamTransportOptions } from './http-stream.js'
import type { ClientTransport, TransportFactory, TransportRequest } from './transport.js'
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
  return (request: TransportRequest) => {
    const now = Date.now()
    const choice = remembered.name !== undefined && now < remembered.until && order.includes(remembered.name) ? remembered.name : undefined
    const queue = choice === undefined ? [...order] : [choice, ...order.filter((name) => name !== choice)]
    const on = {
      open: (): void => undefined,
      message: (_frame: unknown): void => undefined,
      close: (_code: number, _reason: string): void => undefined,
      error: (_error: unknown): void => undefined,
    }
    let current: ClientTransport | undefined
    let currentName: TransportName | undefined
    let closedByUs: { code: number; reason: string } | undefined
    let finished = false

    const start = (): void => {
      const name = queue.shift() as TransportName
      const inner = factories[name](request)
      current = inner
      currentName = name
      let opened = false
      let lastError: unknown
      const timer = queue.length === 0 ? undefined : setTimeout(() => {
        // No open in time: treat it as blocked and move on, quietly.
        if (opened || current !== inner) return
        current = undefined
        inner.close(1000, 'fallback')
        start()
      }, openTimeoutMs)
      inner.onOpen(() => {
        opened = true
        clearTimeout(timer)
        if (current !== inner) return
        if (name === order[0]) forgetTransportChoice()
        else Object.assign(remembered, { name, until: Date.now() + probeAfterMs })
        on.open()
      })
      inner.onMessage((frame) => current === inner && on.message(frame))
      inner.onError((error) => {
        lastError = error
        if (current === inner && (opened || queue.length === 0 || !blocked(error, 1006))) on.error(error)
      })
      inner.onClose((code, reason) => {
        clearTimeout(timer)
        if (current !== inner || finished) return
        if (!opened && closedByUs === undefined && queue.length > 0 && blocked(lastError, code)) return start()
        finished = true
        on.close(code, reason)
      })
    }
    start()

    const transport: ClientTransport = {
      get name() {
        return currentName
      },
      get protocol() {
        return current?.protocol ?? ''
      },
      get bufferedAmount() {
        return current?.bufferedAmount ?? 0
      },
      get binary() {
        return current?.binary === true
      },
      send: (frame) => current?.send(frame),
      close(code, reason) {
        closedByUs = { code, reason }
        if (current !== undefined) current.close(code, reason)
        else if (!finished) {
          finished = true
          queueMicrotask(() => on.close(code, reason))
        }
      },
      onOpen: (listener) => void (on.open = listener),
      onMessage: (listener) => void (on.message = listener),
      onClose: (listener) => void (on.close = listener),
      onError: (listener) => void (on.error = listener),
    }
    return transport
  }
}
