import { readFileSync } from 'node:fs'
import Ajv2020 from 'ajv/dist/2020.js'
import type { ValidateFunction } from 'ajv'
import type { Direction } from '@parley/protocol'

/** The JSON Schema of protocol v1, parsed. */
export const schema = JSON.parse(readFileSync(new URL('../../schema/v1.json', import.meta.url), 'utf8')) as {
  readonly $schema: string
  readonly $id: string
  readonly title: string
  readonly description: string
  readonly $defs: Readonly<Record<string, SchemaDef>>
}

/** The parts of a `$defs` entry the tests read. */
export interface SchemaDef {
  readonly title?: string
  readonly description?: string
  readonly type?: string
  readonly properties?: Readonly<Record<string, { readonly const?: string; readonly $ref?: string }>>
  readonly required?: readonly string[]
  readonly additionalProperties?: unknown
  readonly oneOf?: readonly { readonly $ref: string }[]
}

/** Ajv in strict mode: unknown keywords, ambiguous types and bad formats are errors, so the schema stays portable. */
export const ajv = new Ajv2020({ strict: true, allErrors: true })
ajv.addSchema(schema)

function compiled(pointer: string): ValidateFunction {
  const validate = ajv.getSchema(`${schema.$id}${pointer}`)
  if (validate === undefined) throw new Error(`schema has no ${pointer}`)
  return validate
}

/** Validators of the root schema and of each direction. */
export const validators: { readonly root: ValidateFunction } & { readonly [D in Direction]: ValidateFunction } = {
  root: compiled(''),
  client: compiled('#/$defs/clientMessage'),
  server: compiled('#/$defs/serverMessage'),
}

/** A validator for one `$defs` entry. */
export function defValidator(name: string): ValidateFunction {
  return compiled(`#/$defs/${name}`)
}
