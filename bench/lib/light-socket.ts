import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { readDeliveryAt, type Delivery } from './delivery-reader.js'

/** Reads a room message from `bytes[start..end)`, or answers undefined for any other frame. */
export type DeliveryReader = (bytes: Buffer, start: number, end: number) => Delivery | undefined

/**
 * A minimal WebSocket client for the load generator (RFC 6455, no extensions): the HTTP upgrade by
 * hand, then a frame reader that reads room messages from their bytes (`onDelivery`) and turns any other text frame
 * into a string with one `toString` of the bytes it arrived in.
 * `ws`'s client costs the load generator more per frame than some servers spend per delivery (a stream-based
 * receiver, events, buffer copies), which made the load generator the bottleneck at full rate; this one does the
 * least a client can. Frames it sends are masked with a zero key: RFC 6455 §5.3 requires a mask on every client
 * frame, and any 32-bit value is a valid key (a server cannot tell it from a random one), so the payload goes as is.
 * Not a general client: no compression, and control frames are answered (ping → pong, close → close) but not exposed.
 * Binary frames (protocol v2's messages with bytes) go to `onBinary`, as a view of the bytes they arrived in, valid
 * only during the call.
 *
 * Reads go through `net`'s `onread` into one buffer shared by every light socket, not through the socket's readable
 * stream: no Buffer, no `push` and no `'data'` event per read. At full rate the load generator reads a few frames per
 * read from each of 100-1 000 sockets, and that per-read work was most of its cost per delivery (issue 20).
 */
export interface LightSocket {
  readonly protocol: string
  send(text: string): void
  sendBinary(payload: Uint8Array): void
  onBinary(listener: (payload: Buffer) => void): void
  /** Ends the connection without a close handshake. */
  terminate(): void
  onMessage(listener: (text: string) => void): void
  /**
   * Room messages, read from their bytes by `read` (`readDeliveryAt`, or Socket.IO's reader) without a string of the
   * frame; with this listener set, `onMessage` gets only the other text frames (and room messages in any other shape).
   */
  onDelivery(listener: (delivery: Delivery) => void, read?: DeliveryReader): void
  /**
   * Other text frames, offered as bytes before they are decoded (after `onDelivery`'s reader): a frame `peek`
   * answers true for was handled and goes no further; the rest go to `onMessage` as text.
   */
  onPeek(peek: (bytes: Buffer, start: number, end: number) => boolean): void
  onClose(listener: () => void): void
}

const ZERO_MASK = Buffer.alloc(4)

/**
 * Where every light socket's reads land (`onread`): each read is handled before the next one starts, and a socket
 * keeps only a copy of a frame cut short by the end of a read.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)

const EMPTY = Buffer.alloc(0)

/** A masked client frame header for a payload of `length` bytes with `opcode` (the zero mask key included). */
function header(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | length]), ZERO_MASK])
  if (length < 65_536) {
    const head = Buffer.allocUnsafe(8)
    head[0] = 0x80 | opcode
    head[1] = 0x80 | 126
    head.writeUInt16BE(length, 2)
    ZERO_MASK.copy(head, 4)
    return head
  }
  const head = Buffer.allocUnsafe(14)
  head[0] = 0x80 | opcode
  head[1] = 0x80 | 127
  head.writeBigUInt64BE(BigInt(length), 2)
  ZERO_MASK.copy(head, 10)
  return head
}

class LightClient implements LightSocket {
  protocol = ''
  #buffer: Buffer = EMPTY
  #fragments: Buffer[] = []
  /** The opcode of the message being reassembled (1 text, 2 binary). */
  #fragmentOpcode = 1
  #binary: (payload: Buffer) => void = () => undefined
  /** Frames that arrived before `onMessage` (the server's first frame may come with the 101). */
  #early: string[] | undefined = []
  #message: (text: string) => void = (text) => this.#early?.push(text)
  #delivery: ((delivery: Delivery) => void) | undefined
  #readDelivery: DeliveryReader = readDeliveryAt
  #peek: ((bytes: Buffer, start: number, end: number) => boolean) | undefined
  #close: () => void = () => undefined
  #closed = false

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('close', () => {
      if (this.#closed) return
      this.#closed = true
      this.#close()
    })
    socket.on('error', () => undefined)
  }

  send(text: string): void {
    this.#write(1, Buffer.from(text, 'utf8'))
  }

  sendBinary(payload: Uint8Array): void {
    this.#write(2, payload)
  }

