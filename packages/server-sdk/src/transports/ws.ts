import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import {
  CloseCode,
  NEGOTIATE_SUBPROTOCOL,
  parseSubprotocol,
  parseSubprotocolHeader,
  SUBPROTOCOLS,
  unsupportedVersionReason,
} from '@parley/protocol'
import { WebSocketServer, type WebSocket } from 'ws'
import { findToken, type Admission } from '../handshake.js'
import type { Logger } from '../options.js'
import type { Connection, Frame, Handshake } from './connection.js'

/** What the WebSocket transport needs from the instance it serves. */
export interface WsTransportHost {
  readonly path: string
  readonly maxPayload: number
  readonly tokenCookie: string
  readonly logger: Logger
  /** Decides the handshake before the upgrade. */
  admit(handshake: Handshake): Promise<Admission>
  /** Repeats the capacity checks synchronously, right before the upgrade (see `Parley.recheck`). */
  recheck(admission: Admission & { ok: true }): Admission
  /** Takes an upgraded connection. */
  open(connection: Connection, handshake: Handshake, admission: Admission & { ok: true }): void
}

/** RFC 6455 §7.4: codes an endpoint may put in a close frame. */
function sendableCloseCode(code: number): number {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : 1011
}

/**
 * The parts of a `ws` 8 WebSocket this file reaches into, so that a broadcast is framed once and written as the same
 * bytes to every socket: the `net.Socket` underneath, the Sender's queue (non-empty only while it compresses or
 * reads a Blob, neither of which Parley does) and the negotiated extensions. If any of them looks different (another
 * `ws` version), {@link WsConnection} falls back to `WebSocket.send()`.
 */
interface WsInternals {
  readonly _socket?: (Duplex & { readonly writableCorked: number; readonly writableLength: number }) | null
  readonly _sender?: { readonly _state?: number; readonly _queue?: readonly unknown[] } | null
  readonly _extensions?: Readonly<Record<string, unknown>>
}

/** Bytes a connection holds corked before it writes them out anyway, so one tick's burst cannot pile up unseen. */
const FLUSH_BYTES = 16 * 1024

/**
 * A complete server-to-client text frame (RFC 6455 §5.2: FIN, opcode 1, no mask, 7/16/64-bit length) for a Frame,
 * built on first use and shared by every recipient. The last one is also kept outside the WeakMap, since a broadcast
 * asks for the same Frame once per member in a row.
 */
const wireFrames = new WeakMap<Frame, Buffer>()
let lastFrame: Frame | undefined
let lastWire: Buffer | undefined

function wireFrame(frame: Frame): Buffer {
  if (frame === lastFrame) return lastWire as Buffer
  let wire = wireFrames.get(frame)
  if (wire === undefined) {
    const length = frame.byteLength
    const header = length < 126 ? 2 : length < 65_536 ? 4 : 10
    wire = Buffer.allocUnsafe(header + length)
    wire[0] = 0x81
    if (header === 2) {
      wire[1] = length
    } else if (header === 4) {
      wire[1] = 126
      wire.writeUInt16BE(length, 2)
    } else {
      wire[1] = 127
      wire.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
      wire.writeUInt32BE(length >>> 0, 6)
    }
    // Straight from the text into the frame: no intermediate byte array per broadcast.
    wire.write(frame.text, header, length, 'utf8')
    wireFrames.set(frame, wire)
  }
  lastFrame = frame
  lastWire = wire
  return wire
}

/**
 * Writes are batched per socket for the rest of the event-loop turn: the first frame of a turn corks the socket and
 * every socket corked in the turn is uncorked in one `setImmediate`, so the frames a socket gets from several
 * broadcasts in one turn leave in one `writev` instead of one syscall each.
 */
let corked: WsConnection[] = []

function flushCorked(): void {
  const batch = corked
  corked = []
  for (const connection of batch) connection.flush()
}

class WsConnection implements Connection {
  readonly #socket: WebSocket
  /** The socket's own stream while its frames can be written directly; undefined means `ws.send()` for everything. */
  readonly #raw: WsInternals['_socket']
  #corked = false
  #queued = false
  #pending = 0

