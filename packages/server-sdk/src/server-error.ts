import { ERROR_CODES, ProtocolError, isErrorCode, type CloseCode, type ErrorCode } from '@parley/protocol'

/**
 * The server SDK's one error class. Hooks (`authenticate`, `authorize`, middleware) may throw it to choose the code
 * the client sees; anything else they throw reaches the wire as `INTERNAL_ERROR` with a generic message.
 */
export class ParleyServerError extends Error {
  override readonly name = 'ParleyServerError'
  readonly code: ErrorCode
  /** The close code this error causes when it ends a session, if it does. */
  readonly closeCode: CloseCode | undefined
  /** Set on errors whose message is safe to show to the client. */
  readonly expose: boolean

  constructor(code: ErrorCode, message?: string, options: { closeCode?: CloseCode; expose?: boolean; cause?: unknown } = {}) {
    super(message ?? ERROR_CODES[code].message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.closeCode = options.closeCode ?? ERROR_CODES[code].closeCode
    this.expose = options.expose ?? code !== 'INTERNAL_ERROR'
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

const encoder = new TextEncoder()

/** Cuts a close reason to the 123 bytes RFC 6455 §5.5 leaves for it (125-byte control payload minus the code). */
export function limitCloseReason(reason: string): string {
  if (encoder.encode(reason).length <= 123) return reason
  let cut = reason.slice(0, 120)
  while (encoder.encode(`${cut}…`).length > 123) cut = cut.slice(0, -1)
  return `${cut}…`
}
