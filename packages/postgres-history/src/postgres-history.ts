import type { ResumePoint, RoomMessage } from '@parley/protocol'
import {
  MAX_SEARCH_TEXT,
  searchTextOf,
  type HistoryQuery,
  type HistoryRows,
  type HistorySearch,
  type HistoryStore,
  type StoredMessage,
} from '@parley/server-sdk'
import type { CustomTypesConfig, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import { EpochOrdinals } from './epoch-ordinals.js'
import { databaseError, PostgresHistoryError, redact } from './history-error.js'
import { resolveStoreOptions, type PostgresHistoryOptions } from './options.js'
import { openPool } from './pool.js'
import { checkSchema, runMigrations, tableNames, type SchemaState } from './schema.js'
import { statementsFor, type Statement } from './statements.js'

/** A {@link HistoryStore} on PostgreSQL, with the lifecycle the server leaves to whoever created it. */
export interface PostgresHistoryStore extends HistoryStore {
  search(room: string, text: string, query: HistorySearch): Promise<HistoryRows | undefined>
  /** Runs the migration ({@link migrate}) with this store's connection, schema and `searchConfig`. */
  migrate(): Promise<void>
  /** Applies `retention` now (the store also does so every `pruneIntervalMs`); resolves with how many messages went. */
  prune(): Promise<number>
  /** Stops the prune timer and, when the store created its pool from `url`, ends the pool. Idempotent. */
  close(): Promise<void>
}

/** (room, epoch) pairs remembered per process; one entry is a few dozen bytes. */
const EPOCH_CACHE_SIZE = 10_000
/** Tries at registering a new epoch while other nodes register other new epochs of the same room. */
const REGISTER_ATTEMPTS = 10
/** Messages removed per statement when pruning, so one prune of a large backlog never holds one long transaction. */
const PRUNE_SLICE = 10_000
/** A position after every message: (ordinal, seq) beyond any real one (seq as text: it is past 2^53). */
const END: readonly [number, string] = [2_147_483_647, '9223372036854775807']

/**
 * Our own result parsing, whatever type parsers the process has set globally on node-postgres: numbers (int4, int8,
 * float8) as JS numbers (seq and ts stay far below 2^53), everything else as the text the database sent (`data` is
 * selected as text and parsed here, `bytes` as hex text).
 */
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number) => (oid === 20 || oid === 23 || oid === 701 ? Number : (value: string) => value)) as CustomTypesConfig['getTypeParser'],
}

interface MessageRow {
  readonly epoch: string
  readonly seq: number
  readonly sender: string | null
  readonly ts: number
  readonly data: string
  /** The bytea as hex text (`encode(bytes, 'hex')`); null for a message without bytes. */
  readonly bytes?: string | null
}

/** The search text of a message as stored: cut to the limit, and without NUL, which PostgreSQL text cannot hold. */
function storedSearchText(text: string): string {
  return text.slice(0, MAX_SEARCH_TEXT).replace(/\0/g, ' ')
}

function checkLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw Object.assign(new TypeError(`Parley postgres history: "limit" must be a positive integer, got ${String(limit)}`), { code: 'INVALID_OPTION' as const })
  }
  return limit
}

/**
 * The history store on PostgreSQL (node-postgres): messages kept across restarts and shared by every node, paged by
 * the primary key (room, epoch ordinal, seq) and searched with PostgreSQL full-text search. Its tables must exist
 * first: run {@link migrate} (or the `parley-postgres-history migrate` command) at deploy time; a store used before
 * rejects with `NOT_MIGRATED`. Throws a `TypeError` (code `INVALID_OPTION`) for a bad option.
 *
 * ```ts
 * const history = createPostgresHistory({ url: process.env.DATABASE_URL, retention: { maxAgeMs: 30 * 86_400_000 } })
 * ```
 */
