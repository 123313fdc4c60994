/**
 * A server's WebSocket frame (RFC 6455 §5.2: FIN set, unmasked) in one buffer: the header, then the payload written
 * straight after it. A text frame's UTF-8 is encoded into place, so a frame costs one allocation and one copy of its
 * text, where building the payload and then joining it to a separate header costs two of each (and, past 4 KiB,
 * two unpooled allocations: a `joined` with its first page of members is about 5 KiB).
 */

/** Opcodes of the frames the server sends with this. */
export const TEXT_OPCODE = 1
export const BINARY_OPCODE = 2

const FIN = 0x80
/** RFC 7692 §6: RSV1 marks a compressed message. */
const RSV1 = 0x40

function headerLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 65_536 ? 4 : 10
}

function writeHeader(wire: Buffer, opcode: number, compressed: boolean, payloadLength: number): number {
  wire[0] = FIN | (compressed ? RSV1 : 0) | opcode
  if (payloadLength < 126) {
    wire[1] = payloadLength
    return 2
  }
  if (payloadLength < 65_536) {
    wire[1] = 126
    wire.writeUInt16BE(payloadLength, 2)
    return 4
  }
  wire[1] = 127
  // Frames stay far below 2^53; the high half is written from the number as it is.
  wire.writeUInt32BE(Math.floor(payloadLength / 0x1_0000_0000), 2)
  wire.writeUInt32BE(payloadLength >>> 0, 6)
  return 10
}

/** A text frame of `text`; `byteLength` must be its UTF-8 length (`Frame.byteLength`, `Buffer.byteLength`). */
export function textWireFrame(text: string, byteLength: number): Buffer {
  const wire = Buffer.allocUnsafe(headerLength(byteLength) + byteLength)
  const offset = writeHeader(wire, TEXT_OPCODE, false, byteLength)
  const written = wire.write(text, offset, 'utf8')
  // A length the text does not fill would send whatever the pool held there: fail here instead, where the bug is.
  if (written !== byteLength) throw new Error(`Frame text is ${written} bytes in UTF-8, not ${byteLength}`)
  return wire
}

/** A text frame whose UTF-8 is at hand in pieces (`Frame.utf8Parts`): copied into place, not encoded again. */
export function partsWireFrame(parts: readonly Uint8Array[], byteLength: number): Buffer {
  const wire = Buffer.allocUnsafe(headerLength(byteLength) + byteLength)
  const start = writeHeader(wire, TEXT_OPCODE, false, byteLength)
  let offset = start
  for (const part of parts) {
    wire.set(part, offset)
    offset += part.byteLength
  }
  // Parts that fall short would send whatever the pool held after them (too long ones throw in `set`).
  if (offset !== wire.byteLength) throw new Error(`Frame parts are ${offset - start} bytes, not ${byteLength}`)
  return wire
}

/** A frame of bytes already encoded: a binary frame's payload, or a compressed message's. */
export function bytesWireFrame(payload: Uint8Array, opcode: number, compressed: boolean): Buffer {
  const wire = Buffer.allocUnsafe(headerLength(payload.byteLength) + payload.byteLength)
  const offset = writeHeader(wire, opcode, compressed, payload.byteLength)
  wire.set(payload, offset)
  return wire
}
