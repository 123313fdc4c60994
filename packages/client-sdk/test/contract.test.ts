import { describe, expect, it } from 'vitest'
import * as v from 'valibot'
import { z } from 'zod'
import { httpStreamTransport, ParleyClientError, type Client } from '@parley/client-sdk'
import { defineContract, type Schema } from '@parley/protocol'
import { createMemoryHistory, RequestError } from '@parley/server-sdk'
import { tokenAuth, useLive, waitUntil } from './helpers/live-server.js'
import { collect, nextEvent } from './helpers/wait.js'

// One contract shared by the real server and the real client, with Zod, Valibot and a hand-written Standard Schema:
// what breaks a schema reaches nobody (server side) or is not delivered (client side), with the issue paths; requests
// are answered by parley.handle(), checked on both sides, over WebSocket and the HTTP stream.

const live = useLive()

/** A Standard Schema written by hand: a positive integer. */
const positive: Schema<number> = {
  '~standard': {
    version: 1,
    vendor: 'hand-written',
    validate: (value) => (typeof value === 'number' && Number.isInteger(value) && value > 0 ? { value } : { issues: [{ message: 'expected a positive integer' }] }),
  },
}

const zodContract = defineContract({
  rooms: {
    'chat:*': {
      message: z.object({ text: z.string().min(1).max(200).trim(), mentions: z.array(z.string()).optional() }),
      presence: z.object({ status: z.enum(['online', 'away']) }),
      signals: { typing: z.boolean(), cursor: z.object({ x: z.number(), y: z.number() }) },
    },
    'counter': { message: positive },
  },
  requests: {
    'rooms.create': { input: z.object({ name: z.string().regex(/^[a-z]+$/) }), output: z.object({ room: z.string() }), errors: ['NAME_TAKEN'] },
    'broken.output': { input: z.null(), output: z.object({ ok: z.literal(true) }) },
    slow: { input: z.null(), output: z.null(), timeoutMs: 150 },
  },
})

const valibotContract = defineContract({
  rooms: { 'chat:*': { message: v.object({ text: v.pipe(v.string(), v.minLength(1)) }) } },
  requests: { add: { input: v.object({ a: v.number(), b: v.number() }), output: v.number() } },
})

async function serverWith(contract: typeof zodContract | typeof valibotContract, validate = true) {
  const server = await live.server({ authenticate: tokenAuth(), contract, validate })
  return server
}

function joined<T extends { on(type: 'joined', handler: () => void): () => void }>(room: T): Promise<void> {
  return new Promise((resolve) => room.on('joined', () => resolve()))
}

describe('a contract checked on the server', () => {
  it('refuses a publish that breaks its room schema with VALIDATION_FAILED and the paths; nothing reaches the other members; valid data goes out as the schema made it', async () => {
    const server = await serverWith(zodContract)
    const alice = live.client(server.url, { token: 'alice', contract: zodContract, validate: false })
    const bob = live.client(server.url, { token: 'bob', contract: zodContract })
    const aliceRoom = alice.join('chat:lobby')
    const bobRoom = bob.join('chat:lobby')
    await Promise.all([joined(aliceRoom), joined(bobRoom)])
    const seen = collect(bobRoom, 'message')
    // A cast stands for a client that does not use the types (or another language): the server still checks.
    const error = await aliceRoom.publish({ text: '', mentions: [3] } as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParleyClientError)
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', room: 'chat:lobby' })
    expect((error as ParleyClientError).issues?.map((issue) => issue.path).sort()).toEqual(['mentions.0', 'text'])
    await aliceRoom.publish({ text: '  hello  ' })
    await waitUntil(() => seen.length === 1, 'the valid message')
    expect(seen.map((m) => m.data)).toEqual([{ text: 'hello' }])
  })

  it('checks presence on join and update, and signals by key (an unknown key is refused)', async () => {
    const server = await serverWith(zodContract)
    const client = live.client(server.url, { token: 'carol', contract: zodContract, validate: false })
    const bad = client.join('chat:a', { presence: { status: 'asleep' } as never })
    expect(await nextEvent(bad, 'error')).toMatchObject({ code: 'VALIDATION_FAILED', room: 'chat:a' })
    const room = client.join('chat:b', { presence: { status: 'online' } })
    await joined(room)
    const errors = collect(room, 'error')
    room.signal('cursor', { x: 'left' } as never)
    room.signal('shout', true as never)
    await waitUntil(() => errors.length === 2, 'two refusals')
    expect(errors.map((e) => e.code)).toEqual(['VALIDATION_FAILED', 'VALIDATION_FAILED'])
    expect(errors[1]?.message).toContain('shout')
  })

  it('a hand-written Standard Schema and a room the contract does not name', async () => {
    const server = await serverWith(zodContract)
    const client = live.client(server.url, { token: 'dave', contract: zodContract })
    const counter = client.join('counter')
    await joined(counter)
    await expect(counter.publish(-1 as never)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: '', message: 'expected a positive integer' }] })
    expect(await counter.publish(3)).toMatchObject({ seq: 1 })
    // Rooms the contract does not name are not checked (authorize decides which rooms exist).
    const other = client.join('elsewhere')
    await joined(other)
    expect(await other.publish({ anything: true })).toMatchObject({ seq: 1 })
  })

  it('with validate: false on the server, nothing is checked there', async () => {
    const server = await serverWith(zodContract, false)
    const client = live.client(server.url, { token: 'erin', contract: zodContract, validate: false })
    const room = client.join('chat:x')
    await joined(room)
    expect(await room.publish({ text: '' })).toMatchObject({ seq: 1 })
  })
})

