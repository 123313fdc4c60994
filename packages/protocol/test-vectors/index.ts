import { readFileSync } from 'node:fs'
import { Buffer } from 'node:buffer'
import type { ClientMessage, Direction, ErrorCode, ProtocolLimits, ServerMessage } from '@parley/protocol'

/**
 * Typed loaders for the protocol v1 test vectors in `./v1/*.json`: the wire contract every decoder (and both SDKs)
 * is tested against. Node only (reads the files with `node:fs`).
 *
 * - `valid-client.json`, `valid-server.json`: frames with the exact message `decode` returns (unknown fields dropped).
 * - `invalid-client.json`, `invalid-server.json`: structurally invalid messages (layer `message`, a JSON Schema sees them).
 * - `invalid-frame.json`: faults below the message structure (layer `frame`): not JSON, binary, oversized, too deep,
 *   lone surrogates, `__proto__` keys.
 *
 * A vector with `limits` must be decoded with those limits over the defaults (`decode(frame, { from, limits })`;
 * {@link decodeOptionsOf} builds that). Limits in vectors only ever lower the defaults, so a valid vector stays valid
 * under the defaults, but an invalid one may not be invalid without its limits.
 */

/** The files of protocol v1, in a stable order. */
export const VECTOR_FILES = Object.freeze([
  'valid-client.json',
  'valid-server.json',
  'invalid-client.json',
  'invalid-server.json',
  'invalid-frame.json',
] as const)

/**
 * The files of protocol v2, in `./v2/`: what v2 adds to v1 (bytes in binary frames and as base64 text). Every v1
 * vector holds under v2 too, except that a binary frame is no longer refused as such.
 */
export const VECTOR_FILES_V2 = Object.freeze(['valid-client.json', 'valid-server.json', 'invalid-client.json', 'invalid-frame.json'] as const)

/** One of {@link VECTOR_FILES}. */
export type VectorFile = (typeof VECTOR_FILES)[number] | (typeof VECTOR_FILES_V2)[number]

/** A protocol version with vectors. */
export type VectorVersion = 1 | 2

interface VectorBase {
  /** Unique (across all files) kebab-case name. */
  readonly name: string
  /** The file the vector came from. */
  readonly file: VectorFile
  /** The protocol version of its folder: decode it with this `version`. */
  readonly version: VectorVersion
  /** Exact frame text; for a binary vector, the frame's bytes in base64. */
  readonly frame: string
  /** When true, `frame` is base64 and the decoder receives the bytes (a binary WebSocket frame; v2 on). */
  readonly binary?: true
  /** Limits that override `DEFAULT_LIMITS` for this case. */
  readonly limits?: Partial<ProtocolLimits>
  /** Why the case exists or what it pins down, for implementers. */
  readonly note?: string
}

/** A valid frame sent by a client, and the message a server decodes from it. */
export interface ValidClientVector extends VectorBase {
  readonly kind: 'valid'
  readonly from: 'client'
  readonly decoded: ClientMessage
}

/** A valid frame sent by a server, and the message a client decodes from it. */
export interface ValidServerVector extends VectorBase {
  readonly kind: 'valid'
  readonly from: 'server'
  readonly decoded: ServerMessage
}

/** A frame that decodes to a message. */
export type ValidVector = ValidClientVector | ValidServerVector

/** A frame that `decode` must refuse with `error`. */
export interface InvalidVector extends VectorBase {
  readonly kind: 'invalid'
  readonly from: Direction
  /** The `ErrorCode` of the refusal. */
  readonly error: ErrorCode
  /** `frame`: below the message structure; `message`: a structural fault a JSON Schema can see. */
  readonly layer: 'frame' | 'message'
  /** For message-layer faults: the field path the reference decoder names (`room`, `resume.seq`, `members[0].user`). */
  readonly field?: string
}

/** Any test vector. */
export type Vector = ValidVector | InvalidVector

/** Every vector of protocol v1, valid and invalid. */
export interface VectorSet {
  readonly valid: readonly ValidVector[]
  readonly invalid: readonly InvalidVector[]
}

const DIRECTIONS: readonly string[] = ['client', 'server']
const LAYERS: readonly string[] = ['frame', 'message']
const LIMIT_KEYS: readonly string[] = ['maxPayload', 'maxRoomNameLength', 'maxIdLength', 'maxTokenLength', 'maxDepth']
const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/

/** The folder holding the v1 JSON files. */
export const VECTORS_DIR = new URL('./v1/', import.meta.url)
/** The folder holding the v2 JSON files. */
export const VECTORS_DIR_V2 = new URL('./v2/', import.meta.url)

const cache = new Map<VectorVersion, VectorSet>()

/**
 * Loads and checks every v1 vector file. The result is cached and deeply frozen; a malformed file (missing field,
 * duplicate name, unknown key) throws naming the file and case, so a bad hand edit fails loudly rather than
 * silently testing less.
 */
