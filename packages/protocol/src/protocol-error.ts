import type { CloseCode } from './close-codes.js'
import { ERROR_CODES, type ErrorCode } from './error-codes.js'

/** Where in a message a validation fault was found. */
export interface ProtocolErrorDetails {
  /** The message type, when it was known. */
  readonly messageType?: string
  /** The field path, e.g. `room` or `resume.seq`. */
  readonly field?: string
  /** What was expected, e.g. `a non-negative integer`. */
  readonly expected?: string
  /** What arrived, e.g. `string "7"`. */
  readonly received?: string
  /** The request id of the faulty message, when it had a readable one, so an `error` can answer it. */
  readonly id?: string
}

/**
 * A fault in a frame or message, with a stable machine `code`, a human `message` naming the message type, field,
 * expectation and what arrived, and the close code it causes when a peer decides to close over it.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  readonly code: ErrorCode
  readonly closeCode: CloseCode | undefined
  readonly details: ProtocolErrorDetails

  constructor(code: ErrorCode, message?: string, details: ProtocolErrorDetails = {}) {
    super(message ?? ERROR_CODES[code].message)
    this.code = code
    this.closeCode = ERROR_CODES[code].closeCode
    this.details = details
  }
}
