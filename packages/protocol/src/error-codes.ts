import { CloseCode } from './close-codes.js'

/**
 * Stable machine codes carried by `error` messages and by `ProtocolError`. Never renamed within a major protocol
 * version; new codes may be added, so clients must handle codes they do not know.
 */
export type ErrorCode =
  /** The frame is not valid JSON. */
  | 'INVALID_JSON'
  /** A binary frame, or a value that is not a frame at all. */
  | 'UNSUPPORTED_DATA'
  /** Protocol v2: a binary frame whose header is cut short, runs past the frame, is not UTF-8, or names a message that carries no bytes. */
  | 'INVALID_BINARY_FRAME'
  /** The frame is JSON but not an object with a known `type`. */
  | 'UNKNOWN_TYPE'
  /** A required field is absent. */
  | 'MISSING_FIELD'
  /** A field has the wrong type or an out-of-range value. */
  | 'INVALID_FIELD'
  /** A room name is empty, too long or has characters outside the allowed set. */
  | 'ROOM_NAME_INVALID'
  /** The frame is larger than `maxPayload`. */
  | 'PAYLOAD_TOO_LARGE'
  /** Arrays and objects nest deeper than `maxDepth`. */
  | 'NESTING_TOO_DEEP'
  /** A string holds a lone UTF-16 surrogate, which has no UTF-8 form. */
  | 'INVALID_UNICODE'
  /** An object key that can pollute prototypes (`__proto__`). */
  | 'FORBIDDEN_KEY'
  /** Authentication is required, failed, or the token was rejected. */
  | 'UNAUTHORIZED'
  /** The token expired; refresh it with an `authenticate` message. */
  | 'TOKEN_EXPIRED'
  /** `authorize` denied this action on this room. */
  | 'FORBIDDEN'
  /** The session is not a member of the room it publishes or signals to. */
  | 'NOT_JOINED'
  /** Joining would pass the per-session room limit. */
  | 'TOO_MANY_ROOMS'
  /** The session sent too many messages of this kind; the message was dropped. */
  | 'RATE_LIMITED'
  /** Middleware rejected the message. */
  | 'REJECTED'
  /** No answer in time (client side: an ack did not arrive). */
  | 'TIMEOUT'
  /** The server failed while handling the message. */
  | 'INTERNAL_ERROR'
  /** Handshake refused (HTTP 426 / close 4406): no protocol version in common. */
  | 'UNSUPPORTED_VERSION'
  /** Handshake refused (HTTP 503 / close 1013): the server is draining or at its connection limit. */
  | 'TRY_AGAIN_LATER'
  /** Handshake refused (HTTP 429 / close 4409): the user has the maximum number of connections. */
  | 'TOO_MANY_CONNECTIONS'
  /** Handshake refused (HTTP 404): no Parley endpoint at that path. */
  | 'NOT_FOUND'
  /** History cannot be read now (its store is down), or this server keeps none of this kind (search without a store that searches). */
  | 'HISTORY_UNAVAILABLE'
  /** A history position (`before`) names an epoch this room's history does not have. */
  | 'HISTORY_CURSOR_INVALID'
  /** A value broke its schema in the app's contract (`issues` says where); nothing was delivered. */
  | 'VALIDATION_FAILED'
  /** A `request` names no handler on this server. */
  | 'UNKNOWN_REQUEST'

/** Every error code with its default message and, for wire faults, the close code it causes when a peer closes. */
export const ERROR_CODES: Readonly<Record<ErrorCode, { readonly message: string; readonly closeCode?: CloseCode }>> =
  Object.freeze({
    INVALID_JSON: { message: 'Frame is not valid JSON', closeCode: CloseCode.InvalidPayload },
    UNSUPPORTED_DATA: { message: 'Frame is not a text frame', closeCode: CloseCode.UnsupportedData },
    INVALID_BINARY_FRAME: { message: 'Binary frame header is corrupt', closeCode: CloseCode.InvalidPayload },
    UNKNOWN_TYPE: { message: 'Unknown message type' },
    MISSING_FIELD: { message: 'A required field is missing' },
    INVALID_FIELD: { message: 'A field has an invalid value' },
    ROOM_NAME_INVALID: { message: 'Invalid room name' },
    PAYLOAD_TOO_LARGE: { message: 'Frame is larger than maxPayload', closeCode: CloseCode.MessageTooBig },
    NESTING_TOO_DEEP: { message: 'Message nests deeper than maxDepth' },
    INVALID_UNICODE: { message: 'String holds a lone surrogate', closeCode: CloseCode.InvalidPayload },
    FORBIDDEN_KEY: { message: 'Forbidden object key' },
    UNAUTHORIZED: { message: 'Unauthorized', closeCode: CloseCode.Unauthorized },
    TOKEN_EXPIRED: { message: 'Token expired', closeCode: CloseCode.TokenExpired },
    FORBIDDEN: { message: 'Forbidden' },
    NOT_JOINED: { message: 'Not a member of this room' },
    TOO_MANY_ROOMS: { message: 'Too many rooms joined' },
    RATE_LIMITED: { message: 'Rate limit exceeded', closeCode: CloseCode.RateLimited },
    REJECTED: { message: 'Message rejected' },
    TIMEOUT: { message: 'Timed out' },
    INTERNAL_ERROR: { message: 'Internal server error', closeCode: CloseCode.InternalError },
    UNSUPPORTED_VERSION: { message: 'No protocol version in common', closeCode: CloseCode.UnsupportedVersion },
    TRY_AGAIN_LATER: { message: 'Try again later', closeCode: CloseCode.TryAgainLater },
    TOO_MANY_CONNECTIONS: { message: 'Too many connections for this user', closeCode: CloseCode.TooManyConnections },
    NOT_FOUND: { message: 'No Parley endpoint at this path' },
    HISTORY_UNAVAILABLE: { message: 'History is not available' },
    HISTORY_CURSOR_INVALID: { message: 'Not a position in this room' },
    VALIDATION_FAILED: { message: 'A value does not match its schema' },
    UNKNOWN_REQUEST: { message: 'No handler for this request' },
  })

/** Every error code, in a stable order. */
export const ERROR_CODE_LIST = Object.freeze(Object.keys(ERROR_CODES) as ErrorCode[])

/** Is this string one of the error codes this version knows? */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value)
}
