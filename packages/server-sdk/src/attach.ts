import { Server as HttpServerClass, type Server as HttpServer } from 'node:http'
import { Server as HttpsServerClass, type Server as HttpsServer } from 'node:https'
import type { ServerOptions } from './options.js'
import { Parley } from './parley.js'
import { optionError } from './server-error.js'
import type { Connection, Handshake } from './transports/connection.js'
import { attachHttpStreamTransport } from './transports/http-stream.js'
import { attachWebSocketTransport } from './transports/ws.js'

/**
 * Attaches Parley to an existing `http.Server` or `https.Server` (Express's `app.listen()`, Koa's
 * `http.createServer(app.callback())`, plain `http`). It handles WebSocket upgrades on `options.path` only and
 * leaves every other request and upgrade listener alone; `close()` detaches it again. Bad options throw here.
 */
export function attach(server: HttpServer | HttpsServer, options: ServerOptions = {}): Parley {
  // An Express or Koa app is an EventEmitter too, but never sees an upgrade, and a bare net.Server (or a TLS one)
  // speaks no HTTP: only an http.Server or https.Server will do.
  const given: unknown = server
  if (!(given instanceof HttpServerClass) && !(given instanceof HttpsServerClass)) {
    throw optionError('Parley: attach() takes an http.Server or https.Server as its first argument (for Express, the server app.listen() returns; for Koa, http.createServer(app.callback()))')
  }
  const parley = new Parley(options)
  const { path, limits, tokenCookie, logger, transports, httpStream, compression } = parley.options
  const accept = (connection: Connection, handshake: Handshake): Promise<unknown> => parley.accept(connection, handshake)
  try {
    if (compression !== undefined && !transports.includes('websocket')) {
      throw optionError("Parley: option \"compression\" is permessage-deflate on the WebSocket transport, and \"transports\" leaves WebSocket out (the HTTP stream is never compressed)")
    }
    if (transports.includes('websocket')) {
      const ws = attachWebSocketTransport(server, { path, maxPayload: limits.maxPayload, tokenCookie, logger, compression, protocols: parley.options.protocols, compressionCounters: parley.compressionCounters, accept })
      parley.addDetacher(() => ws.detach())
    }
    if (transports.includes('http-stream')) {
      const stream = attachHttpStreamTransport(server, {
        path,
        maxPayload: limits.maxPayload,
        tokenCookie,
        logger,
        keepaliveMs: httpStream.keepaliveMs,
        // A POST carries one or more frames; its frames pass the session's own limits as well.
        postRate: { messages: limits.rate.messages + limits.signalRate.messages + limits.controlRate.messages, perMs: 1_000 },
        accept,
        nodeId: () => parley.nodeId,
        streamSecret: (stream, anywhere) => parley.streamSecret(stream, anywhere),
        forward: (node, request) => parley.forward(node, request),
      })
      parley.setForwardHandler((request) => stream.forwarded(request))
      parley.addDetacher(() => stream.detach())
    }
  } catch (error) {
    // Stop the instance's timers and undo what was attached before reporting the bad option.
    void parley.close()
    throw error
  }
  return parley
}
