import { createPostgresHistory, migrate, PostgresHistoryError, type PostgresHistoryOptions } from '@parley/postgres-history'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { stored } from '../../server-sdk/test/helpers/history-store-conformance.js'

const URL = 'postgres://parley:opt-s3cret@127.0.0.1:1/test'

function refusal(options: unknown): TypeError & { code?: string } {
  let caught: unknown
  try {
    const store = createPostgresHistory(options as PostgresHistoryOptions)
    void store.close()
  } catch (error) {
    caught = error
  }
  expect(caught, JSON.stringify(options, (_key, value: unknown) => (typeof value === 'function' ? 'fn' : value))).toBeInstanceOf(TypeError)
  return caught as TypeError & { code?: string }
}

describe('options', () => {
  it('refuses bad options at once with a TypeError (code INVALID_OPTION) that says what was expected', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /options must be an object/],
      [undefined, /option "url" .* is required/],
      [{}, /option "url" \(a postgres:\/\/ connection string\) or option "pool" \(a pg.Pool\) is required/],
      [{ url: '' }, /option "url" must be a non-empty connection string/],
      [{ url: URL, schema: 'Public' }, /option "schema" must be a plain PostgreSQL name/],
      [{ url: URL, schema: 'x"; DROP TABLE y; --' }, /option "schema" must be a plain PostgreSQL name/],
      [{ url: URL, schema: 'a'.repeat(64) }, /option "schema"/],
      [{ url: URL, searchConfig: "english'); DROP TABLE x; --" }, /option "searchConfig" must be the name of a text search configuration/],
      [{ url: URL, retention: { maxPerRoom: 0 } }, /option "retention.maxPerRoom" must be a positive integer, got 0/],
      [{ url: URL, retention: { maxAgeMs: -1 } }, /option "retention.maxAgeMs" must be a positive integer, got -1/],
      [{ url: URL, retention: 5 }, /option "retention" must be an object/],
      [{ url: URL, pruneIntervalMs: 1.5 }, /option "pruneIntervalMs" must be a positive integer, got 1.5/],
      [{ url: URL, queryTimeoutMs: '1000' }, /option "queryTimeoutMs" must be a positive integer, got "1000"/],
      [{ url: URL, connectionTimeoutMs: 0 }, /option "connectionTimeoutMs" must be a positive integer/],
      [{ url: URL, searchText: 'text' }, /option "searchText" must be a function/],
      [{ url: URL, logger: console.log }, /option "logger" must be a Logger/],
      [{ pool: { query: 1 } }, /option "pool" must be a pg.Pool/],
    ]
    for (const [options, message] of cases) {
      const error = refusal(options)
      expect(error.message).toMatch(message)
      expect(error.message).toMatch(/^Parley postgres history: /)
      expect(error.code).toBe('INVALID_OPTION')
      expect(error.message).not.toContain('opt-s3cret')
    }
  })

  it('names the option meant when one is misspelt', () => {
    expect(refusal({ url: URL, shcema: 'x' }).message).toMatch(/unknown option "shcema"; did you mean "schema"\?/)
    expect(refusal({ url: URL, retention: { maxPerroom: 5 } }).message).toMatch(/unknown option "retention.maxPerroom"; did you mean "retention.maxPerRoom"\?/)
    expect(refusal({ url: URL, serachConfig: 'english' }).message).toMatch(/did you mean "searchConfig"\?/)
    expect(refusal({ url: URL, wat: 1 }).message).toMatch(/unknown option "wat" Known: url, pool,/)
  })

  it('refuses settings that cannot apply to a pool of yours, and url with pool', async () => {
    const pool = new pg.Pool({ connectionString: URL })
    try {
      expect(refusal({ pool, url: URL }).message).toMatch(/either option "url" or option "pool", not both/)
      expect(refusal({ pool, connectionTimeoutMs: 100 }).message).toMatch(/set "connectionTimeoutMillis" on your own "pool"/)
      expect(refusal({ pool, poolOptions: { max: 2 } }).message).toMatch(/configure your own "pool" directly/)
    } finally {
      await pool.end()
    }
  })

  it('refuses bad options of migrate() the same way, before connecting', async () => {
    await expect(migrate({ url: URL, schema: 'no spaces' })).rejects.toThrow(TypeError)
    await expect(migrate({ url: URL, searchConfig: 'x y' } as never)).rejects.toThrow(/option "searchConfig"/)
    await expect(migrate({ url: URL, retention: {} } as never)).rejects.toThrow(/unknown option "retention"/)
  })

  it('refuses a limit that is not a positive integer', async () => {
    const store = createPostgresHistory({ url: URL })
    try {
      await expect(store.read('r', { limit: 0 })).rejects.toThrow(/"limit" must be a positive integer/)
      await expect(store.search('r', 'x', { limit: 1.5 })).rejects.toThrow(/"limit" must be a positive integer/)
    } finally {
      await store.close()
    }
  })

  it('never puts the password of the URL in an error', async () => {
    const store = createPostgresHistory({ url: URL, connectionTimeoutMs: 500 })
    try {
      const error = await store.append([stored('r', 'e', 1)]).then(
        () => undefined,
        (reason: unknown) => reason,
      )
      expect(error).toBeInstanceOf(PostgresHistoryError)
      expect((error as PostgresHistoryError).code).toBe('UNAVAILABLE')
      expect(String((error as Error).message)).not.toContain('opt-s3cret')
    } finally {
      await store.close()
    }
  })
})
