/**
 * One suite, every history store: the semantics of the `HistoryStore` seam (src/history-store.ts) as the memory
 * store, the reference, implements them. A store package runs it against its own store:
 *
 * ```ts
 * describeHistoryStore('postgres', (options) => createPostgresHistory({ url, schema, retention: options }))
 * ```
 *
 * Every test works in rooms of its own (a random prefix), so a store that keeps data (a database schema shared by
 * the file) needs no cleaning between tests. Search is tested with whole words only: the memory store matches
 * substrings, a full-text store matches words, and both agree on words.
 */
import type { JsonValue, ResumePoint, RoomMessage } from '@parley/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { HistoryRows, HistoryStore, StoredMessage } from '../../src/history-store.js'
import { MAX_SEARCH_TEXT } from '../../src/search-text.js'

/** What the suite may ask of a store it makes. */
export interface ConformanceStoreOptions {
  /** Keep at most this many messages per room (applied by `prune()` at the latest). */
  readonly maxPerRoom?: number
  /** Drop messages older than this by `ts` (applied by `prune()`), on the clock `now`. */
  readonly maxAgeMs?: number
  /** The store's clock, for age retention. */
  readonly now?: () => number
  /** The store's search text of a message. */
  readonly searchText?: (data: JsonValue) => string
}

export type MakeHistoryStore = (options: ConformanceStoreOptions) => HistoryStore | Promise<HistoryStore>

/** A stored message as a node hands it over. */
export function stored(room: string, epoch: string, seq: number, data: JsonValue = { text: `message ${seq}` }, ts = 1_700_000_000_000 + seq): StoredMessage {
  return { room, epoch, seq, from: seq % 2 === 0 ? 'bob' : null, ts, data, dataJson: JSON.stringify(data) }
}

/** `count` messages `from`, `from + 1`, ... of one epoch. */
export function run(room: string, epoch: string, from: number, count: number): StoredMessage[] {
  return Array.from({ length: count }, (_, i) => stored(room, epoch, from + i))
}

const positions = (rows: HistoryRows | undefined): string[] => {
  if (rows === undefined) throw new Error('expected a page, got undefined (unknown cursor)')
  return rows.messages.map((m) => `${m.epoch}:${m.seq}`)
}

