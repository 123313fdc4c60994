import type { IncomingMessage, ServerResponse } from 'node:http'
import { base64ToBytes, bytesToBase64, isErrorCode, ProtocolError, type JsonValue } from '@parley/protocol'
import type { ControlReport } from './control.js'
import { OPENAPI_DOCUMENT } from './http-api-spec.js'
import type { Parley } from './parley.js'
import { sameSecret } from './same-secret.js'
import { optionError, ParleyServerError, toParleyError } from './server-error.js'

/** Options of {@link parleyApi}. */
export interface HttpApiOptions {
  /** The bearer key callers must send (`Authorization: Bearer <key>`). */
  readonly key?: string
  /** Several keys, all accepted: add the new one, move callers over, then drop the old one. */
  readonly keys?: readonly string[]
  /** Largest request body, in bytes (413 past it). @default 1_048_576 */
  readonly maxBodyBytes?: number
  /**
   * A path prefix to strip before routing, for plain `http` (`basePath: '/parley-api'`). Express's `app.use(path,
   * handler)` strips its mount path itself. @default ''
   */
  readonly basePath?: string
}

/** The request handler: Express (`app.use('/parley-api', handler)`), plain `http`, or Koa through `ctx.req`/`ctx.res`. */
export type HttpApiHandler = (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void) => void

/** The JSON body of every error answer. `field` names the offending field of a 400. */
export interface HttpApiError {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string }
}

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message)
  }
}

const invalid = (field: string, message: string): ApiError => new ApiError(400, 'INVALID_FIELD', `${field}: ${message}`, field)

/** Status codes of the errors the API answers with. */
function statusOf(error: ParleyServerError): number {
  switch (error.code) {
    case 'PAYLOAD_TOO_LARGE':
      return 413
    case 'CLOSED':
    case 'TRY_AGAIN_LATER':
    case 'HISTORY_UNAVAILABLE':
      return 503
    case 'INTERNAL_ERROR':
      return 500
    default:
      return 400
  }
}

/** A body's fields, refusing what is not an object and fields the route does not know (typos fail loudly). */
function fieldsOf(body: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'INVALID_JSON', 'The body must be a JSON object')
  for (const key of Object.keys(body)) if (!known.includes(key)) throw invalid(key, `unknown field; expected ${known.join(', ') || 'none'}`)
  return body as Record<string, unknown>
}

function required(fields: Record<string, unknown>, name: string): JsonValue {
  if (!(name in fields)) throw invalid(name, 'required')
  return fields[name] as JsonValue
}

function optionalString(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name]
  if (value !== undefined && (typeof value !== 'string' || value === '')) throw invalid(name, 'expected a non-empty string')
  return value as string | undefined
}

/** Bytes sent in JSON: the text form of protocol v2 (padded base64), as a message carries them where frames are text. */
function optionalBytes(fields: Record<string, unknown>, name: string): Uint8Array | undefined {
  const value = fields[name]
  if (value === undefined) return undefined
  const bytes = typeof value === 'string' ? base64ToBytes(value) : undefined
  if (bytes === undefined) throw invalid(name, 'expected bytes as padded base64')
  return bytes
}

/**
 * JSON of an answer: a message's bytes (history pages) in their text form, base64, as on the wire. Read from the
 * holder, not from `value`: JSON.stringify has already turned a Node Buffer into `{ type: 'Buffer', data }`.
 */
function bytesAsBase64(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key]
  return raw instanceof Uint8Array ? bytesToBase64(raw) : value
}

function requiredString(fields: Record<string, unknown>, name: string): string {
  const value = optionalString(fields, name)
  if (value === undefined) throw invalid(name, 'required')
  return value
}

function queryInt(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name)
  if (text === null) return undefined
  if (!/^\d{1,15}$/.test(text)) throw invalid(name, 'expected a positive integer')
  return Number(text)
}

/**
 * An HTTP API for backends in any language: publish, broadcast, direct messages, disconnect, remove from a room,
 * server-side join and leave, members, history and stats, JSON in and out, behind a bearer key compared in constant
 * time. Its OpenAPI 3.1 document is served at `GET /openapi.json` (no key needed) and checked in as
 * docs/openapi.json. See docs/http-api.md.
 */
