import type { PresenceMember } from '@parley/protocol'
import { createMemoryAdapter, type Adapter } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import { all, connectAs, join, sleep, tokenAuth, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()

/**
 * The memory adapter with a hold on the next presence snapshot: the test decides whether the snapshot is read before
 * or after other users' presence changes land, as happens across nodes of a cluster adapter. Like a cluster adapter
 * it lists the room through `members()` (an asynchronous read), so its `memberSnapshot` is taken away.
 */
function snapshotHoldingAdapter(): { adapter: Adapter; hold(order: 'read-then-wait' | 'wait-then-read'): { reached: Promise<void>; release(): void } } {
  let next: { order: 'read-then-wait' | 'wait-then-read'; reached: () => void; released: Promise<void> } | undefined
  const inner = createMemoryAdapter()
  const adapter: Adapter = {
    async connect(hooks, config) {
      const node = await inner.connect(hooks, config)
      // An own property over the class's method: this node has no snapshot of its own, as a cluster adapter.
      Object.defineProperty(node, 'memberSnapshot', { value: undefined })
      const members = node.members.bind(node)
      node.members = async (room: string): Promise<PresenceMember[]> => {
        const held = next
        next = undefined
        if (held === undefined) return members(room)
        if (held.order === 'wait-then-read') {
          held.reached()
          await held.released
          return members(room)
        }
        const snapshot = await members(room)
        held.reached()
        await held.released
        return snapshot
      }
      return node
    },
  }
  return {
    adapter,
    hold(order) {
      let reached!: () => void
      let release!: () => void
      const reachedPromise = new Promise<void>((resolve) => (reached = resolve))
      const released = new Promise<void>((resolve) => (release = resolve))
      next = { order, reached, released }
      return { reached: reachedPromise, release }
    },
  }
}

const users = (members: readonly PresenceMember[]): string[] => members.map((m) => m.user).sort()

describe('presence changes while a join is answered', () => {
  it('a change the snapshot missed follows joined, so the joiner ends with the room as it is', async () => {
    const { adapter, hold } = snapshotHoldingAdapter()
    const { url } = await servers.start({ authenticate: tokenAuth, adapter })
    const bob = await connectAs(url, 'bob')
    await join(bob, 'lobby')
    const alice = await connectAs(url, 'alice')
    const held = hold('read-then-wait')
    const aliceJoined = join(alice, 'lobby')
    await held.reached // alice's snapshot is read: alice and bob
    const carol = await connectAs(url, 'carol')
    await join(carol, 'lobby') // carol's join is announced while alice's join is still being answered
    await waitUntil(() => all(bob, 'presence').some((p) => p.member.user === 'carol'), 'bob heard carol')
    held.release()
    const joined = await aliceJoined
    expect(users(joined.members)).toEqual(['alice', 'bob'])
    const after = await alice.next('presence')
    expect(after).toMatchObject({ room: 'lobby', event: 'join', member: { user: 'carol' } })
    expect(await alice.quiet(50)).toEqual([])
  })

  it('a change the snapshot already shows is not repeated, nor is the joiner told of its own join', async () => {
    const { adapter, hold } = snapshotHoldingAdapter()
    const { url } = await servers.start({ authenticate: tokenAuth, adapter })
    const bob = await connectAs(url, 'bob')
    await join(bob, 'lobby')
    const alice = await connectAs(url, 'alice')
    const held = hold('wait-then-read')
    const aliceJoined = join(alice, 'lobby')
    await held.reached // alice's presence entry is in; the snapshot is not read yet
    const carol = await connectAs(url, 'carol')
    await join(carol, 'lobby', { presence: { status: 'here' } })
    held.release()
    const joined = await aliceJoined
    expect(users(joined.members)).toEqual(['alice', 'bob', 'carol'])
    expect(await alice.quiet(50)).toEqual([])
  })

  it('a user who joins and leaves again during the window is neither in the snapshot nor announced', async () => {
    const { adapter, hold } = snapshotHoldingAdapter()
    const { url } = await servers.start({ authenticate: tokenAuth, adapter })
    const alice = await connectAs(url, 'alice')
    const held = hold('wait-then-read')
    const aliceJoined = join(alice, 'lobby')
    await held.reached
    const carol = await connectAs(url, 'carol')
    await join(carol, 'lobby')
    carol.send({ type: 'leave', room: 'lobby', id: 'l' })
    await carol.next('left')
    await sleep(10)
    held.release()
    const joined = await aliceJoined
    expect(users(joined.members)).toEqual(['alice'])
    expect(await alice.quiet(50)).toEqual([])
  })

  it('a presence update the snapshot missed follows joined with the new metadata', async () => {
    const { adapter, hold } = snapshotHoldingAdapter()
    const { url } = await servers.start({ authenticate: tokenAuth, adapter })
    const bob = await connectAs(url, 'bob')
    await join(bob, 'lobby', { presence: { status: 'away' } })
    const alice = await connectAs(url, 'alice')
    const held = hold('read-then-wait')
    const aliceJoined = join(alice, 'lobby')
    await held.reached
    bob.send({ type: 'presence-update', room: 'lobby', presence: { status: 'back' }, id: 'u' })
    await bob.next('ack')
    held.release()
    const joined = await aliceJoined
    expect(joined.members.find((m) => m.user === 'bob')?.presence).toEqual({ status: 'away' })
    expect(await alice.next('presence')).toMatchObject({ event: 'update', member: { user: 'bob', presence: { status: 'back' } } })
  })
})

/**
 * The memory adapter answers a join's snapshot at once (`memberSnapshot`): changes held before it are in it, changes
 * held after it (here while the join's `resume` is held) cannot be, and must follow `joined`.
 */
function resumeHoldingAdapter(): { adapter: Adapter; hold(): { reached: Promise<void>; release(): void } } {
  let next: { reached: () => void; released: Promise<void> } | undefined
  const inner = createMemoryAdapter()
  const adapter: Adapter = {
    async connect(hooks, config) {
      const node = await inner.connect(hooks, config)
      expect(node.memberSnapshot).toBeTypeOf('function')
      const resume = node.resume.bind(node)
      node.resume = async (room, from) => {
        const held = next
        next = undefined
        if (held !== undefined) {
          held.reached()
          await held.released
        }
        return resume(room, from)
      }
      return node
    },
  }
  return {
    adapter,
    hold() {
      let reached!: () => void
      let release!: () => void
      const reachedPromise = new Promise<void>((resolve) => (reached = resolve))
      const released = new Promise<void>((resolve) => (release = resolve))
      next = { reached, released }
      return { reached: reachedPromise, release }
    },
  }
}

describe('presence changes while a join is answered, with a snapshot taken at once (memory adapter)', () => {
  it('a change after the snapshot follows joined; one before it is in the snapshot and not repeated', async () => {
    let letAliceIn: () => void = () => undefined
    const aliceMayJoin = new Promise<void>((resolve) => (letAliceIn = resolve))
    const { adapter, hold } = resumeHoldingAdapter()
    const { url } = await servers.start({
      authenticate: tokenAuth,
      adapter,
      // Alice's join waits here: what happens meanwhile is held, and lands before her snapshot.
      authorize: async ({ user }) => {
        if (user.id === 'alice') await aliceMayJoin
        return true
      },
    })
    const bob = await connectAs(url, 'bob')
    await join(bob, 'lobby')
    const alice = await connectAs(url, 'alice')
    const aliceJoined = join(alice, 'lobby')
    await sleep(20)
    const carol = await connectAs(url, 'carol')
    await join(carol, 'lobby') // before alice's snapshot
    const held = hold()
    letAliceIn()
    await held.reached // alice's snapshot is taken; her resume waits
    const dave = await connectAs(url, 'dave')
    await join(dave, 'lobby') // after alice's snapshot
    await waitUntil(() => all(bob, 'presence').some((p) => p.member.user === 'dave'), 'bob heard dave')
    held.release()
    const joined = await aliceJoined
    expect(users(joined.members)).toEqual(['alice', 'bob', 'carol'])
    expect(await alice.next('presence')).toMatchObject({ room: 'lobby', event: 'join', member: { user: 'dave' } })
    expect(await alice.quiet(50)).toEqual([])
  })

  it('a leave after the snapshot of a member it lists follows joined; the count of a large room is kept', async () => {
    const { adapter, hold } = resumeHoldingAdapter()
    const { url } = await servers.start({ authenticate: tokenAuth, adapter, presence: { snapshotLimit: 2 } })
    const others = []
    for (const name of ['erin', 'bob', 'dave', 'carol']) {
      const client = await connectAs(url, name)
      await join(client, 'lobby')
      others.push(client)
    }
    const alice = await connectAs(url, 'alice')
    const held = hold()
    const aliceJoined = join(alice, 'lobby')
    await held.reached
    const bob = others[1]!
    bob.send({ type: 'leave', room: 'lobby', id: 'l' })
    await bob.next('left')
    await sleep(20)
    held.release()
    const joined = await aliceJoined
    // Five members when the snapshot was taken, the first two by user id listed.
    expect(joined.members.map((m) => m.user)).toEqual(['alice', 'bob'])
    expect(joined.memberCount).toBe(5)
    expect(await alice.next('presence')).toMatchObject({ event: 'leave', member: { user: 'bob' } })
  })
})

describe('presence changes held during a join reach a member that asked for batches as one batch (issue 20)', () => {
  it('named in a small room: one presences frame with every change after the snapshot, in order', async () => {
    const { adapter, hold } = resumeHoldingAdapter()
    const { url } = await servers.start({ authenticate: tokenAuth, adapter })
    const bob = await connectAs(url, 'bob')
    await join(bob, 'lobby')
    const alice = await connectAs(url, 'alice')
    const held = hold()
    const aliceJoined = join(alice, 'lobby', { batch: true })
    await held.reached
    // After alice's snapshot: three join, and bob leaves and comes back (both changes count for a counting client).
    for (const name of ['carol', 'dave', 'erin']) await join(await connectAs(url, name), 'lobby')
    bob.send({ type: 'leave', room: 'lobby', id: 'l' })
    await bob.next('left')
    await join(bob, 'lobby')
    held.release()
    const joined = await aliceJoined
    expect(users(joined.members)).toEqual(['alice', 'bob'])
    const batch = await alice.next('presences')
    expect(batch.events.map((change) => `${change.event} ${change.member.user}`)).toEqual(['join carol', 'join dave', 'join erin', 'leave bob', 'join bob'])
    expect(await alice.quiet(50)).toEqual([])
  })

  it('counted in a large room: one presences frame with the counts, which add up to the room', async () => {
    const { adapter, hold } = resumeHoldingAdapter()
    const { url } = await servers.start({ authenticate: tokenAuth, adapter, presence: { snapshotLimit: 2 } })
    const residents = []
    for (const name of ['bob', 'carol', 'dave']) residents.push(await connectAs(url, name))
    for (const client of residents) await join(client, 'lobby')
    const alice = await connectAs(url, 'alice')
    const held = hold()
    const aliceJoined = join(alice, 'lobby', { batch: true })
    await held.reached
    for (const name of ['erin', 'frank', 'gina', 'hal']) await join(await connectAs(url, name), 'lobby')
    const carol = residents[1]!
    carol.send({ type: 'leave', room: 'lobby', id: 'l' })
    await carol.next('left')
    held.release()
    const joined = await aliceJoined
    expect(joined.memberCount).toBe(4)
    const batch = await alice.next('presences')
    expect(batch).toMatchObject({ events: [], omitted: { join: 4, leave: 1, update: 0 } })
    expect(await alice.quiet(50)).toEqual([])
    // What alice counts is the room: a later joiner is told the same, itself aside.
    const probe = await join(await connectAs(url, 'zed'), 'lobby')
    expect((probe.memberCount ?? 0) - 1).toBe((joined.memberCount ?? 0) + batch.omitted!.join - batch.omitted!.leave)
  })
})

describe("a node's member count stays exact while several joins of one room are answered at once (issue 20)", () => {
  it('two overlapping joins on a node new to the room do not add up their corrections (the room stays named)', async () => {
    const inner = createMemoryAdapter()
    // Node A's resumes wait at a gate, so both joins there have their snapshots taken before either is answered.
    let opened!: () => void
    const gate = new Promise<void>((resolve) => (opened = resolve))
    let waiting = 0
    const holdingA: Adapter = {
      async connect(hooks, config) {
        const node = await inner.connect(hooks, config)
        const resume = node.resume.bind(node)
        node.resume = async (room, from) => {
          waiting++
          await gate
          return resume(room, from)
        }
        return node
      },
    }
    const b = await servers.start({ authenticate: tokenAuth, adapter: inner })
    const a = await servers.start({ authenticate: tokenAuth, adapter: holdingA })
    // 60 members on node B: under presence.countAbove (100), so the room's batches name who came and went.
    for (let i = 0; i < 60; i++) await join(await connectAs(b.url, `resident-${String(i).padStart(2, '0')}`), 'hall', { batch: true })
    const alice = await connectAs(a.url, 'alice')
    const bob = await connectAs(a.url, 'bob')
    const joins = [join(alice, 'hall', { batch: true }), join(bob, 'hall', { batch: true })]
    await waitUntil(() => waiting === 2, 'both joins on node A wait for their resume')
    opened()
    const [aliceJoined] = await Promise.all(joins)
    expect(aliceJoined?.members.length).toBeGreaterThanOrEqual(61)
    // A newcomer: node A counts 63 members, so alice hears who joined, not a count.
    await join(await connectAs(b.url, 'zed'), 'hall', { batch: true })
    const batch = await alice.next('presences')
    expect(batch.omitted).toBeUndefined()
    expect(batch.events.map((change) => `${change.event} ${change.member.user}`)).toContain('join zed')
  })
})
