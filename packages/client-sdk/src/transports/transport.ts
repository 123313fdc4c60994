/** What a transport needs to open one connection. */
export interface TransportRequest {
  /** The server URL of this attempt (clients rotate through theirs on reconnect). */
  readonly url: string
  /** Subprotocols to offer, newest first (`Sec-WebSocket-Protocol`). */
  readonly protocols: readonly string[]
  /** The access token of this attempt, if any; each transport carries it its own way. */
  readonly token: string | undefined
}

/**
 * One client connection, whatever carries it: the client side of the server's `Connection`. The client registers
 * one listener of each kind right after creating it. Events arrive asynchronously, never from inside a call.
 *
 * Failures: a transport that can classify a failure (an HTTP 401 or 426 instead of the upgrade) reports it through
 * `onError` with a `ParleyClientError` whose `closeCode` is the close it then reports (4401, 4406); anything else is an
 * unclassified error followed by a 1006 close. `onClose` fires exactly once, also when the transport never opened.
 */
export interface ClientTransport {
  /** Which transport carries the connection (`'websocket'`, `'http-stream'`, ...), when it says. */
  readonly name?: string | undefined
  /** The subprotocol the server selected; `''` before open, or when the server selected none. */
  readonly protocol: string
  /** Bytes sent but not yet on the wire. */
  readonly bufferedAmount: number
  /** Whether `send` takes binary frames (protocol v2's messages with bytes). @default false: text frames only */
  readonly binary?: boolean | undefined
  /** Sends one frame (binary only where `binary` is true); a no-op unless open. */
  send(frame: string | Uint8Array): void
  /** Closes (or abandons an unopened attempt); `onClose` follows. */
  close(code: number, reason: string): void
  onOpen(listener: () => void): void
  /** Inbound frames: text as a string; binary as bytes (an ArrayBuffer or a view), which decode reads on v2. */
  onMessage(listener: (frame: unknown) => void): void
  onClose(listener: (code: number, reason: string) => void): void
  onError(listener: (error: unknown) => void): void
}

/** Creates a transport for one connection attempt: the `transport` option of `createClient()`. */
export type TransportFactory = (request: TransportRequest) => ClientTransport


const ignore = (): void => undefined

/**
 * The four listeners a transport of the SDK keeps, each `on…` replacing its one, and each a no-op until set: the base
 * of the WebSocket and the automatic transports, which call them as their socket or attempt reports.
 */
export abstract class ListenedTransport {
  protected openListener: () => void = ignore
  protected messageListener: (frame: unknown) => void = ignore
  protected closeListener: (code: number, reason: string) => void = ignore
  protected errorListener: (error: unknown) => void = ignore

  onOpen(listener: () => void): void {
    this.openListener = listener
  }

  onMessage(listener: (frame: unknown) => void): void {
    this.messageListener = listener
  }

  onClose(listener: (code: number, reason: string) => void): void {
    this.closeListener = listener
  }

  onError(listener: (error: unknown) => void): void {
    this.errorListener = listener
  }
}
