import type {
  DirectMessage,
  JsonValue,
  PresenceMember,
  Recovery,
  ResumePoint,
  RoomMessage,
  SignalBroadcastMessage,
} from '@parley/protocol'
import type { ControlCommand, ControlReport } from '../control.js'
import type { MembersPage } from '../members-page.js'
import type { ForwardAnswer, ForwardRequest } from '../transports/forwarding.js'
import type { ParleyStats } from '../stats.js'
import type { NodeInspection } from '../inspection.js'

/** What an adapter delivers to one node: events for the rooms that node subscribed to. */
export interface AdapterHooks {
  /**
   * A sequenced room message; `exceptSession` is a session to leave out (a publish with `echo: false`).
   * `dataJson`, when the adapter still has it from the publish (`PublishRequest.dataJson`), spares the node from
   * serialising the payload again.
   */
  message(message: RoomMessage, exceptSession: string | undefined, dataJson?: string): void
  /** A presence change in a room: `join` on a user's first connection cluster-wide, `leave` after its last. */
  presence(room: string, event: 'join' | 'leave' | 'update', member: PresenceMember): void
  /** A signal; the sender's own connections are left out by the node. */
  signal(message: SignalBroadcastMessage): void
  /** A direct message for every connection of `user` on this node. */
  direct(user: string, message: DirectMessage): void
  /**
   * A control command for this node's sessions (see `ControlCommand`); resolves with how many sessions it acted on,
   * once they have (a join answered, a removal done). Never rejects.
   */
  control(command: ControlCommand): Promise<number>
  /** A request for an HTTP stream this node holds, forwarded by the node its POST landed on. Never rejects. */
  forwarded(request: ForwardRequest): Promise<ForwardAnswer>
}

/** A room's members as a join needs them (see {@link AdapterNode.memberSnapshot}). */
export interface MemberSnapshot {
  /** Every member when there are at most `limit` (in the adapter's order), else the first `limit` by user id. */
  readonly first: readonly PresenceMember[]
  /** Members in all (users). */
  readonly count: number
}

/** Settings a node brings to the adapter. */
export interface AdapterNodeConfig {
  readonly history: { readonly size: number; readonly ttlMs: number }
  readonly dedupWindowMs: number
  /** This node's current stats, for cluster-wide stats. */
  readonly stats?: (() => ParleyStats) | undefined
  /**
   * This node's inspection (sessions, rooms, recent errors), for an inspector on any node; undefined while the node
   * does not share it (`parley.shareInspection()`). A cluster adapter carries it as it carries stats.
   */
  readonly inspection?: (() => NodeInspection | undefined) | undefined
}

/** One node's entry in cluster-wide stats. */
export interface NodeStats {
  readonly node: string
  readonly stats: ParleyStats
  /** The node's inspection, when it shares one (see `AdapterNodeConfig.inspection`). */
  readonly inspection?: NodeInspection | undefined
}

/** Stats of every node an adapter can see. */
export interface ClusterStats {
  readonly nodes: readonly NodeStats[]
  /** True when some node could not be asked (gone, or the adapter is unreachable): the figures leave it out. */
  readonly partial: boolean
}

/** A publish going through the adapter. */
export interface PublishRequest {
  readonly room: string
  readonly from: string | null
  readonly data: JsonValue
  /**
   * `data` already serialised (`JSON.stringify`) and size-checked by the node: an adapter that needs the text
   * (to store or send it) uses this instead of serialising again.
   */
  readonly dataJson: string
  /**
   * Protocol v2: bytes published with `data`. An adapter stores and forwards them with the message (the message it
   * delivers has them in `bytes`); one that can carry no bytes refuses the publish rather than drop them.
   */
  readonly bytes?: Uint8Array | undefined
  /** Scope of de-duplication: the same key within the window is not delivered again. */
  readonly dedupKey?: string | undefined
  /** Session left out of the fan-out (`echo: false`). */
  readonly exceptSession?: string | undefined
}

/**
 * Where a publish landed: its position, or, for a retry within the de-duplication window, the position of the
 * message it duplicates. This is all a retry needs answered, so an adapter keeps only this per publish id, never
 * the payload.
 */
export interface PublishResult {
  readonly seq: number
  readonly epoch: string
  readonly ts: number
  readonly duplicate: boolean
}

/** A room's position and, for a resume, the messages to replay. */
export interface ResumeResult {
  readonly epoch: string
  /** The room's last assigned seq (`joined.seq`): a replay ends with this seq; live messages follow it. */
  readonly seq: number
  readonly replay: readonly RoomMessage[]
  /** `null` when no resume point was given. */
  readonly recovery: Recovery | null
}

/** Which page of a room's history to read. */
export interface HistoryPage {
  /** Only messages with a seq below this. @default the room's head + 1 */
  readonly before?: number | undefined
  readonly limit: number
}

