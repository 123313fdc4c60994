import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { createClient, forgetTransportChoice, type Client, type ClientOptions } from '@parley/client-sdk'
import { attach, type Parley, type ServerOptions } from '@parley/server-sdk'
import { afterEach } from 'vitest'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

/** The real server SDK on a plain http server on 127.0.0.1. Dispose with `stop()` (idempotent). */
export interface LiveServer {
  readonly http: Server
  readonly parley: Parley
  readonly port: number
  /** ws://127.0.0.1:port/parley */
  readonly url: string
  /** `performance.now()` of every upgrade request this http server saw, in order: one per connection attempt. */
  readonly upgrades: readonly number[]
  stop(): Promise<void>
}

/** Where and how to start a {@link LiveServer}. */
export interface LiveServerSetup {
  /** The port to listen on; a restart passes the previous server's. @default 0 */
  readonly port?: number | undefined
  /** Runs once Parley is ready and before the server listens: no client can connect yet. */
  readonly beforeListen?: ((parley: Parley) => Promise<void>) | undefined
}

/** Starts `attach()` on a new http server; upgrades are counted before Parley sees them. */
export async function startLiveServer(options: ServerOptions = {}, setup: LiveServerSetup = {}): Promise<LiveServer> {
  const http = createServer((_request, response) => {
    response.statusCode = 404
    response.end()
  })
  const upgrades: number[] = []
  // Registered before attach(): Parley's listener stays the last one, which it relies on to answer 404s.
  http.on('upgrade', () => void upgrades.push(performance.now()))
  // A client left hanging must not hold a test's teardown for the 5 s default.
  const parley = attach(http, { ...options, shutdown: { timeoutMs: 300, batchIntervalMs: 0, ...options.shutdown } })
  await parley.ready
  await setup.beforeListen?.(parley)
  await listen(http, setup.port ?? 0)
  const port = (http.address() as AddressInfo).port
  let stopped: Promise<void> | undefined
  return {
    http,
    parley,
    port,
    url: `ws://127.0.0.1:${port}${parley.options.path}`,
    upgrades,
    stop: () =>
      (stopped ??= (async () => {
        await parley.close()
        http.closeAllConnections()
        await new Promise<void>((resolve) => http.close(() => resolve()))
      })()),
  }
}

/** An http server that refuses every upgrade with `status` (as a proxy or an overloaded node would). */
export async function startRefusingServer(status: number, body: object): Promise<{ url: string; upgrades: readonly number[]; stop(): Promise<void> }> {
  const http = createServer()
  const upgrades: number[] = []
  http.on('upgrade', (_request, socket: Duplex) => {
    upgrades.push(performance.now())
    const text = JSON.stringify(body)
    socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`)
  })
  await listen(http, 0)
  let stopped: Promise<void> | undefined
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/parley`,
    upgrades,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      })),
  }
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago; the kernel does not hand it out again at once). */
export async function freePort(): Promise<number> {
  const http = createServer()
  await listen(http, 0)
  const port = (http.address() as AddressInfo).port
  await new Promise<void>((resolve) => http.close(() => resolve()))
  return port
}

function listen(http: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, '127.0.0.1', () => {
      http.off('error', reject)
      resolve()
    })
  })
}

/**
 * `authenticate` that takes the token as the user id (stable across reconnects, so the server's per-user
 * de-duplication spans them), recording how the token travelled: as `Authorization: Bearer` (`ws`) or as a
 * `parley.token.<t>` subprotocol entry (a native WebSocket), or with no request at all (loopback, in-band).
 */
export function tokenAuth(seen: Array<'header' | 'subprotocol' | 'no-request'> = []): NonNullable<ServerOptions['authenticate']> {
  return ({ request, token }) => {
    seen.push(request === undefined ? 'no-request' : request.headers.authorization !== undefined ? 'header' : 'subprotocol')
    return token === undefined ? null : { id: token }
  }
}

/**
 * Disposable live resources: everything made through it is disposed after each test, clients first (so they do
 * not reconnect into a closing server), then proxies, then servers, then anything deferred.
 */
export function useLive(): {
  server(options?: ServerOptions, setup?: LiveServerSetup): Promise<LiveServer>
  client(url: string | readonly string[], options?: ClientOptions): Client
  proxy(targetPort: number): Promise<TcpProxy>
  defer(cleanup: () => unknown): void
} {
  const clients: Client[] = []
  const proxies: TcpProxy[] = []
  const servers: Array<{ stop(): Promise<void> }> = []
  const deferred: Array<() => unknown> = []
  afterEach(async () => {
    // The default transport remembers a fallback for the process: one test's must not choose the next one's.
    forgetTransportChoice()
    await Promise.all(clients.splice(0).map((client) => client.close()))
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
    await Promise.all(servers.splice(0).map((server) => server.stop()))
    for (const cleanup of deferred.splice(0).reverse()) await cleanup()
  })
  return {
    async server(options, setup) {
      const server = await startLiveServer(options, setup)
      servers.push(server)
      return server
    },
    client(url, options = {}) {
      const client = createClient(url, options)
      clients.push(client)
      return client
    },
    async proxy(targetPort) {
      const proxy = await startTcpProxy(targetPort)
      proxies.push(proxy)
      return proxy
    },
    defer(cleanup) {
      deferred.push(cleanup)
    },
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Polls `predicate` every few ms until it holds; fails naming `what` after `timeoutMs`, with `detail` (a value, or a
 * function called then) to show what there was instead.
 */
export async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 5_000, detail: unknown = ''): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) {
      const shown: unknown = typeof detail === 'function' ? (detail as () => unknown)() : detail
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what} ${JSON.stringify(shown)}`)
    }
    await sleep(5)
  }
}

/** `promise`, or a failure naming `what` after `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)), timeoutMs)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}
