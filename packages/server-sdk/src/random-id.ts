const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'

/** A random id of `length` lowercase base-36 characters (URL-safe, matches the protocol's id pattern). */
export function randomId(length: number): string {
  const bytes = new Uint8Array(length)
  globalThis.crypto.getRandomValues(bytes)
  let id = ''
  for (const byte of bytes) id += ALPHABET[byte % 36]
  return id
}
