import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import WebSocket from 'ws'
import { SUBPROTOCOL_V1_JSON } from '@parley/protocol'
import { formatCount } from '../lib/format.js'
import type { Row, Scenario } from '../lib/scenario.js'
import { BENCH_DATABASE_URL } from '../targets/parley-pg.js'

/**
 * Paging back through a very large room: a room of 1 000 000 messages (100 000 with --quick) in PostgreSQL through
 * `@parley/postgres-history`, then pages of 50 read at random positions, (a) from the store directly and (b) end to
 * end, as a client's `history` request over a WebSocket to a Parley server using that store. Target (history issue):
 * a page of 50 from a room of 1 000 000 messages, p99 ≤ 10 ms. Needs PostgreSQL (`PARLEY_BENCH_DATABASE_URL`, default
 * the local `test` database); the rows go into a fresh schema that is dropped at the end.
 */

const ROOM = 'big'
const EPOCH = 'e-bench'
const PAGE = 50
const TARGET_P99_MS = 10

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

function latencyRow(label: string, samples: number[]): Row {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    case: label,
    reads: sorted.length,
    'p50 ms': percentile(sorted, 50).toFixed(2),
    'p99 ms': percentile(sorted, 99).toFixed(2),
    'max ms': (sorted.at(-1) as number).toFixed(2),
  }
}

const scenario: Scenario = {
  name: 'history-page',
  title: 'a page of 50 from a room of 1 000 000 messages in PostgreSQL: store read and client round trip, p50/p99',
  async run({ quick, log }) {
    const { createPostgresHistory, migrate } = await import('@parley/postgres-history')
    const { attach } = await import('@parley/server-sdk')
    const pg = (await import('pg')).default
    const total = quick ? 100_000 : 1_000_000
    const reads = quick ? 300 : 1_000
    const schema = `parley_bench_${randomBytes(6).toString('hex')}`
    const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL })
    await admin.connect()
    const store = createPostgresHistory({ url: BENCH_DATABASE_URL, schema })
    const http = createServer()
    // One client reads as fast as it can: the control rate limit (20/s by default) is raised for it.
    const parley = attach(http, { history: { store }, limits: { controlRate: { messages: 1_000_000, perMs: 1_000 } } })
    try {
      await migrate({ url: BENCH_DATABASE_URL, schema })
      log(`  filling ${formatCount(total)} messages into ${schema} (generate_series, one statement)`)
      const started = performance.now()
      await admin.query(`INSERT INTO "${schema}".parley_history_epochs (room, epoch, ordinal) VALUES ($1, $2, 0)`, [ROOM, EPOCH])
      await admin.query(
        `INSERT INTO "${schema}".parley_history (room, ordinal, seq, epoch, sender, ts, data, search_text)
         SELECT $1, 0, g, $2, 'user' || (g % 100), 1700000000000 + g, json_build_object('text', 'message number ' || g), 'message number ' || g
         FROM generate_series(1, $3::bigint) AS g`,
        [ROOM, EPOCH, total],
      )
      await admin.query(`ANALYZE "${schema}".parley_history`)
      log(`  filled in ${((performance.now() - started) / 1000).toFixed(1)} s`)

      // (a) The store alone: random positions, the newest page, and the oldest.
      const storeSamples: number[] = []
      for (let i = 0; i < 20; i++) await store.read(ROOM, { before: { epoch: EPOCH, seq: 1 + Math.floor(Math.random() * total) }, limit: PAGE + 1 })
      for (let i = 0; i < reads; i++) {
        const before = { epoch: EPOCH, seq: 1 + Math.floor(Math.random() * total) }
        const t0 = performance.now()
        const page = await store.read(ROOM, { before, limit: PAGE + 1 })
        storeSamples.push(performance.now() - t0)
        const expected = Math.min(PAGE + 1, before.seq - 1)
        if (page === undefined || page.messages.length !== expected) throw new Error(`store page before ${before.seq}: ${page?.messages.length} messages, expected ${expected}`)
      }

      // (b) End to end: a client's history request over a WebSocket, answered by Parley from the store.
      await parley.ready
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
      const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/parley`, [SUBPROTOCOL_V1_JSON], { perMessageDeflate: false })
      const answers = new Map<string, (frame: { messages: Array<{ seq: number }> }) => void>()
      ws.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as { type: string; id?: string; messages: Array<{ seq: number }> }
        if (frame.type === 'history' || frame.type === 'error') answers.get(frame.id ?? '')?.(frame)
      })
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      const ask = (id: string, before: { epoch: string; seq: number } | undefined): Promise<{ messages: Array<{ seq: number }> }> =>
        new Promise((resolve) => {
          answers.set(id, resolve)
          ws.send(JSON.stringify({ type: 'history', room: ROOM, id, limit: PAGE, ...(before === undefined ? {} : { before }) }))
        })
      const clientSamples: number[] = []
      for (let i = 0; i < 20; i++) await ask(`w${i}`, { epoch: EPOCH, seq: total })
      for (let i = 0; i < reads; i++) {
        const before = { epoch: EPOCH, seq: PAGE + 1 + Math.floor(Math.random() * (total - PAGE)) }
        const t0 = performance.now()
        const page = await ask(`r${i}`, before)
        clientSamples.push(performance.now() - t0)
        if (page.messages?.length !== PAGE || page.messages[PAGE - 1]?.seq !== before.seq - 1) throw new Error(`client page before ${before.seq}: ${JSON.stringify(page).slice(0, 200)}`)
      }
      const newestSamples: number[] = []
      for (let i = 0; i < Math.min(reads, 200); i++) {
        const t0 = performance.now()
        const page = await ask(`n${i}`, undefined)
        newestSamples.push(performance.now() - t0)
        if (page.messages?.[PAGE - 1]?.seq !== total) throw new Error('newest page does not end at the newest message')
      }
      ws.close()

      const table = [
        latencyRow('store.read: page of 50 at a random position', storeSamples),
        latencyRow('client history request: page of 50 at a random position', clientSamples),
        latencyRow('client history request: newest page', newestSamples),
      ]
      const p99 = Number(table[1]?.['p99 ms'])
      return {
        table,
        notes: [
          `room of ${formatCount(total)} messages, one epoch, in PostgreSQL (${schema}, dropped afterwards); reads one at a time`,
          `a page of 50 over the protocol, p99 ${p99.toFixed(2)} ms (target ≤ ${TARGET_P99_MS} ms${quick ? ' at 1 000 000 messages; this --quick run has 100 000' : ''}): ${p99 <= TARGET_P99_MS ? 'met' : 'NOT met'}`,
        ],
        data: { total, reads, page: PAGE, storeSamples, clientSamples, newestSamples, target: { p99Ms: TARGET_P99_MS, met: p99 <= TARGET_P99_MS } },
      }
    } finally {
      await parley.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await store.close()
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await admin.end()
    }
  },
}

export default scenario
