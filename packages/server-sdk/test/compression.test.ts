import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { createClient, httpStreamTransport } from '@parley/client-sdk'
import { attach, type ParleyStats, type ServerOptions } from '@parley/server-sdk'
import { sumStats } from '../src/stats.js'
import { createServer } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { RawClient } from './helpers/raw-client.js'
import { startServer, type TestServer } from './helpers/start-server.js'

/** A 4 KiB JSON payload that compresses the way chat text does (words repeat, the keys repeat). */
function chatPayload(bytes = 4096): { text: string } {
  const words = ['hello', 'realtime', 'message', 'room', 'presence', 'history', 'parley', 'deliver', 'order', 'gapless']
  let text = ''
  for (let i = 0; text.length < bytes - 12; i++) text += `${words[(i * 7) % words.length]} `
  return { text: text.slice(0, bytes - 12) }
}

/** A raw client; `deflate` is ws's client option (on by default in ws, as browsers always offer it). */
async function raw(url: string, deflate: WebSocket.ClientOptions['perMessageDeflate'] = true): Promise<RawClient> {
  const ws = new WebSocket(url, ['parley.v1.json'], { perMessageDeflate: deflate })
  const client = new RawClient(ws)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_request, response: IncomingMessage) => reject(new Error(`HTTP ${response.statusCode}`)))
    ws.once('error', reject)
  })
  await client.next('welcome')
  return client
}

async function joined(client: RawClient, room: string): Promise<void> {
  client.send({ type: 'join', room })
  await client.next('joined')
}

/** The bytes a client's socket has read so far: what crossed the wire, compressed or not. */
function bytesRead(client: RawClient): number {
  return (client.ws as unknown as { _socket: { bytesRead: number } })._socket.bytesRead
}

