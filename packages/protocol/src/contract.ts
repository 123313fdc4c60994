import type { StandardSchemaV1 } from './standard-schema.js'
import type { JsonValue } from './messages.js'

/**
 * One typed contract for a Parley app, imported by its server and its clients: per room name or pattern
 * (`'chat:*'`), the schemas of its messages, presence and signals; and named requests (client → server) with the
 * schemas of their input and output. Schemas are any Standard Schema (Zod, Valibot, ArkType, or your own object with
 * a `~standard` property): Parley depends on none of them. Types are inferred from the schemas, and both SDKs check
 * values against them at run time.
 */

/** Any Standard Schema whose output is `T`. */
export type Schema<T = unknown> = StandardSchemaV1<unknown, T>

/** What a room (or every room matching a pattern) carries. */
export interface RoomContract {
  /** `data` of every message published to the room. */
  readonly message?: Schema | undefined
  /** Presence metadata of each member (a join's `presence`, `presence-update`). */
  readonly presence?: Schema | undefined
  /** Signal values by key (`typing` included, when given); a key without a schema here is refused. */
  readonly signals?: Readonly<Record<string, Schema>> | undefined
}

/** A named request: what the client sends, what the server answers, and how long the client waits. */
export interface RequestContract {
  readonly input: Schema
  readonly output: Schema
  /** How long `client.request()` waits for the answer, in ms. @default the client's ackTimeoutMs */
  readonly timeoutMs?: number | undefined
  /** Error codes the handler may answer with (besides Parley's own), so clients can branch on them. */
  readonly errors?: readonly string[] | undefined
}

/** What `defineContract` takes. Room keys are names, or patterns ending in `*` (`'chat:*'` matches `chat:lobby`). */
export interface ContractDefinition {
  readonly rooms?: Readonly<Record<string, RoomContract>> | undefined
  readonly requests?: Readonly<Record<string, RequestContract>> | undefined
}

/** A contract, as `defineContract` makes it: the definition, and the lookups both SDKs use. */
export interface Contract<D extends ContractDefinition = ContractDefinition> {
  readonly definition: D
  /** The contract of a room: an exact name first, else the longest matching pattern; undefined for a room it does not name. */
  room(name: string): RoomContract | undefined
  /** The contract of a request by name. */
  request(name: string): RequestContract | undefined
}

/** Longest request name, in characters. */
export const MAX_REQUEST_NAME_LENGTH = 128
/** Characters of a request name: letters, digits and `_ - . : /`. */
export const REQUEST_NAME_PATTERN = /^[A-Za-z0-9_\-.:/]+$/

/** Defines a contract; throws a `TypeError` naming what is wrong with the definition. */
export function defineContract<const D extends ContractDefinition>(definition: D): Contract<D> {
  const isSchema = (value: unknown): boolean =>
    typeof value === 'object' && value !== null && typeof (value as { '~standard'?: { validate?: unknown } })['~standard']?.validate === 'function'
  const fail = (message: string): never => {
    throw Object.assign(new TypeError(`defineContract: ${message}`), { code: 'INVALID_OPTION' as const })
  }
  const exact = new Map<string, RoomContract>()
  const patterns: Array<{ prefix: string; room: RoomContract }> = []
  for (const [key, room] of Object.entries(definition.rooms ?? {})) {
    for (const part of ['message', 'presence'] as const) {
      if (room[part] !== undefined && !isSchema(room[part])) fail(`rooms["${key}"].${part} is not a Standard Schema (Zod, Valibot, ArkType, or an object with "~standard")`)
    }
    for (const [signal, schema] of Object.entries(room.signals ?? {})) {
      if (!isSchema(schema)) fail(`rooms["${key}"].signals.${signal} is not a Standard Schema`)
    }
    const star = key.indexOf('*')
    if (star === -1) exact.set(key, room)
    else if (star === key.length - 1) patterns.push({ prefix: key.slice(0, -1), room })
    else fail(`rooms["${key}"]: a pattern has one "*", at its end ("chat:*")`)
  }
  // Longest prefix first: 'chat:vip:*' wins over 'chat:*'.
  patterns.sort((a, b) => b.prefix.length - a.prefix.length)
  const requests = new Map<string, RequestContract>()
  for (const [name, request] of Object.entries(definition.requests ?? {})) {
    if (name.length > MAX_REQUEST_NAME_LENGTH || !REQUEST_NAME_PATTERN.test(name)) fail(`requests["${name}"]: a request name is 1-${MAX_REQUEST_NAME_LENGTH} characters from [A-Za-z0-9_-.:/]`)
    if (!isSchema(request.input) || !isSchema(request.output)) fail(`requests["${name}"] needs an input and an output Standard Schema`)
    if (request.timeoutMs !== undefined && !(Number.isInteger(request.timeoutMs) && request.timeoutMs > 0)) fail(`requests["${name}"].timeoutMs must be a positive integer`)
    requests.set(name, request)
  }
  return {
    definition,
    room(name) {
      const found = exact.get(name)
      if (found !== undefined) return found
      for (const pattern of patterns) if (name.startsWith(pattern.prefix) && name.length > pattern.prefix.length) return pattern.room
      return undefined
    },
    request: (name) => requests.get(name),
  }
}

