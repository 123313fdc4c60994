import { SUBPROTOCOLS, decode, encode, type ClientMessage, type ServerMessage } from '@parley/protocol'
import { ws } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { AuthError, ParleyClientError, createClient, type Client, type ClientOptions } from '@parley/client-sdk'
import { frameOf, loadVectors, type InvalidVector, type ValidServerVector } from '../../protocol/test-vectors/index.js'
import { welcomeMessage } from './helpers/fake-server.js'
import { collect, nextEvent } from './helpers/wait.js'

// These tests use the client's default transport: the global WebSocket (vitest starts workers with
// --experimental-websocket), which msw intercepts. No loopback, no `transport` option.
const URL = 'ws://parley.test/parley'
const link = ws.link(URL)
const mock = setupServer()

beforeAll(() => mock.listen({ onUnhandledRequest: 'error' }))
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()))
  clients = []
  mock.resetHandlers()
})
afterAll(() => mock.close())

let clients: Client[] = []
function connect(options: ClientOptions = {}): Client {
  const client = createClient(URL, { reconnect: false, ...options })
  clients.push(client)
  return client
}

/** A scripted server behind msw: `onConnection` gets a `send` and the decoded client messages. */
function serve(script: (peer: { send(frame: string | Uint8Array): void; protocols: unknown; close(code: number, reason: string): void }, onMessage: (listener: (message: ClientMessage) => void) => void) => void): void {
  mock.use(
    link.addEventListener('connection', ({ client, info }) => {
      const listeners: Array<(message: ClientMessage) => void> = []
      client.addEventListener('message', (event) => {
        const result = decode(event.data, { from: 'client' })
        if (!result.ok) throw new Error(`client sent an invalid frame: ${result.error.message}`)
        for (const listener of listeners) listener(result.message)
      })
      script(
        { send: (frame) => client.send(frame), protocols: info.protocols, close: (code, reason) => client.close(code, reason) },
        (listener) => void listeners.push(listener),
      )
    }),
  )
}

const { valid, invalid } = loadVectors()
const validServer = valid.filter((v): v is ValidServerVector => v.from === 'server')
const invalidServer = invalid.filter((v): v is InvalidVector => v.from === 'server')

describe('the default WebSocket transport under msw', () => {
  it('offers the subprotocols newest first plus the token entry, and exposes the negotiated version', async () => {
    let offered: unknown
    serve((peer) => {
      offered = peer.protocols
      peer.send(encode(welcomeMessage()))
    })
    const client = connect({ token: 'abc.def-ghi' })
    await nextEvent(client, 'welcome')
    expect(offered).toEqual([...SUBPROTOCOLS, 'parley.negotiate', 'parley.token.abc.def-ghi'])
    expect(client.protocol).toBe('parley.v1.json')
    expect(client.version).toBe(1)
    expect(client.state).toBe('open')
  })

  it('maps a 4401 close to AuthError and does not reconnect', async () => {
    let connections = 0
    serve((peer) => {
      connections++
      peer.send(encode(welcomeMessage()))
      setTimeout(() => peer.close(4401, 'token revoked'), 0)
    })
    const client = createClient(URL)
    clients.push(client)
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(AuthError)
    expect(error.message).toBe('token revoked')
    expect(client.state).toBe('closed')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(connections).toBe(1)
  })
})