describe('a contract checked on the client', () => {
  it('does not deliver a message that breaks its schema: the room emits error naming the room and the path, and later messages still come', async () => {
    // The server lets anything through, as an older or misconfigured one would.
    const server = await serverWith(zodContract, false)
    const client = live.client(server.url, { token: 'frank', contract: zodContract })
    const room = client.join('chat:lobby')
    await joined(room)
    const messages = collect(room, 'message')
    const errors = collect(room, 'error')
    await server.parley.room('chat:lobby').publish({ text: 42 })
    await server.parley.room('chat:lobby').publish({ text: 'fine' })
    await waitUntil(() => messages.length === 1 && errors.length === 1, 'one delivered, one refused')
    expect(messages.map((m) => m.data)).toEqual([{ text: 'fine' }])
    expect(errors[0]).toMatchObject({ code: 'VALIDATION_FAILED', room: 'chat:lobby', issues: [{ path: 'text' }] })
    // validate: false on the client delivers it.
    const lax = live.client(server.url, { token: 'gina', contract: zodContract, validate: false })
    const laxRoom = lax.join('chat:lobby')
    await joined(laxRoom)
    const laxMessages = collect(laxRoom, 'message')
    await server.parley.room('chat:lobby').publish({ text: 7 })
    await waitUntil(() => laxMessages.length === 1, 'delivered unchecked')
  })
})

describe('a contract checked on the client: history and members without presence', () => {
  it('leaves a message that breaks its schema out of a history page, and reports it', async () => {
    const server = await live.server({ authenticate: tokenAuth(), contract: zodContract, validate: false, history: { store: createMemoryHistory() } })
    await server.parley.room('chat:old').publish({ text: 99 })
    await server.parley.room('chat:old').publish({ text: 'kept' })
    const client = live.client(server.url, { token: 'lou', contract: zodContract })
    const room = client.join('chat:old')
    const errors = collect(room, 'error')
    const page = await room.history()
    expect(page.messages.map((m) => m.data)).toEqual([{ text: 'kept' }])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'text' }] })
  })

  it('a member without presence (null) is not checked on either side', async () => {
    const server = await serverWith(zodContract)
    const watcher = live.client(server.url, { token: 'mia', contract: zodContract })
    const watched = watcher.join('chat:p', { presence: { status: 'online' } })
    await joined(watched)
    const errors = collect(watched, 'error')
    const joins = collect(watched, 'presence')
    const bare = live.client(server.url, { token: 'ned', contract: zodContract }).join('chat:p')
    await joined(bare)
    await waitUntil(() => joins.length === 1, 'the presence join')
    expect(joins[0]).toMatchObject({ event: 'join', member: { user: 'ned', presence: null } })
    expect(errors).toEqual([])
  })
})

