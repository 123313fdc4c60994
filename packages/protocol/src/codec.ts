import { asBytes, base64ToBytes, bytesToBase64, joinBinaryFrame, splitBinaryFrame } from './binary-frame.js'
import { describeType, isObject, isWellFormedString, utf8ByteLength } from './guards.js'
import { ID_PATTERN, limitsFor, type ProtocolLimits } from './limits.js'
import type { ClientMessage, Direction, HistoryEntry, Message, ServerMessage } from './messages.js'
import { ProtocolError } from './protocol-error.js'
import { checkTree, outgoingTreePasses, parsedFramePassesTreeCheck, validateShape } from './validate.js'
import { BYTES_VERSION, PROTOCOL_VERSION } from './version.js'

/** Options of {@link decode}. */
export interface DecodeOptions<D extends Direction = Direction> {
  /** Who sent the frame: servers decode `'client'` frames, clients decode `'server'` frames. */
  readonly from: D
  /** Limits to enforce; missing ones default to {@link DEFAULT_LIMITS}. */
  readonly limits?: Partial<ProtocolLimits> | undefined
  /**
   * The negotiated protocol version. From 2 on, binary frames carry messages with bytes; under 2 a binary frame is
   * `UNSUPPORTED_DATA` and a publish's `bytes` is ignored, as v1 ignores fields it does not know. A server's
   * `message` keeps its base64 `bytes` at any version: that is the v1 fallback form. @default PROTOCOL_VERSION
   */
  readonly version?: number | undefined
}

/** The outcome of {@link decode}: a typed message, or the fault with its stable code. */
export type DecodeResult<M extends Message = Message> =
  | { readonly ok: true; readonly message: M }
  | { readonly ok: false; readonly error: ProtocolError }

type MessageFrom<D extends Direction> = D extends 'client' ? ClientMessage : D extends 'server' ? ServerMessage : Message

/**
 * Turns one frame into a typed message, or a {@link ProtocolError}. Never throws, whatever the input. Checks, in
 * order: a text frame (binary → `UNSUPPORTED_DATA`), size before parsing (`PAYLOAD_TOO_LARGE`), JSON
 * (`INVALID_JSON`), the whole tree (`NESTING_TOO_DEEP`, `INVALID_UNICODE`, `FORBIDDEN_KEY`), then the message shape.
 */
export function decode<D extends Direction>(frame: unknown, options: DecodeOptions<D>): DecodeResult<MessageFrom<D>> {
  const limits = limitsFor(options.limits)
  const version = options.version ?? PROTOCOL_VERSION
  if (typeof frame !== 'string') {
    const binary = asBytes(frame)
    if (binary !== undefined && version >= BYTES_VERSION) return decodeBinary(binary, options.from, limits)
    const what = binary !== undefined ? 'a binary frame' : typeof frame
    return failed(new ProtocolError('UNSUPPORTED_DATA', `Expected a text frame, got ${what}`, { expected: 'a text frame', received: what }))
  }
  // v1 knows no `bytes`: a client's is dropped before the shape check, as any field v1 does not know (§4.7).
  const result = decodeText(frame, options.from, limits, options.from === 'client' && version < BYTES_VERSION)
  // The common message has no bytes: handed back as it is, without a second result object.
  if (!result.ok || ((result.message as { bytes?: unknown }).bytes === undefined && result.message.type !== 'history')) return result
  return { ok: true, message: bytesOfTextForm(result.message) as MessageFrom<D> }
}

/**
 * A binary frame (v2): the length-prefixed header is decoded as a text frame would be, and must be the one message
 * of its direction that carries bytes (`publish` from a client, `message` from a server) without a `bytes` of its
 * own; the rest of the frame is its bytes, copied so the message holds nothing of the frame.
 */
function decodeBinary<D extends Direction>(frame: Uint8Array, from: D, limits: ProtocolLimits): DecodeResult<MessageFrom<D>> {
  if (frame.byteLength > limits.maxPayload) {
    return failed(
      new ProtocolError('PAYLOAD_TOO_LARGE', `Frame is larger than maxPayload (${limits.maxPayload} bytes)`, {
        expected: `at most ${limits.maxPayload} bytes`,
        received: `${frame.byteLength} bytes`,
      }),
    )
  }
  const split = splitBinaryFrame(frame)
  if (!split.ok) return failed(new ProtocolError('INVALID_BINARY_FRAME', `Binary frame: ${split.reason}`, { received: split.reason }))
  const result = decodeText(split.header, from, limits)
  if (!result.ok) return result
  const message = result.message
  const carrier = from === 'client' ? 'publish' : 'message'
  if (message.type !== carrier || 'bytes' in message) {
    return failed(new ProtocolError('INVALID_BINARY_FRAME', `Binary frame: the header must be a ${carrier} without "bytes"`, { messageType: message.type }))
  }
  return { ok: true, message: { ...message, bytes: new Uint8Array(split.bytes) } as MessageFrom<D> }
}

