import { limitCloseReason, NEGOTIATE_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from '@parley/protocol'
import type { ClientRequest, IncomingMessage } from 'node:http'
import type { ClientOptions as WsClientOptions } from 'ws'
import { ParleyClientError, errorFromHandshake } from '../client-error.js'
import type { ClientTransport, TransportFactory } from './transport.js'

/** The part of a WHATWG WebSocket this transport uses; browsers', Node's global one and `ws` all have it. */
export interface WebSocketLike {
  readonly protocol: string
  readonly bufferedAmount: number
  binaryType: string
  send(data: string | Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: ((event: never) => void) | null
  onmessage: ((event: { readonly data: unknown }) => void) | null
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null
  onerror: ((event: { readonly message?: string; readonly error?: unknown }) => void) | null
}

/** A WebSocket class: `new (url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** The `ws` class as far as this file uses it: WHATWG events, plus headers and `unexpected-response`. */
type NodeWebSocket = WebSocketLike & {
  on(event: 'unexpected-response', listener: (request: ClientRequest, response: IncomingMessage) => void): void
  terminate(): void
}
type NodeWebSocketConstructor = new (url: string, protocols: string[], options: WsClientOptions) => NodeWebSocket

/** Options of {@link websocketTransport}. */
export interface WebSocketTransportOptions {
  /** The WebSocket class. @default the global `WebSocket`, else the `ws` package (Node only, loaded on first use) */
  readonly WebSocket?: WebSocketConstructor | undefined
  /** Extra upgrade request headers; `ws` in Node only, since browsers cannot set any. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * Use `ws` even when a global WebSocket exists (Node 22+, or 20 with --experimental-websocket): the token then
   * travels as a header and a refused handshake is read (401 → `AuthError`, 426 → `UnsupportedProtocolError`, no
   * retries), which a WHATWG WebSocket cannot do. Node only. @default false
   */
  readonly preferWs?: boolean | undefined
}

// A variable, not a literal: bundlers then neither pull `ws` (and the Node built-ins it needs) into browser builds
// nor fail to resolve it; only Node, where no global WebSocket exists, ever evaluates this import.
const WS_MODULE = 'ws'
let wsClass: Promise<NodeWebSocketConstructor> | undefined
const loadWs = (): Promise<NodeWebSocketConstructor> =>
  (wsClass ??= import(/* webpackIgnore: true */ /* @vite-ignore */ WS_MODULE).then(
    (module: { WebSocket?: NodeWebSocketConstructor; default?: NodeWebSocketConstructor }) => {
      const found = module.WebSocket ?? module.default
      if (found === undefined) throw new Error('the ws module has no WebSocket export')
      return found
    },
  ))

const MAX_ERROR_BODY = 4_096

/**
 * The WebSocket transport. Offers the subprotocols newest first. With a native WebSocket (browsers, Node with a
 * global one) the token travels as a `parley.token.<token>` subprotocol entry, since browsers cannot set headers;
 * with `ws` in Node it travels as `Authorization: Bearer <token>`, and a refused handshake is read: 401 becomes an
 * `AuthError`, 426 an `UnsupportedProtocolError` with the server's `supported` list, anything else a retryable error.
 */
export function websocketTransport(options: WebSocketTransportOptions = {}): TransportFactory {
  return (request) => {
    let socket: WebSocketLike | undefined
    let closed = false
    let abandoned = false
    let handshakeError: ParleyClientError | undefined
    const on: TransportListeners = {
      open: (): void => undefined,
      message: (_frame: unknown): void => undefined,
      close: (_code: number, _reason: string): void => undefined,
      error: (_error: unknown): void => undefined,
    }
    const finish = (code: number, reason: string): void => {
      if (closed) return
      closed = true
      on.close(code, reason)
    }
    const failLater = (error: unknown): void =>
      queueMicrotask(() => {
        on.error(error)
        finish(1006, error instanceof Error ? error.message : '')
      })

    const attach = (created: WebSocketLike): void => {
      let opened = false
      socket = created
      created.binaryType = 'arraybuffer'
      created.onopen = () => {
        opened = true
        on.open()
      }
      created.onmessage = (event) => on.message(event.data)
      created.onerror = (event) => {
        if (handshakeError !== undefined || closed) return
        const message = `WebSocket error${event.message ? `: ${event.message}` : ''}`
        on.error(new ParleyClientError('CONNECTION_FAILED', message, { cause: event.error }))
        // A failed handshake ends the attempt here: Node 20's global WebSocket reports a non-101 answer with an
        // error and never a close (it stays CONNECTING), where browsers send both.
        if (!opened) {
          finish(1006, message)
          try {
            created.close()
          } catch {
            // Already failed; nothing to release.
          }
        }
      }
      // A refused handshake closes as 1006; report the close the refusal stands for (4401, 4406) instead.
      created.onclose = (event) => finish(handshakeError?.closeCode ?? event.code, handshakeError?.message ?? event.reason)
    }

    const Native = options.WebSocket ?? (options.preferWs ? undefined : (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket)
    if (Native !== undefined) {
      // The negotiation entry makes a version mismatch readable: a WHATWG WebSocket cannot see the 426.
      const protocols = [...request.protocols, NEGOTIATE_SUBPROTOCOL]
      if (request.token !== undefined) protocols.push(TOKEN_SUBPROTOCOL_PREFIX + request.token)
      try {
        attach(new Native(request.url, protocols))
      } catch (error) {
        failLater(new ParleyClientError('CONNECTION_FAILED', `Cannot open a WebSocket to ${request.url}`, { cause: error }))
      }
    } else {
      loadWs().then(
        (Ws) => {
          if (abandoned) return
          const headers: Record<string, string> = { ...options.headers }
          if (request.token !== undefined) headers['Authorization'] = `Bearer ${request.token}`
          const created = new Ws(request.url, [...request.protocols], { headers })
          created.on('unexpected-response', (_req, response) => {
            let body = ''
            response.setEncoding('utf8')
            response.on('data', (chunk: string) => {
              if (body.length < MAX_ERROR_BODY) body += chunk
            })
            response.on('end', () => {
              handshakeError = errorFromHandshake(response.statusCode ?? 0, body, request.protocols)
              on.error(handshakeError)
              created.terminate()
            })
          })
          attach(created)
        },
        (error: unknown) =>
          failLater(
            new ParleyClientError('CONNECTION_FAILED', 'No WebSocket: this runtime has no global WebSocket and the ws package did not load', { cause: error }),
          ),
      )
    }

    const transport = new WebSocketTransport(
      () => socket,
      (frame) => {
        if (!closed) socket?.send(frame)
      },
      (code, reason) => {
        if (closed) return
        if (socket === undefined) {
          // Still loading `ws`: nothing to close but the attempt itself.
          abandoned = true
          queueMicrotask(() => finish(code, reason))
          return
        }
        // WebSocket.close() accepts only 1000 and 3000-4999 (WHATWG WebSockets §close()).
        socket.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, limitCloseReason(reason))
      },
      on,
    )
    return transport
  }
}

/** The listeners the client registers on a transport, called by the transport's socket handlers. */
interface TransportListeners {
  open: () => void
  message: (frame: unknown) => void
  close: (code: number, reason: string) => void
  error: (error: unknown) => void
}

/**
 * The transport object `websocketTransport` hands out; its state (the socket, once created) is in the factory's
 * closure. A class, since an object literal with getters is kept in V8's dictionary mode (about 1 KB per client).
 */
class WebSocketTransport implements ClientTransport {
  readonly name = 'websocket'
  readonly binary = true
  readonly #socket: () => WebSocketLike | undefined
  readonly #on: TransportListeners
  readonly send: (frame: string | Uint8Array) => void
  readonly close: (code: number, reason: string) => void

  constructor(
    socket: () => WebSocketLike | undefined,
    send: (frame: string | Uint8Array) => void,
    close: (code: number, reason: string) => void,
    on: TransportListeners,
  ) {
    this.#socket = socket
    this.send = send
    this.close = close
    this.#on = on
  }

  get protocol(): string {
    return this.#socket()?.protocol ?? ''
  }

  get bufferedAmount(): number {
    return this.#socket()?.bufferedAmount ?? 0
  }

  onOpen(listener: () => void): void {
    this.#on.open = listener
  }

  onMessage(listener: (frame: unknown) => void): void {
    this.#on.message = listener
  }

  onClose(listener: (code: number, reason: string) => void): void {
    this.#on.close = listener
  }

  onError(listener: (error: unknown) => void): void {
    this.#on.error = listener
  }
}
