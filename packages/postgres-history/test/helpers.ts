import { createServer, connect, type Server, type Socket } from 'node:net'
import pg from 'pg'
import { afterAll } from 'vitest'
import { POSTGRES_URL } from './postgres-available.js'

/** A schema name no other test file uses. */
export function schemaName(label: string): string {
  return `parley_test_${label}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
}

/**
 * A pool of its own for the test's checks, and a fresh schema name dropped (with everything in it) after the file.
 * The schema itself is created by the migration under test.
 */
export function useSchema(label: string, available: boolean): { readonly schema: string; readonly admin: pg.Pool } {
  const schema = schemaName(label)
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 })
  admin.on('error', () => {})
  afterAll(async () => {
    if (available) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  })
  return { schema, admin }
}

/** The URL with another host and port: how the store reaches PostgreSQL through a proxy. */
export function urlVia(port: number, url = POSTGRES_URL): string {
  const via = new URL(url)
  via.hostname = '127.0.0.1'
  via.port = String(port)
  return via.href
}

/**
 * A TCP proxy in front of PostgreSQL that a test can break: `refuse()` drops every connection and refuses new ones
 * (a database that is down), `blackhole()` keeps accepting but never answers (a network that swallows packets),
 * `restore()` forwards again.
 */
export interface PgProxy {
  readonly port: number
  refuse(): void
  blackhole(): void
  restore(): void
  close(): Promise<void>
}

export async function startProxy(target = new URL(POSTGRES_URL)): Promise<PgProxy> {
  let mode: 'forward' | 'refuse' | 'blackhole' = 'forward'
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => sockets.delete(socket))
  }
  const server: Server = createServer((client) => {
    track(client)
    if (mode === 'refuse') return client.destroy()
    if (mode === 'blackhole') return
    const upstream = connect({ host: target.hostname, port: Number(target.port || 5432) })
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const dropAll = (): void => {
    for (const socket of sockets) socket.destroy()
  }
  return {
    port,
    refuse() {
      mode = 'refuse'
      dropAll()
    },
    blackhole() {
      mode = 'blackhole'
      // Established connections go silent too: their bytes are swallowed from now on.
      for (const socket of sockets) {
        socket.unpipe()
        socket.removeAllListeners('data')
        socket.on('data', () => {})
      }
    },
    restore() {
      mode = 'forward'
      // Silenced connections never recover; dropping them makes the pool open fresh ones.
      dropAll()
    },
    async close() {
      dropAll()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
