import { isDeepStrictEqual } from 'node:util'
import { expect } from 'vitest'

/**
 * Asserts deep equality with no extra `undefined` properties and identical prototypes. Not `toStrictEqual`: its type
 * check compares `.constructor`, which is an ordinary key inside message data (`{"constructor": {...}}` is valid).
 */
export function expectExactly(actual: unknown, expected: unknown, label?: string): void {
  expect(actual, label).toEqual(expected)
  expect(isDeepStrictEqual(actual, expected), `${label ?? 'value'} is not strictly deep-equal`).toBe(true)
}
