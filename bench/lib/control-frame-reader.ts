import { epochOf, literalAt, numberAt, stringEnd } from './delivery-reader.js'

/**
 * The Parley frames a raw load-generator client acts on besides room messages, read from their bytes: `joined` (its
 * position), `presence` / `presences` and `ack` (counted), `welcome` (answered with a join). A `joined` of a room past
 * `presence.snapshotLimit` carries a first page of about 5 KiB of members the bench never reads; decoding and
 * `JSON.parse`-ing it cost the load generator more per join than ws's client spends on its whole `joined`. Anything
 * this cannot read exactly is left to the text path (`JSON.parse`).
 */
export interface ControlFrame {
  readonly type: 'joined' | 'presence' | 'presences' | 'ack' | 'welcome'
  /** A `joined`'s epoch and seq; empty and NaN for the other types. */
  readonly epoch: string
  readonly seq: number
}

const TYPE_PREFIX = Buffer.from('{"type":"')
const TYPES = (['joined', 'presences', 'presence', 'ack', 'welcome'] as const).map((type) => ({ type, bytes: Buffer.from(`${type}"`) }))
const EPOCH_KEY = Buffer.from(',"epoch":"')
const SEQ_KEY = Buffer.from(',"seq":')
const MEMBERS_KEY = Buffer.from(',"members":')

/** Reads `bytes[start..end)` as one of the frames above, or answers undefined (any other frame, or an unexpected form). */
export function readControlFrameAt(bytes: Buffer, start: number, end: number): ControlFrame | undefined {
  if (!literalAt(bytes, start, end, TYPE_PREFIX)) return undefined
  const at = start + TYPE_PREFIX.byteLength
  const known = TYPES.find(({ bytes: name }) => literalAt(bytes, at, end, name))
  if (known === undefined) return undefined
  if (known.type !== 'joined') return { type: known.type, epoch: '', seq: Number.NaN }
  // The top-level fields come before the member list, whose presence data could hold the same keys.
  const members = bytes.indexOf(MEMBERS_KEY, at)
  const head = members < 0 ? end : Math.min(members, end)
  const epochAt = bytes.indexOf(EPOCH_KEY, at)
  const seqAt = bytes.indexOf(SEQ_KEY, at)
  if (epochAt < 0 || seqAt < 0 || epochAt >= head || seqAt >= head) return undefined
  const epochStart = epochAt + EPOCH_KEY.byteLength
  const epochEnd = stringEnd(bytes, epochStart, head)
  const epoch = epochEnd < 0 ? undefined : epochOf(bytes, epochStart, epochEnd)
  const seq = numberAt(bytes, seqAt + SEQ_KEY.byteLength, head)
  if (epoch === undefined || !Number.isSafeInteger(seq) || seq < 0) return undefined
  return { type: 'joined', epoch, seq }
}
