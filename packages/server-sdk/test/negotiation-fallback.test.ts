import { NEGOTIATE_SUBPROTOCOL, parseUnsupportedVersionReason } from '@parley/protocol'
import { createLoopback } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { refusedHandshake } from './helpers/raw-client.js'
import { useServers } from './helpers/harness.js'

const servers = useServers()

describe('version mismatch a browser can read', () => {
  it('with the negotiation entry offered: upgrades on it, then closes 4406 naming the versions the server speaks', async () => {
    const { url, parley } = await servers.start()
    const ws = new WebSocket(url, ['parley.v9.json', NEGOTIATE_SUBPROTOCOL])
    const opened = new Promise<string>((resolve) => ws.once('open', () => resolve(ws.protocol)))
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
    ws.on('message', () => {
      throw new Error('no message may come on a refused version')
    })
    expect(await opened).toBe(NEGOTIATE_SUBPROTOCOL)
    const { code, reason } = await closed
    expect(code).toBe(4406)
    expect(parseUnsupportedVersionReason(reason)).toEqual(['parley.v2.json', 'parley.v1.json'])
    expect(parley.stats().connections).toBe(0)
  })

  it('without it: the plain HTTP 426 as before', async () => {
    const { url } = await servers.start()
    const refused = await refusedHandshake(url, { protocols: ['parley.v9.json'] })
    expect(refused.status).toBe(426)
  })

  it('is never selected when a version is in common', async () => {
    const { url } = await servers.start()
    const ws = new WebSocket(url, ['parley.v1.json', NEGOTIATE_SUBPROTOCOL])
    expect(await new Promise<string>((resolve) => ws.once('open', () => resolve(ws.protocol)))).toBe('parley.v1.json')
    ws.close()
  })

  it('accept() on another transport closes 4406 with the same readable reason', async () => {
    const { parley } = await servers.start()
    const { connection, peer } = createLoopback('parley.v9.json')
    const closed = new Promise<{ code: number; reason: string }>((resolve) => peer.onClose((code, reason) => resolve({ code, reason })))
    await parley.accept(connection, { protocols: ['parley.v9.json'] })
    const { code, reason } = await closed
    expect(code).toBe(4406)
    expect(parseUnsupportedVersionReason(reason)).toEqual(['parley.v2.json', 'parley.v1.json'])
  })
})
