import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, ProtocolError, decode, directionOf, encode, type Message } from '@parley/protocol'

describe('decode input kinds', () => {
  it.each([
    ['Uint8Array', new Uint8Array([123, 125])],
    ['Buffer', Buffer.from('{"type":"ping"}')],
    ['ArrayBuffer', new ArrayBuffer(4)],
    ['DataView', new DataView(new ArrayBuffer(4))],
  ])('refuses a binary frame (%s) as UNSUPPORTED_DATA at version 1', (_kind, frame) => {
    const result = decode(frame, { from: 'client', version: 1 })
    expect(result.ok ? undefined : result.error).toMatchObject({ code: 'UNSUPPORTED_DATA', details: { received: 'a binary frame' } })
  })

  it.each([[undefined], [null], [42], [{ type: 'ping' }], [['{"type":"ping"}']]])('refuses a non-frame %j', (frame) => {
    const result = decode(frame, { from: 'server' })
    expect(result.ok ? 'ok' : result.error.code).toBe('UNSUPPORTED_DATA')
  })

  it('applies the default maxPayload when no limits are given', () => {
    const fits = JSON.stringify({ type: 'ping', pad: '' })
    const frame = JSON.stringify({ type: 'ping', pad: 'x'.repeat(DEFAULT_LIMITS.maxPayload - fits.length) })
    expect(Buffer.byteLength(frame)).toBe(DEFAULT_LIMITS.maxPayload)
    expect(decode(frame, { from: 'client' }).ok).toBe(true)
    const over = decode(frame + ' ', { from: 'client' })
    expect(over.ok ? 'ok' : over.error.code).toBe('PAYLOAD_TOO_LARGE')
  })

  it('applies partial limits over the defaults', () => {
    const frame = '{"type":"join","room":"abcdefghi"}'
    expect(decode(frame, { from: 'client', limits: { maxRoomNameLength: 9 } }).ok).toBe(true)
    const result = decode(frame, { from: 'client', limits: { maxRoomNameLength: 8 } })
    expect(result.ok ? 'ok' : result.error.code).toBe('ROOM_NAME_INVALID')
    const id = decode('{"type":"ping","id":"abcd"}', { from: 'client', limits: { maxIdLength: 3 } })
    expect(id.ok ? 'ok' : id.error.code).toBe('INVALID_FIELD')
    const token = decode('{"type":"authenticate","token":"abcd"}', { from: 'client', limits: { maxTokenLength: 3 } })
    expect(token.ok ? 'ok' : token.error.code).toBe('INVALID_FIELD')
  })

  it('returns fresh objects that hold known fields only', () => {
    const first = decode('{"type":"ping","id":"a","extra":1}', { from: 'client' })
    const second = decode('{"type":"ping","id":"a","extra":1}', { from: 'client' })
    expect(first).toEqual(second)
    expect(first.ok && second.ok && first.message !== second.message).toBe(true)
    expect(first.ok ? Object.keys(first.message) : []).toEqual(['type', 'id'])
  })
})

describe('encode', () => {
  it('writes compact JSON of the known fields, leaving its input untouched', () => {
    const message = { type: 'publish', room: 'general', data: { a: [1, 2] }, extra: true } as Message
    const copy = structuredClone(message)
    expect(encode(message)).toBe('{"type":"publish","room":"general","data":{"a":[1,2]}}')
    expect(message).toEqual(copy)
  })

  it('leaves undefined optional properties out, as JSON.stringify does', () => {
    const message = { type: 'ping', id: undefined, ts: undefined } as unknown as Message
    expect(encode(message)).toBe('{"type":"ping"}')
  })

  it('accepts frozen and null-prototype messages', () => {
    const bare = Object.assign(Object.create(null) as object, { type: 'leave', room: 'general' }) as Message
    expect(encode(Object.freeze(bare))).toBe('{"type":"leave","room":"general"}')
  })

  it('tells the direction of a signal by its from field', () => {
    expect(directionOf({ type: 'signal', room: 'r', key: 'k', value: 1 })).toBe('client')
    expect(directionOf({ type: 'signal', room: 'r', from: 'u', key: 'k', value: 1, ttlMs: 0 })).toBe('server')
    expect(encode({ type: 'signal', room: 'r', from: 'u', key: 'k', value: 1, ttlMs: 0 })).toBe(
      '{"type":"signal","room":"r","from":"u","key":"k","value":1,"ttlMs":0}',
    )
  })

  it('refuses a lone surrogate, a __proto__ key and a value JSON would mangle, naming the fault', () => {
    const attempts: Array<[unknown, string]> = [
      [{ type: 'publish', room: 'r', data: 'a\ud800' }, 'INVALID_UNICODE'],
      [{ type: 'publish', room: 'r', data: JSON.parse('{"__proto__":1}') as unknown }, 'FORBIDDEN_KEY'],
      [{ type: 'publish', room: 'r', data: Number.NaN }, 'INVALID_FIELD'],
      [{ type: 'publish', room: 'r', data: new Date(0) }, 'INVALID_FIELD'],
      [{ type: 'publish', room: 'r', data: [undefined] }, 'INVALID_FIELD'],
    ]
    for (const [message, code] of attempts) {
      expect(() => encode(message as Message)).toThrow(ProtocolError)
      try {
        encode(message as Message)
      } catch (error) {
        expect((error as ProtocolError).code).toBe(code)
      }
    }
  })

  it('applies maxDepth to what goes out', () => {
    const message: Message = { type: 'publish', room: 'r', data: [[1]] }
    expect(encode(message, { limits: { maxDepth: 3 } })).toBe('{"type":"publish","room":"r","data":[[1]]}')
    expect(() => encode(message, { limits: { maxDepth: 2 } })).toThrow(expect.objectContaining({ code: 'NESTING_TOO_DEEP' }))
  })
})

describe('errors never repeat a credential', () => {
  it('a refused token is described by its length, not its text, whatever the fault', () => {
    const secret = `SECRET${'x'.repeat(5_000)}`
    for (const token of [secret, '']) {
      const result = decode(JSON.stringify({ type: 'authenticate', token, id: 'a1' }), { from: 'client' })
      expect(result.ok).toBe(false)
      if (result.ok) continue
      expect(result.error.message).toBe(`authenticate.token: expected ${result.error.details.expected}, got a string of ${token.length} characters`)
      expect(result.error.message).not.toContain('SECRET')
    }
  })
})
