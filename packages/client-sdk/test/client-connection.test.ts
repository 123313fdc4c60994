import { CloseCode, SUBPROTOCOLS, TOKEN_SUBPROTOCOL_PREFIX } from '@parley/protocol'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  AuthError,
  ParleyClientError,
  UnsupportedProtocolError,
  createClient,
  type Client,
  type ClientOptions,
} from '@parley/client-sdk'
import { createFakeServer, createRoomServer, welcomeMessage, type FakeServer } from './helpers/fake-server.js'
import { collect, flush, nextEvent, opened } from './helpers/wait.js'

let clients: Client[] = []
function connect(server: FakeServer, options: ClientOptions = {}, url: string | string[] = 'loop://one'): Client {
  const client = createClient(url, { transport: server.transport, random: () => 0.5, ...options })
  clients.push(client)
  return client
}

beforeEach(() => void vi.useFakeTimers())
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()))
  clients = []
  vi.useRealTimers()
})

describe('connecting', () => {
  it('goes connecting → open on welcome, exposing the negotiated protocol, version, session and user', async () => {
    const server = createFakeServer()
    const client = connect(server)
    const states = collect(client, 'state')
    expect(client.state).toBe('connecting')
    expect(client.protocol).toBeUndefined()
    const welcome = await nextEvent(client, 'welcome')
    expect(client.state).toBe('open')
    expect(states).toEqual(['open'])
    expect(welcome.session).toBe('s-1')
    expect(client.protocol).toBe('parley.v1.json')
    expect(client.version).toBe(1)
    expect(client.session).toBe('s-1')
    expect(client.user).toBe('u-1')
    expect(client.welcome).toEqual(welcome)
  })

  it('offers every subprotocol it speaks, newest first, and hands the token to the transport', async () => {
    const server = createFakeServer()
    connect(server, { token: 'tok-1' })
    await server.nextConnection()
    expect(server.requests[0]).toEqual({ url: 'loop://one', protocols: SUBPROTOCOLS, token: 'tok-1' })
    // The browser form of the token is an extra entry after the versions, never one the server could select.
    expect(SUBPROTOCOLS.every((p) => !p.startsWith(TOKEN_SUBPROTOCOL_PREFIX))).toBe(true)
  })

  it('retries a failed handshake with backoff, staying in connecting', async () => {
    const server = createFakeServer()
    let refusals = 2
    server.handshake = () => (refusals-- > 0 ? { accept: false, status: 503, body: { code: 'TRY_AGAIN_LATER' } } : { accept: true })
    const client = connect(server, { reconnect: { initialDelayMs: 1_000 } })
    const reconnects = collect(client, 'reconnect')
    const states = collect(client, 'state')
    await flush()
    expect(reconnects).toHaveLength(1)
    expect(reconnects[0]).toMatchObject({ attempt: 1, delayMs: 500, code: 1006 })
    expect(reconnects[0]?.error?.code).toBe('CONNECTION_FAILED')
    expect(reconnects[0]?.error?.status).toBe(503)
    expect(client.state).toBe('connecting')
    await vi.advanceTimersByTimeAsync(500)
    expect(reconnects.map((r) => [r.attempt, r.delayMs])).toEqual([
      [1, 500],
      [2, 1_000],
    ])
    await vi.advanceTimersByTimeAsync(1_000)
    expect(client.state).toBe('open')
    expect(states).toEqual(['open'])
    expect(server.requests).toHaveLength(3)
  })

  it('gives up after maxAttempts with CONNECTION_FAILED and closes', async () => {
    const server = createFakeServer()
    server.handshake = () => ({ accept: false, status: 503 })
    const client = connect(server, { reconnect: { maxAttempts: 2, initialDelayMs: 100 } })
    const errors = collect(client, 'error')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(server.requests).toHaveLength(3)
    expect(client.state).toBe('closed')
    expect(errors.map((e) => e.code)).toEqual(['CONNECTION_FAILED'])
  })

  it('with reconnect: false, one failed attempt ends the client', async () => {
    const server = createFakeServer()
    server.handshake = () => ({ accept: false, status: 503 })
    const client = connect(server, { reconnect: false })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(server.requests).toHaveLength(1)
    expect(client.state).toBe('closed')
  })

  it('abandons an attempt whose welcome does not come within connectTimeoutMs, then retries', async () => {
    const server = createFakeServer()
    let first = true
    server.handshake = () => (first ? ((first = false), { accept: true, welcome: false }) : { accept: true })
    const client = connect(server, { connectTimeoutMs: 2_000 })
    const connection = await server.nextConnection()
    const reconnect = nextEvent(client, 'reconnect')
    await vi.advanceTimersByTimeAsync(1_999)
    expect(connection.isClosed).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await reconnect).toMatchObject({ attempt: 1, code: 1006, reason: 'No welcome within 2000 ms' })
    expect(connection.isClosed).toBe(true)
    await vi.advanceTimersByTimeAsync(250)
    expect(client.state).toBe('open')
  })

  it('a custom transport that throws counts as a failed attempt and is retried', async () => {
    const server = createFakeServer()
    let calls = 0
    const client = createClient('loop://x', {
      random: () => 0.5,
      transport: (request) => {
        if (++calls === 1) throw new Error('no socket for you')
        return server.transport(request)
      },
    })
    clients.push(client)
    const reconnect = await nextEvent(client, 'reconnect')
    expect(reconnect).toMatchObject({ attempt: 1, code: 1006, reason: 'Transport failed' })
    expect(reconnect.error?.message).toBe('no socket for you')
    await vi.advanceTimersByTimeAsync(reconnect.delayMs)
    await opened(client)
    expect(calls).toBe(2)
  })

  it('rotates through its URLs on every reconnect', async () => {
    const server = createFakeServer()
    server.handshake = () => ({ accept: false, status: 502 })
    const client = connect(server, { reconnect: { maxAttempts: 4, initialDelayMs: 10 } }, ['loop://a', 'loop://b', 'loop://c'])
    const reconnects = collect(client, 'reconnect')
    await vi.advanceTimersByTimeAsync(1_000)
    expect(server.requests.map((r) => r.url)).toEqual(['loop://a', 'loop://b', 'loop://c', 'loop://a', 'loop://b'])
    expect(reconnects.map((r) => r.url)).toEqual(['loop://b', 'loop://c', 'loop://a', 'loop://b'])
  })
})

