/**
 * Every example started as a user would start it (a child process via tsx) and smoke-tested: the chat servers
 * serve their page, sign a client in and accept it, hold every client to the chat's contract and answer its
 * request, the bot answers, the load-test CLI passes (in process, and against a running chat), a busy port is
 * explained. test/e2e/chat-auth.test.ts has the sign-in tokens in depth.
 */
import { createClient, type Client, type Room, type RoomMessageEvent, type TypingEvent } from '@parley/client-sdk'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chatContract, isChatMessage, type ChatContract, type ChatMessage, type ChatPresence, type ChatRoomMessage } from '../../examples/shared/chat-contract.js'
import { connect } from '../../packages/server-sdk/test/helpers/raw-client.js'
import { login, signedIn } from './helpers/chat-sign-in.js'
import { upgradeStatus } from './helpers/handshake.js'
import { runExample, startChatServer, type ChatServer } from './helpers/processes.js'

/** A client with the chat's contract in a room, that records what arrives, for `waitFor`. */
interface Tester {
  readonly client: Client<ChatContract>
  readonly room: Room<ChatRoomMessage, ChatPresence, boolean>
  readonly messages: Array<RoomMessageEvent<ChatMessage>>
  readonly typing: TypingEvent[]
  waitFor(predicate: (message: RoomMessageEvent<ChatMessage>) => boolean, timeoutMs?: number): Promise<RoomMessageEvent<ChatMessage>>
}

const testers: Tester[] = []
afterEach(async () => {
  await Promise.all(testers.splice(0).map((tester) => tester.client.close()))
})

