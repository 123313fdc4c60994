import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { attach, type Parley, type ServerOptions } from '@parley/server-sdk'

/** A Parley instance on a plain http server on 127.0.0.1, port 0. Dispose with `stop()`. */
export interface TestServer {
  readonly server: Server
  readonly parley: Parley
  readonly port: number
  /** ws://127.0.0.1:port + path */
  readonly url: string
  stop(): Promise<void>
}

export async function startServer(options: ServerOptions = {}, port = 0): Promise<TestServer> {
  const server = createServer((_request, response) => {
    response.statusCode = 200
    response.end('plain http still works')
  })
  const parley = attach(server, options)
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  await parley.ready
  const actual = (server.address() as AddressInfo).port
  return {
    server,
    parley,
    port: actual,
    url: `ws://127.0.0.1:${actual}${parley.options.path}`,
    async stop() {
      await parley.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
