import { describe, expect, it } from 'vitest'
import { createClient } from '@parley/client-sdk'
import { createMemoryAdapter, type Adapter } from '@parley/server-sdk'
import { connectAs, join, tokenAuth, useServers, waitUntil } from './helpers/harness.js'
import type { RawClient } from './helpers/raw-client.js'
import type { PresenceMember } from '@parley/protocol'
import { membersPage } from '../src/members-page.js'

const servers = useServers()
const pad = (n: number): string => String(n).padStart(3, '0')

describe('membersPage: the first members by user id without sorting the room', () => {
  const naive = (all: PresenceMember[], after: string | undefined, limit: number) => {
    const rest = [...all].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0)).filter((m) => after === undefined || m.user > after)
    return { members: rest.slice(0, limit), more: rest.length > limit }
  }
  it('matches a full sort for random rooms, cursors and limits', () => {
    let seed = 7
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    for (let round = 0; round < 200; round++) {
      const size = Math.floor(random() * 400)
      const users = new Set<string>()
      while (users.size < size) users.add(`u${Math.floor(random() * 10_000).toString(36)}`)
      const all = [...users].map((user) => ({ user, presence: null, connections: 1 }))
      const limit = 1 + Math.floor(random() * 120)
      const after = random() < 0.5 ? undefined : `u${Math.floor(random() * 10_000).toString(36)}`
      expect(membersPage(all, after, limit, 1_000_000)).toEqual(naive(all, after, limit))
    }
  })

  it('pages through 10 000 members, each once and in order, and stops at the byte budget', () => {
    const all = Array.from({ length: 10_000 }, (_, i) => ({ user: `m${((i * 7_919) % 10_000).toString().padStart(5, '0')}`, presence: null, connections: 1 }))
    const seen: string[] = []
    let after: string | undefined
    for (;;) {
      const page = membersPage(all, after, 100, 1_000_000)
      seen.push(...page.members.map((m) => m.user))
      if (!page.more) break
      after = page.members.at(-1)?.user
    }
    expect(seen).toEqual([...all.map((m) => m.user)].sort())
    const small = membersPage(all, undefined, 100, 200)
    expect(small.members.length).toBeGreaterThan(0)
    expect(small.members.length).toBeLessThan(10)
    expect(small.more).toBe(true)
  })
})

describe("the memory adapter's memberSnapshot", () => {
  it('keeps members ordered by user id through joins and leaves: the first page, the count and member pages match members()', async () => {
    const node = await createMemoryAdapter().connect(
      {
        message: () => undefined,
        presence: () => undefined,
        signal: () => undefined,
        direct: () => undefined,
        control: async () => 0,
        forwarded: async () => ({ ok: false, status: 404, body: '' }) as never,
      },
      { history: { size: 10, ttlMs: 60_000 }, dedupWindowMs: 1_000 },
    )
    const byUser = (a: PresenceMember, b: PresenceMember): number => (a.user < b.user ? -1 : 1)
    let seed = 11
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    const present = new Map<string, string[]>()
    for (let step = 0; step < 3_000; step++) {
      const user = `user-${Math.floor(random() * 300)}`
      const sessions = present.get(user) ?? []
      if (sessions.length > 0 && random() < 0.45) {
        const session = sessions.pop() as string
        await node.presenceLeave('r', user, session)
      } else {
        const session = `s${step}`
        sessions.push(session)
        await node.presenceJoin({ room: 'r', user, session, presence: null })
      }
      if (sessions.length === 0) present.delete(user)
      else present.set(user, sessions)
      if (step % 97 === 0) {
        const all = (await node.members('r')).sort(byUser)
        let taken = 0
        const snapshot = await node.memberSnapshot?.('r', 20, () => taken++)
        // Taken at once, inside the call: the answer is as of every change delivered so far.
        expect(taken).toBe(1)
        expect(snapshot?.count).toBe(all.length)
        expect(snapshot?.first).toEqual(all.length <= 20 ? expect.arrayContaining(all) : all.slice(0, 20))
        // memberPage: every member once, in user-id order, in pages of 7 from any start (a non-member's id too).
        const paged: PresenceMember[] = []
        let after: string | undefined
        for (;;) {
          const page = await node.memberPage!('r', after, 7)
          paged.push(...page.members)
          if (!page.more) break
          after = page.members.at(-1)?.user
        }
        expect(paged).toEqual(all)
        const fromMiddle = await node.memberPage!('r', 'user-15x', 3)
        expect(fromMiddle.members).toEqual(all.filter((m) => m.user > 'user-15x').slice(0, 3))
      }
    }
    // A member's listed entry is shared and frozen: no caller can change what the next join reads.
    const [first] = await node.members('r')
    expect(Object.isFrozen(first)).toBe(true)
  })
})

