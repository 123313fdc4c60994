import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import {
  CLIENT_MESSAGE_TYPES,
  DEFAULT_LIMITS,
  ProtocolError,
  SERVER_MESSAGE_TYPES,
  decode,
  encode,
  isErrorCode,
  resolveLimits,
  type ErrorCode,
} from '@parley/protocol'
import {
  VECTOR_FILES,
  decodeOptionsOf,
  frameOf,
  loadVectorFile,
  loadVectors,
  type InvalidVector,
} from '../test-vectors/index.js'
import { expectExactly } from './helpers/exact.js'
import { depthOf, hasLoneSurrogate, hasProtoKey } from './helpers/tree.js'

const { valid, invalid } = loadVectors()

/** Faults below the message structure, which no JSON Schema of the message can see. */
const FRAME_CODES: readonly ErrorCode[] = [
  'INVALID_JSON',
  'UNSUPPORTED_DATA',
  'PAYLOAD_TOO_LARGE',
  'NESTING_TOO_DEEP',
  'INVALID_UNICODE',
  'FORBIDDEN_KEY',
]
/** Structural faults. */
const MESSAGE_CODES: readonly ErrorCode[] = ['UNKNOWN_TYPE', 'MISSING_FIELD', 'INVALID_FIELD', 'ROOM_NAME_INVALID']

const parses = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

describe('valid vectors decode to exactly their decoded form', () => {
  for (const vector of valid) {
    it(`${vector.file} ${vector.name}`, () => {
      const result = decode(frameOf(vector), decodeOptionsOf(vector))
      expectExactly(result, { ok: true, message: vector.decoded })
    })
  }
})

describe('valid vectors re-encode and decode back equal', () => {
  for (const vector of valid) {
    it(`${vector.file} ${vector.name}`, () => {
      const frame = encode(vector.decoded)
      // encode writes the validated message only: nothing more, nothing less than the decoded form.
      expectExactly(JSON.parse(frame), vector.decoded)
      expectExactly(decode(frame, { from: vector.from }), { ok: true, message: vector.decoded })
    })
  }
})

// v1's here, v2's too (vectors-v2.test.ts has the rest of v2's): each decoded at its own version.
describe('invalid vectors are refused with their error code', () => {
  for (const vector of [...invalid, ...loadVectors(2).invalid]) {
    it(`${vector.file} (v${vector.version}) ${vector.name} → ${vector.error}`, () => {
      const result = decode(frameOf(vector), decodeOptionsOf(vector))
      expect(result.ok).toBe(false)
      if (result.ok) return
      expect(result.error).toBeInstanceOf(ProtocolError)
      expect(result.error.code).toBe(vector.error)
      if (vector.field !== undefined) expect(result.error.details.field).toBe(vector.field)
    })
  }
})

describe('vector set', () => {
  it('has at least 100 vectors, and every file has cases', () => {
    expect(valid.length + invalid.length).toBeGreaterThanOrEqual(100)
    for (const file of VECTOR_FILES) expect(loadVectorFile(file).length, file).toBeGreaterThan(0)
  })

  it('has a valid vector for every message type of both directions', () => {
    const clientTypes = new Set(valid.filter((v) => v.from === 'client').map((v) => v.decoded.type))
    const serverTypes = new Set(valid.filter((v) => v.from === 'server').map((v) => v.decoded.type))
    expect([...clientTypes].sort()).toEqual([...CLIENT_MESSAGE_TYPES].sort())
    expect([...serverTypes].sort()).toEqual([...SERVER_MESSAGE_TYPES].sort())
  })

  it('has an invalid vector for every wire-level error code', () => {
    const codes = new Set(invalid.map((v) => v.error))
    for (const code of [...FRAME_CODES, ...MESSAGE_CODES]) expect(codes, code).toContain(code)
  })

  it('names only known error codes', () => {
    for (const vector of invalid) expect(isErrorCode(vector.error), vector.name).toBe(true)
  })

  it('keeps each direction and layer in its own file', () => {
    for (const vector of valid) expect(vector.file, vector.name).toBe(`valid-${vector.from}.json`)
    for (const vector of invalid) {
      expect(vector.file, vector.name).toBe(vector.layer === 'frame' ? 'invalid-frame.json' : `invalid-${vector.from}.json`)
    }
    const frameFile = invalid.filter((v) => v.file === 'invalid-frame.json')
    expect(new Set(frameFile.map((v) => v.from))).toEqual(new Set(['client', 'server']))
  })

  it('classifies frame and message faults by code', () => {
    for (const vector of invalid) {
      expect(vector.layer === 'frame' ? FRAME_CODES : MESSAGE_CODES, `${vector.name} (${vector.layer})`).toContain(vector.error)
    }
  })

  it('gives every message-layer vector default limits and the field the decoder names', () => {
    for (const vector of invalid.filter((v) => v.layer === 'message')) {
      expect(vector.limits, vector.name).toBeUndefined()
      expect(vector.binary, vector.name).toBeUndefined()
      expect(vector.field, vector.name).toEqual(expect.any(String))
    }
  })

  it('shows unknown fields being dropped in both directions', () => {
    for (const from of ['client', 'server'] as const) {
      const dropping = valid.filter((v) => {
        const parsed = JSON.parse(v.frame) as Record<string, unknown>
        return v.from === from && Object.keys(parsed).length > Object.keys(v.decoded).length
      })
      expect(dropping.length, from).toBeGreaterThan(0)
    }
  })

  it('only lowers the default limits, so valid vectors with limits are valid under the defaults too', () => {
    const withLimits = valid.filter((v) => v.limits !== undefined)
    expect(withLimits.length).toBeGreaterThan(0)
    for (const vector of withLimits) {
      const limits = resolveLimits(vector.limits)
      for (const key of Object.keys(DEFAULT_LIMITS) as (keyof typeof DEFAULT_LIMITS)[]) {
        expect(limits[key], `${vector.name}.${key}`).toBeLessThanOrEqual(DEFAULT_LIMITS[key])
      }
      expectExactly(decode(vector.frame, { from: vector.from }), { ok: true, message: vector.decoded })
    }
  })

  it('uses limits in invalid vectors only where they change the outcome', () => {
    for (const vector of invalid.filter((v) => v.limits !== undefined)) {
      const underDefaults = decode(frameOf(vector), { from: vector.from })
      expect(underDefaults.ok ? 'ok' : underDefaults.error.code, vector.name).not.toBe(vector.error)
    }
  })
})