describe('fatal failures surface as typed errors and are never retried', () => {
  it('HTTP 401 → AuthError with the server message, closed, no retry', async () => {
    const server = createFakeServer()
    server.handshake = () => ({ accept: false, status: 401, body: { code: 'UNAUTHORIZED', message: 'token revoked' } })
    const client = connect(server, { token: 'bad' })
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(AuthError)
    expect(error.code).toBe('UNAUTHORIZED')
    expect(error.closeCode).toBe(4401)
    expect(error.status).toBe(401)
    expect(error.message).toBe('token revoked')
    expect(client.state).toBe('closed')
    await vi.advanceTimersByTimeAsync(120_000)
    expect(server.requests).toHaveLength(1)
  })

  it('HTTP 426 → UnsupportedProtocolError naming both sides, no retry', async () => {
    const server = createFakeServer()
    server.handshake = () => ({
      accept: false,
      status: 426,
      body: { code: 'UNSUPPORTED_VERSION', message: 'no common version', supported: ['parley.v3.json', 'parley.v9.json'], offered: ['parley.v1.json'] },
    })
    const client = connect(server)
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(UnsupportedProtocolError)
    const mismatch = error as UnsupportedProtocolError
    expect(mismatch.code).toBe('UNSUPPORTED_VERSION')
    expect(mismatch.offered).toEqual(['parley.v2.json', 'parley.v1.json'])
    expect(mismatch.supported).toEqual(['parley.v3.json', 'parley.v9.json'])
    expect(mismatch.message).toContain('parley.v1.json')
    expect(mismatch.message).toContain('parley.v3.json, parley.v9.json')
    await vi.advanceTimersByTimeAsync(120_000)
    expect(client.state).toBe('closed')
    expect(server.requests).toHaveLength(1)
  })

  it('a server selecting a subprotocol never offered → UnsupportedProtocolError, closed 4406 to the server', async () => {
    const server = createFakeServer()
    server.handshake = () => ({ accept: true, protocol: 'parley.v9.json', welcome: false })
    const client = connect(server)
    const failed = nextEvent(client, 'error')
    const connection = await server.nextConnection()
    const error = await failed
    expect(error).toBeInstanceOf(UnsupportedProtocolError)
    expect((error as UnsupportedProtocolError).supported).toEqual(['parley.v9.json'])
    expect(await connection.closed).toEqual({ code: 4406, reason: 'Unsupported protocol version' })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(server.requests).toHaveLength(1)
  })

  it('a welcome announcing a protocol never offered → UnsupportedProtocolError', async () => {
    const server = createFakeServer({ protocol: 'parley.v9.json', version: 2 })
    const client = connect(server)
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(UnsupportedProtocolError)
    expect(client.state).toBe('closed')
    expect(client.protocol).toBeUndefined()
  })

  it.each([
    [CloseCode.Unauthorized, AuthError, 'UNAUTHORIZED'],
    [CloseCode.UnsupportedVersion, UnsupportedProtocolError, 'UNSUPPORTED_VERSION'],
    [CloseCode.Forbidden, ParleyClientError, 'FORBIDDEN'],
    [CloseCode.BadRequest, ParleyClientError, 'CONNECTION_CLOSED'],
    [CloseCode.Normal, ParleyClientError, 'CONNECTION_CLOSED'],
    [CloseCode.MessageTooBig, ParleyClientError, 'CONNECTION_CLOSED'],
  ])('close %i after open → %o %s, closed, no retry', async (code, type, errorCode) => {
    const server = createFakeServer()
    const client = connect(server)
    const connection = await server.nextConnection()
    await opened(client)
    const states = collect(client, 'state')
    connection.close(code, 'server says no')
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(type)
    expect(error.code).toBe(errorCode)
    expect(error.closeCode).toBe(code)
    expect(states).toEqual(['closed'])
    await vi.advanceTimersByTimeAsync(120_000)
    expect(server.requests).toHaveLength(1)
  })

  it('getToken throwing an AuthError stops the client; anything else is retried', async () => {
    const server = createFakeServer()
    const getToken = vi
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(new Error('auth service down'))
      .mockRejectedValueOnce(new AuthError('logged out'))
    const client = connect(server, { getToken })
    const reconnect = await nextEvent(client, 'reconnect')
    expect(reconnect.error?.message).toBe('auth service down')
    const error = nextEvent(client, 'error')
    await vi.advanceTimersByTimeAsync(reconnect.delayMs)
    expect((await error).message).toBe('logged out')
    expect(client.state).toBe('closed')
    expect(getToken).toHaveBeenCalledTimes(2)
    expect(server.requests).toHaveLength(0)
  })
})

