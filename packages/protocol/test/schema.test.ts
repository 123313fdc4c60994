import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CLIENT_MESSAGE_TYPES,
  DEFAULT_LIMITS,
  ID_PATTERN,
  MAX_SIGNAL_TTL_MS,
  ROOM_NAME_PATTERN,
  SERVER_MESSAGE_TYPES,
  decode,
  type Direction,
  type JsonValue,
  type Message,
} from '@parley/protocol'
import { frameOf, loadVectors, type InvalidVector } from '../test-vectors/index.js'
import { JSON_SLOTS, REQUIRED_FIELDS, directedMessageArb, jsonArb } from './helpers/arbitraries.js'
import { ajv, defValidator, schema, validators, type SchemaDef } from './helpers/schema.js'
import { hasProtoKey } from './helpers/tree.js'

const { valid, invalid } = loadVectors()

const TYPES: Readonly<Record<Direction, readonly string[]>> = { client: CLIENT_MESSAGE_TYPES, server: SERVER_MESSAGE_TYPES }

const defName = (ref: string): string => ref.replace('#/$defs/', '')
const def = (name: string): SchemaDef => {
  const found = schema.$defs[name]
  if (found === undefined) throw new Error(`no $defs/${name}`)
  return found
}
/** The message `$defs` of a direction, by the `type` each one fixes. */
const messageDefs = (from: Direction): Map<string, string> => {
  const union = def(`${from}Message`)
  const map = new Map<string, string>()
  for (const option of union.oneOf ?? []) {
    const name = defName(option.$ref)
    const type = def(name).properties?.['type']?.const
    if (type !== undefined) map.set(type, name)
  }
  return map
}

const parseOrUndefined = (text: string): { value: unknown } | undefined => {
  try {
    return { value: JSON.parse(text) as unknown }
  } catch {
    return undefined
  }
}

describe('schema document', () => {
  it('is a valid draft 2020-12 schema that compiles in strict mode', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(ajv.validateSchema(schema)).toBe(true)
    expect(typeof validators.root).toBe('function')
  })

  it('has one $defs entry per message type of each direction, told apart by a type const', () => {
    for (const from of ['client', 'server'] as const) {
      const defs = messageDefs(from)
      expect([...defs.keys()].sort(), from).toEqual([...TYPES[from]].sort())
      expect(def(`${from}Message`).oneOf?.length, from).toBe(TYPES[from].length)
    }
  })

  it('describes signal differently in each direction', () => {
    const client = messageDefs('client').get('signal')
    const server = messageDefs('server').get('signal')
    expect(client).toBeDefined()
    expect(server).toBeDefined()
    expect(client).not.toBe(server)
    expect(def(server as string).required).toContain('from')
    expect(def(client as string).properties).not.toHaveProperty('from')
  })

  it('gives every $defs entry a title and a description for implementers', () => {
    for (const [name, entry] of Object.entries(schema.$defs)) {
      expect(entry.title, name).toEqual(expect.any(String))
      expect(entry.description?.length ?? 0, name).toBeGreaterThan(10)
    }
    expect(schema.description.length).toBeGreaterThan(100)
  })

  it('requires exactly the fields the decoder requires, and declares every required field', () => {
    for (const from of ['client', 'server'] as const) {
      for (const [type, name] of messageDefs(from)) {
        const entry = def(name)
        const required = REQUIRED_FIELDS[from][type as never] as readonly string[]
        expect([...(entry.required ?? [])].sort(), name).toEqual(['type', ...required].sort())
        for (const field of entry.required ?? []) expect(entry.properties, `${name}.${field}`).toHaveProperty(field)
      }
    }
  })

  it('never forbids unknown properties (decoders ignore them)', () => {
    const text = JSON.stringify(schema)
    expect(text).not.toContain('"additionalProperties":false')
    expect(text).not.toContain('"unevaluatedProperties"')
    for (const vector of valid) {
      const extended = { ...(JSON.parse(vector.frame) as object), 'x-future-field': { nested: [1, 'two'] } }
      expect(validators[vector.from](extended), vector.name).toBe(true)
    }
  })

  it('mirrors the decoder patterns and default limits', () => {
    expect(def('roomName')).toMatchObject({ pattern: ROOM_NAME_PATTERN.source, minLength: 1, maxLength: DEFAULT_LIMITS.maxRoomNameLength })
    expect(def('id')).toMatchObject({ pattern: ID_PATTERN.source, minLength: 1, maxLength: DEFAULT_LIMITS.maxIdLength })
    const token = def('authenticateMessage').properties?.['token']
    expect(token).toMatchObject({ minLength: 1, maxLength: DEFAULT_LIMITS.maxTokenLength })
    expect(def('signalMessage').properties?.['ttlMs']).toMatchObject({ minimum: 1, maximum: MAX_SIGNAL_TTL_MS })
    expect(def('signalBroadcastMessage').properties?.['ttlMs']).toMatchObject({ minimum: 0, maximum: MAX_SIGNAL_TTL_MS })
  })

  it('accepts a message of either direction at the root', () => {
    expect(validators.root({ type: 'publish', room: 'general', data: 1 })).toBe(true)
    expect(validators.root({ type: 'welcome' })).toBe(false)
    expect(validators.root({ type: 'nope' })).toBe(false)
  })

  it('defines jsonValue recursively: any JSON value, nested', () => {
    const jsonValue = defValidator('jsonValue')
    for (const value of [null, true, 0, -1.5, '', 'x', [], {}, [[[{ a: [null] }]]], { a: { b: { c: [1, '2', false] } } }]) {
      expect(jsonValue(value), JSON.stringify(value)).toBe(true)
    }
  })
})

