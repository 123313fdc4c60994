import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Socket } from 'node:net'

/** A small HTTP reverse proxy for tests, like a corporate proxy or a PaaS router in front of Parley. */
export interface HttpProxy {
  readonly port: number
  /** `ws://127.0.0.1:<port>/parley` */
  readonly url: string
  /** Requests forwarded, per target index. */
  readonly forwarded: number[]
  /** Refuse WebSocket upgrades (403, as a proxy that breaks them would) from now on; existing ones are cut. */
  blockUpgrades(block: boolean): void
  /** Cuts every connection in flight (streams included), as a proxy restart would; new requests pass again. */
  drop(): void
  close(): Promise<void>
}

/**
 * Forwards every HTTP request to the next target in turn (round robin: consecutive requests, even of one client,
 * land on different targets, so nothing is sticky), streaming both ways so server-sent events pass. WebSocket
 * upgrades are tunnelled to the next target too, unless blocked.
 */
export async function startHttpProxy(targets: readonly number[], options: { blockUpgrades?: boolean } = {}): Promise<HttpProxy> {
  let next = 0
  let block = options.blockUpgrades ?? false
  const forwarded = targets.map(() => 0)
  const tunnels = new Set<Socket>()
  const inFlight = new Set<Socket>()
  const pick = (): number => {
    const index = next
    next = (next + 1) % targets.length
    forwarded[index] = (forwarded[index] ?? 0) + 1
    return targets[index] as number
  }
  const server: Server = createServer((incoming, outgoing) => {
    const socket = outgoing.socket
    if (socket !== null) {
      inFlight.add(socket)
      outgoing.on('close', () => inFlight.delete(socket))
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: pick(), method: incoming.method, path: incoming.url, headers: incoming.headers },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers)
        response.pipe(outgoing)
      },
    )
    upstream.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502)
      outgoing.end()
    })
    incoming.pipe(upstream)
    outgoing.on('close', () => upstream.destroy())
  })
  server.on('upgrade', (incoming, socket: Socket, head: Buffer) => {
    if (block) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<h1>WebSockets are not allowed</h1>')
      return
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: pick(), method: incoming.method, path: incoming.url, headers: incoming.headers })
    upstream.on('upgrade', (response, upstreamSocket, upstreamHead) => {
      const lines = [`HTTP/1.1 ${response.statusCode ?? 101} ${response.statusMessage ?? ''}`]
      for (let i = 0; i < response.rawHeaders.length; i += 2) lines.push(`${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}`)
      socket.write(`${lines.join('\r\n')}\r\n\r\n`)
      if (upstreamHead.length > 0) socket.write(upstreamHead)
      if (head.length > 0) upstreamSocket.write(head)
      tunnels.add(socket)
      socket.pipe(upstreamSocket).pipe(socket)
      const end = (): void => {
        tunnels.delete(socket)
        socket.destroy()
        upstreamSocket.destroy()
      }
      socket.on('close', end)
      upstreamSocket.on('close', end)
      socket.on('error', end)
      upstreamSocket.on('error', end)
    })
    upstream.on('response', (response) => {
      socket.end(`HTTP/1.1 ${response.statusCode ?? 502} ${response.statusMessage ?? ''}\r\nConnection: close\r\n\r\n`)
    })
    upstream.on('error', () => socket.destroy())
    upstream.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `ws://127.0.0.1:${port}/parley`,
    forwarded,
    blockUpgrades(value) {
      block = value
      if (value) for (const socket of tunnels) socket.destroy()
    },
    drop() {
      for (const socket of [...inFlight, ...tunnels]) socket.destroy()
    },
    async close() {
      for (const socket of tunnels) socket.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
