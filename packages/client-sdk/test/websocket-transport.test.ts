import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { decode, encode, type ClientMessage } from '@parley/protocol'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws'
import { AuthError, UnsupportedProtocolError, createClient, websocketTransport, type Client } from '@parley/client-sdk'
import { welcomeMessage } from './helpers/fake-server.js'
import { nextEvent } from './helpers/wait.js'

// Node without a global WebSocket: the transport must load `ws` itself, send the token as a header and read the
// HTTP answer of a refused handshake. A real http.Server on 127.0.0.1:0 plays the server.

interface Upgrade {
  readonly path: string
  readonly headers: IncomingMessage['headers']
}

let server: Server
let base: string
const upgrades: Upgrade[] = []
const sockets = new Set<ServerSocket>()
const received: ClientMessage[] = []
const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('parley.v1.json') ? 'parley.v1.json' : false) })

function refuse(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`)
}

beforeAll(async () => {
  server = createServer()
  server.on('upgrade', (request, socket, head) => {
    const path = request.url ?? ''
    upgrades.push({ path, headers: request.headers })
    if (path === '/401') return refuse(socket, 401, { code: 'UNAUTHORIZED', message: 'bad token' })
    if (path === '/426') {
      return refuse(socket, 426, { code: 'UNSUPPORTED_VERSION', message: 'no common version', supported: ['parley.v9.json'], offered: ['parley.v2.json', 'parley.v1.json'] })
    }
    if (path === '/503') return refuse(socket, 503, { code: 'TRY_AGAIN_LATER' })
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws)
      ws.on('close', () => sockets.delete(ws))
      ws.on('message', (data) => {
        const result = decode(String(data), { from: 'client' })
        if (result.ok) received.push(result.message)
      })
      ws.send(encode(welcomeMessage()))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const socket of sockets) socket.terminate()
  wss.close()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

let clients: Client[] = []
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()))
  clients = []
  upgrades.length = 0
  received.length = 0
  vi.unstubAllGlobals()
})

function connect(path: string, options: Parameters<typeof createClient>[1] = {}): Client {
  // No global WebSocket, as in Node 20 without flags.
  vi.stubGlobal('WebSocket', undefined)
  const client = createClient(`${base}${path}`, { transport: websocketTransport(), reconnect: false, ...options })
  clients.push(client)
  return client
}

describe('websocket transport over ws (Node, no global WebSocket)', () => {
  it('connects, offers the subprotocols, sends the token as a Bearer header (not as a subprotocol), and talks', async () => {
    const client = connect('/ok', { token: 'secret-token' })
    await nextEvent(client, 'welcome')
    expect(client.protocol).toBe('parley.v1.json')
    expect(upgrades[0]?.headers['authorization']).toBe('Bearer secret-token')
    expect(upgrades[0]?.headers['sec-websocket-protocol']).toBe('parley.v2.json,parley.v1.json')
    const room = client.join('general')
    await vi.waitFor(() => expect(received.map((m) => m.type)).toContain('join'))
    expect(received.find((m) => m.type === 'join')).toMatchObject({ room: 'general' })
    expect(room.state).toBe('joining')
  })

  it('passes extra headers through', async () => {
    vi.stubGlobal('WebSocket', undefined)
    const client = createClient(`${base}/ok`, { transport: websocketTransport({ headers: { 'X-Trace': 't-1' } }), reconnect: false })
    clients.push(client)
    await nextEvent(client, 'welcome')
    expect(upgrades[0]?.headers['x-trace']).toBe('t-1')
  })

  it('maps HTTP 401 to an AuthError with the server message and never retries', async () => {
    const client = connect('/401', { reconnect: { initialDelayMs: 1 } })
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(AuthError)
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', status: 401, closeCode: 4401, message: 'bad token' })
    expect(client.state).toBe('closed')
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(upgrades).toHaveLength(1)
  })

  it('maps HTTP 426 to an UnsupportedProtocolError listing the server’s versions and never retries', async () => {
    const client = connect('/426', { reconnect: { initialDelayMs: 1 } })
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(UnsupportedProtocolError)
    expect(error).toMatchObject({ code: 'UNSUPPORTED_VERSION', status: 426, supported: ['parley.v9.json'], offered: ['parley.v2.json', 'parley.v1.json'] })
    expect(error.message).toContain('parley.v2.json')
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(upgrades).toHaveLength(1)
  })

  it('treats other HTTP answers as retryable', async () => {
    const client = connect('/503', { reconnect: { initialDelayMs: 5, maxAttempts: 2 } })
    const first = await nextEvent(client, 'reconnect')
    expect(first.error).toMatchObject({ code: 'CONNECTION_FAILED', status: 503 })
    const error = await nextEvent(client, 'error')
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(upgrades).toHaveLength(3)
  })

  it('treats a refused TCP connection as retryable', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    vi.stubGlobal('WebSocket', undefined)
    const client = createClient(`ws://127.0.0.1:${port}/`, { transport: websocketTransport(), reconnect: { initialDelayMs: 5, maxAttempts: 1 } })
    clients.push(client)
    const reconnect = await nextEvent(client, 'reconnect')
    expect(reconnect).toMatchObject({ attempt: 1, code: 1006 })
    expect(reconnect.error?.code).toBe('CONNECTION_FAILED')
  })

  it('a subprotocol ws cannot send fails the attempt with CONNECTION_FAILED, not an unhandled rejection', async () => {
    vi.stubGlobal('WebSocket', undefined)
    const made = websocketTransport()({ url: 'ws://127.0.0.1:1/parley', protocols: ['not a token'], token: undefined })
    const errors: unknown[] = []
    made.onError((error) => errors.push(error))
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => made.onClose((code, reason) => resolve({ code, reason })))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'CONNECTION_FAILED', message: 'Cannot open a WebSocket to ws://127.0.0.1:1/parley' })
    expect(closed.code).toBe(1006)
  })

  it('a server-initiated retryable close reconnects over ws', async () => {
    const client = connect('/ok', { reconnect: { initialDelayMs: 5 } })
    await nextEvent(client, 'welcome')
    for (const socket of sockets) socket.close(1012, 'restart')
    expect(await nextEvent(client, 'reconnect')).toMatchObject({ code: 1012, reason: 'restart' })
    await nextEvent(client, 'welcome')
    expect(upgrades).toHaveLength(2)
  })
})

