import type { ClientMessage } from '@parley/protocol'
import { createLoopback, createParley, ParleyServerError, type ParleySession } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import { all, connectAs, join, tokenAuth, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()

describe('middleware', () => {
  it('reads every message with its session', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const seen: Array<[string, ClientMessage['type']]> = []
    parley.use(async (ctx, next) => {
      seen.push([ctx.session.user.id, ctx.message.type])
      await next()
    })
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    alice.send({ type: 'publish', room: 'lobby', id: 'p', data: 1 })
    await alice.next('ack')
    alice.send({ type: 'leave', room: 'lobby', id: 'l' })
    await alice.next('left')
    expect(seen).toEqual([['alice', 'join'], ['alice', 'publish'], ['alice', 'leave']])
  })

  it('changes a message: a field added to publish data reaches every member', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    parley.use(async (ctx, next) => {
      const message = ctx.message
      if (message.type === 'publish' && typeof message.data === 'object' && message.data !== null && !Array.isArray(message.data)) {
        ctx.message = { ...message, data: { ...message.data, checkedBy: 'moderator' } }
      }
      await next()
    })
    const alice = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    await join(alice, 'lobby')
    await join(bob, 'lobby')
    alice.send({ type: 'publish', room: 'lobby', data: { text: 'hi' } })
    expect(await bob.next('message')).toMatchObject({ data: { text: 'hi', checkedBy: 'moderator' } })
    expect(await alice.next('message')).toMatchObject({ data: { text: 'hi', checkedBy: 'moderator' } })
  })

  it('rejects a message with ParleyServerError: the client gets its code, message, id and room; nothing is delivered', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    parley.use(async (ctx, next) => {
      if (ctx.message.type === 'publish' && JSON.stringify(ctx.message.data).includes('spam')) throw new ParleyServerError('REJECTED', 'no')
      await next()
    })
    const errors: unknown[] = []
    parley.on('error', (error) => errors.push(error))
    const alice = await connectAs(url, 'alice')
    const bob = await connectAs(url, 'bob')
    await join(alice, 'lobby')
    await join(bob, 'lobby')
    alice.send({ type: 'publish', room: 'lobby', id: 'bad', data: 'buy spam' })
    expect(await alice.next('error')).toEqual({ type: 'error', code: 'REJECTED', message: 'no', id: 'bad', room: 'lobby' })
    alice.send({ type: 'publish', room: 'lobby', id: 'good', data: 'hello' })
    expect(await alice.next('ack')).toMatchObject({ id: 'good', seq: 1 })
    expect(await bob.next('message')).toMatchObject({ seq: 1, data: 'hello' })
    expect(all(bob, 'message')).toHaveLength(1)
    // A deliberate rejection is an answer, not a server failure.
    expect(errors).toEqual([])
    expect(parley.stats().errors).toMatchObject({ REJECTED: 1 })
  })

  it('runs several middleware in order, Koa style (onion)', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    const trace: string[] = []
    parley
      .use(async (ctx, next) => {
        if (ctx.message.type !== 'publish') return next()
        trace.push('a:before')
        await next()
        trace.push('a:after')
      })
      .use(async (ctx, next) => {
        if (ctx.message.type !== 'publish') return next()
        trace.push('b:before')
        await next()
        trace.push('b:after')
      })
    parley.on('connection', (session: ParleySession) => trace.push(`connection:${session.user.id}`))
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    alice.send({ type: 'publish', room: 'lobby', id: 'p', data: 1 })
    await alice.next('ack')
    await waitUntil(() => trace.length === 5, 'the trace is complete')
    expect(trace).toEqual(['connection:alice', 'a:before', 'b:before', 'b:after', 'a:after'])
  })

  it('a middleware that does not call next() swallows the message silently', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    parley.use(async (ctx, next) => {
      if (ctx.message.type === 'publish' && ctx.message.data === 'drop me') return
      await next()
    })
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    alice.send({ type: 'publish', room: 'lobby', data: 'drop me' })
    alice.send({ type: 'publish', room: 'lobby', data: 'keep me' })
    expect(await alice.next('message')).toMatchObject({ seq: 1, data: 'keep me' })
  })

  it('a middleware throwing a plain Error answers INTERNAL_ERROR "Internal server error" and emits error', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    parley.use(async (ctx, next) => {
      if (ctx.message.type === 'publish') throw new Error('database password is hunter2')
      await next()
    })
    const errors: Array<{ error: ParleyServerError; session: ParleySession | undefined }> = []
    parley.on('error', (error, session) => errors.push({ error, session }))
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    alice.send({ type: 'publish', room: 'lobby', id: 'boom', data: 1 })
    expect(await alice.next('error')).toEqual({ type: 'error', code: 'INTERNAL_ERROR', message: 'Internal server error', id: 'boom', room: 'lobby' })
    expect(errors).toHaveLength(1)
    expect(errors[0]!.error).toBeInstanceOf(ParleyServerError)
    expect(errors[0]!.error.code).toBe('INTERNAL_ERROR')
    expect((errors[0]!.error.cause as Error).message).toBe('database password is hunter2')
    expect(errors[0]!.session?.user.id).toBe('alice')
    // The session goes on.
    alice.send({ type: 'ping', id: 'after' })
    expect(await alice.next('pong')).toMatchObject({ id: 'after' })
  })

  it('in development, internal messages reach the client', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth, development: true })
    parley.use(() => {
      throw new Error('details for the developer')
    })
    const alice = await connectAs(url, 'alice')
    alice.send({ type: 'join', room: 'lobby', id: 'j' })
    expect(await alice.next('error')).toMatchObject({ code: 'INTERNAL_ERROR', message: 'details for the developer', id: 'j' })
  })

  it('middleware added before the instance is ready is applied, and use() takes functions only', async () => {
    const parley = createParley()
    servers.defer(() => parley.close())
    const seen: string[] = []
    parley.use(async (ctx, next) => {
      seen.push(ctx.message.type)
      await next()
    })
    expect(() => parley.use('nope' as never)).toThrow(TypeError)
    const { connection, peer } = createLoopback()
    const frames: string[] = []
    peer.onMessage((frame) => frames.push(frame))
    await parley.accept(connection)
    peer.send(JSON.stringify({ type: 'join', room: 'lobby', id: 'j' }))
    await waitUntil(() => frames.some((frame) => frame.includes('"joined"')), 'joined over the loopback')
    expect(seen).toEqual(['join'])
  })
})