describe('bounded joined snapshots, and members pages (issue 20)', () => {
  it('past snapshotLimit, joined lists the first members by user id and memberCount; pages then give every member once', async () => {
    // Joins read the adapter's snapshot and pages its memberPage: neither lists the whole room.
    const inner = createMemoryAdapter()
    let listed = 0
    const adapter: Adapter = {
      async connect(hooks, config) {
        const node = await inner.connect(hooks, config)
        const members = node.members.bind(node)
        node.members = (room) => {
          listed++
          return members(room)
        }
        return node
      },
    }
    const { url } = await servers.start({ authenticate: tokenAuth, adapter, presence: { snapshotLimit: 10 } })
    const users = Array.from({ length: 45 }, (_, i) => `user-${pad(44 - i)}`)
    for (const user of users) await join(await connectAs(url, user), 'big', { presence: { name: user } })
    const late = await connectAs(url, 'zz-late')
    const joined = await join(late, 'big', { id: 'j1' })
    expect(joined.members.map((m) => m.user)).toEqual(Array.from({ length: 10 }, (_, i) => `user-${pad(i)}`))
    expect(joined.memberCount).toBe(46)

    const seen = [...joined.members.map((m) => m.user)]
    let after: string | undefined = joined.members.at(-1)?.user
    for (let page = 1; after !== undefined; page++) {
      late.send({ type: 'members', room: 'big', id: `m${page}`, ...(after === undefined ? {} : { after }), limit: 15 })
      const answer = await late.next('members')
      expect(answer.id).toBe(`m${page}`)
      seen.push(...answer.members.map((m) => m.user))
      after = answer.next
    }
    expect(seen).toEqual([...users].sort().concat('zz-late'))
    expect(listed).toBe(0)
  })

  it('a room whose presence would not fit one frame still answers every join: the snapshot is cut to fit', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth })
    const big = 'x'.repeat(4_000)
    for (let i = 0; i < 30; i++) await join(await connectAs(url, `p${pad(i)}`), 'heavy', { presence: { bio: big } })
    const late = await connectAs(url, 'late')
    const joined = await join(late, 'heavy', { presence: { bio: big } })
    expect(joined.memberCount).toBe(31)
    expect(joined.members.length).toBeGreaterThan(5)
    expect(joined.members.length).toBeLessThanOrEqual(16)
    late.send({ type: 'members', room: 'heavy', id: 'm1', after: joined.members.at(-1)?.user ?? '', limit: 1_000 })
    const page = await late.next('members')
    // Again at most what fits one frame, however large the limit asked for; then the rest.
    expect(page.members.length).toBeLessThanOrEqual(16)
    const rest = joined.members.length + page.members.length < 31 ? page.next : undefined
    expect(page.next).toBe(rest)
    if (rest !== undefined) {
      late.send({ type: 'members', room: 'heavy', id: 'm2', after: rest })
      const last = await late.next('members')
      expect(joined.members.length + page.members.length + last.members.length).toBe(31)
    } else {
      expect(joined.members.length + page.members.length).toBe(31)
    }
  })

  it('refuses a members request from outside the room, and bad limits or cursors, with typed errors', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth })
    const outsider = await connectAs(url, 'outsider')
    outsider.send({ type: 'members', room: 'elsewhere', id: 'm1' })
    expect(await outsider.next('error')).toMatchObject({ code: 'NOT_JOINED', id: 'm1' })
    for (const [id, extra] of [['m2', { limit: 0 }], ['m3', { limit: 1_001 }], ['m4', { after: 'not a user id!' }]] as const) {
      outsider.send({ type: 'members', room: 'elsewhere', id, ...extra })
      expect(await outsider.next('error')).toMatchObject({ code: 'INVALID_FIELD', id })
    }
  })

  it('the client SDK keeps memberCount, and loadMembers() pages the rest in', async () => {
    const { url } = await servers.start({ authenticate: ({ token }) => (token === undefined ? null : { id: token }), presence: { snapshotLimit: 5 } })
    for (let i = 0; i < 12; i++) await join(await connectAs(url, `u${pad(i)}`), 'room')
    const client = createClient(url, { token: 'viewer', reconnect: false })
    try {
      const room = client.join('room')
      await waitUntil(() => room.state === 'joined', 'joined')
      expect(room.memberCount).toBe(13)
      expect(room.members()).toHaveLength(5)
      const pages: number[] = []
      for (let more = true; more; ) {
        const page = await room.loadMembers({ limit: 3 })
        pages.push(page.members.length)
        more = page.more
      }
      expect(pages).toEqual([3, 3, 2])
      expect(room.members().map((m) => m.user).sort()).toEqual([...Array.from({ length: 12 }, (_, i) => `u${pad(i)}`), 'viewer'].sort())
      expect(await room.loadMembers()).toEqual({ members: [], more: false })
      await join(await connectAs(url, 'newcomer'), 'room')
      await waitUntil(() => room.memberCount === 14, 'the newcomer counted')
    } finally {
      await client.close()
    }
  })
})

