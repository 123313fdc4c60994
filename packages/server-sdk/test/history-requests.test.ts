import { serverFrameLimit, type ServerMessage } from '@parley/protocol'
import { describe, expect, it } from 'vitest'
import { createMemoryHistory, createParley, type HistoryStore, type StoredMessage } from '../src/index.js'
import { connectAnon, connectAs, join, tokenAuth, useServers, waitUntil } from './helpers/harness.js'
import type { RawClient } from './helpers/raw-client.js'

const servers = useServers()

type HistoryAnswer = Extract<ServerMessage, { type: 'history' }>

/** A memory store that can be taken down and brought back, and counts its writes. */
function switchableStore(inner: HistoryStore = createMemoryHistory()): HistoryStore & { down: boolean; appends: number; batchSizes: number[] } {
  const store = {
    down: false,
    appends: 0,
    batchSizes: [] as number[],
    async append(batch: readonly StoredMessage[]) {
      if (store.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
      store.appends++
      store.batchSizes.push(batch.length)
      return inner.append(batch)
    },
    async read(...args: Parameters<HistoryStore['read']>) {
      if (store.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
      return inner.read(...args)
    },
    async search(...args: Parameters<NonNullable<HistoryStore['search']>>) {
      if (store.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
      return (inner.search as NonNullable<HistoryStore['search']>)(...args)
    },
  }
  return store
}

/** Asks for a page and waits for the answer to it (a `history` or an `error` with its id). */
async function ask(client: RawClient, request: Record<string, unknown>): Promise<HistoryAnswer | Extract<ServerMessage, { type: 'error' }>> {
  const id = `q-${Math.random().toString(36).slice(2)}`
  client.send(JSON.stringify({ ...request, id }))
  for (;;) {
    const answer = await client.next()
    if ((answer.type === 'history' || answer.type === 'error') && answer.id === id) return answer
  }
}

async function page(client: RawClient, request: Record<string, unknown>): Promise<HistoryAnswer> {
  const answer = await ask(client, request)
  if (answer.type !== 'history') throw new Error(`expected a page, got ${JSON.stringify(answer)}`)
  return answer
}

/** Pages back from the newest message to the oldest, returning every seq seen, oldest first. */
async function pageBackAll(client: RawClient, room: string, limit: number): Promise<Array<{ epoch: string; seq: number }>> {
  const seen: Array<{ epoch: string; seq: number }> = []
  let before: { epoch: string; seq: number } | undefined
  for (;;) {
    const answer = await page(client, { type: 'history', room, limit, ...(before === undefined ? {} : { before }) })
    seen.unshift(...answer.messages.map(({ epoch, seq }) => ({ epoch, seq })))
    if (!answer.more) return seen
    const first = answer.messages[0]
    if (first === undefined) throw new Error('more without messages')
    before = { epoch: first.epoch, seq: first.seq }
  }
}

describe('history requests without a history store (the recovery window)', () => {
  it('pages back through the window, announces history but not search, and refuses a cursor of another epoch', async () => {
    const { url, parley } = await servers.start({ history: { size: 20 } })
    const { client } = await connectAnon(url)
    for (let i = 1; i <= 30; i++) await parley.room('log').publish({ i })
    const newest = await page(client, { type: 'history', room: 'log', limit: 5 })
    expect(newest.messages.map((m) => m.seq)).toEqual([26, 27, 28, 29, 30])
    expect(newest).toMatchObject({ room: 'log', more: true, gaps: [] })
    expect(newest.messages[0]).toEqual({ epoch: expect.any(String), seq: 26, from: null, ts: expect.any(Number), data: { i: 26 } })
    // The window holds 20: seqs 11-30.
    expect((await pageBackAll(client, 'log', 7)).map((p) => p.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 11))
    expect(await ask(client, { type: 'history', room: 'log', before: { epoch: 'elsewhere', seq: 5 } })).toMatchObject({ type: 'error', code: 'HISTORY_CURSOR_INVALID', room: 'log' })
    expect(await ask(client, { type: 'search', room: 'log', text: 'hello' })).toMatchObject({ type: 'error', code: 'HISTORY_UNAVAILABLE' })
  })

  it('announces its history capabilities in welcome', async () => {
    const plain = await servers.start()
    const withStore = await servers.start({ history: { store: createMemoryHistory() } })
    const { client: a } = await connectAnon(plain.url)
    const { client: b } = await connectAnon(withStore.url)
    expect(a.received[0]).toMatchObject({ type: 'welcome', capabilities: expect.arrayContaining(['history']) })
    expect((a.received[0] as Extract<ServerMessage, { type: 'welcome' }>).capabilities).not.toContain('search')
    expect(b.received[0]).toMatchObject({ type: 'welcome', capabilities: expect.arrayContaining(['history', 'search']) })
  })
})

describe('history requests with a history store', () => {
  it('pages back through every message exactly once, far past the recovery window', async () => {
    const store = switchableStore()
    const { url, parley } = await servers.start({ history: { size: 10, store } })
    for (let i = 1; i <= 300; i++) void parley.room('log').publish({ i })
    await waitUntil(() => parley.stats().history.written === 300, 'all 300 written')
    const { client } = await connectAnon(url)
    const seen = await pageBackAll(client, 'log', 50)
    expect(seen.map((p) => p.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    // Written in batches, not one write per message.
    expect(store.appends).toBeLessThan(300)
    expect(store.batchSizes.reduce((a, b) => a + b, 0)).toBe(300)
  })

  it('pages across epochs: a restarted server (new epoch) still shows what came before', async () => {
    const store = createMemoryHistory()
    const first = await servers.start({ history: { store } })
    for (let i = 1; i <= 5; i++) await first.parley.room('log').publish({ before: i })
    await first.stop()
    const second = await servers.start({ history: { store } })
    for (let i = 1; i <= 3; i++) await second.parley.room('log').publish({ after: i })
    const { client } = await connectAnon(second.url)
    const answer = await page(client, { type: 'history', room: 'log', limit: 50 })
    expect(answer.messages.map((m) => m.data)).toEqual([{ before: 1 }, { before: 2 }, { before: 3 }, { before: 4 }, { before: 5 }, { after: 1 }, { after: 2 }, { after: 3 }])
    expect(new Set(answer.messages.map((m) => m.epoch)).size).toBe(2)
    expect(answer).toMatchObject({ more: false, gaps: [] })
    // A cursor in the old epoch pages within it.
    const older = await page(client, { type: 'history', room: 'log', limit: 2, before: { epoch: answer.messages[0]?.epoch, seq: 4 } })
    expect(older.messages.map((m) => m.data)).toEqual([{ before: 2 }, { before: 3 }])
  })

  it('join with last: N sends the newest N right after joined, then live messages, none twice', async () => {
    const { url, parley } = await servers.start({ history: { size: 100, store: createMemoryHistory() } })
    for (let i = 1; i <= 10; i++) await parley.room('chat').publish({ i })
    const { client } = await connectAnon(url)
    client.send({ type: 'join', room: 'chat', id: 'j1', last: 4 })
    const joined = await client.next('joined')
    expect(joined).toMatchObject({ id: 'j1', seq: 10 })
    const history = await client.next()
    expect(history).toMatchObject({ type: 'history', id: 'j1', room: 'chat', more: true, gaps: [] })
    expect((history as HistoryAnswer).messages.map((m) => m.seq)).toEqual([7, 8, 9, 10])
    await parley.room('chat').publish({ i: 11 })
    expect(await client.next()).toMatchObject({ type: 'message', seq: 11 })
    // A join without last (or a resume) gets no history frame.
    const { client: other } = await connectAnon(url)
    await join(other, 'chat', { id: 'j2' })
    expect((await other.quiet(100)).filter((m) => m.type === 'history')).toEqual([])
  })

  it('a live message published while the join reads history follows the page, never inside it or lost', async () => {
    const inner = createMemoryHistory()
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slow: HistoryStore = { append: (b) => inner.append(b), read: async (room, query) => (await gate, inner.read(room, query)) }
    const { url, parley } = await servers.start({ history: { store: slow } })
    for (let i = 1; i <= 3; i++) await parley.room('chat').publish({ i })
    const { client } = await connectAnon(url)
    client.send({ type: 'join', room: 'chat', id: 'j', last: 10 })
    await waitUntil(() => parley.stats().members === 1, 'member')
    await parley.room('chat').publish({ i: 4 })
    // Written to the store before the join's read runs: the page still stops at the head the join answered.
    await waitUntil(() => parley.stats().history.written === 4, 'message 4 written')
    release()
    const frames = [await client.next(), await client.next(), await client.next()]
    expect(frames.map((f) => f.type)).toEqual(['joined', 'history', 'message'])
    expect((frames[1] as HistoryAnswer).messages.map((m) => m.seq)).toEqual([1, 2, 3])
    expect(frames[2]).toMatchObject({ seq: 4 })
  })

  it('cuts a page to what fits one frame and says more', async () => {
    const { url, parley } = await servers.start({ history: { store: createMemoryHistory() } })
    for (let i = 0; i < 6; i++) await parley.room('big').publish('x'.repeat(30_000))
    const { client } = await connectAnon(url)
    const frames: string[] = []
    client.ws.on('message', (data) => frames.push(String(data)))
    const answer = await page(client, { type: 'history', room: 'big', limit: 6 })
    expect(answer.messages.length).toBeGreaterThan(0)
    expect(answer.messages.length).toBeLessThan(6)
    expect(answer.more).toBe(true)
    for (const frame of frames) expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(serverFrameLimit(65_536))
  })

  it('searches the store, older than a cursor, and treats the text as text', async () => {
    const { url, parley } = await servers.start({ history: { store: createMemoryHistory() } })
    for (const text of ['the release is out', 'lunch?', 'release notes please', "'; DROP TABLE parley_history; --"]) await parley.room('chat').publish({ text })
    // Search reads the store alone: it finds what has been written (within history.flushMs).
    await waitUntil(() => parley.stats().history.written === 4, 'written')
    const { client } = await connectAnon(url)
    const found = await page(client, { type: 'search', room: 'chat', text: 'release' })
    expect(found.messages.map((m) => m.data)).toEqual([{ text: 'the release is out' }, { text: 'release notes please' }])
    const older = await page(client, { type: 'search', room: 'chat', text: 'release', before: { epoch: found.messages[1]?.epoch, seq: found.messages[1]?.seq } })
    expect(older.messages.map((m) => m.seq)).toEqual([1])
    expect((await page(client, { type: 'search', room: 'chat', text: "'; DROP TABLE" })).messages.map((m) => m.seq)).toEqual([4])
    expect((await page(client, { type: 'search', room: 'chat', text: 'nothing-like-this' })).messages).toEqual([])
  })
})

describe('history: bad input and refusals', () => {
  it('answers malformed page requests with a field error naming the field, and keeps the session', async () => {
    const { url } = await servers.start({ history: { store: createMemoryHistory() } })
    const { client } = await connectAnon(url)
    for (const [request, field] of [
      [{ type: 'history', room: 'r', limit: 0 }, 'limit'],
      [{ type: 'history', room: 'r', limit: -1 }, 'limit'],
      [{ type: 'history', room: 'r', limit: 1_000_000 }, 'limit'],
      [{ type: 'history', room: 'r', before: { epoch: 'e', seq: -2 } }, 'before.seq'],
      [{ type: 'search', room: 'r', text: '' }, 'text'],
      [{ type: 'search', room: 'r', text: 'x'.repeat(257) }, 'text'],
      [{ type: 'join', room: 'r', last: 0 }, 'last'],
    ] as const) {
      const answer = await ask(client, request)
      expect(answer, JSON.stringify(request)).toMatchObject({ type: 'error', code: 'INVALID_FIELD' })
      expect((answer as { message: string }).message).toContain(field)
    }
    expect((await page(client, { type: 'history', room: 'r' })).messages).toEqual([])
  })

  it("a join's last needs history too: denied, the join stands and its page is refused with FORBIDDEN", async () => {
    const { url, parley } = await servers.start({
      authenticate: tokenAuth,
      history: { store: createMemoryHistory() },
      authorize: ({ action }) => action !== 'history',
    })
    await parley.room('open').publish({ text: 'backlog' })
    const newcomer = await connectAs(url, 'newcomer')
    newcomer.send({ type: 'join', room: 'open', id: 'j', last: 10 })
    expect(await newcomer.next()).toMatchObject({ type: 'joined', id: 'j' })
    expect(await newcomer.next()).toMatchObject({ type: 'error', id: 'j', code: 'FORBIDDEN', room: 'open' })
    await parley.room('open').publish({ text: 'live' })
    expect(await newcomer.next()).toMatchObject({ type: 'message', data: { text: 'live' } })
  })

  it('sizes a page by its JSON text: messages of escaped characters still fit one frame, and the join stands', async () => {
    const { url, parley } = await servers.start({ history: { store: createMemoryHistory() } })
    // 10 000 control characters are 60 000 bytes of JSON each (\u0001), under maxPayload.
    for (let i = 0; i < 4; i++) await parley.room('escapes').publish('\u0001'.repeat(10_000))
    const { client } = await connectAnon(url)
    const frames: string[] = []
    client.ws.on('message', (data) => frames.push(String(data)))
    client.send({ type: 'join', room: 'escapes', id: 'j', last: 10 })
    expect(await client.next()).toMatchObject({ type: 'joined', id: 'j' })
    const page = await client.next()
    expect(page).toMatchObject({ type: 'history', id: 'j', more: true })
    expect((page as HistoryAnswer).messages).toHaveLength(1)
    for (const frame of frames) expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(serverFrameLimit(65_536))
    expect(parley.stats().members).toBe(1)
  })

  it('runs every read through authorize as action history', async () => {
    const actions: string[] = []
    const { url, parley } = await servers.start({
      authenticate: tokenAuth,
      history: { store: createMemoryHistory() },
      authorize: ({ user, room, action }) => {
        actions.push(`${user.id} ${action} ${room}`)
        return !(room === 'secret' && user.id !== 'boss')
      },
    })
    await parley.room('secret').publish({ text: 'plans' })
    const eve = await connectAs(url, 'eve')
    expect(await ask(eve, { type: 'history', room: 'secret' })).toMatchObject({ type: 'error', code: 'FORBIDDEN' })
    expect(await ask(eve, { type: 'search', room: 'secret', text: 'plans' })).toMatchObject({ type: 'error', code: 'FORBIDDEN' })
    const boss = await connectAs(url, 'boss')
    expect((await page(boss, { type: 'history', room: 'secret' })).messages.map((m) => m.data)).toEqual([{ text: 'plans' }])
    expect(actions).toEqual(['eve history secret', 'eve history secret', 'boss history secret'])
  })

  it('a store that is down: live messaging goes on, writes queue to the bound then drop (counted), reads fail typed, and the drop is a gap once it is back', async () => {
    const store = switchableStore()
    // A recovery window of 1: what the store lacks cannot come from the window instead.
    const { url, parley } = await servers.start({ history: { store, maxQueue: 5, size: 1 } })
    const { client } = await connectAnon(url)
    await join(client, 'chat')
    await parley.room('chat').publish({ n: 1 })
    await waitUntil(() => parley.stats().history.written === 1, 'first written')
    store.down = true
    for (let n = 2; n <= 20; n++) await parley.room('chat').publish({ n })
    // Every message still reached the member, live.
    for (let seq = 1; seq <= 20; seq++) expect(await client.next('message')).toMatchObject({ seq })
    await waitUntil(() => parley.stats().history.failedWrites > 0, 'a failed write')
    expect(parley.stats().history).toMatchObject({ queued: 5, dropped: 14 })
    expect(await ask(client, { type: 'history', room: 'chat' })).toMatchObject({ type: 'error', code: 'HISTORY_UNAVAILABLE' })
    // A join asking for the last messages still joins, and is told history failed.
    const { client: late } = await connectAnon(url)
    late.send({ type: 'join', room: 'chat', id: 'late', last: 5 })
    expect(await late.next()).toMatchObject({ type: 'joined', id: 'late' })
    expect(await late.next()).toMatchObject({ type: 'error', id: 'late', code: 'HISTORY_UNAVAILABLE', room: 'chat' })
    store.down = false
    await waitUntil(() => parley.stats().history.queued === 0, 'queue drained', 10_000)
    await parley.room('chat').publish({ n: 21 })
    await waitUntil(() => parley.stats().history.written === 7, 'all but the dropped written')
    const answer = await page(client, { type: 'history', room: 'chat' })
    // Stored: 1, the queued 2-6, and 21; 7-20 were dropped and are reported, not silently missing.
    expect(answer.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 21])
    expect(answer.gaps).toEqual([{ epoch: answer.messages[0]?.epoch, from: 7, to: 20 }])
  })

  it('a stop writes what is still queued before it ends', async () => {
    const store = switchableStore()
    const parley = createParley({ history: { store } })
    await parley.ready
    await Promise.all(Array.from({ length: 50 }, (_, i) => parley.room('log').publish({ i })))
    expect(parley.stats().history.queued).toBe(50)
    await parley.close()
    expect(store.batchSizes.reduce((a, b) => a + b, 0)).toBe(50)
  })
})
