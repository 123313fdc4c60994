import { describe, expect, it } from 'vitest'
import type { Room } from '@parley/client-sdk'
import { useLive, waitUntil } from './helpers/live-server.js'

// A server-side subscription (`parley.user(id).join(room)`) reaches the client as an unprompted `joined`; the
// client SDK surfaces it as a `room` event with a handle that works like any room: messages, presence, recovery
// after a reconnect (its re-join goes through the server's authorize), and leave().

const live = useLive()

describe('a room the server joined this client to', () => {
  it('arrives as a room event with a joined handle, gets messages, and is re-joined with recovery after a reconnect', async () => {
    const server = await live.server({ authenticate: ({ token }) => (token === undefined ? null : { id: token }), presence: { graceMs: 0 } })
    const client = live.client(server.url, { token: 'zoe', reconnect: { initialDelayMs: 20, maxDelayMs: 100 } })
    await waitUntil(() => client.state === 'open', 'zoe to connect')
    const handles: Room[] = []
    client.on('room', (room) => void handles.push(room))
    expect(await server.parley.user('zoe').join('alerts')).toMatchObject({ sessions: 1 })
    await waitUntil(() => handles.length === 1, 'the room event')
    const room = handles[0] as Room
    expect(room.name).toBe('alerts')
    expect(room.state).toBe('joined')
    expect(room.members().map((m) => m.user)).toEqual(['zoe'])
    const seqs: number[] = []
    room.on('message', (message) => void seqs.push(message.seq))
    await server.parley.room('alerts').publish({ n: 1 })
    await waitUntil(() => seqs.length === 1, 'the first message')

    // The server drops the connection; what is published meanwhile arrives after the re-join, with nothing lost.
    const recoveries: unknown[] = []
    room.on('recovery', (recovery) => void recoveries.push(recovery))
    for (const session of server.parley.sessions()) session.close(1012, 'restart')
    await server.parley.room('alerts').publish({ n: 2 })
    await waitUntil(() => seqs.length === 2 && client.state === 'open', 'recovery after the reconnect', 5_000, () => ({ seqs, state: client.state }))
    expect(seqs).toEqual([1, 2])
    expect(recoveries).toEqual([{ recovered: true, replayed: 1, gap: null }])
    expect(handles).toHaveLength(1)

    // A re-sync of a room being left is not taken for a server-side join.
    await room.leave()
    await server.parley.room('alerts').publish({ n: 3 })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(handles).toHaveLength(1)
  })
})
