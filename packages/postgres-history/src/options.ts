import { closestName, type JsonValue } from '@parley/protocol'
import type { Logger, ParleyOptionError } from '@parley/server-sdk'
import type { Pool, PoolConfig } from 'pg'
import { passwordsOf } from './history-error.js'

/** Where the database is, for {@link createPostgresHistory} and {@link migrate}. Give `url` or `pool`. */
export interface ConnectionOptions {
  /**
   * A PostgreSQL connection string (`postgres://user:password@host:5432/db`). The store creates its own pool from
   * it and ends that pool on `close()`. Never logged with its password.
   */
  readonly url?: string | undefined
  /**
   * A `pg.Pool` of yours, instead of `url`: the store queries through it and never ends it. Give it an `'error'`
   * listener, as node-postgres asks of every pool (an idle connection that drops emits one).
   */
  readonly pool?: Pool | undefined
  /** More settings for the pool created from `url` (`max`, `ssl`, ...). Not with `pool`. */
  readonly poolOptions?: Omit<PoolConfig, 'connectionString' | 'connectionTimeoutMillis'> | undefined
  /**
   * How long opening a connection may take before the call that needed it rejects (`UNAVAILABLE`), so a database
   * that is down fails fast instead of hanging. For the pool created from `url`; set `connectionTimeoutMillis` on
   * a pool of yours. @default 5_000
   */
  readonly connectionTimeoutMs?: number | undefined
  /**
   * The PostgreSQL schema holding the store's tables (created by the migration when missing), so several apps or
   * test runs can share a database. Lower-case letters, digits and `_`. @default 'public'
   */
  readonly schema?: string | undefined
}

/** Options of {@link migrate}. */
export interface MigrateOptions extends ConnectionOptions {
  /**
   * The text search configuration the full-text index is built with (`simple`, `english`, `german`, ... or
   * `myschema.myconfig`): it decides how words are split and stemmed and which are stop words. Fixed when the schema
   * is first migrated; migrating again with another one is refused (`SCHEMA_MISMATCH`). @default 'simple'
   */
  readonly searchConfig?: string | undefined
}

/** What the store keeps; `prune()` removes the rest. Without any limit it keeps everything. */
export interface RetentionOptions {
  /** Messages older than this (by their `ts`) are removed. @default no age limit */
  readonly maxAgeMs?: number | undefined
  /** Messages kept per room: the newest this many; older ones are removed. @default no count limit */
  readonly maxPerRoom?: number | undefined
}

/** Options of {@link createPostgresHistory}. */
export interface PostgresHistoryOptions extends MigrateOptions {
  /**
   * The text of a message that search matches (cut at `MAX_SEARCH_TEXT` characters).
   * @default every string in `data`, joined by spaces (`searchTextOf` of `@parley/server-sdk`)
   */
  readonly searchText?: ((data: JsonValue) => string) | undefined
  /** What to keep. @default everything */
  readonly retention?: RetentionOptions | undefined
  /** How often the store applies `retention` by itself (when it has a limit). @default 60_000 */
  readonly pruneIntervalMs?: number | undefined
  /**
   * How long one query may wait for the database's answer before it rejects (`UNAVAILABLE`): a connection that
   * went silent (a network partition) fails instead of hanging. @default 10_000
   */
  readonly queryTimeoutMs?: number | undefined
  /** Where failures of the periodic prune are reported. @default silent */
  readonly logger?: Logger | undefined
  /** @internal Clock for age retention, for tests. */
  readonly now?: (() => number) | undefined
  /** @internal How many of the newest messages a search looks through before it asks the full-text index. */
  readonly searchWindow?: number | undefined
}

const CONNECTION_OPTIONS = ['url', 'pool', 'poolOptions', 'connectionTimeoutMs', 'schema'] as const
const MIGRATE_OPTIONS = [...CONNECTION_OPTIONS, 'searchConfig'] as const
const STORE_OPTIONS = [...MIGRATE_OPTIONS, 'searchText', 'retention', 'pruneIntervalMs', 'queryTimeoutMs', 'logger', 'now', 'searchWindow'] as const
const RETENTION_OPTIONS = ['maxAgeMs', 'maxPerRoom'] as const