describe('schema agrees with the vectors', () => {
  for (const vector of valid) {
    it(`accepts ${vector.file} ${vector.name}`, () => {
      const value: unknown = JSON.parse(vector.frame)
      expect(validators[vector.from](value), JSON.stringify(validators[vector.from].errors)).toBe(true)
      expect(validators.root(value)).toBe(true)
    })
  }

  for (const vector of invalid.filter((v) => v.layer === 'message')) {
    it(`rejects ${vector.file} ${vector.name}`, () => {
      expect(validators[vector.from](JSON.parse(vector.frame))).toBe(false)
    })
  }
})

/**
 * Frame-layer faults are out of the schema's reach: it describes parsed message structure, not bytes, size, depth,
 * UTF-16 well-formedness or key names. Each frame vector is therefore binary, unparsable, or structurally valid so
 * that the schema accepts it. The only exceptions are listed here: a lone surrogate inside a string whose pattern or
 * const the schema checks, which the schema rejects for the pattern rather than for the surrogate.
 */
const FRAME_VECTORS_ALSO_STRUCTURALLY_INVALID: Readonly<Record<string, string>> = {
  'unicode-lone-surrogate-in-room': 'room pattern allows ASCII only',
  'unicode-lone-surrogate-in-type': 'type is not a known const',
}
/** Frame faults the schema cannot express, once the frame is parsed. */
const OUT_OF_SCHEMA_REACH = ['PAYLOAD_TOO_LARGE', 'NESTING_TOO_DEEP', 'INVALID_UNICODE', 'FORBIDDEN_KEY']

describe('frame-layer vectors are out of the schema reach', () => {
  const frameVectors = invalid.filter((v): v is InvalidVector => v.layer === 'frame')

  for (const vector of frameVectors) {
    it(`${vector.name} (${vector.error})`, () => {
      if (vector.binary === true) {
        expect(vector.error).toBe('UNSUPPORTED_DATA')
        expect(frameOf(vector)).toBeInstanceOf(Uint8Array)
        return
      }
      const parsed = parseOrUndefined(vector.frame)
      if (parsed === undefined) {
        // Not JSON: nothing for a schema to validate. Only an oversized frame is refused for size before parsing.
        expect(['INVALID_JSON', 'PAYLOAD_TOO_LARGE']).toContain(vector.error)
        return
      }
      expect(OUT_OF_SCHEMA_REACH).toContain(vector.error)
      const expected = !(vector.name in FRAME_VECTORS_ALSO_STRUCTURALLY_INVALID)
      expect(validators[vector.from](parsed.value), JSON.stringify(validators[vector.from].errors)).toBe(expected)
    })
  }

  it('lists only existing frame vectors as exceptions', () => {
    const names = new Set(frameVectors.map((v) => v.name))
    for (const name of Object.keys(FRAME_VECTORS_ALSO_STRUCTURALLY_INVALID)) expect(names, name).toContain(name)
  })
})

