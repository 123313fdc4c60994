import type { Server as HttpServer } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import { Server as NetServer } from 'node:net'
import type { ServerOptions } from './options.js'
import { Parley } from './parley.js'
import { optionError } from './server-error.js'
import { attachWebSocketTransport } from './transports/ws.js'

/**
 * Attaches Parley to an existing `http.Server` or `https.Server` (Express's `app.listen()`, Koa's
 * `http.createServer(app.callback())`, plain `http`). It handles WebSocket upgrades on `options.path` only and
 * leaves every other request and upgrade listener alone; `close()` detaches it again. Bad options throw here.
 */
export function attach(server: HttpServer | HttpsServer, options: ServerOptions = {}): Parley {
  // An Express or Koa app is an EventEmitter too, but never sees an upgrade: only a net.Server (http, https) does.
  if (!(server instanceof NetServer)) {
    throw optionError('Parley: attach() takes an http.Server or https.Server as its first argument (for Express, the server app.listen() returns; for Koa, http.createServer(app.callback()))')
  }
  const parley = new Parley(options)
  let transport: { detach(): Promise<void> }
  try {
    transport = attachWebSocketTransport(server, {
      path: parley.options.path,
      maxPayload: parley.options.limits.maxPayload,
      tokenCookie: parley.options.tokenCookie,
      logger: parley.options.logger,
      accept: (connection, handshake) => parley.accept(connection, handshake),
    })
  } catch (error) {
    // Nothing was attached: stop the instance's timers before reporting the bad option.
    void parley.close()
    throw error
  }
  parley.addDetacher(() => transport.detach())
  return parley
}
