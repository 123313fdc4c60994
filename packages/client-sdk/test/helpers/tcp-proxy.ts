import { createServer, connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

/** Which way a frozen connection stops forwarding. */
export type FreezeDirection = 'both' | 'to-client'

/**
 * A TCP proxy on 127.0.0.1 between a client and a server, to make a half-open connection real: `freeze()` stops
 * forwarding bytes on the connections open now without closing either socket, so each side still believes the
 * other is there and nothing but a heartbeat can tell. Connections accepted after a freeze are forwarded normally
 * (the path healed), so a client can reconnect through the same proxy.
 */
export interface TcpProxy {
  readonly port: number
  /** ws://127.0.0.1:<proxy port><path> */
  url(path: string): string
  /** Connections accepted so far. */
  readonly accepted: number
  /** `performance.now()` of the last bytes forwarded from the server to a client, on any connection. */
  readonly lastToClientAt: number
  /** Stops forwarding on every open connection (`to-client`: only the server's bytes are swallowed). */
  freeze(direction?: FreezeDirection): void
  /** Destroys every socket and stops listening. */
  close(): Promise<void>
}

interface Pair {
  readonly client: Socket
  readonly upstream: Socket
  up: boolean
  down: boolean
}

export async function startTcpProxy(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<Pair>()
  let accepted = 0
  let lastToClientAt = 0
  const server = createServer((client) => {
    accepted++
    const upstream = connect(targetPort, host)
    const pair: Pair = { client, upstream, up: true, down: true }
    pairs.add(pair)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    client.on('data', (chunk) => {
      if (pair.up) upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (!pair.down) return
      lastToClientAt = performance.now()
      client.write(chunk)
    })
    // A healthy path carries a close from one side to the other; a frozen one does not (that is the point).
    const closeBoth = (): void => {
      if (!pair.up || !pair.down) return
      client.destroy()
      upstream.destroy()
    }
    client.on('close', closeBoth)
    upstream.on('close', closeBoth)
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  let closed: Promise<void> | undefined
  return {
    port,
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    get accepted() {
      return accepted
    },
    get lastToClientAt() {
      return lastToClientAt
    },
    freeze(direction = 'both') {
      for (const pair of pairs) {
        pair.down = false
        if (direction === 'both') pair.up = false
      }
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        for (const { client, upstream } of pairs) {
          client.destroy()
          upstream.destroy()
        }
        pairs.clear()
        server.close(() => resolve())
      })),
  }
}

/** A TCP server that accepts connections and never answers: a server that hangs before the WebSocket handshake. */
export interface Blackhole {
  url(path: string): string
  /** Connections accepted so far. */
  readonly accepted: number
  close(): Promise<void>
}

export async function startBlackhole(): Promise<Blackhole> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  let accepted = 0
  server.on('connection', () => void accepted++)
  let closed: Promise<void> | undefined
  return {
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    get accepted() {
      return accepted
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })),
  }
}
