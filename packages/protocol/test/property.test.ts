import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CLIENT_MESSAGE_TYPES,
  ERROR_CODE_LIST,
  ProtocolError,
  SERVER_MESSAGE_TYPES,
  decode,
  directionOf,
  encode,
  type DecodeResult,
  type Direction,
  type ErrorCode,
  type Message,
} from '@parley/protocol'
import { loadVectors } from '../test-vectors/index.js'
import {
  JSON_SLOTS,
  REQUIRED_FIELDS,
  clientMessageArbs,
  directedMessageArb,
  serverMessageArbs,
} from './helpers/arbitraries.js'
import { expectExactly } from './helpers/exact.js'
import { depthOf, hasLoneSurrogate, hasNonFiniteNumber, hasProtoKey } from './helpers/tree.js'

const DIRECTIONS = ['client', 'server'] as const
const directionArb = fc.constantFrom(...DIRECTIONS)
const TYPES: Readonly<Record<Direction, readonly string[]>> = { client: CLIENT_MESSAGE_TYPES, server: SERVER_MESSAGE_TYPES }

/**
 * What every decode result must look like, whatever the input: a message of the direction's types that encodes and
 * decodes back to itself, or a ProtocolError with a known code and a message.
 */
function expectWellFormed(result: DecodeResult, from: Direction, limits?: DecodeLimits): void {
  if (result.ok) {
    expect(TYPES[from]).toContain(result.message.type)
    // Every decoded message round-trips (an overflowing literal such as 1e400 is refused, never decoded as Infinity).
    expect(hasNonFiniteNumber(result.message)).toBe(false)
    const frame = limits === undefined ? encode(result.message) : encode(result.message, { limits })
    expectExactly(decode(frame, limits === undefined ? { from } : { from, limits }), result)
  } else {
    expect(result.error).toBeInstanceOf(ProtocolError)
    expect(ERROR_CODE_LIST).toContain(result.error.code)
    expect(result.error.message.length).toBeGreaterThan(0)
  }
}

/** Decodes without letting a throw escape unnoticed: fast-check reports the input that threw. */
function decodeChecked(frame: unknown, from: Direction, limits?: DecodeLimits, version?: number): DecodeResult {
  const result = decode(frame, limits === undefined ? { from, version } : { from, limits, version })
  expectWellFormed(result, from, limits)
  return result
}

type DecodeLimits = { maxPayload?: number; maxDepth?: number }

/** Any UTF-16 code unit, lone surrogates included. */
const utf16UnitArb = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code))
/** Characters JSON cares about, so random text often comes close to JSON. */
const jsonishUnitArb = fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', 'u', 'd', '8', '0', 't', 'y', 'p', 'e', ' ', '_')

