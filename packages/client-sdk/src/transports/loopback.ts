import { errorFromHandshake } from '../client-error.js'
import type { ClientTransport, TransportFactory, TransportRequest } from './transport.js'

/**
 * The server's view of one loopback connection: what the client offered, and the calls a server (a scripted fake in
 * tests, or the server SDK's own loopback connection) makes to answer it. Everything is delivered on a microtask, in
 * order, like a socket would.
 */
export interface LoopbackClientEnd {
  /** The client's URL, offered subprotocols and token. */
  readonly request: TransportRequest
  /** Completes the handshake with the selected subprotocol; the client sees its transport open. */
  accept(protocol: string): void
  /** Refuses the handshake as an HTTP answer would (`401`, `426` with `{ supported }`, ...); the client sees the same error as with `ws`. */
  reject(status: number, body?: unknown): void
  /** Sends a frame to the client: text, or bytes to play a binary frame. */
  send(frame: string | Uint8Array): void
  /** Closes from the server side. */
  close(code: number, reason?: string): void
  /** Frames from the client. */
  onMessage(listener: (frame: string) => void): void
  /** The close, from whichever side started it; fires once. */
  onClose(listener: (code: number, reason: string) => void): void
}

/**
 * An in-memory transport: every connection attempt calls `connect` with a {@link LoopbackClientEnd}, and the server
 * side does the rest. No sockets, no timers, so tests over it are deterministic and can use fake timers.
 */
export function createLoopbackTransport(connect: (end: LoopbackClientEnd) => void): TransportFactory {
  return (request) => {
    // Flags change synchronously (what each side may still do); the client's events follow on microtasks, in order,
    // so frames sent before a close arrive before it, as on a socket.
    let accepted = false
    let opened = false
    let closed = false
    let protocol = ''
    const noop = (): void => undefined
    const client = { open: noop, message: noop as (frame: unknown) => void, close: noop as (code: number, reason: string) => void, error: noop as (error: unknown) => void }
    let serverMessage: (frame: string) => void = noop
    let serverClose: (code: number, reason: string) => void = noop

    const end = (code: number, reason: string): void => {
      if (closed) return
      closed = true
      queueMicrotask(() => {
        serverClose(code, reason)
        client.close(code, reason)
      })
    }

    const server: LoopbackClientEnd = {
      request,
      accept(selected) {
        if (accepted || closed) return
        accepted = true
        queueMicrotask(() => {
          if (closed) return
          opened = true
          protocol = selected
          client.open()
        })
      },
      reject(status, body) {
        if (accepted || closed) return
        const error = errorFromHandshake(status, body === undefined ? '' : JSON.stringify(body), request.protocols)
        queueMicrotask(() => client.error(error))
        end(error.closeCode ?? 1006, error.message)
      },
      send(frame) {
        if (accepted && !closed) queueMicrotask(() => client.message(frame))
      },
      close: (code, reason = '') => end(code, reason),
      onMessage: (listener) => {
        serverMessage = listener
      },
      onClose: (listener) => {
        serverClose = listener
      },
    }

    const transport: ClientTransport = {
      get protocol() {
        return protocol
      },
      bufferedAmount: 0,
      // Text frames only (no `binary`): a message with bytes goes in its text form, base64.
      send(frame) {
        if (opened && !closed && typeof frame === 'string') queueMicrotask(() => serverMessage(frame))
      },
      close: (code, reason) => end(code, reason),
      onOpen: (listener) => void (client.open = listener),
      onMessage: (listener) => void (client.message = listener),
      onClose: (listener) => void (client.close = listener),
      onError: (listener) => void (client.error = listener),
    }
    // After the client has registered its listeners (it does so synchronously after creating the transport).
    queueMicrotask(() => connect(server))
    return transport
  }
}
