import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { CloseCode } from '@parley/protocol'
import { attach, type Parley } from '@parley/server-sdk'
import express from 'express'
import Koa from 'koa'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { closeServer, listen, listening, Resources, track, tryHandshake, within } from './helpers/fixtures.js'
import { connect, refusedHandshake, type RawClient } from './helpers/raw-client.js'

const resources = new Resources()
afterEach(() => resources.dispose())

function serve(server: Server): Server {
  return resources.add(track(server), closeServer)
}

function attached(server: Server, options: Parameters<typeof attach>[1] = {}): Parley {
  return resources.add(attach(server, options), (parley) => parley.close())
}

function client(promise: Promise<RawClient>): Promise<RawClient> {
  return promise.then((c) => resources.add(c, (raw) => raw.ws.terminate()))
}

/** Joins a room, publishes with an id and checks the ack and the echoed message: the whole path works. */
async function roundTrip(raw: RawClient, room: string, text: string): Promise<void> {
  const welcome = await raw.next('welcome')
  raw.send({ type: 'join', room, id: `j-${text}` })
  expect(await raw.next('joined')).toMatchObject({ room, id: `j-${text}` })
  raw.send({ type: 'publish', room, id: `p-${text}`, data: { text } })
  expect(await raw.next('message')).toMatchObject({ room, from: welcome.user, data: { text } })
  expect(await raw.next('ack')).toMatchObject({ id: `p-${text}`, room })
}

/** An unrelated ws server in noServer mode with its own upgrade listener, echoing on `path`. */
function echoServer(server: Server, path: string): { wss: WebSocketServer; listener: (r: IncomingMessage, s: Duplex, h: Buffer) => void } {
  const wss = resources.add(new WebSocketServer({ noServer: true }), (w) => new Promise<void>((resolve) => {
    for (const socket of w.clients) socket.terminate()
    w.close(() => resolve())
  }))
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo:${String(data)}`)))
  const listener = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (new URL(request.url ?? '/', 'http://x').pathname !== path) return
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request))
  }
  server.on('upgrade', listener)
  return { wss, listener }
}

async function echo(url: string, text: string): Promise<string> {
  const ws = resources.add(new WebSocket(url), (w) => w.terminate())
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))))
  ws.send(text)
  return within(reply, 2_000, 'echo reply')
}

describe('attach() onto real frameworks', () => {
  it('serves Parley on an Express 5 app.listen() server while the app keeps answering HTTP', async () => {
    const app = express()
    app.get('/health', (_request, response) => {
      response.json({ ok: 'express' })
    })
    const server = serve(app.listen(0, '127.0.0.1'))
    const port = await listening(server)
    attached(server)

    const raw = await client(connect(`ws://127.0.0.1:${port}/parley`))
    await roundTrip(raw, 'general', 'hello-express')

    const response = await fetch(`http://127.0.0.1:${port}/health`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: 'express' })
    // Express's own 404 still answers unknown plain routes.
    expect((await fetch(`http://127.0.0.1:${port}/nothing-here`)).status).toBe(404)
  })

  it('serves Parley on a Koa 3 app in http.createServer(app.callback()) while Koa keeps answering HTTP', async () => {
    const app = new Koa()
    app.use((context) => {
      context.body = { ok: 'koa', path: context.path }
    })
    const server = serve(createServer(app.callback()))
    attached(server, { path: '/realtime' })
    const port = await listen(server)

    const raw = await client(connect(`ws://127.0.0.1:${port}/realtime`))
    await roundTrip(raw, 'lobby', 'hello-koa')

    const response = await fetch(`http://127.0.0.1:${port}/anything`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: 'koa', path: '/anything' })
  })
})