/** A message with one field changed, deleted or added: valid or not, the schema and the decoder must agree. */
const mutatedArb = fc
  .tuple(directedMessageArb, fc.nat(), fc.constantFrom('replace', 'delete', 'add', 'retype'), jsonArb)
  .map(([{ from, message }, index, how, value]) => {
    const copy = { ...(message as unknown as Record<string, unknown>) }
    const keys = Object.keys(copy)
    const key = keys[index % keys.length] as string
    if (how === 'replace') copy[key] = value
    else if (how === 'delete') delete copy[key]
    else if (how === 'add') copy[`extra${index % 3}`] = value
    else copy['type'] = TYPES[from === 'client' ? 'server' : 'client'][index % TYPES[from === 'client' ? 'server' : 'client'].length]
    return { from, value: copy as JsonValue }
  })
  .filter(({ value }) => !hasProtoKey(value))

describe('schema and decoder agree (differential)', () => {
  it('accepts every generated valid message', () => {
    fc.assert(
      fc.property(directedMessageArb, ({ from, message }) => {
        const value: unknown = JSON.parse(JSON.stringify(message))
        expect(validators[from](value), JSON.stringify(validators[from].errors)).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it('gives the decoder verdict on mutated messages', () => {
    let accepted = 0
    let rejected = 0
    fc.assert(
      fc.property(mutatedArb, ({ from, value }) => {
        const frame = JSON.stringify(value)
        const decoded = decode(frame, { from })
        const schemaOk = validators[from](JSON.parse(frame))
        expect(schemaOk, `${from} ${frame} decoder: ${decoded.ok ? 'ok' : decoded.error.message}`).toBe(decoded.ok)
        if (schemaOk) accepted++
        else rejected++
      }),
      { numRuns: 1_000 },
    )
    // Both verdicts must actually occur, or the comparison proves little.
    expect(accepted).toBeGreaterThan(50)
    expect(rejected).toBeGreaterThan(50)
  })

  it('rejects every message missing one required field, as the decoder does', () => {
    for (const vector of valid) {
      const message = vector.decoded as Message & Record<string, unknown>
      for (const field of ['type', ...(REQUIRED_FIELDS[vector.from][message.type as never] as readonly string[])]) {
        const { [field]: _dropped, ...rest } = message
        const decoded = decode(JSON.stringify(rest), { from: vector.from })
        expect(decoded.ok ? 'ok' : decoded.error.code, `${vector.name} without ${field}`).toBe(
          field === 'type' ? 'UNKNOWN_TYPE' : 'MISSING_FIELD',
        )
        expect(validators[vector.from](rest), `${vector.name} without ${field}`).toBe(false)
      }
      // Optional fields may be dropped: both still accept.
      for (const field of Object.keys(message)) {
        if (field === 'type' || (REQUIRED_FIELDS[vector.from][message.type as never] as readonly string[]).includes(field)) continue
        const { [field]: _dropped, ...rest } = message
        expect(decode(JSON.stringify(rest), { from: vector.from }).ok, `${vector.name} without ${field}`).toBe(true)
        expect(validators[vector.from](rest), `${vector.name} without ${field}`).toBe(true)
      }
    }
  })

  it('treats data, value and presence as opaque JSON in both', () => {
    const slots = valid.filter((v) => Object.keys(v.decoded).some((k) => JSON_SLOTS.has(k)))
    expect(slots.length).toBeGreaterThan(0)
    for (const vector of slots) {
      for (const slot of Object.keys(vector.decoded).filter((k) => JSON_SLOTS.has(k))) {
        const changed = { ...vector.decoded, [slot]: { anything: [1, null, { goes: true }] } }
        expect(decode(JSON.stringify(changed), { from: vector.from }).ok, `${vector.name}.${slot}`).toBe(true)
        expect(validators[vector.from](changed), `${vector.name}.${slot}`).toBe(true)
      }
    }
  })
})