/** A PostgreSQL identifier we put in SQL text: plain, lower-case (so quoting never changes it), at most 63 bytes. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/
/** A text search configuration's name, schema-qualified or not. */
const SEARCH_CONFIG = /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/

/** The connection settings, checked. */
export interface ResolvedConnection {
  readonly url: string | undefined
  readonly pool: Pool | undefined
  readonly poolOptions: Omit<PoolConfig, 'connectionString' | 'connectionTimeoutMillis'>
  readonly connectionTimeoutMs: number
  readonly schema: string
  /** Passwords to keep out of messages. */
  readonly secrets: readonly string[]
}

export interface ResolvedMigrateOptions extends ResolvedConnection {
  /** `undefined` when not given: the schema's own, or `'simple'` for a new one. */
  readonly searchConfig: string | undefined
}

export interface ResolvedStoreOptions extends ResolvedMigrateOptions {
  readonly searchText: ((data: JsonValue) => string) | undefined
  readonly maxAgeMs: number | undefined
  readonly maxPerRoom: number | undefined
  readonly pruneIntervalMs: number
  readonly queryTimeoutMs: number
  readonly logger: Logger | undefined
  readonly now: () => number
  readonly searchWindow: number
}

/** The text search configuration of a schema migrated without one. */
export const DEFAULT_SEARCH_CONFIG = 'simple'

function optionError(message: string): ParleyOptionError {
  return Object.assign(new TypeError(`Parley postgres history: ${message}`), { code: 'INVALID_OPTION' as const })
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (value === null || Array.isArray(value)) return value === null ? 'null' : 'an array'
  return typeof value === 'object' || typeof value === 'function' ? `a ${typeof value}` : String(value)
}

function fail(option: string, expected: string, value: unknown): never {
  throw optionError(`option "${option}" must be ${expected}, got ${describe(value)}`)
}

/** Refuses keys that are not options, naming the likely one meant. */
function onlyKnown(prefix: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const near = closestName(key, known)
    throw optionError(
      `unknown option "${prefix}${key}"${near === undefined ? '' : `; did you mean "${prefix}${near}"?`} Known: ${known.map((k) => prefix + k).join(', ')}`,
    )
  }
}

function positiveInt(option: string, value: unknown, fallback: number): number
function positiveInt(option: string, value: unknown, fallback: undefined): number | undefined
function positiveInt(option: string, value: unknown, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) fail(option, 'a positive integer', value)
  return value
}

function optionsObject(value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw optionError(`options must be an object, got ${describe(value)}`)
  onlyKnown('', value, known)
  return value as Record<string, unknown>
}

function resolveConnection(options: Record<string, unknown>): ResolvedConnection {
  const { url, pool, poolOptions, connectionTimeoutMs, schema } = options
  if (url !== undefined && (typeof url !== 'string' || url.trim() === '')) fail('url', 'a non-empty connection string', '(redacted)')
  if (pool !== undefined) {
    const candidate = pool as { query?: unknown; connect?: unknown } | null
    if (typeof candidate !== 'object' || candidate === null || typeof candidate.query !== 'function' || typeof candidate.connect !== 'function') {
      fail('pool', 'a pg.Pool', pool)
    }
    if (url !== undefined) throw optionError('give either option "url" or option "pool", not both')
    if (poolOptions !== undefined) throw optionError('option "poolOptions" applies to the pool created from "url"; configure your own "pool" directly')
    if (connectionTimeoutMs !== undefined) {
      throw optionError('option "connectionTimeoutMs" applies to the pool created from "url"; set "connectionTimeoutMillis" on your own "pool"')
    }
  } else if (url === undefined) {
    throw optionError('option "url" (a postgres:// connection string) or option "pool" (a pg.Pool) is required')
  }
  if (poolOptions !== undefined && (typeof poolOptions !== 'object' || poolOptions === null || Array.isArray(poolOptions))) {
    fail('poolOptions', 'an object of pg.Pool settings', poolOptions)
  }
  const resolvedSchema = schema ?? 'public'
  if (typeof resolvedSchema !== 'string' || !IDENTIFIER.test(resolvedSchema)) {
    fail('schema', 'a plain PostgreSQL name: lower-case letters, digits and "_", not starting with a digit, at most 63 characters', schema)
  }
  const poolPassword = (poolOptions as PoolConfig | undefined)?.password
  const passwords = [...passwordsOf(url as string | undefined), ...(typeof poolPassword === 'string' ? [poolPassword] : [])]
  return {
    url: url as string | undefined,
    pool: pool as Pool | undefined,
    poolOptions: (poolOptions ?? {}) as ResolvedConnection['poolOptions'],
    connectionTimeoutMs: positiveInt('connectionTimeoutMs', connectionTimeoutMs, 5_000),
    schema: resolvedSchema,
    secrets: passwords,
  }
}

