import type { Payload } from '../targets/target.js'

/** What the load generator needs from a room message frame: its position and the benchmark payload's numbers. */
export interface Delivery {
  readonly seq: number
  /** Empty for a server without epochs (the ws target). */
  readonly epoch: string
  /** The payload with its `text` left unread (`''`): receivers check `p`, `n` and `t` only. */
  readonly data: Payload
}

const PREFIX = '{"type":"message",'

/** Where the last {@link numberAt} stopped (module state, so reading a number allocates nothing). */
let stop = 0

/** The JSON number at `start` (an optional minus, digits, an optional fraction), NaN if there is none. */
function numberAt(text: string, start: number): number {
  let i = start
  let sign = 1
  if (text.charCodeAt(i) === 45 /* - */) {
    sign = -1
    i++
  }
  let value = 0
  let digits = 0
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
    value = value * 10 + (c - 48)
    digits++
  }
  if (text.charCodeAt(i) === 46 /* . */) {
    let scale = 1
    for (let c = text.charCodeAt(++i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
      scale /= 10
      value += (c - 48) * scale
    }
  }
  const next = text.charCodeAt(i)
  stop = i
  // Exponents and anything else a JSON number may hold are left to JSON.parse.
  return digits === 0 || next === 101 || next === 69 ? Number.NaN : sign * value
}

/** The number right after `"key":` at or after `from`, or NaN. */
function numberAfter(text: string, key: string, from: number): number {
  const at = text.indexOf(key, from)
  return at < 0 ? Number.NaN : numberAt(text, at + key.length)
}

/**
 * Reads a room message frame (`{"type":"message",...,"seq":N,...,"data":{"p":N,"n":N,"t":N,"text":...}}`, as both
 * Parley and the ws target write them) with a few `indexOf`s instead of `JSON.parse`: the load generator's cost per
 * delivery then stays under the servers', so at full rate the server, not the load generator, is what runs out.
 * Returns undefined for any other frame, or one not in that shape, which the caller parses in full.
 */
export function readDelivery(text: string): Delivery | undefined {
  if (!text.startsWith(PREFIX)) return undefined
  const dataAt = text.indexOf('"data":{"p":')
  if (dataAt < 0) return undefined
  const seq = numberAfter(text, '"seq":', PREFIX.length)
  const epochAt = text.lastIndexOf('"epoch":"', dataAt)
  const epoch = epochAt < 0 ? '' : text.slice(epochAt + 9, text.indexOf('"', epochAt + 9))
  // The payload's keys come in the order the load generator wrote them: p, n, t.
  const p = numberAt(text, dataAt + 12)
  const n = text.startsWith(',"n":', stop) ? numberAt(text, stop + 5) : Number.NaN
  const t = text.startsWith(',"t":', stop) ? numberAt(text, stop + 5) : Number.NaN
  if (!Number.isInteger(seq) || !Number.isInteger(p) || !Number.isInteger(n) || Number.isNaN(t)) return undefined
  return { seq, epoch, data: { p, n, t, text: '' } }
}
