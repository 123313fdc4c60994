import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { attach, createMemoryAdapter, RequestError, type Adapter, type Parley, type ServerOptions } from '@parley/server-sdk'
import { REFUSE_CODE, REQUESTS_CONTRACT } from './requests.js'
import { userOfToken } from './setup.js'
import type { RunningWsServer, ServerSetup, WsServer } from './types.js'

/** The server SDK options that implement a {@link ServerSetup}; every node of one setup shares `adapter`. */
export function referenceServerOptions(setup: ServerSetup, adapter: Adapter): ServerOptions {
  return {
    ...(setup.auth
      ? {
          authenticate: ({ token }) => {
            const user = userOfToken(token)
            return user === null ? null : { id: user }
          },
        }
      : {}),
    protocols: [...setup.protocols],
    limits: { maxPayload: setup.maxPayload, rate: setup.rate },
    history: { size: setup.historySize },
    presence: { graceMs: setup.presenceGraceMs },
    backpressure: { maxBufferedBytes: setup.maxBufferedBytes },
    // A client that never answers the 1001 must not hold a scenario for the 5 s default.
    shutdown: { timeoutMs: 1_000, batchIntervalMs: 0 },
    ...(setup.requests ? { contract: REQUESTS_CONTRACT } : {}),
    adapter,
  }
}

/**
 * Registers the suite's request handlers (`echo`, `whoami`, `refuse`; see {@link REQUESTS_CONTRACT}) on a Parley
 * instance when `setup.requests` asks for them; does nothing otherwise. The input checks are the server's, from the
 * `contract` option {@link referenceServerOptions} sets: a Parley server of your own calls this after `attach()`.
 */
export function serveContractRequests(parley: Parley, setup: ServerSetup): void {
  if (!setup.requests) return
  parley
    .handle('echo', (input) => input)
    // Without auth every connection is an anonymous user whose id is its session id: not a user id to report.
    .handle('whoami', (_input, { user }) => (setup.auth ? user.id : null))
    .handle('refuse', () => {
      throw new RequestError(REFUSE_CODE, "I'm a teapot: this request is always refused")
    })
}

/** Options of {@link parleyServer}. */
export interface ParleyServerOptions {
  /**
   * Changes the options each node gets (to test your own configuration, middleware or hooks against the contract).
   * With `setup.requests` the suite's handlers are registered on each node after `attach()`, so a `contract` of your
   * own must name `echo`, `whoami` and `refuse` as {@link REQUESTS_CONTRACT} does (keeping the given one is simplest).
   */
  readonly configure?: ((options: ServerOptions, setup: ServerSetup) => ServerOptions) | undefined
}

/**
 * The Parley server SDK as a {@link WsServer}: each node is a plain `http.Server` on 127.0.0.1 (port 0) with
 * `attach()`, all nodes on one memory adapter (so a client can fail over between them and resume).
 */
export function parleyServer(options: ParleyServerOptions = {}): WsServer {
  return {
    async start(setup): Promise<RunningWsServer> {
      const adapter = createMemoryAdapter()
      const nodes = await Promise.all(
        Array.from({ length: setup.nodes }, async () => {
          const server = createServer((_request, response) => {
            response.statusCode = 404
            response.end()
          })
          const sockets = new Set<Socket>()
          server.on('connection', (socket: Socket) => {
            sockets.add(socket)
            socket.once('close', () => sockets.delete(socket))
          })
          const base = referenceServerOptions(setup, adapter)
          const parley = attach(server, options.configure === undefined ? base : options.configure(base, setup))
          serveContractRequests(parley, setup)
          await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
          await parley.ready
          return { server, parley, sockets, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}${parley.options.path}`, stopped: undefined as Promise<void> | undefined }
        }),
      )
      const stop = (node: (typeof nodes)[number]): Promise<void> => {
        node.stopped ??= (async () => {
          await node.parley.close()
          await closeServer(node.server, node.sockets)
        })()
        return node.stopped
      }
      return {
        urls: nodes.map((node) => node.url),
        shutdown: async (index) => {
          const node = nodes[index]
          if (node === undefined) throw new Error(`no node ${index}`)
          await stop(node)
        },
        close: async () => {
          await Promise.all(nodes.map(stop))
        },
      }
    },
  }
}

async function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  server.closeAllConnections()
  for (const socket of sockets) socket.destroy()
  if (!server.listening) return
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
