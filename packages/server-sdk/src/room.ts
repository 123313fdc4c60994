import {
  encode,
  encodeBinary,
  MAX_SIGNAL_TTL_MS,
  ProtocolError,
  type JoinedMessage,
  serverFrameLimit,
  type ClientMessageOf,
  type JsonValue,
  type PresenceChange,
  type PresenceCounts,
  type PresenceMember,
  type ResumePoint,
  type RoomMessage,
  type SignalBroadcastMessage,
} from '@parley/protocol'
import type { AdapterNode } from './adapters/adapter.js'
import { toEntry, type HistoryPageResult, type RoomHistory } from './room-history.js'
import { heldAfterSnapshot, type HeldPresence } from './held-presence.js'
import type { ResolvedOptions } from './options.js'
import { ParleyServerError, toParleyError } from './server-error.js'
import type { Session } from './session.js'
import { DEFAULT_MEMBERS_PAGE, membersPage, withinBudget, type MembersPage } from './members-page.js'
import { receivedAt } from './pipeline.js'
import { recoveryOutcome, type StatsCounters } from './stats.js'
import { Signals } from './signals.js'
import { Frame } from './transports/connection.js'

/** One room as seen by one session. */
export interface Membership {
  /** While the join is being answered, live messages wait here so they follow the replay in order. */
  pending: RoomMessage[] | null
  /** Presence changes that arrived while the join was answered (non-null exactly when `pending` is). */
  heldPresence: HeldPresence[] | null
  /**
   * Encoded bytes waiting in `pending` and `heldPresence`, changed only through `hold` and `release` below, which
   * keep the session's total that counts against `backpressure.maxBufferedBytes`.
   */
  heldBytes: number
  /** The last seq delivered to this session, so nothing is delivered twice. */
  lastSeq: number
  epoch: string
  presence: JsonValue
  /** The client asked for presence batches (`join.batch`, on a server that batches). */
  batched: boolean
  /** The room's change counter when this membership started getting presence live: later changes are its own. */
  liveFrom: number
}

/**
 * A session's rooms. Most sessions are in one room, so the first is held inline and a Map is made only for more,
 * which saves an idle connection its own hash table. Keys keep insertion order, as in a Map: the inline entry is
 * only ever filled while the Map is empty.
 */
export class Memberships {
  #room: string | undefined
  #membership: Membership | undefined
  #more: Map<string, Membership> | undefined