/** One problem a schema found: where (`text`, `items.0.name`; empty for the value itself) and what. */
export interface ValidationIssue {
  readonly path: string
  readonly message: string
}

/** Most issues an error carries; the rest are counted in its message. */
export const MAX_VALIDATION_ISSUES = 20

/**
 * Checks `value` against `schema` synchronously: the validated (possibly transformed) value, or the issues. A
 * schema that validates asynchronously is answered with one issue saying so: messages are checked in the order
 * they arrive, which an await would break.
 */
export function validateWith(schema: Schema, value: unknown): { readonly value: unknown } | { readonly issues: readonly ValidationIssue[] } {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>
  try {
    result = schema['~standard'].validate(value)
  } catch (error) {
    return { issues: [{ path: '', message: `the schema threw: ${error instanceof Error ? error.message : String(error)}` }] }
  }
  if (typeof (result as { then?: unknown }).then === 'function') {
    return { issues: [{ path: '', message: 'the schema validates asynchronously; Parley needs a synchronous schema' }] }
  }
  result = result as StandardSchemaV1.Result<unknown>
  if (result.issues === undefined) return { value: result.value }
  return {
    issues: result.issues.slice(0, MAX_VALIDATION_ISSUES).map((issue) => ({
      path: (issue.path ?? []).map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment)).join('.'),
      message: issue.message,
    })),
  }
}

/** Issues as one line: `text: Required; items.0: Expected number`. */
export function describeIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`)).join('; ')
}

/* ----------------------------------------------------------------- types inferred from a contract */

/** The output type of a schema; `JsonValue` when there is none. */
export type OutputOf<S> = S extends StandardSchemaV1<unknown, infer O> ? O : JsonValue
/** The input type of a schema; `JsonValue` when there is none. */
export type InputOf<S> = S extends StandardSchemaV1<infer I, unknown> ? I : JsonValue

/** The room names a key stands for: `'chat:*'` → `` `chat:${string}` ``. */
export type RoomNameOf<K extends string> = K extends `${infer Prefix}*` ? `${Prefix}${string}` : K

/**
 * The rooms of a contract whose keys are known (one made by `defineContract({...})`); never for no contract, a union
 * with undefined (an options object typed `ClientOptions`), or a contract typed only as `Contract`: those are untyped.
 */
type RoomsOf<C> = [C] extends [Contract<infer D>] ? KnownEntries<D['rooms'], RoomContract> : never
type RequestsOf<C> = [C] extends [Contract<infer D>] ? KnownEntries<D['requests'], RequestContract> : never
/** `T` when it is a record of `Entry` whose keys are literal; never otherwise. */
type KnownEntries<T, Entry> = T extends Readonly<Record<string, Entry>> ? (string extends keyof T ? never : T) : never

/** True for a contract whose rooms or requests are known by name (made by `defineContract({...})`). */
export type IsTypedContract<C> = [RoomsOf<C> | RequestsOf<C>] extends [never] ? false : true

/** The room contracts of contract `C` that room `N` matches. */
export type RoomContractOf<C, N extends string> = {
  [K in keyof RoomsOf<C> & string]: N extends RoomNameOf<K> ? RoomsOf<C>[K] : never
}[keyof RoomsOf<C> & string]

/** Every room name contract `C` allows. */
export type RoomNames<C> = [RoomsOf<C>] extends [never] ? string : { [K in keyof RoomsOf<C> & string]: RoomNameOf<K> }[keyof RoomsOf<C> & string]

/** The message data of room `N` under contract `C`. */
export type MessageOf<C, N extends string> = [RoomContractOf<C, N>] extends [never] ? JsonValue : OutputOf<NonNullable<RoomContractOf<C, N>['message']>>
/** The presence of room `N` under contract `C`. */
export type PresenceOf<C, N extends string> = [RoomContractOf<C, N>] extends [never] ? JsonValue : OutputOf<NonNullable<RoomContractOf<C, N>['presence']>>
/** The signal values (of every key) of room `N` under contract `C`. */
export type SignalOf<C, N extends string> = [RoomContractOf<C, N>] extends [never]
  ? JsonValue
  : { [K in keyof NonNullable<RoomContractOf<C, N>['signals']>]: OutputOf<NonNullable<RoomContractOf<C, N>['signals']>[K]> }[keyof NonNullable<RoomContractOf<C, N>['signals']>]

/** The request names of contract `C`. */
export type RequestNames<C> = keyof RequestsOf<C> & string
/** What `client.request(name, input)` takes. */
export type RequestInput<C, N extends string> = N extends keyof RequestsOf<C> ? InputOf<RequestsOf<C>[N]['input']> : never
/** What the server's handler receives (the validated input). */
export type RequestHandlerInput<C, N extends string> = N extends keyof RequestsOf<C> ? OutputOf<RequestsOf<C>[N]['input']> : never
/** What the client receives: the output schema's output. */
export type RequestOutput<C, N extends string> = N extends keyof RequestsOf<C> ? OutputOf<RequestsOf<C>[N]['output']> : never
/** What the handler returns: what the output schema accepts (the client applies the schema). */
export type RequestHandlerOutput<C, N extends string> = N extends keyof RequestsOf<C> ? InputOf<RequestsOf<C>[N]['output']> : never
