import { describe, expect, it } from 'vitest'
import { connect } from './helpers/raw-client.js'
import { all, connectAnon, connectAs, join, seqs, tokenAuth, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()

describe('rooms', () => {
  it('creates a room on first join and removes it when the last member leaves', async () => {
    const { url, parley } = await servers.start()
    expect(parley.stats().rooms).toBe(0)
    const { client: a } = await connectAnon(url)
    const { client: b } = await connectAnon(url)
    await join(a, 'lobby')
    expect(parley.stats()).toMatchObject({ rooms: 1, members: 1 })
    expect(await parley.rooms()).toEqual([{ room: 'lobby', members: 1 }])
    await join(b, 'lobby')
    expect(parley.stats()).toMatchObject({ rooms: 1, members: 2 })
    a.send({ type: 'leave', room: 'lobby' })
    await a.next('left')
    expect(parley.stats()).toMatchObject({ rooms: 1, members: 1 })
    b.send({ type: 'leave', room: 'lobby' })
    await b.next('left')
    expect(parley.stats()).toMatchObject({ rooms: 0, members: 0 })
    expect(await parley.rooms()).toEqual([])
  })

  it('answers join with joined and leave with left, echoing the request ids', async () => {
    const { url } = await servers.start()
    const { client } = await connectAnon(url)
    client.send({ type: 'join', room: 'lobby', id: 'join-1' })
    const joined = await client.next('joined')
    expect(joined).toMatchObject({ room: 'lobby', id: 'join-1', seq: 0, recovery: null })
    expect(typeof joined.epoch).toBe('string')
    client.send({ type: 'leave', room: 'lobby', id: 'leave-1' })
    expect(await client.next('left')).toEqual({ type: 'left', room: 'lobby', id: 'leave-1' })
    // A join without an id is answered without one.
    client.send({ type: 'join', room: 'lobby' })
    expect((await client.next('joined')).id).toBeUndefined()
  })

  it('publishes to every member, the sender included', async () => {
    const { url } = await servers.start()
    const clients = await Promise.all([connectAnon(url), connectAnon(url), connectAnon(url)])
    for (const { client } of clients) await join(client, 'lobby')
    const [sender] = clients
    sender!.client.send({ type: 'publish', room: 'lobby', data: { text: 'hello' } })
    for (const { client } of clients) {
      expect(await client.next('message')).toMatchObject({ room: 'lobby', seq: 1, from: sender!.user, data: { text: 'hello' } })
    }
  })

  it('echo: false leaves out the sending connection only, not the same user\'s other connections', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth })
    const tab1 = await connectAs(url, 'alice')
    const tab2 = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    for (const client of [tab1, tab2, bob]) await join(client, 'lobby')
    tab1.send({ type: 'publish', room: 'lobby', id: 'p1', data: 'quiet', echo: false })
    expect(await tab1.next('ack')).toMatchObject({ id: 'p1', seq: 1 })
    expect(await tab2.next('message')).toMatchObject({ seq: 1, from: 'alice', data: 'quiet' })
    expect(await bob.next('message')).toMatchObject({ seq: 1, from: 'alice', data: 'quiet' })
    // A later echoed publish arrives at tab1, and the unechoed one never does.
    tab1.send({ type: 'publish', room: 'lobby', data: 'loud' })
    expect(await tab1.next('message')).toMatchObject({ seq: 2, data: 'loud' })
    await tab2.next('message')
    expect(seqs(tab1, 'lobby')).toEqual([2])
    expect(seqs(tab2, 'lobby')).toEqual([1, 2])
  })

  it('refuses a publish to a room not joined with NOT_JOINED, carrying id and room', async () => {
    const { url } = await servers.start()
    const { client: outsider } = await connectAnon(url)
    const { client: member } = await connectAnon(url)
    await join(member, 'lobby')
    outsider.send({ type: 'publish', room: 'lobby', id: 'p-out', data: 'sneaky' })
    expect(await outsider.next('error')).toMatchObject({ code: 'NOT_JOINED', id: 'p-out', room: 'lobby' })
    expect(await member.quiet(100)).toEqual([])
  })

  it('publishes from the server with from: null, sequenced with client messages', async () => {
    const { url, parley } = await servers.start()
    const { client, user } = await connectAnon(url)
    const joined = await join(client, 'lobby')
    client.send({ type: 'publish', room: 'lobby', data: 'from a client' })
    await client.next('message')
    const position = await parley.room('lobby').publish({ notice: 'from the server' })
    expect(position).toEqual({ seq: 2, epoch: joined.epoch })
    expect(await client.next('message')).toMatchObject({ seq: 2, epoch: joined.epoch, from: null, data: { notice: 'from the server' } })
    expect(all(client, 'message').map((m) => m.from)).toEqual([user, null])
  })

  it('refuses a server-side publish with an invalid room name', async () => {
    const { parley } = await servers.start()
    await expect(parley.room('no spaces').publish(1)).rejects.toMatchObject({ code: 'ROOM_NAME_INVALID' })
  })

  it('sends direct messages to every connection of a user and to nobody else', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const tab1 = await connectAs(url, 'alice')
    const tab2 = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    await parley.user('alice').send({ text: 'psst' })
    for (const tab of [tab1, tab2]) expect(await tab.next('direct')).toMatchObject({ from: null, data: { text: 'psst' } })
    expect(await bob.quiet(100)).toEqual([])
    // Direct messages need no room and carry no seq.
    expect(all(tab1, 'direct')[0]).not.toHaveProperty('seq')
  })

  it('counts members per room as users, not connections', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const tab1 = await connectAs(url, 'alice')
    const tab2 = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    await join(tab1, 'a')
    await join(tab2, 'a')
    await join(bob, 'a')
    await join(bob, 'b')
    const rooms = await parley.rooms()
    expect(rooms.sort((x, y) => x.room.localeCompare(y.room))).toEqual([
      { room: 'a', members: 2 },
      { room: 'b', members: 1 },
    ])
    expect(parley.stats()).toMatchObject({ rooms: 2, members: 4 })
  })

  it('keeps two rooms apart: messages, seqs and members', async () => {
    const { url } = await servers.start()
    const { client: a } = await connectAnon(url)
    const { client: b } = await connectAnon(url)
    const { client: both } = await connectAnon(url)
    await join(a, 'red')
    await join(b, 'blue')
    await join(both, 'red')
    const blueJoined = await join(both, 'blue')
    expect(blueJoined.members).toHaveLength(2)
    a.send({ type: 'publish', room: 'red', data: 'r1' })
    a.send({ type: 'publish', room: 'red', data: 'r2' })
    b.send({ type: 'publish', room: 'blue', data: 'b1' })
    await waitUntil(() => all(both, 'message').length === 3, 'both got 3 messages')
    expect(all(both, 'message', 'red').map((m) => [m.seq, m.data])).toEqual([[1, 'r1'], [2, 'r2']])
    expect(all(both, 'message', 'blue').map((m) => [m.seq, m.data])).toEqual([[1, 'b1']])
    await b.quiet(50)
    expect(all(b, 'message').map((m) => m.data)).toEqual(['b1'])
    expect(all(a, 'message').map((m) => m.data)).toEqual(['r1', 'r2'])
  })

  it('leaving one room keeps the session in its other rooms', async () => {
    const { url } = await servers.start()
    const client = await connect(url)
    await client.next('welcome')
    await join(client, 'red')
    await join(client, 'blue')
    client.send({ type: 'leave', room: 'red' })
    await client.next('left')
    client.send({ type: 'publish', room: 'red', id: 'x', data: 1 })
    expect(await client.next('error')).toMatchObject({ code: 'NOT_JOINED', id: 'x' })
    client.send({ type: 'publish', room: 'blue', id: 'y', data: 1 })
    expect(await client.next('ack')).toMatchObject({ id: 'y', room: 'blue', seq: 1 })
  })
})
