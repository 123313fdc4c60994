import type { ServerOptions, ServerUser } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { Resources, tryHandshake, until } from './helpers/fixtures.js'
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

/** Users are named by their token. */
const byToken: NonNullable<ServerOptions['authenticate']> = ({ token }) => (token === undefined ? null : { id: token })

describe('subprotocol negotiation', () => {
  it('answers 426 naming what the server speaks and what was offered when only parley.v9.json is offered', async () => {
    const { url, parley } = await server()
    const refused = await refusedHandshake(url, { protocols: ['parley.v9.json'] })
    expect(refused.status).toBe(426)
    expect(refused.body).toMatchObject({ code: 'UNSUPPORTED_VERSION', supported: ['parley.v2.json', 'parley.v1.json'], offered: ['parley.v9.json'] })
    expect(typeof refused.body['message']).toBe('string')
    expect(refused.headers['content-type']).toMatch(/^application\/json/)
    expect(parley.stats().connections).toBe(0)
  })

  it('answers 426 with an empty offered list when no Parley subprotocol (or none at all) is offered', async () => {
    const { url } = await server()
    for (const protocols of [[], ['graphql-ws'], ['parley.token.abc']]) {
      const refused = await refusedHandshake(url, { protocols })
      expect(refused.status).toBe(426)
      expect(refused.body).toMatchObject({ code: 'UNSUPPORTED_VERSION', supported: ['parley.v2.json', 'parley.v1.json'], offered: [] })
    }
  })

  it('leaves token entries out of the offered list of a 426', async () => {
    const { url } = await server()
    const refused = await refusedHandshake(url, { protocols: ['parley.v3.json', 'parley.token.secret'] })
    expect(refused.status).toBe(426)
    expect(refused.body['offered']).toEqual(['parley.v3.json'])
    expect(JSON.stringify(refused.body)).not.toContain('secret')
  })

  it('selects parley.v1.json among several offers without v2, newest first, and says so in welcome', async () => {
    const { url } = await server()
    const offers = [
      ['parley.v3.json', 'parley.v2.msgpack', 'parley.v1.json'],
      ['chat', 'parley.v1.json', 'parley.v9.json'],
      ['parley.v1.json'],
    ]
    for (const protocols of offers) {
      const raw = await open(url, { protocols })
      expect(raw.ws.protocol).toBe('parley.v1.json')
      const welcome = await raw.next('welcome')
      expect(welcome).toMatchObject({ protocol: 'parley.v1.json', version: 1 })
    }
  })

  it('never selects the parley.token.<t> entry, wherever it is in the offer', async () => {
    const { url } = await server({ authenticate: byToken })
    for (const protocols of [
      ['parley.token.alice', 'parley.v1.json'],
      ['parley.v1.json', 'parley.token.alice'],
    ]) {
      const outcome = await tryHandshake(url, { protocols })
      expect(outcome).toEqual({ kind: 'open', protocol: 'parley.v1.json' })
    }
  })
})

describe('Origin allow-list', () => {
  it('with an array: refuses other origins with 403 FORBIDDEN, lets the listed one and no Origin through', async () => {
    const { url, parley } = await server({ origins: ['https://app.example', 'https://admin.example'] })
    for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example', 'null']) {
      const refused = await refusedHandshake(url, { headers: { Origin: origin } })
      expect(refused.status).toBe(403)
      expect(refused.body['code']).toBe('FORBIDDEN')
    }
    expect(parley.stats().connections).toBe(0)
    const allowed = await open(url, { headers: { Origin: 'https://admin.example' } })
    await allowed.next('welcome')
    const noOrigin = await open(url)
    await noOrigin.next('welcome')
    expect(parley.stats().connections).toBe(2)
  })

  it('with a function: asks it with the Origin, refusing what it refuses', async () => {
    const asked: string[] = []
    const { url } = await server({
      origins: (origin) => {
        asked.push(origin)
        return origin.endsWith('.trusted.example')
      },
    })
    const refused = await refusedHandshake(url, { headers: { Origin: 'https://trusted.example.com' } })
    expect(refused.status).toBe(403)
    expect(refused.body['code']).toBe('FORBIDDEN')
    const allowed = await open(url, { headers: { Origin: 'https://chat.trusted.example' } })
    await allowed.next('welcome')
    expect(asked).toEqual(['https://trusted.example.com', 'https://chat.trusted.example'])
    // Non-browser clients send no Origin and are not asked about.
    const noOrigin = await open(url)
    await noOrigin.next('welcome')
    expect(asked).toHaveLength(2)
  })
})

describe('connection caps', () => {
  it('answers 503 TRY_AGAIN_LATER with Retry-After past maxConnections, and admits again once one leaves', async () => {
    const { url, parley } = await server({ limits: { maxConnections: 2 } })
    const a = await open(url)
    const b = await open(url)
    await a.next('welcome')
    await b.next('welcome')
    const refused = await refusedHandshake(url)
    expect(refused.status).toBe(503)
    expect(refused.body['code']).toBe('TRY_AGAIN_LATER')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    a.close()
    await a.closed
    await until(() => parley.stats().connections === 1, 2_000, 'the server to see the close')
    const c = await open(url)
    await c.next('welcome')
    expect(parley.stats().connections).toBe(2)
  })

  it('answers 429 past maxConnectionsPerUser for that user only', async () => {
    const { url, parley } = await server({ authenticate: byToken, limits: { maxConnectionsPerUser: 2 } })
    const bearer = (token: string): { headers: Record<string, string> } => ({ headers: { Authorization: `Bearer ${token}` } })
    await (await open(url, bearer('alice'))).next('welcome')
    await (await open(url, bearer('alice'))).next('welcome')
    const refused = await refusedHandshake(url, bearer('alice'))
    expect(refused.status).toBe(429)
    expect(typeof refused.body['code']).toBe('string')
    const bob = await open(url, bearer('bob'))
    expect((await bob.next('welcome')).user).toBe('bob')
    expect(parley.stats().connections).toBe(3)
  })

  it('holds both caps when handshakes race through a slow authenticate', async () => {
    // Every handshake is in authenticate at the same time, so a cap checked only before it lets them all through.
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    let waiting = 0
    const slow = async ({ token }: { token: string | undefined }): Promise<ServerUser | null> => {
      waiting++
      await gate
      return token === undefined ? null : { id: token }
    }
    const { url, parley } = await server({ authenticate: slow, limits: { maxConnections: 2, maxConnectionsPerUser: 1 } })
    const outcomes = Array.from({ length: 4 }, (_, i) =>
      tryHandshake(url, { headers: { Authorization: `Bearer ${i < 3 ? 'carol' : 'dave'}` } }),
    )
    await until(() => waiting === 4, 2_000, 'every handshake to reach authenticate')
    release()
    const results = await Promise.all(outcomes)
    const opened = results.filter((r) => r.kind === 'open').length
    expect(opened).toBeLessThanOrEqual(2)
    // carol x3 → at most one of hers; dave → one; and the refusals are the cap answers.
    expect(opened).toBe(2)
    for (const result of results) {
      if (result.kind === 'http') expect([429, 503]).toContain(result.status)
    }
    await until(() => parley.stats().connections === 0, 2_000, 'closed test sockets to be seen')
  })
})
