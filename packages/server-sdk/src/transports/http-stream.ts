import { describeError } from '../logging.js'
import { takeRequests } from './request-takeover.js'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import { parseSubprotocol, randomId } from '@parley/protocol'
import type { Logger, RateLimit } from '../options.js'
import { TokenBucket } from '../rate-limiter.js'
import { BatchedWriter, FrameBytes, WriteTurn } from './batched-writes.js'
import type { Connection, Frame, Handshake, Refusal } from './connection.js'
import { sameSecret } from '../same-secret.js'
import { findToken } from './find-token.js'
import { nodeOfStream, type ForwardAnswer, type ForwardRequest } from './forwarding.js'

/** What the HTTP stream transport needs from the instance it serves. */
export interface HttpStreamHost {
  readonly path: string
  readonly maxPayload: number
  readonly tokenCookie: string | false
  readonly logger: Logger
  /** A comment line this often keeps proxies from closing an idle stream. */
  readonly keepaliveMs: number
  /** POSTs per stream (each may carry several frames; the frames also pass the session's own rate limits). */
  readonly postRate: RateLimit
  accept(connection: Connection, handshake: Handshake): Promise<unknown>
  /** This node's id, once the adapter is connected: the prefix of every stream id it hands out. */
  nodeId(): string | undefined
  /** A stream's secret; with `anywhere`, only when every node can derive it (see `Parley.streamSecret`). */
  streamSecret(stream: string, anywhere?: boolean): string | undefined
  /** Carries a POST for a stream of another node to that node, through the adapter. */
  forward(node: string, request: ForwardRequest): Promise<ForwardAnswer>
}

const WRONG_SECRET = { status: 403, body: { code: 'FORBIDDEN', message: 'Wrong stream secret' } } as const
const sse = (event: string, data: string): string => `event: ${event}\ndata: ${data}\n\n`

function answer(response: ServerResponse, status: number, body?: { code: string; message: string }, headers: Record<string, string> = {}): void {
  if (response.headersSent) return void response.end()
  const json = body === undefined ? '' : JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store', ...headers })
  response.end(json)
}

/** One session's stream: the server-sent events response, and what its POSTs bring in. */
class HttpStreamConnection extends BatchedWriter implements Connection {
  protocol = ''
  get transport(): string {
    return 'http-stream'
  }

  readonly #response: ServerResponse
  readonly #transport: HttpStreamTransport
  readonly id: string
  readonly posts: TokenBucket
  readonly #message: Array<(frame: string | Uint8Array) => void> = []
  readonly #pong: Array<() => void> = []
  readonly #close: Array<(code: number, reason: string) => void> = []
  #ended = false
  #open = false

