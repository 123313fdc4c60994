import { readFileSync } from 'node:fs'
import Ajv2020 from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { splitBinaryFrame } from '@parley/protocol'
import { frameOf, loadVectors } from '../test-vectors/index.js'

const read = (name: string): { $id: string; $defs: Record<string, { properties?: Record<string, unknown> }> } =>
  JSON.parse(readFileSync(new URL(`../schema/${name}`, import.meta.url), 'utf8'))
const v1 = read('v1.json')
const v2 = read('v2.json')
const ajv = new Ajv2020({ strict: true, allErrors: true })
ajv.addSchema(v2)
const validator = (from: 'client' | 'server') => {
  const validate = ajv.getSchema(`${v2.$id}#/$defs/${from}Message`)
  if (validate === undefined) throw new Error('no validator')
  return validate
}

/** The JSON a vector's frame carries: the text, or a binary frame's header. */
const jsonOf = (frame: string | Uint8Array): unknown => {
  if (typeof frame === 'string') return JSON.parse(frame)
  const split = splitBinaryFrame(frame)
  if (!split.ok) throw new Error(split.reason)
  return JSON.parse(split.header)
}

describe('JSON Schema v2', () => {
  it('is v1 with bytes on exactly publish, message and history entries', () => {
    const changed = Object.keys(v2.$defs).filter((name) => JSON.stringify(v2.$defs[name]) !== JSON.stringify(v1.$defs[name]))
    expect(changed.sort()).toEqual(['bytes', 'historyEntry', 'publishMessage', 'roomMessage'])
    for (const name of ['historyEntry', 'publishMessage', 'roomMessage']) expect(v2.$defs[name]?.properties?.['bytes']).toEqual({ $ref: '#/$defs/bytes' })
  })

  const { valid, invalid } = loadVectors(2)
  for (const vector of valid) {
    it(`accepts the JSON of ${vector.file} ${vector.name}`, () => {
      const validate = validator(vector.from)
      expect(validate(jsonOf(frameOf(vector))), JSON.stringify(validate.errors)).toBe(true)
    })
  }
  for (const vector of invalid.filter((candidate) => candidate.layer === 'message')) {
    it(`rejects ${vector.file} ${vector.name}`, () => {
      expect(validator(vector.from)(jsonOf(frameOf(vector)))).toBe(false)
    })
  }
})
