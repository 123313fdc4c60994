import { CloseCode, encode, SUBPROTOCOLS, unsupportedVersionReason, type JsonValue, type PresenceMember } from '@parley/protocol'
import { EventEmitter } from 'eventemitter3'
import type { AdapterNode, ClusterStats, NodeStats } from './adapters/adapter.js'
import { createMemoryAdapter } from './adapters/memory.js'
import { admit, checkCapacity, type Admission } from './handshake.js'
import { checkDataSize, Hub, type ParleyEvents } from './hub.js'
import { toParleyError } from './server-error.js'
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js'
import type { Middleware } from './pipeline.js'
import type { ParleySession } from './session.js'
import { sumStats, type ParleyStats } from './stats.js'
import type { Connection, Handshake } from './transports/connection.js'

/** Server-side handle on a room. */
export interface RoomHandle {
  readonly name: string
  /** Publishes as the server (`from: null`), sequenced like any message; resolves with its position. */
  publish(data: JsonValue): Promise<{ seq: number; epoch: string }>
  /** The room's members across every node, one entry per user. */
  members(): Promise<PresenceMember[]>
}

/** Server-side handle on a user. */
export interface UserHandle {
  readonly id: string
  /** Sends a direct message to every connection of this user, on every node. */
  send(data: JsonValue): Promise<void>
}

/**
 * A running Parley instance: events, middleware, server-side publish, stats and graceful close. Made by `attach()`
 * (WebSocket on an http server) or `createParley()` (no transport; connections come through `accept()`).
 */
export class Parley extends EventEmitter<ParleyEvents> {
  readonly options: ResolvedOptions
  /** Resolves when the adapter is connected and sessions can be served. */
  readonly ready: Promise<void>
  #hub: Hub | undefined
  #closing = false
  #closed: Promise<void> | undefined
  readonly #detachers: Array<() => Promise<void>> = []
  readonly #pendingMiddleware: Middleware[] = []

  constructor(options: ServerOptions = {}) {
    super()
    this.options = resolveOptions(options)
    const adapter = this.options.adapter ?? createMemoryAdapter()
    this.ready = adapter
      .connect(Hub.hooks(() => this.#hub), {
        history: this.options.history,
        dedupWindowMs: this.options.dedupWindowMs,
        stats: () => this.stats(),
      })
      .then((node: AdapterNode) => {
        this.#hub = new Hub(this.options, node, this)
        for (const middleware of this.#pendingMiddleware) this.#hub.use(middleware)
      })
    // A failed adapter is reported through `error` and by rejecting `ready`, never as an unhandled rejection.
    this.ready.catch((error: unknown) => this.emit('error', toParleyError(error), undefined))
  }

  /** Adds message middleware (Koa style), run after rate limits and `authorize`, before the handler. */
  use(middleware: Middleware): this {
    if (typeof middleware !== 'function') throw new TypeError('Parley: use() takes a function (context, next) => ...')
    if (this.#hub === undefined) this.#pendingMiddleware.push(middleware)
    else this.#hub.use(middleware)
    return this
  }

  room(name: string): RoomHandle {
    return {
      name,
      publish: async (data) => {
        const hub = await this.#running()
        // Validates the room name and the data as they will go out, before anything is sequenced.
        encode({ type: 'message', room: name, seq: 1, epoch: 'check', from: null, ts: 0, data }, { limits: this.options.encodeLimits })
        checkDataSize(data, this.options.limits.maxPayload)
        const { message } = await hub.node.publish({ room: name, from: null, data })
        return { seq: message.seq, epoch: message.epoch }
      },
      members: async () => (await this.#running()).node.members(name),
    }
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
    if (this.#hub === undefined) {
      return { connections: 0, rooms: 0, members: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, slowConsumers: 0, errors: {} }
    }
    return this.#hub.statsSnapshot()
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

  /** Decides a handshake (used by transports before they upgrade). */
  async admit(handshake: Handshake): Promise<Admission> {
    await this.ready
    const hub = this.#hub as Hub
    return admit(handshake, this.options, {
      closing: this.#closing,
      connections: hub.sessions.size,
      connectionsOf: (user) => hub.connectionsOf(user),
    })
  }

  /**
   * Repeats the draining and capacity checks of an accepted admission, synchronously: a transport calls it right
   * before it upgrades, so handshakes that raced through an async `authenticate` cannot exceed the caps.
   */
  recheck(admission: Admission & { ok: true }): Admission {
    const hub = this.#hub
    if (hub === undefined) return checkCapacity(undefined, this.options, { closing: true, connections: 0, connectionsOf: () => 0 }) ?? admission
    const state = { closing: this.#closing, connections: hub.sessions.size, connectionsOf: (user: string) => hub.connectionsOf(user) }
    return checkCapacity(admission.user, this.options, state) ?? admission
  }

  /** Opens a session on a connection that `admit()` accepted, unless the caps filled up meanwhile. */
  open(connection: Connection, handshake: Handshake, admission: Admission & { ok: true }): ParleySession | undefined {
    const checked = this.recheck(admission)
    if (!checked.ok || this.#hub === undefined) {
      connection.close(checked.ok ? CloseCode.TryAgainLater : checked.closeCode, checked.ok ? 'server shutting down' : checked.body.message)
      return undefined
    }
    return this.#hub.open(connection, handshake, admission.user)
  }

  /**
   * Serves a connection from any transport: checks the handshake and either opens a session or closes the
   * connection with the code that fits (4406, 4401, 4403, 4409, 1013).
   */
  async accept(connection: Connection, handshake: Partial<Handshake> = {}): Promise<ParleySession | undefined> {
    const full: Handshake = {
      protocols: handshake.protocols ?? [connection.protocol],
      token: handshake.token,
      request: handshake.request,
      remoteAddress: handshake.remoteAddress,
    }
    const admission = await this.admit(full)
    if (!admission.ok) {
      const reason = admission.closeCode === CloseCode.UnsupportedVersion ? unsupportedVersionReason(SUBPROTOCOLS) : admission.body.message
      connection.close(admission.closeCode, reason)
      return undefined
    }
    return this.open(connection, full, admission)
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
    if (this.#hub === undefined || this.#closing) throw new Error('Parley is closed')
    return this.#hub
  }
}

/** A Parley instance with no transport: hand it connections with `accept()` (tests, custom transports). */
export function createParley(options: ServerOptions = {}): Parley {
  return new Parley(options)
}
