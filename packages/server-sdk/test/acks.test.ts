import { describe, expect, it } from 'vitest'
import { all, connectAs, join, seqs, tokenAuth, useServers } from './helpers/harness.js'

const servers = useServers()

async function lobby(options: Parameters<typeof servers.start>[0] = {}) {
  const server = await servers.start({ authenticate: tokenAuth, ...options })
  const alice = await connectAs(server.url, 'alice')
  const bob = await connectAs(server.url, 'bob')
  const joined = await join(alice, 'lobby')
  await join(bob, 'lobby')
  return { server, alice, bob, epoch: joined.epoch }
}

describe('acks and de-duplication', () => {
  it('acks a publish with { id, room, seq, epoch } matching the delivered message', async () => {
    const { alice, bob, epoch } = await lobby()
    alice.send({ type: 'publish', room: 'lobby', id: 'm-1', data: 'one' })
    const ack = await alice.next('ack')
    expect(ack).toEqual({ type: 'ack', id: 'm-1', room: 'lobby', seq: 1, epoch })
    expect(await bob.next('message')).toMatchObject({ seq: ack.seq, epoch: ack.epoch, data: 'one' })
  })

  it('sends no ack for a publish without an id', async () => {
    const { alice } = await lobby()
    alice.send({ type: 'publish', room: 'lobby', data: 'fire and forget' })
    await alice.next('message')
    await alice.quiet(50)
    expect(all(alice, 'ack')).toEqual([])
  })

  it('answers a retried publish (same id) with duplicate: true and the same seq, delivering it once', async () => {
    const { alice, bob, epoch } = await lobby()
    alice.send({ type: 'publish', room: 'lobby', id: 'retry-me', data: 'once' })
    const first = await alice.next('ack')
    alice.send({ type: 'publish', room: 'lobby', id: 'retry-me', data: 'once' })
    const second = await alice.next('ack')
    expect(first).toEqual({ type: 'ack', id: 'retry-me', room: 'lobby', seq: 1, epoch })
    expect(second).toEqual({ type: 'ack', id: 'retry-me', room: 'lobby', seq: 1, epoch, duplicate: true })
    alice.send({ type: 'publish', room: 'lobby', id: 'next', data: 'two' })
    expect(await alice.next('ack')).toMatchObject({ id: 'next', seq: 2 })
    await bob.quiet(50)
    expect(seqs(bob, 'lobby')).toEqual([1, 2])
    expect(seqs(alice, 'lobby')).toEqual([1, 2])
  })

  it('de-duplicates across the same user\'s connections (a retry after a reconnect)', async () => {
    const { server, alice, bob } = await lobby()
    alice.send({ type: 'publish', room: 'lobby', id: 'across', data: 'x' })
    await alice.next('ack')
    alice.ws.terminate()
    const again = await connectAs(server.url, 'alice')
    await join(again, 'lobby')
    again.send({ type: 'publish', room: 'lobby', id: 'across', data: 'x' })
    expect(await again.next('ack')).toMatchObject({ id: 'across', seq: 1, duplicate: true })
    await bob.quiet(50)
    expect(seqs(bob, 'lobby')).toEqual([1])
  })

  it('does not treat the same id from a different user as a duplicate', async () => {
    const { alice, bob } = await lobby()
    alice.send({ type: 'publish', room: 'lobby', id: 'shared-id', data: 'from alice' })
    expect(await alice.next('ack')).toMatchObject({ seq: 1 })
    bob.send({ type: 'publish', room: 'lobby', id: 'shared-id', data: 'from bob' })
    const ack = await bob.next('ack')
    expect(ack).toMatchObject({ id: 'shared-id', seq: 2 })
    expect(ack.duplicate).toBeUndefined()
    await alice.quiet(50)
    expect(all(alice, 'message').map((m) => [m.from, m.data])).toEqual([['alice', 'from alice'], ['bob', 'from bob']])
  })

  it('forgets ids after dedupWindowMs: a late resend is a new message', async () => {
    const { alice } = await lobby({ dedupWindowMs: 100 })
    alice.send({ type: 'publish', room: 'lobby', id: 'late', data: 1 })
    expect(await alice.next('ack')).toMatchObject({ seq: 1 })
    await alice.quiet(150)
    alice.send({ type: 'publish', room: 'lobby', id: 'late', data: 1 })
    const ack = await alice.next('ack')
    expect(ack).toMatchObject({ id: 'late', seq: 2 })
    expect(ack.duplicate).toBeUndefined()
  })

  it('answers refusals with an error carrying the request id (and room)', async () => {
    const { server, alice } = await lobby({ limits: { maxRooms: 1 } })
    alice.send({ type: 'publish', room: 'elsewhere', id: 'e-1', data: 1 })
    expect(await alice.next('error')).toMatchObject({ code: 'NOT_JOINED', id: 'e-1', room: 'elsewhere' })
    alice.send({ type: 'join', room: 'second', id: 'e-2' })
    expect(await alice.next('error')).toMatchObject({ code: 'TOO_MANY_ROOMS', id: 'e-2', room: 'second' })
    alice.send({ type: 'presence-update', room: 'elsewhere', id: 'e-3', presence: null })
    expect(await alice.next('error')).toMatchObject({ code: 'NOT_JOINED', id: 'e-3' })
    // Invalid messages keep their id when it could be read.
    alice.send('{"type":"publish","id":"e-4","room":"lobby"}')
    expect(await alice.next('error')).toMatchObject({ code: 'MISSING_FIELD', id: 'e-4' })
    // authorize's refusal too.
    const guarded = await servers.start({ authenticate: tokenAuth, authorize: ({ action }) => action !== 'publish' })
    const carol = await connectAs(guarded.url, 'carol')
    await join(carol, 'lobby')
    carol.send({ type: 'publish', room: 'lobby', id: 'e-5', data: 1 })
    expect(await carol.next('error')).toMatchObject({ code: 'FORBIDDEN', id: 'e-5', room: 'lobby' })
    expect(server.parley.stats().errors).toMatchObject({ NOT_JOINED: 2, TOO_MANY_ROOMS: 1, MISSING_FIELD: 1 })
  })

  it('acks in the order the publishes were sent', async () => {
    const { alice } = await lobby()
    for (let i = 0; i < 20; i++) alice.send({ type: 'publish', room: 'lobby', id: `o-${i}`, data: i })
    const acks = []
    for (let i = 0; i < 20; i++) acks.push(await alice.next('ack'))
    expect(acks.map((a) => a.id)).toEqual(Array.from({ length: 20 }, (_, i) => `o-${i}`))
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })
})
