import type { Payload } from '../targets/target.js'

/** What the load generator needs from a room message frame: its position and the benchmark payload's numbers. */
export interface Delivery {
  /** NaN from a server that numbers nothing (Socket.IO). */
  readonly seq: number
  /** Empty for a server without epochs (the ws target, Socket.IO). */
  readonly epoch: string
  /** Socket.IO's offset of the packet, with connection state recovery on; empty otherwise. */
  readonly offset: string
  /** The payload with its `text` left unread (`''`): receivers check `p`, `n` and `t` only. */
  readonly data: Payload
}

const PREFIX = Buffer.from('{"type":"message","room":"')
const SEQ_KEY = Buffer.from(',"seq":')
const EPOCH_KEY = Buffer.from(',"epoch":"')
const DATA_KEY = Buffer.from('"data":')
const PAYLOAD_START = Buffer.from('{"p":')
const SOCKET_IO_PREFIX = Buffer.from('42["message",')
const N_KEY = Buffer.from(',"n":')
const T_KEY = Buffer.from(',"t":')

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d
const COMMA = 0x2c

/** What {@link readDeliveryAt} answers: one object, filled in again by every call, so a delivery allocates nothing. */
const LAST_DELIVERY: { seq: number; epoch: string; offset: string; data: { p: number; n: number; t: number; text: string } } = {
  seq: 0,
  epoch: '',
  offset: '',
  data: { p: 0, n: 0, t: 0, text: '' },
}

/** The last epoch read, as text and as bytes: a stream's epoch rarely changes, so its string is made once. */
let lastEpoch = ''
let lastEpochBytes = new Uint8Array(0)

/** The epoch whose ASCII bytes are `bytes[start..end)`, its string made once for a run of frames of one epoch; undefined for other bytes. */
export function epochOf(bytes: Uint8Array, start: number, end: number): string | undefined {
  const length = end - start
  if (length === lastEpochBytes.length) {
    let same = true
    for (let i = 0; i < length; i++) {
      if (bytes[start + i] !== lastEpochBytes[i]) {
        same = false
        break
      }
    }
    if (same) return lastEpoch
  }
  // A copy: `bytes` may be a Buffer, whose slice is a view of memory the next read overwrites.
  const copy = new Uint8Array(bytes.subarray(start, end))
  // Epochs are ids (ASCII); anything else is left to JSON.parse, which decodes UTF-8.
  if (copy.some((byte) => byte >= 0x80)) return undefined
  lastEpochBytes = copy
  lastEpoch = String.fromCharCode(...copy)
  return lastEpoch
}

/** Where the string whose characters start at `at` closes, or -1 (past `end`, or an escape: left to JSON.parse). */
export function stringEnd(bytes: Uint8Array, at: number, end: number): number {
  for (let i = at; i < end; i++) {
    const c = bytes[i]
    if (c === QUOTE) return i
    if (c === BACKSLASH) return -1
  }
  return -1
}

/** Where the last {@link numberAt} stopped (module state, so reading allocates nothing). */
let stop = 0

/** Whether `literal` is at `at`, ending by `end`. */
export function literalAt(bytes: Uint8Array, at: number, end: number, literal: Uint8Array): boolean {
  // The length read once: a typed array's length is a getter, and reading it per byte cost a third of the loop.
  const length = literal.length
  if (end - at < length) return false
  for (let i = 0; i < length; i++) if (bytes[at + i] !== literal[i]) return false
  return true
}

/** The JSON number at `at` (an optional minus, digits, an optional fraction), NaN if there is none. */
export function numberAt(bytes: Uint8Array, at: number, end: number): number {
  let i = at
  let sign = 1
  if (bytes[i] === 45 /* - */) {
    sign = -1
    i++
  }
  let value = 0
  let digits = 0
  for (let c = bytes[i]!; i < end && c >= 48 && c <= 57; c = bytes[++i]!) {
    value = value * 10 + (c - 48)
    digits++
  }
  if (i < end && bytes[i] === 46 /* . */) {
    // The fraction's digits as an integer, divided once (within an ulp of JSON.parse's value: the benchmark's
    // `t` is a time in ms, read for latencies). More than 15 digits are left to JSON.parse.
    let fraction = 0
    let scale = 1
    for (let c = bytes[++i]!; i < end && c >= 48 && c <= 57 && scale < 1e15; c = bytes[++i]!) {
      fraction = fraction * 10 + (c - 48)
      scale *= 10
    }
    value += fraction / scale
  }
  stop = i
  // A number must end inside the frame, on something that is not part of a number (exponents, more digits than read
  // and anything else a JSON number may hold are left to JSON.parse).
  const next = i < end ? bytes[i]! : -1
  return digits === 0 || next === -1 || (next >= 48 && next <= 57) || next === 101 || next === 69 ? Number.NaN : sign * value
}

