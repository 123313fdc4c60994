import { CloseCode } from '@parley/protocol'
import type { AuthenticateContext, AuthorizeContext, ServerOptions, ServerUser } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { Resources } from './helpers/fixtures.js'
import { connect, refusedHandshake, type RawClient } from './helpers/raw-client.js'
import { startServer, type TestServer } from './helpers/start-server.js'

const resources = new Resources()
afterEach(() => resources.dispose())

async function server(options: ServerOptions = {}): Promise<TestServer> {
  return resources.add(await startServer(options), (s) => s.stop())
}

async function open(url: string, options: Parameters<typeof connect>[1] = {}): Promise<RawClient> {
  return resources.add(await connect(url, options), (c) => c.ws.terminate())
}

/** An authenticate hook that records what it was given and names users after their token (`user-<token>`). */
function recordingAuth(decide: (token: string | undefined) => ServerUser | null = (t) => (t === undefined ? null : { id: `user-${t}` })) {
  const calls: AuthenticateContext[] = []
  const authenticate = (context: AuthenticateContext): ServerUser | null => {
    calls.push(context)
    return decide(context.token)
  }
  return { calls, authenticate }
}

describe('the token reaches authenticate, whichever way it travels', () => {
  it('from an Authorization: Bearer header', async () => {
    const { calls, authenticate } = recordingAuth()
    const { url } = await server({ authenticate })
    const raw = await open(url, { headers: { Authorization: 'Bearer tok-header' } })
    expect((await raw.next('welcome')).user).toBe('user-tok-header')
    expect(calls).toHaveLength(1)
    expect(calls[0]?.token).toBe('tok-header')
    // The hook also sees the upgrade request itself.
    expect(calls[0]?.request?.url).toBe('/parley')
    expect(calls[0]?.request?.headers.authorization).toBe('Bearer tok-header')
  })

  it('from the parley_token cookie among others', async () => {
    const { calls, authenticate } = recordingAuth()
    const { url } = await server({ authenticate })
    const raw = await open(url, { headers: { Cookie: 'theme=dark; parley_token=tok-cookie; other=1' } })
    expect((await raw.next('welcome')).user).toBe('user-tok-cookie')
    expect(calls.map((c) => c.token)).toEqual(['tok-cookie'])
  })

  it('from a custom tokenCookie, ignoring parley_token then', async () => {
    const { calls, authenticate } = recordingAuth()
    const { url } = await server({ authenticate, tokenCookie: 'sid' })
    const raw = await open(url, { headers: { Cookie: 'parley_token=not-this-one; sid=tok-sid' } })
    expect((await raw.next('welcome')).user).toBe('user-tok-sid')
    expect(calls.map((c) => c.token)).toEqual(['tok-sid'])
  })

  it('from the ?token= query parameter', async () => {
    const { calls, authenticate } = recordingAuth()
    const { url } = await server({ authenticate })
    const raw = await open(`${url}?room=x&token=tok-query`)
    expect((await raw.next('welcome')).user).toBe('user-tok-query')
    expect(calls.map((c) => c.token)).toEqual(['tok-query'])
  })

  it('from a parley.token.<t> Sec-WebSocket-Protocol entry (a JWT-shaped token, dots included), never selected', async () => {
    const { calls, authenticate } = recordingAuth()
    const { url } = await server({ authenticate })
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln'
    const raw = await open(url, { protocols: ['parley.v1.json', `parley.token.${jwt}`] })
    expect(raw.ws.protocol).toBe('parley.v1.json')
    expect((await raw.next('welcome')).user).toBe(`user-${jwt}`)
    expect(calls.map((c) => c.token)).toEqual([jwt])
  })

  it('with no token at all, authenticate is still asked (token undefined) and may refuse', async () => {
    const { calls, authenticate } = recordingAuth()
    const { url } = await server({ authenticate })
    const refused = await refusedHandshake(url)
    expect(refused.status).toBe(401)
    expect(refused.body['code']).toBe('UNAUTHORIZED')
    expect(calls).toHaveLength(1)
    expect(calls[0]?.token).toBeUndefined()
  })
})