describe('presence.announce: broadcast-style rooms (issue 20)', () => {
  it("'none' sends no presence frame while 30 members join, yet joined still counts them; other rooms keep announcing", async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth, presence: { announce: (room) => (room.startsWith('live:') ? 'none' : 'all') } })
    const audience: RawClient[] = []
    for (let i = 0; i < 30; i++) {
      const client = await connectAs(url, `fan-${pad(i)}`)
      await join(client, 'live:final')
      await join(client, 'chat')
      audience.push(client)
    }
    await waitUntil(() => parley.stats().members === 60, 'every membership')
    const presenceIn = (room: string): number => audience.reduce((sum, c) => sum + c.received.filter((m) => m.type === 'presence' && m.room === room).length, 0)
    // 30 joins in an announcing room: the i-th joiner is announced to the i-1 already there.
    await waitUntil(() => presenceIn('chat') === (30 * 29) / 2, 'chat presence')
    expect(presenceIn('live:final')).toBe(0)
    const late = await connectAs(url, 'late')
    const joined = await join(late, 'live:final')
    expect(joined.members).toHaveLength(31)
    expect((await parley.room('live:final').members()).length).toBe(31)
  })

  it('refuses an announce that is neither a mode nor a function', async () => {
    await expect(servers.start({ presence: { announce: 'some' as 'all' } })).rejects.toThrow(/presence\.announce/)
  })
})

describe('presence batches (issue 20)', () => {
  it('a room filling with batching clients costs a few frames per member, and every member ends with the whole room', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { batchMs: 30 } })
    const clients: RawClient[] = []
    const frames = { single: 0, batches: 0 }
    // 40 batching clients join 10 at a time; one old-style client (no `batch`) is in the room from the start.
    const old = await connectAs(url, 'aa-old')
    await join(old, 'arena')
    for (let wave = 0; wave < 4; wave++) {
      const wave10 = await Promise.all(Array.from({ length: 10 }, (_, i) => connectAs(url, `fan-${pad(wave * 10 + i)}`)))
      await Promise.all(wave10.map((client) => (client.send({ type: 'join', room: 'arena', id: 'j', batch: true }), client.next('joined'))))
      clients.push(...wave10)
    }
    const everyone = ['aa-old', ...Array.from({ length: 40 }, (_, i) => `fan-${pad(i)}`)].sort()
    const view = (client: RawClient): string[] => {
      const members = new Set((client.received.find((m) => m.type === 'joined') as unknown as { members: Array<{ user: string }> }).members.map((m) => m.user))
      for (const m of client.received) {
        const changes = m.type === 'presence' ? [m] : m.type === 'presences' ? m.events : []
        for (const change of changes) change.event === 'leave' ? members.delete(change.member.user) : members.add(change.member.user)
      }
      return [...members].sort()
    }
    await waitUntil(() => clients.every((client) => view(client).length === 41) && view(old).length === 41, 'every member sees the whole room', 5_000)
    for (const client of [...clients, old]) expect(view(client)).toEqual(everyone)
    for (const client of clients) {
      frames.single += client.received.filter((m) => m.type === 'presence').length
      frames.batches += client.received.filter((m) => m.type === 'presences').length
    }
    // Unbatched, the i-th joiner would be announced to the i already there: 40·41/2 = 820 frames to these clients.
    expect(frames.single).toBe(0)
    expect(frames.batches).toBeLessThan(40 * 4)
    // The old client still gets one `presence` per change.
    expect(old.received.filter((m) => m.type === 'presence').length).toBe(40)
    expect(old.received.filter((m) => m.type === 'presences')).toEqual([])
  })
})

