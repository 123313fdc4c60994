/**
 * Inspections of parsed JSON trees, written independently of the decoder, so tests can check that a vector's fault
 * is really the one it claims.
 */

/** Walks every value and key of a tree (iteratively), with its depth (the root is depth 1). */
function walk(root: unknown, visit: (value: unknown, depth: number, key?: string) => boolean): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number]
    if (visit(value, depth)) return true
    if (Array.isArray(value)) for (const item of value) stack.push([item, depth + 1])
    else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value)) {
        if (visit(undefined, depth, key)) return true
        stack.push([(value as Record<string, unknown>)[key], depth + 1])
      }
    }
  }
  return false
}

/** Nesting depth of arrays and objects, counting the root container as 1; 0 for a scalar. */
export function depthOf(root: unknown): number {
  let max = 0
  walk(root, (value, depth) => {
    if (typeof value === 'object' && value !== null && depth > max) max = depth
    return false
  })
  return max
}

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** True when the string holds an unpaired UTF-16 surrogate. */
export function isLoneSurrogateString(text: string): boolean {
  return LONE.test(text)
}

/** True when any string or key in the tree holds a lone surrogate. */
export function hasLoneSurrogate(root: unknown): boolean {
  return walk(root, (value, _depth, key) => (key !== undefined ? LONE.test(key) : typeof value === 'string' && LONE.test(value)))
}

/** True when any object in the tree has an own key `__proto__`. */
export function hasProtoKey(root: unknown): boolean {
  return walk(root, (_value, _depth, key) => key === '__proto__')
}

/** True when the tree holds a number JSON cannot write (an overflowing literal such as 1e400 parses to Infinity). */
export function hasNonFiniteNumber(root: unknown): boolean {
  return walk(root, (value) => typeof value === 'number' && !Number.isFinite(value))
}
