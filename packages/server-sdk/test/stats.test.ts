import type { ParleySession } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import type { RawClient } from './helpers/raw-client.js'
import { all, connectAs, join, tokenAuth, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()

/** Counts the frames and bytes a client receives, from the socket itself. */
function meter(client: RawClient): { frames: number; bytes: number } {
  const counts = { frames: 0, bytes: 0 }
  client.ws.on('message', (data: Buffer) => {
    counts.frames++
    counts.bytes += data.byteLength
  })
  return counts
}

describe('events', () => {
  it('emits connection, join, leave and disconnect (with the close code) for each session', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const events: string[] = []
    parley.on('connection', (session) => events.push(`connection ${session.user.id}`))
    parley.on('join', (session, room) => events.push(`join ${session.user.id} ${room}`))
    parley.on('leave', (session, room) => events.push(`leave ${session.user.id} ${room}`))
    parley.on('disconnect', (session, code) => events.push(`disconnect ${session.user.id} ${code}`))
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    await join(alice, 'lobby') // joining again is not a second join
    await join(alice, 'hall')
    alice.send({ type: 'leave', room: 'lobby' })
    await alice.next('left')
    alice.close(4000, 'bye')
    await waitUntil(() => events.some((e) => e.startsWith('disconnect')), 'disconnect')
    expect(events).toEqual([
      'connection alice',
      'join alice lobby',
      'join alice hall',
      'leave alice lobby',
      'leave alice hall',
      'disconnect alice 4000',
    ])
    const bob = await connectAs(url, 'bob')
    bob.ws.terminate()
    await waitUntil(() => events.at(-1) === 'disconnect bob 1006', 'an abrupt disconnect is 1006')
  })

  it('hands the app a live session: id, user, rooms, open, close()', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    let session: ParleySession | undefined
    parley.on('connection', (s) => (session = s))
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    expect(session).toBeDefined()
    expect(session!.user.id).toBe('alice')
    expect([...session!.rooms]).toEqual(['lobby'])
    expect(session!.open).toBe(true)
    expect(session!.remoteAddress).toBe('127.0.0.1')
    expect(parley.sessions().map((s) => s.id)).toEqual([session!.id])
    session!.close(4403, 'kicked')
    expect(await alice.closed).toEqual({ code: 4403, reason: 'kicked' })
    expect(session!.open).toBe(false)
  })
})

describe('stats()', () => {
  it('counts connections, rooms and members as gauges', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    expect(parley.stats()).toMatchObject({ connections: 0, rooms: 0, members: 0 })
    const alice = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    await join(alice, 'a')
    await join(alice, 'b')
    await join(bob, 'a')
    expect(parley.stats()).toMatchObject({ connections: 2, rooms: 2, members: 3 })
    bob.close()
    await waitUntil(() => parley.stats().connections === 1, 'bob gone')
    expect(parley.stats()).toMatchObject({ connections: 1, rooms: 2, members: 2 })
  })

  it('counts messages and bytes in and out exactly', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const alice = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    await join(alice, 'lobby')
    await join(bob, 'lobby')
    await waitUntil(() => all(alice, 'presence').length === 1, 'alice heard bob')
    const aliceIn = meter(alice)
    const bobIn = meter(bob)
    const before = parley.stats()
    const frame = JSON.stringify({ type: 'publish', room: 'lobby', id: 'm1', data: { text: 'héllo' } })
    alice.send(frame)
    await alice.next('message')
    await alice.next('ack')
    await bob.next('message')
    const after = parley.stats()
    expect(after.messagesIn - before.messagesIn).toBe(1)
    expect(after.bytesIn - before.bytesIn).toBe(frame.length) // counted in UTF-16 units of the decoded text
    expect(after.messagesOut - before.messagesOut).toBe(3) // the message twice, the ack once
    expect(aliceIn.frames + bobIn.frames).toBe(3)
    expect(after.bytesOut - before.bytesOut).toBe(aliceIn.bytes + bobIn.bytes)
  })

  it('counts errors by code and drops', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth, limits: { rate: { messages: 1, perMs: 60_000 } } })
    const alice = await connectAs(url, 'alice')
    alice.send('nope')
    alice.send({ type: 'publish', room: 'lobby', data: 1 })
    await alice.next('error')
    await alice.next('error')
    alice.send({ type: 'publish', room: 'lobby', data: 2 })
    alice.send({ type: 'publish', room: 'lobby', data: 3 })
    await alice.next('error')
    await alice.next('error')
    expect(parley.stats().errors).toEqual({ INVALID_JSON: 1, NOT_JOINED: 1, RATE_LIMITED: 2 })
    expect(parley.stats().dropped).toBe(2)
    expect(parley.stats().slowConsumers).toBe(0)
  })
})
