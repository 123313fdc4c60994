import { describeError } from './logging.js'
import {
  closestName,
  CloseCode,
  encode,
  MAX_HISTORY_LIMIT,
  randomId,
  SUBPROTOCOLS,
  unsupportedVersionReason,
  type Contract,
  type JsonValue,
  type PresenceMember,
  type RequestHandlerInput,
  type RequestHandlerOutput,
  type RequestNames,
  type ResumePoint,
} from '@parley/protocol'
import { createHmac } from 'node:crypto'
import { EventEmitter } from 'eventemitter3'
import type { AdapterNode, ClusterStats, NodeStats } from './adapters/adapter.js'
import { createMemoryAdapter } from './adapters/memory.js'
import { admit, checkCapacity, type AdmissionState } from './handshake.js'
import { Hub, type ParleyEvents } from './hub.js'
import { resolveOptions, type ResolvedOptions, type ServerOptions, type ServerUser } from './options.js'
import { checkControl, type ControlCommand, type ControlReport } from './control.js'
import { serialiseData, type Middleware } from './pipeline.js'
import { optionError, ParleyServerError, toParleyError } from './server-error.js'
import type { ParleySession } from './session.js'
import type { HistoryPageResult } from './room-history.js'
import { INSPECTED_SESSIONS, inspectNode, type NodeInspection } from './inspection.js'
import { CompressionCounters, StatsCounters, sumStats, type ParleyStats, type TimingObserver } from './stats.js'
import type { Connection, Handshake, Refusal } from './transports/connection.js'
import type { ForwardAnswer, ForwardRequest } from './transports/forwarding.js'

/** Largest page `room(name).history()` answers (the protocol's `MAX_HISTORY_LIMIT`). */
export const MAX_HISTORY_PAGE = MAX_HISTORY_LIMIT

/** Refuses a room name the protocol would not carry, with the protocol's own error. */
function checkRoom(room: string): void {
  encode({ type: 'left', room }, {})
}

/** Server-side handle on a room. */
export interface RoomHandle {
  readonly name: string
  /**
   * Publishes as the server (`from: null`), sequenced like any message; resolves with its position. `bytes` go with
   * `data` as a client's do (protocol v2; v1 members get them as base64), counted against `maxPayload` as base64.
   */
  publish(data: JsonValue, options?: { readonly bytes?: Uint8Array | undefined }): Promise<{ seq: number; epoch: string }>
  /** The room's members across every node, one entry per user. */
  members(): Promise<PresenceMember[]>
  /**
   * Takes every connection of `user` out of the room, on every node: each gets `left` with `reason` (default
   * `'removed'`; `'kicked'`, `'forbidden'`, ...) and no later message of the room, presence announces the leave
   * once, and a join of its own goes through `authorize` again.
   */
  remove(user: string, options?: { readonly reason?: string }): Promise<ControlReport>
  /**
   * A page of the room's history, oldest first: the newest `limit` (default 50) messages older than `before` (a
   * message's position, or a seq of the current epoch), from the history store when there is one (across epochs),
   * else from the recovery window. `more` says older ones exist; `gaps` names messages history lacks.
   */
  history(options?: { readonly before?: number | ResumePoint | undefined; readonly limit?: number | undefined }): Promise<HistoryPageResult>
}

/** Server-side handle on a user. */
export interface UserHandle {
  readonly id: string
  /** Sends a direct message to every connection of this user, on every node. */
  send(data: JsonValue): Promise<void>
  /** Closes every connection of this user, on every node, with `code` (1000 or 4000-4999; default 4403) and `reason`. */
  disconnect(options?: { readonly code?: number; readonly reason?: string }): Promise<ControlReport>
  /**
   * Joins every connection of this user to `room`, on every node, without `authorize` (a server-side subscription):
   * each gets an unprompted `joined`, which the client SDK surfaces as a room it did not ask for.
   */
  join(room: string): Promise<ControlReport>
  /** Takes every connection of this user out of `room` (as `room(room).remove(user)`, default reason `'unsubscribed'`). */
  leave(room: string, options?: { readonly reason?: string }): Promise<ControlReport>
}

/**
 * A running Parley instance: events, middleware, server-side publish, stats and graceful close. Made by `attach()`
 * (WebSocket on an http server) or `createParley()` (no transport; connections come through `accept()`).
 */
/** What a request handler gets besides the input: the calling session and its user. */
export interface RequestContext {
  readonly session: ParleySession
  readonly user: ServerUser
}

/** A request handler: the validated input in, the output out (checked against the contract's output schema). */
export type RequestHandler<Input = JsonValue, Output = JsonValue> = (input: Input, context: RequestContext) => Output | Promise<Output>