export function createPostgresHistory(options: PostgresHistoryOptions): PostgresHistoryStore {
  const resolved = resolveStoreOptions(options)
  const { schema, secrets, maxAgeMs, maxPerRoom, logger, now, searchWindow } = resolved
  const { pool, owned } = openPool(resolved, logger)
  const statements = statementsFor(tableNames(schema))
  const ordinals = new EpochOrdinals(EPOCH_CACHE_SIZE)
  const searchText = resolved.searchText ?? searchTextOf

  let schemaState: Promise<SchemaState> | undefined
  let closing: Promise<void> | undefined
  let pruning: Promise<number> | undefined
  /** Rooms appended to since the last prune by count: only they can have grown past `maxPerRoom`. */
  const grown = new Set<string>()
  /**
   * Whether a prune by count has looked at every room once. The first one does, for rooms that other nodes (or this
   * one before a restart) filled and never pruned; later ones look only at rooms this node appended to.
   */
  let sweptAll = false

  const run = <R extends QueryResultRow>(statement: Statement, values: unknown[]): Promise<QueryResult<R>> => {
    const config: QueryConfig & { query_timeout: number } = {
      name: statement.name,
      text: statement.text,
      values,
      types: TYPES,
      query_timeout: resolved.queryTimeoutMs,
    }
    return pool.query<R>(config)
  }

  /**
   * The schema's state, checked once (again after a failure, so a migration run meanwhile is picked up): the tables
   * exist at the version this release needs, with the search configuration asked for.
   */
  const ready = (): Promise<SchemaState> => {
    schemaState ??= checkSchema(async (text) => (await pool.query({ text, types: TYPES, query_timeout: resolved.queryTimeoutMs } as QueryConfig)).rows, schema)
      .then((state) => {
        if (resolved.searchConfig !== undefined && resolved.searchConfig !== state.searchConfig) {
          throw new PostgresHistoryError(
            'SCHEMA_MISMATCH',
            `Parley postgres history: schema "${schema}" is indexed with searchConfig "${state.searchConfig}", not "${resolved.searchConfig}" as this store was given`,
          )
        }
        return state
      })
      .catch((error: unknown) => {
        schemaState = undefined
        throw error
      })
    return schemaState
  }

  /** Runs `work` unless the store is closed, with every failure as a {@link PostgresHistoryError}. */
  const guarded = async <T>(doing: string, work: () => Promise<T>): Promise<T> => {
    if (closing !== undefined) throw new PostgresHistoryError('CLOSED', `Parley postgres history: ${doing} after close()`)
    try {
      return await work()
    } catch (error) {
      // A table dropped under a running store: check the schema again on the next call, to say NOT_MIGRATED.
      const code = (error as { code?: unknown } | null)?.code
      if (code === '42P01' || code === '3F000') schemaState = undefined
      throw databaseError(doing, error, secrets)
    }
  }

  /** The ordinal of a known epoch of `room`; `undefined` when the store has never seen it there. */
  const ordinalOf = async (room: string, epoch: string): Promise<number | undefined> => {
    const cached = ordinals.get(room, epoch)
    if (cached !== undefined) return cached
    const { rows } = await run<{ ordinal: number }>(statements.ordinalOf, [room, epoch])
    const ordinal = rows[0]?.ordinal
    if (ordinal !== undefined) ordinals.set(room, epoch, ordinal)
    return ordinal
  }

  const register = async (room: string, epoch: string): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const inserted = (await run<{ ordinal: number }>(statements.registerEpoch, [room, epoch])).rows[0]?.ordinal
        // Nothing inserted: another node registered this very epoch first.
        const ordinal = inserted ?? (await run<{ ordinal: number }>(statements.ordinalOf, [room, epoch])).rows[0]?.ordinal
        if (ordinal !== undefined) return ordinal
      } catch (error) {
        // 23505 unique_violation on (room, ordinal): another node took that ordinal for another epoch; count again.
        if ((error as { code?: unknown } | null)?.code !== '23505' || attempt >= REGISTER_ATTEMPTS) throw error
        continue
      }
      if (attempt >= REGISTER_ATTEMPTS) throw new Error(`could not register epoch ${JSON.stringify(epoch)} of room ${JSON.stringify(room)}`)
    }
  }

  /** The ordinal of every (room, epoch) of the batch, registering unseen epochs in the order the batch has them. */
  const ordinalsOf = async (batch: readonly StoredMessage[]): Promise<Map<string, Map<string, number>>> => {
    const byRoom = new Map<string, Map<string, number>>()
    const missing: Array<readonly [string, string]> = []
    for (const { room, epoch } of batch) {
      let epochs = byRoom.get(room)
      if (epochs === undefined) byRoom.set(room, (epochs = new Map()))
      if (epochs.has(epoch)) continue
      const cached = ordinals.get(room, epoch)
      epochs.set(epoch, cached ?? -1)
      if (cached === undefined) missing.push([room, epoch])
    }
    if (missing.length === 0) return byRoom
    const { rows } = await run<{ room: string; epoch: string; ordinal: number }>(statements.lookupEpochs, [
      missing.map(([room]) => room),
      missing.map(([, epoch]) => epoch),
    ])
    for (const row of rows) {
      byRoom.get(row.room)?.set(row.epoch, row.ordinal)
      ordinals.set(row.room, row.epoch, row.ordinal)
    }
    for (const [room, epoch] of missing) {
      const epochs = byRoom.get(room) as Map<string, number>
      if (epochs.get(epoch) !== -1) continue
      const ordinal = await register(room, epoch)
      epochs.set(epoch, ordinal)
      ordinals.set(room, epoch, ordinal)
    }
    return byRoom
  }

  const toMessage = (room: string, row: MessageRow): RoomMessage => {
    const data = JSON.parse(row.data) as RoomMessage['data']
    const stored = row.bytes
    if (stored === null || stored === undefined) return { type: 'message', room, seq: row.seq, epoch: row.epoch, from: row.sender, ts: row.ts, data }
    // Copied out of Node's decoder, which may return a slice of its shared pool.
    const bytes = new Uint8Array(Buffer.from(stored, 'hex'))
    return { type: 'message', room, seq: row.seq, epoch: row.epoch, from: row.sender, ts: row.ts, bytes, data }
  }

  /** A page from rows read newest first (one more than `limit`, to know whether there are more). */
  const pageBack = (room: string, rows: readonly MessageRow[], limit: number): HistoryRows => ({
    messages: rows
      .slice(0, limit)
      .reverse()
      .map((row) => toMessage(room, row)),
    more: rows.length > limit,
  })

  /** Removes all but the newest `keep` messages of `room`; the cut is found by walking `keep` index entries. */
  const pruneRoom = async (room: string, keep: number): Promise<number> => {
    const cut = (await run<{ ordinal: number; seq: number }>(statements.nthBefore, [room, ...END, keep])).rows[0]
    if (cut === undefined) return 0
    let removed = 0
    for (;;) {
      const count = (await run(statements.pruneRoom, [room, cut.ordinal, cut.seq, PRUNE_SLICE])).rowCount ?? 0
      removed += count
      if (count < PRUNE_SLICE) return removed
    }
  }

  const pruneNow = async (): Promise<number> => {
    await ready()
    let removed = 0
    if (maxAgeMs !== undefined) {
      const cutoff = now() - maxAgeMs
      for (;;) {
        const count = (await run(statements.pruneAge, [cutoff, PRUNE_SLICE])).rowCount ?? 0
        removed += count
        if (count < PRUNE_SLICE) break
      }
    }
    if (maxPerRoom !== undefined) {
      const rooms = sweptAll ? [...grown] : (await run<{ room: string }>(statements.rooms, [])).rows.map((row) => row.room)
      grown.clear()
      for (let i = 0; i < rooms.length; i++) {
        try {
          removed += await pruneRoom(rooms[i] as string, maxPerRoom)
        } catch (error) {
          // The rooms not done yet are done by the next prune.
          for (const room of rooms.slice(i)) grown.add(room)
          throw error
        }
      }
      sweptAll = true
    }
    return removed
  }

  const store: PostgresHistoryStore = {
    // In a bytea column (schema version 2).
    carriesBytes: true,
    // Arguments are checked, and the app's `searchText` runs, before `guarded`: their errors are not the database's.
    async append(batch: readonly StoredMessage[]): Promise<void> {
      const texts = batch.map((message) => storedSearchText(searchText(message.data)))
      return guarded('append', async () => {
        if (batch.length === 0) return
        await ready()
        const byRoom = await ordinalsOf(batch)
        const rows = batch.map((message, i) => ({ message, text: texts[i] as string, ordinal: byRoom.get(message.room)?.get(message.epoch) as number }))
        // One order for every writer (room, ordinal, seq), so two nodes writing overlapping batches lock the same rows
        // in the same order and cannot deadlock.
        rows.sort((a, b) =>
          a.message.room === b.message.room ? a.ordinal - b.ordinal || a.message.seq - b.message.seq : a.message.room < b.message.room ? -1 : 1,
        )
        await run(statements.insert, [
          rows.map(({ message }) => message.room),
          rows.map(({ ordinal }) => ordinal),
          rows.map(({ message }) => message.seq),
          rows.map(({ message }) => message.epoch),
          rows.map(({ message }) => message.from),
          rows.map(({ message }) => message.ts),
          rows.map(({ message }) => message.dataJson),
          rows.map(({ text }) => text),
          rows.map(({ message }) => (message.bytes === undefined ? null : Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength))),
        ])
        if (maxPerRoom !== undefined) for (const { message } of rows) grown.add(message.room)
      })
    },

    async read(room: string, query: HistoryQuery): Promise<HistoryRows | undefined> {
      const limit = checkLimit(query.limit)
      return guarded('read', async () => {
        await ready()
        const cursor: ResumePoint | undefined = query.after ?? query.before
        if (cursor === undefined) return pageBack(room, (await run<MessageRow>(statements.newest, [room, limit + 1])).rows, limit)
        const ordinal = await ordinalOf(room, cursor.epoch)
        if (ordinal === undefined) return undefined
        if (query.after !== undefined) {
          const { rows } = await run<MessageRow>(statements.after, [room, ordinal, cursor.seq, limit + 1])
          return { messages: rows.slice(0, limit).map((row) => toMessage(room, row)), more: rows.length > limit }
        }
        return pageBack(room, (await run<MessageRow>(statements.before, [room, ordinal, cursor.seq, limit + 1])).rows, limit)
      })
    },

    async search(room: string, text: string, query: HistorySearch): Promise<HistoryRows | undefined> {
      const limit = checkLimit(query.limit)
      return guarded('search', async () => {
        const { searchConfig } = await ready()
        const ordinal = query.before === undefined ? undefined : await ordinalOf(room, query.before.epoch)
        if (query.before !== undefined && ordinal === undefined) return undefined
        // User input, only ever a bound parameter. NUL cannot be sent as text; it separates words like a space.
        const words = String(text).replace(/\0/g, ' ')
        if (words.trim() === '') return { messages: [], more: false }
        const from = query.before === undefined ? END : [ordinal as number, query.before.seq]
        // The newest matches are most often among the newest messages: look there first, through the primary key.
        type Answer = (MessageRow & { readonly ordinal: number }) | { readonly epoch: null; readonly seq: number; readonly ordinal: number }
        const answer = (await run<Answer>(statements.searchRecent, [room, searchConfig, words, ...from, searchWindow, limit + 1])).rows
        const recent = answer.filter((row): row is MessageRow & { ordinal: number } => row.epoch !== null).sort((a, b) => b.ordinal - a.ordinal || b.seq - a.seq)
        const edge = answer.find((row) => row.epoch === null)
        // Enough, or nothing older than the window: done. Else the full-text index finds the older matches.
        if (recent.length > limit || edge === undefined) return pageBack(room, recent, limit)
        const older = (await run<MessageRow>(statements.searchOlder, [room, searchConfig, words, edge.ordinal, edge.seq, limit + 1 - recent.length])).rows
        return pageBack(room, [...recent, ...older], limit)
      })
    },

    prune(): Promise<number> {
      return guarded('prune', () => (pruning ??= pruneNow().finally(() => (pruning = undefined))))
    },

    migrate(): Promise<void> {
      return guarded('migrate', async () => {
        await runMigrations(pool, schema, resolved.searchConfig, secrets)
        schemaState = undefined
      })
    },

    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(timer)
        await pruning?.catch(() => {})
        if (owned) await pool.end()
      })()
      return closing
    },
  }

  const timer =
    maxAgeMs === undefined && maxPerRoom === undefined
      ? undefined
      : setInterval(() => {
          store.prune().catch((error: unknown) => {
            if (closing === undefined) logger?.warn({ event: 'history-store.prune-failed', error: redact(error instanceof Error ? error.message : String(error), secrets) }, 'parley postgres history: prune failed')
          })
        }, resolved.pruneIntervalMs)
  // The timer must not keep a process alive that has nothing else to do.
  timer?.unref()
  return store
}