describe('decode never throws', () => {
  it('for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), directionArb, (text, from) => void decodeChecked(text, from)), { numRuns: 300 })
  })

  it('for arbitrary unicode strings, lone surrogates included', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: utf16UnitArb })),
        directionArb,
        (text, from) => void decodeChecked(text, from),
      ),
      { numRuns: 300 },
    )
  })

  it('for JSON-like character soup', () => {
    fc.assert(fc.property(fc.string({ unit: jsonishUnitArb, maxLength: 80 }), directionArb, (text, from) => void decodeChecked(text, from)), {
      numRuns: 300,
    })
  })

  it('for arbitrary JSON values, stringified', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), directionArb, (value, from) => void decodeChecked(JSON.stringify(value), from)),
      { numRuns: 300 },
    )
  })

  it('for arbitrary JSON objects with a known type and random fields', () => {
    const typed = directionArb.chain((from) =>
      fc.record({
        from: fc.constant(from),
        type: fc.constantFrom(...TYPES[from]),
        fields: fc.dictionary(
          fc.constantFrom('room', 'id', 'data', 'seq', 'epoch', 'from', 'ts', 'key', 'value', 'ttlMs', 'token', 'members', 'recovery', 'x'),
          fc.jsonValue({ maxDepth: 2 }),
        ),
      }),
    )
    let decoded = 0
    fc.assert(
      fc.property(typed, ({ from, type, fields }) => {
        if (decodeChecked(JSON.stringify({ ...fields, type }), from).ok) decoded++
      }),
      { numRuns: 500 },
    )
    expect(decoded).toBeGreaterThan(0)
  })

  it('for arbitrary bytes and other non-string frames', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), directionArb, (bytes, from) => {
        const result = decodeChecked(bytes, from, undefined, 1)
        expect(result.ok ? 'ok' : result.error.code).toBe('UNSUPPORTED_DATA')
        expect(decodeChecked(bytes.buffer, from, undefined, 1).ok).toBe(false)
      }),
      { numRuns: 100 },
    )
    // v2 reads binary frames: arbitrary bytes are refused with a code, never a throw.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), directionArb, (bytes, from) => {
        const result = decodeChecked(bytes, from, undefined, 2)
        if (!result.ok) expect(['INVALID_BINARY_FRAME', 'INVALID_JSON', 'INVALID_UNICODE', 'UNKNOWN_TYPE', 'MISSING_FIELD', 'INVALID_FIELD', 'ROOM_NAME_INVALID', 'NESTING_TOO_DEEP', 'FORBIDDEN_KEY']).toContain(result.error.code)
      }),
      { numRuns: 300 },
    )
    // A valid header, then arbitrary bytes: always a publish carrying exactly those bytes.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const header = new TextEncoder().encode('{"type":"publish","room":"r","data":null}')
        const frame = new Uint8Array(4 + header.byteLength + tail.byteLength)
        new DataView(frame.buffer).setUint32(0, header.byteLength)
        frame.set(header, 4)
        frame.set(tail, 4 + header.byteLength)
        const result = decodeChecked(frame, 'client', undefined, 2)
        expect(result.ok && result.message.type === 'publish' ? [...(result.message.bytes ?? [])] : 'refused').toEqual([...tail])
      }),
      { numRuns: 100 },
    )
    fc.assert(
      fc.property(fc.anything({ withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true }), directionArb, (value, from) => {
        if (typeof value === 'string') return
        const result = decodeChecked(value, from, undefined, 1)
        expect(result.ok ? 'ok' : result.error.code).toBe('UNSUPPORTED_DATA')
      }),
      { numRuns: 200 },
    )
  })

  it('for deeply nested arrays and objects, up to and past maxPayload', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40_000 }), fc.boolean(), directionArb, (depth, objects, from) => {
        const open = objects ? '{"a":' : '['
        const close = objects ? '}' : ']'
        const nested = `${open.repeat(depth)}1${close.repeat(depth)}`
        const frame = `{"type":"ping","deep":${nested}}`
        const result = decodeChecked(frame, from, { maxPayload: 1 << 20 })
        if (depth + 1 > 32) expect(result.ok ? 'ok' : result.error.code).toBe('NESTING_TOO_DEEP')
      }),
      { numRuns: 40 },
    )
    // Far past any sane depth, limited only by a raised maxPayload: no stack overflow.
    const depth = 500_000
    const result = decodeChecked('['.repeat(depth) + ']'.repeat(depth), 'client', { maxPayload: 2 * depth })
    expect(result.ok ? 'ok' : result.error.code).toBe('NESTING_TOO_DEEP')
  })

  it('for objects with __proto__ keys anywhere', () => {
    const withProto = fc
      .tuple(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 2 }), fc.nat())
      .map(([host, payload, at]) => {
        const message = { type: 'publish', room: 'general', data: JSON.parse(JSON.stringify(host)) as unknown }
        const objects: object[] = []
        const stack: unknown[] = [message]
        while (stack.length > 0) {
          const value = stack.pop()
          if (typeof value !== 'object' || value === null) continue
          if (!Array.isArray(value)) objects.push(value)
          stack.push(...Object.values(value))
        }
        // An own "__proto__" key, as JSON.parse creates from the wire, and JSON.stringify writes back out.
        Object.defineProperty(objects[at % objects.length], '__proto__', { value: payload, enumerable: true, configurable: true, writable: true })
        return JSON.stringify(message)
      })
    fc.assert(
      fc.property(withProto, directionArb, (frame, from) => {
        const result = decodeChecked(frame, from)
        expect(result.ok ? 'ok' : result.error.code, frame).toBe('FORBIDDEN_KEY')
      }),
      { numRuns: 300 },
    )
  })

  // JSON.parse reads an overflowing literal such as 1e400 as Infinity; decode refuses it anywhere in the message, so
  // it never hands out a message that encode would refuse (or that JSON.stringify would turn into null).
  it('refuses a number literal that overflows to Infinity inside data', () => {
    for (const frame of [
      '{"type":"publish","room":"general","data":1e400}',
      '{"type":"join","room":"general","presence":{"n":-1e999}}',
    ]) {
      expect(decode(frame, { from: 'client' }).ok, frame).toBe(false)
    }
    expect(decode('{"type":"direct","from":null,"ts":1,"data":[1e309]}', { from: 'server' }).ok).toBe(false)
  })

  it('for valid frames with random edits', () => {
    const frames = loadVectors().valid.map((v) => ({ from: v.from, frame: v.frame }))
    const edited = fc
      .tuple(fc.constantFrom(...frames), fc.nat(), fc.nat({ max: 3 }), fc.string({ unit: fc.oneof(jsonishUnitArb, utf16UnitArb), maxLength: 3 }))
      .map(([{ from, frame }, at, cut, insert]) => {
        const index = at % (frame.length + 1)
        return { from, frame: frame.slice(0, index) + insert + frame.slice(index + cut) }
      })
    fc.assert(fc.property(edited, ({ from, frame }) => void decodeChecked(frame, from)), { numRuns: 1_000 })
  })
})

