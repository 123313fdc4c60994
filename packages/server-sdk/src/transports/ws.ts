import { describeError } from '../logging.js'
import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import { CloseCode, NEGOTIATE_SUBPROTOCOL, parseSubprotocolHeader, unsupportedVersionReason } from '@parley/protocol'
import { constants as zlibConstants, deflateRawSync } from 'node:zlib'
import * as wsModule from 'ws'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { CompressionOptions, Logger } from '../options.js'
import type { CompressionCounters } from '../stats.js'
import { optionError } from '../server-error.js'
import { BatchedWriter, FrameBytes, WriteTurn } from './batched-writes.js'
import type { Connection, ConnectionReceiver, Frame, Handshake, Refusal } from './connection.js'
import { findToken } from './find-token.js'
import { OfferedVersions } from './offered-versions.js'
import { BINARY_OPCODE, TEXT_OPCODE, bytesWireFrame, partsWireFrame, textWireFrame } from './websocket-frame.js'

/** What the WebSocket transport needs from the instance it serves. */
export interface WsTransportHost {
  readonly path: string
  readonly maxPayload: number
  readonly tokenCookie: string | false
  readonly logger: Logger
  /** The subprotocols the server speaks, named in a 4406 to a client that offered none of them. */
  readonly protocols: readonly string[]
  /** permessage-deflate's settings; undefined when compression is off. */
  readonly compression?: Required<CompressionOptions> | undefined
  /** Where the compression figures go (for `stats()`). */
  readonly compressionCounters?: CompressionCounters | undefined
  /** The one way in: decides the handshake, then refuses or opens the connection (see `Parley.accept`). */
  accept(connection: Connection, handshake: Handshake): Promise<unknown>
}

/**
 * ws's extension header parser and permessage-deflate negotiator: exported by `ws` but not described by `@types/ws`.
 */
const { extension, PerMessageDeflate } = wsModule as unknown as {
  extension: { parse(header: string): Record<string, unknown[]> }
  PerMessageDeflate: new (options: object) => { accept(offers: unknown[]): unknown }
}

/** The server's permessage-deflate terms, for ws's negotiation and for the dry run before it. */
const DEFLATE_TERMS = { serverNoContextTakeover: true }

/**
 * RFC 7692 §5: an offer the server cannot accept is declined, and the connection goes on without the extension. ws
 * instead fails the whole upgrade with 400 on an offer it cannot parse or accept (`server_max_window_bits` without a
 * value, an unknown parameter), after `authenticate` has run: so the same negotiation is tried first, and a header
 * it would fail on is dropped from the request before ws sees it.
 */
function declineUnacceptableOffer(request: IncomingMessage, maxPayload: number): void {
  const header = request.headers['sec-websocket-extensions']
  if (header === undefined) return
  try {
    const offers = extension.parse(header)['permessage-deflate']
    // As ws's server builds it for the upgrade (websocket-server.js), so the dry run accepts exactly what ws will.
    if (offers !== undefined) new PerMessageDeflate({ ...DEFLATE_TERMS, isServer: true, maxPayload }).accept(offers)
  } catch {
    delete request.headers['sec-websocket-extensions']
  }
}

/** RFC 7692 §7.2.1: a message compressed with a sync flush ends in these 4 bytes, which are left off the wire. */
const DEFLATE_TAIL = 4

/** A frame's complete WebSocket frame, uncompressed: its text encoded into place, or its binary payload. */
function plainWireFrame(frame: Frame): Buffer {
  const binary = frame.binary
  if (binary !== undefined) return bytesWireFrame([binary], BINARY_OPCODE, false)
  const parts = frame.utf8Parts
  return parts === undefined ? textWireFrame(frame.text, frame.byteLength) : partsWireFrame(parts, frame.byteLength)
}

/** A frame's payload: its UTF-8 text, or a binary frame's bytes (not copied). */
function payloadOf(frame: Frame): Buffer {
  const binary = frame.binary
  return binary === undefined ? Buffer.from(frame.text, 'utf8') : Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength)
}

