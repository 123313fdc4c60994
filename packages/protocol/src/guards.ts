/** A plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Names what arrived, for error messages: `string "abc"`, `number 3`, `array`, `null`, ... */
export function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value
      return `string ${JSON.stringify(shown)}`
    }
    case 'number':
      return `number ${String(value)}`
    case 'boolean':
      return `boolean ${String(value)}`
    default:
      return typeof value
  }
}

/** UTF-8 byte length of a string without allocating (lone surrogates count as the 3-byte U+FFFD they become). */
export function utf8ByteLength(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

// String.prototype.isWellFormed is Node 20+ and current browsers; the regex serves older engines. Chosen once, at
// load, because this runs for every string of every message.
const HAS_NATIVE_IS_WELL_FORMED = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'

/** True when the string holds no lone UTF-16 surrogate, i.e. it can be encoded as UTF-8 without loss. */
export function isWellFormedString(text: string): boolean {
  return HAS_NATIVE_IS_WELL_FORMED ? (text as unknown as { isWellFormed(): boolean }).isWellFormed() : !LONE_SURROGATE.test(text)
}
