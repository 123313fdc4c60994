/**
 * Every example started as a user would start it (a child process via tsx) and smoke-tested: the chat servers
 * serve their page, sign a client in and accept it, the bot answers, the load-test CLI passes (in process, and
 * against a running chat), a busy port is explained. test/e2e/chat-auth.test.ts has the sign-in tokens in depth.
 */
import { createClient, type Client, type Room, type RoomMessageEvent } from '@parley/client-sdk'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { login, signedIn } from './helpers/chat-sign-in.js'
import { upgradeStatus } from './helpers/handshake.js'
import { runExample, startChatServer, type ChatServer } from './helpers/processes.js'

interface Chat {
  readonly text: string
  readonly mid?: string
}

/** A client in a room that records what arrives, for `waitFor`. */
interface Tester {
  readonly client: Client
  readonly room: Room<Chat>
  readonly messages: Array<RoomMessageEvent<Chat>>
  waitFor(predicate: (message: RoomMessageEvent<Chat>) => boolean, timeoutMs?: number): Promise<RoomMessageEvent<Chat>>
}

const testers: Tester[] = []
afterEach(async () => {
  await Promise.all(testers.splice(0).map((tester) => tester.client.close()))
})

/** Signs `user` in as the page does (`POST /api/login`) and joins a room. */
async function joinAs(server: ChatServer, user: string, roomName = 'general'): Promise<Tester> {
  const client = createClient(server.wsUrl, { ...(await signedIn(server, user)), reconnect: false })
  const room = client.join<Chat>(roomName)
  const messages: Array<RoomMessageEvent<Chat>> = []
  const waiters = new Set<() => void>()
  room.on('message', (message) => {
    messages.push(message)
    for (const waiter of waiters) waiter()
  })
  const tester: Tester = {
    client,
    room,
    messages,
    waitFor(predicate, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = messages.find(predicate)
          if (found === undefined) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.data))}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
  }
  testers.push(tester)
  await new Promise<void>((resolve, reject) => {
    room.on('joined', () => resolve())
    room.on('error', reject)
  })
  return tester
}

