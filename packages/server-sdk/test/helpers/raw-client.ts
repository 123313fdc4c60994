import type { IncomingMessage } from 'node:http'
import { decode, parseSubprotocol, type ClientMessage, type ServerMessage } from '@parley/protocol'
import WebSocket from 'ws'
import { MessageQueue } from './message-queue.js'

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>

/**
 * A queueing raw WebSocket client for tests: every frame is decoded with the protocol and queued, and tests pull
 * them in order with `next()`, or wait for the close with `closed`.
 */
export class RawClient {
  readonly ws: WebSocket
  readonly #queue = new MessageQueue()
  readonly received: ServerMessage[] = this.#queue.received
  readonly closed: Promise<{ code: number; reason: string }>
  /** How many binary frames arrived (protocol v2's messages with bytes). */
  binaryFrames = 0

  constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binaryFrames++
      const frame = isBinary ? new Uint8Array(data as Buffer) : String(data)
      // At the negotiated version: a binary frame on v1 is a server bug, and fails here.
      const result = decode(frame, { from: 'server', version: parseSubprotocol(ws.protocol)?.version ?? 1 })
      if (!result.ok) throw new Error(`server sent an invalid frame: ${result.error.message}: ${String(data)}`)
      this.#queue.push(result.message)
    })
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    ws.on('error', () => undefined)
  }

  send(message: ClientMessage | string | Uint8Array): void {
    this.ws.send(typeof message === 'string' || message instanceof Uint8Array ? message : JSON.stringify(message))
  }

  /** The next message not yet taken (optionally of a type, skipping others), within `timeoutMs`. */
  next<T extends ServerMessage['type']>(type?: T, timeoutMs = 3_000): Promise<Of<T>> {
    return this.#queue.next(type, timeoutMs)
  }

  /** Resolves with what arrived during `ms` (to show something was NOT sent). */
  quiet(ms = 100): Promise<ServerMessage[]> {
    return this.#queue.quiet(ms)
  }

  close(code = 1000, reason = ''): void {
    this.ws.close(code, reason)
  }
}

/** Opens a raw client and waits for `welcome`. */
export async function connect(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<RawClient> {
  const ws = new WebSocket(url, options.protocols ?? ['parley.v1.json'], { headers: options.headers ?? {} })
  const client = new RawClient(ws)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_request, response: IncomingMessage) => reject(new Error(`HTTP ${response.statusCode}`)))
    ws.once('error', reject)
  })
  return client
}

/** Tries a handshake that should be refused; resolves with the HTTP status and JSON body. */
export async function refusedHandshake(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: IncomingMessage['headers'] }> {
  const ws = new WebSocket(url, options.protocols ?? ['parley.v1.json'], { headers: options.headers ?? {} })
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate()
      reject(new Error('handshake was accepted'))
    })
    ws.once('unexpected-response', (_request, response: IncomingMessage) => {
      let text = ''
      response.on('data', (chunk: Buffer) => (text += chunk.toString()))
      response.on('end', () => {
        ws.terminate()
        resolve({ status: response.statusCode ?? 0, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: response.headers })
      })
    })
    ws.once('error', () => undefined)
  })
}
