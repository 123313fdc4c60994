import { randomId, type DirectMessage, type JsonValue, type PresenceMember, type ResumePoint, type RoomMessage, type SignalBroadcastMessage } from '@parley/protocol'
import { History } from '../history.js'
import type {
  Adapter,
  AdapterHooks,
  AdapterNode,
  AdapterNodeConfig,
  ClusterStats,
  HistoryPage,
  MemberSnapshot,
  NodeStats,
  PresenceEntry,
  PublishRequest,
  PublishResult,
  ResumeResult,
} from './adapter.js'
import { replayStart, resumeResult } from './kit.js'
import type { ControlCommand, ControlReport } from '../control.js'
import type { MembersPage } from '../members-page.js'
import type { ForwardAnswer, ForwardRequest } from '../transports/forwarding.js'

interface PresenceUser {
  presence: JsonValue
  /** The user's sessions in the room: the one id while there is one (no Set per connection), else a Set; null once left. */
  sessions: string | Set<string> | null
  /**
   * The member as listed, made once per change and frozen: every join of a room reads its whole member list, and
   * building a new object per member per join made a room filling up cost O(members²) allocations.
   */
  listed?: PresenceMember | undefined
}

function sessionCount(user: PresenceUser): number {
  return user.sessions === null ? 0 : typeof user.sessions === 'string' ? 1 : user.sessions.size
}

interface RoomState {
  readonly epoch: string
  seq: number
  readonly history: History
  readonly presence: Map<string, PresenceUser>
  /** The users of `presence`, ordered by user id: a join's first page without reading the room. */
  readonly sorted: string[]
  /**
   * The last `memberSnapshot` list, kept (the same array) until a change touches it: a user within the first
   * `limit`, or any change while the room is that small. Joins in a row then hand the room the same array, whose
   * encoded JSON it keeps.
   */
  firstPage: { readonly limit: number; readonly list: readonly PresenceMember[] } | undefined
  readonly subscribers: Set<MemoryNode>
  lastActiveAt: number
}

/** What the memory adapter remembers of a publish id: its position and expiry, no payload. */
interface DedupEntry {
  readonly key: string
  readonly seq: number
  readonly epoch: string
  readonly ts: number
  readonly expiresAt: number
}

/** Options of {@link createMemoryAdapter}. */
export interface MemoryAdapterOptions {
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number
}

/**
 * The default adapter: rooms, sequencing, history, de-duplication and presence in this process's memory. Several
 * Parley instances may connect to one memory adapter (nodes on one in-process bus); an adapter passed in options
 * outlives the instance, so a restarted instance finds its rooms' history again.
 */
export function createMemoryAdapter(options: MemoryAdapterOptions = {}): Adapter {
  return new MemoryAdapter(options.now ?? Date.now)
}

class MemoryAdapter implements Adapter {
  /** Messages are kept as they are, bytes included. */
  readonly carriesBytes = true
  readonly rooms = new Map<string, RoomState>()
  readonly nodes = new Set<MemoryNode>()
  /**
   * Publish ids seen recently, in insertion (= expiry) order, with where each landed: what a retry is answered
   * with. Never the message itself, so a window full of ids costs bytes per id, not the payloads.
   */
  readonly dedup = new Map<string, DedupEntry>()
  /**
   * The same entries in insertion (= expiry) order, from `#dedupHead` on: the oldest are dropped from here, never by
   * walking the map. A `Map` walked from its start skips every entry deleted since its last rehash, so dropping the
   * oldest id per publish that way cost O(ids dropped so far): 17 µs per publish at 100 000 ids, growing past 80
   * (docs/benchmarks.md, "De-duplication window").
   */
  #dedupOrder: DedupEntry[] = []
  #dedupHead = 0
  readonly now: () => number
  /** The nodes' shared key for stream secrets (see `AdapterNode.clusterKey`). */
  readonly key = randomId(43)
  #lastSweep = 0

  constructor(now: () => number) {
    this.now = now
  }

  async connect(hooks: AdapterHooks, config: AdapterNodeConfig): Promise<AdapterNode> {
    const node = new MemoryNode(this, hooks, config)
    this.nodes.add(node)
    return node
  }

