import { connect, createServer, type Socket } from 'node:net'
import type { Network } from './types.js'

/** A TCP proxy in front of one server URL, through which one client's connections go, for fault injection. */
export interface FaultProxy extends Network {
  /** The target URL with the proxy's host and port. */
  readonly url: string
  close(): Promise<void>
}

interface Link {
  readonly client: Socket
  readonly upstream: Socket
}

/**
 * Starts a proxy on 127.0.0.1 (port 0) that forwards bytes unchanged to `target`'s host and port. It can drop the
 * current connections (both sides see the TCP connection end without a close frame: 1006), refuse new ones, or stop
 * reading from the server (a client that stopped reading: the server's socket buffers and its `bufferedAmount` fill).
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const to = new URL(target)
  const port = Number(to.port || (to.protocol === 'wss:' ? 443 : 80))
  const links = new Set<Link>()
  let offline = false
  let stalled = false

  const server = createServer((client) => {
    if (offline) {
      client.destroy()
      return
    }
    const upstream = connect(port, to.hostname)
    const link: Link = { client, upstream }
    links.add(link)
    const end = (): void => {
      links.delete(link)
      client.destroy()
      upstream.destroy()
    }
    // Forwarded by hand rather than with pipe(): pipe() resumes a source on 'drain', which would undo a stall.
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) upstream.pause()
    })
    client.on('drain', () => {
      if (!stalled) upstream.resume()
    })
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause()
    })
    upstream.on('drain', () => client.resume())
    upstream.on('end', () => client.end())
    client.on('end', () => upstream.end())
    upstream.on('close', end)
    client.on('close', end)
    upstream.on('error', end)
    client.on('error', end)
    if (stalled) upstream.pause()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (typeof address !== 'object' || address === null) throw new Error('fault proxy: no address')
  const url = new URL(target)
  url.hostname = '127.0.0.1'
  url.port = String(address.port)

  const drop = (): void => {
    for (const link of [...links]) {
      links.delete(link)
      // A reset, not a FIN: nothing more is delivered either way.
      for (const socket of [link.client, link.upstream]) {
        try {
          socket.resetAndDestroy()
        } catch {
          socket.destroy()
        }
      }
    }
  }
  return {
    url: url.toString(),
    drop,
    offline() {
      offline = true
      drop()
    },
    online() {
      offline = false
    },
    stall() {
      stalled = true
      for (const link of links) link.upstream.pause()
    },
    resume() {
      stalled = false
      for (const link of links) link.upstream.resume()
    },
    async close() {
      offline = true
      drop()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
