import {
  bytesOfTextForm,
  bytesToBase64,
  randomId,
  resolveLimits,
  validateMessage,
  type DirectMessage,
  type JsonValue,
  type PresenceMember,
  type ResumePoint,
  type RoomMessage,
  type ServerMessage,
  type SignalBroadcastMessage,
} from '@parley/protocol'
import {
  checkControl,
  checkForward,
  ParleyServerError,
  replayStart,
  resumeResult,
  SILENT_LOGGER,
  describeError,
  type Adapter,
  type AdapterHooks,
  type AdapterNode,
  type AdapterNodeConfig,
  type ClusterStats,
  type ControlCommand,
  type ControlReport,
  type ForwardAnswer,
  type ForwardRequest,
  type HistoryPage,
  type Logger,
  type MemberSnapshot,
  type MembersPage,
  type NodeStats,
  type ParleyStats,
  type NodeInspection,
  type PresenceEntry,
  type PublishRequest,
  type PublishResult,
  type ResumeResult,
} from '@parley/server-sdk'
import { createClient, type RedisClientOptions } from 'redis'
import { MEMBER_PAGE, MEMBER_SNAPSHOT, MEMBERS, POSITION, PRESENCE_JOIN, PRESENCE_LEAVE, PRESENCE_UPDATE, PUBLISH } from './scripts.js'

/** Options of {@link createRedisAdapter}. */
export interface RedisAdapterOptions {
  /** Redis URL. @default 'redis://127.0.0.1:6379' */
  readonly url?: string
  /** Extra options for the two `redis` clients each node opens (commands and subscriptions). */
  readonly clientOptions?: Omit<RedisClientOptions, 'url'>
  /** Prefix of every key and channel, so several apps can share one Redis. @default 'parley' */
  readonly keyPrefix?: string
  /**
   * A node that has not refreshed its heartbeat for this long is dead: its presence entries are removed (peers see
   * `leave`) by the next sweep of any live node. Ghosts last at most about 1.5 × this. @default 15_000
   */
  readonly nodeTimeoutMs?: number
  /** Logger for connection faults. @default silent */
  readonly logger?: Logger
  /**
   * How long a node may take to reach Redis at start. Past it, `parley.ready` rejects (and `error` is emitted), so
   * handshakes are refused instead of hanging. @default 10_000
   */
  readonly connectTimeoutMs?: number
}

/** The version of the inter-node envelope; a node ignores envelopes of versions it does not know. */
export const ENVELOPE_VERSION = 1

type Envelope =
  | { v: number; k: 'm'; x: string | null; m: RoomMessage }
  /** A control command from node `from`, to be answered on that node's reply channel under `id`. */
  | { v: number; k: 'c'; id: string; from: string; c: ControlCommand }
  /** A node's answer to control command `id`: it acted on `n` sessions. */
  | { v: number; k: 'r'; id: string; node: string; n: number }
  /** An HTTP stream request forwarded from node `from` to the node holding the stream, answered under `id`. */
  | { v: number; k: 'f'; id: string; from: string; f: ForwardRequest }
  /** The holding node's answer to forwarded request `id`. */
  | { v: number; k: 'a'; id: string; a: ForwardAnswer }
  | { v: number; k: 'p'; room: string; e: 'join' | 'leave' | 'update'; member: PresenceMember }
  /** This node's own mark after a member snapshot's read (`MEMBER_SNAPSHOT`): the presence changes before it are in it. */
  | { v: number; k: 't'; id: string }
  | { v: number; k: 's'; m: SignalBroadcastMessage }
  | { v: number; k: 'd'; u: string; m: DirectMessage }

const noop = (): void => {}

/** Reads of one member snapshot whose mark may be lost before the join fails (see `memberSnapshot`). */
const SNAPSHOT_ATTEMPTS = 3