/**
 * Tree faults found by an independent walk of the parsed frame, against decode's verdict. decode may skip its own
 * walk when the raw text proves it clean, so frames are built to sit on both sides of that shortcut: lone
 * surrogates escaped (`\udXXX`) or raw, `__proto__` keys spelled plainly or with an escape, brackets in strings.
 */
describe('tree faults are never missed, and never invented', () => {
  const keyArb = fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', '_', '{', '[', 'é', '😀'), maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '__proto', '\ud800', '\udc00') },
  )
  const textArb = fc.string({ unit: fc.oneof(fc.constantFrom('x', '{', '[', ']', '}', '"', '😀', 'é', '_'), utf16UnitArb), maxLength: 6 })
  const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      textArb,
      fc.integer(),
      fc.constant(null),
      fc.array(tie('tree'), { maxLength: 3 }),
      fc.array(fc.tuple(keyArb, tie('tree')), { maxLength: 3 }).map((entries) => {
        const object: Record<string, unknown> = {}
        for (const [key, value] of entries) Object.defineProperty(object, key, { value, enumerable: true, configurable: true, writable: true })
        return object
      }),
    ),
  }))
  const LONE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(d[89a-f][0-9a-f]{2})/g
  const frameArb = fc
    .tuple(tree, fc.constantFrom('escaped', 'raw', 'proto-escaped'), directionArb, fc.integer({ min: 1, max: 8 }))
    .map(([data, spelling, from, maxDepth]) => {
      let frame = JSON.stringify({ type: from === 'client' ? 'publish' : 'direct', room: 'general', from: null, ts: 1, data })
      // JSON.stringify escapes lone surrogates; put them back raw so that only the frame text itself shows them.
      if (spelling === 'raw') frame = frame.replace(LONE_ESCAPE, (_all, slashes: string, hex: string) => slashes + String.fromCharCode(parseInt(hex, 16)))
      if (spelling === 'proto-escaped') frame = frame.replaceAll('"__proto__"', '"\\u005f_proto__"')
      return { frame, from, maxDepth }
    })

  it('finds every lone surrogate, __proto__ key and over-deep nesting, and only those', () => {
    const seen = { clean: 0, faulty: 0 }
    fc.assert(
      fc.property(frameArb, ({ frame, from, maxDepth }) => {
        const parsed: unknown = JSON.parse(frame)
        const faulty = hasLoneSurrogate(parsed) || hasProtoKey(parsed) || depthOf(parsed) > maxDepth
        const result = decodeChecked(frame, from, { maxDepth })
        const code = result.ok ? 'ok' : result.error.code
        if (faulty) expect(['INVALID_UNICODE', 'FORBIDDEN_KEY', 'NESTING_TOO_DEEP'], frame).toContain(code)
        else expect(['INVALID_UNICODE', 'FORBIDDEN_KEY', 'NESTING_TOO_DEEP'], frame).not.toContain(code)
        seen[faulty ? 'faulty' : 'clean']++
      }),
      { numRuns: 2_000 },
    )
    expect(seen.clean).toBeGreaterThan(100)
    expect(seen.faulty).toBeGreaterThan(100)
  })
})