describe('joined snapshots of a large room, encoded once while the first page stands', () => {
  it('each joiner gets the current first page and count: a change in the page shows at once, joins after it only move the count', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { snapshotLimit: 3, announce: 'none' } })
    for (const name of ['a', 'b', 'c', 'd']) await join(await connectAs(url, name), 'big', { presence: { n: 0 } })
    const snapshot = async (name: string) => {
      const joined = await join(await connectAs(url, name), 'big', { presence: { n: 0 } })
      return { members: joined.members.map((m) => `${m.user}:${JSON.stringify(m.presence)}`), count: joined.memberCount }
    }
    // Joins that sort after the page: the same page (served from the kept encoding), the count moving.
    expect(await snapshot('x1')).toEqual({ members: ['a:{"n":0}', 'b:{"n":0}', 'c:{"n":0}'], count: 5 })
    expect(await snapshot('x2')).toEqual({ members: ['a:{"n":0}', 'b:{"n":0}', 'c:{"n":0}'], count: 6 })
    // A member of the page changes its presence: the next joiner sees it.
    const b = await connectAs(url, 'b')
    await join(b, 'big', { presence: { n: 7 } })
    expect(await snapshot('x3')).toEqual({ members: ['a:{"n":0}', 'b:{"n":7}', 'c:{"n":0}'], count: 7 })
    // A user who sorts first joins: the page moves.
    expect(await snapshot('0first')).toEqual({ members: ['0first:{"n":0}', 'a:{"n":0}', 'b:{"n":7}'], count: 8 })
  })

  it('a kept page with multi-byte text reaches later joiners intact (the frame is sized from its parts)', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { snapshotLimit: 2, announce: 'none' } })
    for (const name of ['a', 'b', 'c']) await join(await connectAs(url, name), 'wide', { presence: { name: `é€😀 ${name}` } })
    for (const name of ['x1', 'x2']) {
      const joined = await join(await connectAs(url, name), 'wide', { id: 'j', presence: { name: 'ü' } })
      expect(joined.members.map((m) => m.presence)).toEqual([{ name: 'é€😀 a' }, { name: 'é€😀 b' }])
      expect([joined.memberCount, joined.id]).toEqual([name === 'x1' ? 4 : 5, 'j'])
    }
  })
})

