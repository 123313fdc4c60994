import pg from 'pg'

/** The database the tests use: PARLEY_POSTGRES_URL, or database `test` on 127.0.0.1:5432 as `postgres` (trust auth). */
export const POSTGRES_URL = process.env['PARLEY_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Whether PostgreSQL answers at {@link POSTGRES_URL}. Tests that need it skip with a printed reason when it is
 * missing, and fail instead when PARLEY_REQUIRE_POSTGRES=1 (CI), so a missing install step cannot pass unnoticed.
 */
export async function postgresAvailable(url = POSTGRES_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
  // A refused or dropped connection is reported by connect() below; this only keeps it from being unhandled.
  client.on('error', () => {})
  let reason: string | undefined
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => {})
  }
  const where = new URL(url)
  where.password = ''
  if (reason !== undefined && process.env['PARLEY_REQUIRE_POSTGRES'] === '1') {
    throw new Error(`PostgreSQL is required (PARLEY_REQUIRE_POSTGRES=1) but ${where.href} does not answer: ${reason}`)
  }
  if (reason !== undefined) {
    console.warn(`[parley] skipping PostgreSQL tests: ${where.href} does not answer (${reason}); start one, or set PARLEY_REQUIRE_POSTGRES=1 to make this an error`)
  }
  return reason === undefined
}
