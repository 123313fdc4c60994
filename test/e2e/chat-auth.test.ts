/**
 * The chat's sign-in tokens, against the Express example started with a known `CHAT_JWT_SECRET` (so the test can
 * sign tokens of its own) and 3-second tokens (`CHAT_TOKEN_TTL_SECONDS`): `POST /api/login` answers a signed JWT
 * with the right claims; the handshake and the admin endpoint take nothing else (each refusal is paired with a
 * token that differs in that one respect and is accepted, so none passes by refusing everything); a client that
 * refreshes in band outlives its first tokens on one session, while one that does not is closed with 4419; and the
 * page does the same in Chromium, its admin commands carrying the refreshed token.
 */
import { createClient, type Room } from '@parley/client-sdk'
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TOKEN_AUDIENCE, TOKEN_ISSUER, type IssuedToken } from '../../examples/shared/chat-auth.js'
import { chatTokenOptions } from '../../examples/shared/chat-login.js'
import { connect } from '../../packages/server-sdk/test/helpers/raw-client.js'
import { browserTestsEnabled, launchChromium, screenshot } from './helpers/browser.js'
import { login } from './helpers/chat-sign-in.js'
import { upgradeStatus } from './helpers/handshake.js'
import { startChatServer, type ChatServer } from './helpers/processes.js'

const SECRET = 'chat-auth-test-secret-of-at-least-32-bytes'
const KEY = new TextEncoder().encode(SECRET)
const TTL_SECONDS = 3

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
const nowSeconds = (): number => Math.floor(Date.now() / 1_000)

/**
 * A token as the server would issue it for `mallory`, signed by the test: `claims` and `options` change one thing
 * (a claim set to `undefined` is left out).
 */
function sign(claims: Record<string, unknown> = {}, options: { key?: Uint8Array; alg?: string } = {}): Promise<string> {
  const now = nowSeconds()
  const payload = { sub: 'mallory', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: now, exp: now + 60, ...claims }
  return new SignJWT(Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined)) as JWTPayload)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .sign(options.key ?? KEY)
}

