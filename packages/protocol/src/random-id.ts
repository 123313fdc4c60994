const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'

/**
 * A random id of `length` lowercase base-36 characters from the platform's CSPRNG (`crypto.getRandomValues`, in
 * Node ≥ 20 and every current browser). URL-safe and within the protocol's id pattern, so it serves as a session id,
 * an epoch, a node id or a request-id prefix. The slight modulo bias (256 % 36) costs under 0.2 bits per character.
 */
export function randomId(length: number): string {
  const bytes = new Uint8Array(length)
  globalThis.crypto.getRandomValues(bytes)
  let id = ''
  for (const byte of bytes) id += ALPHABET[byte % 36]
  return id
}