describe('encode → decode round-trips every message type', () => {
  const each = [
    ...Object.entries(clientMessageArbs).map(([type, arb]) => ({ from: 'client' as const, type, arb: arb as fc.Arbitrary<Message> })),
    ...Object.entries(serverMessageArbs).map(([type, arb]) => ({ from: 'server' as const, type, arb: arb as fc.Arbitrary<Message> })),
  ]

  it('has an arbitrary for every type of both directions', () => {
    expect(Object.keys(clientMessageArbs).sort()).toEqual([...CLIENT_MESSAGE_TYPES].sort())
    expect(Object.keys(serverMessageArbs).sort()).toEqual([...SERVER_MESSAGE_TYPES].sort())
  })

  for (const { from, type, arb } of each) {
    it(`${from} ${type}`, () => {
      fc.assert(
        fc.property(arb, (message) => {
          expect(message.type).toBe(type)
          const frame = encode(message)
          // fast-check builds some records without a prototype; decoded messages are ordinary objects.
          const expected = structuredClone(message)
          expectExactly(JSON.parse(frame), expected)
          expectExactly(decode(frame, { from }), { ok: true, message: expected })
        }),
        { numRuns: 150 },
      )
    })
  }

  it('drops unknown fields on the way out', () => {
    fc.assert(
      fc.property(directedMessageArb, fc.string({ minLength: 1 }), fc.jsonValue({ maxDepth: 2 }), ({ from, message }, key, value) => {
        // A `__proto__` key anywhere in the value is refused (FORBIDDEN_KEY), not dropped: another property covers it.
        fc.pre(!(key in message) && key !== '__proto__' && key !== 'from' && !hasProtoKey(value))
        const frame = encode({ ...message, [key]: value } as Message)
        expect(Object.keys(JSON.parse(frame) as object)).not.toContain(key)
        expectExactly(decode(frame, { from }), { ok: true, message: structuredClone(message) })
      }),
      { numRuns: 200 },
    )
  })
})

/** Values JSON cannot carry, or that decoders refuse: each makes any message invalid wherever it is put. */
const poisonArb: fc.Arbitrary<{ value: unknown; codes: readonly ErrorCode[] }> = fc.oneof(
  fc
    .constantFrom<() => unknown>(
      () => 10n,
      () => Symbol('s'),
      () => () => 1,
      () => Number.NaN,
      () => Number.POSITIVE_INFINITY,
      () => Number.NEGATIVE_INFINITY,
      () => new Date(0),
      () => new Map([[1, 2]]),
      () => new Set([1]),
      () => new (class Point {
        x = 1
      })(),
      () => [1, undefined],
      // eslint-disable-next-line no-sparse-arrays
      () => [1, , 3],
      () => new Uint8Array(2),
      () => /regex/,
    )
    .map((make) => ({ value: make(), codes: ['INVALID_FIELD'] as const })),
  fc.constantFrom('\ud800', 'x\udc00', '\ude00\ud83d').map((value) => ({ value, codes: ['INVALID_UNICODE'] as const })),
  fc.constant(null).map(() => ({ value: JSON.parse('{"__proto__":{"polluted":true}}') as unknown, codes: ['FORBIDDEN_KEY'] as const })),
  fc.constant(null).map(() => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic['self'] = cyclic
    return { value: cyclic, codes: ['NESTING_TOO_DEEP'] as const }
  }),
  fc.integer({ min: 40, max: 200 }).map((depth) => {
    let value: unknown = 1
    for (let i = 0; i < depth; i++) value = [value]
    return { value, codes: ['NESTING_TOO_DEEP'] as const }
  }),
)

