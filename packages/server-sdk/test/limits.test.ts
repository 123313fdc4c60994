import { describe, expect, it } from 'vitest'
import { connect, refusedHandshake } from './helpers/raw-client.js'
import { all, connectAnon, connectAs, join, tokenAuth, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()

describe('limits', () => {
  it('closes 1009 on a frame over limits.maxPayload, and accepts one at the limit', async () => {
    const { url, parley } = await servers.start({ limits: { maxPayload: 1_024 } })
    const { client: fits } = await connectAnon(url)
    await join(fits, 'lobby')
    const padding = (total: number) => 'x'.repeat(total - '{"type":"publish","room":"lobby","id":"p","data":""}'.length)
    const atLimit = `{"type":"publish","room":"lobby","id":"p","data":"${padding(1_024)}"}`
    expect(Buffer.byteLength(atLimit)).toBe(1_024)
    fits.send(atLimit)
    expect(await fits.next('ack')).toMatchObject({ id: 'p', seq: 1 })
    const over = `{"type":"publish","room":"lobby","id":"q","data":"${padding(1_025)}"}`
    fits.send(over)
    expect((await fits.closed).code).toBe(1009)
    expect(parley.stats().connections).toBe(0)
    expect((await connectAnon(url)).client.ws.readyState).toBe(1)
  })

  it('announces its limits in welcome', async () => {
    const { url } = await servers.start({ limits: { maxPayload: 2_000, maxRooms: 3, rate: { messages: 7, perMs: 500 } } })
    const client = await connect(url)
    expect((await client.next('welcome')).limits).toEqual({ maxPayload: 2_000, maxRooms: 3, rate: { messages: 7, perMs: 500 } })
  })

  it('closes 1003 on a binary frame', async () => {
    const { url, parley } = await servers.start()
    const { client } = await connectAnon(url)
    client.ws.send(Buffer.from('{"type":"ping"}'), { binary: true })
    expect((await client.closed).code).toBe(1003)
    expect(parley.stats().errors).toMatchObject({ UNSUPPORTED_DATA: 1 })
  })

  it('answers publishes over limits.rate with RATE_LIMITED carrying the id, and serves them again after the refill', async () => {
    const { url } = await servers.start({ limits: { rate: { messages: 5, perMs: 400 } } })
    const { client } = await connectAnon(url)
    await join(client, 'lobby')
    for (let i = 1; i <= 8; i++) client.send({ type: 'publish', room: 'lobby', id: `r${i}`, data: i })
    await waitUntil(() => all(client, 'ack').length + all(client, 'error').length === 8, 'eight answers')
    expect(all(client, 'ack').map((a) => a.id)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5'])
    expect(all(client, 'error').map((e) => [e.code, e.id, e.room])).toEqual([
      ['RATE_LIMITED', 'r6', 'lobby'],
      ['RATE_LIMITED', 'r7', 'lobby'],
      ['RATE_LIMITED', 'r8', 'lobby'],
    ])
    // Refused messages are not delivered.
    expect(all(client, 'message').map((m) => m.data)).toEqual([1, 2, 3, 4, 5])
    // Other kinds of message have their own bucket: a ping still gets through.
    client.send({ type: 'ping', id: 'still-alive' })
    expect(await client.next('pong')).toMatchObject({ id: 'still-alive' })
    await client.quiet(200)
    client.send({ type: 'publish', room: 'lobby', id: 'later', data: 'refilled' })
    expect(await client.next('ack')).toMatchObject({ id: 'later', seq: 6 })
  })

  it('closes 4429 on sustained abuse past maxRateLimitedPer10s', async () => {
    const { url, parley } = await servers.start({ limits: { rate: { messages: 2, perMs: 10_000 }, maxRateLimitedPer10s: 10 } })
    const { client } = await connectAnon(url)
    await join(client, 'lobby')
    for (let i = 0; i < 13; i++) client.send({ type: 'publish', room: 'lobby', id: `a${i}`, data: i })
    // 2 pass, 10 are refused and answered, the 11th refusal is answered and ends the session.
    expect((await client.closed).code).toBe(4429)
    expect(all(client, 'error').filter((e) => e.code === 'RATE_LIMITED')).toHaveLength(11)
    expect(parley.stats().errors.RATE_LIMITED).toBe(11)
  })

  it('stays open at exactly maxRateLimitedPer10s refusals', async () => {
    const { url } = await servers.start({ limits: { rate: { messages: 2, perMs: 10_000 }, maxRateLimitedPer10s: 10 } })
    const { client } = await connectAnon(url)
    await join(client, 'lobby')
    for (let i = 0; i < 12; i++) client.send({ type: 'publish', room: 'lobby', id: `a${i}`, data: i })
    await waitUntil(() => all(client, 'error').length === 10, 'ten refusals')
    client.send({ type: 'ping', id: 'ok' })
    expect(await client.next('pong')).toMatchObject({ id: 'ok' })
    expect(client.ws.readyState).toBe(client.ws.OPEN)
  })

  it('refuses a join past maxRooms with TOO_MANY_ROOMS, while rejoining a joined room still works', async () => {
    const { url } = await servers.start({ limits: { maxRooms: 2 } })
    const { client } = await connectAnon(url)
    await join(client, 'one')
    await join(client, 'two')
    client.send({ type: 'join', room: 'three', id: 'j3' })
    expect(await client.next('error')).toMatchObject({ code: 'TOO_MANY_ROOMS', id: 'j3', room: 'three' })
    expect((await join(client, 'two', { id: 'again' })).id).toBe('again')
    client.send({ type: 'leave', room: 'one' })
    await client.next('left')
    expect((await join(client, 'three', { id: 'j3b' })).id).toBe('j3b')
  })

  it('answers each invalid frame with an error, and closes 4400 past maxInvalidPerMinute', async () => {
    const { url } = await servers.start({ limits: { maxInvalidPerMinute: 3 } })
    const { client } = await connectAnon(url)
    for (let i = 0; i < 3; i++) client.send('not json')
    await waitUntil(() => all(client, 'error').length === 3, 'three errors')
    expect(all(client, 'error').map((e) => e.code)).toEqual(['INVALID_JSON', 'INVALID_JSON', 'INVALID_JSON'])
    client.send({ type: 'ping', id: 'alive' })
    expect(await client.next('pong')).toMatchObject({ id: 'alive' })
    client.send('{"type":"nope"}')
    expect((await client.closed).code).toBe(4400)
    expect(all(client, 'error').at(-1)).toMatchObject({ code: 'UNKNOWN_TYPE' })
  })

  it('refuses a user\'s connection past maxConnectionsPerUser with HTTP 429 before the upgrade', async () => {
    const { url } = await servers.start({ authenticate: tokenAuth, limits: { maxConnectionsPerUser: 2 } })
    await connectAs(url, 'alice')
    await connectAs(url, 'alice')
    const refused = await refusedHandshake(url, { headers: { authorization: 'Bearer alice' } })
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' })
    await connectAs(url, 'bob')
  })

  it('refuses connections past maxConnections with HTTP 503 and Retry-After', async () => {
    const { url, parley } = await servers.start({ limits: { maxConnections: 2 } })
    const { client: first } = await connectAnon(url)
    await connectAnon(url)
    const refused = await refusedHandshake(url)
    expect(refused.status).toBe(503)
    expect(refused.body).toMatchObject({ code: 'TRY_AGAIN_LATER' })
    expect(refused.headers['retry-after']).toBeDefined()
    first.close()
    await first.closed
    await waitUntil(() => parley.stats().connections === 1, 'the server saw the close')
    await expect(connectAnon(url)).resolves.toMatchObject({ user: expect.any(String) as unknown as string })
  })
})