describe('reconnecting', () => {
  it.each([CloseCode.GoingAway, CloseCode.ServiceRestart, CloseCode.TryAgainLater, CloseCode.TokenExpired, CloseCode.SlowConsumer, CloseCode.Abnormal])(
    'after close %i: open → reconnecting → open, with a backoff delay inside the bounds',
    async (code) => {
      const server = createFakeServer()
      const random = vi.fn(() => 0.999)
      const client = connect(server, { random, reconnect: { initialDelayMs: 400 } })
      const first = await server.nextConnection()
      await opened(client)
      const states = collect(client, 'state')
      first.close(code, 'bye')
      const reconnect = await nextEvent(client, 'reconnect')
      expect(reconnect).toMatchObject({ attempt: 1, code, reason: 'bye' })
      expect(reconnect.delayMs).toBeGreaterThanOrEqual(0)
      expect(reconnect.delayMs).toBeLessThan(400)
      expect(random).toHaveBeenCalled()
      expect(client.state).toBe('reconnecting')
      await vi.advanceTimersByTimeAsync(reconnect.delayMs - 1)
      expect(server.connections).toHaveLength(1)
      await vi.advanceTimersByTimeAsync(1)
      await server.nextConnection()
      await opened(client)
      expect(states).toEqual(['reconnecting', 'open'])
    },
  )

  it('grows the delay bound per failed attempt and resets it after a welcome', async () => {
    const server = createFakeServer()
    const client = connect(server, { random: () => 0.999_999, reconnect: { initialDelayMs: 100, maxDelayMs: 350 } })
    const first = await server.nextConnection()
    await opened(client)
    const reconnects = collect(client, 'reconnect')
    server.handshake = () => ({ accept: false, status: 503 })
    first.close(1012)
    await vi.advanceTimersByTimeAsync(2_000)
    const bounds = reconnects.slice(0, 4).map((r) => r.delayMs)
    expect(bounds).toEqual([99, 199, 349, 349])
    server.handshake = () => ({ accept: true })
    await vi.advanceTimersByTimeAsync(1_000)
    expect(client.state).toBe('open')
    const count = reconnects.length
    server.connections.at(-1)?.close(1012)
    await flush()
    expect(reconnects[count]).toMatchObject({ attempt: 1, delayMs: 99 })
  })

  it('calls getToken on every (re)connect, after the static token was used once', async () => {
    const server = createFakeServer()
    let n = 0
    const getToken = vi.fn(async () => `fresh-${++n}`)
    const client = connect(server, { token: 'static', getToken })
    const first = await server.nextConnection()
    expect(first.end.request.token).toBe('static')
    expect(getToken).not.toHaveBeenCalled()
    await opened(client)
    first.close(1012)
    await vi.advanceTimersByTimeAsync(1_000)
    const second = await server.nextConnection()
    expect(second.end.request.token).toBe('fresh-1')
    second.close(1001)
    await vi.advanceTimersByTimeAsync(1_000)
    expect((await server.nextConnection()).end.request.token).toBe('fresh-2')
  })

  it('reuses the static token on every reconnect when there is no getToken', async () => {
    const server = createFakeServer()
    const client = connect(server, { token: 'static' })
    const first = await server.nextConnection()
    await opened(client)
    first.close(1012)
    await vi.advanceTimersByTimeAsync(1_000)
    expect((await server.nextConnection()).end.request.token).toBe('static')
  })
})

