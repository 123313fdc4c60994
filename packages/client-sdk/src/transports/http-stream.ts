import { limitCloseReason } from '@parley/protocol'
import { ParleyClientError, errorFromHandshake } from '../client-error.js'
import type { ClientTransport, TransportFactory } from './transport.js'

/** Options of {@link httpStreamTransport}. */
export interface HttpStreamTransportOptions {
  /** The fetch to use. @default the global `fetch` */
  readonly fetch?: typeof fetch | undefined
  /** Extra request headers (Node only: browsers forbid some, and cookies go along by themselves). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

const MAX_ERROR_BODY = 4_096
/**
 * Frames per POST at most. Every frame is at most the server's `maxPayload` (the client checks that before it sends),
 * and the server takes POSTs of up to 16 × `maxPayload`, so a POST of 16 frames always fits.
 */
const MAX_FRAMES_PER_POST = 16
/** How long to wait before sending a batch again that the server rate-limited (429). */
const RATE_LIMITED_RETRY_MS = 250

/** One server-sent event: its name (`message` when unnamed) and its data lines, joined. */
export interface StreamEvent {
  readonly event: string
  readonly data: string
}

/**
 * Splits received text into complete server-sent events and what is left of an incomplete one. Comment lines
 * (`: keepalive`) are for proxies and yield nothing, nor does an event without data.
 */
export function parseEvents(text: string): { events: StreamEvent[]; rest: string } {
  const events: StreamEvent[] = []
  let start = 0
  let end: number
  while ((end = text.indexOf('\n\n', start)) >= 0) {
    let event = 'message'
    const data: string[] = []
    for (const line of text.slice(start, end).split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7)
      else if (line.startsWith('data: ')) data.push(line.slice(6))
    }
    if (data.length > 0) events.push({ event, data: data.join('\n') })
    start = end + 2
  }
  return { events, rest: text.slice(start) }
}

/** `ws(s)://host/path` → `http(s)://host/path`; http(s) URLs stay as they are. */
export function httpUrlOf(url: string): URL {
  const parsed = new URL(url)
  if (parsed.protocol === 'ws:') parsed.protocol = 'http:'
  else if (parsed.protocol === 'wss:') parsed.protocol = 'https:'
  return parsed
}

/**
 * The HTTP stream transport, for networks that break WebSocket upgrades: a `fetch` of the endpoint with
 * `Accept: text/event-stream` reads server-sent events (frames down), and frames go up as POSTs of newline-separated
 * frames, one POST at a time so they arrive in order, bound to the stream by the secret its first event carried.
 * The token travels as `Authorization: Bearer`, so refusals are read as on `ws` (401 → `AuthError`, 426 →
 * `UnsupportedProtocolError`). Wire format: docs/protocol.md §2.8.
 */
