import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/**
 * Whether a secret a peer sent (a bearer key, a stream secret) equals the expected one, in a time that says nothing
 * about where they differ or how long the expected one is: both are hashed to 32 bytes, then compared in constant time.
 */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}