describe('heartbeat', () => {
  it('detects a silent (half-open) server within interval + timeout and reconnects', async () => {
    const server = createRoomServer({ welcome: { heartbeat: { intervalMs: 1_000, timeoutMs: 500 } } })
    const client = connect(server)
    const first = await server.nextConnection()
    await opened(client)
    server.silence(first)
    const reconnects = collect(client, 'reconnect')
    await vi.advanceTimersByTimeAsync(1_000)
    expect((await first.next('ping')).type).toBe('ping')
    await vi.advanceTimersByTimeAsync(499)
    expect(reconnects).toHaveLength(0)
    expect(client.state).toBe('open')
    await vi.advanceTimersByTimeAsync(1)
    expect(reconnects).toEqual([expect.objectContaining({ code: 1006, reason: 'Heartbeat timeout' })])
    expect(client.state).toBe('reconnecting')
    expect(await first.closed).toEqual({ code: 1000, reason: 'Heartbeat timeout' })
    await vi.advanceTimersByTimeAsync(1_000)
    expect(server.connections).toHaveLength(2)
    expect(client.state).toBe('open')
  })

  it('stays open while the server answers pings', async () => {
    const server = createRoomServer({ welcome: { heartbeat: { intervalMs: 1_000, timeoutMs: 500 } } })
    const client = connect(server)
    const first = await server.nextConnection()
    await opened(client)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(first.received.filter((m) => m.type === 'ping').length).toBeGreaterThanOrEqual(6)
    expect(client.state).toBe('open')
    expect(server.connections).toHaveLength(1)
  })

  it('client options override the welcome settings; false turns the heartbeat off', async () => {
    const server = createRoomServer()
    const fast = connect(server, { heartbeat: { intervalMs: 200 } })
    const connection = await server.nextConnection()
    await opened(fast)
    await vi.advanceTimersByTimeAsync(200)
    expect(connection.received.map((m) => m.type)).toContain('ping')

    const silentServer = createRoomServer({ welcome: { heartbeat: { intervalMs: 100, timeoutMs: 100 } } })
    const off = connect(silentServer, { heartbeat: false })
    const quiet = await silentServer.nextConnection()
    await opened(off)
    silentServer.silence(quiet)
    await vi.advanceTimersByTimeAsync(5_000)
    expect(quiet.received.map((m) => m.type)).not.toContain('ping')
    expect(off.state).toBe('open')
  })
})