  constructor(socket: WebSocket) {
    this.#socket = socket
    const internals = socket as unknown as WsInternals
    const raw = internals._socket
    const direct = raw != null && typeof raw.cork === 'function' && typeof raw.writableCorked === 'number' &&
      Array.isArray(internals._sender?._queue) && internals._extensions !== undefined && Object.keys(internals._extensions).length === 0
    this.#raw = direct ? raw : undefined
  }

  get protocol(): string {
    return this.#socket.protocol
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount
  }

  send(frame: Frame): void {
    const socket = this.#socket
    if (socket.readyState !== socket.OPEN) return
    const raw = this.#raw
    const sender = (socket as unknown as WsInternals)._sender
    // Straight to the stream only while ws has nothing queued of its own, so frames keep their order.
    if (raw == null || raw.destroyed || sender?._state !== 0 || sender._queue?.length !== 0) {
      socket.send(frame.bytes, { binary: false })
      return
    }
    const wire = wireFrame(frame)
    if (!this.#corked) {
      raw.cork()
      this.#corked = true
      if (!this.#queued) {
        this.#queued = true
        if (corked.length === 0) setImmediate(flushCorked)
        corked.push(this)
      }
    }
    raw.write(wire)
    this.#pending += wire.byteLength
    if (this.#pending >= FLUSH_BYTES) this.#uncork()
  }

  /** End of the turn: write out what was corked. */
  flush(): void {
    this.#queued = false
    this.#uncork()
  }

  #uncork(): void {
    this.#pending = 0
    if (!this.#corked) return
    this.#corked = false
    this.#raw?.uncork()
  }

  close(code: number, reason: string): void {
    if (this.#socket.readyState === this.#socket.OPEN || this.#socket.readyState === this.#socket.CONNECTING) {
      this.#socket.close(sendableCloseCode(code), reason)
    }
  }

  terminate(): void {
    // What was sent before still goes out, as it did when every frame went to the kernel at once.
    this.#uncork()
    this.#socket.terminate()
  }

  ping(): void {
    if (this.#socket.readyState === this.#socket.OPEN) this.#socket.ping()
  }

  onMessage(listener: (frame: string | Uint8Array) => void): void {
    this.#socket.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
      // ws has checked the UTF-8 of text frames already (1007 otherwise).
      listener(isBinary ? bytes : bytes.toString('utf8'))
    })
  }

  onPong(listener: () => void): void {
    this.#socket.on('pong', listener)
  }

  onClose(listener: (code: number, reason: string) => void): void {
    // 'on', not 'once': a WebSocket emits 'close' once, and once() would add a wrapper per listener per connection.
    this.#socket.on('close', (code, reason) => listener(code, reason.toString('utf8')))
  }
}

function offersNegotiation(request: IncomingMessage): boolean {
  return parseSubprotocolHeader(request.headers['sec-websocket-protocol']).includes(NEGOTIATE_SUBPROTOCOL)
}

/** Answers an upgrade request in plain HTTP and closes the socket (the WebSocket never opens). */
function refuseUpgrade(socket: Duplex, status: number, body: object, headers: Readonly<Record<string, string>> = {}): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const json = JSON.stringify(body)
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ]
  socket.once('finish', () => socket.destroy())
  socket.end(`${lines.join('\r\n')}\r\n\r\n${json}`)
}

/** The path each Parley upgrade listener serves, so that instances sharing a server can tell paths nobody serves. */
const servedPaths = new WeakMap<(...args: never[]) => void, string>()

/**
 * The WebSocket transport: listens for upgrades on the user's server, answers refusals in HTTP before the upgrade
 * (401, 403, 426, 429, 503), and hands accepted sockets over as {@link Connection}s. Upgrades on other paths are
 * left to the server's other listeners; when there are none, they get a 404 rather than hanging.
 */
