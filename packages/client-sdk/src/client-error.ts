import { parseUnsupportedVersionReason, CloseCode, ProtocolError, closeCodeInfo, type ErrorCode, type ValidationIssue } from '@parley/protocol'

/**
 * Stable machine codes of {@link ParleyClientError}: the protocol's {@link ErrorCode}s (what the server or the decoder
 * reported) plus the client's own. Servers may add codes within v1, so a `code` can also be a string not listed here.
 */
export type ClientErrorCode =
  | ErrorCode
  /** No protocol version in common (HTTP 426, close 4406, or a server that selected a subprotocol we never offered). */
  | 'UNSUPPORTED_VERSION'
  /** The client was closed with `close()`; what was pending is rejected with this. */
  | 'CLOSED'
  /** The offline queue is full; the publish was refused, not queued. */
  | 'QUEUE_FULL'
  /** A connection attempt failed, or reconnecting gave up (`maxAttempts`). */
  | 'CONNECTION_FAILED'
  /** The server closed the connection with a close code that forbids reconnecting. */
  | 'CONNECTION_CLOSED'
  /** A message of a type that may not come at that point (anything before `welcome`). */
  | 'UNEXPECTED_MESSAGE'
  /** `createClient()` was given an option it cannot use. */
  | 'INVALID_OPTION'
  /** An illegal state transition: a bug in the client itself. */
  | 'INVALID_STATE'
  /** Something that is not a Parley error (thrown by `getToken`, for instance). */
  | 'UNKNOWN_ERROR'

/** Where an error happened, when it is known. */
export interface ParleyClientErrorDetails {
  /** The close code that ended the connection, for errors that ended one. */
  readonly closeCode?: number
  /** The room the error concerns. */
  readonly room?: string
  /** The request id (a publish or join id) the error answers. */
  readonly id?: string
  /** The HTTP status of a refused handshake (Node only; browsers cannot read it). */
  readonly status?: number
  /** For `VALIDATION_FAILED`: where the value broke its schema, and how. */
  readonly issues?: readonly ValidationIssue[]
  readonly cause?: unknown
}

/**
 * The one error class of the client SDK. Every rejected promise and every `error` event carries one, with a stable
 * `code` to branch on and a human `message`.
 */
export class ParleyClientError extends Error {
  override readonly name: string = 'ParleyClientError'
  readonly code: ClientErrorCode | (string & {})
  readonly closeCode: number | undefined
  readonly room: string | undefined
  readonly id: string | undefined
  readonly status: number | undefined
  /** For `VALIDATION_FAILED`: where the value broke its schema (`text`, `items.0`), and how. */
  readonly issues: readonly ValidationIssue[] | undefined

  constructor(code: ClientErrorCode | (string & {}), message: string, details: ParleyClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.closeCode = details.closeCode
    this.room = details.room
    this.id = details.id
    this.status = details.status
    this.issues = details.issues
  }
}

/** Authentication failed or was revoked (HTTP 401, close 4401). The client does not reconnect after it. */
export class AuthError extends ParleyClientError {
  override readonly name: string = 'AuthError'

  constructor(message = 'Unauthorized', details: ParleyClientErrorDetails = {}) {
    super('UNAUTHORIZED', message, { closeCode: CloseCode.Unauthorized, ...details })
  }
}

/**
 * Client and server speak no protocol version in common (HTTP 426, close 4406). Names what each side speaks; the
 * client does not reconnect after it, since a retry would meet the same server.
 */
export class UnsupportedProtocolError extends ParleyClientError {
  override readonly name: string = 'UnsupportedProtocolError'
  /** The subprotocols this client offered, newest first. */
  readonly offered: readonly string[]
  /** The subprotocols the server speaks, when it said (empty when it did not). */
  readonly supported: readonly string[]

  constructor(offered: readonly string[], supported: readonly string[], serverMessage?: string, details: ParleyClientErrorDetails = {}) {
    const theirs = supported.length > 0 ? supported.join(', ') : 'an unknown set of versions'
    super(
      'UNSUPPORTED_VERSION',
      `No protocol version in common: the client speaks ${offered.join(', ')}, the server speaks ${theirs}` +
        (serverMessage ? ` (${serverMessage})` : ''),
      { closeCode: CloseCode.UnsupportedVersion, ...details },
    )
    this.offered = offered
    this.supported = supported
  }
}

/**
 * Turns anything thrown or reported into a {@link ParleyClientError}, so hooks such as `getToken` may throw anything.
 * A `ProtocolError` keeps its code (its `closeCode` is not copied: the client does not close over a bad frame).
 */
export function toParleyClientError(error: unknown): ParleyClientError {
  if (error instanceof ParleyClientError) return error
  if (error instanceof ProtocolError) return new ParleyClientError(error.code, error.message, { cause: error })
  if (error instanceof Error) return new ParleyClientError('UNKNOWN_ERROR', error.message, { cause: error })
  return new ParleyClientError('UNKNOWN_ERROR', String(error), { cause: error })
}

/** The error that stands for a close the client will not retry after (see `reconnect.ts`). */
export function errorFromClose(code: number, reason: string, offered: readonly string[]): ParleyClientError {
  if (code === CloseCode.Unauthorized) return new AuthError(reason || undefined)
  if (code === CloseCode.UnsupportedVersion) {
    return new UnsupportedProtocolError(offered, parseUnsupportedVersionReason(reason), reason || undefined)
  }
  const name = closeCodeInfo(code)?.name ?? 'unknown'
  return new ParleyClientError(
    code === CloseCode.Forbidden ? 'FORBIDDEN' : 'CONNECTION_CLOSED',
    `The server closed the connection with ${code} (${name})${reason ? `: ${reason}` : ''}`,
    { closeCode: code },
  )
}

/**
 * Maps a refused WebSocket handshake (an HTTP answer instead of 101) to an error: 401 is an {@link AuthError}, 426 an
 * {@link UnsupportedProtocolError} listing the server's `supported` versions from the JSON body; anything else is a
 * retryable `CONNECTION_FAILED` (closeCode 1006). `offered` is what this client sent.
 */
export function errorFromHandshake(status: number, body: string, offered: readonly string[]): ParleyClientError {
  let json: { message?: unknown; supported?: unknown } = {}
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === 'object' && parsed !== null) json = parsed
  } catch {
    // A proxy's HTML error page: the status alone decides.
  }
  const message = typeof json.message === 'string' ? json.message : undefined
  if (status === 401) return new AuthError(message, { status })
  // Nothing serves Parley at that path (a typo in the URL, a proxy rule missing): retrying cannot help.
  if (status === 404) return new ParleyClientError('NOT_FOUND', `No Parley endpoint at this URL's path (HTTP 404)${message ? `: ${message}` : ''}; check the path (the server's default is /parley)`, { status, closeCode: CloseCode.Abnormal })
  if (status === 426) {
    const supported = Array.isArray(json.supported) ? json.supported.filter((v): v is string => typeof v === 'string') : []
    return new UnsupportedProtocolError(offered, supported, message, { status })
  }
  return new ParleyClientError('CONNECTION_FAILED', `Handshake refused with HTTP ${status}${message ? `: ${message}` : ''}`, {
    status,
    closeCode: CloseCode.Abnormal,
  })
}