describe('tokens in band', () => {
  it('refreshes with authenticate refreshBeforeMs before expiry, and again for the next token', async () => {
    vi.setSystemTime(1_000_000)
    const server = createRoomServer()
    let n = 0
    const getToken = vi.fn(async () => ({ token: `t${++n}`, expiresAt: Date.now() + 60_000 }))
    const client = connect(server, { getToken, refreshBeforeMs: 10_000 })
    const connection = await server.nextConnection()
    await opened(client)
    expect(connection.end.request.token).toBe('t1')
    await vi.advanceTimersByTimeAsync(49_999)
    expect(connection.received.filter((m) => m.type === 'authenticate')).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(await connection.next('authenticate')).toMatchObject({ token: 't2' })
    await vi.advanceTimersByTimeAsync(50_000)
    expect(await connection.next('authenticate')).toMatchObject({ token: 't3' })
    expect(client.state).toBe('open')
  })

  it('a token that lives less than refreshBeforeMs is refreshed at half its life, not at once, and so is the next', async () => {
    vi.setSystemTime(2_000_000)
    const server = createRoomServer()
    let n = 0
    // 4-second tokens, as a JWT with whole-second expiry might be; the default lead is 30 s.
    const getToken = vi.fn(async () => ({ token: `s${++n}`, expiresAt: Date.now() + 4_000 }))
    const client = connect(server, { getToken })
    const connection = await server.nextConnection()
    await opened(client)
    await vi.advanceTimersByTimeAsync(1_999)
    expect(connection.received.filter((m) => m.type === 'authenticate')).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(await connection.next('authenticate')).toMatchObject({ token: 's2' })
    await vi.advanceTimersByTimeAsync(2_000)
    expect(await connection.next('authenticate')).toMatchObject({ token: 's3' })
  })

  it('a static token with tokenExpiresAt is refreshed through getToken', async () => {
    vi.setSystemTime(5_000_000)
    const server = createRoomServer()
    const client = connect(server, { token: 'first', tokenExpiresAt: 5_000_000 + 40_000, getToken: () => 'second' })
    const connection = await server.nextConnection()
    await opened(client)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(await connection.next('authenticate')).toMatchObject({ token: 'second' })
  })

  it('a rejected refresh is reported, then the server close 4401 ends the client with an AuthError', async () => {
    vi.setSystemTime(0)
    const server = createFakeServer()
    const client = connect(server, { getToken: () => ({ token: 'tok', expiresAt: 35_000 }) })
    const connection = await server.nextConnection()
    await opened(client)
    const errors = collect(client, 'error')
    await vi.advanceTimersByTimeAsync(5_000)
    const auth = await connection.next('authenticate')
    connection.send({ type: 'error', code: 'UNAUTHORIZED', message: 'revoked', ...(auth.id === undefined ? {} : { id: auth.id }) })
    connection.close(4401, 'revoked')
    await flush()
    expect(errors.map((e) => [e.name, e.code])).toEqual([
      ['AuthError', 'UNAUTHORIZED'],
      ['AuthError', 'UNAUTHORIZED'],
    ])
    expect(client.state).toBe('closed')
  })

  it('first-message authentication: a welcome without user gets the token in band before any join', async () => {
    const server = createRoomServer()
    const { user: _user, ...anonymous } = welcomeMessage()
    server.handshake = () => ({ accept: true, welcome: anonymous })
    const client = connect(server, { token: 'tok' })
    client.join('lobby')
    const connection = await server.nextConnection()
    const first = await connection.next()
    expect(first).toMatchObject({ type: 'authenticate', token: 'tok' })
    const join = await connection.next()
    expect(join).toMatchObject({ type: 'join', room: 'lobby' })
  })
})

