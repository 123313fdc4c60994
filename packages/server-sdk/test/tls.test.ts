import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createClient, websocketTransport, type WebSocketConstructor } from '@parley/client-sdk'
import { attach, type Parley } from '@parley/server-sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { throwawayCa, type ThrowawayCa } from './helpers/throwaway-ca.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/tls-client.ts', import.meta.url))

describe('TLS: attach() onto an https.Server, with a certificate from a throwaway CA', () => {
  let tls: ThrowawayCa
  let server: Server
  let parley: Parley
  let port = 0

  beforeAll(async () => {
    tls = throwawayCa()
    server = createServer({ key: tls.key, cert: tls.cert }, (_request, response) => response.end('app over https'))
    parley = attach(server, { authenticate: ({ token }) => (token === undefined ? null : { id: token }), transports: ['websocket', 'http-stream'] })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    await parley.ready
    port = (server.address() as AddressInfo).port
  }, 20_000)
  afterAll(async () => {
    await parley?.close()
    server?.closeAllConnections()
    await new Promise<void>((resolve) => server?.close(() => resolve()))
  })

  it('a Node client given the CA (a ws class with `ca`) chats over wss://', async () => {
    const ca = tls.ca
    // The CA goes to `ws` the way any TLS option does: a class that adds it to the options of every connection.
    class TrustingWebSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[], options: WebSocket.ClientOptions = {}) {
        super(url, protocols, { ...options, ca })
      }
    }
    const client = createClient(`wss://127.0.0.1:${port}/parley`, { token: 'alice', reconnect: false, transport: websocketTransport({ WebSocket: TrustingWebSocket as unknown as WebSocketConstructor }) })
    try {
      const room = client.join<string>('secure')
      const got = new Promise<string>((resolve) => room.on('message', (message) => resolve(String(message.data))))
      await room.publish('hello over TLS')
      expect(await got).toBe('hello over TLS')
      expect(client.transport).toBe('websocket')
      expect(parley.stats().connectionsBy).toEqual([{ transport: 'websocket', protocol: 'parley.v2.json', connections: 1 }])
    } finally {
      await client.close()
    }
  })

  it('a client that does not trust the CA is refused by its own TLS check, and the server sees no session', async () => {
    const client = createClient(`wss://127.0.0.1:${port}/parley`, { token: 'mallory', reconnect: false, transport: websocketTransport({ preferWs: true }) })
    const error = await new Promise<Error>((resolve) => client.on('error', resolve))
    await client.close()
    expect(String((error as { cause?: unknown }).cause ?? error.message)).toMatch(/self[- ]signed|unable to (get|verify)|certificate/i)
    expect(parley.stats().connectionsOpened).toBe(1)
  })

  it.each(['websocket', 'http-stream'])('a client process trusting the CA through NODE_EXTRA_CA_CERTS chats over %s', async (transport) => {
    const scheme = transport === 'websocket' ? 'wss' : 'https'
    // Not spawnSync: the server answering it runs in this process.
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, `${scheme}://127.0.0.1:${port}/parley`, transport], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caFile, NODE_OPTIONS: '' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill(), 20_000)
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    clearTimeout(timer)
    expect(code, stderr).toBe(0)
    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({ transport, data: `over ${transport}`, from: 'child' })
  }, 30_000)
})
