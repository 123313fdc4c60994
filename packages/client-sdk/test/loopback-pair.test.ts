import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuthError, UnsupportedProtocolError, createClient, type Client, type ClientOptions, type ClientState } from '@parley/client-sdk'
import { createParley, type Parley, type ServerOptions } from '@parley/server-sdk'
import { loopbackTransportFor, type LoopbackBridgeOptions } from './helpers/loopback-bridge.js'
import { tokenAuth } from './helpers/live-server.js'
import { collect, flush, nextEvent } from './helpers/wait.js'

// The real client SDK against the real server SDK with no sockets: the client's loopback transport bridged to the
// server's loopback Connection and parley.accept(). Everything travels on microtasks, so after `flush()` (one
// macrotask) every frame in flight has been delivered and answered: the tests wait on events and flushes, never on
// sleeps.

let parley: Parley
let clients: Client[] = []
const tokensSeen: Array<'header' | 'subprotocol' | 'no-request'> = []

async function startParley(options: ServerOptions = {}): Promise<Parley> {
  parley = createParley({
    authenticate: tokenAuth(tokensSeen),
    signals: { minIntervalMs: 0 },
    shutdown: { timeoutMs: 300, batchIntervalMs: 0 },
    ...options,
  })
  await parley.ready
  return parley
}

function connect(user: string, options: ClientOptions = {}, bridge: LoopbackBridgeOptions = {}): Client {
  // random: () => 0 makes every backoff delay 0, so a reconnect happens on the next macrotask.
  const client = createClient('loop://parley', { transport: loopbackTransportFor(parley, bridge), token: user, random: () => 0, ...options })
  clients.push(client)
  return client
}

beforeEach(async () => {
  tokensSeen.length = 0
  await startParley()
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await parley.close()
})

