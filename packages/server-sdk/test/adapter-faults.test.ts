import { describe, expect, it } from 'vitest'
import { faultyAdapter } from './helpers/faulty-adapter.js'
import { all, connectAs, join, tokenAuth, useServers } from './helpers/harness.js'

const servers = useServers()

describe('adapter faults during a join', () => {
  it('a join the adapter fails half-way is undone: error to the client, no membership left buffering, a retry works', async () => {
    const { adapter, faults: { fail } } = faultyAdapter()
    const { url, parley } = await servers.start({ authenticate: tokenAuth, adapter })
    const alice = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    await join(bob, 'lobby')
    fail.add('presenceJoin')
    alice.send({ type: 'join', room: 'lobby', id: 'j1' })
    expect(await alice.next('error')).toMatchObject({ code: 'TRY_AGAIN_LATER', id: 'j1' })
    const aliceSession = parley.sessions().find((s) => s.user.id === 'alice')
    expect(aliceSession?.rooms.size).toBe(0)
    fail.clear()
    // Traffic meanwhile is not buffered for alice, and not delivered to her.
    bob.send({ type: 'publish', room: 'lobby', id: 'p', data: 'while-out' })
    await bob.next('ack')
    expect(await alice.quiet(50)).toEqual([])
    const joined = await join(alice, 'lobby')
    expect(joined.members.map((m) => m.user).sort()).toEqual(['alice', 'bob'])
    bob.send({ type: 'publish', room: 'lobby', data: 'after' })
    expect(await alice.next('message')).toMatchObject({ data: 'after' })
  })

  it('a failed subscription is not remembered: the next join of that room subscribes again', async () => {
    const { adapter, faults: { fail } } = faultyAdapter()
    const { url } = await servers.start({ authenticate: tokenAuth, adapter })
    const alice = await connectAs(url, 'alice')
    fail.add('subscribe')
    alice.send({ type: 'join', room: 'lobby', id: 'j1' })
    expect(await alice.next('error')).toMatchObject({ code: 'TRY_AGAIN_LATER', id: 'j1' })
    fail.clear()
    await join(alice, 'lobby')
    const bob = await connectAs(url, 'bob')
    await join(bob, 'lobby')
    bob.send({ type: 'publish', room: 'lobby', data: 'hello' })
    expect(await alice.next('message')).toMatchObject({ data: 'hello' })
    expect(all(alice, 'message')).toHaveLength(1)
  })
})
