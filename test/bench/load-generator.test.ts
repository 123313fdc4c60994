/**
 * The bench's load-generator client pieces: a delivery read without JSON.parse must say what JSON.parse says, and the
 * light WebSocket client must read what a real server (ws) writes however the bytes arrive, answer pings, and take a
 * frame that came with the 101.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer, type WebSocket } from 'ws'
import { attach } from '@parley/server-sdk'
import { Encoder, PacketType } from 'socket.io-parser'
import { readDelivery, readDeliveryAt, readSocketIoDeliveryAt } from '../../bench/lib/delivery-reader.js'
import { readControlFrameAt } from '../../bench/lib/control-frame-reader.js'
import { parleyHttp } from '../../bench/targets/parley-http.js'
import socketIo from '../../bench/targets/socketio.js'
import type { BenchClient, Payload } from '../../bench/targets/target.js'
import { openLightSocket, type LightSocket } from '../../bench/lib/light-socket.js'

describe('readDelivery', () => {
  it('reads seq, epoch, p, n and t as JSON.parse does, for Parley and ws target frames', () => {
    const frames = [
      { type: 'message', room: 'room-0', seq: 12_345, epoch: 'e0abc', from: 'u1', ts: 1_796_621_876_338, data: { p: 7, n: 0, t: 1234.5678, text: 'hi' } },
      { type: 'message', room: 'room-9', seq: 1, data: { p: -1, n: 99_999, t: 0, text: 'x'.repeat(4096) } },
      { type: 'message', room: 'r', seq: 2, epoch: 'e', from: 'u', ts: 1, data: { p: 0, n: 3, t: 98765.4321, text: '"data":{"p":1' } },
    ]
    for (const frame of frames) {
      const text = JSON.stringify(frame)
      const read = readDelivery(text)
      expect(read?.seq).toBe(frame.seq)
      expect(read?.epoch).toBe(frame.epoch ?? '')
      expect(read?.data.p).toBe(frame.data.p)
      expect(read?.data.n).toBe(frame.data.n)
      expect(read?.data.t).toBeCloseTo(frame.data.t, 6)
    }
  })

  it('reads a frame inside a larger buffer by its bounds, and follows a change of epoch', () => {
    const texts = [
      '{"type":"joined","room":"r","seq":0}',
      '{"type":"message","room":"r","seq":1,"epoch":"e-one","from":null,"ts":5,"data":{"p":0,"n":0,"t":1.5,"text":""}}',
      '{"type":"message","room":"r\\"q","seq":1,"epoch":"e-two","from":"u","ts":6,"data":{"p":0,"n":1,"t":2,"text":""}}',
      '{"type":"message","room":"r","seq":1,"epoch":"e-two","from":"u\\"{","ts":6,"data":{"p":0,"n":1,"t":2,"text":""}}',
      '{"type":"message","room":"r","seq":2,"epoch":"e-two","from":"u","ts":7,"data":{"p":0,"n":2,"t":2.5,"text":""}}',
      '{"type":"message","room":"r","seq":1,"epoch":"e-one","from":"u","ts":8,"data":{"p":0,"n":3,"t":3,"text":""}}',
    ]
    const buffer = Buffer.from(texts.join(''))
    const read: Array<[string, number, number] | undefined> = []
    let start = 0
    for (const text of texts) {
      const end = start + Buffer.byteLength(text)
      // The delivery is one object filled in again by every read: what it says is taken before the next read.
      const delivery = readDeliveryAt(buffer, start, end)
      read.push(delivery === undefined ? undefined : [delivery.epoch, delivery.seq, delivery.data.n])
      start = end
    }
    // The joined frame is not a delivery; one whose room holds an escape, or whose "from" holds a brace, is left to
    // JSON.parse.
    expect(read).toEqual([
      undefined,
      ['e-one', 1, 0],
      undefined,
      undefined,
      ['e-two', 2, 2],
      ['e-one', 1, 3],
    ])
    // Bounds are kept: a frame cut short is not read past its end, even where the cut leaves a number that reads.
    const whole = Buffer.from(texts[1]!)
    expect(readDeliveryAt(whole, 0, whole.indexOf('"t":') + 4)).toBeUndefined()
    expect(readDeliveryAt(whole, 0, whole.indexOf('"t":') + 5)).toBeUndefined()
    // An epoch that is not ASCII is left to JSON.parse, which decodes UTF-8.
    const accented = Buffer.from(texts[1]!.replace('e-one', 'é-one'))
    expect(readDeliveryAt(accented, 0, accented.byteLength)).toBeUndefined()
  })

  it('leaves every other frame, and numbers it cannot read exactly, to JSON.parse', () => {
    expect(readDelivery('{"type":"joined","room":"r","seq":3}')).toBeUndefined()
    expect(readDelivery('{"type":"ack","id":"a1"}')).toBeUndefined()
    expect(readDelivery('{"type":"message","room":"r","seq":1,"data":{"text":"no p"}}')).toBeUndefined()
    expect(readDelivery('{"type":"message","room":"r","seq":1,"data":{"p":1,"n":2,"t":1e5,"text":""}}')).toBeUndefined()
    expect(readDelivery('{"type":"message","room":"r","seq":1,"data":{"p":1,"t":2,"n":3,"text":""}}')).toBeUndefined()
  })
})

describe('readControlFrameAt', () => {
  const at = (text: string) => {
    // Inside a larger buffer, as the light socket hands it over.
    const bytes = Buffer.concat([Buffer.from('xx'), Buffer.from(text), Buffer.from('yy')])
    return readControlFrameAt(bytes, 2, bytes.byteLength - 2)
  }

  it("reads a joined's epoch and seq as JSON.parse does, members whose presence holds the same keys included", () => {
    const members = Array.from({ length: 100 }, (_, i) => ({ user: `u${i}`, connections: 1, presence: { epoch: 'not-this', seq: 1 } }))
    const frames = [
      { type: 'joined', room: 'room-0', id: 'j', epoch: 'e0abc', seq: 12_345, recovery: null, members, memberCount: 10_000 },
      { type: 'joined', room: 'r', epoch: 'E-9', seq: 0, recovery: null, members: [] },
    ]
    for (const frame of frames) expect(at(JSON.stringify(frame))).toEqual({ type: 'joined', epoch: frame.epoch, seq: frame.seq })
  })

  it('tells presence from presences, and reads ack and welcome by type alone', () => {
    expect(at(JSON.stringify({ type: 'presence', room: 'r', event: 'join', member: { user: 'a', connections: 1 } }))?.type).toBe('presence')
    expect(at(JSON.stringify({ type: 'presences', room: 'r', events: [] }))?.type).toBe('presences')
    expect(at(JSON.stringify({ type: 'ack', id: 'a1', room: 'r', seq: 3, epoch: 'e' }))?.type).toBe('ack')
    expect(at(JSON.stringify({ type: 'welcome', session: 's' }))?.type).toBe('welcome')
  })

  it('leaves every other frame, and a joined it cannot read exactly, to JSON.parse', () => {
    for (const text of [
      JSON.stringify({ type: 'message', room: 'r', seq: 1, data: {} }),
      JSON.stringify({ type: 'error', code: 'FORBIDDEN', message: 'no' }),
      JSON.stringify({ room: 'r', type: 'joined', epoch: 'e', seq: 1, members: [] }),
      JSON.stringify({ type: 'joined', room: 'r', members: [{ user: 'a', connections: 1, presence: { epoch: 'x' } }], epoch: 'e', seq: 1 }),
      '{"type":"joined","room":"r","epoch":"e\\u0041","seq":1,"members":[]}',
      '{"type":"joined","room":"r","epoch":"e","seq":1.5,"members":[]}',
      '{"type":"joinedX","room":"r"}',
    ]) {
      expect(at(text), text).toBeUndefined()
    }
  })
})

describe("Socket.IO's room messages", () => {
  // What the server writes: socket.io-parser's encoding of the event, after Engine.IO's message type (4).
  const packet = (args: unknown[]): Buffer => Buffer.from(`4${new Encoder().encode({ type: PacketType.EVENT, nsp: '/', data: args })[0] as string}`)

  it('are read from the bytes the server writes, with the offset that connection state recovery adds', () => {
    const data = { p: 3, n: 41, t: 1234.5, text: 'a "quoted", [bracketed] text}' }
    const plain = packet(['message', data])
    const withOffset = packet(['message', data, '18d2f1a4-0'])
    for (const [bytes, offset] of [[plain, ''], [withOffset, '18d2f1a4-0']] as const) {
      const delivery = readSocketIoDeliveryAt(bytes, 0, bytes.byteLength)
      expect(delivery === undefined ? undefined : { ...delivery.data, offset: delivery.offset }).toEqual({ p: 3, n: 41, t: 1234.5, text: '', offset })
    }
    for (const other of [packet(['presence', data]), Buffer.from('40{"sid":"x"}'), Buffer.from('430[]'), packet(['message', { n: 1, p: 2, t: 3 }])]) {
      expect(readSocketIoDeliveryAt(other, 0, other.byteLength)).toBeUndefined()
    }
  })

  it("reach the bench's Socket.IO client over a real server, acknowledged, and recovered after a drop", async () => {
    const server = await socketIo.startServer({ recovery: true })
    const clients: BenchClient[] = []
    try {
      const got: Payload[] = []
      let acks = 0
      const settings = { port: server.port, room: 'r', onMessage: (data: Payload) => void got.push({ ...data }), onAck: () => void acks++ }
      clients.push(await socketIo.connect({ ...settings, user: 'a' }), await socketIo.connect({ ...settings, user: 'b' }))
      const until = async (done: () => boolean): Promise<void> => {
        for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
        expect(done()).toBe(true)
      }
      clients[0]!.publish({ p: 0, n: 0, t: 1.5, text: 'hi' }, true)
      clients[1]!.publish({ p: 1, n: 0, t: 2.5, text: 'hi' })
      await until(() => got.length === 2 && acks === 1)
      expect(got.map((data) => data.p).sort()).toEqual([0, 1])
      expect(got.find((data) => data.p === 0)).toMatchObject({ n: 0, t: 1.5 })
      // Dropped, then the server publishes what the clients miss; both recover it on reconnecting (Socket.IO recovers
      // a session from the offset of the last packet it got, so each has got one).
      expect(server.drop()).toBe(2)
      await Promise.all(clients.map((client) => client.dropped))
      await server.publish('r', [1, 2, 3].map((n) => ({ p: -1, n, t: 0, text: 'missed' })))
      // A publish while dropped waits for the namespace, as socket.io-client's buffer does.
      clients[0]!.publish({ p: 0, n: 1, t: 3.5, text: 'queued' })
      await Promise.all(clients.map((client) => client.reconnect()))
      await until(() => got.length === 9)
      expect(got.slice(2).filter((data) => data.p === -1).map((data) => data.n).sort()).toEqual([1, 1, 2, 2, 3, 3])
      expect(got.slice(2).filter((data) => data.p === 0)).toMatchObject([{ n: 1, t: 3.5 }])
    } finally {
      for (const client of clients) client.close()
      await server.close()
    }
  })
})

describe("the HTTP stream target's client", () => {
  it('reads every room message off the event stream in order, long ones split across reads included', async () => {
    // The parley target's server, as its startServer makes it (which needs import.meta.resolve, absent under vitest).
    const http = createServer()
    const parleyServer = attach(http, {
      path: '/parley',
      authenticate: ({ token }) => (token === undefined ? null : { id: token }),
      limits: { rate: { messages: 1_000_000, perMs: 1_000 } },
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const server = {
      port: (http.address() as AddressInfo).port,
      close: async () => {
        await parleyServer.close()
        await new Promise<void>((resolve) => http.close(() => resolve()))
      },
    }
    const clients: BenchClient[] = []
    try {
      const got: Array<{ p: number; n: number; t: number }> = []
      const settings = { port: server.port, room: 'r', onMessage: (data: Payload) => void got.push({ p: data.p, n: data.n, t: data.t }) }
      clients.push(await parleyHttp.connect({ ...settings, user: 'a', onMessage: () => undefined }), await parleyHttp.connect({ ...settings, user: 'b' }))
      // 200 messages, every tenth 8 KB long (and not ASCII), so events arrive many to a read and split between reads.
      for (let n = 0; n < 200; n++) clients[0]!.publish({ p: 0, n, t: n + 0.5, text: n % 10 === 0 ? 'é'.repeat(4_000) : 'hi' })
      for (let i = 0; i < 300 && got.length < 200; i++) await new Promise((resolve) => setTimeout(resolve, 10))
      expect(got).toEqual(Array.from({ length: 200 }, (_, n) => ({ p: 0, n, t: n + 0.5 })))
    } finally {
      for (const client of clients) client.close()
      await server.close()
    }
  })
})

describe('the light WebSocket client', () => {
  let server: Server | undefined
  let wss: WebSocketServer | undefined
  const sockets: LightSocket[] = []
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate()
    await new Promise<void>((resolve) => (wss === undefined ? resolve() : wss.close(() => resolve())))
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
    server = wss = undefined
  })

  async function start(onConnection: (ws: WebSocket) => void): Promise<string> {
    server = createServer()
    wss = new WebSocketServer({ server, handleProtocols: (offered) => (offered.has('parley.v1.json') ? 'parley.v1.json' : false) })
    wss.on('connection', onConnection)
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/parley`
  }

  it('gets the frame sent with the 101, frames of every length encoding, in order, and sends masked frames ws accepts', async () => {
    const got: string[] = []
    const url = await start((ws) => {
      ws.send('first, with the upgrade')
      ws.on('message', (data) => {
        // Small, 16-bit and 64-bit payload lengths, back to back in one write burst.
        for (const size of [5, 300, 70_000]) ws.send(`${String(data)}:${'y'.repeat(size)}`)
      })
    })
    const socket = await openLightSocket(url, { protocols: ['parley.v1.json'], headers: { authorization: 'Bearer u' } })
    sockets.push(socket)
    expect(socket.protocol).toBe('parley.v1.json')
    const all = new Promise<void>((resolve) =>
      socket.onMessage((text) => {
        got.push(text)
        if (got.length === 4) resolve()
      }),
    )
    socket.send('héllo'.repeat(40))
    await all
    expect(got[0]).toBe('first, with the upgrade')
    expect(got.slice(1).map((text) => text.length)).toEqual([5, 300, 70_000].map((size) => 'héllo'.repeat(40).length + 1 + size))
    expect(got[3]!.startsWith('héllo')).toBe(true)
  })

  it('sends binary frames ws accepts as binary, and reads binary frames whole, fragmented ones too', async () => {
    const url = await start((ws) => {
      ws.on('message', (data, isBinary) => {
        const bytes = data as Buffer
        ws.send(Buffer.concat([Buffer.from([isBinary ? 1 : 0]), bytes]), { binary: true })
        // The same bytes again as a binary message in two fragments (opcode 2, then a continuation).
        ws.send(bytes.subarray(0, 1000), { binary: true, fin: false })
        ws.send(bytes.subarray(1000), { binary: true, fin: true })
      })
    })
    const socket = await openLightSocket(url, { protocols: ['parley.v1.json'] })
    sockets.push(socket)
    const got: Buffer[] = []
    const both = new Promise<void>((resolve) =>
      socket.onBinary((payload) => {
        got.push(Buffer.from(payload))
        if (got.length === 2) resolve()
      }),
    )
    const sent = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251))
    socket.sendBinary(sent)
    await both
    expect(got[0]![0]).toBe(1)
    expect(got[0]!.subarray(1).equals(sent)).toBe(true)
    expect(got[1]!.equals(sent)).toBe(true)
  })

  it('reads room messages on many sockets at once through onDelivery, and every other frame through onMessage', async () => {
    const frames = (n: number): string[] =>
      Array.from({ length: 200 }, (_, i) => JSON.stringify({ type: 'message', room: 'r', seq: i + 1, epoch: `e${n}`, data: { p: n, n: i, t: i / 4, text: 'é'.repeat(i % 7) } }))
    const url = await start((ws) => {
      ws.once('message', (name) => {
        const n = Number(String(name))
        ws.send(JSON.stringify({ type: 'joined', room: 'r', seq: 0 }))
        // Many frames per write, and writes from all sockets interleaved: every socket reads into one shared buffer.
        for (const text of frames(n)) ws.send(text)
      })
    })
    const opened = await Promise.all([0, 1, 2, 3, 4].map(() => openLightSocket(url, { protocols: ['parley.v1.json'] })))
    sockets.push(...opened)
    const results = await Promise.all(
      opened.map(
        (socket, n) =>
          new Promise<{ deliveries: Array<[string, number, number, number]>; other: string[] }>((resolve) => {
            const deliveries: Array<[string, number, number, number]> = []
            const other: string[] = []
            socket.onDelivery((delivery) => {
              deliveries.push([delivery.epoch, delivery.seq, delivery.data.p, delivery.data.n])
              if (deliveries.length === 200) resolve({ deliveries, other })
            })
            socket.onMessage((text) => other.push(text))
            socket.send(String(n))
          }),
      ),
    )
    results.forEach(({ deliveries, other }, n) => {
      expect(other).toEqual(['{"type":"joined","room":"r","seq":0}'])
      expect(deliveries).toEqual(frames(n).map((text) => {
        const message = JSON.parse(text) as { epoch: string; seq: number; data: { p: number; n: number } }
        return [message.epoch, message.seq, message.data.p, message.data.n]
      }))
    })
  })

  it('offers other frames to onPeek as bytes first: what it takes never reaches onMessage', async () => {
    const url = await start((ws) => {
      ws.once('message', () => {
        for (const type of ['presences', 'error', 'joined', 'ack']) ws.send(JSON.stringify({ type, room: 'r', text: 'é' }))
      })
    })
    const socket = await openLightSocket(url, { protocols: ['parley.v1.json'] })
    sockets.push(socket)
    const peeked: string[] = []
    const other: string[] = []
    await new Promise<void>((resolve) => {
      socket.onPeek((bytes, start, end) => {
        const type = (JSON.parse(bytes.toString('utf8', start, end)) as { type: string }).type
        if (type === 'ack') resolve()
        if (type === 'error') return false
        peeked.push(type)
        return true
      })
      socket.onMessage((text) => other.push(text))
      socket.send('go')
    })
    expect(peeked).toEqual(['presences', 'joined', 'ack'])
    expect(other).toEqual(['{"type":"error","room":"r","text":"é"}'])
  })

  it('answers a ping with a pong and reports a close', async () => {
    let peer: WebSocket | undefined
    const url = await start((ws) => (peer = ws))
    const socket = await openLightSocket(url, { protocols: ['parley.v1.json'] })
    sockets.push(socket)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const pong = new Promise<string>((resolve) => peer!.once('pong', (data) => resolve(String(data))))
    peer!.ping('are you there')
    expect(await pong).toBe('are you there')
    const closed = new Promise<void>((resolve) => socket.onClose(resolve))
    peer!.close(1000, 'bye')
    await closed
  })

  it('refuses a server that does not upgrade, or picks another subprotocol', async () => {
    const url = await start(() => undefined)
    await expect(openLightSocket(url.replace('/parley', '/parley'), { protocols: ['other.v1'] })).rejects.toThrow(/light socket/)
    const plain = createServer((_request, response) => response.end('no'))
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve))
    try {
      await expect(openLightSocket(`ws://127.0.0.1:${(plain.address() as AddressInfo).port}/`)).rejects.toThrow(/light socket: HTTP\/1\.1 (200|400|426)/)
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()))
    }
  })
})
