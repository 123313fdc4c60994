export { CloseCode, CLOSE_CODES, closeCodeInfo, isRetryableClose, type CloseCodeInfo } from './close-codes.js'
export { limitCloseReason, MAX_CLOSE_REASON_BYTES } from './close-reason.js'
export { decode, encode, directionOf, type DecodeOptions, type DecodeResult, type EncodeOptions } from './codec.js'
export { ERROR_CODES, ERROR_CODE_LIST, isErrorCode, type ErrorCode } from './error-codes.js'
export { HEARTBEAT_RULES, DEFAULT_HEARTBEAT, heartbeatDeadlineMs } from './heartbeat.js'
export {
  DEFAULT_LIMITS,
  ENVELOPE_HEADROOM_BYTES,
  ID_PATTERN,
  MAX_HISTORY_LIMIT,
  MAX_SEARCH_LENGTH,
  ROOM_NAME_PATTERN,
  resolveLimits,
  serverFrameLimit,
  type ProtocolLimits,
} from './limits.js'
export * from './messages.js'
export { ProtocolError, type ProtocolErrorDetails } from './protocol-error.js'
export { randomId } from './random-id.js'
export { closestName } from './suggest.js'
export { MAX_SIGNAL_TTL_MS, validateMessage } from './validate.js'
export {
  PROTOCOL_VERSION,
  SUBPROTOCOLS,
  SUBPROTOCOL_V1_JSON,
  TOKEN_SUBPROTOCOL_PREFIX,
  NEGOTIATE_SUBPROTOCOL,
  negotiate,
  parseUnsupportedVersionReason,
  unsupportedVersionReason,
  parseSubprotocol,
  parseSubprotocolHeader,
  type NegotiationResult,
  type ParsedSubprotocol,
  type Subprotocol,
} from './version.js'