export function attachWebSocketTransport(server: HttpServer | HttpsServer, host: WsTransportHost): { detach(): Promise<void> } {
  for (const listener of server.listeners('upgrade')) {
    if (servedPaths.get(listener as (...args: never[]) => void) === host.path) {
      throw new TypeError(`Parley: option "path" must be free on this server, got "${host.path}" (another Parley instance serves it)`)
    }
  }
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: host.maxPayload,
    perMessageDeflate: false,
    clientTracking: false,
    // Select the negotiated entry; never the token entry (RFC 6455 §4.2.2: the server picks one of the offered).
    handleProtocols: (protocols: Set<string>, request: IncomingMessage) => (request as IncomingMessage & { parleyProtocol?: string }).parleyProtocol ?? false,
  })
  const sockets = new Set<WebSocket>()
  // Listeners shared by every connection: a closure made inside `onUpgrade` would keep that call's whole scope (the
  // upgrade request with its headers) alive for as long as the connection lives.
  const onUpgradeSocketError = (error: unknown): void => host.logger.debug('parley: upgrade socket error', error)
  const onSocketError = (error: unknown): void => host.logger.debug('parley: socket error', error)
  function untrack(this: WebSocket): void {
    sockets.delete(this)
  }

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname
    if (pathname !== host.path) {
      // Nobody else will answer when every upgrade listener is a Parley instance on another path: the last one
      // answers 404 rather than leave the socket hanging. Any foreign listener may take the request, so then we stay out.
      const listeners = server.listeners('upgrade') as Array<(...args: never[]) => void>
      if (listeners.at(-1) === onUpgrade && listeners.every((listener) => {
        const served = servedPaths.get(listener)
        return served !== undefined && served !== pathname
      })) {
        refuseUpgrade(socket, 404, { code: 'NOT_FOUND', message: `No WebSocket endpoint at ${pathname}` })
      }
      return
    }
    socket.on('error', onUpgradeSocketError)
    const offered = parseSubprotocolHeader(request.headers['sec-websocket-protocol']).filter((entry) => parseSubprotocol(entry) !== undefined)
    const handshake: Handshake = {
      protocols: offered,
      token: findToken(request, host.tokenCookie),
      request,
      remoteAddress: request.socket.remoteAddress,
    }
    host.admit(handshake).then(
      (admission) => {
        if (!admission.ok) {
          if (admission.closeCode === CloseCode.UnsupportedVersion && offersNegotiation(request) && !socket.destroyed) {
            // Browsers cannot read a 426: upgrade on the negotiation entry, then say in a 4406 what this server speaks.
            ;(request as IncomingMessage & { parleyProtocol?: string }).parleyProtocol = NEGOTIATE_SUBPROTOCOL
            wss.handleUpgrade(request, socket, head, (ws) => {
              ws.on('error', (error) => host.logger.debug('parley: socket error', error))
              ws.close(CloseCode.UnsupportedVersion, unsupportedVersionReason(SUBPROTOCOLS))
            })
            return
          }
          refuseUpgrade(socket, admission.status, admission.body, admission.headers)
          return
        }
        if (socket.destroyed) return
        // handleUpgrade opens the session in this same tick, so this decision cannot be raced.
        const final = host.recheck(admission)
        if (!final.ok) {
          refuseUpgrade(socket, final.status, final.body, final.headers)
          return
        }
        ;(request as IncomingMessage & { parleyProtocol?: string }).parleyProtocol = admission.protocol
        wss.handleUpgrade(request, socket, head, (ws) => {
          sockets.add(ws)
          ws.on('error', onSocketError)
          ws.on('close', untrack)
          host.open(new WsConnection(ws), handshake, admission)
        })
      },
      (error: unknown) => {
        host.logger.error('parley: handshake failed', error)
        refuseUpgrade(socket, 500, { code: 'INTERNAL_ERROR', message: 'Internal server error' })
      },
    )
  }
  servedPaths.set(onUpgrade, host.path)
  server.on('upgrade', onUpgrade)

  return {
    async detach() {
      server.off('upgrade', onUpgrade)
      for (const ws of sockets) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}