export function parleyApi(parley: Parley, options: HttpApiOptions): HttpApiHandler {
  const keys = [...(options.keys ?? []), ...(options.key === undefined ? [] : [options.key])]
  if (keys.length === 0 || keys.some((key) => typeof key !== 'string' || key.length < 16)) {
    throw optionError('Parley: parleyApi() needs option "key" (or "keys"): strings of at least 16 characters')
  }
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw optionError('Parley: parleyApi() option "maxBodyBytes" must be a positive integer')
  const basePath = options.basePath ?? ''

  const authorized = (request: IncomingMessage): boolean => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')
    const given = match?.[1] ?? ''
    // Every key is compared, whichever matches, so the time taken says nothing about which one or how much.
    let ok = false
    for (const key of keys) ok = sameSecret(given, key) || ok
    return ok && match !== null
  }

  const readBody = async (request: IncomingMessage): Promise<unknown> => {
    // Express's json() (or another parser) may have read the body already.
    const parsed = (request as IncomingMessage & { body?: unknown }).body
    if (parsed !== undefined && request.readableEnded) return parsed
    const type = request.headers['content-type'] ?? ''
    if (!/^application\/json\s*(;|$)/i.test(type)) throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as Content-Type: application/json')
    const declared = Number(request.headers['content-length'] ?? '0')
    if (declared > maxBodyBytes) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The body is larger than ${maxBodyBytes} bytes`)
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > maxBodyBytes) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The body is larger than ${maxBodyBytes} bytes`)
      chunks.push(chunk)
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
    } catch (error) {
      throw new ApiError(400, 'INVALID_JSON', `The body is not valid JSON: ${String(error instanceof Error ? error.message : error)}`)
    }
  }

  const route = async (method: string, parts: readonly string[], url: URL, request: IncomingMessage): Promise<unknown> => {
    const [first, name, action, extra] = parts
    if (extra !== undefined) return undefined
    const post = async (known: readonly string[]): Promise<Record<string, unknown>> => fieldsOf(await readBody(request), known)
    if (first === 'stats' && name === undefined && method === 'GET') return parley.clusterStats()
    if (first === 'rooms' && name === undefined && method === 'GET') return { rooms: await parley.rooms() }
    if (first === 'broadcast' && name === undefined && method === 'POST') return parley.broadcast(required(await post(['data']), 'data'))
    if (first === 'rooms' && name !== undefined) {
      const room = parley.room(name)
      if (action === 'publish' && method === 'POST') {
        const fields = await post(['data', 'bytes'])
        return room.publish(required(fields, 'data'), { bytes: optionalBytes(fields, 'bytes') })
      }
      if (action === 'members' && method === 'GET') return { members: await room.members() }
      if (action === 'history' && method === 'GET') {
        const seq = queryInt(url, 'before')
        const epoch = url.searchParams.get('epoch')
        if (epoch !== null && seq === undefined) throw invalid('epoch', 'only with before')
        return room.history({ before: epoch === null ? seq : { epoch, seq: seq as number }, limit: queryInt(url, 'limit') ?? 50 })
      }
      if (action === 'remove' && method === 'POST') {
        const fields = await post(['user', 'reason'])
        const reason = optionalString(fields, 'reason')
        return room.remove(requiredString(fields, 'user'), reason === undefined ? {} : { reason })
      }
    }
    if (first === 'users' && name !== undefined && method === 'POST') {
      const user = parley.user(name)
      if (action === 'send') {
        await user.send(required(await post(['data']), 'data'))
        return { sent: true }
      }
      if (action === 'disconnect') {
        const fields = await post(['code', 'reason'])
        const { code } = fields
        if (code !== undefined && typeof code !== 'number') throw invalid('code', 'expected 1000 or 4000-4999')
        const reason = optionalString(fields, 'reason')
        return user.disconnect({ ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) })
      }
      if (action === 'join') return user.join(requiredString(await post(['room']), 'room'))
      if (action === 'leave') {
        const fields = await post(['room', 'reason'])
        const reason = optionalString(fields, 'reason')
        return user.leave(requiredString(fields, 'room'), reason === undefined ? {} : { reason })
      }
    }
    return undefined
  }

  const answer = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (response.headersSent) return
    const json = JSON.stringify(body, bytesAsBase64)
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store', ...headers })
    response.end(json)
  }

  const fail = (response: ServerResponse, error: ApiError): void => {
    const body: HttpApiError = { error: { code: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) } }
    answer(response, error.status, body, error.status === 401 ? { 'www-authenticate': 'Bearer' } : {})
  }

  return (request, response) => {
    void (async () => {
      try {
        const url = new URL(request.url ?? '/', 'http://localhost')
        let path = url.pathname
        if (basePath !== '' && (path === basePath || path.startsWith(`${basePath}/`))) path = path.slice(basePath.length)
        const method = request.method ?? 'GET'
        if (path === '/openapi.json' && method === 'GET') return answer(response, 200, OPENAPI_DOCUMENT)
        if (!authorized(request)) throw new ApiError(401, 'UNAUTHORIZED', 'Send Authorization: Bearer <key>')
        let parts: string[]
        try {
          parts = path.split('/').filter((part) => part !== '').map((part) => decodeURIComponent(part))
        } catch {
          throw new ApiError(400, 'INVALID_FIELD', 'The path is not valid percent-encoding', 'path')
        }
        const result = await route(method, parts, url, request)
        if (result === undefined) throw new ApiError(404, 'NOT_FOUND', `No route ${method} ${path}; see GET /openapi.json`)
        answer(response, 200, result as ControlReport)
      } catch (thrown) {
        if (thrown instanceof ApiError) return fail(response, thrown)
        const error = toParleyError(thrown)
        const field = thrown instanceof ProtocolError ? thrown.details.field : undefined
        if (statusOf(error) === 500) parley.emit('error', error, undefined)
        const code = isErrorCode(error.code) || error.code === 'CLOSED' ? error.code : 'INTERNAL_ERROR'
        fail(response, new ApiError(statusOf(error), code, error.expose ? error.message : 'Internal server error', field))
      }
    })()
  }
}