describe('every valid server → client vector is handled', () => {
  it('has vectors to run', () => {
    expect(validServer.length).toBeGreaterThan(20)
    expect(new Set(validServer.map((v) => v.decoded.type))).toEqual(
      new Set(['welcome', 'joined', 'left', 'message', 'direct', 'presence', 'signal', 'ack', 'error', 'pong', 'history', 'response', 'members', 'presences']),
    )
  })

  it.each(validServer.map((v) => [v.name, v] as const))('%s', async (_name, vector) => {
    const d = vector.decoded
    const room = 'room' in d && d.room !== undefined ? d.room : 'general'
    serve((peer, onMessage) => {
      peer.send(d.type === 'welcome' ? vector.frame : encode(welcomeMessage()))
      onMessage((message) => {
        if (message.type === 'join') {
          if (d.type === 'joined') {
            // The exact frame first. A joined whose id answers no join of this client is ignored (it must not move
            // the stream position), so the same message then comes again answering the client's join.
            peer.send(vector.frame)
            if (d.id !== undefined) peer.send(encode({ ...d, ...(message.id === undefined ? {} : { id: message.id }) }))
            return
          }
          const joined: ServerMessage = {
            type: 'joined',
            room: message.room,
            ...(message.id === undefined ? {} : { id: message.id }),
            epoch: d.type === 'message' ? d.epoch : 'e1',
            seq: d.type === 'message' ? d.seq - 1 : 0,
            // A members page answers paging from a partial snapshot, which a joined with memberCount starts.
            ...(d.type === 'members' ? { members: [{ user: 'aaa', presence: null, connections: 1 }], memberCount: 1_000 } : { members: [] }),
            recovery: null,
          }
          peer.send(encode(joined))
          if (d.type !== 'ack' && !(d.type === 'error' && d.id !== undefined)) peer.send(vector.frame)
        }
        // Acks and errors with an id answer the client's publish with that id.
        if (message.type === 'publish') peer.send(vector.frame)
        // A page answers the client's history request, with that request's id.
        if (message.type === 'history' && d.type === 'history') peer.send(encode({ ...d, id: message.id }))
        // A response answers the client's request, with that request's id.
        if (message.type === 'request' && d.type === 'response') peer.send(encode({ ...d, id: message.id }))
        // A members page answers the client's members request (after the snapshot's last user), with its id.
        if (message.type === 'members' && d.type === 'members' && message.after === 'aaa') peer.send(encode({ ...d, id: message.id }))
      })
      if (d.type === 'direct' || d.type === 'pong' || (d.type === 'error' && d.id === undefined && d.room === undefined)) peer.send(vector.frame)
    })
    const client = connect()
    const errors = collect(client, 'error')

    switch (d.type) {
      case 'welcome': {
        expect(await nextEvent(client, 'welcome')).toEqual(d)
        expect(client.protocol).toBe(d.protocol)
        expect(client.user).toBe(d.user)
        break
      }
      case 'joined': {
        const handle = client.join(d.room)
        const recovery = collect(handle, 'recovery')
        const joined = await nextEvent(handle, 'joined')
        expect(joined).toEqual({ epoch: d.epoch, seq: d.seq, members: d.members, recovery: d.recovery })
        expect(handle.members()).toEqual(d.members)
        expect(handle.memberCount).toBe(d.memberCount ?? d.members.length)
        expect(recovery).toEqual(d.recovery === null ? [] : [d.recovery])
        break
      }
      case 'left': {
        const handle = client.join(room)
        expect(await nextEvent(handle, 'left')).toEqual({ reason: d.reason })
        expect(handle.state).toBe('left')
        break
      }
      case 'message': {
        const handle = client.join(room)
        expect(await nextEvent(handle, 'message')).toEqual(d)
        break
      }
      case 'presence': {
        const handle = client.join(room)
        expect(await nextEvent(handle, 'presence')).toEqual({ event: d.event, member: d.member })
        expect(handle.members().some((m) => m.user === d.member.user)).toBe(d.event !== 'leave')
        break
      }
      case 'presences': {
        // One `presence` event per change, in order; members() ends where the changes leave it.
        const handle = client.join(room)
        const events = collect(handle, 'presence')
        if (d.omitted !== undefined) {
          // Counts: one `count` event, and memberCount (0 from the empty snapshot) moved by joins − leaves.
          const { join, leave, update } = d.omitted
          expect(await nextEvent(handle, 'count')).toEqual({ joined: join, left: leave, updated: update, memberCount: Math.max(0, join - leave) })
          expect(handle.memberCount).toBe(Math.max(0, join - leave))
        }
        await expect.poll(() => events.length).toBe(d.events.length)
        expect(events).toEqual(d.events.map(({ event, member }) => ({ event, member })))
        const present = new Set<string>()
        for (const { event, member } of d.events) event === 'leave' ? present.delete(member.user) : present.add(member.user)
        expect(handle.members().map((m) => m.user).sort()).toEqual([...present].sort())
        break
      }
      case 'signal': {
        const handle = client.join(room)
        if (d.key === 'typing') expect(await nextEvent(handle, 'typing')).toEqual({ user: d.from, typing: d.value === true })
        else expect(await nextEvent(handle, 'signal')).toEqual({ from: d.from, key: d.key, value: d.value, ttlMs: d.ttlMs })
        break
      }
      case 'ack': {
        const handle = client.join(room)
        expect(await handle.publish('x', { id: d.id })).toEqual({ id: d.id, seq: d.seq, epoch: d.epoch, duplicate: d.duplicate === true })
        break
      }
      case 'error': {
        if (d.id !== undefined) {
          const handle = client.join(room)
          const error = await handle.publish('x', { id: d.id }).catch((e: unknown) => e)
          expect(error).toBeInstanceOf(ParleyClientError)
          expect(error).toMatchObject({ code: d.code, message: d.message, id: d.id, ...(d.issues === undefined ? {} : { issues: d.issues }) })
        } else if (d.room !== undefined) {
          const handle = client.join(d.room)
          expect(await nextEvent(handle, 'error')).toMatchObject({ code: d.code, message: d.message, room: d.room })
        } else {
          expect(await nextEvent(client, 'error')).toMatchObject({ code: d.code, message: d.message })
          errors.length = 0
        }
        break
      }
      case 'direct': {
        expect(await nextEvent(client, 'direct')).toEqual(d)
        break
      }
      case 'history': {
        const handle = client.join(room)
        const page = await handle.history()
        expect(page).toEqual({ messages: d.messages.map((entry) => ({ type: 'message', room: d.room, ...entry })), more: d.more, gaps: d.gaps })
        break
      }
      case 'response': {
        expect(await client.request('any.request', null)).toEqual(d.output)
        break
      }
      case 'members': {
        const handle = client.join(room)
        await nextEvent(handle, 'joined')
        expect(handle.memberCount).toBe(1_000)
        expect(await handle.loadMembers()).toEqual({ members: d.members, more: d.next !== undefined })
        expect(handle.members().map((m) => m.user)).toEqual(['aaa', ...d.members.map((m) => m.user)])
        break
      }
      case 'pong': {
        await nextEvent(client, 'welcome')
        // Give the pong time to arrive: it must change nothing and report nothing.
        await new Promise((resolve) => setTimeout(resolve, 10))
        break
      }
    }
    expect(errors).toEqual([])
    expect(client.state).toBe('open')
  })
})

describe('every invalid server frame is reported as an error event, never thrown', () => {
  it('has vectors to run', () => {
    expect(invalidServer.length).toBeGreaterThan(50)
  })

  it.each(invalidServer.map((v) => [v.name, v] as const))('%s', async (_name, vector) => {
    serve((peer) => {
      // The bad frame first: decoding comes before anything else, so it is reported whatever the session state.
      peer.send(frameOf(vector))
      peer.send(encode(welcomeMessage()))
      peer.send(encode({ type: 'direct', from: null, ts: 1, data: 'after' }))
    })
    // These are v1's vectors: offered v1 alone, the mock selects it, and a binary frame is refused as v1 refuses it.
    const client = connect(vector.limits === undefined ? { subprotocols: ['parley.v1.json'] } : { inboundLimits: vector.limits, subprotocols: ['parley.v1.json'] })
    const direct = nextEvent(client, 'direct')
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(ParleyClientError)
    expect(error.code).toBe(vector.error)
    if (vector.limits === undefined) {
      // The connection carries on: the welcome and the next frame arrive as usual.
      expect(await direct).toMatchObject({ data: 'after' })
      expect(client.state).toBe('open')
    }
  })
})
