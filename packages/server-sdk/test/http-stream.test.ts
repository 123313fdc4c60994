import type { ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { parseEvents } from '../../client-sdk/src/transports/http-stream.js'
import { Resources } from './helpers/fixtures.js'
import { startServer, type TestServer } from './helpers/start-server.js'

// The HTTP stream transport's edges, over raw HTTP: what a stream looks like, and what each malformed, oversized,
// unauthorized or flooding request gets (a clear status and code), with nothing lost for other sessions.

const resources = new Resources()
afterEach(() => resources.dispose())

const byToken: NonNullable<ServerOptions['authenticate']> = ({ token }) => (token === undefined ? null : { id: token })

async function server(options: ServerOptions = {}): Promise<{ base: string; server: TestServer }> {
  const started = resources.add(await startServer({ authenticate: byToken, ...options }), (s) => s.stop())
  return { base: started.url.replace('ws://', 'http://'), server: started }
}

interface Stream {
  readonly id: string
  readonly secret: string
  /** Events so far: [event name, data]. */
  readonly events: Array<[string, string]>
  readonly comments: string[]
  next(event?: string, timeoutMs?: number): Promise<string>
  post(body: string, headers?: Record<string, string>): Promise<{ status: number; body: string }>
  close(): void
}

async function openStream(base: string, token = 'tess', protocols = 'parley.v1.json'): Promise<Stream> {
  const abort = new AbortController()
  const response = await fetch(`${base}?protocols=${protocols}`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` }, signal: abort.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
  expect(response.headers.get('x-accel-buffering')).toBe('no')
  const events: Array<[string, string]> = []
  const comments: string[] = []
  let taken = 0
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader()
  void (async () => {
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }))
      if (done) return
      comments.push(...[...value.matchAll(/^:[^\n]*/gm)].map((match) => match[0]))
      const parsed = parseEvents(buffer + value)
      buffer = parsed.rest
      for (const { event, data } of parsed.events) events.push([event, data])
    }
  })()
  const next = async (event = 'message', timeoutMs = 2_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const index = events.findIndex(([name], i) => i >= taken && name === event)
      if (index >= 0) {
        taken = index + 1
        return (events[index] as [string, string])[1]
      }
      if (Date.now() > deadline) throw new Error(`no ${event} event; got ${JSON.stringify(events)}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  const opened = JSON.parse(await next('open')) as { stream: string; secret: string; protocol: string }
  expect(opened.protocol).toBe('parley.v1.json')
  const stream: Stream = {
    id: opened.stream,
    secret: opened.secret,
    events,
    comments,
    next,
    async post(body, headers = {}) {
      const answer = await fetch(`${base}?stream=${opened.stream}`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-parley-secret': opened.secret, ...headers }, body })
      return { status: answer.status, body: await answer.text() }
    },
    close: () => abort.abort(),
  }
  resources.add(stream, (s) => s.close())
  return stream
}

describe('an HTTP stream', () => {
  it('opens with the stream id, secret and protocol, then welcome; POSTed frames are handled in order', async () => {
    const { base } = await server()
    const stream = await openStream(base)
    expect(stream.id).toMatch(/^[a-z0-9]+\.[a-z0-9]{16}$/)
    expect(stream.secret).toHaveLength(32)
    expect(JSON.parse(await stream.next())).toMatchObject({ type: 'welcome', user: 'tess' })
    const answer = await stream.post(['{"type":"join","room":"r","id":"j"}', '{"type":"publish","room":"r","id":"p","data":{"n":1}}', ''].join('\n'))
    expect(answer.status).toBe(204)
    expect(JSON.parse(await stream.next())).toMatchObject({ type: 'joined', id: 'j' })
    expect(JSON.parse(await stream.next())).toMatchObject({ type: 'message', data: { n: 1 } })
    expect(JSON.parse(await stream.next())).toMatchObject({ type: 'ack', id: 'p' })
  })

  it('refuses an opening request as the WebSocket handshake does: 401 without a token, 426 without a common version', async () => {
    const { base, server: started } = await server()
    const noToken = await fetch(`${base}?protocols=parley.v1.json`, { headers: { accept: 'text/event-stream' } })
    expect(noToken.status).toBe(401)
    expect(await noToken.json()).toMatchObject({ code: 'UNAUTHORIZED' })
    const badVersion = await fetch(`${base}?protocols=parley.v9.json`, { headers: { accept: 'text/event-stream', authorization: 'Bearer x' } })
    expect(badVersion.status).toBe(426)
    expect(await badVersion.json()).toMatchObject({ code: 'UNSUPPORTED_VERSION', supported: ['parley.v2.json', 'parley.v1.json'] })
    expect(started.parley.stats().connections).toBe(0)
  })

  it('answers bad POSTs with 404, 403, 413, 415 and 429, and the session and other sessions go on', async () => {
    const { base } = await server({ limits: { maxPayload: 1_024 } })
    const stream = await openStream(base)
    await stream.next()
    const other = await openStream(base, 'uma')
    await other.next()
    await other.post('{"type":"join","room":"r","id":"j"}')
    expect(JSON.parse(await other.next())).toMatchObject({ type: 'joined' })
    const foreign = `zzzzzzzzzzzz.${'a'.repeat(16)}`
    const cases: Array<[string, () => Promise<{ status: number; body: string }>, number, string]> = [
      ['a made-up stream id of this node (its secret cannot match)', () => fetch(`${base}?stream=${stream.id.split('.')[0]}.nope`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-parley-secret': stream.secret }, body: '' }).then(async (r) => ({ status: r.status, body: await r.text() })), 403, 'FORBIDDEN'],
      ['an expired stream, with its own secret', async () => {
        const gone = await openStream(base, 'gone')
        await fetch(`${base}?stream=${gone.id}&code=1000`, { method: 'DELETE', headers: { 'x-parley-secret': gone.secret } })
        return gone.post('{"type":"ping"}')
      }, 404, 'NOT_FOUND'],
      ['a stream of a node that does not exist (made up: no secret matches)', () => fetch(`${base}?stream=${foreign}`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-parley-secret': 'x' }, body: '' }).then(async (r) => ({ status: r.status, body: await r.text() })), 403, 'FORBIDDEN'],
      ['a malformed stream id', () => fetch(`${base}?stream=no-dot-here!`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-parley-secret': 'x' }, body: '' }).then(async (r) => ({ status: r.status, body: await r.text() })), 404, 'NOT_FOUND'],
      ['wrong secret', () => stream.post('{"type":"ping"}', { 'x-parley-secret': stream.secret.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')) }), 403, 'FORBIDDEN'],
      ['wrong content type', () => stream.post('{"type":"ping"}', { 'content-type': 'application/json' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['body over 16 × maxPayload', () => stream.post('x'.repeat(17 * 1_024)), 413, 'PAYLOAD_TOO_LARGE'],
    ]
    for (const [what, run, status, code] of cases) {
      const answer = await run()
      expect(answer.status, what).toBe(status)
      expect(JSON.parse(answer.body), what).toMatchObject({ code })
    }
    // A malformed frame is answered on the stream, as on a WebSocket.
    expect((await stream.post('{"type":"join","room":')).status).toBe(204)
    expect(JSON.parse(await stream.next())).toMatchObject({ type: 'error', code: 'INVALID_JSON' })
    // A flood of POSTs: past the per-stream rate, 429; the other session is untouched.
    const statuses = await Promise.all(Array.from({ length: 150 }, () => stream.post('')))
    expect(statuses.some((answer) => answer.status === 429)).toBe(true)
    expect(JSON.parse(statuses.find((answer) => answer.status === 429)?.body ?? '{}')).toMatchObject({ code: 'RATE_LIMITED' })
    expect((await other.post('{"type":"publish","room":"r","id":"p","data":"still fine"}')).status).toBe(204)
    expect(JSON.parse(await other.next())).toMatchObject({ type: 'message', data: 'still fine' })
  })

  it('closes with 1009 on a frame over maxPayload, as the last event, then ends the stream', async () => {
    const { base } = await server({ limits: { maxPayload: 1_024 } })
    const stream = await openStream(base)
    await stream.next()
    expect((await stream.post(`{"type":"publish","room":"r","data":"${'x'.repeat(2_000)}"}`)).status).toBe(204)
    expect(JSON.parse(await stream.next('close'))).toMatchObject({ code: 1009 })
    expect((await stream.post('{"type":"ping"}')).status).toBe(404)
  })

  it('keeps an idle stream alive with comment lines, and a DELETE closes it cleanly (presence leaves at once)', async () => {
    const { base, server: started } = await server({ httpStream: { keepaliveMs: 50 } })
    const stream = await openStream(base)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(stream.comments.length).toBeGreaterThanOrEqual(2)
    const closed = new Promise<number>((resolve) => started.parley.once('disconnect', (_session, code) => resolve(code)))
    const answer = await fetch(`${base}?stream=${stream.id}&code=1000`, { method: 'DELETE', headers: { 'x-parley-secret': stream.secret } })
    expect(answer.status).toBe(204)
    expect(await closed).toBe(1000)
  })

  it('pings with ping events: a stream that answers (an empty POST) stays, one that does not is ended as half-open', async () => {
    const { base, server: started } = await server({ heartbeat: { intervalMs: 100, timeoutMs: 100 } })
    const live = await openStream(base, 'lively')
    const silent = await openStream(base, 'silent')
    const ended: string[] = []
    started.parley.on('disconnect', (session, code) => void ended.push(`${session.user.id}:${code}`))
    const started_ = Date.now()
    // The lively one answers every ping, as the client transport does.
    let answered = 0
    while (Date.now() - started_ < 700) {
      const pings = live.events.filter(([name]) => name === 'ping').length
      while (answered < pings) {
        answered++
        expect((await live.post('')).status).toBe(204)
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(answered).toBeGreaterThan(0)
    expect(silent.events.some(([name]) => name === 'ping')).toBe(true)
    expect(ended).toEqual(['silent:1006'])
  })

  it("leaves the app's requests alone, and is off with transports: ['websocket']", async () => {
    const { base } = await server({ transports: ['websocket'] })
    const response = await fetch(`${base}?protocols=parley.v1.json`, { headers: { accept: 'text/event-stream', authorization: 'Bearer x' } })
    expect(await response.text()).toBe('plain http still works')
    const { base: withStream } = await server()
    expect(await (await fetch(withStream.replace('/parley', '/elsewhere'))).text()).toBe('plain http still works')
  })
})

describe('requests the URL parser refuses', () => {
  it('do not crash the server: a request target like //a:99999/ goes to the app, an upgrade to it is left alone', async () => {
    const { server: started } = await server()
    const { connect } = await import('node:net')
    const send = (text: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect(started.port, '127.0.0.1', () => socket.write(text))
        let answer = ''
        socket.on('data', (chunk) => (answer += chunk.toString()))
        socket.on('close', () => resolve(answer))
        setTimeout(() => socket.destroy(), 500)
      })
    expect(await send('GET //a:99999/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toContain('plain http still works')
    await send('GET //[/x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
    // Still serving.
    const answer = await fetch(`http://127.0.0.1:${started.port}/healthz`)
    expect(await answer.text()).toBe('plain http still works')
  })
})

describe('stream secrets across nodes', () => {
  it("are checked on the node a POST lands on, before anything is read or forwarded; a right one is forwarded to the stream's node", async () => {
    const { createMemoryAdapter } = await import('@parley/server-sdk')
    const shared = createMemoryAdapter()
    let forwards = 0
    const counting: import('@parley/server-sdk').Adapter = {
      async connect(hooks, config) {
        const node = await shared.connect(hooks, config)
        // A view of the node that counts forwards (methods stay bound to the node, which has private fields).
        return new Proxy(node, {
          get(target, property) {
            const value: unknown = Reflect.get(target, property, target)
            if (property === 'forward' && typeof value === 'function') {
              return (...args: unknown[]) => {
                forwards++
                return (value as (...a: unknown[]) => unknown).apply(target, args)
              }
            }
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
          },
        })
      },
    }
    const a = await server({ adapter: counting })
    const b = await server({ adapter: counting })
    const stream = await openStream(a.base)
    await stream.next()
    const post = (secret: string): Promise<Response> =>
      fetch(`${b.base}?stream=${stream.id}`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-parley-secret': secret }, body: '{"type":"ping","id":"via-b"}' })
    const wrong = await post(stream.secret.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')))
    expect(wrong.status).toBe(403)
    expect(forwards).toBe(0)
    const right = await post(stream.secret)
    expect(right.status).toBe(204)
    expect(forwards).toBe(1)
    expect(JSON.parse(await stream.next())).toMatchObject({ type: 'pong', id: 'via-b' })
  })
})