/** Signs `user` in as the page does (`POST /api/login`) and joins a room, with the chat's contract as the page has it. */
async function joinAs(server: ChatServer, user: string, roomName = 'general'): Promise<Tester> {
  const client = createClient(server.wsUrl, { ...(await signedIn(server, user)), contract: chatContract, reconnect: false })
  const room = client.join(roomName)
  const messages: Array<RoomMessageEvent<ChatMessage>> = []
  const typing: TypingEvent[] = []
  const waiters = new Set<() => void>()
  room.on('message', (message) => {
    // Chat messages only: reactions are messages too, and these tests read text.
    if (!isChatMessage(message.data)) return
    messages.push(message as RoomMessageEvent<ChatMessage>)
    for (const waiter of waiters) waiter()
  })
  room.on('typing', (event) => typing.push(event))
  const tester: Tester = {
    client,
    room,
    messages,
    typing,
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

  it('serves Prometheus metrics beside the process\'s own, and the inspector page with the key it printed', async () => {
    const metrics = await fetch(`${server.httpUrl}/metrics`)
    expect(metrics.status).toBe(200)
    const text = await metrics.text()
    expect(text).toMatch(/^parley_connections_opened_total \d+$/m)
    expect(text).toMatch(/^process_cpu_user_seconds_total /m)
    const key = /Inspector: \/parley-inspector \(key: ([A-Za-z0-9_-]{16,})\)/.exec(server.output())?.[1]
    expect(key).toBeDefined()
    const page = await fetch(`${server.httpUrl}/parley-inspector`)
    expect(await page.text()).toContain('<title>Parley inspector</title>')
    const operator = createClient(`${server.wsUrl.replace('/parley', '/parley-inspector/live')}`, { token: key, reconnect: false })
    try {
      const snapshot = await new Promise<unknown>((resolve) => operator.on('direct', (message) => resolve(message.data)))
      expect(snapshot).toMatchObject({ totals: { connections: expect.any(Number) }, nodes: [expect.any(Object)] })
    } finally {
      await operator.close()
    }
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

  }, 15_000)

  it('holds every client to the chat contract: a bad message, presence or typing signal is VALIDATION_FAILED with its path, and reaches nobody', async () => {
    const room = 'contract-check'
    const watcher = await joinAs(server, 'contract-watcher', room)
    const watcherErrors: unknown[] = []
    watcher.room.on('error', (error) => watcherErrors.push(error))

    // The SDK's publish is typed by the contract ({ html } does not compile); the server refuses it all the same.
    await expect(watcher.room.publish({ html: '<b>hi</b>' } as unknown as ChatMessage)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'text' }] })
    await expect(watcher.room.publish({ text: '' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'text' }] })

    // A raw WebSocket client, signed in as the page is, with nothing to stop it sending anything.
    const raw = await connect(server.wsUrl, { headers: { Authorization: `Bearer ${(await login(server, 'raw-sender')).token}` } })
    try {
      await raw.next('welcome')
      raw.send({ type: 'join', room, id: 'join-1', presence: { client: 'robot' } })
      expect(await raw.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', id: 'join-1', room, issues: [{ path: 'client' }] })
      raw.send({ type: 'join', room, id: 'join-2', presence: { client: 'web' } })
      expect(await raw.next('joined')).toMatchObject({ room, id: 'join-2' })

      const refused: ReadonlyArray<readonly [unknown, string]> = [
        [{ txt: 'x' }, 'text'],
        [{ text: '' }, 'text'],
        [{ text: '   ' }, 'text'],
        [{ text: 'x'.repeat(2_001) }, 'text'],
        [{ text: 'hi', mid: 42 }, 'mid'],
        ['just a string', ''],
      ]
      for (const [i, [data, path]] of refused.entries()) {
        raw.send(JSON.stringify({ type: 'publish', room, id: `bad-${i}`, data }))
        const error = await raw.next('error')
        expect(error, JSON.stringify(data)).toMatchObject({ code: 'VALIDATION_FAILED', id: `bad-${i}`, room })
        expect(error.issues?.map((issue) => issue.path), JSON.stringify(data)).toEqual([path])
        expect(error.message, JSON.stringify(data)).toContain(`publish to ${room}: data: ${path === '' ? '' : `${path}: `}`)
      }
      raw.send({ type: 'signal', room, key: 'typing', value: 'yes' })
      expect(await raw.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', room, issues: [{ path: '' }] })
      raw.send({ type: 'signal', room, key: 'mood', value: 'happy' })
      expect(await raw.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', room, issues: [{ message: 'unknown signal key mood' }] })

      // What keeps to the contract goes through, extra keys and all: the room's first message, so none before it got a seq.
      raw.send({ type: 'signal', room, key: 'typing', value: true })
      raw.send({ type: 'publish', room, id: 'good', data: { text: 'within the contract', mid: 'raw-1', extra: 1 } })
      expect(await raw.next('ack')).toMatchObject({ id: 'good', seq: 1 })
      await watcher.waitFor((message) => message.data.text === 'within the contract')
      expect(watcher.messages.map((message) => [message.from, message.seq, message.data])).toEqual([
        ['raw-sender', 1, { text: 'within the contract', mid: 'raw-1', extra: 1 }],
      ])
      expect(watcher.typing).toEqual([{ user: 'raw-sender', typing: true }])
      expect(watcherErrors).toEqual([])
    } finally {
      raw.close()
    }
  }, 15_000)

  it('answers the rooms.list request: the active rooms with their member counts, typed and checked by the contract', async () => {
    const one = await joinAs(server, 'lister', 'list-a')
    await joinAs(server, 'lister-2', 'list-a')
    await joinAs(server, 'lister-3', 'list-b')
    // Only this test's rooms: those of earlier tests may still be there, their members within the grace period.
    const ours = (rooms: ReadonlyArray<{ room: string; members: number }>) => rooms.filter((entry) => entry.room.startsWith('list-'))
    const expected = [
      { room: 'list-a', members: 2 },
      { room: 'list-b', members: 1 },
    ]
    expect(ours((await one.client.request('rooms.list', {})).rooms)).toEqual(expected)
    // The same list as GET /api/rooms, which stays for scripts and curl.
    expect(ours(((await (await fetch(`${server.httpUrl}/api/rooms`)).json()) as { rooms: Array<{ room: string; members: number }> }).rooms)).toEqual(expected)
    // An input the contract refuses is never sent; a raw client sending one is answered VALIDATION_FAILED.
    await expect(one.client.request('rooms.list', 'all' as unknown as Record<string, never>)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: '' }] })
    const raw = await connect(server.wsUrl, { headers: { Authorization: `Bearer ${(await login(server, 'raw-lister')).token}` } })
    try {
      await raw.next('welcome')
      raw.send({ type: 'request', id: 'r1', name: 'rooms.list', input: 'all' })
      expect(await raw.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', id: 'r1', issues: [{ path: '' }] })
      raw.send({ type: 'request', id: 'r2', name: 'rooms.create', input: {} })
      expect(await raw.next('error')).toMatchObject({ code: 'UNKNOWN_REQUEST', id: 'r2' })
      raw.send({ type: 'request', id: 'r3', name: 'rooms.list', input: {} })
      const response = await raw.next('response')
      expect(response.id).toBe('r3')
      expect(ours((response.output as { rooms: Array<{ room: string; members: number }> }).rooms)).toEqual(expected)
    } finally {
      raw.close()
    }
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
      const fromBot = (pattern: RegExp) => (message: RoomMessageEvent<ChatMessage>) => message.from === 'parley-bot' && pattern.test(message.data.text)

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
