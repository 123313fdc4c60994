import { ERROR_CODES, ProtocolError, isErrorCode, type CloseCode, type ErrorCode, type ValidationIssue } from '@parley/protocol'

/**
 * Codes of a {@link ParleyServerError}: the protocol's error codes, which may reach a client, plus codes that only
 * the server's own API raises and that never go on the wire.
 */
export type ServerErrorCode =
  | ErrorCode
  /** The instance is closed (or closing): `room()`, `user()`, `rooms()`, `clusterStats()` reject with it. */
  | 'CLOSED'
  /** Middleware called `next()` more than once. */
  | 'MIDDLEWARE_NEXT_TWICE'

/**
 * The server SDK's one error class. Hooks (`authenticate`, `authorize`, middleware) may throw it to choose the code
 * the client sees; anything else they throw reaches the wire as `INTERNAL_ERROR` with a generic message.
 */
export class ParleyServerError extends Error {
  override readonly name = 'ParleyServerError'
  readonly code: ServerErrorCode
  /** The close code this error causes when it ends a session, if it does. */
  readonly closeCode: CloseCode | undefined
  /** Set on errors whose message is safe to show to the client. */
  readonly expose: boolean
  /** For `VALIDATION_FAILED`: where a value broke its schema, sent to the client in the `error`'s `issues`. */
  readonly issues: readonly ValidationIssue[] | undefined

  constructor(code: ServerErrorCode, message?: string, options: { closeCode?: CloseCode; expose?: boolean; cause?: unknown; issues?: readonly ValidationIssue[] } = {}) {
    const known = isErrorCode(code) ? ERROR_CODES[code] : undefined
    super(message ?? known?.message ?? code, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.closeCode = options.closeCode ?? known?.closeCode
    this.expose = options.expose ?? (code !== 'INTERNAL_ERROR' && code !== 'MIDDLEWARE_NEXT_TWICE')
    this.issues = options.issues
  }

  /** The code a client may be told: the error's own when the protocol has it, else `INTERNAL_ERROR`. */
  get wireCode(): ErrorCode {
    return isErrorCode(this.code) ? this.code : 'INTERNAL_ERROR'
  }
}

/**
 * An error a request handler throws to answer with one of the codes its contract lists (`errors: ['NAME_TAKEN']`):
 * the client's `request()` rejects with that code and message. Any other error reaches the client as Parley's own.
 */
export class RequestError extends Error {
  override readonly name = 'RequestError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(code)) throw optionError(`RequestError: a code is upper-case letters, digits and _ (like NAME_TAKEN), got ${JSON.stringify(code)}`)
    this.code = code
  }
}

/** Turns anything thrown into a {@link ParleyServerError}; unknown errors become `INTERNAL_ERROR`, not exposed. */
export function toParleyError(error: unknown): ParleyServerError {
  if (error instanceof ParleyServerError) return error
  if (error instanceof ProtocolError) return new ParleyServerError(error.code, error.message, { cause: error })
  const code = (error as { code?: unknown } | null)?.code
  if (isErrorCode(code) && code !== 'INTERNAL_ERROR' && error instanceof Error) {
    return new ParleyServerError(code, error.message, { cause: error })
  }
  return new ParleyServerError('INTERNAL_ERROR', 'Internal server error', { cause: error, expose: false })
}

/** A bad option or argument to the public API: a `TypeError`, thrown at once, with the stable code `INVALID_OPTION`. */
export type ParleyOptionError = TypeError & { readonly code: 'INVALID_OPTION' }

/** Makes a {@link ParleyOptionError}. */
export function optionError(message: string): ParleyOptionError {
  return Object.assign(new TypeError(message), { code: 'INVALID_OPTION' as const })
}
