/**
 * What a benchmark target is: a server started in its own child process (`server-child.ts`) and a client the load
 * generator (`loadgen-child.ts`, another process) opens many of. One small file per target implements this, so a new
 * competitor is one more file plus one line in `targets/index.ts`.
 *
 * Every client is in exactly one room, and a room message reaches every member of the room except its sender (Parley
 * `echo: false`, Socket.IO `socket.to(room)`, the ws server skips the sender), so the targets do the same work.
 */

/** What every benchmark message carries, as the data of a room message. */
export interface Payload {
  /** Publisher index (global); a server-side publish uses -1. */
  readonly p: number
  /** Per-publisher sequence, from 0 without gaps: receivers check order and completeness with it. */
  readonly n: number
  /** `performance.now()` of the load generator when it was sent (end-to-end latency); 0 from the server. */
  readonly t: number
  readonly text: string
}

/** A typical chat line, so frames are the size of real ones (about 120-150 bytes on the wire with each envelope). */
export const TEXT = 'hello everyone, how is it going?'

/** Chat-like text of `bytes` ASCII bytes (words repeat as in a long message), for scenarios about payload size. */
export function textOf(bytes: number): string {
  const words = ['hello', 'everyone', 'how', 'is', 'it', 'going', 'the', 'release', 'ships', 'on', 'friday', 'after', 'review', 'tests', 'pass', 'again']
  let text = ''
  for (let i = 0; text.length < bytes; i++) text += `${words[(i * 7 + (i >> 4)) % words.length]} `
  return text.slice(0, bytes)
}

/** Server settings a scenario may ask for. */
export interface ServerSettings {
  /**
   * Keep what recovery needs: Socket.IO's `connectionStateRecovery`, a replay buffer in the ws server. Parley keeps
   * its history window in every configuration, so it ignores this.
   */
  readonly recovery: boolean
  /** Largest inbound frame, for scenarios with large payloads (the `binary` scenario); each target's default otherwise. */
  readonly maxPayload?: number | undefined
}

/** A target's server, running in the server child. */
export interface RunningServer {
  readonly port: number
  /** The server library's resolved module, when the copy in use matters (Parley: the working tree or a baseline). */
  readonly module?: string | undefined
  /** Publishes from the server itself (recovery scenario), in order; resolves when all are handed to the fan-out. */
  publish(room: string, data: readonly Payload[]): Promise<void>
  /** Drops every connection the way a restart or a network blip would; returns how many. */
  drop(): number
  close(): Promise<void>
}

/** How the load generator opens one client. */
export interface ClientSettings {
  readonly port: number
  /** Unique per client; Parley uses it as the token and user id. */
  readonly user: string
  readonly room: string
  /**
   * Each room message's data, in arrival order. The object may be filled in again for the next message (the light
   * clients reuse one per delivery): copy what is kept past the call.
   */
  readonly onMessage: (data: Payload) => void
  /** Each acknowledgement of a publish made with `ack` (see {@link BenchClient.publish}). */
  readonly onAck?: (() => void) | undefined
  /** Each presence frame (`presence` or a `presences` batch), for targets that have presence (Parley's raw clients). */
  readonly onPresenceFrame?: (() => void) | undefined
}

/** One client of a target, joined to its room. */
export interface BenchClient {
  /**
   * Publishes to its room. With `ack`, asks the server to acknowledge it (Parley's publish id and `ack`, Socket.IO's
   * acknowledgement callback, the ws server's `ack` frame) and calls `onAck` when the acknowledgement arrives.
   */
  publish(data: Payload, ack?: boolean): void
  /** Resolves when the server dropped this connection. */
  readonly dropped: Promise<void>
  /** After a drop: connects again and resumes where it was (as far as the target can); resolves once joined. */
  reconnect(): Promise<void>
  /** Ends the connection without ceremony. */
  close(): void
}

export interface Target {
  /** As shown in tables. */
  readonly name: string
  /** One line: which server, which client, what configuration. */
  readonly description: string
  /** What `reconnect()` recovers, for the recovery scenario's notes. */
  readonly recovery: string
  /** Runs in the server child. Listens on 127.0.0.1, port 0. */
  startServer(settings: ServerSettings): Promise<RunningServer>
  /** Runs in the load generator; resolves once the client has joined its room. */
  connect(settings: ClientSettings): Promise<BenchClient>
}

/** A promise and its resolve, for gates and one-shot events. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
