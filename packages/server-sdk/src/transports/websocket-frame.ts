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

/** A frame's buffer with its header written: the payload goes in its last `payloadLength` bytes. */
function withHeader(opcode: number, compressed: boolean, payloadLength: number): Buffer {
  const headerLength = payloadLength < 126 ? 2 : payloadLength < 65_536 ? 4 : 10
  const wire = Buffer.allocUnsafe(headerLength + payloadLength)
  wire[0] = FIN | (compressed ? RSV1 : 0) | opcode
  if (headerLength === 2) {
    wire[1] = payloadLength
  } else if (headerLength === 4) {
    wire[1] = 126
    wire.writeUInt16BE(payloadLength, 2)
  } else {
    wire[1] = 127
    // Frames stay far below 2^53; the high half is written from the number as it is.
    wire.writeUInt32BE(Math.floor(payloadLength / 0x1_0000_0000), 2)
    wire.writeUInt32BE(payloadLength >>> 0, 6)
  }
  return wire
}

/** A text frame of `text`; `byteLength` must be its UTF-8 length (`Frame.byteLength`, `Buffer.byteLength`). */
export function textWireFrame(text: string, byteLength: number): Buffer {
  const wire = withHeader(TEXT_OPCODE, false, byteLength)
  const written = wire.write(text, wire.byteLength - byteLength, 'utf8')
  // A length the text does not fill would send whatever the pool held there: fail here instead, where the bug is.
  if (written !== byteLength) throw new Error(`Frame text is ${written} bytes in UTF-8, not ${byteLength}`)
  return wire
}

/**
 * A frame of bytes already encoded, in one piece or several: a text frame's UTF-8 at hand in pieces
 * (`Frame.utf8Parts`), a binary frame's payload, or a compressed message's. Copied into place, not encoded again.
 */
export function bytesWireFrame(parts: readonly Uint8Array[], opcode: number, compressed: boolean): Buffer {
  let payloadLength = 0
  for (const part of parts) payloadLength += part.byteLength
  const wire = withHeader(opcode, compressed, payloadLength)
  let offset = wire.byteLength - payloadLength
  for (const part of parts) {
    wire.set(part, offset)
    offset += part.byteLength
  }
  return wire
}

/** {@link bytesWireFrame} for a text frame in UTF-8 pieces, checked against the length its `Frame` gives. */
export function partsWireFrame(parts: readonly Uint8Array[], byteLength: number): Buffer {
  let length = 0
  for (const part of parts) length += part.byteLength
  // Pieces that fall short of the frame's length would make every size check about it wrong: fail where the bug is.
  if (length !== byteLength) throw new Error(`Frame parts are ${length} bytes, not ${byteLength}`)
  return bytesWireFrame(parts, TEXT_OPCODE, false)
}
