import { createPostgresHistory, migrate, PostgresHistoryError, type PostgresHistoryStore } from '@parley/postgres-history'
import type { ResumePoint, RoomMessage } from '@parley/protocol'
import type { Logger, StoredMessage } from '@parley/server-sdk'
import pg from 'pg'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { run, stored } from '../../server-sdk/test/helpers/history-store-conformance.js'
import { tableNames } from '../src/schema.js'
import { statementsFor } from '../src/statements.js'
import { schemaName, useSchema } from './helpers.js'
import { POSTGRES_URL, postgresAvailable } from './postgres-available.js'

const available = await postgresAvailable()
const { schema, admin } = useSchema('store', available)

const stores: PostgresHistoryStore[] = []
const pools: pg.Pool[] = []
const extraSchemas: string[] = []
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()))
  await Promise.all(pools.splice(0).map((pool) => pool.end()))
  for (const name of extraSchemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
})

function open(options: Partial<Parameters<typeof createPostgresHistory>[0]> = {}): PostgresHistoryStore {
  const store = createPostgresHistory({ url: POSTGRES_URL, schema, ...options })
  stores.push(store)
  return store
}

/** A pool of the test's own that records the queries sent through it. */
function recordingPool(): { pool: pg.Pool; sent: Array<{ name?: string; text: string }> } {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 })
  pool.on('error', () => {})
  pools.push(pool)
  const sent: Array<{ name?: string; text: string }> = []
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown
  pool.query = ((...args: unknown[]) => {
    const config = args[0]
    sent.push(typeof config === 'string' ? { text: config } : (config as { name?: string; text: string }))
    return query(...args)
  }) as typeof pool.query
  return { pool, sent }
}

async function pageBack(store: PostgresHistoryStore, room: string, limit: number): Promise<RoomMessage[]> {
  const all: RoomMessage[] = []
  let before: ResumePoint | undefined
  for (;;) {
    const page = await store.read(room, { before, limit })
    if (page === undefined) throw new Error('unknown cursor')
    expect(page.messages.length).toBeLessThanOrEqual(limit)
    all.unshift(...page.messages)
    const oldest = page.messages[0]
    if (!page.more || oldest === undefined) return all
    before = { epoch: oldest.epoch, seq: oldest.seq }
  }
}

async function pageForward(store: PostgresHistoryStore, room: string, after: ResumePoint, limit: number): Promise<RoomMessage[]> {
  const all: RoomMessage[] = []
  for (;;) {
    const page = await store.read(room, { after, limit })
    if (page === undefined) throw new Error('unknown cursor')
    all.push(...page.messages)
    const newest = page.messages.at(-1)
    if (!page.more || newest === undefined) return all
    after = { epoch: newest.epoch, seq: newest.seq }
  }
}

