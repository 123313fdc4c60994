import { afterEach, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { checkEnvelope, createRedisAdapter, ENVELOPE_VERSION } from '@parley/redis-adapter'
import type { Logger } from '@parley/server-sdk'
import { connect } from '../../server-sdk/test/helpers/raw-client.js'
import { startServer, type TestServer } from '../../server-sdk/test/helpers/start-server.js'
import { redisAvailable } from './redis-available.js'

// What arrives from Redis is delivered to clients, so each envelope is checked with the protocol's validator: a
// corrupt or forged one is logged and dropped, never cast and trusted. De-duplication keeps a publish's position
// per id in Redis, never its payload.

const message = { type: 'message', room: 'r', seq: 1, epoch: 'e1', from: 'u', ts: 1, data: { n: 1 } }

describe('checkEnvelope', () => {
  it('accepts each kind of envelope the adapter writes, with the messages as the protocol decodes them', () => {
    expect(checkEnvelope({ v: ENVELOPE_VERSION, k: 'm', x: null, m: message })).toEqual({ v: 1, k: 'm', x: null, m: message })
    expect(checkEnvelope({ v: 1, k: 'p', room: 'r', e: 'join', member: { user: 'u', presence: null, connections: 1 } })).toMatchObject({ k: 'p', room: 'r', e: 'join' })
    expect(checkEnvelope({ v: 1, k: 's', m: { type: 'signal', room: 'r', from: 'u', key: 'typing', value: true, ttlMs: 100 } })).toMatchObject({ k: 's' })
    expect(checkEnvelope({ v: 1, k: 'd', u: 'u', m: { type: 'direct', from: null, ts: 1, data: 'hi' } })).toMatchObject({ k: 'd', u: 'u' })
  })

  it('drops, with a reason, what is not a valid envelope of a known version and kind', () => {
    const bad: unknown[] = [
      null,
      'text',
      { v: 2, k: 'm', x: null, m: message },
      { v: 1, k: 'z' },
      { v: 1, k: 'm', x: 5, m: message },
      { v: 1, k: 'm', x: null, m: { ...message, seq: -1 } },
      { v: 1, k: 'm', x: null, m: { ...message, room: 'bad room!' } },
      { v: 1, k: 'm', x: null, m: { ...message, data: JSON.parse('{"__proto__":{"polluted":true}}') as unknown } },
      { v: 1, k: 'm', x: null, m: { type: 'presence', room: 'r', event: 'join', member: { user: 'u', presence: null, connections: 1 } } },
      { v: 1, k: 'p', room: 'r', e: 'explode', member: { user: 'u', presence: null, connections: 1 } },
      { v: 1, k: 's', m: { type: 'signal', room: 'r', key: 'typing', value: true } },
      { v: 1, k: 'd', u: 7, m: { type: 'direct', from: null, ts: 1, data: 'hi' } },
    ]
    for (const envelope of bad) expect(typeof checkEnvelope(envelope), JSON.stringify(envelope)).toBe('string')
  })
})

const hasRedis = await redisAvailable()
const servers: TestServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

describe.skipIf(!hasRedis)('redis adapter: envelopes and de-duplication in Redis', () => {
  it('logs and drops a corrupt envelope on a room channel; members get only the valid messages around it', async () => {
    const keyPrefix = `parley-test-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const warnings: string[] = []
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (_fields, text: string) => void warnings.push(text), error: () => undefined }
    const server = await startServer({ adapter: createRedisAdapter({ keyPrefix, logger }) })
    servers.push(server)
    const client = await connect(server.url)
    await client.next('welcome')
    client.send({ type: 'join', room: 'lobby', id: 'j' })
    const joined = await client.next('joined')
    await server.parley.room('lobby').publish({ n: 1 })
    const redis = createClient({ url: 'redis://127.0.0.1:6379' })
    await redis.connect()
    const channel = `${keyPrefix}:ch:room:lobby`
    await redis.publish(channel, JSON.stringify({ v: 1, k: 'm', x: null, m: { type: 'message', room: 'lobby', seq: 'two', epoch: joined.epoch, from: 'mallory', ts: 1, data: { n: 'forged' } } }))
    await redis.publish(channel, '{"v":1,"k":"m","x":null,"m":')
    await redis.quit()
    await server.parley.room('lobby').publish({ n: 2 })
    expect((await client.next('message')).data).toEqual({ n: 1 })
    const second = await client.next('message')
    expect(second).toMatchObject({ seq: 2, data: { n: 2 } })
    expect(warnings.some((text) => text.includes('envelope dropped'))).toBe(true)
    expect(warnings.some((text) => text.includes('unreadable envelope'))).toBe(true)
    client.close()
  })

  it('keeps a publish position per id in Redis, not its payload, and answers a retry with it', async () => {
    const keyPrefix = `parley-test-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const server = await startServer({ adapter: createRedisAdapter({ keyPrefix }), authenticate: ({ token }) => (token === undefined ? null : { id: token }) })
    servers.push(server)
    const client = await connect(server.url, { headers: { authorization: 'Bearer una' } })
    await client.next('welcome')
    client.send({ type: 'join', room: 'big', id: 'j' })
    await client.next('joined')
    const data = { text: 'x'.repeat(32 * 1024) }
    client.send({ type: 'publish', room: 'big', id: 'p1', data })
    const ack = await client.next('ack')
    client.send({ type: 'publish', room: 'big', id: 'p1', data })
    expect(await client.next('ack')).toEqual({ ...ack, duplicate: true })
    const redis = createClient({ url: 'redis://127.0.0.1:6379' })
    await redis.connect()
    const keys = await redis.keys(`${keyPrefix}:dedup:*`)
    expect(keys).toHaveLength(1)
    const stored = await redis.get(keys[0] as string)
    await redis.quit()
    expect(stored === null ? 0 : stored.length).toBeLessThan(100)
    expect(JSON.parse(stored ?? '{}')).toEqual({ seq: ack.seq, epoch: ack.epoch, ts: expect.any(Number) as unknown })
    client.close()
  })
})