const seqs = (rows: HistoryRows | undefined): number[] => {
  if (rows === undefined) throw new Error('expected a page, got undefined (unknown cursor)')
  return rows.messages.map((m) => m.seq)
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Strings that must never break a search nor match what does not hold them. */
export const HOSTILE_SEARCHES: readonly string[] = [
  "'; DROP TABLE parley_history; --",
  "' OR '1'='1",
  '" OR 1=1 --',
  '"unterminated phrase',
  '\\',
  "\\'",
  '\\x00',
  '\0',
  'a\0b',
  ':*',
  'hel:*',
  '&|!',
  '!!! ||| &&&',
  '( ) <-> <2>',
  '%',
  '_',
  '$1',
  '${text}',
  '*',
  '-',
  '--',
  ' AND ',
  '😀',
  '日本語',
  'x'.repeat(10_000),
  'zzz '.repeat(2_500),
  '\u200b\ufeff',
  '\ud800',
]

let room = 0
/** A room name no other test uses, with characters a store must keep as they are. */
function freshRoom(label: string): string {
  return `conf-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${++room} ${label} "é'`
}

export function describeHistoryStore(name: string, makeStore: MakeHistoryStore): void {
  describe(`history store conformance: ${name}`, () => {
    const open: HistoryStore[] = []
    const make = async (options: ConformanceStoreOptions = {}): Promise<HistoryStore> => {
      const store = await makeStore(options)
      open.push(store)
      return store
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((store) => store.close?.()))
    })

    /** Every message of `room`, by paging back `pageSize` at a time from the newest. */
    async function readBack(store: HistoryStore, room: string, pageSize: number): Promise<RoomMessage[]> {
      const all: RoomMessage[] = []
      let before: ResumePoint | undefined
      for (;;) {
        const page = await store.read(room, { before, limit: pageSize })
        if (page === undefined) throw new Error('unknown cursor while paging back')
        all.unshift(...page.messages)
        const oldest = page.messages[0]
        if (!page.more || oldest === undefined) return all
        before = { epoch: oldest.epoch, seq: oldest.seq }
      }
    }

    /** Every message of `room` after `from`, by paging forward. */
    async function readForward(store: HistoryStore, room: string, from: ResumePoint, pageSize: number): Promise<RoomMessage[]> {
      const all: RoomMessage[] = []
      let after = from
      for (;;) {
        const page = await store.read(room, { after, limit: pageSize })
        if (page === undefined) throw new Error('unknown cursor while paging forward')
        all.push(...page.messages)
        const newest = page.messages.at(-1)
        if (!page.more || newest === undefined) return all
        after = { epoch: newest.epoch, seq: newest.seq }
      }
    }

    it('answers an empty page for a room it never stored, and undefined for a cursor in it', async () => {
      const store = await make()
      const room = freshRoom('empty')
      expect(await store.read(room, { limit: 10 })).toEqual({ messages: [], more: false })
      expect(await store.read(room, { before: { epoch: 'e', seq: 5 }, limit: 10 })).toBeUndefined()
      expect(await store.read(room, { after: { epoch: 'e', seq: 5 }, limit: 10 })).toBeUndefined()
      if (store.search !== undefined) {
        expect(await store.search(room, 'message', { limit: 10 })).toEqual({ messages: [], more: false })
        expect(await store.search(room, 'message', { before: { epoch: 'e', seq: 5 }, limit: 10 })).toBeUndefined()
      }
      await store.append([])
      expect(await store.read(room, { limit: 10 })).toEqual({ messages: [], more: false })
    })

    it('keeps the bytes a message was published with, and gives back a message without bytes without any', async () => {
      const store = await make()
      const room = freshRoom('bytes')
      const bytes = new Uint8Array([0, 1, 2, 250, 255])
      await store.append([{ ...stored(room, 'e1', 1), bytes }, stored(room, 'e1', 2), { ...stored(room, 'e1', 3), bytes: new Uint8Array(0) }])
      bytes[0] = 9
      const page = await store.read(room, { limit: 10 })
      expect(page?.messages.map((message) => (message.bytes === undefined ? 'none' : [...message.bytes]))).toEqual([[0, 1, 2, 250, 255], 'none', []])
      expect(page?.messages.every((message) => message.bytes === undefined || message.bytes instanceof Uint8Array)).toBe(true)
    })

    it('reads the newest page oldest first, each message whole, with `more` exactly when older ones exist', async () => {
      const store = await make()
      const room = freshRoom('newest')
      await store.append(run(room, 'e1', 1, 10))
      const page = await store.read(room, { limit: 3 })
      expect(page).toEqual({
        messages: [8, 9, 10].map((seq): RoomMessage => {
          const { dataJson: _json, bytes: _bytes, ...rest } = stored(room, 'e1', seq)
          return { type: 'message', ...rest }
        }),
        more: true,
      })
      expect(await store.read(room, { limit: 9 })).toMatchObject({ more: true })
      expect(seqs(await store.read(room, { limit: 9 }))).toEqual(range(2, 10))
      expect(await store.read(room, { limit: 10 })).toMatchObject({ more: false })
      expect(seqs(await store.read(room, { limit: 10 }))).toEqual(range(1, 10))
      expect(seqs(await store.read(room, { limit: 500 }))).toEqual(range(1, 10))
      expect(await store.read(room, { limit: 1 })).toMatchObject({ messages: [{ seq: 10 }], more: true })
    })

    it('pages back with `before` and forward with `after` through 2 000 messages, each exactly once and in order', async () => {
      const store = await make()
      const room = freshRoom('paging')
      for (let from = 1; from <= 2_000; from += 250) await store.append(run(room, 'e1', from, 250))
      const back = await readBack(store, room, 50)
      expect(back.map((m) => m.seq)).toEqual(range(1, 2_000))
      const forward = await readForward(store, room, { epoch: 'e1', seq: 0 }, 64)
      expect(forward.map((m) => m.seq)).toEqual(range(1, 2_000))
      // The edges: nothing older than the first, nothing newer than the last.
      expect(await store.read(room, { before: { epoch: 'e1', seq: 1 }, limit: 5 })).toEqual({ messages: [], more: false })
      expect(await store.read(room, { after: { epoch: 'e1', seq: 2_000 }, limit: 5 })).toEqual({ messages: [], more: false })
      expect(await store.read(room, { after: { epoch: 'e1', seq: 1_995 }, limit: 5 })).toMatchObject({ more: false })
      expect(await store.read(room, { after: { epoch: 'e1', seq: 1_994 }, limit: 5 })).toMatchObject({ more: true })
      expect(seqs(await store.read(room, { before: { epoch: 'e1', seq: 7 }, limit: 6 }))).toEqual(range(1, 6))
      expect(await store.read(room, { before: { epoch: 'e1', seq: 7 }, limit: 6 })).toMatchObject({ more: false })
      expect(await store.read(room, { before: { epoch: 'e1', seq: 8 }, limit: 6 })).toMatchObject({ more: true })
    })

    it('reads forward when given both `after` and `before` (`before` is ignored)', async () => {
      const store = await make()
      const room = freshRoom('both')
      await store.append(run(room, 'e1', 1, 10))
      const page = await store.read(room, { after: { epoch: 'e1', seq: 2 }, before: { epoch: 'e1', seq: 9 }, limit: 3 })
      expect(page).toMatchObject({ more: true })
      expect(seqs(page)).toEqual([3, 4, 5])
    })

    it('orders epochs by when the store first saw each in the room, not by name, and per room', async () => {
      const store = await make()
      const room = freshRoom('epochs')
      const other = freshRoom('epochs-other')
      await store.append([...run(room, 'zz-first', 1, 5), ...run(other, 'aa-second', 1, 2)])
      await store.append([...run(room, 'aa-second', 1, 5), ...run(other, 'zz-first', 1, 2)])
      const first = ['zz-first:1', 'zz-first:2', 'zz-first:3', 'zz-first:4', 'zz-first:5']
      const second = ['aa-second:1', 'aa-second:2', 'aa-second:3', 'aa-second:4', 'aa-second:5']
      expect(positions(await store.read(room, { limit: 20 }))).toEqual([...first, ...second])
      expect(positions(await store.read(other, { limit: 20 }))).toEqual(['aa-second:1', 'aa-second:2', 'zz-first:1', 'zz-first:2'])
      // Across the epoch boundary, both ways.
      expect(positions(await store.read(room, { before: { epoch: 'aa-second', seq: 2 }, limit: 3 }))).toEqual(['zz-first:4', 'zz-first:5', 'aa-second:1'])
      expect(positions(await store.read(room, { after: { epoch: 'zz-first', seq: 4 }, limit: 3 }))).toEqual(['zz-first:5', 'aa-second:1', 'aa-second:2'])
      expect(positions(await store.read(room, { before: { epoch: 'aa-second', seq: 1 }, limit: 50 }))).toEqual(first)
      // A late message of the first epoch still sorts before the whole second one.
      await store.append([stored(room, 'zz-first', 6)])
      expect(positions(await store.read(room, { limit: 20 }))).toEqual([...first, 'zz-first:6', ...second])
      // A third epoch, seen first in a batch that also has the second: after both.
      await store.append([stored(room, 'mm-third', 1), stored(room, 'aa-second', 6)])
      expect(positions(await store.read(room, { limit: 3 }))).toEqual(['aa-second:5', 'aa-second:6', 'mm-third:1'])
      const all = await readBack(store, room, 4)
      expect(all.map((m) => `${m.epoch}:${m.seq}`)).toEqual([...first, 'zz-first:6', ...second, 'aa-second:6', 'mm-third:1'])
    })

    it('pages around a cursor that is not a stored message, and answers undefined for an epoch unknown in the room', async () => {
      const store = await make()
      const room = freshRoom('cursor')
      const other = freshRoom('cursor-other')
      await store.append([1, 2, 3, 7, 8].map((seq) => stored(room, 'e1', seq)))
      await store.append([stored(other, 'other-epoch', 1)])
      expect(seqs(await store.read(room, { before: { epoch: 'e1', seq: 5 }, limit: 10 }))).toEqual([1, 2, 3])
      expect(seqs(await store.read(room, { after: { epoch: 'e1', seq: 5 }, limit: 10 }))).toEqual([7, 8])
      expect(seqs(await store.read(room, { before: { epoch: 'e1', seq: 1_000 }, limit: 10 }))).toEqual([1, 2, 3, 7, 8])
      expect(seqs(await store.read(room, { after: { epoch: 'e1', seq: -1 }, limit: 10 }))).toEqual([1, 2, 3, 7, 8])
      // An epoch of another room, and one never stored anywhere.
      for (const epoch of ['other-epoch', 'never']) {
        expect(await store.read(room, { before: { epoch, seq: 1 }, limit: 10 })).toBeUndefined()
        expect(await store.read(room, { after: { epoch, seq: 1 }, limit: 10 })).toBeUndefined()
        if (store.search !== undefined) expect(await store.search(room, 'message', { before: { epoch, seq: 1 }, limit: 10 })).toBeUndefined()
      }
    })

    it('stores each (room, epoch, seq) once: a batch twice, overlapping and concurrent batches, repeats inside a batch', async () => {
      const store = await make()
      const room = freshRoom('idempotent')
      const batch = run(room, 'e1', 1, 5)
      await store.append(batch)
      await store.append(batch)
      await store.append(run(room, 'e1', 3, 6))
      await Promise.all([store.append(run(room, 'e1', 5, 10)), store.append(run(room, 'e1', 7, 10)), store.append(run(room, 'e1', 1, 16))])
      await store.append([stored(room, 'e1', 17), stored(room, 'e1', 17), stored(room, 'e1', 18)])
      // Out of order in a batch: stored in order.
      await store.append([stored(room, 'e1', 21), stored(room, 'e1', 19), stored(room, 'e1', 20)])
      expect(seqs(await store.read(room, { limit: 100 }))).toEqual(range(1, 21))
      // The first write of a message wins; a retried one with other data changes nothing.
      await store.append([stored(room, 'e1', 1, { text: 'rewritten' })])
      expect((await store.read(room, { before: { epoch: 'e1', seq: 2 }, limit: 1 }))?.messages[0]?.data).toEqual({ text: 'message 1' })
      // The same seq in another epoch or another room is another message.
      await store.append([stored(room, 'e2', 1), stored(freshRoom('idempotent-other'), 'e1', 1)])
      expect(positions(await store.read(room, { limit: 2 }))).toEqual(['e1:21', 'e2:1'])
    })

    it('keeps data, sender and time exactly, whatever the JSON holds', async () => {
      const store = await make()
      const room = freshRoom('data')
      const values: JsonValue[] = [
        { text: 'plain' },
        { nested: { deeper: [1, 2.5, -3e-7, true, false, null, { k: 'v' }] }, 'key with "quotes"': "it's \\ back" },
        'a bare string with \n newline \t tab and \u0000 NUL',
        ['array', 'of', { mixed: 1 }],
        12_345.678,
        true,
        null,
        { emoji: '🎉👩‍👩‍👧', cjk: '日本語のテキスト', rtl: 'مرحبا', combining: 'e\u0301' },
        { big: 'x'.repeat(50_000) },
        { '': '', ' ': ' ', 'order-b': 1, 'order-a': 2 },
      ]
      await store.append(values.map((data, i) => ({ ...stored(room, 'e1', i + 1, data, 1_700_000_000_123 + i), from: i % 3 === 0 ? null : `user-${i} ✓` })))
      const page = await store.read(room, { limit: 100 })
      expect(page?.messages.map((m) => m.data)).toEqual(values)
      expect(page?.messages.map((m) => [m.type, m.room, m.epoch, m.from, m.ts])).toEqual(
        values.map((_, i) => ['message', room, 'e1', i % 3 === 0 ? null : `user-${i} ✓`, 1_700_000_000_123 + i]),
      )
      // Key order is kept too (what JSON.stringify of the stored value gives back).
      expect(JSON.stringify(page?.messages.at(-1)?.data)).toBe(JSON.stringify(values.at(-1)))
    })

    describe('search', () => {
      const texts = ['hello world', 'Hello there', 'goodbye world', 'the WORLD is big', 'nothing here', 'world peace now', 'hello again world']

      async function searchable(options: ConformanceStoreOptions = {}) {
        const store = await make(options)
        if (store.search === undefined) return undefined
        const room = freshRoom('search')
        await store.append(texts.map((text, i) => stored(room, 'e1', i + 1, { text })))
        return { store, room, search: store.search.bind(store) }
      }

      it('finds the messages holding every word, case-insensitively, oldest first, in the room only', async (context) => {
        const s = await searchable()
        if (s === undefined) return context.skip()
        expect(seqs(await s.search(s.room, 'world', { limit: 10 }))).toEqual([1, 3, 4, 6, 7])
        expect(seqs(await s.search(s.room, 'HELLO', { limit: 10 }))).toEqual([1, 2, 7])
        expect(seqs(await s.search(s.room, 'hello world', { limit: 10 }))).toEqual([1, 7])
        expect(seqs(await s.search(s.room, '  world   hello  ', { limit: 10 }))).toEqual([1, 7])
        expect(seqs(await s.search(s.room, 'absent', { limit: 10 }))).toEqual([])
        expect(await s.search(s.room, 'absent', { limit: 10 })).toEqual({ messages: [], more: false })
        expect(await s.search(s.room, 'hello world', { limit: 10 })).toMatchObject({
          messages: [{ type: 'message', room: s.room, epoch: 'e1', seq: 1, data: { text: 'hello world' } }, { seq: 7 }],
          more: false,
        })
        expect(await s.search(freshRoom('search-elsewhere'), 'world', { limit: 10 })).toEqual({ messages: [], more: false })
      })

      it('answers the newest `limit` matches with `more`, and pages back with `before`', async (context) => {
        const s = await searchable()
        if (s === undefined) return context.skip()
        const newest = await s.search(s.room, 'world', { limit: 2 })
        expect(seqs(newest)).toEqual([6, 7])
        expect(newest?.more).toBe(true)
        const older = await s.search(s.room, 'world', { before: { epoch: 'e1', seq: 6 }, limit: 2 })
        expect(seqs(older)).toEqual([3, 4])
        expect(older?.more).toBe(true)
        const oldest = await s.search(s.room, 'world', { before: { epoch: 'e1', seq: 3 }, limit: 2 })
        expect(seqs(oldest)).toEqual([1])
        expect(oldest?.more).toBe(false)
        expect(await s.search(s.room, 'world', { before: { epoch: 'e1', seq: 4 }, limit: 2 })).toMatchObject({ more: false })
        expect(seqs(await s.search(s.room, 'world', { limit: 5 }))).toEqual([1, 3, 4, 6, 7])
        expect(await s.search(s.room, 'world', { limit: 5 })).toMatchObject({ more: false })
      })

      it('matches nothing for an empty or blank query', async (context) => {
        const s = await searchable()
        if (s === undefined) return context.skip()
        for (const text of ['', ' ', '\t\n  ']) expect(await s.search(s.room, text, { limit: 10 }), JSON.stringify(text)).toEqual({ messages: [], more: false })
      })

      it('never throws nor matches wrongly on hostile input, and the history is intact after it', async (context) => {
        const s = await searchable()
        if (s === undefined) return context.skip()
        for (const text of HOSTILE_SEARCHES) {
          const label = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)
          expect(await s.search(s.room, text, { limit: 10 }), label).toEqual({ messages: [], more: false })
          expect(await s.search(s.room, text, { before: { epoch: 'e1', seq: 5 }, limit: 10 }), label).toEqual({ messages: [], more: false })
        }
        expect(seqs(await s.store.read(s.room, { limit: 100 }))).toEqual(range(1, texts.length))
        expect(seqs(await s.search(s.room, 'hello', { limit: 10 }))).toEqual([1, 2, 7])
      })

      it('searches every string of the data by default (values, not keys), within the first MAX_SEARCH_TEXT characters', async (context) => {
        const store = await make()
        if (store.search === undefined) return context.skip()
        const room = freshRoom('search-default')
        await store.append([
          stored(room, 'e1', 1, { user: { name: 'alice' }, tags: ['urgent', 'billing'], count: 42 }),
          stored(room, 'e1', 2, { text: `${'filler '.repeat(Math.ceil(MAX_SEARCH_TEXT / 7))} needle` }),
          stored(room, 'e1', 3, { text: `needle ${'filler '.repeat(Math.ceil(MAX_SEARCH_TEXT / 7))}` }),
        ])
        expect(seqs(await store.search(room, 'urgent', { limit: 10 }))).toEqual([1])
        expect(seqs(await store.search(room, 'alice billing', { limit: 10 }))).toEqual([1])
        expect(seqs(await store.search(room, 'tags', { limit: 10 }))).toEqual([])
        expect(seqs(await store.search(room, 'needle', { limit: 10 }))).toEqual([3])
      })

      it('searches what the `searchText` option returns', async (context) => {
        const store = await make({ searchText: (data) => String((data as { subject?: unknown }).subject ?? '') })
        if (store.search === undefined) return context.skip()
        const room = freshRoom('search-option')
        await store.append([stored(room, 'e1', 1, { subject: 'invoice', body: 'payment' }), stored(room, 'e1', 2, { subject: 'payment', body: 'invoice' })])
        expect(seqs(await store.search(room, 'invoice', { limit: 10 }))).toEqual([1])
        expect(seqs(await store.search(room, 'payment', { limit: 10 }))).toEqual([2])
      })
    })

    describe('retention', () => {
      it('keeps the newest `maxPerRoom` of each room once pruned, across epochs, and still knows pruned epochs', async (context) => {
        const store = await make({ maxPerRoom: 5 })
        if (store.prune === undefined) return context.skip()
        const busy = freshRoom('count-busy')
        const quiet = freshRoom('count-quiet')
        const epochs = freshRoom('count-epochs')
        await store.append(run(busy, 'e1', 1, 12))
        await store.append(run(quiet, 'e1', 1, 3))
        await store.append([...run(epochs, 'old', 1, 4), ...run(epochs, 'new', 1, 4)])
        expect(await store.prune()).toBeGreaterThanOrEqual(0)
        expect(seqs(await store.read(busy, { limit: 100 }))).toEqual(range(8, 12))
        expect(seqs(await store.read(quiet, { limit: 100 }))).toEqual(range(1, 3))
        expect(positions(await store.read(epochs, { limit: 100 }))).toEqual(['old:4', 'new:1', 'new:2', 'new:3', 'new:4'])
        expect(await store.read(busy, { limit: 3 })).toMatchObject({ more: true })
        expect(await store.read(busy, { before: { epoch: 'e1', seq: 8 }, limit: 3 })).toEqual({ messages: [], more: false })
        await store.append(run(busy, 'e1', 13, 2))
        await store.prune()
        expect(seqs(await store.read(busy, { limit: 100 }))).toEqual(range(10, 14))
        // Pruning again removes nothing more.
        expect(await store.prune()).toBe(0)
      })

      it('drops messages older than `maxAgeMs` when pruned, and pages from a pruned position', async (context) => {
        let now = 1_000_000
        const store = await make({ maxAgeMs: 1_000, now: () => now })
        if (store.prune === undefined) return context.skip()
        const room = freshRoom('age')
        await store.append(range(1, 9).map((seq) => stored(room, 'e1', seq, { text: `m${seq}` }, 999_000 + seq * 100)))
        expect(seqs(await store.read(room, { limit: 100 }))).toEqual(range(1, 9))
        now = 1_000_450
        expect(await store.prune()).toBe(4)
        expect(seqs(await store.read(room, { limit: 100 }))).toEqual(range(5, 9))
        expect(await store.read(room, { before: { epoch: 'e1', seq: 3 }, limit: 10 })).toEqual({ messages: [], more: false })
        expect(seqs(await store.read(room, { after: { epoch: 'e1', seq: 2 }, limit: 2 }))).toEqual([5, 6])
        expect(await store.prune()).toBe(0)
      })
    })
  })
}