describe('presence told as counts in a large room (issue 20)', () => {
  /** What a raw client makes of the room's size: joined's count, moved by every change and every count it was told. */
  const countOf = (client: RawClient): number => {
    const joined = client.received.find((m) => m.type === 'joined') as unknown as { members: unknown[]; memberCount?: number }
    let n = joined.memberCount ?? joined.members.length
    for (const m of client.received) {
      if (m.type !== 'presence' && m.type !== 'presences') continue
      for (const change of m.type === 'presence' ? [m] : m.events) n += change.event === 'join' ? 1 : change.event === 'leave' ? -1 : 0
      if (m.type === 'presences' && m.omitted !== undefined) n += m.omitted.join - m.omitted.leave
    }
    return n
  }

  it('past presence.countAbove batching members get counts, not who; each count ends exact; unbatched members still get each change', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { batchMs: 20, countAbove: 5 } })
    const sdk = createClient(url, { token: 'aa-sdk', reconnect: false })
    const counts: number[] = []
    try {
      const room = sdk.join('hall')
      room.on('count', (event) => counts.push(event.memberCount))
      await new Promise<void>((resolve) => room.on('joined', () => resolve()))
      const old = await connectAs(url, 'ab-old')
      await join(old, 'hall')
      const clients: RawClient[] = []
      for (let i = 0; i < 12; i++) {
        const client = await connectAs(url, `fan-${pad(i)}`)
        client.send({ type: 'join', room: 'hall', id: 'j', batch: true })
        await client.next('joined')
        clients.push(client)
      }
      clients[0]!.send({ type: 'leave', room: 'hall', id: 'l' })
      await clients[0]!.next('left')
      // 2 + 12 - 1 members; the last window is flushed 20 ms after the leave.
      await waitUntil(() => clients.slice(1).every((client) => countOf(client) === 13) && countOf(old) === 13 && room.memberCount === 13, 'every count is 13', 5_000)
      // Batching members were told counts once the room passed 5: the 11th joiner's announcement was a count, and
      // no batch lists anyone once counting (events is empty in every frame that counts).
      const batches = clients[1]!.received.filter((m) => m.type === 'presences')
      expect(batches.some((m) => m.type === 'presences' && m.omitted !== undefined && m.omitted.join > 0)).toBe(true)
      expect(batches.every((m) => m.type === 'presences' && (m.omitted === undefined || m.events.length === 0))).toBe(true)
      expect(clients[1]!.received.filter((m) => m.type === 'presences' && m.omitted !== undefined && m.omitted.leave === 1)).toHaveLength(1)
      // The old client (no batch) got each join and the leave, by name.
      expect(old.received.filter((m) => m.type === 'presence').map((m) => (m.type === 'presence' ? `${m.event}:${m.member.user}` : ''))).toEqual([
        ...Array.from({ length: 12 }, (_, i) => `join:fan-${pad(i)}`),
        'leave:fan-000',
      ])
      // The SDK kept memberCount with the counts and said so; its list holds those it was told of by name.
      expect(counts.at(-1)).toBe(13)
      expect(room.members().length).toBeLessThan(13)
    } finally {
      await sdk.close()
    }
  })

  it("announce 'count' counts from the first member on; countAbove: false never counts", async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { batchMs: 10, announce: (room) => (room === 'quiet' ? 'count' : 'all'), countAbove: false } })
    const watcher = await connectAs(url, 'aa-watch')
    watcher.send({ type: 'join', room: 'quiet', id: 'q', batch: true })
    await watcher.next('joined')
    watcher.send({ type: 'join', room: 'loud', id: 'l', batch: true })
    await watcher.next('joined')
    for (let i = 0; i < 3; i++) {
      const client = await connectAs(url, `m-${i}`)
      await join(client, 'quiet')
      await join(client, 'loud')
    }
    const batches = (room: string) => watcher.received.filter((m) => m.type === 'presences' && m.room === room) as Array<Extract<(typeof watcher.received)[number], { type: 'presences' }>>
    const counted = (): number => batches('quiet').reduce((sum, m) => sum + (m.omitted?.join ?? 0), 0)
    const named = (): number => batches('loud').reduce((sum, m) => sum + m.events.filter((e) => e.event === 'join').length, 0)
    await waitUntil(() => counted() === 3 && named() === 3, 'three joins counted in quiet and named in loud', 3_000)
    expect(batches('quiet').every((m) => m.events.length === 0 && m.omitted !== undefined)).toBe(true)
    expect(batches('loud').every((m) => m.omitted === undefined && m.events.length > 0)).toBe(true)
  })

  it('refuses a countAbove that is neither a positive integer nor false', async () => {
    for (const countAbove of [0, -1, 1.5, 'many', true]) {
      await expect(servers.start({ presence: { countAbove } as never })).rejects.toThrow(/presence\.countAbove/)
    }
  })
})

describe('presence batches keep causal order', () => {
  it('a member who joins and speaks at once is announced before its message, well inside the batch window', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { batchMs: 5_000 } })
    const bot = await connectAs(url, 'bot')
    bot.send({ type: 'join', room: 'help', id: 'j', batch: true })
    await bot.next('joined')
    const asker = await connectAs(url, 'asker')
    await join(asker, 'help')
    asker.send({ type: 'publish', room: 'help', data: '/who', id: 'p1' })
    const message = await bot.next('message')
    const before = bot.received.slice(0, bot.received.indexOf(message))
    // Far less than the 5 s window: the batch went out with the message, first.
    expect(before.filter((m) => m.type === 'presences').flatMap((m) => (m.type === 'presences' ? m.events.map((e) => `${e.event} ${e.member.user}`) : []))).toEqual(['join asker'])
  })
})
