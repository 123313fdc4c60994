import { decode, type ClientMessage, type ServerMessage } from '@parley/protocol'
import { createLoopback, type Connection, type Handshake, type LoopbackPeer } from '@parley/server-sdk'
import { MessageQueue } from './message-queue.js'

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>

/**
 * The queueing client of the raw WebSocket helper, over a loopback peer instead of a socket: frames are decoded
 * with the protocol and pulled in order with `next()`.
 */
export class LoopbackClient {
  readonly peer: LoopbackPeer
  readonly #queue = new MessageQueue()
  readonly received: ServerMessage[] = this.#queue.received
  /** Frames the protocol refused (should stay empty). */
  readonly invalid: string[] = []
  readonly closed: Promise<{ code: number; reason: string }>

  constructor(peer: LoopbackPeer) {
    this.peer = peer
    peer.onMessage((frame) => {
      const result = decode(frame, { from: 'server' })
      if (result.ok) this.#queue.push(result.message)
      else {
        this.invalid.push(frame)
        this.#queue.wake()
      }
    })
    this.closed = new Promise((resolve) => peer.onClose((code, reason) => resolve({ code, reason })))
  }

  send(message: ClientMessage | string): void {
    this.peer.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** The next message not yet taken (optionally of a type, skipping others), within `timeoutMs`. */
  next<T extends ServerMessage['type']>(type?: T, timeoutMs = 2_000): Promise<Of<T>> {
    return this.#queue.next(type, timeoutMs)
  }
}

/**
 * A loopback connection accepted by `parley` with `handshake`, welcomed, and joined to `rooms` in order. The caller
 * closes it (or lets the instance's close() end it).
 */
export async function openLoopback(
  parley: { accept(connection: Connection, handshake?: Partial<Handshake>): Promise<unknown> },
  handshake: Partial<Handshake> = {},
  rooms: readonly string[] = [],
): Promise<LoopbackClient> {
  const { connection, peer } = createLoopback()
  const client = new LoopbackClient(peer)
  await parley.accept(connection, handshake)
  await client.next('welcome')
  for (const [index, room] of rooms.entries()) {
    client.send({ type: 'join', room, id: `join-${index}` })
    await client.next('joined')
  }
  return client
}
