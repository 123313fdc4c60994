import { describe, expect, it } from 'vitest'
import { decode, encode, encodeBinary, ProtocolError, type Message } from '@parley/protocol'
import { decodeOptionsOf, frameOf, loadVectors } from '../test-vectors/index.js'
import { expectExactly } from './helpers/exact.js'

const { valid, invalid } = loadVectors(2)
const v1 = loadVectors(1)

describe('v2 valid vectors decode to exactly their decoded form', () => {
  for (const vector of valid) {
    it(`${vector.file} ${vector.name}`, () => {
      expectExactly(decode(frameOf(vector), decodeOptionsOf(vector)), { ok: true, message: vector.decoded })
    })
  }
})

describe('v2 valid vectors re-encode, in the form they came in, and decode back equal', () => {
  for (const vector of valid) {
    it(`${vector.file} ${vector.name}`, () => {
      const message = vector.decoded as Message
      const frame = vector.binary === true ? encodeBinary(message) : encode(message)
      if (vector.binary === true) expect(frame).toBeInstanceOf(Uint8Array)
      expectExactly(decode(frame, { from: vector.from, version: 2 }), { ok: true, message: vector.decoded })
    })
  }
})

// v2's invalid vectors run in vectors.test.ts, beside v1's.
describe('v2 invalid vectors', () => {
  it('are there, of each layer', () => {
    expect(invalid.some((vector) => vector.layer === 'frame' && vector.error === 'INVALID_BINARY_FRAME')).toBe(true)
    expect(invalid.some((vector) => vector.layer === 'message')).toBe(true)
  })
})

describe('v1 vectors under v2', () => {
  it('every valid v1 vector decodes the same at version 2 (v2 only adds)', () => {
    for (const vector of v1.valid) expectExactly(decode(frameOf(vector), { ...decodeOptionsOf(vector), version: 2 }), decode(frameOf(vector), decodeOptionsOf(vector)))
  })

  it('a binary frame is UNSUPPORTED_DATA at version 1 and a v2 frame at version 2', () => {
    const binary = valid.find((vector) => vector.binary === true && vector.from === 'client')
    expect(binary).toBeDefined()
    const frame = frameOf(binary!)
    expect(decode(frame, { from: 'client', version: 1 })).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_DATA' } })
    expect(decode(frame, { from: 'client', version: 2 }).ok).toBe(true)
  })

  it("a publish's text-form bytes are ignored at version 1, as v1 ignores fields it does not know", () => {
    const result = decode(JSON.stringify({ type: 'publish', room: 'r', data: 1, bytes: 'AAE=' }), { from: 'client', version: 1 })
    expectExactly(result, { ok: true, message: { type: 'publish', room: 'r', data: 1 } })
    // Whatever it holds: v1 does not look at it, so it cannot be invalid there (at version 2 it is).
    for (const bytes of [5, 'not base64', null, { a: 1 }]) {
      expectExactly(decode(JSON.stringify({ type: 'publish', room: 'r', data: 1, bytes }), { from: 'client', version: 1 }), { ok: true, message: { type: 'publish', room: 'r', data: 1 } })
      expect(decode(JSON.stringify({ type: 'publish', room: 'r', data: 1, bytes }), { from: 'client', version: 2 })).toMatchObject({ ok: false, error: { code: 'INVALID_FIELD' } })
    }
  })

  it("a server's message keeps its base64 bytes at version 1: the fallback form a v1 member gets", () => {
    const result = decode(JSON.stringify({ type: 'message', room: 'r', seq: 1, epoch: 'e', from: null, ts: 1, bytes: 'AAE=', data: null }), { from: 'server', version: 1 })
    expectExactly(result, { ok: true, message: { type: 'message', room: 'r', seq: 1, epoch: 'e', from: null, ts: 1, bytes: new Uint8Array([0, 1]), data: null } })
  })
})

describe('encode and encodeBinary with bytes', () => {
  const message: Message = { type: 'message', room: 'r', seq: 1, epoch: 'e', from: null, ts: 1, bytes: new Uint8Array([1, 2, 3]), data: { a: 1 } }

  it('encode writes the text form: bytes as base64 before data, and dataJson still splices', () => {
    expect(encode(message)).toBe('{"type":"message","room":"r","seq":1,"epoch":"e","from":null,"ts":1,"bytes":"AQID","data":{"a":1}}')
    expect(encode(message, { dataJson: '{"a":1}' })).toBe(encode(message))
  })

  it('encodeBinary writes the header without bytes, then the bytes', () => {
    const frame = encodeBinary(message, { dataJson: '{"a":1}' })
    const header = '{"type":"message","room":"r","seq":1,"epoch":"e","from":null,"ts":1,"data":{"a":1}}'
    expect(new DataView(frame.buffer, frame.byteOffset).getUint32(0)).toBe(header.length)
    expect(new TextDecoder().decode(frame.subarray(4, 4 + header.length))).toBe(header)
    expect([...frame.subarray(4 + header.length)]).toEqual([1, 2, 3])
  })

  it('encodeBinary refuses a message without bytes and a frame over maxPayload', () => {
    expect(() => encodeBinary({ type: 'ping' })).toThrow(ProtocolError)
    expect(() => encodeBinary({ ...message, bytes: new Uint8Array(200) } as Message, { limits: { maxPayload: 200 } })).toThrow(/maxPayload/)
  })

  it('a decoded binary frame owns its bytes: changing the frame afterwards changes nothing', () => {
    const frame = encodeBinary({ type: 'publish', room: 'r', data: null, bytes: new Uint8Array([5, 6]) })
    const result = decode(frame, { from: 'client' })
    frame.fill(0)
    expect(result.ok && result.message.type === 'publish' ? [...(result.message.bytes ?? [])] : undefined).toEqual([5, 6])
  })
})