  constructor(transport: HttpStreamTransport, response: ServerResponse, id: string) {
    super(response, transport.turn)
    this.#transport = transport
    this.#response = response
    this.id = id
    this.posts = new TokenBucket(transport.host.postRate, Date.now())
    // The client went away (or a proxy cut the stream): 1006, as a dropped socket would be.
    response.on('close', () => this.#finish(1006, ''))
  }

  get bufferedAmount(): number {
    return this.#response.writableLength + (this.#response.socket?.writableLength ?? 0)
  }

  refuse(refusal: Refusal): void {
    answer(this.#response, refusal.status, { ...refusal.body, code: refusal.body.code, message: refusal.body.message }, { ...refusal.headers })
  }

  open(protocol: string): boolean {
    const response = this.#response
    if (response.destroyed || this.#ended) return false
    this.protocol = protocol
    this.#open = true
    this.#transport.streams.set(this.id, this)
    // The stream is this connection's last response: sent without chunked encoding (the connection's end ends it),
    // so each event is one write of its own bytes, not three (chunk size, data, CRLF).
    response.useChunkedEncodingByDefault = false
    response.shouldKeepAlive = false
    // Headers that keep proxies (nginx, CDNs) from buffering or transforming the stream.
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    })
    // The secret is derived from the stream id (see `Parley.streamSecret`), so the stream need not keep it.
    response.write(sse('open', JSON.stringify({ stream: this.id, secret: this.#transport.host.streamSecret(this.id), protocol })))
    return true
  }

  send(frame: Frame): void {
    // Corked for the rest of the event-loop turn, as on WebSocket: a turn's events leave in one write.
    if (this.#open && !this.#ended) this.writeBatched(this.#transport.events.of(frame))
  }

  /** A comment line: no event for the client, but bytes on the wire for every proxy on the way. */
  keepalive(): void {
    if (this.#open && !this.#ended) this.#response.write(': keepalive\n\n')
  }

  close(code: number, reason: string): void {
    if (this.#ended) return
    if (!this.#open) return answer(this.#response, 503, { code: 'TRY_AGAIN_LATER', message: reason })
    // The close travels as the stream's last event, then the response ends.
    this.flush()
    this.#response.end(sse('close', JSON.stringify({ code, reason })))
    this.#finish(code, reason)
  }

  terminate(): void {
    this.flush()
    this.#response.destroy()
    this.#finish(1006, '')
  }

  ping(): void {
    // Answered by the client transport with an empty POST, which counts as a pong.
    if (this.#open && !this.#ended) this.#response.write('event: ping\ndata: 0\n\n')
  }

  /** Frames of a POST, in order, then its proof of life. */
  deliver(lines: readonly string[]): void {
    for (const listener of this.#pong) listener()
    for (const line of lines) for (const listener of this.#message) listener(line)
  }

  /** The client closed the stream (DELETE). */
  closedByClient(code: number): void {
    if (this.#ended) return
    this.#response.end()
    this.#finish(code, '')
  }

  #finish(code: number, reason: string): void {
    if (this.#ended) return
    this.#ended = true
    this.#transport.streams.delete(this.id)
    for (const listener of this.#close) listener(code, reason)
  }

  onMessage(listener: (frame: string | Uint8Array) => void): void {
    this.#message.push(listener)
  }

  onPong(listener: () => void): void {
    this.#pong.push(listener)
  }

  onDrain(listener: () => void): void {
    this.#response.on('drain', listener)
  }

  onClose(listener: (code: number, reason: string) => void): void {
    this.#close.push(listener)
  }
}

/** One transport instance: its open streams, the event text of each broadcast frame (made once), the keepalive timer. */
class HttpStreamTransport {
  readonly streams = new Map<string, HttpStreamConnection>()
  /** Each broadcast frame as a server-sent event (`data: <json>`; JSON text holds no raw newline), made once. */
  readonly events = new FrameBytes((frame) => Buffer.from(`data: ${frame.text}\n\n`, 'utf8'))
  readonly turn = new WriteTurn()

  constructor(readonly host: HttpStreamHost) {}
}

/**
 * The HTTP stream transport, for networks that break WebSocket upgrades: downstream a `text/event-stream`
 * response on `GET <path>` (standard server-sent events), upstream `POST <path>?stream=<id>` bodies of
 * newline-separated frames, bound to the stream by its secret. A POST may land on any node: one for a stream of
 * another node is forwarded through the adapter. Wire format: docs/protocol.md §2.8.
 */
export function attachHttpStreamTransport(server: HttpServer | HttpsServer, host: HttpStreamHost): { detach(): Promise<void>; forwarded(request: ForwardRequest): Promise<ForwardAnswer> } {
  const transport = new HttpStreamTransport(host)
  const maxBody = host.maxPayload * 16

  const openStream = (request: IncomingMessage, response: ServerResponse, url: URL): void => {
    const node = host.nodeId()
    if (node === undefined) return answer(response, 503, { code: 'TRY_AGAIN_LATER', message: 'Server is starting' }, { 'retry-after': '1' })
    const offered = url.searchParams.getAll('protocols').flatMap((value) => value.split(',')).map((entry) => entry.trim()).filter((entry) => parseSubprotocol(entry) !== undefined)
    const id = `${node}.${randomId(16)}`
    const connection = new HttpStreamConnection(transport, response, id)
    void host.accept(connection, {
      protocols: offered,
      token: findToken(request.headers, request.url, host.tokenCookie),
      headers: request.headers,
      url: request.url,
      remoteAddress: request.socket.remoteAddress,
    })
  }

  /** A POST or DELETE for a stream held by this node (directly, or forwarded by another). */
  /** `secretChecked`: this node checked the secret already, when the POST arrived (once is enough). */
  const handleLocal = (forward: ForwardRequest, secretChecked: boolean): ForwardAnswer => {
    const stream = transport.streams.get(forward.stream)
    if (stream === undefined) return { status: 404, body: { code: 'NOT_FOUND', message: 'No such stream: it expired or was never opened; open a new one' } }
    if (!secretChecked && !sameSecret(forward.secret, host.streamSecret(forward.stream) ?? '')) return WRONG_SECRET
    if (forward.kind === 'close') {
      stream.closedByClient(forward.code ?? 1000)
      return { status: 204 }
    }
    if (!stream.posts.take(Date.now())) return { status: 429, body: { code: 'RATE_LIMITED', message: 'Too many POSTs for this stream' } }
    stream.deliver(forward.lines)
    return { status: 204 }
  }

  const post = async (request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> => {
    const id = url.searchParams.get('stream') ?? ''
    const node = nodeOfStream(id)
    if (node === undefined) return answer(response, 404, { code: 'NOT_FOUND', message: 'Missing or malformed stream id' })
    const secret = request.headers['x-parley-secret']
    if (typeof secret !== 'string') return answer(response, 403, { code: 'FORBIDDEN', message: 'Missing X-Parley-Secret' })
    // Checked here, before the body is read or anything is forwarded, when every node can derive the secret.
    const expected = host.streamSecret(id, true)
    if (expected !== undefined && !sameSecret(secret, expected)) return answer(response, WRONG_SECRET.status, WRONG_SECRET.body)
    let lines: string[] = []
    if (request.method === 'POST') {
      const type = request.headers['content-type'] ?? ''
      if (!/^(application\/x-ndjson|text\/plain)\s*(;|$)/i.test(type)) {
        return answer(response, 415, { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send frames as Content-Type: text/plain, one per line' })
      }
      if (Number(request.headers['content-length'] ?? 0) > maxBody) return answer(response, 413, { code: 'PAYLOAD_TOO_LARGE', message: `At most ${maxBody} bytes per POST` })
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of request as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > maxBody) return answer(response, 413, { code: 'PAYLOAD_TOO_LARGE', message: `At most ${maxBody} bytes per POST` })
        chunks.push(chunk)
      }
      lines = Buffer.concat(chunks).toString('utf8').split('\n').filter((line) => line !== '')
    }
    // A client may close with 1000, 1001 or its own 4000-4999 (RFC 6455 §7.4); anything else is taken as 1000.
    const asked = Number(url.searchParams.get('code') ?? 1000)
    const code = asked === 1000 || asked === 1001 || (Number.isInteger(asked) && asked >= 4000 && asked <= 4999) ? asked : 1000
    const forward: ForwardRequest = { stream: id, secret, kind: request.method === 'DELETE' ? 'close' : 'frames', lines, ...(request.method === 'DELETE' ? { code } : {}) }
    const result = node === host.nodeId() ? handleLocal(forward, expected !== undefined) : await host.forward(node, forward)
    answer(response, result.status, result.body)
  }

  // Requests are taken before the app sees them (the app's listeners get every other request, unchanged).
  const taken = takeRequests(server, (request, response) => {
    // Node's parser accepts request targets the URL parser refuses (`//a:99999/`): those are not Parley's.
    const url = URL.canParse(request.url ?? '/', 'http://localhost') ? new URL(request.url ?? '/', 'http://localhost') : undefined
    if (url === undefined || url.pathname !== host.path || request.headers.upgrade !== undefined) return false
    const accept = request.headers.accept ?? ''
    if (request.method === 'GET' && accept.includes('text/event-stream')) {
      openStream(request, response, url)
      return true
    }
    if ((request.method === 'POST' || request.method === 'DELETE') && url.searchParams.has('stream')) {
      post(request, response, url).catch((error: unknown) => {
        host.logger.error({ event: 'transport.post-failed', transport: 'http-stream', error: describeError(error) }, 'parley: http stream POST failed')
        answer(response, 500, { code: 'INTERNAL_ERROR', message: 'Internal server error' })
      })
      return true
    }
    return false
  })
  const keepalive = setInterval(() => {
    for (const stream of transport.streams.values()) stream.keepalive()
  }, host.keepaliveMs)
  keepalive.unref()

  return {
    async detach() {
      clearInterval(keepalive)
      taken.release()
      for (const stream of [...transport.streams.values()]) stream.terminate()
    },
    async forwarded(request) {
      // From another node: checked again here, whatever the sender did.
      return handleLocal(request, false)
    },
  }
}
