import { afterEach, describe, expect, it, vi } from 'vitest'
import { randomId } from '../src/random-id.js'

afterEach(() => vi.restoreAllMocks())

describe('randomId', () => {
  it('gives ids of the asked length in lowercase base 36, all different', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => randomId(1 + (i % 43)))
    for (const [i, id] of ids.entries()) expect(id).toMatch(new RegExp(`^[0-9a-z]{${1 + (i % 43)}}$`))
    const long = ids.filter((id) => id.length >= 12)
    expect(new Set(long).size).toBe(long.length)
  })

  it('draws from the CSPRNG once per 512 bytes, not once per id', () => {
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues')
    // 64 ids of 16 characters: 1 024 bytes, two pool fills at most (three when the pool was part-used before).
    for (let i = 0; i < 64; i++) randomId(16)
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(1)
    expect(spy.mock.calls.length).toBeLessThanOrEqual(3)
  })

  it('never hands out the same pool bytes twice: ids straddling a refill differ', () => {
    const ids = Array.from({ length: 200 }, () => randomId(43))
    expect(new Set(ids).size).toBe(200)
    expect(() => randomId(513)).toThrow(RangeError)
  })

  it('refuses a length that is not a whole number of characters, and the ids after it are whole', () => {
    for (const bad of [2.5, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => randomId(bad), String(bad)).toThrow(RangeError)
    expect(randomId(0)).toBe('')
    const ids = Array.from({ length: 100 }, () => randomId(16))
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{16}$/)
    expect(new Set(ids).size).toBe(100)
  })
})
