import type { JsonValue } from '@parley/protocol'
// The protocol's valid test vectors, bundled into this package at build time: the raw client sends frames made from
// the client vectors, and mock servers answer with frames made from the server vectors.
import validClient from '../../protocol/test-vectors/v1/valid-client.json'
import validServer from '../../protocol/test-vectors/v1/valid-server.json'

/** One valid test vector: its name, sender and exact frame. */
export interface FrameVector {
  readonly name: string
  readonly from: 'client' | 'server'
  readonly frame: string
}

type JsonObject = { [key: string]: JsonValue }

const VECTORS: ReadonlyMap<string, FrameVector> = new Map(
  [validClient, validServer]
    .flatMap((file) => (file as unknown as { cases: FrameVector[] }).cases)
    .map((vector) => [vector.name, { name: vector.name, from: vector.from, frame: vector.frame }] as const),
)

/** The valid test vector called `name` (from `valid-client.json` or `valid-server.json`). */
export function vector(name: string): FrameVector {
  const found = VECTORS.get(name)
  if (found === undefined) throw new Error(`@parley/contract: no valid test vector named "${name}"`)
  return found
}

/** The message of a vector's frame, parsed, as a template to fill. */
export function vectorMessage(name: string): JsonObject {
  return JSON.parse(vector(name).frame) as JsonObject
}

/**
 * Fills a template object: each field must already exist in it (so a vector that no longer fits fails loudly rather
 * than producing a frame nobody specified); `undefined` removes the field. Key order stays the template's.
 */
export function fill(template: JsonObject, fields: Readonly<Record<string, JsonValue | undefined>>, where = 'template'): JsonObject {
  const out: JsonObject = { ...template }
  for (const [key, value] of Object.entries(fields)) {
    if (!(key in template)) throw new Error(`@parley/contract: ${where} has no field "${key}"`)
    if (value === undefined) delete out[key]
    else out[key] = value
  }
  return out
}

/** A frame made from the vector `name` with some fields replaced or removed (see {@link fill}). */
export function frameFromVector(name: string, fields: Readonly<Record<string, JsonValue | undefined>> = {}): string {
  return JSON.stringify(fill(vectorMessage(name), fields, `test vector "${name}"`))
}