  get size(): number {
    return (this.#room === undefined ? 0 : 1) + (this.#more?.size ?? 0)
  }

  get(room: string): Membership | undefined {
    return room === this.#room ? this.#membership : this.#more?.get(room)
  }

  set(room: string, membership: Membership): this {
    if (room === this.#room || (this.#room === undefined && (this.#more === undefined || this.#more.size === 0))) {
      this.#room = room
      this.#membership = membership
    } else {
      ;(this.#more ??= new Map()).set(room, membership)
    }
    return this
  }

  delete(room: string): boolean {
    if (room !== this.#room) return this.#more?.delete(room) ?? false
    this.#room = undefined
    this.#membership = undefined
    return true
  }

  *keys(): IterableIterator<string> {
    if (this.#room !== undefined) yield this.#room
    if (this.#more !== undefined) yield* this.#more.keys()
  }
}

/** The `id` of the `history` answer to a join with `last` but no `id` of its own. */
export const JOIN_HISTORY_ID = 'join'

/** Holds `bytes` of a join's waiting traffic for `membership`, within the session's cap (see `Session.holdBytes`). */
function hold(session: Session, membership: Membership, bytes: number): boolean {
  membership.heldBytes += bytes
  return session.holdBytes(bytes)
}

/** Gives back what `membership` held (all of it by default). */
function release(session: Session, membership: Membership, bytes: number = membership.heldBytes): void {
  membership.heldBytes -= bytes
  session.releaseBytes(bytes)
}

/** The members of a room on this node, and the adapter subscription they share. */
interface LocalRoom {
  /** The sessions in the room on this node; each one's membership is in its own `memberships`. */
  readonly sessions: Set<Session>
  /** The adapter subscription of this room on this node. */
  readonly subscribed: Promise<void>
  /** Messages the adapter delivered for this room to this node (for rates: the inspector). */
  messages: number
  /** Presence changes waiting for the batch window, each with its number. */
  batch: Array<{ readonly n: number; readonly change: PresenceChange }>
  /** Numbers the room's presence changes, for the members that went live in the middle of a batch. */
  nextChange: number
  batchTimer: ReturnType<typeof setTimeout> | undefined
  /**
   * The room's members (users, every node) as last known are `base + net` (see {@link membersOf}): `net` counts the
   * joins minus leaves delivered since this node has had the room, never reset; each local join's snapshot sets
   * `base` so that the sum is its count as of its reading, moved on by the changes since. Joins answered at the same
   * time so do not add up each other's corrections. Decides whether a window's batch goes out as counts.
   */
  base: number
  net: number
  /** The current window was opened as counts (so is its length); it may still end as counts if opened as names. */
  counting: boolean
  /**
   * `sessions` by how each gets the room's presence now, so a change reaches only those it concerns instead of a walk
   * over every member (which made filling a room O(members²)): joins being answered hold it, live members take
   * batches or each change. Kept by {@link sortAudience} at every turn of a membership.
   */
  readonly holding: Set<Session>
  readonly batchedLive: Set<Session>
  readonly unbatchedLive: Set<Session>
}

/** The member list of a `joined` encoded without its members, where a page encoded once is put instead. */
const EMPTY_MEMBERS = '"members":[]'

/** Whether an adapter answered with a promise rather than at once. */
function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown }).then === 'function'
}

/** A room's members (users, every node) as this node knows them (see `LocalRoom.base`). */
function membersOf(local: LocalRoom): number {
  return Math.max(0, local.base + local.net)
}

/** The index of the first change numbered `n` or later in a batch (numbered in increasing order), or its length. */
function firstAtOrAfter(batch: ReadonlyArray<{ readonly n: number }>, n: number): number {
  let low = 0
  let high = batch.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((batch[middle] as { n: number }).n < n) low = middle + 1
    else high = middle
  }
  return low
}

/** Running totals of a batch's changes by kind, to count any suffix of it at once. */
function runningTotals(batch: ReadonlyArray<{ readonly change: PresenceChange }>): { from(start: number): PresenceCounts } {
  const join = new Uint32Array(batch.length + 1)
  const leave = new Uint32Array(batch.length + 1)
  const update = new Uint32Array(batch.length + 1)
  for (let i = 0; i < batch.length; i++) {
    const event = (batch[i] as { change: PresenceChange }).change.event
    join[i + 1] = (join[i] as number) + (event === 'join' ? 1 : 0)
    leave[i + 1] = (leave[i] as number) + (event === 'leave' ? 1 : 0)
    update[i + 1] = (update[i] as number) + (event === 'update' ? 1 : 0)
  }
  const end = batch.length
  return {
    from: (start) => ({
      join: (join[end] as number) - (join[start] as number),
      leave: (leave[end] as number) - (leave[start] as number),
      update: (update[end] as number) - (update[start] as number),
    }),
  }
}

/** Files `session` under how it gets `local`'s presence now; with no membership (it left), under none. */
function sortAudience(local: LocalRoom, session: Session, membership: Membership | undefined): void {
  local.holding.delete(session)
  local.batchedLive.delete(session)
  local.unbatchedLive.delete(session)
  if (membership === undefined || !local.sessions.has(session)) return
  ;(membership.heldPresence !== null ? local.holding : membership.batched ? local.batchedLive : local.unbatchedLive).add(session)
}

/** One room with members on this node, as `Rooms.list()` reports it. */
export interface LocalRoomInfo {
  readonly room: string
  /** Sessions in the room on this node. */
  readonly sessions: number
  /** Messages delivered to this node for the room since its first local member joined. */
  readonly messages: number
}

/** What the rooms tell the instance: the `join` / `leave` events, and failures of work nobody awaits. */
export interface RoomEvents {
  joined(session: Session, room: string): void
  left(session: Session, room: string): void
  background(work: Promise<void>): void
}

/**
 * Rooms on this node: membership, join with catch-up (replay, then what waited), re-sync after a gap, leave (at
 * once or after the presence grace period), publish, signals, presence, and the fan-out of what the adapter
 * delivers to the local members. Each message is encoded once, however many members receive it, live or replayed.
 */
export class Rooms {
  readonly #rooms = new Map<string, LocalRoom>()
  readonly #options: ResolvedOptions
  readonly #node: AdapterNode
  readonly #history: RoomHistory
  readonly #events: RoomEvents
  readonly #signals: Signals
  readonly #encodeOptions: { readonly limits: ResolvedOptions['encodeLimits'] }
  /**
   * The encoded frame of a room message once it was needed outside its broadcast: waiting in a join's `pending`, or
   * replayed after a reconnect, so a recovery storm encodes each message once. A broadcast's own frame is not put
   * here: kept for as long as its message stays in history (100 per room), every frame was promoted to the old
   * generation with it and tripled what each scavenge promoted under steady traffic (docs/benchmarks.md).
   */
  readonly #frames = new WeakMap<RoomMessage, Frame>()
  /** The same for the binary frame of a message with bytes (protocol v2 sessions on a transport with binary frames). */
  readonly #binaryFrames = new WeakMap<RoomMessage, Frame>()
  /** Presence leaves waiting out the grace period after an abrupt disconnect. */
  readonly #graceTimers = new Set<{ timer: ReturnType<typeof setTimeout>; run: () => Promise<void> }>()
  #closing = false

  readonly #stats: StatsCounters
  /** JSON bytes a member list may take in one frame, with room for the rest of the message. */
  readonly #membersBudget: number
  /** The largest frame this server sends (`maxPayload` plus the envelope headroom clients allow). */
  readonly #frameLimit: number
  /**
   * The encoded member list of a `joined`, by the snapshot list it came from: an adapter with `memberSnapshot` hands
   * consecutive joins of a large room the same list while its first page stands, so the page is checked and
   * serialised once, not once per join.
   */
  readonly #joinedMembers = new WeakMap<readonly PresenceMember[], { readonly json: string; readonly utf8: Buffer; readonly partial: boolean }>()

