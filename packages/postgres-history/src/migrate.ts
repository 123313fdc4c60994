import { resolveMigrateOptions, type MigrateOptions } from './options.js'
import { openPool } from './pool.js'
import { runMigrations, type MigrationResult } from './schema.js'

/**
 * Creates or updates the store's tables in `options.schema` (README.md, "Schema"): the only way they are made,
 * never silently at import or on first use. Idempotent and safe to run from several nodes at once; run it at deploy
 * time (or with the `parley-postgres-history migrate` command). Rejects with a `TypeError` for a bad option and a
 * `PostgresHistoryError` when the database refuses.
 */
export async function migrate(options: MigrateOptions): Promise<MigrationResult> {
  const resolved = resolveMigrateOptions(options)
  const { pool, owned } = openPool(resolved, undefined)
  try {
    return await runMigrations(pool, resolved.schema, resolved.searchConfig, resolved.secrets)
  } finally {
    if (owned) await pool.end()
  }
}
