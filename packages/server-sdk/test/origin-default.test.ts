import type { ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { Resources } from './helpers/fixtures.js'
import { connect, refusedHandshake } from './helpers/raw-client.js'
import { startServer, type TestServer } from './helpers/start-server.js'

// Fault 3 of the core review: tokens are read from a cookie by default while any Origin was accepted by default, so
// any web page could open a session as its visitor (cross-site WebSocket hijacking). With cookie tokens on and
// `origins` unset, only same-origin browser requests (Origin's host = Host) are accepted now.

const resources = new Resources()
afterEach(() => resources.dispose())

async function server(options: ServerOptions): Promise<TestServer> {
  return resources.add(await startServer(options), (s) => s.stop())
}

const byToken: NonNullable<ServerOptions['authenticate']> = ({ token }) => (token === undefined ? null : { id: token })
const cookie = { Cookie: 'parley_token=victim' }

async function opens(url: string, headers: Record<string, string>): Promise<boolean> {
  try {
    const client = await connect(url, { headers })
    const welcome = await client.next('welcome')
    client.ws.terminate()
    return welcome.type === 'welcome'
  } catch {
    return false
  }
}

describe('the default of origins while tokens come from a cookie', () => {
  it('refuses a foreign Origin with 403 FORBIDDEN that names the option, and opens no session', async () => {
    const { url, parley } = await server({ authenticate: byToken })
    const refused = await refusedHandshake(url, { headers: { ...cookie, Origin: 'https://evil.example' } })
    expect(refused.status).toBe(403)
    expect(refused.body['code']).toBe('FORBIDDEN')
    expect(String(refused.body['message'])).toContain('origins')
    expect(parley.stats().connections).toBe(0)
  })

  it('accepts the same origin (host and port, any case) and clients that send no Origin', async () => {
    const { url } = await server({ authenticate: byToken })
    const host = new URL(url).host
    expect(await opens(url, { ...cookie, Origin: `http://${host}` })).toBe(true)
    expect(await opens(url, { ...cookie, Origin: `http://${host.toUpperCase()}` })).toBe(true)
    expect(await opens(url, cookie)).toBe(true)
    // Same host, another port: another origin.
    expect((await refusedHandshake(url, { headers: { ...cookie, Origin: `http://${new URL(url).hostname}:1` } })).status).toBe(403)
    expect((await refusedHandshake(url, { headers: { ...cookie, Origin: 'null' } })).status).toBe(403)
  })

  it("opts out with origins: '*', and does not apply without cookie tokens (tokenCookie: false, or no authenticate)", async () => {
    const foreign = { Origin: 'https://other.example' }
    const star = await server({ authenticate: byToken, origins: '*' })
    expect(await opens(star.url, { ...cookie, ...foreign })).toBe(true)
    const noCookie = await server({ authenticate: byToken, tokenCookie: false })
    expect(await opens(noCookie.url, { Authorization: 'Bearer bob', ...foreign })).toBe(true)
    // With cookies off, the cookie is not read at all.
    expect((await refusedHandshake(noCookie.url, { headers: { ...cookie, ...foreign } })).status).toBe(401)
    const anonymous = await server({})
    expect(await opens(anonymous.url, foreign)).toBe(true)
  })

  it('lets an explicit origins list decide, as before', async () => {
    const { url } = await server({ authenticate: byToken, origins: ['https://app.example'] })
    expect(await opens(url, { ...cookie, Origin: 'https://app.example' })).toBe(true)
    expect((await refusedHandshake(url, { headers: { ...cookie, Origin: `http://${new URL(url).host}` } })).status).toBe(403)
  })
})
