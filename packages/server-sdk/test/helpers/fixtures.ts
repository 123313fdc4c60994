import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import WebSocket from 'ws'

/**
 * Disposable test resources: register a cleanup as soon as a resource exists, run them all (newest first) in
 * `afterEach`, so a failing test never leaves a server listening.
 */
export class Resources {
  readonly #cleanups: Array<() => unknown> = []

  add<T>(resource: T, cleanup: (resource: T) => unknown): T {
    this.#cleanups.push(() => cleanup(resource))
    return resource
  }

  async dispose(): Promise<void> {
    const errors: unknown[] = []
    for (const cleanup of this.#cleanups.splice(0).reverse()) {
      try {
        await cleanup()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length > 0) throw errors[0]
  }
}

/** Listens on 127.0.0.1, port 0, and resolves with the port. */
export async function listen(server: Server): Promise<number> {
  if (!server.listening) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  }
  return (server.address() as AddressInfo).port
}

/** Waits for a server that is already being started (Express's `app.listen()`) to listen. */
export async function listening(server: Server): Promise<number> {
  if (!server.listening) await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return (server.address() as AddressInfo).port
}

const sockets = new WeakMap<Server, Set<Socket>>()

/**
 * Starts tracking a server's sockets so {@link closeServer} can drop them all, upgraded or half-upgraded ones
 * included (`closeAllConnections()` only knows sockets still speaking HTTP).
 */
export function track(server: Server): Server {
  if (sockets.has(server)) return server
  const set = new Set<Socket>()
  sockets.set(server, set)
  server.on('connection', (socket: Socket) => {
    set.add(socket)
    socket.once('close', () => set.delete(socket))
  })
  return server
}

/** Closes an http server, dropping every connection it still has. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  for (const socket of sockets.get(server) ?? []) socket.destroy()
  if (!server.listening) return
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

/** Rejects when `promise` has not settled within `ms` (turns a hang into a readable failure). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `check` every 5 ms until it returns true, failing after `ms`. */
export async function until(check: () => boolean, ms = 2_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * The outcome of a WebSocket handshake, whatever it is: `open` with the selected subprotocol (the socket is then
 * closed), or the HTTP answer with its status, headers and body text.
 */
export type HandshakeOutcome =
  | { readonly kind: 'open'; readonly protocol: string }
  | { readonly kind: 'http'; readonly status: number; readonly headers: IncomingMessage['headers']; readonly text: string }

export async function tryHandshake(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<HandshakeOutcome> {
  const ws = new WebSocket(url, options.protocols ?? ['parley.v1.json'], { headers: options.headers ?? {} })
  ws.on('error', () => undefined)
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      const protocol = ws.protocol
      ws.terminate()
      resolve({ kind: 'open', protocol })
    })
    ws.once('unexpected-response', (_request, response: IncomingMessage) => {
      let text = ''
      response.on('data', (chunk: Buffer) => (text += chunk.toString()))
      response.on('end', () => {
        ws.terminate()
        resolve({ kind: 'http', status: response.statusCode ?? 0, headers: response.headers, text })
      })
    })
    ws.once('error', (error) => reject(error))
  })
}