/**
 * RFC 7692 with no server context takeover: every message is compressed on its own, so one compressed frame is valid
 * for every connection that negotiated the same window (`server_max_window_bits`, 15 unless the client asked for
 * less). A broadcast is compressed once per window size in use, which is once: browsers and ws never ask for less.
 * Under 9 bits zlib cannot promise the window, so such a connection gets plain frames (RFC 7692 lets a sender
 * leave any message uncompressed).
 */
const DEFAULT_WINDOW_BITS = 15
const MIN_WINDOW_BITS = 9

/** The `server_max_window_bits` of a permessage-deflate response header line (15 when absent). */
function serverWindowBits(headers: readonly string[]): number {
  const line = headers.find((header) => /^sec-websocket-extensions:/i.test(header))
  const bits = line === undefined ? undefined : /server_max_window_bits=(\d+)/.exec(line)?.[1]
  return bits === undefined ? DEFAULT_WINDOW_BITS : Number(bits)
}

/** An inbound WebSocket message as a Parley frame: text as a string (ws has checked its UTF-8: 1007 otherwise), binary as bytes. */
function frameOf(data: RawData, isBinary: boolean): string | Uint8Array {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
  return isBinary ? bytes : bytes.toString('utf8')
}

/** RFC 6455 §7.4: codes an endpoint may put in a close frame. */
function sendableCloseCode(code: number): number {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : 1011
}

/** Marks an upgrade listener with the path it serves, so instances sharing a server can tell paths nobody serves. */
const SERVED_PATH = Symbol.for('parley.ws.servedPath')
type UpgradeListener = ((request: IncomingMessage, socket: Duplex, head: Buffer) => void) & { [SERVED_PATH]?: string }

/**
 * The path of a request target. The target a client sends for `path` itself (`/parley`, `/parley?token=…`) is
 * recognised without the URL parser when `path` is one the parser gives back unchanged (`plainPath`, decided once
 * per transport); anything else goes through it (dot segments, percent-encoding, absolute forms). Node's parser
 * accepts targets the URL parser refuses (`//a:99999/`): no path of ours, then.
 */
export function pathnameOf(url: string, path: string, plainPath: boolean): string {
  if (plainPath && url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63 /* ? */)) return path
  return URL.canParse(url, 'http://localhost') ? new URL(url, 'http://localhost').pathname : ''
}

/** Whether the URL parser reads `path` as itself, so a target equal to it needs no parsing. */
export function isPlainPath(path: string): boolean {
  return URL.canParse(path, 'http://localhost') && new URL(path, 'http://localhost').pathname === path
}

