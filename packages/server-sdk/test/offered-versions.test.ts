import { describe, expect, it } from 'vitest'
import { OfferedVersions } from '../src/transports/offered-versions.js'

describe('the offered versions of a Sec-WebSocket-Protocol header', () => {
  it('are read once for a header many clients send, and are the Parley entries only', () => {
    const offered = new OfferedVersions()
    const header = 'parley.v2.json, parley.v1.json, chat, parley.negotiate'
    const first = offered.read(header)
    expect(first).toEqual(['parley.v2.json', 'parley.v1.json'])
    expect(offered.read(header)).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    expect(offered.read(undefined)).toEqual([])
  })

  it('never keep a header with a token in place of the last one (it would outlive its connection, and never match again)', () => {
    const offered = new OfferedVersions()
    const plain = 'parley.v2.json, parley.v1.json'
    const kept = offered.read(plain)
    expect(offered.read('parley.v2.json, parley.token.SECRET-abc')).toEqual(['parley.v2.json'])
    expect(offered.read(plain)).toBe(kept)
  })
})