describe('refusals before the upgrade', () => {
  it('answers 503 TRY_AGAIN_LATER (retryable) when authenticate throws, without leaking what it threw', async () => {
    const { url, parley } = await server({
      authenticate: () => {
        throw new Error('database password is hunter2')
      },
    })
    const refused = await refusedHandshake(url, { headers: { Authorization: 'Bearer x' } })
    expect(refused.status).toBe(503)
    expect(refused.body['code']).toBe('TRY_AGAIN_LATER')
    expect(JSON.stringify(refused.body)).not.toContain('hunter2')
    expect(parley.stats().connections).toBe(0)
  })

  it('answers 401 UNAUTHORIZED when authenticate resolves null', async () => {
    const { url } = await server({ authenticate: async () => null })
    const refused = await refusedHandshake(url, { headers: { Authorization: 'Bearer x' } })
    expect(refused.status).toBe(401)
    expect(refused.body['code']).toBe('UNAUTHORIZED')
  })

  it('answers 401 UNAUTHORIZED for a user whose expiresAt is already past', async () => {
    const { url } = await server({ authenticate: () => ({ id: 'late', expiresAt: Date.now() - 1 }) })
    const refused = await refusedHandshake(url, { headers: { Authorization: 'Bearer x' } })
    expect(refused.status).toBe(401)
    expect(refused.body['code']).toBe('UNAUTHORIZED')
  })
})

describe('token expiry and in-band refresh', () => {
  /** `short` expires in 250 ms, `long` in `longMs`, `other` is another user; anything else is refused. */
  function expiring(longMs = 60_000): NonNullable<ServerOptions['authenticate']> {
    return ({ token }) => {
      if (token === 'short') return { id: 'erin', expiresAt: Date.now() + 250 }
      if (token === 'long') return { id: 'erin', expiresAt: Date.now() + longMs }
      if (token === 'other') return { id: 'mallory' }
      return null
    }
  }

  it('closes with 4419 when the token expires while connected', async () => {
    const { url } = await server({ authenticate: expiring() })
    const started = Date.now()
    const raw = await open(url, { headers: { Authorization: 'Bearer short' } })
    await raw.next('welcome')
    const closed = await raw.closed
    expect(closed.code).toBe(CloseCode.TokenExpired)
    expect(Date.now() - started).toBeGreaterThanOrEqual(200)
  })

  it('keeps the session past the old expiry after an in-band refresh (ack with its id), then enforces the new one', async () => {
    const { url } = await server({ authenticate: expiring(600) })
    const started = Date.now()
    const raw = await open(url, { headers: { Authorization: 'Bearer short' } })
    await raw.next('welcome')
    raw.send({ type: 'authenticate', token: 'long', id: 'refresh-1' })
    expect(await raw.next('ack')).toEqual({ type: 'ack', id: 'refresh-1' })
    // Well past the first expiry (250 ms), the session still answers.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 380 - Date.now())))
    raw.send({ type: 'ping', id: 'still-there' })
    expect(await raw.next('pong')).toMatchObject({ id: 'still-there' })
    // And the refreshed expiry is the one that now ends it.
    const closed = await raw.closed
    expect(closed.code).toBe(CloseCode.TokenExpired)
    expect(Date.now() - started).toBeGreaterThanOrEqual(550)
  })

  it('answers a refresh with a token for a different user with error UNAUTHORIZED, then closes 4401', async () => {
    const { url, parley } = await server({ authenticate: expiring() })
    const raw = await open(url, { headers: { Authorization: 'Bearer long' } })
    expect((await raw.next('welcome')).user).toBe('erin')
    raw.send({ type: 'authenticate', token: 'other', id: 'swap' })
    expect(await raw.next('error')).toMatchObject({ code: 'UNAUTHORIZED', id: 'swap' })
    expect((await raw.closed).code).toBe(CloseCode.Unauthorized)
    // The session never became the other user.
    expect(parley.sessions().some((s) => s.user.id === 'mallory')).toBe(false)
  })

  it('answers a refresh with a refused token with error UNAUTHORIZED, then closes 4401', async () => {
    const { url } = await server({ authenticate: expiring() })
    const raw = await open(url, { headers: { Authorization: 'Bearer long' } })
    await raw.next('welcome')
    raw.send({ type: 'authenticate', token: 'forged', id: 'bad' })
    expect(await raw.next('error')).toMatchObject({ code: 'UNAUTHORIZED', id: 'bad' })
    expect((await raw.closed).code).toBe(CloseCode.Unauthorized)
  })
})

