import { describe, expect, it } from 'vitest'
import { all, connectAs, join, sleep, tokenAuth, useServers, waitUntil } from './helpers/harness.js'
import type { RawClient } from './helpers/raw-client.js'

const servers = useServers()

const presenceOf = (client: RawClient, user: string) => all(client, 'presence', 'lobby').filter((p) => p.member.user === user)

describe('presence', () => {
  it('counts a user with three connections as one member', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const observer = await connectAs(url, 'olga')
    await join(observer, 'lobby')
    const tabs = [await connectAs(url, 'alice'), await connectAs(url, 'alice'), await connectAs(url, 'alice')]
    const snapshots: Array<Awaited<ReturnType<typeof join>>> = []
    for (const tab of tabs) snapshots.push(await join(tab, 'lobby', { presence: { status: 'online' } }))
    const alice = (index: number) => snapshots[index]!.members.find((m) => m.user === 'alice')
    expect(alice(0)).toEqual({ user: 'alice', presence: { status: 'online' }, connections: 1 })
    expect(alice(2)).toEqual({ user: 'alice', presence: { status: 'online' }, connections: 3 })
    expect(snapshots[2]!.members).toHaveLength(2)
    expect(await parley.room('lobby').members()).toContainEqual({ user: 'alice', presence: { status: 'online' }, connections: 3 })
    expect(await parley.rooms()).toEqual([{ room: 'lobby', members: 2 }])
    await observer.quiet(50)
    // One join for the first connection; the second and third are not announced.
    expect(presenceOf(observer, 'alice').map((p) => p.event)).toEqual(['join'])
    expect(presenceOf(observer, 'alice')[0]!.member.connections).toBe(1)
  })

  it('announces leave only after the last connection has gone', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { graceMs: 5_000 } })
    const observer = await connectAs(url, 'olga')
    await join(observer, 'lobby')
    const tabs = [await connectAs(url, 'alice'), await connectAs(url, 'alice'), await connectAs(url, 'alice')]
    for (const tab of tabs) await join(tab, 'lobby')
    tabs[0]!.close()
    tabs[1]!.send({ type: 'leave', room: 'lobby' })
    await tabs[1]!.next('left')
    await tabs[0]!.closed
    await observer.quiet(100)
    expect(presenceOf(observer, 'alice').map((p) => p.event)).toEqual(['join'])
    tabs[2]!.close(1000)
    await waitUntil(() => presenceOf(observer, 'alice').length === 2, 'the leave reached the observer', 1_000)
    expect(presenceOf(observer, 'alice').map((p) => p.event)).toEqual(['join', 'leave'])
    expect(presenceOf(observer, 'alice')[1]!.member).toMatchObject({ user: 'alice', connections: 0 })
  })

  it('announces the leave of an abruptly disconnected user only after the grace period', async () => {
    const graceMs = 300
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { graceMs } })
    const observer = await connectAs(url, 'olga')
    await join(observer, 'lobby')
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    await waitUntil(() => presenceOf(observer, 'alice').length === 1, 'the join reached the observer')
    const cutAt = Date.now()
    alice.ws.terminate()
    await alice.closed
    await sleep(graceMs - 100)
    expect(presenceOf(observer, 'alice').map((p) => p.event)).toEqual(['join'])
    await waitUntil(() => presenceOf(observer, 'alice').length === 2, 'the leave reached the observer', 2_000)
    const elapsed = Date.now() - cutAt
    expect(presenceOf(observer, 'alice')[1]).toMatchObject({ event: 'leave', member: { user: 'alice' } })
    expect(elapsed).toBeGreaterThanOrEqual(graceMs - 20)
    expect(elapsed).toBeLessThan(graceMs + 500)
  })

  it('a reconnect and rejoin within the grace period produces neither leave nor join', async () => {
    const graceMs = 300
    const { url, parley } = await servers.start({ authenticate: tokenAuth, presence: { graceMs } })
    const observer = await connectAs(url, 'olga')
    await join(observer, 'lobby')
    const first = await connectAs(url, 'alice')
    await join(first, 'lobby')
    await waitUntil(() => presenceOf(observer, 'alice').length === 1, 'the join reached the observer')
    first.ws.terminate()
    await first.closed
    const second = await connectAs(url, 'alice')
    const rejoined = await join(second, 'lobby')
    expect(rejoined.members.map((m) => m.user).sort()).toEqual(['alice', 'olga'])
    // Wait well past the grace period of the dropped connection.
    await sleep(graceMs + 200)
    expect(presenceOf(observer, 'alice').map((p) => p.event)).toEqual(['join'])
    // Alice is still a member, now with the one live connection.
    expect(await parley.room('lobby').members()).toContainEqual({ user: 'alice', presence: null, connections: 1 })
    second.close(1000)
    await waitUntil(() => presenceOf(observer, 'alice').length === 2, 'the leave after the clean close', 1_000)
    expect(presenceOf(observer, 'alice')[1]!.event).toBe('leave')
  })

  it('a clean leave or a close(1000) leaves at once, without waiting for the grace period', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, presence: { graceMs: 10_000 } })
    const observer = await connectAs(url, 'olga')
    await join(observer, 'lobby')
    const alice = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    await join(alice, 'lobby')
    await join(bob, 'lobby')
    alice.send({ type: 'leave', room: 'lobby' })
    await waitUntil(() => presenceOf(observer, 'alice').length === 2, 'alice left', 1_000)
    bob.close(1000)
    await waitUntil(() => presenceOf(observer, 'bob').length === 2, 'bob left', 1_000)
    expect(presenceOf(observer, 'alice').map((p) => p.event)).toEqual(['join', 'leave'])
    expect(presenceOf(observer, 'bob').map((p) => p.event)).toEqual(['join', 'leave'])
  })

  it('presence-update sends update events to the room and acks with the id', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const observer = await connectAs(url, 'olga')
    await join(observer, 'lobby')
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby', { presence: { status: 'online' } })
    alice.send({ type: 'presence-update', room: 'lobby', id: 'pu-1', presence: { status: 'away' } })
    expect(await alice.next('ack')).toEqual({ type: 'ack', id: 'pu-1', room: 'lobby' })
    await waitUntil(() => presenceOf(observer, 'alice').length === 2, 'the update reached the observer')
    expect(presenceOf(observer, 'alice')[1]).toEqual({
      type: 'presence',
      room: 'lobby',
      event: 'update',
      member: { user: 'alice', presence: { status: 'away' }, connections: 1 },
    })
    expect(await parley.room('lobby').members()).toContainEqual({ user: 'alice', presence: { status: 'away' }, connections: 1 })
    // A late joiner's snapshot carries the updated metadata.
    const late = await connectAs(url, 'lena')
    const snapshot = await join(late, 'lobby')
    expect(snapshot.members.find((m) => m.user === 'alice')).toEqual({ user: 'alice', presence: { status: 'away' }, connections: 1 })
  })

  it('presence-update in a room not joined is refused with NOT_JOINED and the id', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth })
    const alice = await connectAs(url, 'alice')
    alice.send({ type: 'presence-update', room: 'lobby', id: 'pu-x', presence: 1 })
    expect(await alice.next('error')).toMatchObject({ code: 'NOT_JOINED', id: 'pu-x', room: 'lobby' })
  })

  it('joined.members is the snapshot, the joining user included, with everyone\'s presence', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth })
    const alice = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    const first = await join(alice, 'lobby', { presence: { name: 'Alice' } })
    expect(first.members).toEqual([{ user: 'alice', presence: { name: 'Alice' }, connections: 1 }])
    const second = await join(bob, 'lobby')
    expect([...second.members].sort((x, y) => x.user.localeCompare(y.user))).toEqual([
      { user: 'alice', presence: { name: 'Alice' }, connections: 1 },
      { user: 'bob', presence: null, connections: 1 },
    ])
    // Alice hears of bob's join; bob is not told of his own.
    await waitUntil(() => presenceOf(alice, 'bob').length === 1, 'alice heard bob join')
    expect(presenceOf(alice, 'bob')[0]).toMatchObject({ event: 'join', member: { user: 'bob', presence: null, connections: 1 } })
    expect(await bob.quiet(50)).toEqual([])
    expect(all(bob, 'presence')).toEqual([])
  })
})