  #write(opcode: number, payload: Uint8Array): void {
    if (this.socket.destroyed) return
    this.socket.cork()
    this.socket.write(header(opcode, payload.byteLength))
    this.socket.write(payload)
    this.socket.uncork()
  }

  onBinary(listener: (payload: Buffer) => void): void {
    this.#binary = listener
  }

  terminate(): void {
    this.socket.destroy()
  }

  onMessage(listener: (text: string) => void): void {
    this.#message = listener
    const early = this.#early ?? []
    this.#early = undefined
    for (const text of early) listener(text)
  }

  onDelivery(listener: (delivery: Delivery) => void, read: DeliveryReader = readDeliveryAt): void {
    this.#delivery = listener
    this.#readDelivery = read
  }

  onPeek(peek: (bytes: Buffer, start: number, end: number) => boolean): void {
    this.#peek = peek
  }

  onClose(listener: () => void): void {
    this.#close = listener
  }

  #text(data: Buffer, start: number, end: number): void {
    const delivery = this.#delivery === undefined ? undefined : this.#readDelivery(data, start, end)
    if (delivery !== undefined) return this.#delivery?.(delivery)
    if (this.#peek?.(data, start, end) === true) return
    this.#message(data.toString('utf8', start, end))
  }

  /**
   * Reads every complete frame in the first `chunkLength` bytes of `chunk` (plus what was left over), keeping a copy
   * of an incomplete one for later: `chunk` is the shared read buffer.
   */
  read(chunk: Buffer, chunkLength = chunk.byteLength): void {
    const data = this.#buffer.byteLength === 0 ? chunk : Buffer.concat([this.#buffer, chunk.subarray(0, chunkLength)])
    const size = data === chunk ? chunkLength : data.byteLength
    let at = 0
    while (size - at >= 2) {
      const first = data[at]!
      const second = data[at + 1]!
      let length = second & 0x7f
      let start = at + 2
      if (length === 126) {
        if (size - at < 4) break
        length = (data[at + 2]! << 8) | data[at + 3]!
        start = at + 4
      } else if (length === 127) {
        if (size - at < 10) break
        length = Number(data.readBigUInt64BE(at + 2))
        start = at + 10
      }
      if ((second & 0x80) !== 0) throw new Error('light socket: a server frame was masked')
      if (size < start + length) break
      this.#frame(first & 0x80, first & 0x0f, data, start, start + length)
      at = start + length
    }
    this.#buffer = at === size ? EMPTY : Buffer.from(data.subarray(at, size))
  }

  #frame(fin: number, opcode: number, data: Buffer, start: number, end: number): void {
    switch (opcode) {
      case 0x1:
      case 0x2:
        if (fin !== 0) return opcode === 0x1 ? this.#text(data, start, end) : this.#binary(data.subarray(start, end))
        this.#fragmentOpcode = opcode
        this.#fragments = [Buffer.from(data.subarray(start, end))]
        return
      case 0x0:
        this.#fragments.push(Buffer.from(data.subarray(start, end)))
        if (fin !== 0) {
          const whole = Buffer.concat(this.#fragments)
          this.#fragments = []
          if (this.#fragmentOpcode === 0x1) this.#text(whole, 0, whole.byteLength)
          else this.#binary(whole)
        }
        return
      case 0x9: {
        const payload = data.subarray(start, end)
        this.socket.write(Buffer.concat([header(0xa, payload.byteLength), payload]))
        return
      }
      case 0x8:
        if (!this.socket.destroyed) this.socket.end(Buffer.concat([header(0x8, 0)]))
        return
      default:
        return
    }
  }
}

/**
 * Opens a light socket to `ws://host:port/path` with the given subprotocols and headers; rejects on anything but a
 * 101 that names one of the subprotocols (when any were asked for).
 */
export function openLightSocket(url: string, options: { protocols?: readonly string[]; headers?: Readonly<Record<string, string>> } = {}): Promise<LightSocket> {
  const target = new URL(url)
  const key = randomBytes(16).toString('base64')
  return new Promise((resolve, reject) => {
    // Until the 101 is read the bytes go to onHandshake, then to the client's frame reader.
    let reader = (chunk: Buffer, length: number): void => onHandshake(chunk.subarray(0, length))
    const socket = connect({
      host: target.hostname,
      port: Number(target.port),
      onread: {
        buffer: READ_BUFFER,
        callback: (length) => {
          reader(READ_BUFFER, length)
          return true
        },
      },
    })
    let response = Buffer.alloc(0)
    const fail = (error: Error): void => {
      socket.destroy()
      reject(error)
    }
    socket.once('error', fail)
    socket.once('connect', () => {
      const lines = [
        `GET ${target.pathname}${target.search} HTTP/1.1`,
        `Host: ${target.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 13',
        ...(options.protocols !== undefined && options.protocols.length > 0 ? [`Sec-WebSocket-Protocol: ${options.protocols.join(', ')}`] : []),
        ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
      ]
      socket.write(`${lines.join('\r\n')}\r\n\r\n`)
    })
    const onHandshake = (chunk: Buffer): void => {
      response = Buffer.concat([response, chunk])
      const end = response.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('error', fail)
      const head = response.subarray(0, end).toString('latin1')
      if (!/^HTTP\/1\.1 101 /.test(head)) return fail(new Error(`light socket: ${head.split('\r\n')[0] ?? 'no status line'}`))
      const client = new LightClient(socket)
      client.protocol = /^sec-websocket-protocol: *(.+)$/im.exec(head)?.[1]?.trim() ?? ''
      if (options.protocols !== undefined && options.protocols.length > 0 && !options.protocols.includes(client.protocol)) {
        return fail(new Error(`light socket: the server chose subprotocol "${client.protocol}"`))
      }
      reader = (data, length) => client.read(data, length)
      resolve(client)
      const rest = response.subarray(end + 4)
      if (rest.byteLength > 0) client.read(rest)
    }
  })
}
