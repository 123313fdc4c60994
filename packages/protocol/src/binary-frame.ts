/**
 * Protocol v2's binary frame: one message whose payload carries bytes, in one binary WebSocket frame.
 *
 * ```
 * offset 0      4-byte unsigned big-endian N: the header's length in bytes
 * offset 4      N bytes: the header, UTF-8 JSON, the message as a text frame would carry it, without `bytes`
 * offset 4 + N  the bytes, to the end of the frame (possibly none)
 * ```
 *
 * Where frames are text (protocol v1, the HTTP transport, history answers) the same message carries its bytes in
 * `bytes` as a base64 string (RFC 4648 §4, with padding): the text form.
 */

/** The length prefix: 4 bytes, big-endian. */
export const BINARY_HEADER_PREFIX_BYTES = 4

const textEncoder = new TextEncoder()
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** The parts of a binary frame, or why it has none. */
export type SplitBinaryFrame =
  | { readonly ok: true; readonly header: string; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly reason: string }

/** Joins a header (the message's JSON text, without `bytes`) and its bytes into one binary frame. */
export function joinBinaryFrame(header: string, bytes: Uint8Array): Uint8Array {
  const head = textEncoder.encode(header)
  const frame = new Uint8Array(BINARY_HEADER_PREFIX_BYTES + head.byteLength + bytes.byteLength)
  new DataView(frame.buffer).setUint32(0, head.byteLength)
  frame.set(head, BINARY_HEADER_PREFIX_BYTES)
  frame.set(bytes, BINARY_HEADER_PREFIX_BYTES + head.byteLength)
  return frame
}

/** Splits a binary frame into its header text and its bytes (a view into the frame, not a copy). */
export function splitBinaryFrame(frame: Uint8Array): SplitBinaryFrame {
  if (frame.byteLength < BINARY_HEADER_PREFIX_BYTES) return { ok: false, reason: `a binary frame of ${frame.byteLength} bytes has no header length` }
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0)
  const end = BINARY_HEADER_PREFIX_BYTES + length
  if (end > frame.byteLength) return { ok: false, reason: `header length ${length} runs past the frame's end (${frame.byteLength} bytes)` }
  let header: string
  try {
    header = strictUtf8.decode(frame.subarray(BINARY_HEADER_PREFIX_BYTES, end))
  } catch {
    return { ok: false, reason: 'the header is not valid UTF-8' }
  }
  return { ok: true, header, bytes: frame.subarray(end) }
}

/** A binary frame as a runtime hands it over (Node's Buffer, an ArrayBuffer, any view), as a Uint8Array. */
export function asBytes(frame: unknown): Uint8Array | undefined {
  if (frame instanceof Uint8Array) return frame
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame)
  if (ArrayBuffer.isView(frame)) return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength)
  return undefined
}

/** Node's Buffer when present: its base64 is native; browsers use btoa/atob. */
interface NodeBufferStatic {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: 'base64'): string }
  from(text: string, encoding: 'base64'): Uint8Array
}
const NodeBuffer = (globalThis as { Buffer?: NodeBufferStatic }).Buffer

/** Padded base64 (RFC 4648 §4): the only text a `bytes` field may hold. */
export const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Bytes as base64 (RFC 4648 §4, padded): the text form of a message's bytes. */
export function bytesToBase64(bytes: Uint8Array): string {
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  let binary = ''
  for (let i = 0; i < bytes.byteLength; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

/** The bytes of a padded base64 string (a plain Uint8Array of exactly that size), or undefined when it is not one. */
export function base64ToBytes(text: string): Uint8Array | undefined {
  if (!BASE64_PATTERN.test(text)) return undefined
  // A copy of its own: Node's decoder may hand out a slice of its shared pool, whose `buffer` holds other data.
  if (NodeBuffer !== undefined) return new Uint8Array(NodeBuffer.from(text, 'base64'))
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** Length of the base64 text of `byteLength` bytes. */
export function base64Length(byteLength: number): number {
  return Math.ceil(byteLength / 3) * 4
}