/**
 * The benchmark payload at `at`, `{"p":N,"n":N,"t":N,...}` with its keys in the order the load generator wrote them,
 * into {@link LAST_DELIVERY}'s data; false when it is not in that shape. Its text is never read.
 */
function payloadAt(bytes: Uint8Array, at: number, end: number): boolean {
  if (!literalAt(bytes, at, end, PAYLOAD_START)) return false
  const p = numberAt(bytes, at + PAYLOAD_START.length, end)
  const n = literalAt(bytes, stop, end, N_KEY) ? numberAt(bytes, stop + N_KEY.length, end) : Number.NaN
  const t = literalAt(bytes, stop, end, T_KEY) ? numberAt(bytes, stop + T_KEY.length, end) : Number.NaN
  if (!Number.isInteger(p) || !Number.isInteger(n) || Number.isNaN(t)) return false
  const data = LAST_DELIVERY.data
  data.p = p
  data.n = n
  data.t = t
  return true
}

/**
 * Reads a room message frame from its UTF-8 bytes, `bytes[start..end)`: `{"type":"message","room":"...","seq":N,`
 * then `"epoch":"...",` if there is one, any other scalar fields, and `"data":{"p":N,"n":N,"t":N,...}`, as both
 * Parley and the ws target write them. JavaScript reads only the fixed parts and the numbers; the way past the other
 * fields to the payload is found with one `Buffer.indexOf` of a byte (native), and the payload's text is never read.
 * A JavaScript loop over bytes costs about 1.4 ns a byte on this machine: about 250 ns a frame, against 615 ns for a
 * string of the frame and a reader of it (docs/benchmarks.md), so the load generator's cost per delivery stays under
 * the servers' and at full rate the server, not the load generator, is what runs out (issue 20).
 * Returns undefined for any other frame, or one not in that shape (an escape in the room, say), which the caller
 * parses in full. The delivery is the same object at every call: read it before the next frame is read.
 */
export function readDeliveryAt(bytes: Buffer, start: number, end: number): Delivery | undefined {
  if (!literalAt(bytes, start, end, PREFIX)) return undefined
  const roomEnd = stringEnd(bytes, start + PREFIX.length, end)
  if (roomEnd < 0 || !literalAt(bytes, roomEnd + 1, end, SEQ_KEY)) return undefined
  const seq = numberAt(bytes, roomEnd + 1 + SEQ_KEY.length, end)
  if (!Number.isInteger(seq)) return undefined
  let at = stop
  let epoch = ''
  if (literalAt(bytes, at, end, EPOCH_KEY)) {
    const epochStart = at + EPOCH_KEY.length
    const epochEnd = stringEnd(bytes, epochStart, end)
    if (epochEnd < 0) return undefined
    const text = epochOf(bytes, epochStart, epochEnd)
    if (text === undefined) return undefined
    epoch = text
    at = epochEnd
  }
  // The other fields before "data" are scalars: its object is the frame's next "{", which must follow `"data":`.
  const payload = bytes.indexOf(OPEN_BRACE, at)
  if (payload < 0 || payload >= end || !literalAt(bytes, payload - DATA_KEY.length, end, DATA_KEY)) return undefined
  if (!payloadAt(bytes, payload, end)) return undefined
  const delivery = LAST_DELIVERY
  delivery.seq = seq
  delivery.epoch = epoch
  delivery.offset = ''
  return delivery
}

/**
 * {@link readDeliveryAt} for Socket.IO's event packet of a room message, `42["message",{"p":N,"n":N,"t":N,...}]`,
 * or `42["message",{...},"<offset>"]` when the server keeps connection state for recovery: the payload's numbers and
 * the offset, read from the packet's start and its end, and nothing between.
 */
export function readSocketIoDeliveryAt(bytes: Buffer, start: number, end: number): Delivery | undefined {
  if (!literalAt(bytes, start, end, SOCKET_IO_PREFIX) || bytes[end - 1] !== CLOSE_BRACKET) return undefined
  if (!payloadAt(bytes, start + SOCKET_IO_PREFIX.length, end)) return undefined
  let offset = ''
  if (bytes[end - 2] === QUOTE) {
    let open = end - 3
    while (open > stop && bytes[open] !== QUOTE) open--
    if (bytes[open] !== QUOTE || bytes[open - 1] !== COMMA || bytes[open - 2] !== CLOSE_BRACE) return undefined
    offset = bytes.toString('latin1', open + 1, end - 2)
  } else if (bytes[end - 2] !== CLOSE_BRACE) return undefined
  const delivery = LAST_DELIVERY
  delivery.seq = Number.NaN
  delivery.epoch = ''
  delivery.offset = offset
  return delivery
}

/** {@link readDeliveryAt} for a frame held as text (a binary frame's header, say). */
export function readDelivery(text: string): Delivery | undefined {
  const bytes = Buffer.from(text)
  return readDeliveryAt(bytes, 0, bytes.byteLength)
}