describe('first-message authentication', () => {
  const firstMessage = (authTimeoutMs = 1_000): ServerOptions => ({
    authMode: 'first-message',
    authTimeoutMs,
    authenticate: ({ token }) => (token === 'good' ? { id: 'frank' } : null),
  })

  it('upgrades without a token and welcomes without a user', async () => {
    const { url } = await server(firstMessage())
    const raw = await open(url)
    const welcome = await raw.next('welcome')
    expect(welcome.user).toBeUndefined()
    expect('user' in welcome).toBe(false)
  })

  it('answers messages before authenticate with error UNAUTHORIZED (with their id); then authenticate → ack, and join works', async () => {
    const { url, parley } = await server(firstMessage())
    const raw = await open(url)
    await raw.next('welcome')
    raw.send({ type: 'join', room: 'early', id: 'j-early' })
    expect(await raw.next('error')).toMatchObject({ code: 'UNAUTHORIZED', id: 'j-early' })
    raw.send({ type: 'publish', room: 'early', id: 'p-early', data: 1 })
    expect(await raw.next('error')).toMatchObject({ code: 'UNAUTHORIZED', id: 'p-early' })
    expect(await parley.rooms()).toEqual([])

    raw.send({ type: 'authenticate', token: 'good', id: 'auth-1' })
    expect(await raw.next('ack')).toEqual({ type: 'ack', id: 'auth-1' })
    raw.send({ type: 'join', room: 'early', id: 'j-after' })
    const joined = await raw.next('joined')
    expect(joined).toMatchObject({ room: 'early', id: 'j-after' })
    expect(joined.members.map((m) => m.user)).toEqual(['frank'])
    expect(parley.sessions()[0]?.user.id).toBe('frank')
  })

  it('does not close an authenticated session at the auth timeout', async () => {
    const { url } = await server(firstMessage(250))
    const raw = await open(url)
    await raw.next('welcome')
    raw.send({ type: 'authenticate', token: 'good', id: 'a' })
    await raw.next('ack')
    await new Promise((resolve) => setTimeout(resolve, 350))
    raw.send({ type: 'ping', id: 'alive' })
    expect(await raw.next('pong')).toMatchObject({ id: 'alive' })
  })

  it('closes with 4408 when no authenticate arrives within authTimeoutMs', async () => {
    const { url } = await server(firstMessage(150))
    const started = Date.now()
    const raw = await open(url)
    await raw.next('welcome')
    // Other traffic does not count as authenticating.
    raw.send({ type: 'ping', id: 'p' })
    expect((await raw.closed).code).toBe(CloseCode.AuthenticationTimeout)
    expect(Date.now() - started).toBeGreaterThanOrEqual(100)
  })

  it('refuses an already-expired token with error UNAUTHORIZED and 4401, never an ack', async () => {
    const { url } = await server({
      authMode: 'first-message',
      authenticate: ({ token }) => (token === 'stale' ? { id: 'frank', expiresAt: Date.now() - 1_000 } : null),
    })
    const raw = await open(url)
    await raw.next('welcome')
    raw.send({ type: 'authenticate', token: 'stale', id: 'old' })
    expect(await raw.next('error')).toMatchObject({ code: 'UNAUTHORIZED', id: 'old' })
    expect((await raw.closed).code).toBe(CloseCode.Unauthorized)
    expect(raw.received.some((m) => m.type === 'ack')).toBe(false)
  })

  it('closes with 4401 on a wrong token', async () => {
    const { url } = await server(firstMessage())
    const raw = await open(url)
    await raw.next('welcome')
    raw.send({ type: 'authenticate', token: 'bad', id: 'a' })
    expect((await raw.closed).code).toBe(CloseCode.Unauthorized)
    expect(raw.received.some((m) => m.type === 'ack')).toBe(false)
  })
})