describe('close()', () => {
  it('is idempotent and final: closed once, no reconnect, joins throw CLOSED', async () => {
    const server = createFakeServer()
    const client = connect(server)
    const connection = await server.nextConnection()
    await opened(client)
    const states = collect(client, 'state')
    const closing = client.close()
    expect(client.close()).toBe(closing)
    await closing
    await client.close()
    expect(states).toEqual(['closed'])
    expect(await connection.closed).toEqual({ code: 1000, reason: 'Client closed' })
    await vi.advanceTimersByTimeAsync(120_000)
    expect(server.requests).toHaveLength(1)
    expect(() => client.join('x')).toThrowError(expect.objectContaining({ code: 'CLOSED' }))
    expect(vi.getTimerCount()).toBe(0)
  })

  it('during a backoff wait cancels the retry', async () => {
    const server = createFakeServer()
    server.handshake = () => ({ accept: false, status: 503 })
    const client = connect(server)
    await nextEvent(client, 'reconnect')
    await client.close()
    await vi.advanceTimersByTimeAsync(120_000)
    expect(server.requests).toHaveLength(1)
    expect(client.state).toBe('closed')
  })

  it('while getToken is pending never opens a connection', async () => {
    const server = createFakeServer()
    let release: (token: string) => void = () => undefined
    const client = connect(server, { getToken: () => new Promise<string>((resolve) => (release = resolve)) })
    await flush()
    const closing = client.close()
    release('late')
    await closing
    await flush()
    expect(server.requests).toHaveLength(0)
  })

  it('a state handler may close the client while it reconnects', async () => {
    const server = createFakeServer()
    const client = connect(server)
    const first = await server.nextConnection()
    await opened(client)
    client.on('state', (state) => {
      if (state === 'reconnecting') void client.close()
    })
    const reconnects = collect(client, 'reconnect')
    first.close(1012)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(client.state).toBe('closed')
    expect(reconnects).toEqual([])
    expect(server.requests).toHaveLength(1)
  })
})

describe('options', () => {
  it.each([
    [{ ackTimeoutMs: 0 }, 'ackTimeoutMs'],
    [{ reconnect: { factor: 0.5 } }, 'reconnect.factor'],
    [{ reconnect: { initialDelayMs: Number.NaN } }, 'reconnect.initialDelayMs'],
    [{ offlineQueueSize: -1 }, 'offlineQueueSize'],
    [{ getToken: 'nope' as never }, 'getToken'],
    [{ token: '' }, 'token'],
    [{ subprotocols: [] }, 'subprotocols'],
  ] as Array<[ClientOptions, string]>)('rejects %o at createClient()', (options, name) => {
    expect(() => createClient('loop://x', { transport: createFakeServer().transport, ...options })).toThrowError(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(name) }),
    )
  })

  it('rejects an empty URL list', () => {
    expect(() => createClient([], {})).toThrowError(expect.objectContaining({ code: 'INVALID_OPTION' }))
  })
})