/** A presence entry: one connection of one user in one room. */
export interface PresenceEntry {
  readonly room: string
  readonly user: string
  readonly session: string
  readonly presence: JsonValue
}

/**
 * A node's handle on the adapter. Every room operation of the hub goes through it, so a cluster adapter (Redis,
 * NATS, ...) can make sequencing, history, de-duplication and presence cluster-wide without the hub changing.
 */
export interface AdapterNode {
  readonly id: string
  /** Start receiving a room's events (first local member joined). */
  subscribe(room: string): Promise<void>
  /** Stop receiving a room's events (last local member left). */
  unsubscribe(room: string): Promise<void>
  /** Sequences, stores and fans out a message. */
  publish(request: PublishRequest): Promise<PublishResult>
  /** The room's position; with `from`, also the messages after it and the recovery result. */
  resume(room: string, from: ResumePoint | undefined): Promise<ResumeResult>
  /** Adds a connection to a room's presence (announces `join` when it is the user's first). */
  presenceJoin(entry: PresenceEntry): Promise<void>
  /** Removes a connection (announces `leave` when it was the user's last). */
  presenceLeave(room: string, user: string, session: string): Promise<void>
  /** Replaces a user's presence metadata in a room (announces `update`). */
  presenceUpdate(room: string, user: string, presence: JsonValue): Promise<void>
  /** The room's members, one entry per user. */
  members(room: string): Promise<PresenceMember[]>
  /**
   * Optional: what a join's `joined` needs of a room of any size, without reading every member: the members
   * themselves when there are at most `limit`, else the first `limit` by user id, and how many there are. Without
   * it a join reads `members()`, which costs O(members) per join.
   *
   * The adapter calls `taken()` exactly once, at the point of its stream of presence changes (`hooks.presence`)
   * that the answer reflects: every change it delivered before the call is in the answer, none it delivers after.
   * An adapter holding presence in this process answers synchronously and calls it inside; one whose presence lives
   * elsewhere (Redis) calls it when its delivery stream has caught up with the read, before its promise settles.
   */
  memberSnapshot?(room: string, limit: number, taken: () => void): MemberSnapshot | Promise<MemberSnapshot>
  /**
   * Optional: a client's `members` page in O(page): the room's members after user id `after` (from the first
   * without it), ordered by user id, at most `limit`, and whether more follow. Without it a page reads `members()`.
   */
  memberPage?(room: string, after: string | undefined, limit: number): Promise<MembersPage>
  /** Fans a signal out to the room's members on every node. */
  signal(message: SignalBroadcastMessage): Promise<void>
  /** Delivers a direct message to every connection of a user on every node. */
  direct(user: string, message: DirectMessage): Promise<void>
  /** Rooms with at least one member anywhere, with their member counts (users). */
  rooms(): Promise<Array<{ room: string; members: number }>>
  /** Every node's stats, as recent as the adapter keeps them; optional (single-node adapters may omit it). */
  clusterStats?(): Promise<ClusterStats>
  /**
   * Runs a control command on every node (this one included) through `hooks.control`, and resolves once each has
   * answered, or after `timeoutMs` with the nodes that did not in `missing`: never hangs. Optional: without it a
   * command acts on this node only, which is all there is for a single-node adapter.
   */
  control?(command: ControlCommand, timeoutMs: number): Promise<ControlReport>
  /**
   * A page of the room's kept messages, oldest first: the last `limit` with a seq below `before` (all seqs when
   * `before` is undefined). Optional: without it `room(name).history()` answers with none.
   */
  history?(room: string, page: HistoryPage): Promise<RoomMessage[]>
  /**
   * Carries `request` to node `node` and resolves with its `hooks.forwarded` answer; `undefined` when that node is
   * gone or did not answer within `timeoutMs`. Optional: without it, POSTs of the HTTP stream transport must reach
   * the node holding their stream (sticky sessions), and others are answered 404.
   */
  forward?(node: string, request: ForwardRequest, timeoutMs: number): Promise<ForwardAnswer | undefined>
  /**
   * A secret every node of the cluster shares (created once, kept by the adapter), from which HTTP stream secrets are
   * derived, so any node can check a POST's secret before it forwards anything. Optional: without it only the node
   * holding a stream can check its secret.
   */
  clusterKey?(): Promise<string>
  /**
   * Leaves the adapter: nothing more is delivered to this node. The hub has left every room before (so presence is
   * clean); a cluster adapter also drops whatever it still holds for this node.
   */
  disconnect(): Promise<void>
}

/** An adapter: how server nodes share rooms. One Parley instance connects as one node. */
export interface Adapter {
  connect(hooks: AdapterHooks, config: AdapterNodeConfig): Promise<AdapterNode>
  /**
   * Whether this adapter stores and delivers a publish's `bytes` (protocol v2; docs/adapters.md). Without it the
   * server speaks protocol v1 only and refuses a server-side publish with bytes, so no bytes are dropped silently.
   */
  readonly carriesBytes?: boolean
}
