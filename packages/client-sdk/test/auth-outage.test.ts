import { describe, expect, it } from 'vitest'
import { websocketTransport, type Client, type ClientState, type TransportFactory } from '@parley/client-sdk'
import type { ServerOptions } from '@parley/server-sdk'
import { sleep, useLive, waitUntil } from './helpers/live-server.js'

// Fault 2 of the core review: an `authenticate` hook that throws (its database is down) used to be answered as 401 /
// 4401, which clients rightly take as final, so one auth backend outage made every client give up. A thrown hook is
// now the server's fault and retryable (HTTP 503 before the upgrade): clients keep trying and come back when it does.

const live = useLive()

const KINDS: ReadonlyArray<{ name: string; transport: TransportFactory | undefined }> = [
  { name: 'the global WebSocket', transport: undefined },
  { name: 'ws (reads the 503)', transport: websocketTransport({ preferWs: true }) },
]

describe.each(KINDS)('an auth backend outage, with $name', ({ transport }) => {
  it('keeps every client retrying while authenticate throws, and all are back once it recovers', async () => {
    let down = true
    let thrown = 0
    const authenticate: NonNullable<ServerOptions['authenticate']> = async ({ token }) => {
      if (down) {
        thrown++
        throw new Error('ECONNREFUSED 127.0.0.1:5432 (the user database)')
      }
      return token === undefined ? null : { id: token }
    }
    const server = await live.server({ authenticate })
    const clients: Client[] = []
    const states = new Map<Client, ClientState[]>()
    for (let i = 0; i < 5; i++) {
      const client = live.client(server.url, {
        token: `user${i}`,
        reconnect: { initialDelayMs: 20, maxDelayMs: 150 },
        ...(transport === undefined ? {} : { transport }),
      })
      const seen: ClientState[] = []
      client.on('state', (state) => void seen.push(state))
      states.set(client, seen)
      clients.push(client)
    }
    // Down for a while: several refused attempts per client, and none of them gives up.
    await waitUntil(() => thrown >= 15, 'every client to have been refused a few times', 5_000, () => thrown)
    await sleep(200)
    for (const client of clients) {
      expect(client.state).not.toBe('closed')
      expect(states.get(client)).not.toContain('closed')
    }
    down = false
    await waitUntil(() => clients.every((client) => client.state === 'open'), 'every client to be open again', 5_000, () => clients.map((c) => c.state))
    expect(server.parley.stats().connections).toBe(5)
    expect(new Set(server.parley.sessions().map((session) => session.user.id))).toEqual(new Set(clients.map((_, i) => `user${i}`)))
  })
})
