import { describe, expect, it } from 'vitest'
import { httpStreamTransport, websocketTransport, type ClientOptions, type RoomMessageEvent } from '@parley/client-sdk'
import { createMemoryHistory } from '@parley/server-sdk'
import { useLive, waitUntil } from './helpers/live-server.js'
import { nextEvent } from './helpers/wait.js'

// Protocol v2's bytes through the real client and server: binary frames on WebSocket, base64 on the HTTP stream,
// a v1 server (the `protocols` option) and what the client says there, the offline queue, and history.

const live = useLive()
const RECONNECT = { initialDelayMs: 20, maxDelayMs: 100 }
const image = (size: number): Uint8Array => Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) % 256)

const TRANSPORTS: ReadonlyArray<readonly [string, ClientOptions['transport']]> = [
  ['WebSocket (global)', undefined],
  ['WebSocket (ws)', websocketTransport({ preferWs: true })],
  ['HTTP stream', httpStreamTransport()],
]

describe('bytes (protocol v2) through the client', () => {
  for (const [senderName, senderTransport] of TRANSPORTS) {
    for (const [receiverName, receiverTransport] of TRANSPORTS) {
      it(`${senderName} → ${receiverName}: data and bytes arrive whole, acked, in order with plain messages`, async () => {
        const server = await live.server()
        const sender = live.client(server.url, senderTransport === undefined ? {} : { transport: senderTransport })
        const receiver = live.client(server.url, receiverTransport === undefined ? {} : { transport: receiverTransport })
        const inbox = receiver.join<{ name: string } | string>('photos')
        await nextEvent(inbox, 'joined')
        const outbox = sender.join<{ name: string } | string>('photos')
        await nextEvent(outbox, 'joined')
        const got: Array<RoomMessageEvent<{ name: string } | string>> = []
        inbox.on('message', (message) => void got.push(message))
        const bytes = image(3000)
        const ack = await outbox.publish({ name: 'cat.png' }, { bytes })
        bytes.fill(0)
        await outbox.publish('caption')
        await waitUntil(() => got.length === 2, 'both messages')
        expect(ack.seq).toBe(1)
        expect(sender.version).toBe(2)
        expect(got[0]?.data).toEqual({ name: 'cat.png' })
        expect(got[0]?.bytes).toBeInstanceOf(Uint8Array)
        expect([...(got[0]?.bytes ?? [])]).toEqual([...image(3000)])
        expect(got[1]).toMatchObject({ seq: 2, data: 'caption' })
        expect(got[1]?.bytes).toBeUndefined()
      })
    }
  }

  it('sends a binary frame on WebSocket and base64 on the HTTP stream (measured at the server)', async () => {
    const server = await live.server()
    const ws = live.client(server.url, { transport: websocketTransport({ preferWs: true }) })
    const room = ws.join('r')
    await nextEvent(room, 'joined')
    const before = server.parley.stats().bytesIn
    await room.publish(null, { bytes: new Uint8Array(30_000) })
    const binaryCost = server.parley.stats().bytesIn - before
    const http = live.client(server.url, { transport: httpStreamTransport() })
    const other = http.join('r')
    await nextEvent(other, 'joined')
    const before2 = server.parley.stats().bytesIn
    await other.publish(null, { bytes: new Uint8Array(30_000) })
    const textCost = server.parley.stats().bytesIn - before2
    // 30 000 bytes: about 30 000 on the wire as binary, 40 000 as base64.
    expect(binaryCost).toBeLessThan(30_200)
    expect(textCost).toBeGreaterThan(40_000)
  })

  it('against a v1-only server the client agrees on v1, and a publish with bytes rejects with UNSUPPORTED_DATA while plain ones go on', async () => {
    const server = await live.server({ protocols: ['parley.v1.json'] })
    const client = live.client(server.url)
    const room = client.join('r')
    await nextEvent(room, 'joined')
    expect(client.version).toBe(1)
    await expect(room.publish('x', { bytes: new Uint8Array([1]) })).rejects.toMatchObject({ name: 'ParleyClientError', code: 'UNSUPPORTED_DATA' })
    await expect(room.publish('plain')).resolves.toMatchObject({ seq: 1 })
  })

  it('a publish with bytes made before the first welcome, to a v1-only server, is refused with UNSUPPORTED_DATA once the server says v1, and nothing is sent', async () => {
    const server = await live.server({ protocols: ['parley.v1.json'] })
    const receiver = live.client(server.url)
    const inbox = receiver.join('r')
    await nextEvent(inbox, 'joined')
    const arrived = nextEvent(inbox, 'message')
    const client = live.client(server.url)
    const room = client.join('r')
    const early = room.publish('early', { bytes: new Uint8Array([1, 2, 3]) })
    const plain = room.publish('plain')
    await expect(early).rejects.toMatchObject({ code: 'UNSUPPORTED_DATA' })
    await expect(plain).resolves.toMatchObject({ seq: 1 })
    const message = await arrived
    expect([message.seq, message.data, message.bytes]).toEqual([1, 'plain', undefined])
  })

  it('refuses bytes that are not a Uint8Array, and bytes too large as base64, without sending anything', async () => {
    const server = await live.server({ limits: { maxPayload: 4096 } })
    const client = live.client(server.url)
    const room = client.join('r')
    await nextEvent(room, 'joined')
    await expect(room.publish(null, { bytes: [1, 2] as unknown as Uint8Array })).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    // 3 100 bytes fit a 4 096-byte binary frame, but their base64 (4 136 characters) does not fit the text form the
    // server must be able to send to every member (protocol §19.4): the client applies that rule itself.
    await expect(room.publish(null, { bytes: new Uint8Array(3100) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/as base64/) })
    await expect(room.publish(null, { bytes: new Uint8Array(5000) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    // 3 069 bytes with data null are the most that fit: sent and acked.
    await expect(room.publish(null, { bytes: new Uint8Array(3069) })).resolves.toMatchObject({ seq: 1 })
    // Nothing refused was sent: the server saw no oversized publish.
    expect(server.parley.stats().errors.PAYLOAD_TOO_LARGE).toBeUndefined()
  })

  it('a publish with bytes made offline waits in the queue and goes out once, whole, after the connection opens', async () => {
    const server = await live.server()
    const receiver = live.client(server.url)
    const inbox = receiver.join('r')
    await nextEvent(inbox, 'joined')
    const client = live.client(server.url, { reconnect: RECONNECT })
    const room = client.join('r')
    // Before any welcome: encoded as text now, made again as a binary frame once the connection says v2.
    const sent = room.publish({ offline: true }, { bytes: image(500) })
    const message = await nextEvent(inbox, 'message')
    await expect(sent).resolves.toMatchObject({ seq: 1 })
    expect([...(message.bytes ?? [])]).toEqual([...image(500)])
  })

  it('history pages and join({ last }) give bytes back from a store', async () => {
    const server = await live.server({ history: { size: 2, store: createMemoryHistory() } })
    for (let i = 0; i < 5; i++) await server.parley.room('r').publish({ i }, { bytes: image(10 + i) })
    await waitUntil(() => server.parley.stats().history.written === 5, 'stored')
    const client = live.client(server.url)
    const room = client.join<{ i: number }>('r', { last: 2 })
    const joinedPage = await nextEvent(room, 'history')
    expect(joinedPage.messages.map((m) => m.bytes?.byteLength)).toEqual([13, 14])
    const page = await room.history({ limit: 5 })
    expect(page.messages.map((m) => [m.data.i, [...(m.bytes ?? [])]])).toEqual([0, 1, 2, 3, 4].map((i) => [i, [...image(10 + i)]]))
  })
})
