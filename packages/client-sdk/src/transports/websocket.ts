import { limitCloseReason, NEGOTIATE_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from '@parley/protocol'
import type { ClientRequest, IncomingMessage } from 'node:http'
import type { ClientOptions as WsClientOptions } from 'ws'
import { ParleyClientError, errorFromHandshake } from '../client-error.js'
import { ListenedTransport, type ClientTransport, type TransportFactory, type TransportRequest } from './transport.js'

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

/**
 * The `ws` class as far as this file uses it: its EventEmitter events (which call their listener with the socket as
 * `this`), headers and `unexpected-response`.
 */
type NodeWebSocket = WebSocketLike & {
  on(event: 'open', listener: (this: NodeWebSocket) => void): void
  on(event: 'message', listener: (this: NodeWebSocket, data: ArrayBuffer | { toString(): string }, isBinary: boolean) => void): void
  on(event: 'close', listener: (this: NodeWebSocket, code: number, reason: { toString(): string }) => void): void
  on(event: 'error', listener: (this: NodeWebSocket, error: Error) => void): void
  on(event: 'unexpected-response', listener: (this: NodeWebSocket, request: ClientRequest, response: IncomingMessage) => void): void
  terminate(): void
  /** The transport this socket carries, for the listeners every `ws` socket shares. */
  [TRANSPORT]?: WebSocketTransport
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

/** Where a `ws` socket keeps its transport, for the shared listeners. */
const TRANSPORT = Symbol('parley.transport')

/**
 * The WebSocket transport. Offers the subprotocols newest first. With a native WebSocket (browsers, Node with a
 * global one) the token travels as a `parley.token.<token>` subprotocol entry, since browsers cannot set headers;
 * with `ws` in Node it travels as `Authorization: Bearer <token>`, and a refused handshake is read: 401 becomes an
 * `AuthError`, 426 an `UnsupportedProtocolError` with the server's `supported` list, anything else a retryable error.
 */
export function websocketTransport(options: WebSocketTransportOptions = {}): TransportFactory {
  return (request) => new WebSocketTransport(options, request)
}

/**
 * The transport object `websocketTransport` hands out, for one connection attempt. A class with its methods on the
 * prototype: a process holding thousands of clients pays for its fields and the socket's four handlers, not for a
 * dozen closures (docs/benchmarks.md, "The client's own cost").
 */
class WebSocketTransport extends ListenedTransport implements ClientTransport {
  readonly name = 'websocket'
  readonly binary = true
  readonly #request: TransportRequest
  #socket: WebSocketLike | undefined = undefined
  #closed = false
  #abandoned = false
  #opened = false
  #handshakeError: ParleyClientError | undefined = undefined

  constructor(options: WebSocketTransportOptions, request: TransportRequest) {
    super()
    this.#request = request
    const Native = options.WebSocket ?? (options.preferWs ? undefined : (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket)
    if (Native !== undefined) {
      // The negotiation entry makes a version mismatch readable: a WHATWG WebSocket cannot see the 426.
      const protocols = [...request.protocols, NEGOTIATE_SUBPROTOCOL]
      if (request.token !== undefined) protocols.push(TOKEN_SUBPROTOCOL_PREFIX + request.token)
      try {
        this.#attach(new Native(request.url, protocols))
      } catch (error) {
        this.#failLater(new ParleyClientError('CONNECTION_FAILED', `Cannot open a WebSocket to ${request.url}`, { cause: error }))
      }
    } else {
      loadWs().then(
        (Ws) => this.#openWithWs(Ws, options),
        (error: unknown) =>
          this.#failLater(
            new ParleyClientError('CONNECTION_FAILED', 'No WebSocket: this runtime has no global WebSocket and the ws package did not load', { cause: error }),
          ),
      )
    }
  }

  get protocol(): string {
    return this.#socket?.protocol ?? ''
  }

  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0
  }

  send(frame: string | Uint8Array): void {
    if (!this.#closed) this.#socket?.send(frame)
  }

  close(code: number, reason: string): void {
    if (this.#closed) return
    const socket = this.#socket
    if (socket === undefined) {
      // Still loading `ws`: nothing to close but the attempt itself.
      this.#abandoned = true
      queueMicrotask(() => this.#finish(code, reason))
      return
    }
    // WebSocket.close() accepts only 1000 and 3000-4999 (WHATWG WebSockets §close()).
    socket.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, limitCloseReason(reason))
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.closeListener(code, reason)
  }

  #failLater(error: unknown): void {
    queueMicrotask(() => {
      this.errorListener(error)
      this.#finish(1006, error instanceof Error ? error.message : '')
    })
  }

  #openWithWs(Ws: NodeWebSocketConstructor, options: WebSocketTransportOptions): void {
    if (this.#abandoned) return
    const request = this.#request
    const headers: Record<string, string> = { ...options.headers }
    if (request.token !== undefined) headers['Authorization'] = `Bearer ${request.token}`
    let created: NodeWebSocket
    try {
      created = new Ws(request.url, [...request.protocols], { headers })
    } catch (error) {
      // `ws` refuses a URL or a subprotocol it cannot send (a custom transport's URL, a custom `subprotocols`
      // entry): a failed attempt, reported as the WHATWG path reports it, never an unhandled rejection.
      return this.#failLater(new ParleyClientError('CONNECTION_FAILED', `Cannot open a WebSocket to ${request.url}`, { cause: error }))
    }
    this.#socket = created
    created.binaryType = 'arraybuffer'
    // `ws`'s own events, not its WHATWG `onmessage` and co., which wrap each listener in two more closures and each
    // message in an event object; and the same listener functions for every socket (docs/benchmarks.md, "The
    // client's own cost").
    created[TRANSPORT] = this
    created.on('open', WebSocketTransport.#wsOpen)
    created.on('message', WebSocketTransport.#wsMessage)
    created.on('error', WebSocketTransport.#wsError)
    created.on('close', WebSocketTransport.#wsClose)
    created.on('unexpected-response', WebSocketTransport.#wsRefused)
  }

  static #wsOpen(this: NodeWebSocket): void {
    const transport = this[TRANSPORT]
    if (transport !== undefined) transport.#opening()
  }

  static #wsMessage(this: NodeWebSocket, data: ArrayBuffer | { toString(): string }, isBinary: boolean): void {
    const transport = this[TRANSPORT]
    if (transport !== undefined) transport.messageListener(isBinary ? data : data.toString())
  }

  static #wsError(this: NodeWebSocket, error: Error): void {
    const transport = this[TRANSPORT]
    if (transport !== undefined) transport.#errored({ message: error.message, error })
  }

  static #wsClose(this: NodeWebSocket, code: number, reason: { toString(): string }): void {
    const transport = this[TRANSPORT]
    if (transport !== undefined) transport.#closing(code, reason.toString())
  }

  /** The server answered the upgrade with something else: its status and body say why (401, 426, ...). */
  static #wsRefused(this: NodeWebSocket, _request: ClientRequest, response: IncomingMessage): void {
    const transport = this[TRANSPORT]
    if (transport === undefined) return
    const protocols = transport.#request.protocols
    let body = ''
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => {
      if (body.length < MAX_ERROR_BODY) body += chunk
    })
    response.on('end', () => {
      const error = (transport.#handshakeError = errorFromHandshake(response.statusCode ?? 0, body, protocols))
      transport.errorListener(error)
      this.terminate()
    })
  }

  #attach(created: WebSocketLike): void {
    this.#socket = created
    created.binaryType = 'arraybuffer'
    created.onopen = () => this.#opening()
    created.onmessage = (event) => this.messageListener(event.data)
    created.onerror = (event) => this.#errored(event)
    created.onclose = (event) => this.#closing(event.code, event.reason)
  }

  #opening(): void {
    this.#opened = true
    this.openListener()
  }

  // A refused handshake closes as 1006; report the close the refusal stands for (4401, 4406) instead.
  #closing(code: number, reason: string): void {
    this.#finish(this.#handshakeError?.closeCode ?? code, this.#handshakeError?.message ?? reason)
  }

  #errored(event: { readonly message?: string; readonly error?: unknown }): void {
    if (this.#handshakeError !== undefined || this.#closed) return
    const message = `WebSocket error${event.message ? `: ${event.message}` : ''}`
    this.errorListener(new ParleyClientError('CONNECTION_FAILED', message, { cause: event.error }))
    // A failed handshake ends the attempt here: Node 20's global WebSocket reports a non-101 answer with an
    // error and never a close (it stays CONNECTING), where browsers send both.
    if (!this.#opened) {
      this.#finish(1006, message)
      try {
        this.#socket?.close()
      } catch {
        // Already failed; nothing to release.
      }
    }
  }
}
