import type { ProcessDelta, ProcessSample } from './process-sample.js'

/**
 * What the runner asks the load generator to do, and what comes back. Shared by the scenarios (which build jobs and
 * read results) and `loadgen-child.ts` (which runs them).
 */

/** Rooms of publishers and subscribers; every message goes to every member of its room but its sender. */
export interface TrafficJob {
  readonly kind: 'traffic'
  readonly rooms: number
  /** Members that only listen. */
  readonly subscribersPerRoom: number
  /** Members that publish (and listen to the others). */
  readonly publishersPerRoom: number
  /** Connections opened at once while setting up. */
  readonly connectConcurrency: number
  /** Full-rate publishing before measuring, so every JIT tier is warm (not measured). */
  readonly warmupMs: number
  /**
   * Full rate: each publisher keeps `window` messages in flight, a message being in flight until every recipient has
   * it. Self-clocking, so every target runs at the rate the two processes sustain.
   */
  readonly full: { readonly durationMs: number; readonly window: number }
  /**
   * Fixed rate: each publisher sends `ratePerPublisher` messages a second, spread evenly; latency is recorded. With
   * `burst`, a second phase sends the same rate as bursts of that many messages back to back.
   */
  readonly fixed: { readonly durationMs: number; readonly ratePerPublisher: number; readonly burst?: number | undefined }
  /** Longest wait for the last messages after a phase before the run is declared invalid. */
  readonly drainTimeoutMs: number
  /** Every publish asks for an acknowledgement (Parley's `ack`, Socket.IO's callback); each must come back. */
  readonly acks?: boolean | undefined
  /** The size of each message's `text` in bytes: chat-like words (default: one short chat line, {@link TEXT}). */
  readonly textBytes?: number | undefined
  /**
   * Each message carries this many random bytes, as base64 in `text` (what a client without protocol v2 sends), or
   * as protocol v2 bytes by a target that speaks them (`parley-bytes`): the `binary` scenario. Overrides `textBytes`.
   */
  readonly bytesPayload?: number | undefined
}

/** Connections that join a room each and then stay idle. */
export interface IdleJob {
  readonly kind: 'idle'
  readonly clients: number
  readonly roomSize: number
  readonly connectConcurrency: number
  /** Time left after the last join before memory is read (timers, buffers settle). */
  readonly settleMs: number
  /**
   * When set, memory is read a second time this long after the last join: by then V8's memory reducer has shrunk the
   * young generation that grew while connections were set up (tens of MB, whatever the target), so this reading is
   * closer to what each connection really holds in the long run.
   */
  readonly settledMs?: number | undefined
  /**
   * When set, after the liveness check the server publishes this many more messages to every room, and the load
   * generator measures its own CPU per message received: what the client costs per message (see `client`).
   */
  readonly clientMessages?: number | undefined
}

/** Clients dropped by the server come back at once and recover the messages published meanwhile. */
export interface RecoveryJob {
  readonly kind: 'recovery'
  readonly clients: number
  /** Messages published while the clients are away. */
  readonly missed: number
  readonly timeoutMs: number
}

export type Job = TrafficJob | IdleJob | RecoveryJob

/** Samples of both processes at one instant of the run. */
export interface Mark {
  readonly server: ProcessSample
  readonly loadgen: ProcessSample
}

/** One measured window. */
export interface Window {
  readonly server: ProcessDelta
  readonly loadgen: ProcessDelta
}

export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly p999: number
  readonly max: number
  readonly mean: number
}

/** Whether every expected message arrived at every client, exactly once and in order. */
export interface Validity {
  readonly valid: boolean
  readonly expected: number
  readonly received: number
  /** Clients whose count differs from what they should have got. */
  readonly clientsShort: number
  /** Messages that arrived out of order or twice. */
  readonly outOfOrder: number
  readonly problems: readonly string[]
}

export interface TrafficResult {
  readonly kind: 'traffic'
  readonly clients: number
  readonly setupMs: number
  readonly full: Window & { readonly messages: number; readonly deliveries: number; readonly deliveriesPerSec: number }
  readonly fixed: Window & {
    readonly messages: number
    readonly deliveries: number
    readonly deliveriesPerSec: number
    readonly latencyMs: LatencySummary
  }
  /** The same rate in bursts (`fixed.burst`), when asked for. */
  readonly burst?: TrafficResult['fixed'] | undefined
  readonly validity: Validity
}

export interface IdleResult {
  readonly kind: 'idle'
  readonly clients: number
  readonly setupMs: number
  readonly connectionsPerSec: number
  readonly setup: Window
  readonly before: ProcessSample
  readonly after: ProcessSample
  readonly rssPerConnection: number
  readonly heapPerConnection: number
  /** The second reading (`settledMs`), if asked for. */
  readonly settled?: { readonly sample: ProcessSample; readonly rssPerConnection: number; readonly heapPerConnection: number } | undefined
  /** The idle period after setup (heartbeats and timers only). */
  readonly idle: Window
  /**
   * What the clients cost the process holding them (the load generator): its heap and RSS growth per client, both
   * after two full GCs, and, with `clientMessages`, its CPU per message received.
   */
  readonly client: { readonly heapPerConnection: number; readonly rssPerConnection: number; readonly cpuPerMessageUs: number }
  /** Presence frames (`presence`, `presences`) the clients received from the first connection to the end (Parley). */
  readonly presenceFrames: number
  readonly validity: Validity
}

export interface RecoveryResult {
  readonly kind: 'recovery'
  readonly clients: number
  readonly missed: number
  /** From the reconnect of all clients until the last one has all its missed messages. */
  readonly allLiveMs: number
  /** Per client, the same time: median. */
  readonly medianLiveMs: number
  /** Until the last client's re-join was answered (before all missed messages are in, for some targets). */
  readonly allJoinedMs: number
  readonly window: Window
  readonly validity: Validity
}

export type JobResult = TrafficResult | IdleResult | RecoveryResult