export class Parley extends EventEmitter<ParleyEvents> {
  readonly options: ResolvedOptions
  /** Resolves when the adapter is connected and sessions can be served. */
  readonly ready: Promise<void>
  #hub: Hub | undefined
  #closing = false
  #closed: Promise<void> | undefined
  readonly #detachers: Array<() => Promise<void>> = []
  /** @internal What the WebSocket transport's compression did, for `stats()`. */
  readonly compressionCounters = new CompressionCounters()
  readonly #pendingMiddleware: Middleware[] = []
  /** Request handlers by name (`handle()`), shared with the hub. */
  readonly #handlers = new Map<string, RequestHandler<unknown, unknown>>()
  #forwardHandler: ((request: ForwardRequest) => Promise<ForwardAnswer>) | undefined
  /** Whether this node hands its inspection to the adapter for other nodes' inspectors (`shareInspection()`). */
  #sharesInspection = false
  /** The key HTTP stream secrets derive from, and whether every node of the cluster has it. */
  #streamKey: { readonly key: string; readonly shared: boolean } | undefined

  constructor(options: ServerOptions = {}) {
    super()
    this.options = resolveOptions(options)
    const adapter = this.options.adapter ?? createMemoryAdapter()
    this.ready = adapter
      .connect(Hub.hooks(() => this.#hub), {
        history: this.options.history,
        dedupWindowMs: this.options.dedupWindowMs,
        stats: () => this.stats(),
        inspection: () => (this.#sharesInspection ? this.inspect() : undefined),
      })
      .then(async (node: AdapterNode) => {
        const shared = await node.clusterKey?.()
        this.#streamKey = { key: shared ?? randomId(43), shared: shared !== undefined }
        this.#hub = new Hub(this.options, node, this, this.#handlers)
        this.#hub.forwardHandler = this.#forwardHandler
        for (const middleware of this.#pendingMiddleware) this.#hub.use(middleware)
      })
    // A failed adapter is reported through `error` and by rejecting `ready`, never as an unhandled rejection.
    this.ready.catch((error: unknown) => this.emit('error', toParleyError(error), undefined))
  }

  /**
   * Handles the request `name` (`client.request(name, input)`): `handler` gets the input, checked against the
   * contract's input schema, and the calling session; what it returns is checked against the output schema and sent
   * back. Throw `RequestError(code, message)` with a code the contract lists to answer with it. One handler per name.
   * Give the server's contract first (`parley.handle(contract, 'rooms.create', ...)`) and the input and output are
   * typed from it.
   */
  handle<C extends Contract, N extends RequestNames<C>>(contract: C, name: N, handler: RequestHandler<RequestHandlerInput<C, N>, RequestHandlerOutput<C, N>>): this
  /** Without a contract: the input and output are any JSON. */
  handle(name: string, handler: RequestHandler): this
  handle(...args: [Contract, string, RequestHandler<never, unknown>] | [string, RequestHandler<never, unknown>]): this {
    const [given, name, handler] = args.length === 3 ? args : [undefined, ...args]
    if (typeof name !== 'string' || typeof handler !== 'function') throw optionError('Parley: handle([contract,] name, handler) takes a request name and a function')
    if (given !== undefined && given !== this.options.contract) throw optionError('Parley: handle(contract, ...) must be given the contract the server was created with (option "contract")')
    const contract = this.options.contract
    if (contract !== undefined && contract.request(name) === undefined) {
      const suggestion = closestName(name, Object.keys(contract.definition.requests ?? {}))
      throw optionError(`Parley: handle("${name}"): the contract has no such request${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`)
    }
    if (this.#handlers.has(name)) throw optionError(`Parley: handle("${name}"): a handler is registered already`)
    this.#handlers.set(name, handler as unknown as RequestHandler<unknown, unknown>)
    return this
  }

  /** Adds message middleware (Koa style), run after rate limits and `authorize`, before the handler. */
  use(middleware: Middleware): this {
    if (typeof middleware !== 'function') throw optionError('Parley: use() takes a function (context, next) => ...')
    if (this.#hub === undefined) this.#pendingMiddleware.push(middleware)
    else this.#hub.use(middleware)
    return this
  }

  room(name: string): RoomHandle {
    return {
      name,
      publish: async (data, options = {}) => {
        const hub = await this.#running()
        // Validates the room name and the data as they will go out, before anything is sequenced.
        encode({ type: 'message', room: name, seq: 1, epoch: 'check', from: null, ts: 0, data: null }, { limits: this.options.encodeLimits })
        const bytes = options.bytes
        if (bytes !== undefined && !(bytes instanceof Uint8Array)) throw new ParleyServerError('INVALID_FIELD', 'bytes: expected a Uint8Array')
        if (bytes !== undefined && !this.options.carriesBytes) throw new ParleyServerError('UNSUPPORTED_DATA', "bytes: this server's adapter or history store keeps no bytes (carriesBytes)")
        const dataJson = serialiseData(data, this.options.limits.maxPayload, bytes)
        const { seq, epoch } = await hub.history.publish({ room: name, from: null, data, dataJson, ...(bytes === undefined ? {} : { bytes: new Uint8Array(bytes) }) })
        return { seq, epoch }
      },
      members: async () => (await this.#running()).node.members(name),
      remove: (user, options = {}) => this.#control({ kind: 'remove', user, room: name, reason: options.reason ?? 'removed' }),
      history: async (options = {}) => {
        const hub = await this.#running()
        const limit = options.limit ?? 50
        const before = options.before
        checkRoom(name)
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) {
          throw new ParleyServerError('INVALID_FIELD', `limit: expected an integer from 1 to ${MAX_HISTORY_PAGE}`)
        }
        const position = typeof before === 'object' && before !== null ? before : undefined
        const valid = position !== undefined ? typeof position.epoch === 'string' && Number.isInteger(position.seq) && position.seq >= 0 : before === undefined || (Number.isInteger(before) && (before as number) >= 1)
        if (!valid) {
          throw new ParleyServerError('INVALID_FIELD', 'before: expected a positive integer (a seq of the current epoch) or { epoch, seq }')
        }
        if (typeof before === 'number') {
          const head = await hub.node.resume(name, undefined)
          return hub.history.page(name, { epoch: head.epoch, seq: before }, limit, head)
        }
        return hub.history.page(name, position, limit)
      },
    }
  }

  /** Sends a `direct` message (`from: null`) to every connected session, on every node. */
  async broadcast(data: JsonValue): Promise<ControlReport> {
    return this.#control({ kind: 'broadcast', message: { type: 'direct', from: null, ts: Date.now(), data } })
  }

  /** Checks a command and runs it on every node (or on this one, for an adapter without `control`). */
  async #control(command: ControlCommand): Promise<ControlReport> {
    const hub = await this.#running()
    const checked = checkControl(command)
    if (typeof checked === 'string') throw new ParleyServerError('INVALID_FIELD', checked)
    if (checked.kind === 'broadcast') encode(checked.message, { limits: this.options.encodeLimits })
    if (hub.node.control !== undefined) return hub.node.control(checked, this.options.clusterTimeoutMs)
    const sessions = await Hub.hooks(() => hub).control(checked)
    return { sessions, nodes: [hub.node.id], missing: [] }
  }

  user(id: string): UserHandle {
    return {
      id,
      send: async (data) => {
        const hub = await this.#running()
        const message = { type: 'direct', from: null, ts: Date.now(), data } as const
        encode(message, { limits: this.options.encodeLimits })
        await hub.node.direct(id, message)
      },
      disconnect: (options = {}) => this.#control({ kind: 'disconnect', user: id, code: options.code ?? CloseCode.Forbidden, reason: options.reason ?? 'disconnected by the server' }),
      join: (room) => this.#control({ kind: 'join', user: id, room }),
      leave: (room, options = {}) => this.#control({ kind: 'remove', user: id, room, reason: options.reason ?? 'unsubscribed' }),
    }
  }

  /** Rooms with members anywhere in the cluster, with their member (user) counts. */
  async rooms(): Promise<Array<{ room: string; members: number }>> {
    return (await this.#running()).node.rooms()
  }

  /** Open sessions on this node. */
  sessions(): ParleySession[] {
    return this.#hub === undefined ? [] : [...this.#hub.sessions.values()]
  }

  stats(): ParleyStats {
    const compression = this.compressionCounters.snapshot()
    if (this.#hub === undefined) return new StatsCounters().snapshot({ connections: 0, rooms: 0, members: 0, connectionsBy: [], outboundBuffered: 0 }, undefined, compression)
    return this.#hub.statsSnapshot(compression)
  }

  /**
   * This node's inspection: its stats, its sessions (at most `sessions`, default {@link INSPECTED_SESSIONS}, those
   * with the most buffered bytes first), its rooms with the messages delivered to them, and its recent errors.
   */
  inspect(options: { readonly sessions?: number } = {}): NodeInspection {
    const hub = this.#hub
    if (hub === undefined) return inspectNode(this.nodeId ?? 'starting', this.stats(), [], [], [], options.sessions)
    return inspectNode(hub.node.id, this.stats(), hub.sessions.values(), hub.rooms.list(), hub.stats.recentErrors(), options.sessions)
  }

  /**
   * Makes this node hand its inspection to the adapter, so an inspector on any node sees it through
   * `clusterInspect()` (the Redis adapter carries it with each heartbeat: at most `nodeTimeoutMs / 3` old). The
   * inspector calls it on every node it is mounted on, and `shareInspection(false)` when it closes; nothing is
   * shared until then.
   */
  shareInspection(share = true): void {
    this.#sharesInspection = share
  }

  /**
   * Every node's inspection: this node's fresh, the others' as their adapter last carried them (nodes that do not
   * share one are left out; see `shareInspection()`). `partial` as for `clusterStats()`.
   */
  async clusterInspect(timeoutMs = 2_000): Promise<{ nodes: readonly NodeInspection[]; partial: boolean }> {
    const { nodes, partial } = await this.clusterStats(timeoutMs)
    const own = this.inspect()
    const others = nodes.flatMap((entry) => (entry.node === own.node || entry.inspection === undefined ? [] : [entry.inspection]))
    return { nodes: [own, ...others], partial }
  }

  /**
   * Registers an observer of timings (publish to ack, adapter calls), for a metrics exporter; returns the function
   * that removes it. Timings are measured only while one is registered. Throws before `ready`.
   */
  observeTimings(observer: TimingObserver): () => void {
    if (this.#hub === undefined) throw new ParleyServerError('CLOSED', 'Parley is not ready: await parley.ready first')
    return this.#hub.stats.observe(observer)
  }

  /**
   * Stats of every node in the cluster, summed, with each node's own figures. When a node cannot be asked (it died,
   * or the adapter is unreachable) the answer comes anyway within `timeoutMs`, without it, and says `partial: true`.
   * `rooms` in the total counts distinct rooms cluster-wide.
   */
  async clusterStats(timeoutMs = 2_000): Promise<{ total: ParleyStats; nodes: readonly NodeStats[]; partial: boolean }> {
    const hub = await this.#running()
    const local: NodeStats = { node: hub.node.id, stats: this.stats() }
    let timer: ReturnType<typeof setTimeout> | undefined
    const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))
    const ask = async (): Promise<{ cluster: ClusterStats; rooms: number } | undefined> => {
      if (hub.node.clusterStats === undefined) return { cluster: { nodes: [local], partial: false }, rooms: local.stats.rooms }
      const [cluster, rooms] = await Promise.all([hub.node.clusterStats(), hub.node.rooms()])
      return { cluster, rooms: rooms.length }
    }
    const answer = await Promise.race([ask().catch(() => undefined), timedOut])
    clearTimeout(timer)
    const nodes = answer?.cluster.nodes ?? [local]
    const total = sumStats(nodes.map((n) => n.stats), answer?.rooms ?? local.stats.rooms)
    return { total, nodes, partial: answer === undefined || answer.cluster.partial }
  }

  /**
   * The one way in for a transport: checks the handshake (draining, version, origin, capacity, `authenticate`,
   * per-user cap) and opens a session on the connection, or refuses it. A connection with `refuse` is answered in
   * its transport's terms (HTTP before a WebSocket upgrade or before a stream starts), one without is closed with
   * the code that fits (4406, 4401, 4403, 4409, 1013). A connection with `open` is opened with the chosen
   * subprotocol in the same tick as the caps are checked a last time, so handshakes that raced through an async
   * `authenticate` cannot exceed them. Resolves with the session, or undefined when refused.
   */
  async accept(connection: Connection, handshake: Partial<Handshake> = {}): Promise<ParleySession | undefined> {
    const full: Handshake = {
      protocols: handshake.protocols ?? [connection.protocol],
      token: handshake.token,
      headers: handshake.headers ?? {},
      url: handshake.url,
      remoteAddress: handshake.remoteAddress,
    }
    let admission
    try {
      await this.ready
      admission = await admit(full, this.options, this.#admissionState())
    } catch (error) {
      this.options.logger.error({ event: 'connection.handshake-failed', error: describeError(error) }, 'parley: handshake failed')
      admission = undefined
    }
    if (admission?.ok === true) {
      // Again, synchronously, right before opening: the first check was before an await.
      const final = checkCapacity(admission.user, this.options, this.#admissionState())
      if (final !== undefined) admission = final
    }
    const hub = this.#hub
    if (admission === undefined || !admission.ok || hub === undefined) {
      const refusal = admission !== undefined && !admission.ok ? admission : {
        ok: false as const, status: 500, closeCode: CloseCode.InternalError, body: { code: 'INTERNAL_ERROR', message: 'Internal server error' },
      }
      this.#refused(refusal, connection, full)
      if (connection.refuse !== undefined) connection.refuse(refusal)
      else connection.close(refusal.closeCode, refusal.closeCode === CloseCode.UnsupportedVersion ? unsupportedVersionReason(this.options.protocols) : refusal.body.message)
      return undefined
    }
    if (connection.open !== undefined && !connection.open(admission.protocol)) return undefined
    return hub.open(connection, full.remoteAddress, admission.user)
  }

  /** Counts and logs a refused handshake: `auth.failed` for bad credentials, `connection.refused` for the rest. */
  #refused(refusal: Refusal, connection: Connection, handshake: Handshake): void {
    const code = refusal.body.code
    this.#hub?.stats.countRefusal(code)
    const fields = { code, status: refusal.status, closeCode: refusal.closeCode, reason: refusal.body.message, transport: connection.transport ?? 'custom', remoteAddress: handshake.remoteAddress }
    if (code === 'UNAUTHORIZED') this.options.logger.warn({ event: 'auth.failed', phase: 'handshake', ...fields }, 'parley: authentication failed; connection refused')
    else this.options.logger.info({ event: 'connection.refused', ...fields }, `parley: connection refused (${code})`)
  }

  #admissionState(): AdmissionState {
    const hub = this.#hub
    return {
      closing: this.#closing || hub === undefined,
      connections: hub?.sessions.size ?? 0,
      connectionsOf: (user) => hub?.connectionsOf(user) ?? 0,
    }
  }

  /**
   * The secret of an HTTP stream: an HMAC of its id under the cluster's shared key, so any node can check a POST's
   * secret (`anywhere`) before it reads or forwards the body. Undefined before `ready`, and, with `anywhere`, when the
   * adapter shares no key (then only the holding node, which derived it, can check).
   */
  streamSecret(stream: string, anywhere = false): string | undefined {
    const streamKey = this.#streamKey
    if (streamKey === undefined || (anywhere && !streamKey.shared)) return undefined
    return createHmac('sha256', streamKey.key).update(stream, 'utf8').digest('base64url').slice(0, 32)
  }

  /** This node's id in the cluster, once `ready`. */
  get nodeId(): string | undefined {
    return this.#hub?.node.id
  }

  /**
   * For the HTTP stream transport: registers the handler of requests other nodes forward to this one, and carries a
   * request to another node through the adapter (404 when the adapter cannot, or the node is gone).
   */
  setForwardHandler(handler: (request: ForwardRequest) => Promise<ForwardAnswer>): void {
    this.#forwardHandler = handler
    if (this.#hub !== undefined) this.#hub.forwardHandler = handler
  }

  async forward(node: string, request: ForwardRequest): Promise<ForwardAnswer> {
    const hub = this.#hub
    const gone: ForwardAnswer = { status: 404, body: { code: 'NOT_FOUND', message: 'No such stream: its node is gone; open a new one' } }
    if (hub === undefined || hub.node.forward === undefined) return gone
    try {
      return (await hub.node.forward(node, request, this.options.clusterTimeoutMs)) ?? gone
    } catch {
      return { status: 503, body: { code: 'TRY_AGAIN_LATER', message: 'Cluster unavailable; try again' } }
    }
  }

  /** Registers a transport's detach step, run by `close()`. */
  addDetacher(detach: () => Promise<void>): void {
    this.#detachers.push(detach)
  }

  /**
   * Graceful shutdown: refuse new connections, send 1001 to every session in batches, wait for them up to
   * `shutdown.timeoutMs`, terminate the rest, leave presence, detach from the server and the adapter.
   * Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close()
    return this.#closed
  }

  async #close(): Promise<void> {
    this.#closing = true
    try {
      await this.ready
    } catch {
      // The adapter never connected: there is nothing to drain.
    }
    const hub = this.#hub
    if (hub !== undefined) await hub.close()
    for (const detach of this.#detachers) await detach()
    if (hub !== undefined) await hub.node.disconnect()
    this.removeAllListeners()
  }

  async #running(): Promise<Hub> {
    await this.ready
    if (this.#hub === undefined || this.#closing) throw new ParleyServerError('CLOSED', 'Parley is closed')
    return this.#hub
  }
}

/** A Parley instance with no transport: hand it connections with `accept()` (tests, custom transports). */
export function createParley(options: ServerOptions = {}): Parley {
  return new Parley(options)
}