  constructor(options: ResolvedOptions, node: AdapterNode, history: RoomHistory, events: RoomEvents, stats: StatsCounters) {
    this.#options = options
    this.#stats = stats
    this.#frameLimit = serverFrameLimit(options.limits.maxPayload)
    this.#membersBudget = this.#frameLimit - 1_024
    this.#node = node
    this.#history = history
    this.#events = events
    this.#encodeOptions = { limits: options.encodeLimits }
    this.#signals = new Signals((message) => events.background(node.signal(message)), options.signals.minIntervalMs)
  }

  /** Rooms with members on this node, and the memberships (session × room) in them. */
  counts(): { rooms: number; members: number } {
    let members = 0
    for (const local of this.#rooms.values()) members += local.sessions.size
    return { rooms: this.#rooms.size, members }
  }

  /** The rooms with members on this node, with their local session and message counts. */
  list(): LocalRoomInfo[] {
    return [...this.#rooms].map(([room, local]) => ({ room, sessions: local.sessions.size, messages: local.messages }))
  }

  /* ------------------------------------------------------------ requests of a session */

  /** `lastDenied`: `authorize` refused the join's `last` page (action `history`); the join goes on without it. */
  async join(session: Session, message: ClientMessageOf<'join'>, lastDenied = false): Promise<void> {
    const { room } = message
    const existing = session.memberships.get(room)
    if (existing === undefined && session.memberships.size >= this.#options.limits.maxRooms) {
      throw new ParleyServerError('TOO_MANY_ROOMS', `At most ${this.#options.limits.maxRooms} rooms per session`)
    }
    if (session.closed) return
    const presence = message.presence ?? existing?.presence ?? null
    // A re-sync of this room may be under way (in the background); this join's answer takes over from it.
    const interrupted = existing !== undefined && existing.pending !== null
    // Live messages that arrive while the join is answered wait in `pending`, so they follow the replay in order.
    const membership: Membership = existing ?? { pending: null, heldPresence: null, heldBytes: 0, lastSeq: 0, epoch: '', presence, batched: false, liveFrom: 0 }
    membership.batched = message.batch === true && this.#options.presence.batchMs > 0
    release(session, membership)
    membership.pending = []
    membership.heldPresence = []
    membership.presence = presence
    // A member joining again holds presence too, until its new answer is out.
    if (existing !== undefined) this.#audience(room, session)
    try {
      if (existing === undefined) {
        session.memberships.set(room, membership)
        let local = this.#rooms.get(room)
        if (local === undefined) {
          // Every joiner waits for the same subscription, so nobody reads a position before live delivery is on.
          local = {
            sessions: new Set(),
            subscribed: this.#node.subscribe(room),
            messages: 0,
            batch: [],
            nextChange: 0,
            batchTimer: undefined,
            base: 0,
            net: 0,
            counting: false,
            holding: new Set(),
            batchedLive: new Set(),
            unbatchedLive: new Set(),
          }
          this.#rooms.set(room, local)
        }
        local.sessions.add(session)
        sortAudience(local, session, membership)
        await local.subscribed
        await this.#node.presenceJoin({ room, user: session.user.id, session: session.id, presence })
      } else if (message.presence !== undefined) {
        await this.#node.presenceUpdate(room, session.user.id, presence)
      }
      // `join` once `joined` is out, not after the replay: it comes before a `leave` of this room, even mid-replay.
      const announce = existing === undefined ? () => this.#events.joined(session, room) : undefined
      const last = message.resume === undefined ? message.last : undefined
      await this.#answerPosition(session, room, membership, message.resume, message.id, announce, last, lastDenied)
    } catch (error) {
      this.#abandonJoin(session, room, membership, existing === undefined, interrupted)
      throw error
    }
  }

  async leave(session: Session, room: string, id: string | undefined): Promise<void> {
    await this.remove(session, room, true)
    session.send({ type: 'left', room, ...(id === undefined ? {} : { id }) })
  }

  /**
   * Publishes a member's message. `dataJson` is its `data` serialised once by the pipeline (which checked its
   * size): the adapter and the frame reuse it.
   */
  async publish(session: Session, message: ClientMessageOf<'publish'>, dataJson: string, dedupKey: string | undefined): Promise<void> {
    this.#requireMember(session, message.room)
    const result = await this.#history.publish({
      room: message.room,
      from: session.user.id,
      data: message.data,
      dataJson,
      ...(message.bytes === undefined ? {} : { bytes: message.bytes }),
      dedupKey,
      exceptSession: message.echo === false ? session.id : undefined,
    })
    if (message.id !== undefined) {
      const timing = this.#stats.timing
      if (timing !== undefined) {
        const arrived = receivedAt.get(message)
        if (arrived !== undefined) timing.publishAck?.(performance.now() - arrived)
      }
      session.send({
        type: 'ack',
        id: message.id,
        room: message.room,
        seq: result.seq,
        epoch: result.epoch,
        ...(result.duplicate ? { duplicate: true } : {}),
      })
    }
  }

  async signal(session: Session, message: ClientMessageOf<'signal'>): Promise<void> {
    this.#requireMember(session, message.room)
    const ttlMs = Math.min(message.ttlMs ?? this.#options.signals.defaultTtlMs, MAX_SIGNAL_TTL_MS)
    this.#signals.set(message.room, session.user.id, session.id, message.key, message.value, ttlMs)
  }

  async presenceUpdate(session: Session, message: ClientMessageOf<'presence-update'>): Promise<void> {
    const membership = this.#requireMember(session, message.room)
    membership.presence = message.presence
    await this.#node.presenceUpdate(message.room, session.user.id, message.presence)
    if (message.id !== undefined) session.send({ type: 'ack', id: message.id, room: message.room })
  }

  #requireMember(session: Session, room: string): Membership {
    const membership = session.memberships.get(room)
    if (membership === undefined) throw new ParleyServerError('NOT_JOINED', `Join ${room} first`)
    return membership
  }

  /**
   * Ends a join's answer: live traffic goes straight to the session again, held bytes are given back, and the room's
   * presence batches count for it from now on. Returns the presence changes held meanwhile.
   */
  #goLive(session: Session, room: string, membership: Membership): HeldPresence[] {
    const held = membership.heldPresence ?? []
    membership.pending = null
    membership.heldPresence = null
    membership.liveFrom = this.#rooms.get(room)?.nextChange ?? 0
    release(session, membership)
    this.#audience(room, session)
    return held
  }

