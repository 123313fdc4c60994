import type { JsonValue, ResumePoint, RoomMessage } from '@parley/protocol'

/**
 * The history store seam: where room messages go to last (PostgreSQL, memory, ...), apart from the adapter's
 * recovery window. The server writes to it in batches off the fan-out path (see `HistoryWriter`) and reads pages,
 * searches and "last N on join" from it. A store keeps messages in the order of the room's stream: by epoch, in the
 * order the store first saw each epoch of the room, then by seq.
 */

/** A room message as the server hands it to a store. */
export interface StoredMessage {
  readonly room: string
  readonly epoch: string
  readonly seq: number
  /** The sender's user id; `null` for a server-side publish. */
  readonly from: string | null
  /** Server time in ms since the Unix epoch. */
  readonly ts: number
  readonly data: JsonValue
  /** `data` serialised with `JSON.stringify`, as the node already has it: a store that keeps text keeps this. */
  readonly dataJson: string
  /** Bytes published with the message (protocol v2): a store keeps them and gives them back in `bytes`. */
  readonly bytes?: Uint8Array | undefined
}

/** Which messages of a room to read. */
export interface HistoryQuery {
  /**
   * Only messages older than this position (by epoch order, then seq): paging back. Absent: up to the newest.
   * Ignored when `after` is given.
   */
  readonly before?: ResumePoint | undefined
  /** Only messages newer than this position, the oldest of them first: reading forward from a point. */
  readonly after?: ResumePoint | undefined
  /** How many messages at most (1 or more; the server never asks for more than `MAX_HISTORY_LIMIT` + 1). */
  readonly limit: number
}

/** A page a store answers. */
export interface HistoryRows {
  /** Oldest first, as `message`s of the room. */
  readonly messages: RoomMessage[]
  /** True when the store holds more messages beyond this page, in the direction read (older for `before`, newer for `after`). */
  readonly more: boolean
}

/** A search. */
export interface HistorySearch {
  /** Only matches older than this position. */
  readonly before?: ResumePoint | undefined
  readonly limit: number
}

export interface HistoryStore {
  /**
   * Whether this store keeps a message's `bytes` and gives them back (protocol v2). Without it the server speaks
   * protocol v1 only and refuses a server-side publish with bytes, so no bytes are dropped silently.
   */
  readonly carriesBytes?: boolean
  /**
   * Stores a batch (one multi-row write where the store can). Idempotent on (room, epoch, seq): a message stored
   * already is skipped, never stored twice, so a retried batch or a second node writing the same message is safe.
   * Rejects when the batch could not be written; the caller retries it.
   */
  append(batch: readonly StoredMessage[]): Promise<void>
  /**
   * A page of `room`. Resolves `undefined` when a cursor's epoch is not one the store knows for this room (a
   * position from another room, or from an epoch it never stored). Rejects when the store cannot be read.
   */
  read(room: string, query: HistoryQuery): Promise<HistoryRows | undefined>
  /**
   * Full-text search in `room`: the newest `limit` matches (older than `before`), oldest first. `text` is user
   * input: a store passes it as a parameter, never inside its query text. Optional: a store without it answers
   * clients' searches with `HISTORY_UNAVAILABLE`.
   */
  search?(room: string, text: string, query: HistorySearch): Promise<HistoryRows | undefined>
  /** Applies the store's retention now; resolves with how many messages it removed. Optional. */
  prune?(): Promise<number>
  /** Releases connections and timers. The server does not call it: whoever created the store closes it. */
  close?(): Promise<void>
}
