import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { attach } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import { websocketTransport, type ParleyClientError, type TransportFactory } from '@parley/client-sdk'
import { freePort, useLive, waitUntil } from './helpers/live-server.js'

// Loud failures: a client that cannot connect says why (refused, not found) instead of retrying in silence, a wrong
// path is final with a message naming it, and a request that times out while disconnected names the last cause.

const live = useLive()
const RECONNECT = { initialDelayMs: 20, maxDelayMs: 100 }
const KINDS: ReadonlyArray<[string, TransportFactory | undefined]> = [
  ['the default transport', undefined],
  ['ws (reads HTTP answers)', websocketTransport({ preferWs: true })],
]

describe.each(KINDS)('with %s', (_name, transport) => {
  const using = transport === undefined ? {} : { transport }

  it('reports a first connection that keeps failing (nothing listens) after 3 attempts, with the cause, and keeps retrying', async () => {
    const port = await freePort()
    const client = live.client(`ws://127.0.0.1:${port}/parley`, { reconnect: RECONNECT, ...using })
    const errors: ParleyClientError[] = []
    client.on('error', (error) => void errors.push(error))
    await waitUntil(() => errors.length > 0, 'an error event', 5_000)
    expect(errors[0]?.code).toBe('CONNECTION_FAILED')
    expect(errors[0]?.message).toContain('after 3 attempts (retrying)')
    expect(errors[0]?.message).toMatch(/ECONNREFUSED|refused|WebSocket error/i)
    expect(client.state).not.toBe('closed')
  })

  it('ends at once on a wrong path (HTTP 404), naming the path', async () => {
    // An app that answers unknown paths with 404, as Express does, and Parley as its only upgrade listener.
    const http = createServer((_request, response) => {
      response.statusCode = 404
      response.end('Cannot GET')
    })
    const parley = attach(http)
    live.defer(async () => {
      await parley.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const port = (http.address() as AddressInfo).port
    const client = live.client(`ws://127.0.0.1:${port}/parlay`, { reconnect: RECONNECT, ...using })
    const errors: ParleyClientError[] = []
    client.on('error', (error) => void errors.push(error))
    await waitUntil(() => client.state === 'closed', 'the client to give up', 5_000)
    const notFound = errors.find((error) => error.code === 'NOT_FOUND')
    expect(notFound?.message).toContain('/parlay')
  })

  it('names the last connection error when a request times out while not connected', async () => {
    const port = await freePort()
    const client = live.client(`ws://127.0.0.1:${port}/parley`, { reconnect: RECONNECT, ackTimeoutMs: 400, ...using })
    const room = client.join('r')
    const failure = await room.publish({ n: 1 }).then(
      () => undefined,
      (error: unknown) => error as ParleyClientError,
    )
    expect(failure?.code).toBe('TIMEOUT')
    expect(failure?.message).toMatch(/not connected; last connection error: .*(ECONNREFUSED|refused|WebSocket error)/i)
  })
})