  room(name: string, config: AdapterNodeConfig): RoomState {
    this.sweep(config)
    let state = this.rooms.get(name)
    if (state === undefined) {
      state = {
        epoch: randomId(10),
        seq: 0,
        history: new History(config.history.size, config.history.ttlMs, this.now),
        presence: new Map(),
        sorted: [],
        firstPage: undefined,
        subscribers: new Set(),
        lastActiveAt: this.now(),
      }
      this.rooms.set(name, state)
    }
    return state
  }

  /** @internal Entries queued for dropping, superseded ones included. */
  get dedupQueued(): number {
    return this.#dedupOrder.length - this.#dedupHead
  }

  /** Remembers a publish id, dropping the oldest past `MAX_DEDUP_ENTRIES`. */
  remember(entry: DedupEntry): void {
    // An id used again after it expired replaces its entry; the old one stays queued, superseded, until its turn.
    this.dedup.set(entry.key, entry)
    this.#dedupOrder.push(entry)
    // Every id in the map has its entry in the queue, so this ends; the check on the queue is a guard all the same.
    while (this.dedup.size > MAX_DEDUP_ENTRIES) if (!this.#dropOldest()) break
    // The queue holds the map's entries and the superseded ones. Nodes with different windows on one adapter queue
    // out of expiry order, and a long-lived entry at the front holds superseded ones behind it: past as many as the
    // map holds, they are filtered out at once.
    if (this.dedupQueued > 2 * this.dedup.size + 1_024) {
      this.#dedupOrder = this.#dedupOrder.slice(this.#dedupHead).filter((queued) => this.dedup.get(queued.key) === queued)
      this.#dedupHead = 0
    }
  }

  /** Drops the oldest entry queued (from the map too, unless the map holds a newer entry for its id: one re-used after it expired). */
  #dropOldest(): boolean {
    const entry = this.#dedupOrder[this.#dedupHead]
    if (entry === undefined) return false
    this.#dedupHead++
    if (this.dedup.get(entry.key) === entry) this.dedup.delete(entry.key)
    // The dropped front is cut off once it is most of the array, so the queue stays within twice what it holds.
    if (this.#dedupHead >= 1_024 && this.#dedupHead * 2 >= this.#dedupOrder.length) {
      this.#dedupOrder.splice(0, this.#dedupHead)
      this.#dedupHead = 0
    }
    return true
  }

  /** Drops rooms nobody is in whose history has expired (a later join starts a new epoch), and stale publish ids. */
  sweep(config: AdapterNodeConfig): void {
    const now = this.now()
    for (let oldest = this.#dedupOrder[this.#dedupHead]; oldest !== undefined && !(oldest.expiresAt > now); oldest = this.#dedupOrder[this.#dedupHead]) {
      this.#dropOldest()
    }
    if (now - this.#lastSweep < 1_000) return
    this.#lastSweep = now
    for (const [name, state] of this.rooms) {
      if (state.presence.size === 0 && state.subscribers.size === 0 && now - state.lastActiveAt > config.history.ttlMs) {
        this.rooms.delete(name)
      }
    }
  }
}

/** Publish ids remembered at most, whatever the window, so memory stays bounded. */
const MAX_DEDUP_ENTRIES = 100_000

class MemoryNode implements AdapterNode {
  readonly id = randomId(12)
  readonly #bus: MemoryAdapter
  readonly #hooks: AdapterHooks
  readonly #config: AdapterNodeConfig
  #connected = true

  constructor(bus: MemoryAdapter, hooks: AdapterHooks, config: AdapterNodeConfig) {
    this.#bus = bus
    this.#hooks = hooks
    this.#config = config
  }

  get hooks(): AdapterHooks {
    return this.#hooks
  }