describe('compression (permessage-deflate, opt-in)', () => {
  let server: TestServer | undefined
  const clients: RawClient[] = []
  const start = async (options: ServerOptions): Promise<TestServer> => (server = await startServer(options))
  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate()
    await server?.stop()
    server = undefined
  })

  it('is off by default: a client that offers it is declined and gets plain frames', async () => {
    const { url, parley } = await start({})
    const client = await raw(url)
    clients.push(client)
    expect(client.ws.extensions).toBe('')
    await joined(client, 'r')
    await parley.room('r').publish(chatPayload())
    expect((await client.next('message')).data).toEqual(chatPayload())
    expect(parley.stats().compression).toEqual({ frames: 0, bytesBefore: 0, bytesAfter: 0 })
  })

  it('negotiates per connection with no server context takeover; large frames go compressed, small ones plain, and a client without it still gets everything', async () => {
    const { url, parley } = await start({ compression: true })
    const deflating = await raw(url)
    const plain = await raw(url, false)
    clients.push(deflating, plain)
    expect(deflating.ws.extensions).toBe('permessage-deflate')
    expect(plain.ws.extensions).toBe('')
    await joined(deflating, 'r')
    await joined(plain, 'r')
    await deflating.next('presence')

    const before = [bytesRead(deflating), bytesRead(plain)]
    await parley.room('r').publish(chatPayload())
    expect((await deflating.next('message')).data).toEqual(chatPayload())
    expect((await plain.next('message')).data).toEqual(chatPayload())
    const wire = [bytesRead(deflating) - before[0]!, bytesRead(plain) - before[1]!]
    // The plain frame is the 4 KiB payload plus the envelope; the compressed one is a fraction of it.
    expect(wire[1]).toBeGreaterThan(4096)
    expect(wire[0]).toBeLessThan(wire[1]! / 4)
    const stats = parley.stats().compression
    expect(stats.frames).toBe(1)
    expect(stats.bytesBefore).toBe(wire[1]! - 4) // the plain frame's 4-byte header (126 + 16-bit length)
    expect(stats.bytesAfter).toBe(wire[0]! - 4)

    // Under the threshold (1 024 by default) nothing is compressed, even for a connection that negotiated it.
    const small = [bytesRead(deflating), bytesRead(plain)]
    await parley.room('r').publish({ text: 'hi' })
    expect((await deflating.next('message')).data).toEqual({ text: 'hi' })
    expect((await plain.next('message')).data).toEqual({ text: 'hi' })
    expect(bytesRead(deflating) - small[0]!).toBe(bytesRead(plain) - small[1]!)
    expect(parley.stats().compression.frames).toBe(1)
  })

  it('compresses a broadcast to 1 000 compressing members once (counted), and every member inflates the same message', async () => {
    const { url, parley } = await start({ compression: { threshold: 256 }, presence: { announce: 'none' }, limits: { maxConnections: 2_000 } })
    const members: RawClient[] = []
    for (let batch = 0; batch < 10; batch++) {
      const opened = await Promise.all(Array.from({ length: 100 }, () => raw(url)))
      await Promise.all(opened.map((client) => joined(client, 'stadium')))
      members.push(...opened)
      clients.push(...opened)
    }
    expect(members.every((member) => member.ws.extensions === 'permessage-deflate')).toBe(true)
    expect(parley.stats().members).toBe(1_000)

    const before = parley.stats().compression.frames
    await parley.room('stadium').publish(chatPayload())
    const got = await Promise.all(members.map((member) => member.next('message', 10_000)))
    expect(got.every((message) => message.seq === got[0]!.seq && JSON.stringify(message.data) === JSON.stringify(chatPayload()))).toBe(true)
    expect(parley.stats().compression.frames - before).toBe(1)
  }, 60_000)

  it('inflates what clients send compressed, and honours a smaller window a client asks for (a frame per window size)', async () => {
    const { url, parley } = await start({ compression: { level: 9 } })
    const sender = await raw(url, { threshold: 0 })
    const narrow = await raw(url, { serverMaxWindowBits: 10 })
    const tiny = await raw(url, { serverMaxWindowBits: 8 })
    clients.push(sender, narrow, tiny)
    for (const client of [sender, narrow, tiny]) {
      expect(client.ws.extensions).toBe('permessage-deflate')
      await joined(client, 'r')
    }
    // Random text repeated: the second copy is a back-reference 3 000 bytes away, beyond a 10-bit (1 KiB) window.
    const noise = randomBytes(2_250).toString('base64')
    const payload = { text: noise + noise }
    const before = [sender, narrow, tiny].map(bytesRead)
    sender.send({ type: 'publish', room: 'r', id: 'p1', data: payload })
    for (const client of [sender, narrow, tiny]) expect((await client.next('message')).data).toEqual(payload)
    expect((await sender.next('ack')).id).toBe('p1')
    const wire = [sender, narrow, tiny].map((client, i) => bytesRead(client) - before[i]!)
    // One compression per window in use (15 and 10 bits). The 15-bit frame reaches back 3 000 bytes for the second
    // copy; the 10-bit one cannot, so it is larger; 8 bits is below what zlib can promise, so that one goes plain.
    expect(parley.stats().compression.frames).toBe(2)
    expect(wire[0]).toBeLessThan(4_000)
    expect(wire[1]).toBeGreaterThan(wire[0]! + 2_000)
    expect(wire[2]).toBeGreaterThan(6_000)
  })

  it('cuts off a decompression bomb at limits.maxPayload (close 1009) and the others in the room lose nothing', async () => {
    const { url, parley } = await start({ compression: true, limits: { maxPayload: 64 * 1024 } })
    const bomber = await raw(url)
    const bystander = await raw(url)
    clients.push(bomber, bystander)
    await joined(bomber, 'r')
    await joined(bystander, 'r')
    const inBefore = parley.stats().messagesIn
    // 16 MiB of one letter deflates to about 16 KiB: small on the wire, far past the 64 KiB limit once inflated.
    const bomb = JSON.stringify({ type: 'publish', room: 'r', data: 'a'.repeat(16 * 1024 * 1024) })
    bomber.ws.send(bomb)
    const closed = await bomber.closed
    expect(closed.code).toBe(1009)
    expect(bytesRead(bomber)).toBeLessThan(1_000)
    expect(parley.stats().messagesIn).toBe(inBefore)
    await parley.room('r').publish(chatPayload())
    expect((await bystander.next('message')).data).toEqual(chatPayload())
  })

  it('leaves the HTTP stream transport as it is: an SDK client over it chats beside a compressing WebSocket one', async () => {
    const { url, parley, port } = await start({ compression: true })
    const ws = await raw(url)
    clients.push(ws)
    await joined(ws, 'r')
    const client = createClient(`http://127.0.0.1:${port}/parley`, { reconnect: false, transport: httpStreamTransport() })
    try {
      const room = client.join<{ text: string }>('r')
      const got = new Promise<{ text: string }>((resolve) => room.on('message', (message) => resolve(message.data)))
      await room.publish(chatPayload())
      expect(await got).toEqual(chatPayload())
      expect((await ws.next('message')).data).toEqual(chatPayload())
      expect(parley.stats().compression.frames).toBe(1)
    } finally {
      await client.close()
    }
  })

  it('refuses bad compression options with a TypeError naming the option', () => {
    const server = createServer()
    for (const [compression, message] of [
      [{ level: 0 }, /compression\.level.*1 to 9/],
      [{ level: 10 }, /compression\.level.*1 to 9/],
      [{ threshold: -1 }, /compression\.threshold.*non-negative integer/],
      [{ window: 9 }, /compression\.window/],
      ['yes', /compression.*a boolean or an object/],
    ] as const) {
      expect(() => attach(server, { compression } as unknown as ServerOptions)).toThrow(message)
    }
    // Compression without the transport it applies to is a mistake, said at once.
    expect(() => attach(server, { compression: true, transports: ['http-stream'] })).toThrow(/compression.*WebSocket/)
    // ws keeps maxPayload in 32 bits: a larger one would silently mean no bound on inflating, so it is refused.
    expect(() => attach(server, { compression: true, limits: { maxPayload: 2 ** 31 } })).toThrow(/limits\.maxPayload.*up to 2147483647/)
  })

  it('declines an offer it cannot accept (RFC 7692 §5) instead of failing the upgrade: the client connects uncompressed', async () => {
    const { url, parley } = await start({ compression: true })
    for (const offer of ['permessage-deflate; server_max_window_bits', 'permessage-deflate; foo=1', 'permessage-deflate; client_max_window_bits=16']) {
      // ws as a client would not send these; a raw header does, as a buggy or hostile client might.
      const ws = new WebSocket(url, ['parley.v1.json'], { perMessageDeflate: false, headers: { 'sec-websocket-extensions': offer } })
      const client = new RawClient(ws)
      clients.push(client)
      await client.next('welcome')
      await joined(client, `r-${clients.length}`)
      expect(ws.extensions).toBe('')
    }
    expect(parley.stats().connections).toBe(3)
    expect(parley.stats().refused).toEqual({})
  })

  it('sums compression figures over nodes, a node without them counting zero', () => {
    const node = (frames: number) => ({ compression: { frames, bytesBefore: frames * 4_000, bytesAfter: frames * 400 } }) as unknown as ParleyStats
    expect(sumStats([node(2), node(3), {} as ParleyStats], 0).compression).toEqual({ frames: 5, bytesBefore: 20_000, bytesAfter: 2_000 })
  })
})