describe('the chat signs in with short-lived JWTs', () => {
  let server: ChatServer

  beforeAll(async () => {
    server = await startChatServer('examples/express-chat/server.ts', undefined, { CHAT_JWT_SECRET: SECRET, CHAT_TOKEN_TTL_SECONDS: String(TTL_SECONDS) })
  }, 40_000)
  afterAll(async () => {
    await server?.kill()
  })

  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(server.httpUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

  it('says at start-up how tokens are signed and how long they live', () => {
    expect(server.output()).toContain(`Sign-in: JWTs (HS256) that live ${TTL_SECONDS} s, signed with CHAT_JWT_SECRET`)
  })

  it('POST /api/login answers an HS256 JWT for the user, with issuer, audience, iat and exp', async () => {
    const before = nowSeconds()
    const response = await post('/api/login', { username: 'alice' })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as IssuedToken
    expect(body.user).toBe('alice')
    expect(decodeProtectedHeader(body.token)).toEqual({ alg: 'HS256', typ: 'JWT' })
    // Verified here with the server's secret: the signature is real, and the claims are the ones promised.
    const { payload } = await jwtVerify(body.token, KEY, { algorithms: ['HS256'] })
    expect(payload).toEqual({ sub: 'alice', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: expect.any(Number), exp: expect.any(Number) })
    expect(payload.iat).toBeGreaterThanOrEqual(before)
    expect(payload.iat).toBeLessThanOrEqual(nowSeconds())
    expect((payload.exp as number) - (payload.iat as number)).toBe(TTL_SECONDS)
    expect(body.expiresAt).toBe((payload.exp as number) * 1_000)
    // A second sign-in is a new token, not a stored one.
    await sleep(1_000)
    expect((await login(server, 'alice')).token).not.toBe(body.token)
  })

  it('the handshake takes only an unexpired HS256 token signed with the key for the chat: forged, alg none, expired, foreign and bare names get 401', async () => {
    const now = nowSeconds()
    const good = await sign()
    const [header, , signature] = good.split('.') as [string, string, string]
    const refused: Record<string, string> = {
      'signed with another key': await sign({}, { key: new TextEncoder().encode('another-secret-of-at-least-32-bytes!!') }),
      'alg none': new UnsecuredJWT({ sub: 'mallory', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: now, exp: now + 60 }).encode(),
      // The right key with another HMAC: only HS256 is accepted, whatever the header says.
      'HS512 with the right key': await sign({}, { alg: 'HS512' }),
      expired: await sign({ iat: now - 70, exp: now - 10 }),
      'another audience': await sign({ aud: 'another-app' }),
      'another issuer': await sign({ iss: 'someone-else' }),
      'no exp': await sign({ exp: undefined }),
      // The payload swapped for admin's, the signature kept.
      tampered: `${header}.${Buffer.from(JSON.stringify({ ...decodeJwt(good), sub: 'admin' })).toString('base64url')}.${signature}`,
      'a bare username': 'mallory',
      garbage: 'not.a.jwt',
    }
    // The control: the same claims, signed as the server signs, are accepted (in the query and in the header).
    expect((await upgradeStatus(server.port, good)).status).toBe(101)
    expect((await upgradeStatus(server.port, good, 'header')).status).toBe(101)
    for (const [what, token] of Object.entries(refused)) {
      for (const via of ['query', 'header'] as const) {
        const answer = await upgradeStatus(server.port, token, via)
        expect(answer.status, `${what} (${via})`).toBe(401)
        expect(JSON.parse(answer.body), `${what} (${via})`).toMatchObject({ code: 'UNAUTHORIZED' })
      }
    }
  })

  it('POST /api/admin takes the same token: a bare name, a forged or an expired token get 401, a valid one runs the command', async () => {
    const command = { room: 'general', command: '/mute nobody 5' }
    const now = nowSeconds()
    for (const [what, token] of [
      ['a bare username', 'admin'],
      ['signed with another key', await sign({ sub: 'admin' }, { key: new TextEncoder().encode('another-secret-of-at-least-32-bytes!!') })],
      ['expired', await sign({ sub: 'admin', iat: now - 70, exp: now - 10 })],
    ] as const) {
      const answer = await post('/api/admin', command, { authorization: `Bearer ${token}` })
      expect(answer.status, what).toBe(401)
      expect(await answer.json(), what).toEqual({ ok: false, message: 'Sign in first' })
    }
    const answer = await post('/api/admin', command, { authorization: `Bearer ${(await login(server, 'admin')).token}` })
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ ok: true, message: 'Muted nobody for 5 s' })
  })

  it('a banned user cannot sign in, nor connect with a token issued before the ban', async () => {
    // Signed here to live a minute, so it is still valid at the end, whatever the 3-second tokens do meanwhile.
    const before = { token: await sign({ sub: 'eve' }) }
    const admin = (await login(server, 'admin')).token
    const run = (text: string): Promise<Response> => post('/api/admin', { room: 'general', command: text }, { authorization: `Bearer ${admin}` })
    expect(await (await run('/ban eve')).json()).toMatchObject({ ok: true })
    try {
      const refused = await post('/api/login', { username: 'eve' })
      expect(refused.status).toBe(403)
      expect(await refused.json()).toEqual({ message: 'eve is banned from this chat.' })
      expect((await upgradeStatus(server.port, before.token)).status).toBe(401)
    } finally {
      expect(await (await run('/unban eve')).json()).toMatchObject({ ok: true })
    }
    expect((await upgradeStatus(server.port, before.token)).status).toBe(101)
  })

  it('a client that refreshes in band stays on one session past the expiry of its first tokens', async () => {
    const first = await login(server, 'refresher')
    const issued: IssuedToken[] = []
    const client = createClient(server.wsUrl, {
      ...chatTokenOptions(first, async () => {
        const next = await login(server, 'refresher')
        issued.push(next)
        return next
      }),
      reconnect: false,
    })
    const states: string[] = []
    client.on('state', (state) => states.push(state))
    try {
      const room: Room<{ text: string }> = client.join<{ text: string }>('general')
      await new Promise<void>((resolve, reject) => {
        room.on('joined', () => resolve())
        room.on('error', reject)
      })
      const session = client.session
      // Past the first token's expiry, and the next one's: without a refresh, 4419 would have closed it by then.
      await sleep(first.expiresAt + TTL_SECONDS * 1_000 + 500 - Date.now())

      expect(states).toEqual(['open'])
      expect(client.session).toBe(session)
      expect(issued.length).toBeGreaterThanOrEqual(2)
      expect(new Set([first, ...issued].map((token) => token.token)).size).toBe(issued.length + 1)
      for (const [i, token] of issued.entries()) expect(token.expiresAt).toBeGreaterThan((i === 0 ? first : (issued[i - 1] as IssuedToken)).expiresAt)
      // The server still serves the session, long after the token it opened with expired.
      expect(Date.now()).toBeGreaterThan(first.expiresAt + 1_000)
      expect(await room.publish({ text: 'still here' })).toMatchObject({ seq: expect.any(Number) })
      expect(server.output().match(/\+ refresher connected/g)).toHaveLength(1)
      expect(server.output()).not.toContain('- refresher disconnected')
    } finally {
      await client.close()
    }
  }, 20_000)

  it('a raw client that never refreshes is closed with 4419 when its token expires', async () => {
    const token = await login(server, 'no-refresh')
    const raw = await connect(server.wsUrl, { headers: { Authorization: `Bearer ${token.token}` } })
    expect(await raw.next('welcome')).toMatchObject({ user: 'no-refresh' })
    const { code, reason } = await raw.closed
    const closedAt = Date.now()
    expect(code).toBe(4419)
    expect(reason).toBe('token expired')
    // At the token's `exp`, not before it.
    expect(closedAt).toBeGreaterThanOrEqual(token.expiresAt - 50)
    expect(closedAt).toBeLessThan(token.expiresAt + 2_000)
    await expect.poll(() => server.output()).toContain('- no-refresh disconnected (4419)')
  }, 10_000)

  it.runIf(browserTestsEnabled())('the page refreshes its token in band, and admin commands carry the fresh one', async () => {
    const browser = await launchChromium()
    try {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 760 } })).newPage()
      const problems: string[] = []
      page.on('pageerror', (error) => problems.push(error.message))
      let logins = 0
      page.on('request', (request) => {
        if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/login') logins++
      })
      await page.goto(server.httpUrl)
      await page.fill('#username', 'admin')
      await page.click('#login-form button[type=submit]')
      await page.waitForSelector('#status[data-state="open"]')
      const signedInAt = Date.now()
      // Two token lifetimes: the first token and the one after it have expired.
      await page.waitForTimeout(2 * TTL_SECONDS * 1_000 + 500)

      expect(logins).toBeGreaterThanOrEqual(3)
      expect(await page.getAttribute('#status', 'data-state')).toBe('open')
      // Never reconnected: the status would say "Reconnected" for a while, and the server would log a disconnect.
      expect(await page.textContent('#status-text')).toBe('Connected')
      expect(server.output().match(/\+ admin connected/g)).toHaveLength(1)
      expect(server.output()).not.toContain('- admin disconnected')
      expect(Date.now() - signedInAt).toBeGreaterThan(TTL_SECONDS * 1_000)
      // The command goes to /api/admin with the page's newest token; its first one is long expired.
      await page.fill('#message-input', '/mute nobody 7')
      await page.press('#message-input', 'Enter')
      await page.locator('.toast', { hasText: 'Muted nobody for 7 s' }).waitFor({ timeout: 5_000 })
      await screenshot(page, 'token-refreshed')
      expect(problems).toEqual([])
    } finally {
      await browser.close()
    }
  }, 30_000)
})