export function loadVectors(version: VectorVersion = 1): VectorSet {
  const cached = cache.get(version)
  if (cached !== undefined) return cached
  const valid: ValidVector[] = []
  const invalid: InvalidVector[] = []
  const names = new Set<string>()
  for (const file of version === 1 ? VECTOR_FILES : VECTOR_FILES_V2) {
    for (const vector of loadVectorFile(file, version)) {
      if (names.has(vector.name)) throw new Error(`test vector ${file}#${vector.name}: duplicate name`)
      names.add(vector.name)
      if (vector.kind === 'valid') valid.push(vector)
      else invalid.push(vector)
    }
  }
  const set = deepFreeze({ valid, invalid })
  cache.set(version, set)
  return set
}

/** Loads and checks one vector file (uncached). */
export function loadVectorFile(file: VectorFile, version: VectorVersion = 1): Vector[] {
  const raw: unknown = JSON.parse(readFileSync(new URL(file, version === 1 ? VECTORS_DIR : VECTORS_DIR_V2), 'utf8'))
  if (!isRecord(raw) || typeof raw['description'] !== 'string' || !Array.isArray(raw['cases'])) {
    throw new Error(`test vector file ${file}: expected { "description": string, "cases": [...] }`)
  }
  const kind = file.startsWith('valid-') ? 'valid' : 'invalid'
  return raw['cases'].map((entry: unknown, index) => parseCase(entry, file, version, kind, index))
}

function parseCase(entry: unknown, file: VectorFile, version: VectorVersion, kind: 'valid' | 'invalid', index: number): Vector {
  const where = `test vector ${file}[${index}]`
  if (!isRecord(entry)) throw new Error(`${where}: not an object`)
  const name = entry['name']
  if (typeof name !== 'string' || !KEBAB.test(name)) throw new Error(`${where}: name must be kebab-case`)
  const fail = (why: string): never => {
    throw new Error(`test vector ${file}#${name}: ${why}`)
  }
  const allowed =
    kind === 'valid'
      ? ['name', 'from', 'frame', 'binary', 'decoded', 'limits', 'note']
      : ['name', 'from', 'frame', 'binary', 'limits', 'error', 'layer', 'field', 'note']
  for (const key of Object.keys(entry)) if (!allowed.includes(key)) fail(`unknown key "${key}"`)
  const from = entry['from']
  if (typeof from !== 'string' || !DIRECTIONS.includes(from)) fail('from must be "client" or "server"')
  if (typeof entry['frame'] !== 'string') fail('frame must be a string')
  if (entry['note'] !== undefined && typeof entry['note'] !== 'string') fail('note must be a string')
  const limits = entry['limits']
  if (limits !== undefined) {
    if (!isRecord(limits)) fail('limits must be an object')
    for (const [key, value] of Object.entries(limits as Record<string, unknown>)) {
      if (!LIMIT_KEYS.includes(key)) fail(`unknown limit "${key}"`)
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail(`limit ${key} must be a non-negative integer`)
    }
  }
  if (entry['binary'] !== undefined && entry['binary'] !== true) fail('binary must be true when present')
  if (kind === 'valid') {
    if (!isRecord(entry['decoded'])) fail('decoded must be an object')
    return { kind, file, version, ...entry, decoded: withBytes(entry['decoded'] as Record<string, unknown>) } as unknown as ValidVector
  }
  if (typeof entry['error'] !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(entry['error'])) fail('error must be an ErrorCode')
  if (typeof entry['layer'] !== 'string' || !LAYERS.includes(entry['layer'])) fail('layer must be "frame" or "message"')
  if (entry['field'] !== undefined && typeof entry['field'] !== 'string') fail('field must be a string')
  return { kind, file, version, ...entry } as unknown as InvalidVector
}

/**
 * A decoded message as JSON writes it, with `bytes` (its own, or its history entries') as base64 text, turned into
 * the Uint8Array `decode` gives.
 */
function withBytes(decoded: Record<string, unknown>): Record<string, unknown> {
  const out = { ...decoded }
  if (typeof out['bytes'] === 'string') out['bytes'] = new Uint8Array(Buffer.from(out['bytes'], 'base64'))
  if (Array.isArray(out['messages'])) out['messages'] = out['messages'].map((entry: unknown) => (isRecord(entry) ? withBytes(entry) : entry))
  return out
}

/** The frame to hand to `decode`: the text, or for a binary vector a `Uint8Array` of its bytes. */
export function frameOf(vector: Vector): string | Uint8Array {
  if (vector.binary === true) return new Uint8Array(Buffer.from(vector.frame, 'base64'))
  return vector.frame
}

/** The options to decode a vector with: its direction, its version and, when it has them, its limits. */
export function decodeOptionsOf<V extends Vector>(
  vector: V,
): { readonly from: V['from']; readonly version: VectorVersion; readonly limits?: Partial<ProtocolLimits> } {
  return vector.limits === undefined ? { from: vector.from, version: vector.version } : { from: vector.from, version: vector.version, limits: vector.limits }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepFreeze<T>(value: T): T {
  // A typed array cannot be frozen (its elements stay writable): bytes are left as they are.
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const item of Object.values(value)) deepFreeze(item)
  }
  return value
}