describe('middleware and the rest of the pipeline', () => {
  it('runs after authorize: a denied message never reaches middleware', async () => {
    const { url, parley } = await servers.start({
      authenticate: tokenAuth,
      authorize: ({ room }) => room !== 'vault',
    })
    const seen: string[] = []
    parley.use(async (ctx, next) => {
      seen.push(`${ctx.message.type}:${'room' in ctx.message ? ctx.message.room : ''}`)
      await next()
    })
    const alice = await connectAs(url, 'alice')
    alice.send({ type: 'join', room: 'vault', id: 'v' })
    expect(await alice.next('error')).toMatchObject({ code: 'FORBIDDEN', id: 'v' })
    await join(alice, 'lobby')
    expect(seen).toEqual(['join:lobby'])
  })

  it('validates what middleware left: a value JSON cannot carry is refused before it is sequenced or stored', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth })
    parley.use(async (ctx, next) => {
      const message = ctx.message
      if (message.type === 'publish' && message.data === 'break') ctx.message = { ...message, data: Number.NaN }
      await next()
    })
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    alice.send({ type: 'publish', room: 'lobby', id: 'bad', data: 'break' })
    expect(await alice.next('error')).toMatchObject({ code: 'INTERNAL_ERROR', id: 'bad' })
    alice.send({ type: 'publish', room: 'lobby', id: 'good', data: 'fine' })
    // Nothing was sequenced for the refused one: the next publish takes seq 1.
    expect(await alice.next('ack')).toMatchObject({ id: 'good', seq: 1 })
  })

  it('may not move a message to another room than the one authorize judged', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth, authorize: ({ room }) => room !== 'vault' })
    parley.use(async (ctx, next) => {
      const message = ctx.message
      if (message.type === 'publish') ctx.message = { ...message, room: 'vault' }
      await next()
    })
    const alice = await connectAs(url, 'alice')
    await join(alice, 'lobby')
    alice.send({ type: 'publish', room: 'lobby', id: 'p', data: 1 })
    expect(await alice.next('error')).toMatchObject({ code: 'INTERNAL_ERROR', id: 'p' })
    expect(await parley.rooms()).toEqual([{ room: 'lobby', members: 1 }])
  })
})