describe('frame-layer vectors hold the fault they claim', () => {
  const checks: Record<string, (vector: InvalidVector) => void> = {
    INVALID_JSON: (v) => expect(parses(v.frame)).toBe(false),
    UNSUPPORTED_DATA: (v) => {
      expect(v.binary).toBe(true)
      expect(frameOf(v)).toBeInstanceOf(Uint8Array)
    },
    PAYLOAD_TOO_LARGE: (v) => {
      const max = resolveLimits(v.limits).maxPayload
      expect(Buffer.byteLength(v.frame, 'utf8')).toBeGreaterThan(max)
    },
    NESTING_TOO_DEEP: (v) => expect(depthOf(JSON.parse(v.frame))).toBeGreaterThan(resolveLimits(v.limits).maxDepth),
    INVALID_UNICODE: (v) => expect(hasLoneSurrogate(JSON.parse(v.frame))).toBe(true),
    FORBIDDEN_KEY: (v) => expect(hasProtoKey(JSON.parse(v.frame))).toBe(true),
  }
  for (const vector of invalid.filter((v) => v.layer === 'frame')) {
    it(`${vector.name} (${vector.error})`, () => {
      const check = checks[vector.error]
      expect(check, `no check for ${vector.error}`).toBeDefined()
      check?.(vector)
      // Apart from binary ones, frame vectors are text the decoder sees as a string.
      if (vector.binary !== true) expect(typeof frameOf(vector)).toBe('string')
    })
  }

  it('checks size before anything else: an oversized frame that is not JSON is PAYLOAD_TOO_LARGE', () => {
    const oversizedGarbage = invalid.filter((v) => v.error === 'PAYLOAD_TOO_LARGE' && !parses(v.frame))
    expect(oversizedGarbage.length).toBeGreaterThan(0)
  })

  it('pins the maxPayload boundary in UTF-8 bytes with a pair of vectors on the same frame', () => {
    const atLimit = valid.filter((v) => v.limits?.maxPayload !== undefined)
    expect(atLimit.length).toBeGreaterThan(0)
    for (const vector of atLimit) {
      const bytes = Buffer.byteLength(vector.frame, 'utf8')
      expect(vector.limits?.maxPayload).toBe(bytes)
      // Counting characters instead of bytes would get this pair wrong.
      expect(vector.frame.length).toBeLessThan(bytes)
      const overByOne = invalid.find((v) => v.frame === vector.frame && v.limits?.maxPayload === bytes - 1)
      expect(overByOne?.error).toBe('PAYLOAD_TOO_LARGE')
    }
  })

  it('pins the default maxDepth with literal nesting on both sides of it', () => {
    const deepest = Math.max(...valid.map((v) => depthOf(JSON.parse(v.frame))))
    expect(deepest).toBe(DEFAULT_LIMITS.maxDepth)
    const literal = invalid.filter((v) => v.error === 'NESTING_TOO_DEEP' && v.limits === undefined)
    expect(literal.length).toBeGreaterThan(0)
    for (const vector of literal) expect(depthOf(JSON.parse(vector.frame))).toBe(DEFAULT_LIMITS.maxDepth + 1)
  })
})

describe('loader', () => {
  it('returns the same frozen set on every call', () => {
    const again = loadVectors()
    expect(again).toBe(loadVectors())
    expect(Object.isFrozen(again.valid)).toBe(true)
    expect(Object.isFrozen(again.valid[0]?.decoded)).toBe(true)
  })

  it('has unique kebab-case names across all files', () => {
    const names = [...valid, ...invalid].map((v) => v.name)
    expect(new Set(names).size).toBe(names.length)
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/)
  })

  it('turns binary vectors into bytes and leaves text frames as strings', () => {
    const binary = invalid.filter((v) => v.binary === true)
    expect(binary.length).toBeGreaterThan(0)
    for (const vector of binary) {
      const frame = frameOf(vector)
      expect(frame).toBeInstanceOf(Uint8Array)
      expect(Buffer.from(frame as Uint8Array).toString('base64')).toBe(vector.frame)
    }
    const text = valid[0]
    expect(text && frameOf(text)).toBe(text?.frame)
  })

  it('passes the version always, and limits only when a vector has them', () => {
    const limited = invalid.find((v) => v.limits !== undefined)
    const plain = invalid.find((v) => v.limits === undefined)
    expect(limited && decodeOptionsOf(limited)).toEqual({ from: limited?.from, version: 1, limits: limited?.limits })
    expect(plain && Object.keys(decodeOptionsOf(plain))).toEqual(['from', 'version'])
  })
})