describe.each([
  { name: 'express-chat', script: 'examples/express-chat/server.ts' },
  { name: 'koa-chat', script: 'examples/koa-chat/server.ts' },
])('$name', ({ script }) => {
  let server: ChatServer

  beforeAll(async () => {
    server = await startChatServer(script)
  }, 40_000)
  afterAll(async () => {
    await server?.kill()
  })

  it('serves the page, its bundle and the JSON endpoints, with security headers', async () => {
    const page = await fetch(server.httpUrl)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toContain('<title>Parley Chat</title>')
    for (const [path, type] of [
      ['/app.js', 'javascript'],
      ['/styles.css', 'text/css'],
      ['/favicon.svg', 'image/svg+xml'],
    ] as const) {
      const response = await fetch(server.httpUrl + path)
      expect(response.status, path).toBe(200)
      expect(response.headers.get('content-type'), path).toContain(type)
    }
    expect(await (await fetch(`${server.httpUrl}/api/rooms`)).json()).toEqual({ rooms: [] })
    expect(await (await fetch(`${server.httpUrl}/api/stats`)).json()).toMatchObject({ connections: 0, dropped: 0 })
    expect((await fetch(`${server.httpUrl}/page/app.ts`)).status).toBe(404)
  }, 15_000)

  it('accepts a client that joins, publishes and receives, and lists its room', async () => {
    const tester = await joinAs(server, 'smoke-tester')
    const ack = await tester.room.publish({ text: 'hello from the smoke test', mid: 'smoke-1' })
    expect(ack.seq).toBe(1)
    const echo = await tester.waitFor((message) => message.data.text === 'hello from the smoke test')
    expect(echo.from).toBe('smoke-tester')
    expect(await (await fetch(`${server.httpUrl}/api/rooms`)).json()).toEqual({ rooms: [{ room: 'general', members: 1 }] })
    expect(await (await fetch(`${server.httpUrl}/api/stats`)).json()).toMatchObject({ connections: 1, rooms: 1 })
  }, 15_000)

  it('signs in through POST /api/login only: bad names are refused there, a bare name at the upgrade and the admin endpoint', async () => {
    const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(server.httpUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
    for (const username of ['<script>', 'a b', 'x'.repeat(33), 'colon:name', '', 42]) {
      const answer = await post('/api/login', { username })
      expect(answer.status, String(username)).toBe(400)
      expect(await answer.json()).toMatchObject({ message: expect.stringContaining('1-32 letters') })
    }
    const signedInAnswer = await post('/api/login', { username: 'good_name-1.x~' })
    expect(signedInAnswer.status).toBe(200)
    expect(signedInAnswer.headers.get('cache-control')).toBe('no-store')
    const { token, user } = (await signedInAnswer.json()) as { token: string; user: string }
    expect(user).toBe('good_name-1.x~')
    expect((await upgradeStatus(server.port, token)).status).toBe(101)
    // The name itself was the token before sign-in tokens: no longer.
    const bare = await upgradeStatus(server.port, 'good_name-1.x~')
    expect(bare.status).toBe(401)
    expect(JSON.parse(bare.body)).toMatchObject({ code: 'UNAUTHORIZED' })

    // Admin commands are named by the token too (CHAT_ADMINS defaults to `admin`).
    const command = { room: 'general', command: '/mute nobody 5' }
    expect((await post('/api/admin', command, { authorization: 'Bearer admin' })).status).toBe(401)
    const asAdmin = await post('/api/admin', command, { authorization: `Bearer ${(await login(server, 'admin')).token}` })
    expect(await asAdmin.json()).toEqual({ ok: true, message: 'Muted nobody for 5 s' })

    const tester = await joinAs(server, 'validator')
    await expect(tester.room.publish({ html: '<b>hi</b>' } as unknown as Chat)).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    await expect(tester.room.publish({ text: '' })).rejects.toMatchObject({ code: 'INVALID_FIELD' })
  }, 15_000)

  it('stops gracefully on SIGTERM', async () => {
    const tester = await joinAs(server, 'leaver')
    const closed = new Promise<void>((resolve) => tester.client.on('state', (state) => state === 'closed' && resolve()))
    await server.kill('SIGTERM')
    expect(await server.exited()).toBe(0)
    // reconnect: false, so the 1001 "going away" ends this client.
    await closed
    expect(server.output()).toContain('SIGTERM: closing connections')
  }, 15_000)
})

describe('node-bot and load-test against a running chat', () => {
  let server: ChatServer

  beforeAll(async () => {
    server = await startChatServer('examples/express-chat/server.ts')
  }, 40_000)
  afterAll(async () => {
    await server?.kill()
  })

  it('signs in, joins a room and answers /echo, /time, /who, /stats', async () => {
    const bot = runExample('examples/node-bot/bot.ts', ['--url', server.wsUrl, '--room', 'general'])
    try {
      await bot.waitForOutput(/parley-bot joined #general/, 20_000)
      const tester = await joinAs(server, 'bot-tester')
      const fromBot = (pattern: RegExp) => (message: RoomMessageEvent<Chat>) => message.from === 'parley-bot' && pattern.test(message.data.text)

      await tester.room.publish({ text: '/echo hello <b>bot</b>' })
      expect((await tester.waitFor(fromBot(/hello/))).data.text).toBe('hello <b>bot</b>')
      await tester.room.publish({ text: '/time' })
      await tester.waitFor(fromBot(/^It is \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/))
      await tester.room.publish({ text: '/who' })
      expect((await tester.waitFor(fromBot(/here:/))).data.text).toBe('2 here: bot-tester, parley-bot')
      await tester.room.publish({ text: '/stats' })
      expect((await tester.waitFor(fromBot(/connections/))).data.text).toMatch(/^2 connections, 1 rooms, \d+ messages in/)
      await tester.room.publish({ text: 'just chatting, no command' })
      await tester.room.publish({ text: '/nope' })
      await tester.waitFor(fromBot(/^Unknown command \/nope/))
      // The bot stays quiet on plain messages: exactly one reply per command.
      expect(tester.messages.filter((message) => message.from === 'parley-bot')).toHaveLength(5)
    } finally {
      await bot.kill('SIGTERM')
    }
    expect(await bot.exited()).toBe(0)
  }, 30_000)

  it('load-test --url signs its clients in through the chat example and reports no loss', async () => {
    const run = runExample('examples/load-test/run.ts', ['--url', server.wsUrl, '--clients', '4', '--messages', '20', '--timeout', '20'])
    const code = await run.exited()
    expect(run.output()).toContain(`against ${server.wsUrl}`)
    expect(run.output()).toMatch(/lost\s+0/)
    expect(run.output()).toContain('PASS')
    expect(code).toBe(0)
  }, 30_000)
})

describe('load-test CLI', () => {
  it('runs with small numbers and reports no loss', async () => {
    const run = runExample('examples/load-test/run.ts', ['--clients', '6', '--messages', '30', '--timeout', '20'])
    const code = await run.exited()
    expect(run.output()).toMatch(/lost\s+0/)
    expect(run.output()).toMatch(/duplicated\s+0/)
    expect(run.output()).toMatch(/latency \(ms\)\s+p50 [\d.]+\s+p90/)
    expect(run.output()).toContain('PASS')
    expect(code).toBe(0)
  }, 30_000)

  it('refuses targets that are not on this machine', async () => {
    const run = runExample('examples/load-test/run.ts', ['--url', 'ws://example.com/parley'])
    expect(await run.exited()).toBe(2)
    expect(run.output()).toContain('only targets loopback')
  }, 20_000)
})

describe('a busy port', () => {
  it('is explained, not thrown', async () => {
    const first = await startChatServer('examples/koa-chat/server.ts')
    try {
      const second = runExample('examples/express-chat/server.ts', [], { PORT: String(first.port) })
      expect(await second.exited()).toBe(1)
      expect(second.output()).toContain(`Port ${first.port} is already in use`)
    } finally {
      await first.kill()
    }
  }, 40_000)
})