describe('requests', () => {
  async function requestServer(contract: typeof zodContract) {
    const server = await serverWith(contract)
    const taken = new Set(['general'])
    server.parley.handle(zodContract, 'rooms.create', async ({ name }, { user }) => {
      if (taken.has(name)) throw new RequestError('NAME_TAKEN', `${name} exists`)
      taken.add(name)
      return { room: `chat:${name}-by-${user.id}` }
    })
    server.parley.handle(zodContract, 'broken.output', () => ({ ok: false }) as never)
    server.parley.handle(zodContract, 'slow', () => new Promise(() => undefined))
    return server
  }

  for (const transport of ['websocket', 'http-stream'] as const) {
    it(`are answered by parley.handle(), typed and checked, over ${transport}`, async () => {
      const server = await requestServer(zodContract)
      const options = transport === 'http-stream' ? { transport: httpStreamTransport() } : {}
      const client = live.client(transport === 'http-stream' ? server.url.replace('ws:', 'http:') : server.url, { token: 'hank', contract: zodContract, ...options })
      const created = await client.request('rooms.create', { name: 'design' })
      expect(created).toEqual({ room: 'chat:design-by-hank' })
      await expect(client.request('rooms.create', { name: 'design' })).rejects.toMatchObject({ code: 'NAME_TAKEN', message: 'design exists' })
      // Checked here before sending: the server never sees it.
      await expect(client.request('rooms.create', { name: 'Not Valid' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'name' }] })
      await expect(client.request('broken.output', null)).rejects.toMatchObject({ code: 'INTERNAL_ERROR' })
      await expect(client.request('slow', null)).rejects.toMatchObject({ code: 'TIMEOUT' })
    })
  }

  it('the server checks the input too, and answers unknown names and undeclared codes', async () => {
    const server = await requestServer(zodContract)
    const lax = live.client(server.url, { token: 'ivy', contract: zodContract, validate: false })
    await expect(lax.request('rooms.create', { name: 42 } as never)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'name' }] })
    const bare: Client = live.client(server.url, { token: 'jon' })
    await expect(bare.request('no.such', null)).rejects.toMatchObject({ code: 'UNKNOWN_REQUEST' })
    expect(() => server.parley.handle(zodContract, 'rooms.creat' as never, (() => ({ room: '' })) as never)).toThrow(/did you mean "rooms.create"/)
  })

  it('a schema that transforms: the handler gets its output, the client gets the output schema applied, each once', async () => {
    const contract = defineContract({
      requests: { length: { input: z.object({ s: z.string().transform((s) => s.length) }), output: z.number().transform((n) => `${n} characters`) } },
    })
    const server = await live.server({ authenticate: tokenAuth(), contract })
    let received: unknown
    server.parley.handle(contract, 'length', ({ s }) => {
      received = s
      return s
    })
    const client = live.client(server.url, { token: 'olga', contract })
    expect(await client.request('length', { s: 'hello' })).toBe('5 characters')
    expect(received).toBe(5)
  })

  it("a slow handler holds up neither the session's other messages nor its other requests", async () => {
    const server = await serverWith(valibotContract)
    let finish: (value: number) => void = () => undefined
    let calls = 0
    server.parley.handle(valibotContract, 'add', ({ a, b }) => (++calls === 1 ? new Promise<number>((resolve) => (finish = resolve)) : a + b))
    const client = live.client(server.url, { token: 'pat', contract: valibotContract })
    const slow = client.request('add', { a: 1, b: 1 })
    const room = client.join('chat:busy')
    await joined(room)
    expect(await room.publish({ text: 'still flowing' })).toMatchObject({ seq: 1 })
    expect(await client.request('add', { a: 2, b: 2 })).toBe(4)
    finish(2)
    expect(await slow).toBe(2)
  })

  it('a request made while offline waits for the connection; Valibot schemas work the same', async () => {
    const server = await serverWith(valibotContract)
    server.parley.handle(valibotContract, 'add', ({ a, b }) => a + b)
    const client = live.client(server.url, { token: 'kim', contract: valibotContract })
    const sum = client.request('add', { a: 2, b: 3 })
    expect(await sum).toBe(5)
    await expect(client.request('add', { a: 2 } as never)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'b' }] })
    const room = client.join('chat:v')
    await joined(room)
    await expect(room.publish({ text: '' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' })
  })
})
