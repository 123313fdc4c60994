const encoder = new TextEncoder()

/**
 * An encoded frame: text, or (protocol v2, a message with bytes, to a connection that carries binary frames)
 * binary. A broadcast builds one and hands the same object to every member's connection, so the JSON text is made
 * once and its UTF-8 bytes at most once, however many members there are.
 */
export class Frame {
  /** The frame's text; empty for a binary frame. */
  readonly text: string
  /** A binary frame's payload (header and bytes, binary-frame.ts); undefined for a text frame. */
  readonly binary: Uint8Array | undefined
  #bytes: Uint8Array | undefined
  #byteLength = -1
  /** The first transport's wire form of this frame and who made it (see `FrameBytes`, transports/batched-writes.ts). */
  #wireOwner: object | undefined
  #wire: Buffer | undefined

  /** A text frame's UTF-8 in pieces, when the caller has them already (see {@link utf8Parts}). */
  readonly #parts: readonly Uint8Array[] | undefined

  /**
   * `utf8Parts`: for a text frame, its UTF-8 in pieces that the caller already holds (a page of members encoded
   * once, say), so that a transport copies them instead of encoding the text again; they must be exactly `text`'s
   * UTF-8, in order.
   */
  constructor(text: string, binary?: Uint8Array, utf8Parts?: readonly Uint8Array[]) {
    this.text = text
    this.binary = binary
    this.#parts = utf8Parts
    if (utf8Parts !== undefined) {
      let length = 0
      for (const part of utf8Parts) length += part.byteLength
      this.#byteLength = length
    }
  }

  /** @internal A text frame's UTF-8 pieces if it was made with them (undefined otherwise, and for a binary frame). */
  get utf8Parts(): readonly Uint8Array[] | undefined {
    return this.#parts
  }

  /** @internal The wire form `owner` kept here with {@link keepWire}, if it did. */
  wireFor(owner: object): Buffer | undefined {
    return this.#wireOwner === owner ? this.#wire : undefined
  }

  /**
   * @internal Keeps `owner`'s wire form of this frame on the frame itself, where it lives and dies with it: a field
   * rather than a `WeakMap` entry per broadcast (an ephemeron, which costs every write and every scavenge). Only the
   * first transport to ask gets the slot; answers false for the others, which keep theirs themselves.
   */
  keepWire(owner: object, wire: Buffer): boolean {
    if (this.#wireOwner !== undefined) return false
    this.#wireOwner = owner
    this.#wire = wire
    return true
  }

  /** The payload bytes (a text frame's UTF-8, computed on first use), shared by every recipient. */
  get bytes(): Uint8Array {
    this.#bytes ??= this.binary ?? (this.#parts === undefined ? encoder.encode(this.text) : Buffer.concat(this.#parts))
    return this.#bytes
  }

  /** Size on the wire (payload bytes), counted without encoding: a transport may write the text its own way. */
  get byteLength(): number {
    if (this.#byteLength < 0) this.#byteLength = this.binary?.byteLength ?? this.#bytes?.byteLength ?? Buffer.byteLength(this.text, 'utf8')
    return this.#byteLength
  }
}

/**
 * One client connection as the hub sees it. A transport (WebSocket, loopback, ...) turns whatever it carries into
 * this; the hub never sees a socket.
 */
export interface Connection {
  /** The transport's name, for stats, metrics and logs: `websocket`, `http-stream`, `loopback`; `custom` when absent. */
  readonly transport?: string
  /** The negotiated subprotocol, e.g. `parley.v1.json` (once opened, for a transport with a pre-open phase). */
  readonly protocol: string
  /** Bytes queued for this connection and not yet written out. */
  readonly bufferedAmount: number
  /**
   * Whether the transport carries binary frames. On protocol v2 such a connection gets a message with bytes as one
   * binary frame; any other gets only text frames (bytes as base64). @default false
   */
  readonly binary?: boolean
  /** Queues a frame: text, or binary only where `binary` is true. Never throws; sending on a closed connection is a no-op. */
  send(frame: Frame): void
  /** Starts a close handshake. */
  close(code: number, reason: string): void
  /** Drops the connection at once, without a close handshake (dead or stalled peers). */
  terminate(): void
  /** Sends a transport-level ping when the transport has one; the peer's pong arrives through `onPong`. */
  ping(): void
  /** Inbound frames: text as a string, binary as bytes (the hub refuses binary on a text subprotocol). */
  onMessage(listener: (frame: string | Uint8Array) => void): void
  /** A transport-level pong (or any proof of life below the message layer). */
  onPong(listener: () => void): void
  /**
   * Fires each time `bufferedAmount` has gone down after the buffer filled (a socket's `drain`): a writer that
   * paces itself by the reader waits for this instead of polling the buffer. Optional: without it such a writer
   * re-checks the buffer every few milliseconds.
   */
  onDrain?(listener: () => void): void
  /** Fires once, when the connection is gone, with the close code and reason the peer or transport gave. */
  onClose(listener: (code: number, reason: string) => void): void
  /**
   * Optional, in place of `onMessage`, `onPong` and `onClose` for the hub's own use: reports frames, pongs and the
   * close to the receiver's methods, so a transport whose listeners are shared by all its connections makes no
   * closure per connection. The hub calls it once, right after the connection opened; one without it is handed
   * three listeners instead. Listeners added with `onClose` still fire too.
   */
  receiveWith?(receiver: ConnectionReceiver): void
  /**
   * For a transport that can still answer in its own terms before it opens (HTTP before a WebSocket upgrade or
   * before a stream starts): refuses the connection so. Without it a refusal closes with `refusal.closeCode`.
   */
  refuse?(refusal: Refusal): void
  /**
   * For a transport with a pre-open phase: opens with the chosen subprotocol, synchronously, so that the caps
   * checked right before stay exact. Returns false when the peer went away meanwhile.
   */
  open?(protocol: string): boolean
}

/** What a connection reports to through `receiveWith`: the same three events as its listeners carry. */
export interface ConnectionReceiver {
  /** An inbound frame: text as a string, binary as bytes. */
  receiveFrame(frame: string | Uint8Array): void
  /** A transport-level pong. */
  receivePong(): void
  /** The connection is gone; called once. */
  receiveClose(code: number, reason: string): void
}

/** Plain HTTP headers, lower-case names, as Node gives them. */
export type HandshakeHeaders = Readonly<Record<string, string | readonly string[] | undefined>>

/**
 * What a transport knows about a connection when it hands it to Parley: plain data, so a transport without an
 * upgrade request (an HTTP stream, an in-memory loopback) fills it as naturally as WebSocket does.
 */
export interface Handshake {
  /** The Parley subprotocols the client offered, in its order. */
  readonly protocols: readonly string[]
  /** The token the transport found, if any. */
  readonly token: string | undefined
  /** Request headers (lower-case names); empty for a transport that has none. */
  readonly headers: HandshakeHeaders
  /** The request URL (path and query), if the transport has one. */
  readonly url: string | undefined
  /** Remote address, for logs. */
  readonly remoteAddress: string | undefined
}

/** How a refused handshake is answered: in HTTP where the transport still can, else with a close. */
export interface Refusal {
  readonly ok: false
  /** HTTP status for transports that can still answer in HTTP. */
  readonly status: number
  /** Close code for transports that have already connected. */
  readonly closeCode: number
  readonly body: { readonly code: string; readonly message: string; readonly [key: string]: unknown }
  readonly headers?: Readonly<Record<string, string>>
}