/**
 * A message in the text form (a decoded text frame, or a validated message as a store kept it) with its base64
 * `bytes`, its own or its history entries', turned into the bytes themselves. The shape check has vouched for the
 * base64; anything else under `bytes` is left out.
 */
export function bytesOfTextForm<M extends Message>(message: M): M {
  if (message.type === 'publish' || message.type === 'message') {
    const text = message.bytes as unknown
    if (typeof text !== 'string') return message
    const bytes = base64ToBytes(text)
    if (bytes !== undefined) return { ...message, bytes }
    const { bytes: _unreadable, ...rest } = message
    return rest as M
  }
  if (message.type === 'history' && 'messages' in message && message.messages.some((entry) => entry.bytes !== undefined)) {
    const messages = message.messages.map((entry): HistoryEntry => (typeof entry.bytes === 'string' ? { ...entry, bytes: base64ToBytes(entry.bytes) as Uint8Array } : entry))
    return { ...message, messages }
  }
  return message
}

/** A text frame's checks (size, JSON, tree, shape), leaving a `bytes` field as the base64 text it arrived as. */
function decodeText<D extends Direction>(frame: string, from: D, limits: ProtocolLimits, dropBytes = false): DecodeResult<MessageFrom<D>> {
  // Each UTF-16 unit is at least one UTF-8 byte, so the cheap length test rejects most oversized frames unscanned.
  if (frame.length > limits.maxPayload || (frame.length * 3 > limits.maxPayload && utf8ByteLength(frame) > limits.maxPayload)) {
    return failed(
      new ProtocolError('PAYLOAD_TOO_LARGE', `Frame is larger than maxPayload (${limits.maxPayload} bytes)`, {
        expected: `at most ${limits.maxPayload} bytes`,
        received: `${utf8ByteLength(frame)} bytes`,
      }),
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(frame)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return failed(new ProtocolError('INVALID_JSON', `Frame is not valid JSON: ${reason}`, { expected: 'JSON text', received: reason }))
  }
  const treeError = parsedFramePassesTreeCheck(frame, parsed, limits.maxDepth) ? undefined : checkTree(parsed, limits)
  if (treeError !== undefined) {
    // An overflowing number in a protocol field (`ts`, `seq`, ...) is better named by the shape check, which knows
    // the field; the tree walk only knows that some number somewhere overflowed.
    if (treeError.code === 'INVALID_FIELD') {
      const shape = validateShape(parsed, from, limits)
      if (shape instanceof ProtocolError) return failed(shape)
    }
    return failed(withMessageContext(treeError, parsed, limits))
  }
  if (dropBytes && isObject(parsed) && parsed['type'] === 'publish' && 'bytes' in parsed) delete parsed['bytes']
  const result = validateShape(parsed, from, limits)
  if (result instanceof ProtocolError) return failed(result)
  return { ok: true, message: result as MessageFrom<D> }
}

/**
 * A fault found by the tree walk (deep nesting, lone surrogate, `__proto__`, overflow) names no field; it still
 * names the message type and the request id when they are readable, so a peer can answer that request.
 */
function withMessageContext(error: ProtocolError, parsed: unknown, limits: ProtocolLimits): ProtocolError {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return error
  const { type, id } = parsed as { type?: unknown; id?: unknown }
  const messageType = typeof type === 'string' && type.length <= 64 && isWellFormedString(type) ? type : undefined
  const readableId = typeof id === 'string' && id.length <= limits.maxIdLength && ID_PATTERN.test(id) ? id : undefined
  if (messageType === undefined && readableId === undefined) return error
  return new ProtocolError(error.code, messageType === undefined ? error.message : `${messageType}: ${error.message}`, {
    ...error.details,
    ...(messageType === undefined ? {} : { messageType }),
    ...(readableId === undefined ? {} : { id: readableId }),
  })
}

function failed(error: ProtocolError): { ok: false; error: ProtocolError } {
  return { ok: false, error }
}

/** Options of {@link encode}. */
export interface EncodeOptions {
  /** Limits to enforce on what goes out; missing ones default to {@link DEFAULT_LIMITS}. */
  readonly limits?: Partial<ProtocolLimits> | undefined
  /**
   * The message's `data` already serialised: `JSON.stringify` of a value that has passed validation (a decoded
   * frame's, or one {@link validateMessage} accepted). The rest of the message is checked and serialised as usual
   * and this text is put in place of `data`, so a payload is serialised once on its way through a server.
   */
  readonly dataJson?: string | undefined
}

/** How a message whose `data` is `null` ends once serialised: `data` is the last field of every message that has one. */
const NULL_DATA_TAIL = '"data":null}'

/** The direction of a message: its type, except `signal`, whose server form carries `from`. */
export function directionOf(message: Message): Direction {
  switch (message.type) {
    case 'authenticate':
    case 'join':
    case 'leave':
    case 'publish':
    case 'presence-update':
    case 'ping':
    case 'search':
    case 'request':
      return 'client'
    case 'signal':
      return 'from' in message ? 'server' : 'client'
    case 'history':
      return 'messages' in message ? 'server' : 'client'
    case 'members':
      return 'members' in message ? 'server' : 'client'
    default:
      return 'server'
  }
}

/** A message with its bytes as base64 text (the text form), for a text frame. */
function textForm(message: Message): Message {
  if ((message.type === 'publish' || message.type === 'message') && message.bytes instanceof Uint8Array) {
    return { ...message, bytes: bytesToBase64(message.bytes) as unknown as Uint8Array }
  }
  if (message.type === 'history' && 'messages' in message && Array.isArray(message.messages) && message.messages.some((entry) => entry.bytes instanceof Uint8Array)) {
    const messages = message.messages.map((entry) => (entry.bytes instanceof Uint8Array ? { ...entry, bytes: bytesToBase64(entry.bytes) as unknown as Uint8Array } : entry))
    return { ...message, messages }
  }
  return message
}

/**
 * Validates a message and turns it into a frame. Throws a {@link ProtocolError} when the message is invalid (a bug
 * in the sender, never the peer's input): a missing field, a value JSON cannot carry, a frame over `maxPayload`.
 */
export function encode(message: Message, options: EncodeOptions = {}): string {
  const limits = limitsFor(options.limits)
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new ProtocolError('UNKNOWN_TYPE', `Expected a message object with a "type", got ${describeType(message)}`, {
      field: 'type',
      expected: 'an object',
      received: describeType(message),
    })
  }
  const dataJson = options.dataJson
  const spliced = dataJson !== undefined && 'data' in message
  const checked = textForm(spliced ? ({ ...message, data: null } as Message) : message)
  const treeError = outgoingTreePasses(checked, 1, limits.maxDepth) ? undefined : checkTree(checked, limits, true)
  if (treeError !== undefined) throw treeError
  const valid = validateShape(checked, directionOf(message), limits)
  if (valid instanceof ProtocolError) throw valid
  let frame = JSON.stringify(valid)
  if (spliced) {
    if (!frame.endsWith(NULL_DATA_TAIL)) return encode(message, { limits: options.limits })
    frame = `${frame.slice(0, frame.length - 5)}${dataJson}}`
  }
  if (frame.length * 3 > limits.maxPayload && utf8ByteLength(frame) > limits.maxPayload) {
    throw new ProtocolError('PAYLOAD_TOO_LARGE', `Encoded ${message.type} is larger than maxPayload (${limits.maxPayload} bytes)`, {
      messageType: message.type,
      expected: `at most ${limits.maxPayload} bytes`,
      received: `${utf8ByteLength(frame)} bytes`,
    })
  }
  return frame
}

/**
 * Protocol v2: a `publish` or `message` with `bytes` as one binary frame (binary-frame.ts): the message without its
 * bytes, validated and serialised as {@link encode} does (with `dataJson` too), then the bytes. Throws a
 * {@link ProtocolError} as encode does, and when the message carries no bytes or the frame passes `maxPayload`.
 */
export function encodeBinary(message: Message, options: EncodeOptions = {}): Uint8Array {
  if ((message.type !== 'publish' && message.type !== 'message') || !(message.bytes instanceof Uint8Array)) {
    throw new ProtocolError('INVALID_FIELD', `encodeBinary takes a publish or message with bytes, got ${describeType(message)}`, { field: 'bytes', expected: 'a Uint8Array' })
  }
  const { bytes, ...header } = message
  const frame = joinBinaryFrame(encode(header as Message, options), bytes)
  const limits = limitsFor(options.limits)
  if (frame.byteLength > limits.maxPayload) {
    throw new ProtocolError('PAYLOAD_TOO_LARGE', `Encoded ${message.type} is larger than maxPayload (${limits.maxPayload} bytes)`, {
      messageType: message.type,
      expected: `at most ${limits.maxPayload} bytes`,
      received: `${frame.byteLength} bytes`,
    })
  }
  return frame
}
