import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createPostgresHistory, migrate, PostgresHistoryError, SCHEMA_VERSION, type PostgresHistoryStore } from '@parley/postgres-history'
import { afterEach, describe, expect, it } from 'vitest'
import { run, stored } from '../../server-sdk/test/helpers/history-store-conformance.js'
import { schemaName, useSchema } from './helpers.js'
import { POSTGRES_URL, postgresAvailable } from './postgres-available.js'

const available = await postgresAvailable()
const { schema, admin } = useSchema('migrate', available)
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

const stores: PostgresHistoryStore[] = []
const extraSchemas: string[] = []
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()))
  for (const name of extraSchemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
})

function open(options: Partial<Parameters<typeof createPostgresHistory>[0]> = {}): PostgresHistoryStore {
  const store = createPostgresHistory({ url: POSTGRES_URL, schema, ...options })
  stores.push(store)
  return store
}

/** The bin's source through tsx, as `npx tsx` runs it; resolves with its exit code and output. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

async function rejection(promise: Promise<unknown>): Promise<PostgresHistoryError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(PostgresHistoryError)
  return error as PostgresHistoryError
}

describe.skipIf(!available)('migration', () => {
  it('is explicit: a store used before it rejects every call with NOT_MIGRATED, naming the command; nothing is created', async () => {
    const store = open()
    for (const call of [
      () => store.append(run('r', 'e', 1, 3)),
      () => store.read('r', { limit: 10 }),
      () => store.search('r', 'hello', { limit: 10 }),
      () => store.prune(),
    ]) {
      const error = await rejection(call())
      expect(error.code).toBe('NOT_MIGRATED')
      expect(error.message).toContain(`npx parley-postgres-history migrate --url <postgres url> --schema ${schema}`)
      expect(error.message).toContain(`schema "${schema}" has no history tables`)
    }
    const { rows } = await admin.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])
    expect(rows).toEqual([])
  })

  it('creates the documented tables, records its version, and is idempotent (run twice, or by three nodes at once)', async () => {
    const first = await migrate({ url: POSTGRES_URL, schema })
    expect(first).toEqual({ schema, version: SCHEMA_VERSION, applied: [1, 2], searchConfig: 'simple' })
    expect(await migrate({ url: POSTGRES_URL, schema })).toEqual({ schema, version: SCHEMA_VERSION, applied: [], searchConfig: 'simple' })
    const { rows: tables } = await admin.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    )
    expect(tables.map((row) => row.table_name)).toEqual(['parley_history', 'parley_history_epochs', 'parley_history_migrations', 'parley_history_settings'])
    const { rows: versions } = await admin.query(`SELECT version FROM "${schema}".parley_history_migrations`)
    expect(versions).toEqual([{ version: 1 }, { version: 2 }])
    const { rows: indexes } = await admin.query<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname', [schema])
    expect(indexes.map((row) => row.indexname)).toEqual(
      expect.arrayContaining(['parley_history_pkey', 'parley_history_search', 'parley_history_ts', 'parley_history_epochs_pkey', 'parley_history_epochs_ordinal']),
    )

    const racing = schemaName('migrate_race')
    extraSchemas.push(racing)
    const results = await Promise.all([1, 2, 3].map(() => migrate({ url: POSTGRES_URL, schema: racing })))
    expect(results.map((result) => result.applied).sort()).toEqual([[], [], [1, 2]])

    // Now the store works, and a store's own migrate() is idempotent too.
    const store = open()
    await store.migrate()
    await store.append(run('room', 'e', 1, 3))
    expect((await store.read('room', { limit: 10 }))?.messages.map((m) => m.seq)).toEqual([1, 2, 3])
  })

  it('picks up a migration run after a store first failed (it checks again)', async () => {
    const late = schemaName('migrate_late')
    extraSchemas.push(late)
    const store = open({ schema: late })
    expect((await rejection(store.read('r', { limit: 1 }))).code).toBe('NOT_MIGRATED')
    await migrate({ url: POSTGRES_URL, schema: late })
    expect(await store.read('r', { limit: 1 })).toEqual({ messages: [], more: false })
  })

  it('runs from the command line: `parley-postgres-history migrate --url ... --schema ...`', async () => {
    const target = schemaName('migrate_cli')
    extraSchemas.push(target)
    const first = await cli(['migrate', '--url', POSTGRES_URL, '--schema', target])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toContain(`schema "${target}" at version ${SCHEMA_VERSION} (applied versions 1, 2; search config "simple")`)
    const again = await cli(['migrate', '--schema', target], { DATABASE_URL: POSTGRES_URL })
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('already up to date')
    const store = open({ schema: target })
    await store.append([stored('r', 'e', 1)])
    expect((await store.read('r', { limit: 1 }))?.messages).toHaveLength(1)

    const usage = await cli(['migrat', '--url', POSTGRES_URL])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('expected the command "migrate"')
    const badSchema = await cli(['migrate', '--url', POSTGRES_URL, '--schema', 'Robert"); DROP TABLE x; --'])
    expect(badSchema.code).toBe(1)
    expect(badSchema.stderr).toContain('option "schema" must be a plain PostgreSQL name')
    // A database that does not answer: a clear failure, and the password is never printed.
    const down = await cli(['migrate', '--url', 'postgres://parley:sup3r-s3cret@127.0.0.1:1/test'])
    expect(down.code).toBe(1)
    expect(down.stderr).toContain('the database is unavailable')
    expect(down.stderr + down.stdout).not.toContain('sup3r-s3cret')
  }, 60_000)

  it('builds the search index with `searchConfig`, refuses to change it, and checks a store asks for the same one', async () => {
    const english = schemaName('migrate_english')
    extraSchemas.push(english)
    expect(await migrate({ url: POSTGRES_URL, schema: english, searchConfig: 'english' })).toMatchObject({ applied: [1, 2], searchConfig: 'english' })
    expect(await migrate({ url: POSTGRES_URL, schema: english })).toMatchObject({ applied: [], searchConfig: 'english' })
    const mismatch = await rejection(migrate({ url: POSTGRES_URL, schema: english, searchConfig: 'simple' }))
    expect(mismatch.code).toBe('SCHEMA_MISMATCH')
    expect(mismatch.message).toContain('was migrated with searchConfig "english", not "simple"')

    const store = open({ schema: english })
    await store.append([
      stored('r', 'e', 1, { text: 'The runners were running quickly' }),
      stored('r', 'e', 2, { text: 'a quiet afternoon' }),
    ])
    // English stems (run → running, runners) and drops stop words: a query of stop words alone matches nothing.
    expect((await store.search('r', 'run', { limit: 10 }))?.messages.map((m) => m.seq)).toEqual([1])
    expect((await store.search('r', 'the were a', { limit: 10 }))?.messages).toEqual([])
    expect((await store.search('r', 'quietly afternoons', { limit: 10 }))?.messages.map((m) => m.seq)).toEqual([2])

    const wrong = open({ schema: english, searchConfig: 'simple' })
    const error = await rejection(wrong.read('r', { limit: 1 }))
    expect(error.code).toBe('SCHEMA_MISMATCH')
    expect(error.message).toContain('indexed with searchConfig "english", not "simple"')

    const unknown = schemaName('migrate_unknown_config')
    extraSchemas.push(unknown)
    const missing = await rejection(migrate({ url: POSTGRES_URL, schema: unknown, searchConfig: 'klingon' }))
    expect(missing.code).toBe('QUERY_FAILED')
    expect(missing.message).toContain('text search configuration "klingon" does not exist')
    // Refused as a whole: the failed migration left nothing behind.
    const { rows } = await admin.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [unknown])
    expect(rows).toEqual([])
  })
})
