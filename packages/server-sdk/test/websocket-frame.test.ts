import * as wsModule from 'ws'
import { describe, expect, it } from 'vitest'
import { Frame } from '../src/transports/connection.js'
import { BINARY_OPCODE, TEXT_OPCODE, bytesWireFrame, partsWireFrame, textWireFrame } from '../src/transports/websocket-frame.js'

// The server's own frame builder against ws's (`Sender.frame`, RFC 6455 §5.2), byte for byte, in every length class.
const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] }
}

function wsFrame(payload: Buffer, opcode: number, rsv1: boolean): Buffer {
  return Buffer.concat(Sender.frame(payload, { fin: true, opcode, mask: false, readOnly: true, rsv1 }))
}

const LENGTHS = [0, 1, 124, 125, 126, 127, 4_095, 4_096, 65_535, 65_536, 70_000]

describe('textWireFrame', () => {
  it.each(LENGTHS)('frames %i bytes of ASCII exactly as ws does', (length) => {
    const text = 'a'.repeat(length)
    expect(textWireFrame(text, length).equals(wsFrame(Buffer.from(text), TEXT_OPCODE, false))).toBe(true)
  })

  it('frames multi-byte UTF-8 by its byte length, not its UTF-16 length', () => {
    for (const text of ['é', '€'.repeat(42), '😀'.repeat(32), `${'x'.repeat(120)}ü€😀`, '中'.repeat(21_846)]) {
      const bytes = Buffer.from(text, 'utf8')
      const wire = textWireFrame(text, bytes.byteLength)
      expect(wire.equals(wsFrame(bytes, TEXT_OPCODE, false)), `${text.length} units`).toBe(true)
    }
  })

  it('throws on a byte length the text does not fill, instead of sending uninitialised memory', () => {
    expect(() => textWireFrame('héllo', 7)).toThrow(/6 bytes in UTF-8, not 7/)
  })
})

describe('bytesWireFrame', () => {
  it.each(LENGTHS)('frames %i binary bytes, plain and compressed, exactly as ws does', (length) => {
    const payload = Buffer.alloc(length, 7)
    expect(bytesWireFrame([payload], BINARY_OPCODE, false).equals(wsFrame(payload, BINARY_OPCODE, false))).toBe(true)
    expect(bytesWireFrame([payload], TEXT_OPCODE, true).equals(wsFrame(payload, TEXT_OPCODE, true))).toBe(true)
  })

  it('copies from a view into a larger buffer, not the whole buffer', () => {
    const backing = Buffer.from('0123456789')
    const wire = bytesWireFrame([backing.subarray(3, 6)], BINARY_OPCODE, false)
    expect([...wire]).toEqual([0x82, 3, ...Buffer.from('345')])
  })
})

describe('partsWireFrame', () => {
  it.each([[['{"a":', '[1,2]', '}']], [['', 'é€😀'.repeat(40), 'x'.repeat(65_536)]], [['x'.repeat(125)]], [['x'.repeat(63), 'y'.repeat(63)]]])(
    'frames text held as UTF-8 pieces exactly as the whole text (%#)',
    (pieces) => {
      const text = pieces.join('')
      const frame = new Frame(text, undefined, pieces.map((piece) => Buffer.from(piece, 'utf8')))
      expect(frame.byteLength).toBe(Buffer.byteLength(text))
      expect(Buffer.from(frame.bytes).equals(Buffer.from(text, 'utf8'))).toBe(true)
      expect(partsWireFrame(frame.utf8Parts ?? [], frame.byteLength).equals(wsFrame(Buffer.from(text, 'utf8'), TEXT_OPCODE, false))).toBe(true)
    },
  )

  it('throws on pieces shorter than the length given', () => {
    expect(() => partsWireFrame([Buffer.from('abc')], 4)).toThrow(/3 bytes, not 4/)
  })
})
