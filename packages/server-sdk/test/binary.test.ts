import { encodeBinary, joinBinaryFrame, type ClientMessage } from '@parley/protocol'
import { createServer } from 'node:http'
import { attach, createMemoryAdapter, type Adapter } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, refusedHandshake, type RawClient } from './helpers/raw-client.js'
import { startServer, type TestServer } from './helpers/start-server.js'

const V1 = 'parley.v1.json'
const V2 = 'parley.v2.json'
const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 255])

/** A publish with bytes as one binary frame. */
const binaryPublish = (room: string, bytes: Uint8Array, rest: Partial<ClientMessage> = {}): Uint8Array =>
  encodeBinary({ type: 'publish', room, data: { name: 'cat.png' }, bytes, ...rest } as ClientMessage)

describe('protocol v2: bytes', () => {
  let server: TestServer | undefined
  const clients: RawClient[] = []
  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate()
    await server?.stop()
    server = undefined
  })
  const open = async (protocols: string[], room?: string): Promise<RawClient> => {
    const client = await connect((server as TestServer).url, { protocols })
    clients.push(client)
    await client.next('welcome')
    if (room !== undefined) {
      client.send({ type: 'join', room })
      await client.next('joined')
    }
    return client
  }

  it('negotiates v2 for a client that offers it and v1 for one that does not; welcome says which', async () => {
    server = await startServer()
    const v2 = await connect(server.url, { protocols: [V2, V1] })
    const v1 = await connect(server.url, { protocols: [V1] })
    clients.push(v2, v1)
    expect(await v2.next('welcome')).toMatchObject({ protocol: V2, version: 2 })
    expect(await v1.next('welcome')).toMatchObject({ protocol: V1, version: 1 })
  })

  it('fans a binary publish out as one binary frame to v2 members and as base64 text to v1 members, acked, in order with JSON messages', async () => {
    server = await startServer()
    const sender = await open([V2], 'photos')
    const v2 = await open([V2], 'photos')
    const v1 = await open([V1], 'photos')
    sender.send(binaryPublish('photos', png, { id: 'p1' } as Partial<ClientMessage>))
    sender.send({ type: 'publish', room: 'photos', data: 'after' })
    expect(await sender.next('ack')).toMatchObject({ id: 'p1', seq: 1 })

    const binaryBefore = v2.binaryFrames
    const atV2 = await v2.next('message')
    expect(atV2).toMatchObject({ seq: 1, from: expect.any(String), data: { name: 'cat.png' } })
    expect([...(atV2.bytes ?? [])]).toEqual([...png])
    expect(v2.binaryFrames - binaryBefore).toBe(1)
    expect(await v2.next('message')).toMatchObject({ seq: 2, data: 'after' })

    const atV1 = await v1.next('message')
    expect(v1.binaryFrames).toBe(0)
    expect([...(atV1.bytes ?? [])]).toEqual([...png])
    expect(atV1.data).toEqual({ name: 'cat.png' })
    expect(await v1.next('message')).toMatchObject({ seq: 2, data: 'after' })
  })

  it('takes the text form (base64) from a v2 client too, and bytes-only messages carry data null', async () => {
    server = await startServer()
    const sender = await open([V2], 'r')
    const member = await open([V2], 'r')
    sender.send({ type: 'publish', room: 'r', data: null, bytes: 'AAEC/w==' } as unknown as ClientMessage)
    const got = await member.next('message')
    expect(got.data).toBeNull()
    expect([...(got.bytes ?? [])]).toEqual([0, 1, 2, 255])
  })

  it("ignores a v1 client's bytes field, as v1 ignores fields it does not know", async () => {
    server = await startServer()
    const sender = await open([V1], 'r')
    const member = await open([V2], 'r')
    sender.send({ type: 'publish', room: 'r', data: 'text', bytes: 'AAE=' } as unknown as ClientMessage)
    const got = await member.next('message')
    expect(got.data).toBe('text')
    expect(got.bytes).toBeUndefined()
  })

  it('server-side publish carries bytes, and history (join last) gives them back as base64 entries', async () => {
    server = await startServer()
    await server.parley.room('r').publish({ kind: 'image' }, { bytes: png })
    await expect(server.parley.room('r').publish(null, { bytes: 'nope' as unknown as Uint8Array })).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    const client = await open([V2])
    client.send({ type: 'join', room: 'r', last: 5, id: 'j' })
    await client.next('joined')
    const page = await client.next('history')
    expect(page.messages).toHaveLength(1)
    expect([...(page.messages[0]?.bytes ?? [])]).toEqual([...png])
    expect(page.messages[0]?.data).toEqual({ kind: 'image' })
  })

  it('replays a missed message with bytes as a binary frame on resume', async () => {
    server = await startServer()
    const first = await open([V2], 'r')
    const joined = first.received.find((message) => message.type === 'joined')
    first.ws.terminate()
    await server.parley.room('r').publish('missed', { bytes: png })
    const again = await open([V2])
    again.send({ type: 'join', room: 'r', resume: { epoch: (joined as { epoch: string }).epoch, seq: 0 } })
    await again.next('joined')
    const replayed = await again.next('message')
    expect(again.binaryFrames).toBe(1)
    expect([...(replayed.bytes ?? [])]).toEqual([...png])
  })

  it('counts bytes as base64 against maxPayload: one whose text form would not fit is refused before it is sequenced', async () => {
    server = await startServer({ limits: { maxPayload: 4096 } })
    const sender = await open([V2], 'r')
    const member = await open([V2], 'r')
    // 3 100 bytes fit one binary frame (3 100 + header) but not as base64 (4 136 characters + data).
    sender.send(binaryPublish('r', new Uint8Array(3100), { id: 'big' } as Partial<ClientMessage>))
    expect(await sender.next('error')).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', id: 'big' })
    sender.send(binaryPublish('r', new Uint8Array(2000), { id: 'ok' } as Partial<ClientMessage>))
    expect(await sender.next('ack')).toMatchObject({ id: 'ok', seq: 1 })
    expect((await member.next('message')).bytes?.byteLength).toBe(2000)
  })

  it("holds protocol.md §19.4's example: at maxPayload 4 096 with data null, 3 069 bytes pass and 3 070 do not", async () => {
    server = await startServer({ limits: { maxPayload: 4096 } })
    const sender = await open([V2], 'r')
    sender.send(encodeBinary({ type: 'publish', room: 'r', data: null, id: 'fits', bytes: new Uint8Array(3069) } as ClientMessage))
    expect(await sender.next('ack')).toMatchObject({ id: 'fits' })
    sender.send(encodeBinary({ type: 'publish', room: 'r', data: null, id: 'over', bytes: new Uint8Array(3070) } as ClientMessage))
    expect(await sender.next('error')).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', id: 'over' })
  })

  describe('bad input', () => {
    it('a binary frame on v1 still closes with 1003', async () => {
      server = await startServer()
      const client = await open([V1], 'r')
      client.send(binaryPublish('r', png))
      expect((await client.closed).code).toBe(1003)
    })

    it.each([
      ['cut short', new Uint8Array([0, 0, 1])],
      ['a header length past the end', new Uint8Array([0, 0, 0, 99, 123, 125])],
      ['a header that is not UTF-8', new Uint8Array([0, 0, 0, 2, 0xc3, 0x28])],
      ['a header that is not a publish', joinBinaryFrame('{"type":"ping"}', png)],
      ['a header with bytes of its own', joinBinaryFrame('{"type":"publish","room":"r","data":null,"bytes":"AA=="}', png)],
    ])('a binary frame with %s closes with 1007, and the room hears nothing', async (_what, frame) => {
      server = await startServer()
      const member = await open([V2], 'r')
      const client = await open([V2], 'r')
      await member.next('presence')
      client.send(frame)
      const closed = await client.closed
      expect(closed.code).toBe(1007)
      expect(closed.reason).toMatch(/Binary frame/)
      expect((await member.quiet(50)).filter((message) => message.type === 'message')).toEqual([])
    })

    it('an oversized binary frame closes with 1009', async () => {
      server = await startServer({ limits: { maxPayload: 1024 } })
      const client = await open([V2], 'r')
      client.send(joinBinaryFrame('{"type":"publish","room":"r","data":null}', new Uint8Array(2048)))
      expect((await client.closed).code).toBe(1009)
    })

    it('a header that is not JSON, and text-form bytes that are not base64, are answered and the session goes on', async () => {
      server = await startServer()
      const client = await open([V2], 'r')
      client.send(joinBinaryFrame('{"type":"publish",', png))
      expect(await client.next('error')).toMatchObject({ code: 'INVALID_JSON' })
      client.send({ type: 'publish', room: 'r', data: null, bytes: 'not base64', id: 'b' } as unknown as ClientMessage)
      expect(await client.next('error')).toMatchObject({ code: 'INVALID_FIELD', id: 'b' })
      client.send({ type: 'publish', room: 'r', data: 1, id: 'fine' })
      expect(await client.next('ack')).toMatchObject({ id: 'fine' })
    })
  })

  describe('stores that keep no bytes', () => {
    /** The memory adapter behind a wrapper that does not say it carries bytes: a v1-era third-party adapter. */
    const v1Adapter = (): Adapter => {
      const inner = createMemoryAdapter()
      return { connect: (hooks, config) => inner.connect(hooks, config) }
    }

    it('make the server speak v1 only, refuse v2 in `protocols` with a TypeError, and refuse a server-side publish with bytes', async () => {
      server = await startServer({ adapter: v1Adapter() })
      const client = await connect(server.url, { protocols: [V2, V1] })
      clients.push(client)
      expect(await client.next('welcome')).toMatchObject({ protocol: V1, version: 1 })
      await expect(server.parley.room('r').publish('x', { bytes: png })).rejects.toMatchObject({ code: 'UNSUPPORTED_DATA' })
      await expect(server.parley.room('r').publish('plain')).resolves.toMatchObject({ seq: 1 })
      expect(() => attach(createServer(), { adapter: v1Adapter(), protocols: [V2, V1] })).toThrow(/the adapter does not keep bytes/)
      expect(() => attach(createServer(), { history: { store: { append: async () => undefined, read: async () => undefined } as never }, protocols: [V2] })).toThrow(/history.store does not keep bytes/)
    })
  })

  it('refuses middleware that leaves bytes as anything but a Uint8Array: INTERNAL_ERROR to the sender, nothing to the room', async () => {
    server = await startServer()
    server.parley.use((context, next) => {
      if (context.message.type === 'publish' && context.message.bytes !== undefined) context.message = { ...context.message, bytes: 'AAEC' as unknown as Uint8Array }
      return next()
    })
    const sender = await open([V2], 'r')
    const member = await open([V2], 'r')
    sender.send(binaryPublish('r', png, { id: 'm' } as Partial<ClientMessage>))
    expect(await sender.next('error')).toMatchObject({ code: 'INTERNAL_ERROR', id: 'm' })
    expect((await member.quiet(50)).filter((message) => message.type === 'message')).toEqual([])
  })

  describe('the protocols option', () => {
    it('a v1-only server answers a v2 client in v1 and refuses a v2-only client with 426 naming v1', async () => {
      server = await startServer({ protocols: [V1] })
      const both = await connect(server.url, { protocols: [V2, V1] })
      clients.push(both)
      expect(await both.next('welcome')).toMatchObject({ protocol: V1, version: 1 })
      const refused = await refusedHandshake(server.url, { protocols: [V2] })
      expect(refused.status).toBe(426)
      expect(refused.body).toMatchObject({ code: 'UNSUPPORTED_VERSION', supported: [V1] })
    })

    it('is checked: unknown names, an empty list and duplicates are refused with a TypeError', async () => {
      for (const protocols of [['parley.v3.json'], [], [V1, V1], 'parley.v1.json']) {
        expect(() => attach(createServer(), { protocols: protocols as string[] })).toThrow(/protocols/)
      }
    })
  })
})
