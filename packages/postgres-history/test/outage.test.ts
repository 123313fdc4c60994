import { createPostgresHistory, migrate, PostgresHistoryError, type PostgresHistoryStore } from '@parley/postgres-history'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { run, stored } from '../../server-sdk/test/helpers/history-store-conformance.js'
import { startProxy, urlVia, useSchema, type PgProxy } from './helpers.js'
import { POSTGRES_URL, postgresAvailable } from './postgres-available.js'

const available = await postgresAvailable()
const { schema } = useSchema('outage', available)

/** How long a failing call may take: the short timeouts below, plus slack; never "forever". */
const FAIL_WITHIN_MS = 3_000

let proxy: PgProxy
const stores: PostgresHistoryStore[] = []
afterEach(async () => {
  proxy?.restore()
  await Promise.all(stores.splice(0).map((store) => store.close()))
})
afterAll(async () => {
  await proxy?.close()
})

function open(): PostgresHistoryStore {
  const store = createPostgresHistory({ url: urlVia(proxy.port), schema, connectionTimeoutMs: 300, queryTimeoutMs: 700 })
  stores.push(store)
  return store
}

/** The call's rejection, and how long it took to come. */
async function failure(call: () => Promise<unknown>): Promise<{ error: PostgresHistoryError; ms: number }> {
  const started = Date.now()
  const error = await call().then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(PostgresHistoryError)
  return { error: error as PostgresHistoryError, ms: Date.now() - started }
}

describe.skipIf(!available)('a database that goes away', () => {
  beforeAll(async () => {
    await migrate({ url: POSTGRES_URL, schema })
    proxy = await startProxy()
  })

  it('refused connections: append and read reject at once (UNAVAILABLE), and work again when it is back', async () => {
    const store = open()
    await store.append(run('down', 'e', 1, 5))
    proxy.refuse()
    for (const call of [
      () => store.append(run('down', 'e', 6, 5)),
      () => store.read('down', { limit: 10 }),
      () => store.read('down', { before: { epoch: 'e', seq: 3 }, limit: 10 }),
      () => store.search('down', 'message', { limit: 10 }),
    ]) {
      const { error, ms } = await failure(call)
      expect(error.code).toBe('UNAVAILABLE')
      expect(error.message).toMatch(/^Parley postgres history: (append|read|search) failed, the database is unavailable: /)
      expect(ms).toBeLessThan(FAIL_WITHIN_MS)
    }
    proxy.restore()
    // The caller retries the batch that failed: it is stored, once.
    await store.append(run('down', 'e', 6, 5))
    await store.append(run('down', 'e', 1, 10))
    expect((await store.read('down', { limit: 100 }))?.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  it('a network that swallows packets: calls on idle connections and new ones both time out instead of hanging', async () => {
    const store = open()
    // Two connections in the pool, idle.
    await Promise.all([store.append([stored('silent', 'e', 1)]), store.read('silent', { limit: 1 }), store.read('silent', { limit: 1 })])
    proxy.blackhole()
    const results = await Promise.all([
      failure(() => store.append([stored('silent', 'e', 2)])),
      failure(() => store.read('silent', { limit: 10 })),
      failure(() => store.read('silent', { limit: 10 })),
      failure(() => store.append([stored('silent', 'e', 3)])),
    ])
    for (const { error, ms } of results) {
      expect(error.code).toBe('UNAVAILABLE')
      expect(error.message).toMatch(/timeout/i)
      expect(ms).toBeLessThan(FAIL_WITHIN_MS)
    }
    proxy.restore()
    await store.append([stored('silent', 'e', 2), stored('silent', 'e', 3)])
    expect((await store.read('silent', { limit: 10 }))?.messages.map((m) => m.seq)).toEqual([1, 2, 3])
  })

  it('a store whose database is down from the start: its first call rejects, a later one works', async () => {
    proxy.refuse()
    const store = open()
    const { error } = await failure(() => store.read('late', { limit: 1 }))
    expect(error.code).toBe('UNAVAILABLE')
    proxy.restore()
    expect(await store.read('late', { limit: 1 })).toEqual({ messages: [], more: false })
  })
})
