/**
 * Type tests for the public API of `@parley/postgres-history`: checked by `tsc --noEmit`, never executed. Each
 * `@ts-expect-error` line must stay an error.
 */
import { createPostgresHistory, migrate, PostgresHistoryError, type MigrationResult, type PostgresHistoryErrorCode, type PostgresHistoryStore } from '@parley/postgres-history'
import type { HistoryRows, HistoryStore } from '@parley/server-sdk'
import pg from 'pg'
import { expectTypeOf } from 'vitest'

const store = createPostgresHistory({ url: 'postgres://127.0.0.1/db', schema: 'chat', retention: { maxAgeMs: 1_000, maxPerRoom: 10 } })
expectTypeOf(store).toMatchTypeOf<HistoryStore>()
expectTypeOf(store.search).returns.toEqualTypeOf<Promise<HistoryRows | undefined>>()
expectTypeOf(store.prune).returns.toEqualTypeOf<Promise<number>>()
expectTypeOf(store.migrate).returns.toEqualTypeOf<Promise<void>>()
expectTypeOf(store.close).returns.toEqualTypeOf<Promise<void>>()
expectTypeOf(migrate).returns.toEqualTypeOf<Promise<MigrationResult>>()
expectTypeOf<PostgresHistoryError['code']>().toEqualTypeOf<PostgresHistoryErrorCode>()
expectTypeOf<PostgresHistoryStore>().not.toBeAny()

// A pool of yours instead of a URL.
createPostgresHistory({ pool: new pg.Pool(), searchConfig: 'english', searchText: (data) => JSON.stringify(data) })

// @ts-expect-error a misspelt option is a type error (and a TypeError at run time)
createPostgresHistory({ url: 'postgres://127.0.0.1/db', shcema: 'chat' })
// @ts-expect-error retention limits are numbers
createPostgresHistory({ url: 'postgres://127.0.0.1/db', retention: { maxAgeMs: '1d' } })
// @ts-expect-error the search text is a string
createPostgresHistory({ url: 'postgres://127.0.0.1/db', searchText: () => 1 })
