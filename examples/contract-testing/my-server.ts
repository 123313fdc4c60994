/**
 * "Your server", as the contract suite sees it: an Express 5 app with Parley attached, configured your way (here a
 * moderation middleware and an `authorize` hook), started once per node a scenario asks for. Swap `startApp` for
 * however your own server starts (another runtime, a fork, the app behind your proxy): the suite only needs one
 * `ws://` URL per node and a way to shut a node down.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { REQUESTS_CONTRACT, userOfToken, type RunningWsServer, type ServerSetup, type WsServer } from '@parley/contract'
import { serveContractRequests } from '@parley/contract/parley'
import { attach, createMemoryAdapter, ParleyServerError, type Adapter, type ServerOptions } from '@parley/server-sdk'
import express from 'express'

/** What a scenario asks for, mapped onto this server's options. A server of your own maps it onto its config. */
function optionsFor(setup: ServerSetup, adapter: Adapter): ServerOptions {
  return {
    // The contract's token rule: the user is the token up to its first '.', and tokens starting with "bad" are refused.
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
    shutdown: { timeoutMs: 1_000, batchIntervalMs: 0 },
    // Nodes share rooms through the adapter (the Redis adapter in production; memory here, in one process).
    adapter,
    // Your own rules: the contract must hold with them in place.
    authorize: ({ room }) => room !== 'admin',
    // The suite's requests (`request-response`) are checked against its contract, as your own would be.
    ...(setup.requests ? { contract: REQUESTS_CONTRACT } : {}),
  }
}

/** Starts the app on 127.0.0.1 (port 0); resolves with its URL and a graceful stop. */
async function startApp(options: ServerOptions, setup: ServerSetup): Promise<{ url: string; stop(): Promise<void> }> {
  const app = express()
  app.get('/healthz', (_request, response) => void response.send('ok'))
  const server: Server = createServer(app)
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const parley = attach(server, options)
  // The suite's requests (echo, whoami, refuse), with the suite's own handlers.
  serveContractRequests(parley, setup)
  parley.use(async (context, next) => {
    // A moderation rule: harmless for the contract's payloads, refused with REJECTED otherwise.
    if (context.message.type === 'publish' && JSON.stringify(context.message.data).includes('forbidden-word')) {
      throw new ParleyServerError('REJECTED', 'Message rejected by moderation')
    }
    await next()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await parley.ready
  let stopped: Promise<void> | undefined
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/parley`,
    stop() {
      stopped ??= (async () => {
        await parley.close() // 1001 to every client, then detach
        for (const socket of sockets) socket.destroy()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      })()
      return stopped
    },
  }
}

/** The server side of the contract: `setup.nodes` nodes sharing rooms, fresh for each scenario. */
export const myServer: WsServer = {
  async start(setup): Promise<RunningWsServer> {
    const adapter = createMemoryAdapter()
    const nodes = await Promise.all(Array.from({ length: setup.nodes }, () => startApp(optionsFor(setup, adapter), setup)))
    return {
      urls: nodes.map((node) => node.url),
      shutdown: async (index) => nodes[index]?.stop(),
      close: async () => void (await Promise.all(nodes.map((node) => node.stop()))),
    }
  },
}