describe('attach() alongside other upgrade listeners', () => {
  it('runs two Parley instances on different paths of one server, each with its own sessions and rooms', async () => {
    const server = serve(createServer())
    const first = attached(server, { path: '/one' })
    const second = attached(server, { path: '/two' })
    const port = await listen(server)

    const a = await client(connect(`ws://127.0.0.1:${port}/one`))
    const b = await client(connect(`ws://127.0.0.1:${port}/two`))
    await roundTrip(a, 'shared-name', 'from-one')
    await roundTrip(b, 'shared-name', 'from-two')
    expect(first.stats().connections).toBe(1)
    expect(second.stats().connections).toBe(1)
    // Same room name, different instances: nothing crosses over.
    expect((await a.quiet(50)).filter((m) => m.type === 'message')).toEqual([])
    expect(first.sessions().map((s) => s.id)).not.toContain(second.sessions()[0]?.id)
  })

  it('answers 404 to an upgrade on an unknown path when only Parley instances listen for upgrades', async () => {
    const server = serve(createServer())
    attached(server, { path: '/one' })
    attached(server, { path: '/two' })
    const port = await listen(server)
    const refused = await within(refusedHandshake(`ws://127.0.0.1:${port}/three`), 2_000, 'answer to an unknown path')
    expect(refused.status).toBe(404)
  })

  it('leaves an unrelated ws server (noServer, own upgrade listener) working, whichever listener came first', async () => {
    const server = serve(createServer())
    echoServer(server, '/before')
    attached(server, { path: '/parley' })
    echoServer(server, '/after')
    const port = await listen(server)

    expect(await echo(`ws://127.0.0.1:${port}/before`, 'one')).toBe('echo:one')
    expect(await echo(`ws://127.0.0.1:${port}/after`, 'two')).toBe('echo:two')
    const raw = await client(connect(`ws://127.0.0.1:${port}/parley`))
    await roundTrip(raw, 'general', 'beside-ws')
    // And the other server's sockets are not Parley sessions.
    expect(await echo(`ws://127.0.0.1:${port}/after`, 'three')).toBe('echo:three')
  })

  it('answers 404 with a JSON body to an upgrade on an unknown path when Parley is the only upgrade listener', async () => {
    const server = serve(createServer())
    attached(server)
    const port = await listen(server)
    const refused = await refusedHandshake(`ws://127.0.0.1:${port}/elsewhere`)
    expect(refused.status).toBe(404)
    expect(refused.body['code']).toBe('NOT_FOUND')
    // The path must match exactly: a prefix is another path.
    expect((await refusedHandshake(`ws://127.0.0.1:${port}/parley/extra`)).status).toBe(404)
    // The query string is not part of the path.
    const ok = await tryHandshake(`ws://127.0.0.1:${port}/parley?x=1`)
    expect(ok).toEqual({ kind: 'open', protocol: 'parley.v1.json' })
  })
})

describe('close()', () => {
  it('closes sessions with 1001, removes its upgrade listener and leaves the server as it was', async () => {
    const server = serve(createServer((_request, response) => response.end('plain')))
    const { listener } = echoServer(server, '/other')
    const eventsBefore = new Map(server.eventNames().map((name) => [name, server.listeners(name)]))
    const parley = attached(server)
    expect(server.listenerCount('upgrade')).toBe(2)
    const port = await listen(server)
    eventsBefore.set('listening', server.listeners('listening'))
    eventsBefore.set('error', server.listeners('error'))

    const a = await client(connect(`ws://127.0.0.1:${port}/parley`))
    const b = await client(connect(`ws://127.0.0.1:${port}/parley`))
    await a.next('welcome')
    await b.next('welcome')

    await parley.close()
    const [closedA, closedB] = await within(Promise.all([a.closed, b.closed]), 2_000, 'sessions closing')
    expect(closedA.code).toBe(CloseCode.GoingAway)
    expect(closedB.code).toBe(CloseCode.GoingAway)
    expect(server.listenerCount('upgrade')).toBe(1)
    expect(server.listeners('upgrade')).toEqual([listener])
    for (const [name, listeners] of eventsBefore) expect(server.listeners(name)).toEqual(listeners)
    expect(parley.stats().connections).toBe(0)

    // What was there before still works.
    expect(await echo(`ws://127.0.0.1:${port}/other`, 'still')).toBe('echo:still')
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('plain')
  })

  it('is idempotent: every call returns the same promise, before and after it settled', async () => {
    const server = serve(createServer((_request, response) => response.end('plain')))
    const before = server.listenerCount('upgrade')
    const parley = attached(server)
    const port = await listen(server)
    const raw = await client(connect(`ws://127.0.0.1:${port}/parley`))
    await raw.next('welcome')
    let disconnects = 0
    parley.on('disconnect', () => disconnects++)

    const first = parley.close()
    const second = parley.close()
    expect(second).toBe(first)
    await first
    expect(parley.close()).toBe(first)
    await parley.close()
    expect(server.listenerCount('upgrade')).toBe(before)
    expect((await raw.closed).code).toBe(CloseCode.GoingAway)
    expect(disconnects).toBe(1)
    // With no upgrade listener left, Node hands the request to the plain request handler: no WebSocket opens.
    const after = await within(tryHandshake(`ws://127.0.0.1:${port}/parley`), 2_000, 'handshake after close')
    expect(after.kind).toBe('http')
  })

  it('refuses upgrades with 503 TRY_AGAIN_LATER while it drains', async () => {
    const server = serve(createServer())
    const parley = attached(server, { shutdown: { timeoutMs: 2_000 } })
    const port = await listen(server)
    const raw = await client(connect(`ws://127.0.0.1:${port}/parley`))
    await raw.next('welcome')
    // A client that does not answer the close keeps the drain going: pause its socket so it never reads the close.
    raw.ws.pause()
    const closing = parley.close()
    const refused = await refusedHandshake(`ws://127.0.0.1:${port}/parley`)
    expect(refused.status).toBe(503)
    expect(refused.body['code']).toBe('TRY_AGAIN_LATER')
    expect(refused.headers['retry-after']).toMatch(/^\d+$/)
    raw.ws.resume()
    await closing
    expect(server.listenerCount('upgrade')).toBe(0)
  })
})
