import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import type { Server as HttpsServer } from 'node:https'

type Listener = (request: IncomingMessage, response: ServerResponse) => void

/**
 * Takes a server's HTTP requests before the app sees them, the way engine.io attaches: the server's `request`
 * listeners (the app) move behind `handle`, which answers what is its own (returning true) and hands everything else
 * to them unchanged. Several takers nest (Parley's HTTP stream, the inspector), each holding the ones before it.
 *
 * `release()` gives the requests back whatever order the takers are released in: when this taker is still
 * registered, the listeners it holds go back in its place; when another taker holds it, it stays there but passes
 * every request through, so no listener is ever registered twice.
 */
export function takeRequests(server: HttpServer | HttpsServer, handle: (request: IncomingMessage, response: ServerResponse) => boolean): { release(): void } {
  const held = server.listeners('request') as Listener[]
  server.removeAllListeners('request')
  let released = false
  const taker: Listener = (request, response) => {
    if (!released && handle(request, response)) return
    for (const listener of held) listener.call(server, request, response)
  }
  server.on('request', taker)
  return {
    release() {
      if (released) return
      released = true
      const current = server.listeners('request') as Listener[]
      const at = current.indexOf(taker)
      if (at === -1) return
      server.removeAllListeners('request')
      for (const listener of [...current.slice(0, at), ...held, ...current.slice(at + 1)]) server.on('request', listener)
    },
  }
}
