import type { Connection, Frame } from './connection.js'

/** The client's end of an in-memory connection. */
export interface LoopbackPeer {
  /** Sends a frame to the server: text, or bytes to play a binary frame (protocol v2's message with bytes). */
  send(frame: string | Uint8Array): void
  /** Closes from the client side; the server sees `code` and `reason`. */
  close(code?: number, reason?: string): void
  /** Frames from the server. */
  onMessage(listener: (frame: string) => void): void
  /** The close, from whichever side started it. */
  onClose(listener: (code: number, reason: string) => void): void
  /** Stop reading: frames from the server queue up and count in the server's `bufferedAmount`. */
  pause(): void
  /** Read again, delivering what queued. */
  resume(): void
  readonly closed: boolean
}

/**
 * An in-memory connection pair with no sockets: the server end is a {@link Connection} for `parley.accept()`, the
 * other end a {@link LoopbackPeer}. Frames travel in order, each on a microtask, so tests stay deterministic;
 * `pause()` makes a stalled reader for backpressure tests.
 */
export function createLoopback(protocol = 'parley.v1.json'): { connection: Connection; peer: LoopbackPeer } {
  const toPeer: string[] = []
  let buffered = 0
  let paused = false
  let closed = false
  const peerListeners: Array<(frame: string) => void> = []
  const peerClose: Array<(code: number, reason: string) => void> = []
  const serverListeners: Array<(frame: string | Uint8Array) => void> = []
  const serverClose: Array<(code: number, reason: string) => void> = []
  const serverDrain: Array<() => void> = []

  const flush = (): void => {
    const had = toPeer.length
    while (!paused && toPeer.length > 0) {
      const frame = toPeer.shift() as string
      buffered -= frame.length
      for (const listener of peerListeners) listener(frame)
    }
    if (had > 0 && toPeer.length === 0) for (const listener of serverDrain) listener()
  }
  const end = (code: number, reason: string): void => {
    if (closed) return
    closed = true
    queueMicrotask(() => {
      for (const listener of serverClose) listener(code, reason)
      for (const listener of peerClose) listener(code, reason)
    })
  }

  const connection: Connection = {
    transport: 'loopback',
    protocol,
    get bufferedAmount() {
      return buffered
    },
    send(frame: Frame) {
      if (closed) return
      toPeer.push(frame.text)
      buffered += frame.text.length
      queueMicrotask(flush)
    },
    close: (code, reason) => {
      // The close frame goes after what is queued, as on a socket.
      queueMicrotask(() => {
        flush()
        end(code, reason)
      })
    },
    terminate: () => end(1006, ''),
    ping: () => undefined,
    onMessage: (listener) => void serverListeners.push(listener),
    onPong: () => undefined,
    onDrain: (listener) => void serverDrain.push(listener),
    onClose: (listener) => void serverClose.push(listener),
  }

  const peer: LoopbackPeer = {
    send(frame) {
      if (closed) return
      queueMicrotask(() => {
        if (!closed) for (const listener of serverListeners) listener(frame)
      })
    },
    close: (code = 1000, reason = '') => end(code, reason),
    onMessage: (listener) => void peerListeners.push(listener),
    onClose: (listener) => void peerClose.push(listener),
    pause: () => {
      paused = true
    },
    resume: () => {
      paused = false
      queueMicrotask(flush)
    },
    get closed() {
      return closed
    },
  }
  return { connection, peer }
}