  /** Files a session under how it gets the room's presence, after its membership turned (see LocalRoom). */
  #audience(room: string, session: Session): void {
    const local = this.#rooms.get(room)
    if (local !== undefined) sortAudience(local, session, session.memberships.get(room))
  }

  /**
   * The `joined` frame, encoded once: with every member while they fit the snapshot limit and the frame, else with
   * the first page of them and `memberCount`. `members` holds every member when `count` is within the limit, else
   * at least the first `limit` by user id (all a page needs).
   */
  #joinedFrame(base: Omit<JoinedMessage, 'members' | 'memberCount'>, members: readonly PresenceMember[], count: number): Frame {
    const limit = this.#options.presence.snapshotLimit
    const known = this.#joinedMembers.get(members)
    if (known !== undefined && known.partial === count > limit) {
      // The rest of the message is checked and encoded as usual; the list, checked when it was first encoded, goes
      // in place of the empty one. Room names and ids cannot hold a quote, so the first `"members":[]` is the field.
      // The frame carries the page's UTF-8 as it was encoded once, between the rest's two ends: the page (about 5 KiB
      // at 100 members) is not encoded, copied into a string or scanned again per join.
      const rest = encode({ ...base, members: [], ...(known.partial ? { memberCount: count } : {}) }, this.#encodeOptions)
      const at = rest.indexOf(EMPTY_MEMBERS) + EMPTY_MEMBERS.length - '[]'.length
      const head = rest.slice(0, at)
      const tail = rest.slice(at + '[]'.length)
      const frame = new Frame(`${head}${known.json}${tail}`, undefined, [Buffer.from(head, 'utf8'), known.utf8, Buffer.from(tail, 'utf8')])
      if (frame.byteLength <= this.#frameLimit) return frame
    }
    if (count <= limit) {
      try {
        // Not kept for the next join: a room within the limit changes its list with every join, and serialising the
        // list a second time for a cache that is never hit was 1.5 % of a server's CPU while connections are set up.
        return new Frame(encode({ ...base, members }, this.#encodeOptions))
      } catch (error) {
        // Too large for one frame (large presence metadata): the first page then, below.
        if (!(error instanceof ProtocolError && error.code === 'PAYLOAD_TOO_LARGE')) throw error
      }
    }
    const listed = membersPage(members, undefined, limit, this.#membersBudget).members
    const frame = new Frame(encode({ ...base, members: listed, memberCount: count }, this.#encodeOptions))
    if (count > limit) {
      const json = JSON.stringify(listed)
      this.#joinedMembers.set(members, { json, utf8: Buffer.from(json, 'utf8'), partial: true })
    }
    return frame
  }

  /**
   * Answers a `members` request: the room's members after `after`, ordered by user id, as many as `limit` and one
   * frame allow; `next` names where the next page starts. Only a member of the room may ask.
   */
  async membersPage(session: Session, message: ClientMessageOf<'members'>): Promise<void> {
    this.#requireMember(session, message.room)
    const limit = message.limit ?? DEFAULT_MEMBERS_PAGE
    // An adapter with `memberPage` reads only the page, in order: it is only cut to the frame's budget.
    const read = this.#node.memberPage === undefined ? undefined : await this.#node.memberPage(message.room, message.after, limit)
    let page: MembersPage
    if (read === undefined) {
      page = membersPage(await this.#node.members(message.room), message.after, limit, this.#membersBudget)
    } else {
      const fits = withinBudget(read.members, this.#membersBudget)
      page = { members: fits, more: read.more || fits.length < read.members.length }
    }
    const { members, more } = page
    const last = members.at(-1)
    session.send({ type: 'members', room: message.room, id: message.id, members, ...(more && last !== undefined ? { next: last.user } : {}) })
  }

  /** Takes a session out of a room; `clean` leaves presence at once, otherwise after the grace period. */
  async remove(session: Session, room: string, clean: boolean): Promise<void> {
    const membership = session.memberships.get(room)
    if (membership === undefined) return
    session.memberships.delete(room)
    // A join still being answered stops at its next frame; what it held is given back now.
    release(session, membership)
    this.#signals.clearSession(session.id, room)
    const local = this.#rooms.get(room)
    let emptied = false
    if (local !== undefined) {
      local.sessions.delete(session)
      sortAudience(local, session, undefined)
      if (local.sessions.size === 0) {
        this.#rooms.delete(room)
        clearTimeout(local.batchTimer)
        emptied = true
      }
    }
    // Told before any adapter round trip, so a session's `leave` events always come before its `disconnect`.
    this.#events.left(session, room)
    // Unsubscribing may fail (a cluster adapter's store is down): that must not keep presence from being left.
    if (emptied) this.#events.background(this.#node.unsubscribe(room))
    const leave = (): Promise<void> => this.#node.presenceLeave(room, session.user.id, session.id)
    if (clean || this.#options.presence.graceMs === 0 || this.#closing) {
      await leave()
    } else {
      const entry = {
        timer: setTimeout(() => {
          this.#graceTimers.delete(entry)
          this.#events.background(leave())
        }, this.#options.presence.graceMs),
        run: leave,
      }
      this.#graceTimers.add(entry)
    }
  }

  /**
   * The server takes a session out of a room (a kick, a revoked permission, a server-side leave): it gets `left` with
   * `reason` and nothing of the room after it, and presence announces the leave once the user's last connection
   * is out. A later join of its own goes through `authorize` again.
   */
  async removeByServer(session: Session, room: string, reason: string): Promise<boolean> {
    if (session.memberships.get(room) === undefined) return false
    // Membership ends synchronously, before the first await: no later message of the room reaches the session.
    const removed = this.remove(session, room, true)
    session.send({ type: 'left', room, reason })
    await removed
    return true
  }

  /** A session ended: its signals are cleared and it leaves every room (`clean`: at once; else after the grace). */
  removeAll(session: Session, clean: boolean): Promise<void>[] {
    this.#signals.clearSession(session.id)
    return [...session.memberships.keys()].map((room) => this.remove(session, room, clean))
  }

  /* ------------------------------------------------------------ joins: position, catch-up, re-sync */

  /**
   * Undoes a join the adapter failed half-way (the error goes to the client): a new membership is removed, with its
   * subscription and presence entry, so nothing keeps buffering for it; an existing one gets what waited meanwhile,
   * or, when the join had taken over a re-sync whose replay it cut short, a fresh re-sync from where it stands.
   */
  #abandonJoin(session: Session, room: string, membership: Membership, created: boolean, interrupted: boolean): void {
    if (session.memberships.get(room) !== membership) return
    const pending = membership.pending ?? []
    const heldPresence = this.#goLive(session, room, membership)
    if (interrupted) {
      // What waited is in the history too: the re-sync replays it from the session's position, or reports the gap.
      this.#resync(session, room, membership, undefined)
      return
    }
    if (!created) {
      for (const message of pending) this.#deliverTo(session, membership, message, this.#frameOf(message, undefined, session.binaryFrames))
      for (const change of heldPresence) session.sendFrame(change.frame)
      return
    }
    session.memberships.delete(room)
    const local = this.#rooms.get(room)
    local?.sessions.delete(session)
    if (local !== undefined) sortAudience(local, session, undefined)
    if (local !== undefined && local.sessions.size === 0) {
      this.#rooms.delete(room)
      clearTimeout(local.batchTimer)
      this.#events.background(this.#node.unsubscribe(room).catch(() => undefined))
    }
    this.#events.background(this.#node.presenceLeave(room, session.user.id, session.id).catch(() => undefined))
  }

  /**
   * Sends `joined` with the room's position (and recovery, for a resume), then the replay, then the live messages
   * that waited in `pending` meanwhile, skipping any the session already has, then the held presence changes.
   *
   * The replay and the waiting messages are paced by the reader: each frame waits until the connection's buffer is
   * under `backpressure.highWaterBytes` (woken by the connection's drain), so a backlog larger than
   * `maxBufferedBytes` reaches a client that keeps reading instead of cutting it off. Live traffic keeps queueing
   * in `pending` meanwhile, within the cap (`hold`). `answered` runs once `joined` is out.
   *
   * With `last` (a join's "last N"), the room's newest `last` messages up to the head it answers go out as one
   * `history` frame right after `joined`, before anything live: nothing twice, nothing missed in between. When
   * history cannot be read, the join still succeeds and an `error` with the join's id says so.
   */
  async #answerPosition(
    session: Session,
    room: string,
    membership: Membership,
    from: ResumePoint | undefined,
    id: string | undefined,
    answered?: () => void,
    last?: number,
    lastDenied = false,
  ): Promise<void> {
    // Taken before the first await: a join that arrives meanwhile puts a new list in place and so takes over.
    const pending = membership.pending ?? []
    // Still this answer's: the session is open, still in the room, and no later join took the answer over.
    const current = (): boolean => !session.closed && session.memberships.get(room) === membership && membership.pending === pending
    const timing = this.#stats.timing
    const started = timing === undefined ? 0 : performance.now()
    // An adapter with `memberSnapshot` answers what the join needs whatever the room's size, and says where in the
    // stream of presence changes (held for this session meanwhile) it read: those before are in it. Others list the
    // room, and the held changes are compared with the list.
    const held = membership.heldPresence ?? []
    const local = this.#rooms.get(room)
    let readAt: number | undefined
    let netThen: number | undefined
    const snapshot = this.#node.memberSnapshot?.(room, this.#options.presence.snapshotLimit, () => {
      readAt = held.length
      netThen = local?.net
    })
    // An adapter that answers the snapshot at once (the memory adapter) is not waited for beside the resume.
    const resumed = this.#node.resume(room, from)
    const [position, read] = snapshot !== undefined && !isPromise(snapshot) ? [await resumed, snapshot] : await Promise.all([resumed, snapshot ?? this.#node.members(room)])
    const listed = Array.isArray(read)
    const members = listed ? read : read.first
    const memberCount = listed ? read.length : read.count
    // A snapshot's count is exact as of its reading, and the changes delivered since have moved this node's count on
    // from there; a listed one is as of a read changes may have overtaken.
    if (local !== undefined && this.#rooms.get(room) === local) local.base = memberCount - (listed ? local.net : (netThen ?? local.net))
    timing?.adapter?.('resume', performance.now() - started)
    let history: HistoryPageResult | ParleyServerError | undefined
    if (last !== undefined && lastDenied) {
      history = new ParleyServerError('FORBIDDEN', `Not allowed to history in ${room}`)
    } else if (last !== undefined && current()) {
      history = await this.#history.page(room, undefined, last, position).catch((error: unknown) => toParleyError(error))
    }
    if (!current()) return
    if (position.recovery !== null) this.#stats.recovery[recoveryOutcome(position.recovery)]++
    membership.epoch = position.epoch
    // Delivered so far: up to the room's head, or, when a replay follows, up to just before its first message.
    const firstReplayed = position.replay[0]
    membership.lastSeq = firstReplayed === undefined ? position.seq : firstReplayed.seq - 1
    // However large the room, the answer stays one frame: past the snapshot limit (or the frame's budget) it lists
    // the first members by user id and says how many there are; the client pages the rest (`members`).
    session.sendFrame(this.#joinedFrame({ type: 'joined', room, ...(id === undefined ? {} : { id }), epoch: position.epoch, seq: position.seq, recovery: position.recovery }, members, memberCount))
    answered?.()
    if (history instanceof ParleyServerError) {
      session.sendError(history.wireCode, history.expose ? history.message : 'History is not available', id ?? JOIN_HISTORY_ID, room)
    } else if (history !== undefined) {
      const { messages, more, gaps } = history
      try {
        session.send({ type: 'history', room, id: id ?? JOIN_HISTORY_ID, messages: messages.map(toEntry), more, gaps })
      } catch (error) {
        // The page could not be sent (a bug in sizing it): the join stands; the client hears why its page is missing.
        this.#events.background(Promise.reject(error))
        session.sendError('INTERNAL_ERROR', 'History is not available', id ?? JOIN_HISTORY_ID, room)
      }
    }
    // The replay, then what waited in `pending`, which may grow while this waits: read by index until it is done.
    const { replay } = position
    for (let i = 0; i < replay.length + pending.length; i++) {
      const waited = i >= replay.length
      const message = (waited ? pending[i - replay.length] : replay[i]) as RoomMessage
      const frame = this.#frameOf(message, undefined, session.binaryFrames)
      if (!session.fitsUnderHighWater(frame.byteLength) && !((await session.whenUnderHighWater(frame.byteLength)) && current())) return
      if (waited) release(session, membership, frame.byteLength)
      this.#deliverTo(session, membership, message, frame)
    }
    const heldPresence = this.#goLive(session, room, membership)
    // Against every member, not only those listed: `memberCount` already counts a join the snapshot does not show.
    const after = heldAfterSnapshot(heldPresence, listed ? members : { readAt: readAt ?? heldPresence.length })
    for (const frame of this.#heldFrames(room, membership, after)) session.sendFrame(frame)
  }

  /**
   * The adapter delivered a message that does not follow the last one this session got (another epoch, or a seq
   * jump after a lost subscription): re-sync as if the session had resumed, with an unsolicited `joined` whose
   * recovery says whether the missed messages could be replayed. Nothing is skipped silently.
   */
  #resync(session: Session, room: string, membership: Membership, trigger: RoomMessage | undefined): void {
    membership.pending = []
    membership.heldPresence = []
    this.#audience(room, session)
    if (trigger !== undefined && hold(session, membership, this.#frameOf(trigger, undefined, session.binaryFrames).byteLength)) membership.pending.push(trigger)
    this.#events.background(this.#answerPosition(session, room, membership, { epoch: membership.epoch, seq: membership.lastSeq }, undefined))
  }

  /* ------------------------------------------------------------ fan-out (adapter → local members) */

  /** A sequenced message for a room; `dataJson`, when the adapter has it, is its `data` already serialised. */
  deliverMessage(message: RoomMessage, exceptSession: string | undefined, dataJson?: string): void {
    const local = this.#rooms.get(message.room)
    if (local === undefined) return
    local.messages++
    this.#flushBefore(message.room, local)
    // Encoded once; every member gets the same Frame (and so the same bytes), let go once they are written. A
    // message with bytes has two forms: one binary frame for v2 sessions on WebSocket, the text form (base64) for the
    // rest; each is made once.
    let frame: Frame | undefined
    let binaryFrame: Frame | undefined
    const hasBytes = message.bytes instanceof Uint8Array
    const formOf = (binary: boolean): Frame => (binary ? (binaryFrame ??= this.#encodeFrame(message, dataJson, true)) : (frame ??= this.#encodeFrame(message, dataJson, false)))
    // The session's own lookup finds the membership (the first room is held inline).
    for (const session of local.sessions) {
      const membership = session.memberships.get(message.room)
      if (membership === undefined) continue
      const binary = hasBytes && session.binaryFrames
      if (membership.pending !== null) {
        if (session.id !== exceptSession) {
          // Delivered later from `pending`: the frame is kept for it (see `#frames`).
          const held = this.#keepFrame(message, formOf(binary), binary)
          if (hold(session, membership, held.byteLength)) membership.pending.push(message)
        }
        continue
      }
      const sameEpoch = message.epoch === membership.epoch
      if (sameEpoch && message.seq <= membership.lastSeq) continue
      if (!sameEpoch || message.seq !== membership.lastSeq + 1) {
        const trigger = session.id === exceptSession ? undefined : message
        if (trigger !== undefined) this.#keepFrame(message, formOf(binary), binary)
        this.#resync(session, message.room, membership, trigger)
        continue
      }
      if (session.id === exceptSession) {
        // echo: false — the sender learns this seq from its ack; its stream position still moves on.
        membership.lastSeq = message.seq
        continue
      }
      this.#deliverTo(session, membership, message, formOf(binary))
    }
  }

  /** Keeps `frame` as `message`'s frame of its form, for a delivery from `pending` or a replay; returns it. */
  #keepFrame(message: RoomMessage, frame: Frame, binary: boolean): Frame {
    this.#framesOf(message, binary).set(message, frame)
    return frame
  }

  /**
   * A room message's frame, made once: text, or binary when `binary` and the message has bytes. Bytes an adapter
   * handed over still as base64 text (one that forgot to turn its stored form back) go in the text form, which every
   * session reads, rather than failing the fan-out.
   */
  #frameOf(message: RoomMessage, dataJson?: string, binary = false): Frame {
    return this.#framesOf(message, binary).get(message) ?? this.#keepFrame(message, this.#encodeFrame(message, dataJson, binary), binary)
  }

  /** Where `message`'s frame of a form is kept: the binary one only for a message that has bytes. */
  #framesOf(message: RoomMessage, binary: boolean): WeakMap<RoomMessage, Frame> {
    return binary && message.bytes instanceof Uint8Array ? this.#binaryFrames : this.#frames
  }

  /** A room message's frame, encoded now and kept nowhere (see `#frames`). */
  #encodeFrame(message: RoomMessage, dataJson: string | undefined, binary: boolean): Frame {
    const asBinary = binary && message.bytes instanceof Uint8Array
    const options = dataJson === undefined ? this.#encodeOptions : { limits: this.#encodeOptions.limits, dataJson }
    return asBinary ? new Frame('', encodeBinary(message, options)) : new Frame(encode(message, options))
  }

  /** Sends a room message unless this session has it already (a replay overlapping live traffic). */
  #deliverTo(session: Session, membership: Membership, message: RoomMessage, frame: Frame): void {
    if (message.epoch === membership.epoch && message.seq <= membership.lastSeq) return
    membership.epoch = message.epoch
    membership.lastSeq = message.seq
    if (session.sendFrame(frame)) this.#stats.deliveries++
  }

  deliverPresence(room: string, event: 'join' | 'leave' | 'update', member: PresenceMember): void {
    const local = this.#rooms.get(room)
    if (local === undefined) return
    if (event === 'join') local.net++
    else if (event === 'leave') local.net--
    if (this.#options.presence.announce(room) === 'none') return
    let frame: Frame | undefined
    // One record of the change, held by every session whose join is being answered (up to the joins in flight:
    // about a hundred while a room fills), which gets it after its snapshot, never instead of it.
    let held: HeldPresence | undefined
    for (const session of local.holding) {
      const membership = session.memberships.get(room)
      if (membership === undefined || membership.heldPresence === null) continue
      frame ??= new Frame(encode({ type: 'presence', room, event, member }, this.#encodeOptions))
      held ??= { event, member, frame }
      if (hold(session, membership, frame.byteLength)) membership.heldPresence.push(held)
    }
    for (const session of local.unbatchedLive) {
      frame ??= new Frame(encode({ type: 'presence', room, event, member }, this.#encodeOptions))
      session.sendFrame(frame)
    }
    if (local.batchedLive.size > 0) {
      if (local.batch.length === 0) {
        // A window opens: counts or names for all of it. A room told counts gathers them over `countMs` (a second):
        // "N online" moving once a second costs every member one small frame a second, however fast the room fills.
        const { batchMs, countMs } = this.#options.presence
        local.counting = this.#countsNow(room, local)
        local.batchTimer = setTimeout(() => this.#flushPresence(room, local), local.counting ? Math.max(batchMs, countMs) : batchMs)
      }
      local.batch.push({ n: local.nextChange, change: { event, member } })
    }
    local.nextChange++
  }

  /**
   * Before a room message or signal: named presence changes gathered so far go first, so a member who joined and
   * then spoke is known before what it said. Counts name nobody and keep their window.
   */
  #flushBefore(room: string, local: LocalRoom): void {
    if (local.batch.length === 0 || local.counting) return
    clearTimeout(local.batchTimer)
    this.#flushPresence(room, local)
  }

  /**
   * Sends a room's gathered presence changes as `presences` frames (cut to fit a frame each) to every member that asked
   * for batches: one shared set of frames, except for a member that went live during the window, which gets only the
   * changes after that (the earlier ones were in its snapshot or held for it).
   */
  #flushPresence(room: string, local: LocalRoom): void {
    const batch = local.batch
    local.batch = []
    local.batchTimer = undefined
    const first = batch[0]
    if (this.#rooms.get(room) !== local || first === undefined) return
    // A named window that ends past the threshold goes out as counts; a counting one never turns to names (a message
    // may have come meanwhile, and names must not follow what their members said).
    const counting = local.counting || this.#countsNow(room, local)
    // A member that went live during the window gets the changes from its own start on: a suffix of the batch, whose
    // changes are numbered in order. Its frames are made once per distinct start, and counts come from running
    // totals, so a window in which thousands went live costs each of them one lookup, not a pass over the batch.
    const totals = counting ? runningTotals(batch) : undefined
    const framesByStart = new Map<number, Frame[]>()
    const framesFrom = (start: number): Frame[] => {
      let frames = framesByStart.get(start)
      if (frames === undefined) {
        frames = totals === undefined ? this.#presenceFrames(room, batch.slice(start).map((entry) => entry.change)) : [this.#countsFrame(room, totals.from(start))]
        framesByStart.set(start, frames)
      }
      return frames
    }
    for (const session of local.batchedLive) {
      const membership = session.memberships.get(room)
      if (membership === undefined || !membership.batched || membership.heldPresence !== null) continue
      const start = membership.liveFrom <= first.n ? 0 : firstAtOrAfter(batch, membership.liveFrom)
      if (start < batch.length) for (const frame of framesFrom(start)) session.sendFrame(frame)
    }
  }

  /**
   * How the presence changes held during a join go out once it is answered: to a member that asked for batches, as
   * a batch (counts, if the room's batches count now, else named `presences` frames, or a lone change's own frame),
   * so a join answered while the room fills fast costs one frame, not one per change held; to any other, each
   * change's own frame.
   */
  #heldFrames(room: string, membership: Membership, changes: readonly HeldPresence[]): Frame[] {
    const local = this.#rooms.get(room)
    if (!membership.batched || changes.length === 0 || local === undefined) return changes.map((change) => change.frame)
    if (this.#countsNow(room, local)) {
      const omitted = { join: 0, leave: 0, update: 0 }
      for (const change of changes) omitted[change.event]++
      return [this.#countsFrame(room, omitted)]
    }
    return changes.length === 1 ? [(changes[0] as HeldPresence).frame] : this.#presenceFrames(room, changes.map(({ event, member }) => ({ event, member })))
  }

  /** Whether the room's presence goes out as counts now: told so, or past `presence.countAbove` members. */
  #countsNow(room: string, local: LocalRoom): boolean {
    return this.#options.presence.announce(room) === 'count' || membersOf(local) > this.#options.presence.countAbove
  }

  /** The `presences` frame that counts changes without listing them (protocol.md §7.15). */
  #countsFrame(room: string, omitted: PresenceCounts): Frame {
    return new Frame(encode({ type: 'presences', room, events: [], omitted }, this.#encodeOptions))
  }

  /** `presences` frames for `changes`, in order, each within the frame budget. */
  #presenceFrames(room: string, changes: readonly PresenceChange[]): Frame[] {
    const frames: Frame[] = []
    let chunk: PresenceChange[] = []
    let bytes = 0
    for (const change of changes) {
      const size = Buffer.byteLength(JSON.stringify(change)) + 1
      if (chunk.length > 0 && bytes + size > this.#membersBudget) {
        frames.push(new Frame(encode({ type: 'presences', room, events: chunk }, this.#encodeOptions)))
        chunk = []
        bytes = 0
      }
      chunk.push(change)
      bytes += size
    }
    if (chunk.length > 0) frames.push(new Frame(encode({ type: 'presences', room, events: chunk }, this.#encodeOptions)))
    return frames
  }

  deliverSignal(message: SignalBroadcastMessage): void {
    const local = this.#rooms.get(message.room)
    if (local === undefined) return
    this.#flushBefore(message.room, local)
    const frame = new Frame(encode(message, this.#encodeOptions))
    for (const session of local.sessions) {
      if (session.user.id === message.from) continue
      if (session.memberships.get(message.room)?.pending === null) session.sendFrame(frame, true)
    }
  }

  /* ------------------------------------------------------------ shutdown */

  /** From now on leaves are announced at once. */
  startClosing(): void {
    this.#closing = true
  }

  /** Stops signal timers and runs the presence leaves still waiting out their grace period, so nobody is a ghost. */
  async close(): Promise<void> {
    this.#closing = true
    this.#signals.dispose()
    for (const local of this.#rooms.values()) clearTimeout(local.batchTimer)
    const pending = [...this.#graceTimers]
    this.#graceTimers.clear()
    for (const entry of pending) clearTimeout(entry.timer)
    await Promise.allSettled(pending.map((entry) => entry.run()))
  }
}