describe.skipIf(!available)('postgres history store', () => {
  beforeAll(async () => {
    await migrate({ url: POSTGRES_URL, schema })
  })

  it('stores 10 000 messages over two epochs in batches and pages them back and forth exactly, by first-seen epoch', async () => {
    const store = open()
    const room = 'ten-thousand'
    // 'zeta' first, 'alpha' second: first-seen order, not name order; the second epoch restarts at seq 1.
    const messages = [...run(room, 'zeta', 1, 6_000), ...run(room, 'alpha', 1, 4_000)]
    const sizes = [1, 7, 500, 333, 1_000, 64]
    for (let at = 0, i = 0; at < messages.length; i++) {
      const size = sizes[i % sizes.length] as number
      await store.append(messages.slice(at, at + size))
      at += size
    }
    const expected = messages.map((m) => `${m.epoch}:${m.seq}`)
    const back = await pageBack(store, room, 50)
    expect(back.map((m) => `${m.epoch}:${m.seq}`)).toEqual(expected)
    const forward = await pageForward(store, room, { epoch: 'zeta', seq: 0 }, 50)
    expect(forward.map((m) => `${m.epoch}:${m.seq}`)).toEqual(expected)
    expect(forward.at(-1)).toMatchObject({ type: 'message', room, epoch: 'alpha', seq: 4_000, data: { text: 'message 4000' } })
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".parley_history WHERE room = $1`, [room])
    expect(rows[0]).toEqual({ n: 10_000 })
  }, 60_000)

  it('writes a batch with one prepared INSERT, and registers an unseen epoch first', async () => {
    const { pool, sent } = recordingPool()
    const store = open({ url: undefined, pool })
    const room = 'one-insert'
    await store.append(run(room, 'e1', 1, 500))
    // The schema check, then: look the epoch up, register it, insert.
    expect(sent.map((q) => q.name?.replace(/_[0-9a-f]{12}$/, '') ?? 'check')).toEqual([
      'check',
      'parley_history_lookup_epochs',
      'parley_history_register_epoch',
      'parley_history_insert',
    ])
    sent.length = 0
    await store.append(run(room, 'e1', 501, 700))
    expect(sent).toHaveLength(1)
    expect(sent[0]?.name).toMatch(/^parley_history_insert_[0-9a-f]{12}$/)
    expect(sent[0]?.text).toMatch(/unnest\(\$1::text\[\]/)
    // A second store ("after a restart") finds the epoch with one lookup, registers nothing.
    const { pool: pool2, sent: sent2 } = recordingPool()
    const restarted = open({ url: undefined, pool: pool2 })
    await restarted.append(run(room, 'e1', 1_201, 10))
    expect(sent2.map((q) => q.name?.replace(/_[0-9a-f]{12}$/, '') ?? 'check')).toEqual(['check', 'parley_history_lookup_epochs', 'parley_history_insert'])
    // Reads too are prepared statements, and the cursor's epoch is resolved from memory.
    sent.length = 0
    await store.read(room, { before: { epoch: 'e1', seq: 100 }, limit: 50 })
    expect(sent.map((q) => q.name?.replace(/_[0-9a-f]{12}$/, ''))).toEqual(['parley_history_before'])
  })

  it('two nodes writing overlapping batches at once, with new epochs, store every message once', async () => {
    const a = open()
    const b = open()
    const room = 'two-nodes'
    const epochs = ['e-one', 'e-two', 'e-three']
    const all: StoredMessage[] = epochs.flatMap((epoch) => run(room, epoch, 1, 300))
    const batchesOf = (messages: StoredMessage[], size: number): StoredMessage[][] =>
      Array.from({ length: Math.ceil(messages.length / size) }, (_, i) => messages.slice(i * size, (i + 1) * size))
    // Each node writes everything, in different batch sizes, all at once.
    await Promise.all([...batchesOf(all, 50).map((batch) => a.append(batch)), ...batchesOf(all, 70).map((batch) => b.append(batch))])
    const { rows } = await admin.query(
      `SELECT epoch, count(*)::int AS n, count(DISTINCT seq)::int AS distinct_seqs FROM "${schema}".parley_history WHERE room = $1 GROUP BY epoch ORDER BY epoch`,
      [room],
    )
    expect(rows).toEqual([
      { epoch: 'e-one', n: 300, distinct_seqs: 300 },
      { epoch: 'e-three', n: 300, distinct_seqs: 300 },
      { epoch: 'e-two', n: 300, distinct_seqs: 300 },
    ])
    // Both nodes read the same, whole history.
    const fromA = await pageBack(a, room, 100)
    const fromB = await pageBack(b, room, 100)
    expect(fromA).toHaveLength(900)
    expect(fromB).toEqual(fromA)
  })

  it('gives each new epoch of a room its own ordinal when many nodes register different epochs at once', async () => {
    const nodes = Array.from({ length: 12 }, () => open({ poolOptions: { max: 1 } }))
    const room = 'epoch-race'
    await Promise.all(nodes.map((node, i) => node.append([stored(room, `epoch-${i}`, 1)])))
    const { rows } = await admin.query<{ epoch: string; ordinal: number }>(
      `SELECT epoch, ordinal FROM "${schema}".parley_history_epochs WHERE room = $1 ORDER BY ordinal`,
      [room],
    )
    expect(rows.map((row) => row.ordinal)).toEqual(Array.from({ length: 12 }, (_, i) => i))
    // Every node agrees on the order, which is the order of the ordinals.
    const order = rows.map((row) => row.epoch)
    for (const node of nodes) expect((await node.read(room, { limit: 20 }))?.messages.map((m) => m.epoch)).toEqual(order)
  })

  it('searches with web search syntax ("phrases", -excluded, or), the text always a parameter', async () => {
    const store = open()
    const room = 'search-syntax'
    const texts = ['hello big world', 'big hello world', 'world of cats', 'dogs and cats', 'hello']
    await store.append(texts.map((text, i) => stored(room, 'e', i + 1, { text })))
    const found = async (text: string): Promise<number[]> => ((await store.search(room, text, { limit: 10 }))?.messages ?? []).map((m) => m.seq)
    expect(await found('"hello world"')).toEqual([2])
    expect(await found('world -hello')).toEqual([3])
    expect(await found('dogs or hello')).toEqual([1, 2, 4, 5])
    expect(await found('cats')).toEqual([3, 4])
    // Injection attempts are words to look for, nothing more: no error, the tables are all there.
    for (const text of ["'; DROP TABLE parley_history; --", `'); DELETE FROM "${schema}".parley_history; --`, "hello' OR 1=1 --"]) {
      await store.search(room, text, { limit: 10 })
    }
    expect(await found('hello')).toEqual([1, 2, 5])
    const { rows } = await admin.query(`SELECT to_regclass($1) IS NOT NULL AS there, (SELECT count(*)::int FROM "${schema}".parley_history WHERE room = $2) AS n`, [
      `"${schema}".parley_history`,
      room,
    ])
    expect(rows[0]).toEqual({ there: true, n: 5 })
  })

  it('runs every hot statement on an index, in the generic plans of prepared statements too: no table scan', async () => {
    const store = open({ retention: { maxAgeMs: 60_000 } })
    const room = 'plan'
    for (let from = 1; from <= 20_000; from += 5_000) await store.append(run(room, 'e', from, 5_000))
    await store.append(run('plan-other', 'e', 1, 5_000))
    await admin.query(`ANALYZE "${schema}".parley_history`)
    const statements = statementsFor(tableNames(schema))
    const { rows } = await admin.query<{ ordinal: number }>(`SELECT ordinal FROM "${schema}".parley_history_epochs WHERE room = $1`, [room])
    const ordinal = rows[0]?.ordinal as number
    const END = [2_147_483_647, '9223372036854775807']
    const cases: Array<[keyof typeof statements, unknown[], RegExp]> = [
      ['newest', [room, 51], /Index Scan Backward using parley_history_pkey/],
      ['before', [room, ordinal, 10_000, 51], /Index Scan Backward using parley_history_pkey/],
      ['after', [room, ordinal, 10_000, 51], /Index Scan using parley_history_pkey/],
      ['nthBefore', [room, ...END, 2_000], /Index Only Scan Backward using parley_history_pkey/],
      ['searchRecent', [room, 'simple', 'message', ...END, 2_000, 51], /Index Scan Backward using parley_history_pkey/],
      ['searchOlder', [room, 'simple', 'message 77', ordinal, 10_000, 51], /Bitmap Index Scan on parley_history_search/],
      ['pruneRoom', [room, ordinal, 100, 10_000], /Index Scan using parley_history_pkey/],
      ['pruneAge', [1_000, 10_000], /Index Scan using parley_history_ts/],
    ]
    const client = await admin.connect()
    try {
      await client.query('BEGIN')
      // The plan a prepared statement settles on after its first executions: planned without the values.
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan')
      for (const [key, values, expected] of cases) {
        const name = `plan_${key}`
        await client.query(`PREPARE ${name} AS ${statements[key].text}`)
        const literals = values.map((value) => (typeof value === 'number' ? String(value) : `'${String(value)}'`)).join(', ')
        const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE ${name}(${literals})`)).rows.map((row) => row['QUERY PLAN']).join('\n')
        expect(plan, `${key}:\n${plan}`).toMatch(expected)
        expect(plan, `${key}:\n${plan}`).not.toMatch(/Seq Scan|Bitmap Index Scan on parley_history_pkey/)
      }
    } finally {
      await client.query('ROLLBACK')
      client.release()
    }
  }, 30_000)

  it('searches a large room through the recent window and then the full-text index, paging back across both', async () => {
    const store = open({ searchWindow: 50 })
    const room = 'search-window'
    const messages = run(room, 'e', 1, 1_000).map((m) => (m.seq % 97 === 0 ? { ...m, data: { text: `rare needle ${m.seq}` }, dataJson: '' } : m))
    await store.append(messages.map((m) => ({ ...m, dataJson: JSON.stringify(m.data) })))
    const expected = messages.filter((m) => m.seq % 97 === 0).map((m) => m.seq)
    const found: number[] = []
    let before: ResumePoint | undefined
    for (;;) {
      const page = await store.search(room, 'needle', { before, limit: 3 })
      if (page === undefined) throw new Error('unknown cursor')
      found.unshift(...page.messages.map((m) => m.seq))
      const oldest = page.messages[0]
      if (!page.more || oldest === undefined) break
      before = { epoch: oldest.epoch, seq: oldest.seq }
    }
    expect(found).toEqual(expected)
  })

  describe('retention', () => {
    it('prune() removes the oldest beyond maxPerRoom and says how many; rooms are pruned only after they grow', async () => {
      const store = open({ retention: { maxPerRoom: 5 } })
      const rooms = ['count-a', 'count-b', 'count-c']
      await store.append([...run('count-a', 'e', 1, 12), ...run('count-b', 'e', 1, 5), ...run('count-c', 'e', 1, 2)])
      // The first prune looks at every room of the schema (other tests' rooms included), later ones at grown rooms only.
      await store.prune()
      for (const room of rooms) expect((await store.read(room, { limit: 100 }))?.messages.length).toBeLessThanOrEqual(5)
      await store.append([...run('count-a', 'e', 13, 4), ...run('count-c', 'e', 3, 1)])
      expect(await store.prune()).toBe(4)
      expect((await store.read('count-a', { limit: 100 }))?.messages.map((m) => m.seq)).toEqual([12, 13, 14, 15, 16])
      expect((await store.read('count-c', { limit: 100 }))?.messages.map((m) => m.seq)).toEqual([1, 2, 3])
      expect(await store.prune()).toBe(0)
    })

    it('a new node prunes rooms that others filled: its first prune sweeps every room', async () => {
      const own = schemaName('store_sweep')
      extraSchemas.push(own)
      await migrate({ url: POSTGRES_URL, schema: own })
      const writer = open({ schema: own })
      await writer.append([...run('sweep-a', 'e', 1, 20), ...run('sweep-b', 'e', 1, 3)])
      const pruner = open({ schema: own, retention: { maxPerRoom: 5 } })
      expect(await pruner.prune()).toBe(15)
      expect((await pruner.read('sweep-a', { limit: 100 }))?.messages.map((m) => m.seq)).toEqual([16, 17, 18, 19, 20])
      expect(await pruner.prune()).toBe(0)
    })

    it('removes by age in slices, by message time', async () => {
      let now = 5_000_000
      const store = open({ retention: { maxAgeMs: 60_000 }, now: () => now })
      const room = 'age-slices'
      const old = Array.from({ length: 25_000 }, (_, i) => stored(room, 'e', i + 1, { i }, now - 120_000 + i))
      for (let at = 0; at < old.length; at += 5_000) await store.append(old.slice(at, at + 5_000))
      await store.append(run(room, 'e', 25_001, 10).map((m) => ({ ...m, ts: now })))
      now += 1
      expect(await store.prune()).toBe(25_000)
      expect((await store.read(room, { limit: 100 }))?.messages.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 25_001 + i))
    }, 30_000)

    it('prunes by itself every pruneIntervalMs, and stops when closed', async () => {
      const warnings: unknown[] = []
      const logger: Logger = { debug() {}, info() {}, warn: (...args: unknown[]) => warnings.push(args), error: (...args: unknown[]) => warnings.push(args) }
      const store = open({ retention: { maxPerRoom: 3 }, pruneIntervalMs: 50, logger })
      const room = 'timer'
      await store.append(run(room, 'e', 1, 10))
      const deadline = Date.now() + 5_000
      while (((await store.read(room, { limit: 100 }))?.messages.length ?? 0) > 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
      expect((await store.read(room, { limit: 100 }))?.messages.map((m) => m.seq)).toEqual([8, 9, 10])
      await store.close()
      await new Promise((r) => setTimeout(r, 150))
      expect(warnings).toEqual([])
    })
  })

  describe('lifecycle', () => {
    it('close() ends the pool it created, is idempotent, and later calls reject with CLOSED', async () => {
      const store = open()
      await store.append([stored('closing', 'e', 1)])
      await Promise.all([store.close(), store.close()])
      await store.close()
      for (const call of [() => store.append([stored('closing', 'e', 2)]), () => store.read('closing', { limit: 1 }), () => store.prune()]) {
        const error = await call().then(
          () => undefined,
          (reason: unknown) => reason,
        )
        expect(error).toBeInstanceOf(PostgresHistoryError)
        expect((error as PostgresHistoryError).code).toBe('CLOSED')
      }
    })

    it('uses a pool of yours without ending it, also for two stores of two schemas on one pool', async () => {
      const other = schemaName('store_other')
      extraSchemas.push(other)
      await migrate({ url: POSTGRES_URL, schema: other })
      const { pool } = recordingPool()
      const first = open({ url: undefined, pool })
      const second = open({ url: undefined, pool, schema: other })
      await Promise.all([first.append([stored('shared', 'e', 1, { text: 'first' })]), second.append([stored('shared', 'e', 1, { text: 'second' })])])
      expect((await first.read('shared', { limit: 5 }))?.messages.map((m) => m.data)).toEqual([{ text: 'first' }])
      expect((await second.read('shared', { limit: 5 }))?.messages.map((m) => m.data)).toEqual([{ text: 'second' }])
      await first.close()
      await second.close()
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    })

    it('parses its own results whatever type parsers the process set on node-postgres', async () => {
      const { pool } = recordingPool()
      const store = open({ url: undefined, pool })
      const parsers = [20, 114, 701].map((oid) => [oid, pg.types.getTypeParser(oid)] as const)
      pg.types.setTypeParser(20, (value: string) => BigInt(value))
      pg.types.setTypeParser(701, () => 'nope')
      try {
        await store.append([stored('parsers', 'e', 7, { a: [1, 'b'] }, 1_700_000_000_001.5)])
        expect((await store.read('parsers', { limit: 1 }))?.messages).toEqual([
          { type: 'message', room: 'parsers', epoch: 'e', seq: 7, from: null, ts: 1_700_000_000_001.5, data: { a: [1, 'b'] } },
        ])
      } finally {
        for (const [oid, parser] of parsers) pg.types.setTypeParser(oid, parser)
      }
    })
  })
})