describe('authorize({ user, room, action })', () => {
  /** Denies join of `vault`, publish to `readonly`, signal in `quiet`; records every question. */
  async function guarded(): Promise<{ url: string; asked: AuthorizeContext[] }> {
    const asked: AuthorizeContext[] = []
    const { url } = await server({
      authenticate: ({ token }) => (token === undefined ? null : { id: token, role: 'member' }),
      authorize: async (context) => {
        asked.push(context)
        if (context.action === 'join') return context.room !== 'vault'
        if (context.action === 'publish') return context.room !== 'readonly'
        return context.room !== 'quiet'
      },
    })
    return { url, asked }
  }

  const as = (user: string): { headers: Record<string, string> } => ({ headers: { Authorization: `Bearer ${user}` } })

  it('denies a join with error FORBIDDEN carrying the request id and room, and allows other rooms', async () => {
    const { url, asked } = await guarded()
    const raw = await open(url, as('gina'))
    await raw.next('welcome')
    raw.send({ type: 'join', room: 'vault', id: 'j-vault', presence: { status: 'here' } })
    expect(await raw.next('error')).toMatchObject({ code: 'FORBIDDEN', id: 'j-vault', room: 'vault' })
    expect(asked[0]).toMatchObject({ user: { id: 'gina', role: 'member' }, room: 'vault', action: 'join', data: { status: 'here' } })
    raw.send({ type: 'join', room: 'lobby', id: 'j-lobby' })
    expect(await raw.next('joined')).toMatchObject({ room: 'lobby', id: 'j-lobby' })
    // The denied room was never joined: publishing there is refused as not joined.
    raw.send({ type: 'publish', room: 'vault', id: 'p-vault', data: 1 })
    expect(await raw.next('error')).toMatchObject({ code: 'NOT_JOINED', id: 'p-vault' })
  })

  it('denies a publish with error FORBIDDEN carrying the id; nothing is delivered; allowed publishes are acked', async () => {
    const { url, asked } = await guarded()
    const writer = await open(url, as('hank'))
    const reader = await open(url, as('ivy'))
    await writer.next('welcome')
    await reader.next('welcome')
    for (const raw of [writer, reader]) {
      raw.send({ type: 'join', room: 'readonly', id: 'j1' })
      await raw.next('joined')
      raw.send({ type: 'join', room: 'open', id: 'j2' })
      await raw.next('joined')
    }
    writer.send({ type: 'publish', room: 'readonly', id: 'p-denied', data: { text: 'no' } })
    expect(await writer.next('error')).toMatchObject({ code: 'FORBIDDEN', id: 'p-denied', room: 'readonly' })
    expect(asked.find((c) => c.action === 'publish')).toMatchObject({ user: { id: 'hank' }, room: 'readonly', data: { text: 'no' } })
    writer.send({ type: 'publish', room: 'open', id: 'p-ok', data: { text: 'yes' } })
    expect(await writer.next('ack')).toMatchObject({ id: 'p-ok', room: 'open', seq: 1 })
    // The reader gets the allowed message only, and it is the first in its room.
    expect(await reader.next('message')).toMatchObject({ room: 'open', seq: 1, data: { text: 'yes' } })
    expect(reader.received.filter((m) => m.type === 'message' && m.room === 'readonly')).toEqual([])
  })

  it('denies a signal with error FORBIDDEN for its room and peers see nothing; allowed signals reach peers', async () => {
    const { url } = await guarded()
    const a = await open(url, as('jo'))
    const b = await open(url, as('kim'))
    await a.next('welcome')
    await b.next('welcome')
    for (const raw of [a, b]) {
      for (const room of ['quiet', 'chatty']) {
        raw.send({ type: 'join', room, id: room })
        await raw.next('joined')
      }
    }
    a.send({ type: 'signal', room: 'quiet', key: 'typing', value: true })
    expect(await a.next('error')).toMatchObject({ code: 'FORBIDDEN', room: 'quiet' })
    a.send({ type: 'signal', room: 'chatty', key: 'typing', value: true })
    expect(await b.next('signal')).toMatchObject({ room: 'chatty', from: 'jo', key: 'typing', value: true })
    expect(b.received.filter((m) => m.type === 'signal' && m.room === 'quiet')).toEqual([])
  })
})