export function httpStreamTransport(options: HttpStreamTransportOptions = {}): TransportFactory {
  return (request) => {
    const doFetch = options.fetch ?? globalThis.fetch
    const abort = new AbortController()
    const on = {
      open: (): void => undefined,
      message: (_frame: unknown): void => undefined,
      close: (_code: number, _reason: string): void => undefined,
      error: (_error: unknown): void => undefined,
    }
    let protocol = ''
    let stream: string | undefined
    let secret: string | undefined
    let closed = false
    let queue: string[] = []
    let queuedBytes = 0
    let posting = false
    const base = httpUrlOf(request.url)

    const finish = (code: number, reason: string): void => {
      if (closed) return
      closed = true
      abort.abort()
      on.close(code, reason)
    }
    const fail = (error: ParleyClientError): void => {
      if (closed) return
      on.error(error)
      finish(error.closeCode ?? 1006, error.message)
    }
    const streamUrl = (extra: Record<string, string> = {}): string => {
      const url = new URL(base)
      url.searchParams.set('stream', stream as string)
      for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value)
      return url.toString()
    }

    /** Sends what is queued, one POST at a time, so frames arrive in the order they were sent. */
    const flush = async (pong = false): Promise<void> => {
      if (posting || closed || stream === undefined || (queue.length === 0 && !pong)) return
      posting = true
      let retry = false
      const batch = queue.slice(0, MAX_FRAMES_PER_POST)
      queue = queue.slice(batch.length)
      const batchBytes = batch.reduce((sum, frame) => sum + frame.length, 0)
      queuedBytes -= batchBytes
      try {
        const response = await doFetch(streamUrl(), {
          method: 'POST',
          headers: { 'content-type': 'text/plain;charset=UTF-8', 'x-parley-secret': secret as string, ...options.headers },
          body: batch.join('\n'),
          signal: abort.signal,
        })
        if (response.status === 429) {
          // Too many POSTs for now: the batch goes back to the front, and is sent again shortly, in order.
          queue = [...batch, ...queue]
          queuedBytes += batchBytes
          await response.text().catch(() => '')
          await new Promise((resolve) => setTimeout(resolve, RATE_LIMITED_RETRY_MS))
          retry = true
        } else if (!response.ok) {
          const text = await response.text().catch(() => '')
          // The stream is gone (its node restarted, or it expired): the connection is lost, and recovery takes over.
          fail(new ParleyClientError('CONNECTION_FAILED', `POST refused with HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`, { status: response.status, closeCode: 1006 }))
          return
        }
      } catch (error) {
        fail(new ParleyClientError('CONNECTION_FAILED', 'POST failed', { cause: error, closeCode: 1006 }))
        return
      } finally {
        posting = false
      }
      if (retry) return void flush(pong)
      if (queue.length > 0) void flush()
    }

    /** One server-sent event: `open` (stream, secret, protocol), a frame (no event name), `ping`, or `close`. */
    const dispatch = (event: string, data: string): void => {
      if (event === 'open') {
        const opened = JSON.parse(data) as { stream?: unknown; secret?: unknown; protocol?: unknown }
        if (typeof opened.stream !== 'string' || typeof opened.secret !== 'string' || typeof opened.protocol !== 'string') {
          return fail(new ParleyClientError('CONNECTION_FAILED', 'The stream did not open as a Parley stream'))
        }
        stream = opened.stream
        secret = opened.secret
        protocol = opened.protocol
        on.open()
        void flush()
      } else if (event === 'ping') {
        void flush(true)
      } else if (event === 'close') {
        const { code, reason } = JSON.parse(data) as { code?: unknown; reason?: unknown }
        finish(typeof code === 'number' ? code : 1006, typeof reason === 'string' ? reason : '')
      } else if (event === 'message' && stream !== undefined) {
        on.message(data)
      }
    }

    const read = async (): Promise<void> => {
      const url = new URL(base)
      url.searchParams.set('protocols', request.protocols.join(','))
      const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers }
      if (request.token !== undefined) headers['authorization'] = `Bearer ${request.token}`
      const response = await doFetch(url.toString(), { headers, signal: abort.signal, cache: 'no-store' })
      if (response.status !== 200 || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream') || response.body === null) {
        const text = (await response.text().catch(() => '')).slice(0, MAX_ERROR_BODY)
        return fail(errorFromHandshake(response.status === 200 ? 502 : response.status, text, request.protocols))
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        const parsed = parseEvents(buffer + value)
        buffer = parsed.rest
        for (const { event, data } of parsed.events) {
          dispatch(event, data)
          if (closed) return
        }
      }
      finish(1006, 'stream ended')
    }

    queueMicrotask(() => {
      read().catch((error: unknown) => {
        // fetch says only "fetch failed"; the system's reason (ECONNREFUSED, ENOTFOUND, a TLS error) is in its cause.
        const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause
        const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : error instanceof Error ? error.message : String(error)
        if (!closed) fail(new ParleyClientError('CONNECTION_FAILED', `Cannot open an HTTP stream to ${base.toString()}: ${why}`, { cause: error, closeCode: 1006 }))
      })
    })

    const transport: ClientTransport = {
      name: 'http-stream',
      get protocol() {
        return protocol
      },
      get bufferedAmount() {
        return queuedBytes
      },
      send(frame) {
        // Text only (`binary` is not set): the client sends a message with bytes here in its text form, base64.
        if (closed || stream === undefined || typeof frame !== 'string') return
        queue.push(frame)
        queuedBytes += frame.length
        void flush()
      },
      close(code, reason) {
        if (closed) return
        const wasOpen = stream !== undefined
        if (wasOpen) {
          // Tell the server (it would otherwise wait for the stream to drop); not awaited.
          void doFetch(streamUrl({ code: String(code) }), { method: 'DELETE', headers: { 'x-parley-secret': secret as string, ...options.headers } }).catch(() => undefined)
        }
        queueMicrotask(() => finish(code, limitCloseReason(reason)))
      },
      onOpen: (listener) => void (on.open = listener),
      onMessage: (listener) => void (on.message = listener),
      onClose: (listener) => void (on.close = listener),
      onError: (listener) => void (on.error = listener),
    }
    return transport
  }
}
