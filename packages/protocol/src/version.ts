/** The newest protocol version this package speaks. */
export const PROTOCOL_VERSION = 2 as const

/** A subprotocol name: one per version and encoding, sent in `Sec-WebSocket-Protocol`. */
export type Subprotocol = `parley.v${number}.${string}`

/** Subprotocol of protocol v1 with the JSON text encoding. */
export const SUBPROTOCOL_V1_JSON = 'parley.v1.json' as const

/** Subprotocol of protocol v2: v1's JSON text frames, plus binary frames for messages that carry bytes. */
export const SUBPROTOCOL_V2_JSON = 'parley.v2.json' as const

/** Every subprotocol this package speaks, newest first. */
export const SUBPROTOCOLS: readonly Subprotocol[] = Object.freeze([SUBPROTOCOL_V2_JSON, SUBPROTOCOL_V1_JSON])

/** The first version whose messages may carry bytes (`bytes`, binary frames). */
export const BYTES_VERSION = 2 as const

/**
 * Prefix of a `Sec-WebSocket-Protocol` entry that carries an access token (`parley.token.<token>`): browsers cannot
 * set an `Authorization` header on a WebSocket, and a token in the URL ends up in access logs. The server never
 * echoes this entry back as the selected subprotocol.
 */
export const TOKEN_SUBPROTOCOL_PREFIX = 'parley.token.' as const

/** A subprotocol name taken apart. */
export interface ParsedSubprotocol {
  readonly name: Subprotocol
  readonly version: number
  readonly encoding: string
}

const SUBPROTOCOL_PATTERN = /^parley\.v([1-9][0-9]{0,5})\.([a-z][a-z0-9-]{0,15})$/

/** Parses `parley.v<version>.<encoding>`; anything else (including token entries) is `undefined`. */
export function parseSubprotocol(name: string): ParsedSubprotocol | undefined {
  const match = SUBPROTOCOL_PATTERN.exec(name)
  if (match === null) return undefined
  return { name: name as Subprotocol, version: Number(match[1]), encoding: match[2] as string }
}

/** The outcome of {@link negotiate}. */
export type NegotiationResult =
  | { readonly ok: true; readonly protocol: Subprotocol; readonly version: number; readonly encoding: string }
  | {
      readonly ok: false
      readonly reason: 'no-common-version'
      /** The Parley subprotocols the peer offered (other entries are left out). */
      readonly offered: readonly string[]
      /** What this side speaks. */
      readonly supported: readonly string[]
    }

/**
 * Picks the newest version both sides speak. `offered` is what the client sent in `Sec-WebSocket-Protocol` (in any
 * order; non-Parley entries such as token entries are ignored), `supported` is what this side speaks. Among equal
 * versions the client's order decides the encoding. Never throws.
 */
export function negotiate(
  offered: readonly string[],
  supported: readonly string[] = SUBPROTOCOLS,
): NegotiationResult {
  let best: ParsedSubprotocol | undefined
  const offeredParley: string[] = []
  for (const raw of offered) {
    const entry = raw.trim()
    const parsed = parseSubprotocol(entry)
    if (parsed === undefined) continue
    offeredParley.push(entry)
    if (!supported.includes(entry)) continue
    if (best === undefined || parsed.version > best.version) best = parsed
  }
  if (best === undefined) {
    return { ok: false, reason: 'no-common-version', offered: offeredParley, supported: [...supported] }
  }
  return { ok: true, protocol: best.name, version: best.version, encoding: best.encoding }
}

/** Splits a `Sec-WebSocket-Protocol` header value (comma separated, RFC 6455 §4.1) into its entries. */
export function parseSubprotocolHeader(header: string | undefined): string[] {
  if (header === undefined || header === '') return []
  return header
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
}

/**
 * A subprotocol a client may offer after its versions so that a version mismatch is readable where HTTP answers are
 * not (browsers and other WHATWG WebSockets cannot see a 426). A server with no version in common selects it,
 * completes the upgrade and closes at once with 4406 and a reason naming what it speaks
 * ({@link unsupportedVersionReason}); it is never selected otherwise.
 */
export const NEGOTIATE_SUBPROTOCOL = 'parley.negotiate' as const

/** The close reason of a 4406: `supported: parley.v1.json, ...` (kept within the 123 bytes a close reason has). */
export function unsupportedVersionReason(supported: readonly string[]): string {
  let reason = `supported: ${supported.join(', ')}`
  while (reason.length > 123 && reason.includes(', ')) reason = reason.slice(0, reason.lastIndexOf(', '))
  return reason
}

/** The versions a 4406 close reason names (empty when the reason is not in that form). */
export function parseUnsupportedVersionReason(reason: string): string[] {
  const match = /^supported: (.+)$/.exec(reason)
  return match === null ? [] : parseSubprotocolHeader(match[1])
}