  async subscribe(room: string): Promise<void> {
    if (this.#connected) this.#bus.room(room, this.#config).subscribers.add(this)
  }

  async unsubscribe(room: string): Promise<void> {
    const state = this.#bus.rooms.get(room)
    if (state === undefined) return
    state.subscribers.delete(this)
    state.lastActiveAt = this.#bus.now()
  }

  async publish(request: PublishRequest): Promise<PublishResult> {
    const bus = this.#bus
    const state = bus.room(request.room, this.#config)
    const key = request.dedupKey === undefined ? undefined : `${request.room}\u0000${request.dedupKey}`
    if (key !== undefined) {
      const seen = bus.dedup.get(key)
      if (seen !== undefined && seen.expiresAt > bus.now()) return { seq: seen.seq, epoch: seen.epoch, ts: seen.ts, duplicate: true }
    }
    const ts = bus.now()
    state.seq += 1
    state.lastActiveAt = ts
    const bytes = request.bytes
    const message: RoomMessage =
      bytes === undefined
        ? { type: 'message', room: request.room, seq: state.seq, epoch: state.epoch, from: request.from, ts, data: request.data }
        : { type: 'message', room: request.room, seq: state.seq, epoch: state.epoch, from: request.from, ts, bytes, data: request.data }
    state.history.append(message)
    if (key !== undefined) bus.remember({ key, seq: message.seq, epoch: message.epoch, ts, expiresAt: ts + this.#config.dedupWindowMs })
    for (const node of state.subscribers) node.hooks.message(message, request.exceptSession, request.dataJson)
    return { seq: message.seq, epoch: message.epoch, ts, duplicate: false }
  }

  async resume(room: string, from: ResumePoint | undefined): Promise<ResumeResult> {
    const state = this.#bus.room(room, this.#config)
    const start = replayStart(state, from)
    const kept = start === undefined ? [] : state.history.since(start - 1, state.seq).messages
    return resumeResult(state, from, kept)
  }

  async presenceJoin(entry: PresenceEntry): Promise<void> {
    const state = this.#bus.room(entry.room, this.#config)
    let user = state.presence.get(entry.user)
    const first = user === undefined
    if (user === undefined) {
      user = { presence: entry.presence, sessions: entry.session }
      state.presence.set(entry.user, user)
      state.sorted.splice(sortedIndex(state.sorted, entry.user), 0, entry.user)
      touchFirstPage(state, entry.user)
    } else {
      user.listed = undefined
      touchFirstPage(state, entry.user)
      if (entry.presence !== null) user.presence = entry.presence
      if (user.sessions instanceof Set) user.sessions.add(entry.session)
      else if (user.sessions !== entry.session) user.sessions = user.sessions === null ? entry.session : new Set([user.sessions, entry.session])
    }
    if (first) this.#announce(state, entry.room, 'join', entry.user, user)
  }

  async presenceLeave(room: string, userId: string, session: string): Promise<void> {
    const state = this.#bus.rooms.get(room)
    const user = state?.presence.get(userId)
    if (state === undefined || user === undefined) return
    user.listed = undefined
    touchFirstPage(state, userId)
    const sessions = user.sessions
    if (sessions === session) user.sessions = null
    else if (!(sessions instanceof Set) || !sessions.delete(session) || sessions.size > 0) return
    state.presence.delete(userId)
    const at = sortedIndex(state.sorted, userId)
    if (state.sorted[at] === userId) state.sorted.splice(at, 1)
    state.lastActiveAt = this.#bus.now()
    this.#announce(state, room, 'leave', userId, user)
  }

  async presenceUpdate(room: string, userId: string, presence: JsonValue): Promise<void> {
    const state = this.#bus.rooms.get(room)
    const user = state?.presence.get(userId)
    if (state === undefined || user === undefined) return
    user.listed = undefined
    touchFirstPage(state, userId)
    user.presence = presence
    this.#announce(state, room, 'update', userId, user)
  }

  async members(room: string): Promise<PresenceMember[]> {
    const state = this.#bus.rooms.get(room)
    if (state === undefined) return []
    const list = new Array<PresenceMember>(state.presence.size)
    let i = 0
    for (const [user, entry] of state.presence) list[i++] = member(user, entry)
    return list
  }

  memberSnapshot(room: string, limit: number, taken: () => void): MemberSnapshot {
    // Presence changes are delivered as they are made, so the answer reflects exactly those delivered so far.
    taken()
    const state = this.#bus.rooms.get(room)
    if (state === undefined) return { first: [], count: 0 }
    const count = state.presence.size
    const cached = state.firstPage
    if (cached !== undefined && cached.limit === limit) return { first: cached.list, count }
    // A small room in join order, as members() lists it; a large one's first page from the ordered index.
    const first = count <= limit ? [...state.presence].map(([user, entry]) => member(user, entry)) : byUserId(state, 0, limit)
    state.firstPage = { limit, list: Object.freeze(first) }
    return { first, count }
  }

  async memberPage(room: string, after: string | undefined, limit: number): Promise<MembersPage> {
    const state = this.#bus.rooms.get(room)
    if (state === undefined) return { members: [], more: false }
    const { sorted } = state
    let start = after === undefined ? 0 : sortedIndex(sorted, after)
    if (after !== undefined && sorted[start] === after) start++
    const end = Math.min(sorted.length, start + limit)
    return { members: byUserId(state, start, end), more: end < sorted.length }
  }

  async signal(message: SignalBroadcastMessage): Promise<void> {
    const state = this.#bus.rooms.get(message.room)
    if (state !== undefined) for (const node of state.subscribers) node.hooks.signal(message)
  }

  async direct(user: string, message: DirectMessage): Promise<void> {
    for (const node of this.#bus.nodes) node.hooks.direct(user, message)
  }

  async clusterStats(): Promise<ClusterStats> {
    const nodes: NodeStats[] = []
    for (const node of this.#bus.nodes) {
      const stats = node.config.stats?.()
      // This node's inspection is Parley's own to add (clusterInspect), as with the Redis adapter: not taken twice.
      const inspection = node === this ? undefined : node.config.inspection?.()
      if (stats !== undefined) nodes.push({ node: node.id, stats, ...(inspection === undefined ? {} : { inspection }) })
    }
    return { nodes, partial: false }
  }

  get config(): AdapterNodeConfig {
    return this.#config
  }

  async control(command: ControlCommand): Promise<ControlReport> {
    // In one process every node answers, at once.
    const nodes = [...this.#bus.nodes]
    const counts = await Promise.all(nodes.map((node) => node.hooks.control(command)))
    return { sessions: counts.reduce((sum, n) => sum + n, 0), nodes: nodes.map((node) => node.id), missing: [] }
  }

  async clusterKey(): Promise<string> {
    return this.#bus.key
  }

  async forward(node: string, request: ForwardRequest): Promise<ForwardAnswer | undefined> {
    for (const each of this.#bus.nodes) if (each.id === node) return each.hooks.forwarded(request)
    return undefined
  }

  async history(room: string, page: HistoryPage): Promise<RoomMessage[]> {
    const state = this.#bus.rooms.get(room)
    if (state === undefined) return []
    const before = page.before ?? state.seq + 1
    const kept = state.history.since(0, state.seq).messages.filter((message) => message.seq < before)
    return kept.slice(Math.max(0, kept.length - page.limit))
  }

  async rooms(): Promise<Array<{ room: string; members: number }>> {
    const out: Array<{ room: string; members: number }> = []
    for (const [room, state] of this.#bus.rooms) if (state.presence.size > 0) out.push({ room, members: state.presence.size })
    return out
  }

  async disconnect(): Promise<void> {
    if (!this.#connected) return
    this.#connected = false
    this.#bus.nodes.delete(this)
    for (const state of this.#bus.rooms.values()) state.subscribers.delete(this)
  }

  #announce(state: RoomState, room: string, event: 'join' | 'leave' | 'update', user: string, entry: PresenceUser): void {
    const snapshot = member(user, entry)
    for (const node of state.subscribers) node.hooks.presence(room, event, snapshot)
  }
}

/**
 * Drops a room's kept first page when a change to `user` can alter it: the user is (or goes) within the first
 * `limit` by user id, or the room is small enough that its first page is every member (a join or a last leave there
 * also moves it between the two forms).
 */
function touchFirstPage(state: RoomState, user: string): void {
  const page = state.firstPage
  if (page !== undefined && (state.presence.size <= page.limit + 1 || sortedIndex(state.sorted, user) < page.limit)) state.firstPage = undefined
}

/** Where `user` is, or would go, in an array of user ids ordered by user id (binary search). */
function sortedIndex(sorted: readonly string[], user: string): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((sorted[middle] as string) < user) low = middle + 1
    else high = middle
  }
  return low
}

/** The room's members from `start` to `end` (exclusive) in user-id order. */
function byUserId(state: RoomState, start: number, end: number): PresenceMember[] {
  const members: PresenceMember[] = []
  for (let i = start; i < end; i++) members.push(member(state.sorted[i] as string, state.presence.get(state.sorted[i] as string) as PresenceUser))
  return members
}

function member(user: string, entry: PresenceUser): PresenceMember {
  entry.listed ??= Object.freeze({ user, presence: entry.presence, connections: sessionCount(entry) })
  return entry.listed
}
