import type { JsonValue } from '@parley/protocol'

/** Longest search text kept per message: what a store indexes of a very long message is its first 4 096 characters. */
export const MAX_SEARCH_TEXT = 4_096

/**
 * The text of a message that history search matches, by default: every string in `data` (values, not keys), in
 * order, joined by spaces and cut at {@link MAX_SEARCH_TEXT} characters. A chat message `{ text: 'hi' }` gives `hi`.
 */
export function searchTextOf(data: JsonValue): string {
  const parts: string[] = []
  let length = 0
  const stack: JsonValue[] = [data]
  while (stack.length > 0 && length < MAX_SEARCH_TEXT) {
    const value = stack.pop() as JsonValue
    if (typeof value === 'string') {
      parts.push(value)
      length += value.length + 1
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i] as JsonValue)
    } else if (value !== null && typeof value === 'object') {
      const values = Object.values(value)
      for (let i = values.length - 1; i >= 0; i--) stack.push(values[i] as JsonValue)
    }
  }
  return parts.join(' ').slice(0, MAX_SEARCH_TEXT)
}

/** The words of a search, lower-cased: a message matches when its text holds every one (the memory store's rule). */
export function searchTerms(text: string): string[] {
  return text.toLowerCase().split(/\s+/u).filter((term) => term.length > 0)
}