/** Answers an upgrade request in plain HTTP and closes the socket (the WebSocket never opens). */
function refuseUpgrade(socket: Duplex, status: number, body: object, headers: Readonly<Record<string, string>> = {}): void {
  if (!socket.writable) return void socket.destroy()
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

/**
 * One transport instance's shared state: its server of upgrades, the subprotocol chosen for each pending upgrade,
 * the wire form of each broadcast frame (built once, written to every recipient), and the sockets corked this turn.
 */
class WsTransport {
  readonly chosen = new WeakMap<IncomingMessage, string>()
  /** Each open socket's connection: how the listeners below, shared by every socket, find theirs (`this`). */
  readonly connections = new Map<WebSocket, WsConnection>()
  readonly wss: WebSocketServer
  // Shared by every socket, so a connection holds no closure of its own for them (ws calls them with the socket).
  readonly onClose: (this: WebSocket, code: number, reason: Buffer) => void
  readonly onMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void
  readonly onPong: (this: WebSocket) => void
  /** The complete WebSocket frame of each broadcast (header + payload in one buffer, websocket-frame.ts). */
  readonly frames = new FrameBytes(plainWireFrame)
  /**
   * By window size, the frames for connections that negotiated permessage-deflate: compressed once per broadcast,
   * or the plain frame when it is under the threshold or would not shrink.
   */
  readonly #deflated = new Map<number, FrameBytes>()
  /** The window each pending upgrade's response granted, read off the response headers ws is about to send. */
  readonly windowBits = new WeakMap<IncomingMessage, number>()
  readonly turn = new WriteTurn()
  readonly onSocketError: (error: unknown) => void

  constructor(readonly host: WsTransportHost) {
    const compression = host.compression
    this.wss = new WebSocketServer({
      noServer: true,
      // Also the bound on inflating a compressed frame: ws stops at it and closes 1009, however small the frame was.
      maxPayload: host.maxPayload,
      // ws negotiates and inflates what clients send; Parley builds its own compressed frames (never ws.send), so ws
      // keeps no deflate stream per connection: the per-socket memory Socket.IO's users ran into.
      perMessageDeflate: compression === undefined ? false : DEFLATE_TERMS,
      clientTracking: false,
      // Select the decided entry; never the token entry (RFC 6455 §4.2.2: the server picks one of the offered).
      handleProtocols: (_offered: Set<string>, request: IncomingMessage) => this.chosen.get(request) ?? false,
    })
    if (compression !== undefined) this.wss.on('headers', (headers, request) => this.windowBits.set(request, serverWindowBits(headers)))
    this.onSocketError = (error) => host.logger.debug({ event: 'transport.socket-error', transport: 'websocket', error: describeError(error) }, 'parley: socket error')
    const connections = this.connections
    this.onClose = function onClose(this: WebSocket, code: number, reason: Buffer) {
      const connection = connections.get(this)
      connections.delete(this)
      connection?.closed(code, reason)
    }
    this.onMessage = function onMessage(this: WebSocket, data: RawData, isBinary: boolean) {
      connections.get(this)?.received(data, isBinary)
    }
    this.onPong = function onPong(this: WebSocket) {
      connections.get(this)?.ponged()
    }
  }

  /**
   * Upgrades on `protocol`: the one way both ends of a connection's handshake (open, and the negotiation-only 4406)
   * reach ws, so an extension offer ws would fail with 400 is declined first, whichever end it is.
   */
  upgrade(request: IncomingMessage, protocol: string, socket: Duplex, head: Buffer, done: (ws: WebSocket) => void): void {
    this.chosen.set(request, protocol)
    if (this.host.compression !== undefined) declineUnacceptableOffer(request, this.host.maxPayload)
    this.wss.handleUpgrade(request, socket, head, done)
  }

  /** The Parley subprotocols each handshake's `Sec-WebSocket-Protocol` header offers. */
  readonly offeredVersions = new OfferedVersions()

  /** The frames for a connection whose permessage-deflate response granted `windowBits`. */
  deflatedFor(windowBits: number): FrameBytes {
    const compression = this.host.compression
    if (compression === undefined || windowBits < MIN_WINDOW_BITS) return this.frames
    let frames = this.#deflated.get(windowBits)
    if (frames === undefined) {
      frames = new FrameBytes((frame) => this.#deflate(frame, compression, windowBits))
      this.#deflated.set(windowBits, frames)
    }
    return frames
  }

  #deflate(frame: Frame, compression: Required<CompressionOptions>, windowBits: number): Buffer {
    if (frame.byteLength < compression.threshold) return this.frames.of(frame)
    const payload = payloadOf(frame)
    let compressed: Buffer
    try {
      compressed = deflateRawSync(payload, { level: compression.level, windowBits, finishFlush: zlibConstants.Z_SYNC_FLUSH })
    } catch {
      // zlib out of memory, say: `send` never throws, so this frame goes plain and the broadcast goes on.
      return this.frames.of(frame)
    }
    const size = compressed.byteLength - DEFLATE_TAIL
    if (size >= payload.byteLength) return this.frames.of(frame)
    const counters = this.host.compressionCounters
    if (counters !== undefined) {
      counters.frames++
      counters.bytesBefore += payload.byteLength
      counters.bytesAfter += size
    }
    return bytesWireFrame([compressed.subarray(0, size)], frame.binary === undefined ? TEXT_OPCODE : BINARY_OPCODE, true)
  }
}

/** A WebSocket connection: before `open`, an upgrade request Parley may still refuse in HTTP; after, the socket. */
class WsConnection extends BatchedWriter implements Connection {
  #ws: WebSocket | undefined
  /** The upgrade request and its first bytes: let go once answered, so a session does not keep its headers alive. */
  #request: IncomingMessage | undefined
  readonly #socket: Duplex
  #head: Buffer | undefined
  readonly #transport: WsTransport
  /** The frames this connection gets: compressed ones when it negotiated permessage-deflate. */
  #frames: FrameBytes
  /** Where frames, pongs and the close go, once the hub asked (`receiveWith`). */
  #receiver: ConnectionReceiver | undefined
  constructor(transport: WsTransport, request: IncomingMessage, socket: Duplex, head: Buffer) {
    super(socket, transport.turn)
    this.#transport = transport
    this.#request = request
    this.#socket = socket
    this.#head = head
    this.#frames = transport.frames
  }

  get transport(): string {
    return 'websocket'
  }

  get protocol(): string {
    return this.#ws?.protocol ?? ''
  }

  /** WebSocket carries binary frames: a v2 session gets a message with bytes as one. */
  get binary(): boolean {
    return true
  }

  get bufferedAmount(): number {
    // Every byte Parley and ws write goes to this one socket: ws's Sender queues only while it compresses a send of
    // its own, and Parley never calls ws.send (it writes frames it built, compressed or not, to the socket).
    return this.#socket.writableLength
  }

  refuse(refusal: Refusal): void {
    const request = this.#request
    const head = this.#head
    this.#request = this.#head = undefined
    if (request === undefined || head === undefined) return
    const offered = parseSubprotocolHeader(request.headers['sec-websocket-protocol'])
    if (refusal.closeCode === CloseCode.UnsupportedVersion && offered.includes(NEGOTIATE_SUBPROTOCOL) && !this.#socket.destroyed) {
      // Browsers cannot read a 426: upgrade on the negotiation entry, then say in a 4406 what this server speaks.
      this.#transport.upgrade(request, NEGOTIATE_SUBPROTOCOL, this.#socket, head, (ws) => {
        ws.on('error', this.#transport.onSocketError)
        ws.close(CloseCode.UnsupportedVersion, unsupportedVersionReason(this.#transport.host.protocols))
      })
      return
    }
    refuseUpgrade(this.#socket, refusal.status, refusal.body, refusal.headers)
  }

  open(protocol: string): boolean {
    const request = this.#request
    const head = this.#head
    this.#request = this.#head = undefined
    if (request === undefined || head === undefined || this.#socket.destroyed) return false
    const transport = this.#transport
    // The `101` ws writes and the `welcome` the session sends next leave in one write at the end of the turn.
    this.holdTurn()
    // The upgrade completes synchronously (no verifyClient), so the session opens in this same tick.
    transport.upgrade(request, protocol, this.#socket, head, (ws) => {
      this.#ws = ws
      if (ws.extensions.includes('permessage-deflate')) this.#frames = transport.deflatedFor(transport.windowBits.get(request) ?? DEFAULT_WINDOW_BITS)
      transport.connections.set(ws, this)
      ws.on('error', transport.onSocketError)
      ws.on('close', transport.onClose)
    })
    return this.#ws !== undefined
  }

  send(frame: Frame): void {
    const socket = this.#socket
    if (this.#ws?.readyState !== 1 || socket.destroyed) return
    this.writeBatched(this.#frames.of(frame))
  }

  close(code: number, reason: string): void {
    const ws = this.#ws
    if (ws === undefined) return refuseUpgrade(this.#socket, 503, { code: 'TRY_AGAIN_LATER', message: reason })
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(sendableCloseCode(code), reason)
  }

  terminate(): void {
    // What was sent before still goes out, as it did when every frame went to the kernel at once.
    this.flush()
    if (this.#ws !== undefined) this.#ws.terminate()
    else this.#socket.destroy()
  }

  ping(): void {
    if (this.#ws?.readyState === 1) this.#ws.ping()
  }

  onMessage(listener: (frame: string | Uint8Array) => void): void {
    this.#ws?.on('message', (data, isBinary) => listener(frameOf(data, isBinary)))
  }

  receiveWith(receiver: ConnectionReceiver): void {
    const ws = this.#ws
    if (ws === undefined) return
    this.#receiver = receiver
    ws.on('message', this.#transport.onMessage)
    ws.on('pong', this.#transport.onPong)
  }

  /** A frame through the transport's shared listener. */
  received(data: RawData, isBinary: boolean): void {
    this.#receiver?.receiveFrame(frameOf(data, isBinary))
  }

  ponged(): void {
    this.#receiver?.receivePong()
  }

  closed(code: number, reason: Buffer): void {
    this.#receiver?.receiveClose(code, reason.toString('utf8'))
  }

  onPong(listener: () => void): void {
    this.#ws?.on('pong', listener)
  }

  onDrain(listener: () => void): void {
    this.#socket.on('drain', listener)
  }

  onClose(listener: (code: number, reason: string) => void): void {
    // 'on', not 'once': a WebSocket emits 'close' once, and once() would add a wrapper per listener per connection.
    this.#ws?.on('close', (code, reason) => listener(code, reason.toString('utf8')))
  }
}

/**
 * The WebSocket transport: listens for upgrades on the user's server, hands each one to `accept` as a pending
 * {@link Connection} (refused in HTTP before the upgrade: 401, 403, 426, 429, 503; or opened), and leaves upgrades on
 * other paths to the server's other listeners; when there are none, they get a 404 rather than hanging.
 */
export function attachWebSocketTransport(server: HttpServer | HttpsServer, host: WsTransportHost): { detach(): Promise<void> } {
  const listeners = (): UpgradeListener[] => server.listeners('upgrade') as UpgradeListener[]
  if (listeners().some((listener) => listener[SERVED_PATH] === host.path)) {
    throw optionError(`Parley: option "path" must be free on this server, got "${host.path}" (another Parley instance serves it)`)
  }
  const transport = new WsTransport(host)
  const plainPath = isPlainPath(host.path)
  const onUpgradeSocketError = (error: unknown): void => host.logger.debug({ event: 'transport.socket-error', transport: 'websocket', phase: 'upgrade', error: describeError(error) }, 'parley: upgrade socket error')

  const onUpgrade: UpgradeListener = (request, socket, head) => {
    const pathname = pathnameOf(request.url ?? '/', host.path, plainPath)
    if (pathname !== host.path) {
      // Nobody else will answer when every upgrade listener is a Parley instance on another path: the last one
      // answers 404 rather than leave the socket hanging. Any foreign listener may take the request, so then we stay out.
      const all = listeners()
      if (all.at(-1) === onUpgrade && all.every((listener) => listener[SERVED_PATH] !== undefined && listener[SERVED_PATH] !== pathname)) {
        refuseUpgrade(socket, 404, { code: 'NOT_FOUND', message: `No WebSocket endpoint at ${pathname}` })
      }
      return
    }
    socket.on('error', onUpgradeSocketError)
    const { headers } = request
    void host.accept(new WsConnection(transport, request, socket, head), {
      protocols: transport.offeredVersions.read(headers['sec-websocket-protocol']),
      token: findToken(headers, request.url, host.tokenCookie),
      headers,
      url: request.url,
      remoteAddress: request.socket.remoteAddress,
    })
  }
  onUpgrade[SERVED_PATH] = host.path
  server.on('upgrade', onUpgrade)

  return {
    async detach() {
      server.off('upgrade', onUpgrade)
      for (const ws of transport.connections.keys()) ws.terminate()
      await new Promise<void>((resolve) => transport.wss.close(() => resolve()))
    },
  }
}