/** Throws what `encode` throws, or fails the property when it returns. */
function encodeError(message: unknown): unknown {
  try {
    encode(message as Message)
  } catch (error) {
    return error
  }
  throw new Error(`encode accepted an invalid message: ${String((message as { type?: unknown } | null)?.type)}`)
}

describe('encode throws ProtocolError, and only ProtocolError, for invalid messages', () => {
  it('when a required field is missing', () => {
    fc.assert(
      fc.property(directedMessageArb, fc.nat(), ({ from, message }, at) => {
        const required = ['type', ...(REQUIRED_FIELDS[from][message.type as never] as readonly string[])]
        const field = required[at % required.length] as string
        // encode infers the direction from the message: a server signal without `from` is a client signal to it, and
        // a server history without `messages` a client history request.
        fc.pre(!(message.type === 'signal' && field === 'from') && !(message.type === 'history' && field === 'messages') && !(message.type === 'members' && field === 'members'))
        const { [field]: _dropped, ...rest } = message as unknown as Record<string, unknown>
        const error = encodeError(rest)
        expect(error).toBeInstanceOf(ProtocolError)
        expect((error as ProtocolError).code).toBe(field === 'type' ? 'UNKNOWN_TYPE' : 'MISSING_FIELD')
      }),
      { numRuns: 300 },
    )
  })

  it('when a value JSON cannot carry (or decoders refuse) is anywhere in it', () => {
    fc.assert(
      fc.property(directedMessageArb, poisonArb, fc.nat(), ({ message }, { value, codes }, at) => {
        const copy = { ...(message as unknown as Record<string, unknown>) }
        const slots = Object.keys(copy).filter((key) => JSON_SLOTS.has(key))
        // In a JSON slot (nested one level down) when there is one, else in an unknown extra field.
        if (slots.length > 0) copy[slots[at % slots.length] as string] = { nested: [value] }
        else copy['extra'] = value
        const error = encodeError(copy)
        expect(error).toBeInstanceOf(ProtocolError)
        expect(codes).toContain((error as ProtocolError).code)
      }),
      { numRuns: 300 },
    )
  })

  it('when a protocol field has a value no field accepts', () => {
    fc.assert(
      fc.property(directedMessageArb, fc.nat(), fc.constantFrom<unknown>({}, [{}], -1.5), ({ message }, at, value) => {
        const keys = Object.keys(message).filter((key) => !JSON_SLOTS.has(key))
        const key = keys[at % keys.length] as string
        const error = encodeError({ ...message, [key]: value })
        expect(error).toBeInstanceOf(ProtocolError)
        expect(['UNKNOWN_TYPE', 'MISSING_FIELD', 'INVALID_FIELD', 'ROOM_NAME_INVALID']).toContain((error as ProtocolError).code)
      }),
      { numRuns: 300 },
    )
  })

  it('when the encoded frame is over maxPayload', () => {
    fc.assert(
      fc.property(directedMessageArb, ({ message }) => {
        const size = new TextEncoder().encode(encode(message)).length
        expect(encode(message, { limits: { maxPayload: size } })).toBe(encode(message))
        const error = (() => {
          try {
            encode(message, { limits: { maxPayload: size - 1 } })
          } catch (caught) {
            return caught
          }
          return undefined
        })()
        expect(error).toBeInstanceOf(ProtocolError)
        expect((error as ProtocolError).code).toBe('PAYLOAD_TOO_LARGE')
      }),
      { numRuns: 200 },
    )
  })

  it('for arbitrary non-null values: either a frame that decodes back, or a ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true, withBigInt: true }),
        (value) => {
          fc.pre(value !== null)
          let frame: string
          try {
            frame = encode(value as Message)
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError)
            return
          }
          expect(decode(frame, { from: directionOf(value as Message) }).ok).toBe(true)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('for null (a ProtocolError, not a TypeError)', () => {
    expect(encodeError(null)).toBeInstanceOf(ProtocolError)
  })
})