describe('client loopback transport ↔ server loopback connection', () => {
  it('connects through parley.accept() with the offered subprotocol and the token', async () => {
    const alice = connect('alice')
    const welcome = await nextEvent(alice, 'welcome')
    expect(alice.state).toBe('open')
    expect(welcome.protocol).toBe('parley.v2.json')
    expect(alice.version).toBe(2)
    expect(alice.user).toBe('alice')
    expect(tokensSeen).toEqual(['no-request'])
    expect(parley.sessions().map((session) => session.user.id)).toEqual(['alice'])
  })

  it('join, publish, ack and fan-out between two clients: seqs in order, echo: false, a retried id not delivered twice', async () => {
    const alice = connect('alice')
    const bob = connect('bob')
    const a = alice.join<{ text: string }>('lobby')
    const b = bob.join<{ text: string }>('lobby')
    const [aJoined, bJoined] = await Promise.all([nextEvent(a, 'joined'), nextEvent(b, 'joined')])
    expect(aJoined.epoch).toBe(bJoined.epoch)
    expect([aJoined.seq, bJoined.seq]).toEqual([0, 0])
    expect([aJoined.recovery, bJoined.recovery]).toEqual([null, null])
    const atAlice = collect(a, 'message')
    const atBob = collect(b, 'message')

    const first = await a.publish({ text: 'hi' })
    expect(first).toMatchObject({ seq: 1, epoch: aJoined.epoch, duplicate: false })
    const second = await b.publish({ text: 'not to myself' }, { echo: false })
    expect(second).toMatchObject({ seq: 2, duplicate: false })
    const third = await a.publish({ text: 'once' }, { id: 'alice-fixed-1' })
    expect(third).toEqual({ id: 'alice-fixed-1', seq: 3, epoch: aJoined.epoch, duplicate: false })
    // The same id again (a retry): answered with the original's seq, and nobody receives it a second time.
    const retry = await a.publish({ text: 'once' }, { id: 'alice-fixed-1' })
    expect(retry).toEqual({ id: 'alice-fixed-1', seq: 3, epoch: aJoined.epoch, duplicate: true })
    const fourth = await b.publish({ text: 'last' })
    expect(fourth.seq).toBe(4)
    await flush()

    expect(atAlice.map((m) => [m.seq, m.from, m.data.text])).toEqual([
      [1, 'alice', 'hi'],
      [2, 'bob', 'not to myself'],
      [3, 'alice', 'once'],
      [4, 'bob', 'last'],
    ])
    expect(atBob.map((m) => [m.seq, m.from, m.data.text])).toEqual([
      [1, 'alice', 'hi'],
      [3, 'alice', 'once'],
      [4, 'bob', 'last'],
    ])
    expect(new Set([...atAlice, ...atBob].map((m) => m.epoch))).toEqual(new Set([aJoined.epoch]))
  })

  it('presence across clients: snapshot on join, join/update/leave events, members() kept up to date', async () => {
    const alice = connect('alice')
    const a = alice.join<unknown, { name: string }>('lobby', { presence: { name: 'Alice' } })
    await nextEvent(a, 'joined')
    expect(a.members()).toEqual([{ user: 'alice', presence: { name: 'Alice' }, connections: 1 }])
    const seenByAlice = collect(a, 'presence')

    const bob = connect('bob')
    const b = bob.join<unknown, { name: string }>('lobby', { presence: { name: 'Bob' } })
    const bJoined = await nextEvent(b, 'joined')
    expect(bJoined.members).toEqual(
      expect.arrayContaining([
        { user: 'alice', presence: { name: 'Alice' }, connections: 1 },
        { user: 'bob', presence: { name: 'Bob' }, connections: 1 },
      ]),
    )
    expect(bJoined.members).toHaveLength(2)
    // Presence changes come in batches (presence.batchMs, 50 ms by default): within one window.
    await expect.poll(() => seenByAlice.length).toBe(1)
    expect(seenByAlice).toEqual([{ event: 'join', member: { user: 'bob', presence: { name: 'Bob' }, connections: 1 } }])
    expect(a.members().map((m) => m.user).sort()).toEqual(['alice', 'bob'])

    b.setPresence({ name: 'Robert' })
    await expect.poll(() => seenByAlice.length).toBe(2)
    expect(seenByAlice[1]).toEqual({ event: 'update', member: { user: 'bob', presence: { name: 'Robert' }, connections: 1 } })
    expect(a.members().find((m) => m.user === 'bob')?.presence).toEqual({ name: 'Robert' })

    // A second connection of bob is not a new member: no presence event, connections counts it.
    const bob2 = connect('bob')
    await nextEvent(bob2.join('lobby'), 'joined')
    await new Promise((resolve) => setTimeout(resolve, 120))
    expect(seenByAlice).toHaveLength(2)

    await bob2.close()
    await b.leave()
    await expect.poll(() => seenByAlice.length).toBe(3)
    expect(seenByAlice.slice(2)).toEqual([{ event: 'leave', member: expect.objectContaining({ user: 'bob' }) }])
    expect(a.members().map((m) => m.user)).toEqual(['alice'])
  })

  it('typing: peers see true and false, the sender never sees its own, an unrefreshed typing expires to false', async () => {
    await parley.close()
    await startParley({ signals: { minIntervalMs: 0, defaultTtlMs: 100 } })
    const alice = connect('alice')
    const bob = connect('bob')
    const a = alice.join('lobby')
    const b = bob.join('lobby')
    await Promise.all([nextEvent(a, 'joined'), nextEvent(b, 'joined')])
    const atAlice = collect(a, 'typing')
    const atBob = collect(b, 'typing')

    b.typing(true)
    await flush()
    expect(atAlice).toEqual([{ user: 'bob', typing: true }])
    b.typing(true) // coalesced: within the refresh period nothing more is sent
    b.typing(false)
    await flush()
    expect(atAlice).toEqual([
      { user: 'bob', typing: true },
      { user: 'bob', typing: false },
    ])

    // Typing that is not refreshed expires on the server (TTL 100 ms here) and peers are told.
    a.typing(true)
    await flush()
    expect(atBob).toEqual([{ user: 'alice', typing: true }])
    const expired = await nextEvent(b, 'typing')
    expect(expired).toEqual({ user: 'alice', typing: false })
    expect(atAlice.every((t) => t.user === 'bob')).toBe(true)
  })

  it('a server-side close with 1012 → the client reconnects, re-joins with its resume point and gets exactly what it missed', async () => {
    let hold: Promise<void> | undefined
    const alice = connect('alice', {}, { beforeAccept: () => hold })
    const bob = connect('bob')
    const a = alice.join<{ n: number }>('news')
    const b = bob.join<{ n: number }>('news')
    await Promise.all([nextEvent(a, 'joined'), nextEvent(b, 'joined')])
    const atAlice = collect(a, 'message')
    const recoveries = collect(a, 'recovery')
    const presenceAtBob = collect(b, 'presence')
    const states: ClientState[] = collect(alice, 'state')
    const reconnects = collect(alice, 'reconnect')

    await b.publish({ n: 1 })
    await parley.room('news').publish({ n: 2 })
    await flush()
    expect(atAlice.map((m) => m.seq)).toEqual([1, 2])

    let release!: () => void
    hold = new Promise<void>((resolve) => (release = resolve))
    const session = parley.sessions().find((s) => s.user.id === 'alice')
    expect(session).toBeDefined()
    session?.close(1012, 'service restart')
    await nextEvent(alice, 'reconnect')
    expect(alice.state).toBe('reconnecting')
    expect(a.state).toBe('joining')

    // Published while alice is away (her next attempt is held at the server's door).
    await b.publish({ n: 3 })
    await parley.room('news').publish({ n: 4 })
    await b.publish({ n: 5 })
    await flush()
    expect(alice.state).toBe('reconnecting')
    release()
    await nextEvent(a, 'joined')
    await flush()
    await parley.room('news').publish({ n: 6 })
    await flush()

    expect(reconnects).toEqual([expect.objectContaining({ attempt: 1, code: 1012, reason: 'service restart', delayMs: 0 })])
    expect(states).toEqual(['reconnecting', 'open'])
    expect(recoveries).toEqual([{ recovered: true, replayed: 3, gap: null }])
    expect(atAlice.map((m) => [m.seq, m.data.n])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
      [6, 6],
    ])
    // A close other than 1000 keeps presence through the grace period: bob saw no leave/join flap.
    expect(presenceAtBob).toEqual([])
    expect(parley.sessions().filter((s) => s.user.id === 'alice')).toHaveLength(1)
  })

  it('refusals arrive in band over the loopback: a rejected token is an AuthError, no common version an UnsupportedProtocolError; neither retried', async () => {
    await parley.close()
    await startParley({ authenticate: ({ token }) => (token === 'good' ? { id: 'u' } : null) })
    const attempts: string[] = []
    const rejected = connect('bad', { reconnect: { initialDelayMs: 1 } }, { beforeAccept: (r) => void attempts.push(`token:${r.token}`) })
    const authError = await nextEvent(rejected, 'error')
    expect(authError).toBeInstanceOf(AuthError)
    expect(authError.closeCode).toBe(4401)
    expect(rejected.state).toBe('closed')

    const mismatched = connect('good', { subprotocols: ['parley.v9.json'], reconnect: { initialDelayMs: 1 } }, {
      beforeAccept: (r) => void attempts.push(`protocols:${r.protocols.join(',')}`),
    })
    const versionError = await nextEvent(mismatched, 'error')
    expect(versionError).toBeInstanceOf(UnsupportedProtocolError)
    expect(versionError.closeCode).toBe(4406)
    expect((versionError as UnsupportedProtocolError).offered).toEqual(['parley.v9.json'])
    // The close reason is all a transport without an HTTP answer has: it names both sides' versions.
    expect(versionError.message).toContain('parley.v9.json')
    expect(versionError.message).toContain('parley.v2.json, parley.v1.json')
    expect(mismatched.state).toBe('closed')
    await flush()
    expect(attempts).toEqual(['token:bad', 'protocols:parley.v9.json'])
    expect(parley.sessions()).toEqual([])
  })
})
