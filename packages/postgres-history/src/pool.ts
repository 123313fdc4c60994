import type { Logger } from '@parley/server-sdk'
import pg from 'pg'
import { redact } from './history-error.js'
import type { ResolvedConnection } from './options.js'

/** The pool to use, and whether it is ours to end. */
export interface PoolHandle {
  readonly pool: pg.Pool
  readonly owned: boolean
}

/** The user's pool, or one made from `url` (ended by whoever made it). */
export function openPool(connection: ResolvedConnection, logger: Logger | undefined): PoolHandle {
  if (connection.pool !== undefined) return { pool: connection.pool, owned: false }
  const pool = new pg.Pool({
    application_name: 'parley-postgres-history',
    ...connection.poolOptions,
    connectionString: connection.url,
    connectionTimeoutMillis: connection.connectionTimeoutMs,
  })
  // An idle connection that drops (database restart, network) is reported here; without a listener node-postgres'
  // 'error' event would end the process. The next query opens a new connection, or rejects.
  pool.on('error', (error) => logger?.warn({ event: 'history-store.connection-lost', error: redact(error.message, connection.secrets) }, 'parley postgres history: idle connection lost'))
  return { pool, owned: true }
}
