export { CloseCode, CLOSE_CODES, closeCodeInfo, isRetryableClose, type CloseCodeInfo } from './close-codes.js'
export { limitCloseReason, MAX_CLOSE_REASON_BYTES } from './close-reason.js'
export {
  asBytes,
  base64Length,
  base64ToBytes,
  bytesToBase64,
  joinBinaryFrame,
  splitBinaryFrame,
  BINARY_HEADER_PREFIX_BYTES,
  type SplitBinaryFrame,
} from './binary-frame.js'
export { bytesOfTextForm, decode, encode, encodeBinary, directionOf, type DecodeOptions, type DecodeResult, type EncodeOptions } from './codec.js'
export { ERROR_CODES, ERROR_CODE_LIST, isErrorCode, type ErrorCode } from './error-codes.js'
export { utf8ByteLength } from './guards.js'
export { HEARTBEAT_RULES, DEFAULT_HEARTBEAT, heartbeatDeadlineMs } from './heartbeat.js'
export {
  DEFAULT_LIMITS,
  ENVELOPE_HEADROOM_BYTES,
  ID_PATTERN,
  MAX_HISTORY_LIMIT,
  MAX_SEARCH_LENGTH,
  MAX_MEMBERS_PAGE,
  ROOM_NAME_PATTERN,
  resolveLimits,
  serverFrameLimit,
  type ProtocolLimits,
} from './limits.js'
export * from './messages.js'
export { ProtocolError, type ProtocolErrorDetails } from './protocol-error.js'
export { randomId } from './random-id.js'
export { closestName } from './suggest.js'
export {
  defineContract,
  describeIssues,
  validateWith,
  MAX_REQUEST_NAME_LENGTH,
  MAX_VALIDATION_ISSUES,
  REQUEST_NAME_PATTERN,
  type Contract,
  type ContractDefinition,
  type InputOf,
  type IsTypedContract,
  type MessageOf,
  type OutputOf,
  type PresenceOf,
  type RequestContract,
  type RequestHandlerInput,
  type RequestHandlerOutput,
  type RequestInput,
  type RequestNames,
  type RequestOutput,
  type RoomContract,
  type RoomContractOf,
  type RoomNameOf,
  type RoomNames,
  type Schema,
  type SignalOf,
  type ValidationIssue,
} from './contract.js'
export type { StandardSchemaV1 } from './standard-schema.js'
export { MAX_SIGNAL_TTL_MS, validateMessage } from './validate.js'
export {
  PROTOCOL_VERSION,
  SUBPROTOCOLS,
  SUBPROTOCOL_V1_JSON,
  SUBPROTOCOL_V2_JSON,
  BYTES_VERSION,
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
export type { LogFields, Logger } from './logger.js'
