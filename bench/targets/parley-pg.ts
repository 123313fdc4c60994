import { randomBytes } from 'node:crypto'
import { parley, startParleyServer } from './parley.js'
import type { RunningServer, ServerSettings, Target } from './target.js'

/**
 * Parley with its PostgreSQL history store: the `parley` target's server and raw-frame client, plus
 * `createPostgresHistory` (every message written to PostgreSQL in batches off the fan-out path). Run beside
 * `parley` in one run (`--targets parley,parley-pg chat`) to see what durable history costs per message.
 *
 * Each trial migrates a fresh schema of its own in `PARLEY_BENCH_DATABASE_URL` (default the local `test` database)
 * and drops it when the server closes.
 */

export const BENCH_DATABASE_URL = process.env['PARLEY_BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

async function startServer(_settings: ServerSettings): Promise<RunningServer> {
  const { createPostgresHistory, migrate } = await import('@parley/postgres-history')
  const pg = await import('pg')
  const schema = `parley_bench_${randomBytes(6).toString('hex')}`
  await migrate({ url: BENCH_DATABASE_URL, schema })
  const store = createPostgresHistory({ url: BENCH_DATABASE_URL, schema })
  return startParleyServer({ history: { store } }, async () => {
    await store.close()
    const client = new pg.default.Client({ connectionString: BENCH_DATABASE_URL })
    await client.connect()
    await client.query(`DROP SCHEMA ${schema} CASCADE`)
    await client.end()
  })
}

export const parleyPg: Target = {
  ...parley,
  name: 'parley-pg',
  description: `${parley.description}; history: @parley/postgres-history on PostgreSQL (batched writes, a fresh schema per trial)`,
  startServer,
}