describe('websocket transport over the global WebSocket (WHATWG)', () => {
  it('sends the token as a subprotocol entry and gets parley.v1.json selected', async () => {
    const client = createClient(`${base}/ok`, { token: 'tok-9', transport: websocketTransport(), reconnect: false })
    clients.push(client)
    await nextEvent(client, 'welcome')
    expect(upgrades[0]?.headers['sec-websocket-protocol']).toBe('parley.v2.json, parley.v1.json, parley.negotiate, parley.token.tok-9')
    expect(upgrades[0]?.headers['authorization']).toBeUndefined()
    expect(client.protocol).toBe('parley.v1.json')
  })

  it('a refused handshake ends the attempt at once, even where no close event follows the error (Node 20)', async () => {
    const client = createClient(`${base}/401`, { transport: websocketTransport(), connectTimeoutMs: 5_000, reconnect: { initialDelayMs: 5, maxAttempts: 1 } })
    clients.push(client)
    const started = Date.now()
    const reconnect = await nextEvent(client, 'reconnect')
    expect(Date.now() - started).toBeLessThan(2_000)
    // A WHATWG WebSocket cannot read the status: a 401 looks like any failed attempt.
    expect(reconnect).toMatchObject({ attempt: 1, code: 1006 })
    expect(reconnect.error?.code).toBe('CONNECTION_FAILED')
  })

  it('preferWs uses ws although a global WebSocket exists: Bearer header, typed 401', async () => {
    expect(typeof globalThis.WebSocket).toBe('function')
    const client = createClient(`${base}/401`, { token: 'tok', transport: websocketTransport({ preferWs: true }), reconnect: { initialDelayMs: 1 } })
    clients.push(client)
    const error = await nextEvent(client, 'error')
    expect(error).toBeInstanceOf(AuthError)
    expect(upgrades[0]?.headers['authorization']).toBe('Bearer tok')
    expect(client.state).toBe('closed')
  })
})
