import type { Pool, PoolClient } from 'pg'
import { databaseError, PostgresHistoryError } from './history-error.js'
import { DEFAULT_SEARCH_CONFIG } from './options.js'

/**
 * The store's tables, in the schema of the `schema` option (README.md, "Schema", shows them as DDL):
 * - `parley_history`: one row per message, primary key (room, ordinal, seq), so a page is one index range scan.
 * - `parley_history_epochs`: each room's epochs with their ordinal, 0, 1, 2, ... in the order the store first saw them.
 * - `parley_history_migrations`: one row per schema version applied.
 * - `parley_history_settings`: what the schema was built with (`search_config`).
 */
export const TABLES = {
  messages: 'parley_history',
  epochs: 'parley_history_epochs',
  migrations: 'parley_history_migrations',
  settings: 'parley_history_settings',
} as const

/** The tables' names, schema-qualified and quoted, ready for SQL text. */
export type TableNames = { readonly [K in keyof typeof TABLES]: string }

/** `schema` has been checked against a plain lower-case identifier pattern; quoting keeps it exactly so. */
export function tableNames(schema: string): TableNames {
  const q = (table: string): string => `"${schema}"."${table}"`
  return { messages: q(TABLES.messages), epochs: q(TABLES.epochs), migrations: q(TABLES.migrations), settings: q(TABLES.settings) }
}

interface Migration {
  readonly version: number
  readonly description: string
  /** DDL; `searchConfig` has been checked against an identifier pattern and exists in the database. */
  statements(t: TableNames, schema: string, searchConfig: string): string[]
}

/**
 * Every schema version, in order. A new version is appended, never edited: `migrate` applies the ones a schema
 * lacks, each in the same transaction as the row that records it. Versions only add (columns, indexes, tables), so
 * a node still running the previous release keeps working while a rolling deploy migrates.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'messages by (room, epoch ordinal, seq), epochs, full-text search, age index',
    statements: (t, schema, searchConfig) => [
      `CREATE TABLE IF NOT EXISTS ${t.settings} (
        name text PRIMARY KEY,
        value text NOT NULL
      )`,
      `INSERT INTO ${t.settings} (name, value) VALUES ('search_config', '${searchConfig}') ON CONFLICT (name) DO NOTHING`,
      `CREATE TABLE IF NOT EXISTS ${t.epochs} (
        room text NOT NULL,
        epoch text NOT NULL,
        ordinal integer NOT NULL,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (room, epoch),
        CONSTRAINT ${TABLES.epochs}_ordinal UNIQUE (room, ordinal)
      )`,
      `CREATE TABLE IF NOT EXISTS ${t.messages} (
        room text NOT NULL,
        ordinal integer NOT NULL,
        seq bigint NOT NULL,
        epoch text NOT NULL,
        sender text,
        ts double precision NOT NULL,
        data json NOT NULL,
        search_text text NOT NULL,
        search tsvector GENERATED ALWAYS AS (to_tsvector('${searchConfig}'::regconfig, search_text)) STORED,
        PRIMARY KEY (room, ordinal, seq)
      )`,
      `CREATE INDEX IF NOT EXISTS ${TABLES.messages}_ts ON ${t.messages} (ts)`,
      `CREATE INDEX IF NOT EXISTS ${TABLES.messages}_search ON ${t.messages} USING gin (search)`,
      `COMMENT ON TABLE ${t.messages} IS 'Parley room history (@parley/postgres-history). Schema "${schema}".'`,
    ],
  },
  {
    version: 2,
    description: 'bytes published with a message (protocol v2)',
    statements: (t) => [`ALTER TABLE ${t.messages} ADD COLUMN IF NOT EXISTS bytes bytea`],
  },
]

/** The schema version this release reads and writes. */
export const SCHEMA_VERSION = (MIGRATIONS.at(-1) as Migration).version

/** What {@link migrate} did. */
export interface MigrationResult {
  readonly schema: string
  /** The schema's version now. */
  readonly version: number
  /** The versions this call applied, oldest first: empty when the schema was up to date. */
  readonly applied: number[]
  /** The text search configuration the schema's search index uses. */
  readonly searchConfig: string
}

/** The command that migrates, for error messages. */
export function migrateCommand(schema: string): string {
  return `npx parley-postgres-history migrate --url <postgres url>${schema === 'public' ? '' : ` --schema ${schema}`}`
}