function resolveSearchConfig(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !SEARCH_CONFIG.test(value)) {
    fail('searchConfig', 'the name of a text search configuration such as "simple" or "english" (lower-case letters, digits, "_", optionally "schema.")', value)
  }
  return value
}

/** Checks the options of {@link migrate}; a bad one throws a `TypeError` (code `INVALID_OPTION`) at once. */
export function resolveMigrateOptions(options: unknown): ResolvedMigrateOptions {
  const raw = optionsObject(options, MIGRATE_OPTIONS)
  return { ...resolveConnection(raw), searchConfig: resolveSearchConfig(raw['searchConfig']) }
}

/** Checks the options of {@link createPostgresHistory}; a bad one throws a `TypeError` (code `INVALID_OPTION`) at once. */
export function resolveStoreOptions(options: unknown): ResolvedStoreOptions {
  const raw = optionsObject(options, STORE_OPTIONS)
  const { searchText, retention, pruneIntervalMs, queryTimeoutMs, logger, now, searchWindow } = raw
  if (searchText !== undefined && typeof searchText !== 'function') fail('searchText', 'a function (data) => string', searchText)
  if (now !== undefined && typeof now !== 'function') fail('now', 'a function () => number', now)
  if (logger !== undefined) {
    const candidate = logger as Partial<Record<keyof Logger, unknown>> | null
    if (typeof candidate !== 'object' || candidate === null || typeof candidate.warn !== 'function' || typeof candidate.error !== 'function') {
      fail('logger', 'a Logger ({ debug, info, warn, error })', logger)
    }
  }
  let maxAgeMs: number | undefined
  let maxPerRoom: number | undefined
  if (retention !== undefined) {
    if (typeof retention !== 'object' || retention === null || Array.isArray(retention)) fail('retention', 'an object { maxAgeMs?, maxPerRoom? }', retention)
    onlyKnown('retention.', retention, RETENTION_OPTIONS)
    const limits = retention as Record<string, unknown>
    maxAgeMs = positiveInt('retention.maxAgeMs', limits['maxAgeMs'], undefined)
    maxPerRoom = positiveInt('retention.maxPerRoom', limits['maxPerRoom'], undefined)
  }
  return {
    ...resolveConnection(raw),
    searchConfig: resolveSearchConfig(raw['searchConfig']),
    searchText: searchText as ResolvedStoreOptions['searchText'],
    maxAgeMs,
    maxPerRoom,
    pruneIntervalMs: positiveInt('pruneIntervalMs', pruneIntervalMs, 60_000),
    queryTimeoutMs: positiveInt('queryTimeoutMs', queryTimeoutMs, 10_000),
    logger: logger as Logger | undefined,
    now: (now as (() => number) | undefined) ?? Date.now,
    searchWindow: positiveInt('searchWindow', searchWindow, 2_000),
  }
}
