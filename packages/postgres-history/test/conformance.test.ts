import { createPostgresHistory, migrate } from '@parley/postgres-history'
import { beforeAll, describe } from 'vitest'
import { describeHistoryStore } from '../../server-sdk/test/helpers/history-store-conformance.js'
import { useSchema } from './helpers.js'
import { POSTGRES_URL, postgresAvailable } from './postgres-available.js'

const available = await postgresAvailable()
const { schema } = useSchema('conformance', available)

// The same suite as the memory store (packages/server-sdk/test/memory-history.test.ts): the two agree on every
// semantic of the HistoryStore seam.
describe.skipIf(!available)('postgres history store', () => {
  beforeAll(async () => {
    await migrate({ url: POSTGRES_URL, schema })
  })

  for (const searchWindow of [undefined, 1, 3]) {
    // A search looks through the newest `searchWindow` messages first, then asks the full-text index for older
    // matches: tiny windows send the suite's searches down the second path, and across the seam between the two.
    describeHistoryStore(searchWindow === undefined ? 'postgres' : `postgres, search window ${searchWindow}`, (options) =>
      createPostgresHistory({
        url: POSTGRES_URL,
        schema,
        retention: { maxPerRoom: options.maxPerRoom, maxAgeMs: options.maxAgeMs },
        now: options.now,
        searchText: options.searchText,
        searchWindow,
        poolOptions: { max: 4 },
      }),
    )
  }
})