/**
 * Brings `schema` to {@link SCHEMA_VERSION} in one transaction, under an advisory lock so nodes migrating at once
 * take turns (the second finds nothing left to do). Idempotent.
 */
export async function runMigrations(pool: Pool, schema: string, searchConfig: string | undefined, secrets: readonly string[]): Promise<MigrationResult> {
  let client: PoolClient
  try {
    client = await pool.connect()
  } catch (error) {
    throw databaseError('migrate', error, secrets)
  }
  let failed: unknown
  try {
    await client.query('BEGIN')
    // Two-key form: the first key marks the lock as ours, the second is the schema's.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('parley_history_migrate'), hashtext($1))`, [schema])
    const t = tableNames(schema)
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.migrations} (
      version integer PRIMARY KEY,
      description text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${t.migrations}`)).rows.map((row) => row.version))
    const recorded = done.size === 0 ? undefined : await searchConfigOf(client, t)
    if (searchConfig !== undefined && recorded !== undefined && recorded !== searchConfig) {
      throw new PostgresHistoryError(
        'SCHEMA_MISMATCH',
        `Parley postgres history: schema "${schema}" was migrated with searchConfig "${recorded}", not "${searchConfig}"; ` +
          'changing it means rebuilding the search column (README.md, "Changing the search configuration")',
      )
    }
    const config = recorded ?? searchConfig ?? DEFAULT_SEARCH_CONFIG
    // The name goes into DDL as a literal: make sure the database has it (this also rejects anything odd).
    await client.query('SELECT $1::regconfig', [config]).catch((error: unknown) => {
      throw new PostgresHistoryError('QUERY_FAILED', `Parley postgres history: text search configuration "${config}" does not exist in this database`, { cause: error })
    })
    const applied: number[] = []
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue
      for (const statement of migration.statements(t, schema, config)) await client.query(statement)
      await client.query(`INSERT INTO ${t.migrations} (version, description) VALUES ($1, $2)`, [migration.version, migration.description])
      applied.push(migration.version)
    }
    await client.query('COMMIT')
    return { schema, version: Math.max(SCHEMA_VERSION, ...done), applied, searchConfig: config }
  } catch (error) {
    failed = error
    await client.query('ROLLBACK').catch(() => {})
    throw databaseError('migrate', error, secrets)
  } finally {
    // A client whose connection failed mid-transaction must not go back to the pool.
    client.release(failed instanceof PostgresHistoryError ? undefined : (failed as Error | undefined))
  }
}

async function searchConfigOf(client: PoolClient, t: TableNames): Promise<string | undefined> {
  const { rows } = await client.query<{ value: string }>(`SELECT value FROM ${t.settings} WHERE name = 'search_config'`)
  return rows[0]?.value
}

/** What a store needs to know of its schema before its first query. */
export interface SchemaState {
  readonly version: number
  readonly searchConfig: string
}

/**
 * The schema's version and search configuration; rejects with `NOT_MIGRATED` (naming the command to run) when the
 * store's tables are missing or older than this release.
 */
export async function checkSchema(
  query: (text: string) => Promise<Array<Record<string, unknown>>>,
  schema: string,
): Promise<SchemaState> {
  const t = tableNames(schema)
  const notMigrated = (why: string, cause?: unknown): PostgresHistoryError =>
    new PostgresHistoryError(
      'NOT_MIGRATED',
      `Parley postgres history: ${why}. The store never creates or changes tables by itself: run \`${migrateCommand(schema)}\` ` +
        '(or `await migrate({ url, schema })`, or `await store.migrate()`) once before using it',
      cause === undefined ? {} : { cause },
    )
  let rows: Array<Record<string, unknown>>
  try {
    rows = await query(
      `SELECT (SELECT max(version) FROM ${t.migrations}) AS version, (SELECT value FROM ${t.settings} WHERE name = 'search_config') AS search_config`,
    )
  } catch (error) {
    // 42P01 undefined_table, 3F000 invalid_schema_name.
    const code = (error as { code?: unknown } | null)?.code
    if (code === '42P01' || code === '3F000') throw notMigrated(`schema "${schema}" has no history tables`, error)
    throw error
  }
  const version = Number(rows[0]?.['version'] ?? 0)
  const searchConfig = rows[0]?.['search_config']
  if (version < SCHEMA_VERSION || typeof searchConfig !== 'string') {
    throw notMigrated(`schema "${schema}" is at history schema version ${version}; this release needs version ${SCHEMA_VERSION}`)
  }
  return { version, searchConfig }
}
