import type { Frame } from './connection.js'

/**
 * The bytes a transport writes for a frame (a WebSocket frame, a server-sent event), built once per broadcast and
 * shared by every recipient. A broadcast asks for the same frame once per member in a row, so the last one is kept
 * at hand. The first transport to build a frame's bytes keeps them on the frame (`Frame.keepWire`); another (a
 * deflating one, server-sent events) keeps its own in a WeakMap. One per transport instance: nothing is shared
 * between Parley instances.
 */
export class FrameBytes {
  readonly #build: (frame: Frame) => Buffer
  readonly #cache = new WeakMap<Frame, Buffer>()
  #lastFrame: Frame | undefined
  #lastBytes: Buffer | undefined

  constructor(build: (frame: Frame) => Buffer) {
    this.#build = build
  }

  of(frame: Frame): Buffer {
    if (frame === this.#lastFrame) return this.#lastBytes as Buffer
    let bytes = frame.wireFor(this) ?? this.#cache.get(frame)
    if (bytes === undefined) {
      bytes = this.#build(frame)
      if (!frame.keepWire(this, bytes)) this.#cache.set(frame, bytes)
    }
    this.#lastFrame = frame
    this.#lastBytes = bytes
    return bytes
  }
}

/** What a batched writer writes to: a socket, or an HTTP response. */
export interface CorkableStream {
  cork(): void
  uncork(): void
  write(chunk: Uint8Array): unknown
}

/** Bytes a writer holds corked before it writes them out anyway, so one turn's burst cannot pile up unseen. */
const FLUSH_BYTES = 16 * 1024

/** One transport instance's writers corked in the current event-loop turn, uncorked together in one `setImmediate`. */
export class WriteTurn {
  #corked: BatchedWriter[] = []

  join(writer: BatchedWriter): void {
    if (this.#corked.length === 0) setImmediate(() => this.#end())
    this.#corked.push(writer)
  }

  #end(): void {
    const batch = this.#corked
    this.#corked = []
    for (const writer of batch) writer.endTurn()
  }
}

/**
 * Writes are batched per connection for the rest of the event-loop turn: the first write of a turn corks the stream
 * and every stream corked in the turn is uncorked in one `setImmediate`, so what a connection gets from several
 * broadcasts in one turn leaves in one `writev` instead of one syscall each. A connection class extends this, so an
 * idle connection carries three fields, not another object.
 */
export abstract class BatchedWriter {
  readonly #stream: CorkableStream
  readonly #turn: WriteTurn
  #corked = false
  #queued = false
  #pending = 0

  constructor(stream: CorkableStream, turn: WriteTurn) {
    this.#stream = stream
    this.#turn = turn
  }

  /**
   * Corks the stream for the rest of the turn without writing: what others write to it meanwhile (ws's `101`
   * response) leaves in the same `writev` as this turn's frames (the `welcome`), not in a syscall of its own.
   */
  protected holdTurn(): void {
    if (this.#corked) return
    this.#stream.cork()
    this.#corked = true
    if (!this.#queued) {
      this.#queued = true
      this.#turn.join(this)
    }
  }

  protected writeBatched(bytes: Buffer): void {
    this.holdTurn()
    this.#stream.write(bytes)
    this.#pending += bytes.byteLength
    if (this.#pending >= FLUSH_BYTES) this.flush()
  }

  /** The turn ended: write out what was corked. */
  endTurn(): void {
    this.#queued = false
    this.flush()
  }

  /** Writes out what is corked now (before a close, a terminate, or past the byte mark). */
  flush(): void {
    this.#pending = 0
    if (!this.#corked) return
    this.#corked = false
    this.#stream.uncork()
  }
}
