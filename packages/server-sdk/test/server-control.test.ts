import { CloseCode, type ServerMessage } from '@parley/protocol'
import { createParley, ParleyServerError, type Parley, type ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { Resources, until } from './helpers/fixtures.js'
import { openLoopback, type LoopbackClient } from './helpers/loopback-client.js'

// Acting on users and rooms from the server: remove from a room (protocol §7.3's unprompted `left` with a reason),
// disconnect, server-side join and leave, broadcast, members and history. Over the loopback transport, one node; the
// cluster-wide paths are in redis-adapter/test/server-control.test.ts.

const resources = new Resources()
afterEach(() => resources.dispose())

const byToken: NonNullable<ServerOptions['authenticate']> = ({ token }) => (token === undefined ? null : { id: token })

async function hub(options: ServerOptions = {}): Promise<Parley> {
  const parley = resources.add(createParley({ authenticate: byToken, presence: { graceMs: 0 }, ...options }), (p) => p.close())
  await parley.ready
  return parley
}

async function tab(parley: Parley, user: string, rooms: readonly string[] = []): Promise<LoopbackClient> {
  const client = await openLoopback(parley, { token: user }, rooms)
  resources.add(client.peer, (p) => p.close())
  return client
}

const ofType = <T extends ServerMessage['type']>(client: LoopbackClient, type: T) =>
  client.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type)

describe('room(name).remove()', () => {
  it("takes every tab of the user out with left + reason, announces one leave, and sends nothing of the room after", async () => {
    let asked = 0
    const parley = await hub({ authorize: ({ action }) => (action === 'join' ? (asked++, true) : true) })
    const alice = await tab(parley, 'alice', ['lobby'])
    const bob1 = await tab(parley, 'bob', ['lobby'])
    const bob2 = await tab(parley, 'bob', ['lobby'])
    await alice.next('presence')
    const joinsAsked = asked
    const report = await parley.room('lobby').remove('bob', { reason: 'kicked' })
    expect(report).toMatchObject({ sessions: 2, missing: [] })
    expect(report.nodes).toHaveLength(1)
    for (const bob of [bob1, bob2]) expect(await bob.next('left')).toEqual({ type: 'left', room: 'lobby', reason: 'kicked' })
    expect(await alice.next('presence')).toMatchObject({ event: 'leave', member: { user: 'bob' } })
    await parley.room('lobby').publish({ after: true })
    expect((await alice.next('message')).data).toEqual({ after: true })
    await new Promise((resolve) => setTimeout(resolve, 50))
    for (const bob of [bob1, bob2]) expect(ofType(bob, 'message')).toEqual([])
    expect(ofType(alice, 'presence').filter((p) => p.event === 'leave')).toHaveLength(1)
    expect((await parley.room('lobby').members()).map((m) => m.user)).toEqual(['alice'])
    // A join of bob's own goes through authorize again.
    bob1.send({ type: 'join', room: 'lobby', id: 'back' })
    expect(await bob1.next('joined')).toMatchObject({ id: 'back' })
    expect(asked).toBe(joinsAsked + 1)
  })

  it('after a revoked permission, the removed member gets no later message of the room, and cannot rejoin', async () => {
    const allowed = new Set(['alice', 'bob'])
    const parley = await hub({ authorize: ({ user }) => allowed.has(user.id) })
    const alice = await tab(parley, 'alice', ['secret'])
    const bob = await tab(parley, 'bob', ['secret'])
    allowed.delete('bob')
    await parley.room('secret').remove('bob', { reason: 'forbidden' })
    expect(await bob.next('left')).toMatchObject({ room: 'secret', reason: 'forbidden' })
    for (let i = 0; i < 5; i++) await parley.room('secret').publish({ i })
    alice.send({ type: 'publish', room: 'secret', data: { from: 'alice' } })
    bob.send({ type: 'join', room: 'secret', id: 'again' })
    expect(await bob.next('error')).toMatchObject({ code: 'FORBIDDEN', id: 'again' })
    await until(() => ofType(alice, 'message').length === 6, 2_000, 'alice to get all six')
    expect(ofType(bob, 'message')).toEqual([])
  })

  it('answers 0 sessions (not an error) for a user not in the room, or unknown', async () => {
    const parley = await hub()
    await tab(parley, 'alice', ['lobby'])
    expect(await parley.room('lobby').remove('nobody')).toMatchObject({ sessions: 0, missing: [] })
    expect(await parley.room('empty-room').remove('alice')).toMatchObject({ sessions: 0 })
  })
})