/** Members from a script's flat answer (user, presence JSON, connection count, ...), from index `from` on. */
function listedMembers(flat: ReadonlyArray<string | number>, from = 1): PresenceMember[] {
  const members: PresenceMember[] = []
  for (let i = from; i < flat.length; i += 3) {
    members.push({ user: String(flat[i]), presence: JSON.parse(String(flat[i + 1])) as JsonValue, connections: Number(flat[i + 2]) })
  }
  return members
}
/** Whether two snapshot replies list the same page: every entry after the count (user, presence, connections) equal. */
function sameAfterCount(a: ReadonlyArray<string | number>, b: ReadonlyArray<string | number>): boolean {
  if (a.length !== b.length) return false
  for (let i = 1; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** What an envelope's message is checked against: the protocol's defaults, as for any frame a client decodes. */
const ENVELOPE_LIMITS = resolveLimits()

/** Largest forwarded POST body: the HTTP stream transport's own cap (16 frames of the default maxPayload). */
const MAX_FORWARD_BYTES = 16 * 1024 * 1024

/**
 * Checks an envelope that arrived from Redis with the protocol's validator: what it carries is delivered to clients,
 * so a corrupt or forged one (another writer on the channel, a bug in another version) is dropped, never cast and
 * trusted. Returns the checked envelope, or a reason to drop it.
 */
export function checkEnvelope(parsed: unknown): Envelope | string {
  if (typeof parsed !== 'object' || parsed === null) return 'not an object'
  const envelope = parsed as Record<string, unknown>
  if (envelope['v'] !== ENVELOPE_VERSION) return `envelope version ${String(envelope['v'])} not understood`
  const checked = (message: unknown, type: ServerMessage['type']): ServerMessage | string => {
    const result = validateMessage(message, 'server', ENVELOPE_LIMITS)
    if (result instanceof Error) return result.message
    return result.type === type ? (result.type === 'message' ? bytesOfTextForm(result) : result) : `expected a ${type}, got ${result.type}`
  }
  switch (envelope['k']) {
    case 'm': {
      const except = envelope['x']
      if (except !== null && typeof except !== 'string') return 'x: expected a session id or null'
      const message = checked(envelope['m'], 'message')
      return typeof message === 'string' ? message : { v: ENVELOPE_VERSION, k: 'm', x: except, m: message as RoomMessage }
    }
    case 'p': {
      const message = checked({ type: 'presence', room: envelope['room'], event: envelope['e'], member: envelope['member'] }, 'presence')
      if (typeof message === 'string') return message
      const presence = message as Extract<ServerMessage, { type: 'presence' }>
      return { v: ENVELOPE_VERSION, k: 'p', room: presence.room, e: presence.event, member: presence.member }
    }
    case 's': {
      const message = checked(envelope['m'], 'signal')
      return typeof message === 'string' ? message : { v: ENVELOPE_VERSION, k: 's', m: message as SignalBroadcastMessage }
    }
    case 'd': {
      const user = envelope['u']
      if (typeof user !== 'string') return 'u: expected a user id'
      const message = checked(envelope['m'], 'direct')
      return typeof message === 'string' ? message : { v: ENVELOPE_VERSION, k: 'd', u: user, m: message as DirectMessage }
    }
    case 'c': {
      const { id, from } = envelope
      if (typeof id !== 'string' || id.length > 64 || typeof from !== 'string' || from.length > 64) return 'id, from: expected ids'
      const command = checkControl(envelope['c'])
      return typeof command === 'string' ? `c: ${command}` : { v: ENVELOPE_VERSION, k: 'c', id, from, c: command }
    }
    case 'r': {
      const { id, node, n } = envelope
      if (typeof id !== 'string' || typeof node !== 'string' || typeof n !== 'number' || !Number.isInteger(n) || n < 0) return 'r: expected id, node and a count'
      return { v: ENVELOPE_VERSION, k: 'r', id, node, n }
    }
    case 'f': {
      const { id, from } = envelope
      if (typeof id !== 'string' || id.length > 64 || typeof from !== 'string' || from.length > 64) return 'id, from: expected ids'
      const forward = checkForward(envelope['f'], MAX_FORWARD_BYTES)
      return typeof forward === 'string' ? `f: ${forward}` : { v: ENVELOPE_VERSION, k: 'f', id, from, f: forward }
    }
    case 'a': {
      const { id } = envelope
      const answer = envelope['a'] as { status?: unknown; body?: unknown } | null
      if (typeof id !== 'string' || typeof answer !== 'object' || answer === null || typeof answer.status !== 'number') return 'a: expected an answer'
      const body = answer.body as { code?: unknown; message?: unknown } | undefined
      const checkedBody = body !== undefined && typeof body === 'object' && body !== null && typeof body.code === 'string' && typeof body.message === 'string' ? { code: body.code, message: body.message } : undefined
      return { v: ENVELOPE_VERSION, k: 'a', id, a: { status: answer.status, ...(checkedBody === undefined ? {} : { body: checkedBody }) } }
    }
    case 't': {
      const { id } = envelope
      if (typeof id !== 'string' || id.length > 64) return 't: expected an id'
      return { v: ENVELOPE_VERSION, k: 't', id }
    }
    default:
      return `unknown envelope kind ${String(envelope['k'])}`
  }
}

/**
 * The Redis adapter: several server processes share rooms through one Redis. Sequencing (`epoch` + `seq`),
 * history (a capped Stream per room with a TTL), de-duplication and presence live in Redis, so a client that
 * reconnects to another node recovers exactly what it missed; fan-out uses pub/sub on one channel per room, and a
 * node subscribes only to rooms it has members in.
 */
export function createRedisAdapter(options: RedisAdapterOptions = {}): Adapter {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 15_000
  if (!Number.isInteger(nodeTimeoutMs) || nodeTimeoutMs < 100) {
    throw new TypeError(`Parley redis adapter: option "nodeTimeoutMs" must be an integer ≥ 100, got ${String(options.nodeTimeoutMs)}`)
  }
  const prefix = options.keyPrefix ?? 'parley'
  if (typeof prefix !== 'string' || prefix === '' || /\s/.test(prefix)) {
    throw new TypeError(`Parley redis adapter: option "keyPrefix" must be a non-empty string without spaces, got ${String(options.keyPrefix)}`)
  }
  return {
    // Bytes travel and are kept in their text form, base64 (the PUBLISH script); read back as bytes.
    carriesBytes: true,
    async connect(hooks, config) {
      const node = new RedisNode(options, prefix, nodeTimeoutMs, hooks, config)
      await node.start(options.connectTimeoutMs ?? 10_000)
      return node
    },
  }
}

type Client = ReturnType<typeof createClient>

class RedisNode implements AdapterNode {
  readonly id = randomId(12)
  readonly #prefix: string
  readonly #timeoutMs: number
  readonly #hooks: AdapterHooks
  readonly #config: AdapterNodeConfig
  readonly #logger: Logger
  readonly #commands: Client
  readonly #subscriber: Client
  readonly #rooms = new Set<string>()
  /** This node's presence entries, re-registered if Redis lost them (a restart). */
  readonly #entries = new Map<string, PresenceEntry>()
  readonly #shas = new Map<string, string>()
  /** Presence leaves that failed while Redis was unreachable, retried on reconnect. */
  readonly #pendingLeaves = new Map<string, { room: string; user: string; session: string }>()
  /** Control commands this node sent, waiting for the nodes' answers. */
  readonly #controls = new Map<string, { answer(node: string, n: number): void }>()
  /** The cluster key as this node read it, put back (SET NX) after Redis lost it, so streams keep their secrets. */
  #clusterKey: string | undefined
  /** Forwarded HTTP stream requests this node sent, waiting for the holding node's answer. */
  readonly #forwards = new Map<string, (answer: ForwardAnswer) => void>()
  /** Member snapshots read and waiting for their mark on this node's channel, by id: told whether it arrived. */
  readonly #marks = new Map<string, (arrived: boolean) => void>()
  /** By room, its last subscribe or unsubscribe still in flight (see `#inOrder`). */
  readonly #subscriptions = new Map<string, Promise<void>>()
  /**
   * By room (subscribed on this node), the last member snapshot's first page as Redis sent it and as parsed. A page
   * that reads the same again is handed back as the same array, so the hub's `joined` serves its checked and encoded
   * list again instead of parsing, checking and encoding 100 members for every join of a large room.
   */
  readonly #firstPages = new Map<string, { readonly flat: ReadonlyArray<string | number>; readonly first: readonly PresenceMember[] }>()
  #heartbeat: ReturnType<typeof setInterval> | undefined
  #sweeper: ReturnType<typeof setInterval> | undefined
  #started = false
  #stopped = false

  constructor(options: RedisAdapterOptions, prefix: string, timeoutMs: number, hooks: AdapterHooks, config: AdapterNodeConfig) {
    this.#prefix = prefix
    this.#timeoutMs = timeoutMs
    this.#hooks = hooks
    this.#config = config
    this.#logger = options.logger ?? SILENT_LOGGER
    const clientOptions: RedisClientOptions = {
      // Fail fast while disconnected instead of queueing: a publish that cannot be sequenced is refused at once
      // (TRY_AGAIN_LATER), never delayed or lost silently.
      disableOfflineQueue: true,
      ...options.clientOptions,
      url: options.url ?? 'redis://127.0.0.1:6379',
      socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000), ...options.clientOptions?.socket },
    }
    this.#commands = createClient(clientOptions)
    this.#subscriber = this.#commands.duplicate()
    for (const [name, client] of [['commands', this.#commands], ['subscriber', this.#subscriber]] as const) {
      client.on('error', (error: unknown) => this.#logger.warn({ event: 'adapter.connection-error', adapter: 'redis', connection: name, error: describeError(error) }, `parley redis adapter: ${name} connection error`))
      client.on('reconnecting', () => this.#logger.warn({ event: 'adapter.reconnecting', adapter: 'redis', connection: name }, `parley redis adapter: ${name} reconnecting`))
    }
    this.#commands.on('ready', () => {
      if (!this.#started || this.#stopped) return
      this.#logger.info({ event: 'adapter.reconnected', adapter: 'redis' }, 'parley redis adapter: reconnected; re-registering node and presence')
      this.#shas.clear()
      void this.#reregister()
    })
  }

  async start(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`Parley redis adapter: no connection to Redis within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      await Promise.race([Promise.all([this.#commands.connect(), this.#subscriber.connect()]), timeout])
    } catch (error) {
      this.#stopped = true
      for (const client of [this.#commands, this.#subscriber]) {
        try {
          client.destroy()
        } catch {
          // Not open yet: nothing to destroy.
        }
      }
      throw error
    } finally {
      clearTimeout(timer)
    }
    await this.#subscriber.subscribe(this.#key('ch', 'direct'), (raw) => this.#receive(raw))
    await this.#subscriber.subscribe(this.#key('ch', 'control'), (raw) => this.#receive(raw))
    await this.#subscriber.subscribe(this.#key('ch', 'reply', this.id), (raw) => this.#receive(raw))
    await this.#subscriber.subscribe(this.#key('ch', 'node', this.id), (raw) => this.#receive(raw))
    await this.#beat()
    this.#heartbeat = setInterval(() => void this.#beat().catch(noop), Math.max(50, Math.floor(this.#timeoutMs / 3)))
    this.#sweeper = setInterval(() => void this.#sweep().catch(noop), Math.max(50, Math.floor(this.#timeoutMs / 2)))
    this.#heartbeat.unref?.()
    this.#sweeper.unref?.()
    this.#started = true
  }

  #key(...parts: string[]): string {
    return [this.#prefix, ...parts].join(':')
  }

  /**
   * A key named by two ids. Room names and ids may hold `:`, so `room:user` would let room `a:b` + user `c` collide
   * with room `a` + user `b:c`; `|` is in neither character set, so the pair is unambiguous.
   */
  #pairKey(kind: string, first: string, second: string): string {
    return `${this.#key(kind, first)}|${second}`
  }

  #roomChannel(room: string): string {
    return this.#key('ch', 'room', room)
  }

  /** Runs a script by SHA, loading it when Redis does not know it (first use, or after a restart). */
  async #script(script: string, keys: string[], args: string[]): Promise<unknown> {
    try {
      let sha = this.#shas.get(script)
      if (sha === undefined) {
        sha = await this.#commands.scriptLoad(script)
        this.#shas.set(script, sha)
      }
      try {
        return await this.#commands.evalSha(sha, { keys, arguments: args })
      } catch (error) {
        if (!String(error).includes('NOSCRIPT')) throw error
        this.#shas.delete(script)
        return await this.#commands.eval(script, { keys, arguments: args })
      }
    } catch (error) {
      throw this.#unavailable(error)
    }
  }

  #unavailable(error: unknown): ParleyServerError {
    if (error instanceof ParleyServerError) return error
    this.#logger.warn({ event: 'adapter.command-failed', adapter: 'redis', error: describeError(error) }, 'parley redis adapter: command failed')
    return new ParleyServerError('TRY_AGAIN_LATER', 'Cluster unavailable; try again', { cause: error })
  }

  #receive(raw: string): void {
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      this.#logger.warn({ event: 'adapter.envelope-dropped', adapter: 'redis', reason: 'unreadable' }, 'parley redis adapter: unreadable envelope dropped')
      return
    }
    const envelope = checkEnvelope(parsed)
    if (typeof envelope === 'string') {
      this.#logger.warn({ event: 'adapter.envelope-dropped', adapter: 'redis', reason: envelope }, `parley redis adapter: envelope dropped: ${envelope}`)
      return
    }
    switch (envelope.k) {
      case 'm':
        this.#hooks.message(envelope.m, envelope.x ?? undefined)
        return
      case 'p':
        this.#hooks.presence(envelope.room, envelope.e, envelope.member)
        return
      case 's':
        this.#hooks.signal(envelope.m)
        return
      case 'd':
        this.#hooks.direct(envelope.u, envelope.m)
        return
      case 'c':
        void this.#answerControl(envelope.id, envelope.from, envelope.c)
        return
      case 'r':
        this.#controls.get(envelope.id)?.answer(envelope.node, envelope.n)
        return
      case 'f':
        void this.#answerForward(envelope.id, envelope.from, envelope.f)
        return
      case 'a':
        this.#forwards.get(envelope.id)?.(envelope.a)
        return
      case 't':
        this.#marks.get(envelope.id)?.(true)
        return
    }
  }

  async #answerControl(id: string, from: string, command: ControlCommand): Promise<void> {
    const n = await this.#hooks.control(command)
    try {
      await this.#commands.publish(this.#key('ch', 'reply', from), JSON.stringify({ v: ENVELOPE_VERSION, k: 'r', id, node: this.id, n }))
    } catch (error) {
      this.#logger.warn({ event: 'adapter.control-failed', adapter: 'redis', error: describeError(error) }, 'parley redis adapter: could not answer a control command')
    }
  }

  async #answerForward(id: string, from: string, request: ForwardRequest): Promise<void> {
    const answer = await this.#hooks.forwarded(request)
    try {
      await this.#commands.publish(this.#key('ch', 'reply', from), JSON.stringify({ v: ENVELOPE_VERSION, k: 'a', id, a: answer }))
    } catch (error) {
      this.#logger.warn({ event: 'adapter.forward-failed', adapter: 'redis', error: describeError(error) }, 'parley redis adapter: could not answer a forwarded request')
    }
  }

  /** The cluster's shared key: created by the first node that asks (SET NX), read by every other. */
  async clusterKey(): Promise<string> {
    const key = this.#key('cluster-key')
    try {
      await this.#commands.set(key, randomId(43), { NX: true })
      const value = await this.#commands.get(key)
      if (typeof value !== 'string' || value.length < 32) throw new Error('cluster key missing after SET NX')
      this.#clusterKey = value
      return value
    } catch (error) {
      throw this.#unavailable(error)
    }
  }

  async forward(node: string, request: ForwardRequest, timeoutMs: number): Promise<ForwardAnswer | undefined> {
    const id = randomId(16)
    return new Promise<ForwardAnswer | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#forwards.delete(id)
        // The node is there (it took the message) but slow: the frames may still be handled, so this is not
        // "gone" (404, after which a client reopens and may resend) but "try again" (503).
        resolve({ status: 503, body: { code: 'TRY_AGAIN_LATER', message: 'The stream\'s node did not answer in time' } })
      }, timeoutMs)
      this.#forwards.set(id, (answer) => {
        clearTimeout(timer)
        this.#forwards.delete(id)
        resolve(answer)
      })
      this.#commands
        .publish(this.#key('ch', 'node', node), JSON.stringify({ v: ENVELOPE_VERSION, k: 'f', id, from: this.id, f: request }))
        .then((receivers) => {
          // Nobody subscribed to that node's channel: it is gone; answer at once instead of waiting out the timeout.
          if (receivers === 0 && this.#forwards.delete(id)) {
            clearTimeout(timer)
            resolve(undefined)
          }
        })
        .catch((error: unknown) => {
          clearTimeout(timer)
          this.#forwards.delete(id)
          reject(this.#unavailable(error))
        })
    })
  }

  /** The nodes whose liveness key is still there (others are gone, or about to be swept). */
  async #liveNodes(): Promise<string[]> {
    const ids = await this.#commands.sMembers(this.#key('nodes'))
    const alive = await Promise.all(ids.map(async (id) => (id === this.id ? true : (await this.#commands.exists(this.#key('node', id))) === 1)))
    return ids.filter((_, i) => alive[i])
  }

  async control(command: ControlCommand, timeoutMs: number): Promise<ControlReport> {
    const id = randomId(16)
    let expected: string[]
    try {
      expected = await this.#liveNodes()
      if (!expected.includes(this.id)) expected.push(this.id)
    } catch (error) {
      throw this.#unavailable(error)
    }
    const answers = new Map<string, number>()
    const report = (): ControlReport => ({
      sessions: [...answers.values()].reduce((sum, n) => sum + n, 0),
      nodes: [...answers.keys()],
      missing: expected.filter((node) => !answers.has(node)),
    })
    return new Promise<ControlReport>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer)
        this.#controls.delete(id)
        resolve(report())
      }
      const timer = setTimeout(finish, timeoutMs)
      this.#controls.set(id, {
        answer: (node, n) => {
          answers.set(node, n)
          if (expected.every((each) => answers.has(each))) finish()
        },
      })
      this.#commands.publish(this.#key('ch', 'control'), JSON.stringify({ v: ENVELOPE_VERSION, k: 'c', id, from: this.id, c: command })).catch((error: unknown) => {
        clearTimeout(timer)
        this.#controls.delete(id)
        reject(this.#unavailable(error))
      })
    })
  }

  async history(room: string, page: HistoryPage): Promise<RoomMessage[]> {
    let entries: Array<{ id: string; message: Record<string, string> }>
    try {
      const end = page.before === undefined ? '+' : `${Math.max(0, page.before - 1)}-1`
      if (end === '0-1') return []
      entries = (await this.#commands.xRevRange(this.#key('history', room), end, '-', { COUNT: page.limit })) as typeof entries
    } catch (error) {
      throw this.#unavailable(error)
    }
    const cutoff = Date.now() - this.#config.history.ttlMs
    const kept: RoomMessage[] = []
    for (const entry of entries.reverse()) {
      if (Number(entry.message['t']) <= cutoff) continue
      let parsed: unknown
      try {
        parsed = JSON.parse(entry.message['m'] as string)
      } catch {
        parsed = undefined
      }
      const message = validateMessage(parsed, 'server', ENVELOPE_LIMITS)
      if (message instanceof Error || message.type !== 'message') {
        this.#logger.warn({ event: 'adapter.corrupt-entry', adapter: 'redis', entry: entry.id }, 'parley redis adapter: corrupt history entry left out')
        continue
      }
      kept.push(bytesOfTextForm(message))
    }
    return kept
  }

  /** A snapshot's first page: the last one's array when Redis sent the same page (after the count) again. */
  #firstPage(room: string, flat: ReadonlyArray<string | number>): readonly PresenceMember[] {
    const last = this.#firstPages.get(room)
    if (last !== undefined && sameAfterCount(last.flat, flat)) return last.first
    const first = Object.freeze(listedMembers(flat))
    if (this.#rooms.has(room)) this.#firstPages.set(room, { flat, first })
    return first
  }

  async subscribe(room: string): Promise<void> {
    if (this.#rooms.has(room)) return
    this.#rooms.add(room)
    try {
      await this.#inOrder(room, () => this.#subscriber.subscribe(this.#roomChannel(room), (raw) => this.#receive(raw)))
    } catch (error) {
      this.#rooms.delete(room)
      throw this.#unavailable(error)
    }
  }

  async unsubscribe(room: string): Promise<void> {
    if (!this.#rooms.delete(room)) return
    this.#firstPages.delete(room)
    try {
      await this.#inOrder(room, () => this.#subscriber.unsubscribe(this.#roomChannel(room)))
    } catch (error) {
      throw this.#unavailable(error)
    }
  }

  /**
   * Runs a room's subscribe and unsubscribe one after the other. The Redis client drops a channel's listeners when
   * the UNSUBSCRIBE is answered, and a SUBSCRIBE asked for meanwhile only adds its listener to the set about to be
   * dropped, without a command of its own: a room emptied and joined again on this node within one round trip left
   * the node deaf to it (its members got nothing live, though every publish was acknowledged).
   */
  #inOrder(room: string, operation: () => Promise<unknown>): Promise<void> {
    const next = (this.#subscriptions.get(room) ?? Promise.resolve()).then(operation, operation).then(() => undefined)
    this.#subscriptions.set(room, next)
    const settled = (): void => {
      if (this.#subscriptions.get(room) === next) this.#subscriptions.delete(room)
    }
    next.then(settled, settled)
    return next
  }

  async publish(request: PublishRequest): Promise<PublishResult> {
    const { room } = request
    const reply = (await this.#script(
      PUBLISH,
      [
        this.#key('room', room),
        this.#key('history', room),
        request.dedupKey === undefined ? '' : this.#pairKey('dedup', room, request.dedupKey),
        this.#key('presence', room),
      ],
      [
        randomId(10),
        String(Date.now()),
        JSON.stringify(request.from),
        request.dataJson,
        String(this.#config.history.size),
        String(this.#config.history.ttlMs),
        String(this.#config.dedupWindowMs),
        this.#roomChannel(room),
        JSON.stringify(request.exceptSession ?? null),
        room,
        // The text form: bytes as base64, in the stored and forwarded message alike (docs/adapters.md).
        // '-' (never base64) for none: zero bytes are bytes, written as "".
        request.bytes === undefined ? '-' : bytesToBase64(request.bytes),
      ],
    )) as [number, string]
    const position = JSON.parse(reply[1]) as { seq: number; epoch: string; ts: number }
    return { seq: position.seq, epoch: position.epoch, ts: position.ts, duplicate: reply[0] === 1 }
  }

  async resume(room: string, from: ResumePoint | undefined): Promise<ResumeResult> {
    const [epoch, seqText] = (await this.#script(POSITION, [this.#key('room', room), this.#key('presence', room)], [
      randomId(10),
      String(this.#config.history.ttlMs),
    ])) as [string, string]
    const head = { epoch, seq: Number(seqText) }
    const start = replayStart(head, from)
    return resumeResult(head, from, start === undefined || (start > head.seq && start > 1) ? [] : await this.#history(room, start))
  }

  /** The room's kept messages from `fromSeq` on, without those past the history TTL. */
  async #history(room: string, fromSeq: number): Promise<RoomMessage[]> {
    let entries: Array<{ id: string; message: Record<string, string> }>
    try {
      entries = (await this.#commands.xRange(this.#key('history', room), `${fromSeq}-0`, '+')) as typeof entries
    } catch (error) {
      throw this.#unavailable(error)
    }
    const cutoff = Date.now() - this.#config.history.ttlMs
    const kept: RoomMessage[] = []
    for (const entry of entries) {
      if (Number(entry.message['t']) > cutoff) kept.push(bytesOfTextForm(JSON.parse(entry.message['m'] as string) as RoomMessage))
    }
    return kept
  }

  #presenceKeys(room: string, user: string): string[] {
    return [
      this.#key('presence', room),
      this.#pairKey('conns', room, user),
      this.#key('rooms'),
      this.#key('node-entries', this.id),
      this.#key('room', room),
      this.#key('presence-order', room),
    ]
  }

  async presenceJoin(entry: PresenceEntry): Promise<void> {
    this.#entries.set(`${entry.room}\n${entry.user}\n${entry.session}`, entry)
    await this.#register(entry)
  }

  /** Adds one connection's presence entry in Redis (announcing `join` when it is the user's first). */
  async #register(entry: PresenceEntry): Promise<void> {
    await this.#script(PRESENCE_JOIN, this.#presenceKeys(entry.room, entry.user), [
      entry.user,
      JSON.stringify(entry.presence),
      `${this.id}|${entry.session}`,
      entry.room,
      this.#roomChannel(entry.room),
      `${entry.room}\n${entry.user}\n${entry.session}`,
    ])
  }

  async presenceLeave(room: string, user: string, session: string): Promise<void> {
    const id = `${room}\n${user}\n${session}`
    this.#entries.delete(id)
    try {
      await this.#leave(this.id, room, user, session)
    } catch (error) {
      // Redis is unreachable: remember the leave and run it when Redis is back, so no ghost is left behind.
      this.#pendingLeaves.set(id, { room, user, session })
      this.#logger.warn({ event: 'adapter.presence-deferred', adapter: 'redis', error: describeError(error) }, 'parley redis adapter: presence leave deferred until Redis is back')
    }
  }

  async #leave(node: string, room: string, user: string, session: string): Promise<void> {
    const keys = this.#presenceKeys(room, user)
    keys[3] = this.#key('node-entries', node)
    await this.#script(PRESENCE_LEAVE, keys, [
      user,
      `${node}|${session}`,
      room,
      this.#roomChannel(room),
      `${room}\n${user}\n${session}`,
      String(this.#config.history.ttlMs),
    ])
  }

  async presenceUpdate(room: string, user: string, presence: JsonValue): Promise<void> {
    for (const entry of this.#entries.values()) {
      if (entry.room === room && entry.user === user) this.#entries.set(`${room}\n${user}\n${entry.session}`, { ...entry, presence })
    }
    await this.#script(PRESENCE_UPDATE, [this.#key('presence', room), this.#pairKey('conns', room, user)], [
      user,
      JSON.stringify(presence),
      room,
      this.#roomChannel(room),
    ])
  }

  async members(room: string): Promise<PresenceMember[]> {
    const flat = (await this.#script(MEMBERS, [this.#key('presence', room)], [this.#pairKey('conns', room, '')])) as Array<string | number>
    return listedMembers(flat, 0)
  }

  /**
   * A join's snapshot in O(page): the count, and the first `limit` members by user id from the room's presence order
   * (or every member while there are at most `limit`). The read publishes a mark on this node's reply channel;
   * `taken` runs when the mark arrives, so every presence change made before the read has been delivered by then and
   * none made after it. A mark that does not come within a third of `nodeTimeoutMs` (the subscriber lost its
   * connection meanwhile, and with it what was published) voids that read: it is taken again with a new mark, up
   * to three times in all, and then the join fails with `TRY_AGAIN_LATER` rather than guess where the read fell.
   */
  async memberSnapshot(room: string, limit: number, taken: () => void): Promise<MemberSnapshot> {
    for (let attempt = 1; attempt <= SNAPSHOT_ATTEMPTS && !this.#stopped; attempt++) {
      const id = randomId(16)
      let timer: ReturnType<typeof setTimeout> | undefined
      let settle!: (arrived: boolean) => void
      const marked = new Promise<boolean>((resolve) => (settle = resolve))
      this.#marks.set(id, (arrived) => {
        this.#marks.delete(id)
        clearTimeout(timer)
        if (arrived) taken()
        settle(arrived)
      })
      let flat: Array<string | number>
      try {
        flat = (await this.#script(
          MEMBER_SNAPSHOT,
          [this.#key('presence', room), this.#key('presence-order', room)],
          [String(limit), this.#pairKey('conns', room, ''), this.#key('ch', 'reply', this.id), JSON.stringify({ v: ENVELOPE_VERSION, k: 't', id })],
        )) as Array<string | number>
      } catch (error) {
        this.#marks.delete(id)
        throw error
      }
      if (this.#marks.has(id)) {
        timer = setTimeout(() => this.#marks.get(id)?.(false), Math.max(50, Math.floor(this.#timeoutMs / 3)))
        timer.unref?.()
      }
      if (await marked) return { first: this.#firstPage(room, flat), count: Number(flat[0]) }
      this.#logger.warn({ event: 'adapter.snapshot-unmarked', adapter: 'redis', room, attempt }, "parley redis adapter: a member snapshot's mark did not arrive; reading it again")
    }
    throw new ParleyServerError('TRY_AGAIN_LATER', 'Cluster unavailable; try again')
  }

  /** A client's `members` page from the room's presence order: O(page), whatever the room's size. */
  async memberPage(room: string, after: string | undefined, limit: number): Promise<MembersPage> {
    const flat = (await this.#script(
      MEMBER_PAGE,
      [this.#key('presence', room), this.#key('presence-order', room)],
      [after === undefined ? '-' : `(${after}`, String(limit), this.#pairKey('conns', room, '')],
    )) as Array<string | number>
    return { members: listedMembers(flat), more: flat[0] === 1 }
  }

  async signal(message: SignalBroadcastMessage): Promise<void> {
    await this.#publishEnvelope(this.#roomChannel(message.room), { v: ENVELOPE_VERSION, k: 's', m: message })
  }

  async direct(user: string, message: DirectMessage): Promise<void> {
    await this.#publishEnvelope(this.#key('ch', 'direct'), { v: ENVELOPE_VERSION, k: 'd', u: user, m: message })
  }

  async #publishEnvelope(channel: string, envelope: Envelope): Promise<void> {
    try {
      await this.#commands.publish(channel, JSON.stringify(envelope))
    } catch (error) {
      throw this.#unavailable(error)
    }
  }

  async rooms(): Promise<Array<{ room: string; members: number }>> {
    let all: Record<string, string>
    try {
      all = await this.#commands.hGetAll(this.#key('rooms'))
    } catch (error) {
      throw this.#unavailable(error)
    }
    return Object.entries(all)
      .map(([room, count]) => ({ room, members: Number(count) }))
      .filter((entry) => entry.members > 0)
  }

  /** Refreshes this node's liveness key; a node whose key expired is swept by the others. */
  async #beat(): Promise<void> {
    await this.#commands.set(this.#key('node', this.id), String(Date.now()), { PX: this.#timeoutMs })
    await this.#commands.sAdd(this.#key('nodes'), this.id)
    const stats = this.#config.stats?.()
    if (stats !== undefined) await this.#commands.hSet(this.#key('stats'), this.id, JSON.stringify(stats))
    const inspection = this.#config.inspection?.()
    if (inspection !== undefined) await this.#commands.hSet(this.#key('inspection'), this.id, JSON.stringify(inspection))
  }

  /**
   * Every live node's stats as of its last heartbeat (at most nodeTimeoutMs / 3 old), this node's fresh. A node
   * listed but no longer beating is left out and makes the answer `partial`.
   */
  async clusterStats(): Promise<ClusterStats> {
    try {
      const ids = await this.#commands.sMembers(this.#key('nodes'))
      const nodes: NodeStats[] = []
      let partial = false
      for (const id of ids) {
        if (id === this.id) {
          // This node's inspection is Parley's own to add (clusterInspect), fresh.
          const own = this.#config.stats?.()
          if (own !== undefined) nodes.push({ node: id, stats: own })
          continue
        }
        const [alive, raw, inspected] = await Promise.all([
          this.#commands.exists(this.#key('node', id)),
          this.#commands.hGet(this.#key('stats'), id),
          this.#commands.hGet(this.#key('inspection'), id),
        ])
        if (alive !== 1 || raw === null || raw === undefined) {
          partial = true
          continue
        }
        // Written by a node of this cluster; one that cannot be read leaves that node out, not every node.
        let entry: NodeStats
        try {
          const inspection = typeof inspected === 'string' ? (JSON.parse(inspected) as NodeInspection) : undefined
          entry = { node: id, stats: JSON.parse(raw) as ParleyStats, ...(inspection === undefined ? {} : { inspection }) }
        } catch {
          this.#logger.warn({ event: 'adapter.corrupt-entry', adapter: 'redis', entry: `stats of node ${id}` }, 'parley redis adapter: unreadable node stats left out')
          partial = true
          continue
        }
        nodes.push(entry)
      }
      return { nodes, partial }
    } catch (error) {
      throw this.#unavailable(error)
    }
  }

  /** Removes the presence of nodes that died without saying goodbye, once each (a lock per dead node). */
  async #sweep(): Promise<void> {
    const nodes = await this.#commands.sMembers(this.#key('nodes'))
    for (const node of nodes) {
      if (node === this.id) continue
      if ((await this.#commands.exists(this.#key('node', node))) === 1) continue
      const locked = await this.#commands.set(this.#key('sweep', node), this.id, { NX: true, PX: this.#timeoutMs })
      if (locked === null) continue
      this.#logger.warn({ event: 'adapter.node-gone', adapter: 'redis', node }, `parley redis adapter: node ${node} is gone; removing its presence`)
      const entries = await this.#commands.sMembers(this.#key('node-entries', node))
      for (const entry of entries) {
        const [room, user, session] = entry.split('\n') as [string, string, string]
        await this.#leave(node, room, user, session)
      }
      await this.#commands.del(this.#key('node-entries', node))
      await this.#commands.hDel(this.#key('stats'), node)
      await this.#commands.hDel(this.#key('inspection'), node)
      await this.#commands.sRem(this.#key('nodes'), node)
    }
  }

  /** After Redis came back (possibly empty), put this node and its presence back. */
  async #reregister(): Promise<void> {
    try {
      await this.#beat()
      if (this.#clusterKey !== undefined) await this.#commands.set(this.#key('cluster-key'), this.#clusterKey, { NX: true })
      for (const [id, leave] of [...this.#pendingLeaves]) {
        await this.#leave(this.id, leave.room, leave.user, leave.session)
        this.#pendingLeaves.delete(id)
      }
      for (const entry of this.#entries.values()) await this.#register(entry)
    } catch (error) {
      this.#logger.warn({ event: 'adapter.reregister-failed', adapter: 'redis', error: describeError(error) }, 'parley redis adapter: re-registration failed; will retry on next reconnect')
    }
  }

  async disconnect(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#heartbeat)
    clearInterval(this.#sweeper)
    // Snapshots waiting for their mark will not get it: they fail now instead of when their timers would.
    for (const mark of [...this.#marks.values()]) mark(false)
    // Bounded: with Redis unreachable, cleanup gives up (peers sweep this node later) rather than hold up shutdown.
    let timer: ReturnType<typeof setTimeout> | undefined
    const giveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000)))
    await Promise.race([this.#cleanUp(), giveUp])
    clearTimeout(timer)
    // quit() waits for a connection; while Redis is unreachable that would hang shutdown, so such clients are destroyed.
    await Promise.allSettled(
      [this.#subscriber, this.#commands].map(async (client) => {
        if (client.isReady) await client.quit()
        else client.destroy()
      }),
    )
  }

  async #cleanUp(): Promise<void> {
    try {
      for (const entry of [...this.#entries.values()]) await this.presenceLeave(entry.room, entry.user, entry.session)
      await this.#commands.del(this.#key('node', this.id))
      await this.#commands.hDel(this.#key('stats'), this.id)
      await this.#commands.hDel(this.#key('inspection'), this.id)
      await this.#commands.sRem(this.#key('nodes'), this.id)
    } catch (error) {
      this.#logger.warn({ event: 'adapter.cleanup-failed', adapter: 'redis', error: describeError(error) }, 'parley redis adapter: could not clean up on disconnect; peers will sweep this node')
    }
  }
}
