import type { ServerMessage } from '@parley/protocol'
import type { ParleySession, ServerOptions } from '@parley/server-sdk'
import { afterEach } from 'vitest'
import WebSocket from 'ws'
import { connect, RawClient } from './raw-client.js'
import { startServer, type TestServer } from './start-server.js'

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>

/**
 * Disposable test servers: every server started through `start()` (and every client made through the harness) is
 * stopped after each test, even when the test failed half way.
 */
export function useServers(): {
  start(options?: ServerOptions): Promise<TestServer>
  /** Registers something to run after the test (before the servers stop). */
  defer(cleanup: () => void | Promise<void>): void
} {
  const servers: TestServer[] = []
  const cleanups: Array<() => void | Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    await Promise.all(servers.splice(0).map((server) => server.stop()))
  })
  return {
    async start(options: ServerOptions = {}) {
      // A stalled test client must not hold a server's close() for the 5 s default.
      const server = await startServer({ shutdown: { timeoutMs: 500, batchIntervalMs: 0 }, ...options })
      servers.push(server)
      return server
    },
    defer(cleanup) {
      cleanups.push(cleanup)
    },
  }
}

/** `authenticate` that takes the token as the user id, so tests can open several connections of one user. */
export const tokenAuth: NonNullable<ServerOptions['authenticate']> = ({ token }) => (token === undefined ? null : { id: token })

/** Connects as `user` (with a server using {@link tokenAuth}) and waits for `welcome`. */
export async function connectAs(url: string, user: string): Promise<RawClient> {
  const client = await connect(url, { headers: { authorization: `Bearer ${user}` } })
  await client.next('welcome')
  return client
}

/** Connects anonymously and waits for `welcome`; returns the client and its user id (= session id). */
export async function connectAnon(url: string): Promise<{ client: RawClient; user: string }> {
  const client = await connect(url)
  const welcome = await client.next('welcome')
  return { client, user: welcome.user ?? welcome.session }
}

/** Opens a raw `ws` socket with extra options (e.g. `autoPong: false`) and wraps it in a {@link RawClient}. */
export async function connectRaw(url: string, options: WebSocket.ClientOptions = {}): Promise<RawClient> {
  const ws = new WebSocket(url, ['parley.v1.json'], options)
  const client = new RawClient(ws)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return client
}

/** Sends `join` and waits for its `joined`. */
export async function join(
  client: RawClient,
  room: string,
  extra: { id?: string; resume?: { epoch: string; seq: number }; presence?: Of<'joined'>['members'][number]['presence']; batch?: boolean } = {},
): Promise<Of<'joined'>> {
  client.send({ type: 'join', room, ...extra })
  for (;;) {
    const joined = await client.next('joined')
    if (joined.room === room) return joined
  }
}

/** Every message of a type received so far (taken or not), optionally in one room. */
export function all<T extends ServerMessage['type']>(client: RawClient, type: T, room?: string): Array<Of<T>> {
  return client.received.filter(
    (message): message is Of<T> => message.type === type && (room === undefined || !('room' in message) || message.room === room),
  )
}

/** The seqs of the room messages a client received, in arrival order. */
export function seqs(client: RawClient, room: string): number[] {
  return all(client, 'message', room).map((message) => message.seq)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `predicate` until it holds, failing with `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 3_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(everyMs)
  }
}

/** The server-side session of a client, found by its session id (from `welcome`). */
export function sessionOf(server: Pick<TestServer, 'parley'>, sessionId: string): ParleySession {
  const session = server.parley.sessions().find((candidate) => candidate.id === sessionId)
  if (session === undefined) throw new Error(`no session ${sessionId}`)
  return session
}

/** Bytes the server has queued for a session and not yet written out (the hub's `Connection.bufferedAmount`). */
export function bufferedAmountOf(session: ParleySession): number {
  return (session as unknown as { connection: { bufferedAmount: number } }).connection.bufferedAmount
}

/** Stops a client from reading: the kernel buffers fill and the server's `bufferedAmount` grows. */
export function stall(client: RawClient): void {
  ;(client.ws as unknown as { _socket: { pause(): void } })._socket.pause()
}

/** Reads again after {@link stall}. */
export function unstall(client: RawClient): void {
  ;(client.ws as unknown as { _socket: { resume(): void } })._socket.resume()
}