describe('user(id).disconnect(), join(), leave() and broadcast()', () => {
  it('disconnects every session of the user with the code and reason given, and only those', async () => {
    const parley = await hub()
    const bob1 = await tab(parley, 'bob')
    const bob2 = await tab(parley, 'bob')
    const carol = await tab(parley, 'carol')
    expect(await parley.user('bob').disconnect({ code: 4001, reason: 'banned' })).toMatchObject({ sessions: 2 })
    for (const bob of [bob1, bob2]) expect(await bob.closed).toEqual({ code: 4001, reason: 'banned' })
    expect(await parley.user('bob').disconnect()).toMatchObject({ sessions: 0 })
    carol.send({ type: 'ping', id: 'still' })
    expect(await carol.next('pong')).toMatchObject({ id: 'still' })
  })

  it('defaults to 4403 (final for clients), and refuses codes an app may not send', async () => {
    const parley = await hub()
    const bob = await tab(parley, 'bob')
    await parley.user('bob').disconnect()
    expect((await bob.closed).code).toBe(CloseCode.Forbidden)
    for (const code of [1006, 1011, 3000, 5000, 4000.5]) {
      await expect(parley.user('bob').disconnect({ code })).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    }
    await expect(parley.user('not a valid id!').disconnect()).rejects.toBeInstanceOf(ParleyServerError)
    await expect(parley.room('bad room').remove('bob')).rejects.toMatchObject({ code: 'INVALID_FIELD' })
  })

  it('joins every session of the user to a room without authorize: an unprompted joined, then live messages and presence', async () => {
    const parley = await hub({ authorize: ({ room }) => room !== 'staff' })
    const alice = await tab(parley, 'alice')
    const bob = await tab(parley, 'bob', ['lobby'])
    // alice could not join 'staff' herself; the server puts her in.
    const report = await parley.user('alice').join('staff')
    expect(report).toMatchObject({ sessions: 1 })
    const joined = await alice.next('joined')
    expect(joined).toMatchObject({ room: 'staff', seq: 0, recovery: null, members: [{ user: 'alice' }] })
    expect(joined.id).toBeUndefined()
    await parley.room('staff').publish({ memo: 1 })
    expect(await alice.next('message')).toMatchObject({ room: 'staff', data: { memo: 1 } })
    // Twice is a no-op; a user with no sessions is 0.
    expect(await parley.user('alice').join('staff')).toMatchObject({ sessions: 0 })
    expect(await parley.user('ghost').join('staff')).toMatchObject({ sessions: 0 })
    expect(await parley.user('alice').leave('staff')).toMatchObject({ sessions: 1 })
    expect(await alice.next('left')).toMatchObject({ room: 'staff', reason: 'unsubscribed' })
    expect(ofType(bob, 'message')).toEqual([])
  })

  it('broadcasts a direct message to every authenticated session', async () => {
    const parley = await hub()
    const tabs = [await tab(parley, 'a'), await tab(parley, 'b'), await tab(parley, 'c', ['x'])]
    expect(await parley.broadcast({ notice: 'maintenance' })).toMatchObject({ sessions: 3 })
    for (const client of tabs) expect(await client.next('direct')).toMatchObject({ from: null, data: { notice: 'maintenance' } })
    await expect(parley.broadcast({ bad: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_FIELD' })
  })
})

describe('room(name).history()', () => {
  it('pages back through the kept messages, oldest first, and checks before and limit', async () => {
    const parley = await hub({ history: { size: 100 } })
    for (let i = 1; i <= 30; i++) await parley.room('log').publish({ i })
    const last = await parley.room('log').history({ limit: 10 })
    expect(last.messages.map((m) => m.seq)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30])
    expect(last.more).toBe(true)
    const before = await parley.room('log').history({ before: 21, limit: 10 })
    expect(before.messages.map((m) => m.seq)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
    const first = await parley.room('log').history({ before: { epoch: last.messages[0]?.epoch ?? '', seq: 3 } })
    expect(first.messages.map((m) => m.seq)).toEqual([1, 2])
    expect(first.more).toBe(false)
    expect(await parley.room('unknown').history()).toEqual({ messages: [], more: false, gaps: [] })
    // Without a history store there is nothing before the current epoch.
    await expect(parley.room('log').history({ before: { epoch: 'other', seq: 3 } })).rejects.toMatchObject({ code: 'HISTORY_CURSOR_INVALID' })
    for (const options of [{ limit: 0 }, { limit: 501 }, { limit: 1.5 }, { before: 0 }, { before: -3 }]) {
      await expect(parley.room('log').history(options)).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    }
  })
})
