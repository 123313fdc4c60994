/**
 * The consumer side of the contract: a mock Parley server behind msw's WebSocket interception, whose every answer is
 * a frame made from a valid server test vector (welcome-with-user, joined-with-members, message-basic, ack-publish,
 * ack-duplicate, presence-*, signal-broadcast*, left-with-id, error-with-id-and-room, pong-with-id-and-ts,
 * response-with-output, error-validation-failed-with-issues) with the session's values filled in, and which decodes
 * every client frame with the protocol (a frame that does not decode is a violation). Its session semantics (rooms,
 * seq, history window, presence with grace, signal TTLs, de-duplication, rate limit, version and token checks, the
 * suite's requests checked against REQUESTS_CONTRACT) are protocol.md's, kept small; a slow consumer needs real
 * socket buffers, so that scenario does not apply here.
 */
import {
  asPeer,
  fill,
  frameFromVector,
  REFUSE_CODE,
  REQUESTS_CONTRACT,
  userOfToken,
  vectorMessage,
  type ContractClient,
  type Network,
  type Pairing,
  type PairingSession,
  type ServerSetup,
} from '@parley/contract'
import { sdkClient } from '@parley/contract/parley'
import { websocketTransport } from '@parley/client-sdk'
import {
  decode,
  negotiate,
  SUBPROTOCOL_V1_JSON,
  TOKEN_SUBPROTOCOL_PREFIX,
  validateWith,
  type ClientMessage,
  type ClientMessageOf,
  type JsonValue,
} from '@parley/protocol'
import { ws } from 'msw'
import type { SetupServer } from 'msw/node'

type JsonObject = { [key: string]: JsonValue }
type WsClient = Parameters<Parameters<ReturnType<typeof ws.link>['addEventListener']>[1]>[0]['client']

const HOST = /^c(\d+)-n(\d+)-s(\d+)\.parley\.test$/

interface MockConnection {
  readonly client: WsClient
  readonly session: string
  readonly user: string
  readonly node: number
  readonly rooms: Set<string>
  /** Answers to requests, held briefly and sent in reverse: a client must match answers by id, not by order. */
  readonly answers: string[]
  open: boolean
  tokens: number
  refilledAt: number
}

interface Member {
  presence: JsonValue
  readonly connections: Set<MockConnection>
}

interface MockRoom {
  readonly epoch: string
  seq: number
  readonly history: JsonObject[]
  readonly members: Map<string, Member>
  readonly subscribers: Set<MockConnection>
  readonly signals: Map<string, ReturnType<typeof setTimeout>>
}

/** One mock server (all its nodes share rooms), for one scenario. */
class VectorServer {
  readonly violations: string[] = []
  readonly #setup: ServerSetup
  readonly #id: number
  readonly #rooms = new Map<string, MockRoom>()
  readonly #dedup = new Map<string, { seq: number; epoch: string }>()
  readonly #connections = new Set<MockConnection>()
  readonly #down = new Set<number>()
  readonly #offline = new Set<number>()
  readonly #current = new Map<number, MockConnection>()
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  #sessions = 0

  constructor(id: number, setup: ServerSetup) {
    this.#id = id
    this.#setup = setup
  }

  url(clientKey: number, node: number): string {
    return `ws://c${clientKey}-n${node}-s${this.#id}.parley.test/parley`
  }

  /** A new connection to `node` from client `clientKey`: refuse it as the protocol says, or welcome it. */
  accept(client: WsClient, protocols: readonly string[], node: number, clientKey: number): void {
    if (this.#down.has(node) || this.#offline.has(clientKey)) {
      client.close(1006, '')
      return
    }
    const token = protocols.find((entry) => entry.startsWith(TOKEN_SUBPROTOCOL_PREFIX))?.slice(TOKEN_SUBPROTOCOL_PREFIX.length)
    // Made from v1's vectors, the mock speaks v1 only: the v1-only server of the bytes-v1-server scenario.
    const negotiated = negotiate(protocols, [SUBPROTOCOL_V1_JSON])
    if (!negotiated.ok) {
      // In band, where msw has no HTTP answer to give: close 4406 naming both sides (protocol §2.6, §14).
      client.close(4406, `No common protocol version: server speaks ${negotiated.supported.join(', ')}; client offered ${negotiated.offered.join(', ') || 'none'}`)
      return
    }
    const session = `s${this.#id}-${++this.#sessions}`
    const user = this.#setup.auth ? userOfToken(token) : session
    if (user === null) {
      client.close(4401, 'Authentication failed')
      return
    }
    const connection: MockConnection = { client, session, user, node, rooms: new Set(), answers: [], open: true, tokens: this.#setup.rate.messages, refilledAt: Date.now() }
    this.#connections.add(connection)
    this.#current.set(clientKey, connection)
    client.addEventListener('message', (event) => this.#receive(connection, event.data))
    client.addEventListener('close', (event) => this.#ended(connection, event.code))
    const template = vectorMessage('welcome-with-user')
    this.#send(
      connection,
      frameFromVector('welcome-with-user', {
        session,
        protocol: negotiated.protocol,
        version: negotiated.version,
        limits: fill(template['limits'] as JsonObject, { maxPayload: this.#setup.maxPayload, rate: { ...this.#setup.rate } }),
        capabilities: [...(template['capabilities'] as string[]), ...(this.#setup.requests ? ['requests'] : [])],
        user,
      }),
    )
  }

  network(clientKey: number): Network {
    const drop = (): void => {
      const connection = this.#current.get(clientKey)
      if (connection !== undefined) this.#close(connection, 1006, '')
    }
    const unsupported = (): never => {
      throw new Error('the msw mock has no socket buffers to stall')
    }
    return {
      drop,
      offline: () => {
        this.#offline.add(clientKey)
        drop()
      },
      online: () => void this.#offline.delete(clientKey),
      stall: unsupported,
      resume: unsupported,
    }
  }

  /** Graceful shutdown of a node: 1001 to its connections, refuse new ones. */
  shutdown(node: number): void {
    this.#down.add(node)
    for (const connection of [...this.#connections]) if (connection.node === node) this.#close(connection, 1001, 'server shutting down; reconnect', true)
  }

  close(): void {
    for (const connection of [...this.#connections]) this.#close(connection, 1001, 'done', true)
    for (const timer of this.#timers) clearTimeout(timer)
    for (const room of this.#rooms.values()) for (const timer of room.signals.values()) clearTimeout(timer)
  }

  #later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      run()
    }, ms)
    this.#timers.add(timer)
  }

  #send(connection: MockConnection, frame: string): void {
    // The mock's own answers must be valid server frames: a vector that drifted from the protocol fails here.
    const check = decode(frame, { from: 'server', limits: { maxPayload: 16 * 1024 * 1024 } })
    if (!check.ok) throw new Error(`the mock built an invalid frame (${check.error.message}): ${frame}`)
    if (connection.open) connection.client.send(frame)
  }

  #close(connection: MockConnection, code: number, reason: string, graceful = false): void {
    if (!connection.open) return
    connection.client.close(code, reason)
    this.#ended(connection, code, graceful)
  }

  #ended(connection: MockConnection, code: number, graceful = false): void {
    if (!connection.open) return
    connection.open = false
    this.#connections.delete(connection)
    // A clean close (the client's 1000) or a graceful shutdown leaves presence at once; anything else after the grace.
    const clean = code === 1000 || graceful
    for (const name of connection.rooms) this.#leaveRoom(connection, name, clean)
  }

  #room(name: string): MockRoom {
    let room = this.#rooms.get(name)
    if (room === undefined) {
      room = { epoch: `e${this.#id}-${this.#rooms.size + 1}`, seq: 0, history: [], members: new Map(), subscribers: new Set(), signals: new Map() }
      this.#rooms.set(name, room)
    }
    return room
  }

  #member(room: MockRoom, user: string): JsonObject {
    const member = room.members.get(user)
    const template = (vectorMessage('joined-with-members')['members'] as JsonObject[])[0] as JsonObject
    return fill(template, { user, presence: member?.presence ?? null, connections: member?.connections.size ?? 0 })
  }

  #presence(room: MockRoom, name: string, event: 'join' | 'leave' | 'update', user: string, except?: MockConnection): void {
    const vector = event === 'join' ? 'presence-join' : event === 'leave' ? 'presence-leave' : 'presence-update-event'
    const frame = frameFromVector(vector, { room: name, member: this.#member(room, user) })
    for (const subscriber of room.subscribers) if (subscriber !== except) this.#send(subscriber, frame)
  }

  #leaveRoom(connection: MockConnection, name: string, clean: boolean): void {
    const room = this.#rooms.get(name)
    connection.rooms.delete(name)
    if (room === undefined) return
    room.subscribers.delete(connection)
    const leave = (): void => {
      const member = room.members.get(connection.user)
      if (member === undefined || !member.connections.delete(connection) || member.connections.size > 0) return
      room.members.delete(connection.user)
      this.#presence(room, name, 'leave', connection.user)
    }
    if (clean || this.#setup.presenceGraceMs === 0) leave()
    else this.#later(this.#setup.presenceGraceMs, leave)
  }

  #error(connection: MockConnection, code: string, message: string, id: string | undefined, room: string | undefined): void {
    this.#send(connection, frameFromVector('error-with-id-and-room', { code, message, id, room }))
  }

  #receive(connection: MockConnection, data: unknown): void {
    if (!connection.open) return
    const result = decode(data, { from: 'client', limits: { maxPayload: this.#setup.maxPayload } })
    if (!result.ok) {
      this.violations.push(`undecodable client frame (${result.error.code}: ${result.error.message}): ${String(data).slice(0, 200)}`)
      if (result.error.code === 'PAYLOAD_TOO_LARGE') this.#close(connection, 1009, 'message too big')
      else if (result.error.code === 'UNSUPPORTED_DATA') this.#close(connection, 1003, 'binary frame')
      else this.#error(connection, result.error.code, result.error.message, result.error.details.id, undefined)
      return
    }
    this.#handle(connection, result.message)
  }

  #handle(connection: MockConnection, message: ClientMessage): void {
    switch (message.type) {
      case 'authenticate': {
        const user = this.#setup.auth ? userOfToken(message.token) : connection.user
        if (user !== connection.user) {
          this.#error(connection, 'UNAUTHORIZED', 'Token refresh rejected', message.id, undefined)
          this.#close(connection, 4401, 'unauthorized')
        } else if (message.id !== undefined) {
          this.#send(connection, frameFromVector('ack-minimal', { id: message.id }))
        }
        return
      }
      case 'join':
        return this.#join(connection, message)
      case 'leave':
        this.#leaveRoom(connection, message.room, true)
        this.#send(connection, frameFromVector('left-with-id', { room: message.room, id: message.id }))
        return
      case 'publish':
        return this.#publish(connection, message)
      case 'signal':
        return this.#signal(connection, message)
      case 'presence-update': {
        const room = this.#rooms.get(message.room)
        const member = room?.members.get(connection.user)
        if (room === undefined || member === undefined || !connection.rooms.has(message.room)) {
          return this.#error(connection, 'NOT_JOINED', 'Not a member of this room', message.id, message.room)
        }
        member.presence = message.presence
        this.#presence(room, message.room, 'update', connection.user)
        return
      }
      case 'ping':
        this.#send(connection, frameFromVector('pong-with-id-and-ts', { id: message.id, ts: message.ts }))
        return
      case 'request':
        return this.#request(connection, message)
    }
  }

  /** The suite's requests (protocol §6.10), their input checked against REQUESTS_CONTRACT as a server of any stack would. */
  #request(connection: MockConnection, message: ClientMessageOf<'request'>): void {
    const error = (code: string, text: string): string => frameFromVector('error-with-id-and-room', { code, message: text, id: message.id, room: undefined })
    const contract = this.#setup.requests ? REQUESTS_CONTRACT.request(message.name) : undefined
    if (contract === undefined) return this.#answerLater(connection, error('UNKNOWN_REQUEST', `No handler for request ${message.name}`))
    const checked = validateWith(contract.input, message.input)
    if ('issues' in checked) {
      const issues = checked.issues.map((issue) => ({ path: issue.path, message: issue.message }))
      const frame = frameFromVector('error-validation-failed-with-issues', { message: `request ${message.name}: input is invalid`, id: message.id, room: undefined, issues })
      return this.#answerLater(connection, frame)
    }
    if (message.name === 'refuse') return this.#answerLater(connection, error(REFUSE_CODE, "I'm a teapot"))
    const output = message.name === 'whoami' ? (this.#setup.auth ? connection.user : null) : message.input
    this.#answerLater(connection, frameFromVector('response-with-output', { id: message.id, output }))
  }

  #answerLater(connection: MockConnection, frame: string): void {
    if (connection.answers.push(frame) > 1) return
    this.#later(10, () => {
      for (const held of connection.answers.splice(0).reverse()) this.#send(connection, held)
    })
  }

  #join(connection: MockConnection, message: ClientMessageOf<'join'>): void {
    const room = this.#room(message.room)
    const presence = message.presence ?? room.members.get(connection.user)?.presence ?? null
    let member = room.members.get(connection.user)
    const first = member === undefined
    if (member === undefined) {
      member = { presence, connections: new Set() }
      room.members.set(connection.user, member)
    } else if (message.presence !== undefined) {
      member.presence = message.presence
    }
    member.connections.add(connection)
    if (first) this.#presence(room, message.room, 'join', connection.user, connection)
    connection.rooms.add(message.room)
    room.subscribers.add(connection)

    // Recovery (protocol §8): exact replay within the window, the kept tail and the gap beyond it, a new stream on another epoch.
    const resume = message.resume
    let recovery: JsonObject | null = null
    let replay: JsonObject[] = []
    if (resume !== undefined) {
      if (resume.epoch !== room.epoch || resume.seq > room.seq) {
        replay = [...room.history]
        recovery = fill(vectorMessage('joined-gap-epoch-changed')['recovery'] as JsonObject, { replayed: replay.length })
      } else {
        replay = room.history.filter((kept) => (kept['seq'] as number) > resume.seq)
        const oldest = (room.history[0]?.['seq'] as number | undefined) ?? room.seq + 1
        if (oldest <= resume.seq + 1) {
          recovery = fill(vectorMessage('joined-recovered')['recovery'] as JsonObject, { recovered: true, replayed: replay.length, gap: null })
        } else {
          const template = vectorMessage('joined-gap-window-exceeded')['recovery'] as JsonObject
          recovery = fill(template, { replayed: replay.length, gap: fill(template['gap'] as JsonObject, { from: resume.seq + 1, to: oldest - 1 }) })
        }
      }
    }
    this.#send(
      connection,
      frameFromVector('joined-with-members', {
        room: message.room,
        id: message.id,
        epoch: room.epoch,
        seq: room.seq,
        members: [...room.members.keys()].map((user) => this.#member(room, user)),
        recovery,
      }),
    )
    for (const kept of replay) this.#send(connection, JSON.stringify(kept))
  }

  #publish(connection: MockConnection, message: ClientMessageOf<'publish'>): void {
    const room = this.#rooms.get(message.room)
    if (room === undefined || !connection.rooms.has(message.room)) {
      return this.#error(connection, 'NOT_JOINED', 'Not a member of this room', message.id, message.room)
    }
    const now = Date.now()
    const { messages, perMs } = this.#setup.rate
    connection.tokens = Math.min(messages, connection.tokens + ((now - connection.refilledAt) * messages) / perMs)
    connection.refilledAt = now
    if (connection.tokens < 1) return this.#error(connection, 'RATE_LIMITED', 'Rate limit exceeded for publish', message.id, message.room)
    connection.tokens -= 1
    const key = message.id === undefined ? undefined : `${connection.user}\u0000${message.id}`
    const seen = key === undefined ? undefined : this.#dedup.get(key)
    if (seen !== undefined) {
      this.#send(connection, frameFromVector('ack-duplicate', { id: message.id, room: message.room, seq: seen.seq, epoch: seen.epoch }))
      return
    }
    room.seq += 1
    const stored = JSON.parse(
      frameFromVector('message-basic', { room: message.room, seq: room.seq, epoch: room.epoch, from: connection.user, ts: now, data: message.data }),
    ) as JsonObject
    room.history.push(stored)
    if (room.history.length > this.#setup.historySize) room.history.shift()
    if (key !== undefined) this.#dedup.set(key, { seq: room.seq, epoch: room.epoch })
    const frame = JSON.stringify(stored)
    for (const subscriber of room.subscribers) if (message.echo !== false || subscriber !== connection) this.#send(subscriber, frame)
    if (message.id !== undefined) {
      this.#send(connection, frameFromVector('ack-publish', { id: message.id, room: message.room, seq: room.seq, epoch: room.epoch }))
    }
  }

  #signal(connection: MockConnection, message: ClientMessageOf<'signal'>): void {
    const room = this.#rooms.get(message.room)
    if (room === undefined || !connection.rooms.has(message.room)) {
      return this.#error(connection, 'NOT_JOINED', 'Not a member of this room', undefined, message.room)
    }
    const key = `${connection.user}\u0000${message.key}`
    const others = (frame: string): void => {
      for (const subscriber of room.subscribers) if (subscriber.user !== connection.user) this.#send(subscriber, frame)
    }
    const cleared = frameFromVector('signal-broadcast-cleared', { room: message.room, from: connection.user, key: message.key })
    clearTimeout(room.signals.get(key))
    room.signals.delete(key)
    if (message.value === null) return others(cleared)
    const ttlMs = message.ttlMs ?? 5_000
    others(frameFromVector('signal-broadcast', { room: message.room, from: connection.user, key: message.key, value: message.value, ttlMs }))
    room.signals.set(
      key,
      setTimeout(() => {
        room.signals.delete(key)
        others(cleared)
      }, ttlMs),
    )
  }
}

/**
 * The client SDK (default transport: the global WebSocket, which msw intercepts) against {@link VectorServer}s.
 * `mock` must be listening; the pairing adds its one handler on first use.
 */
export function mswVectorPairing(mock: SetupServer): Pairing {
  const servers = new Map<number, VectorServer>()
  let installed = false
  let nextServer = 0
  let nextClient = 0
  const install = (): void => {
    if (installed) return
    installed = true
    mock.use(
      ws.link(/^ws:\/\/[a-z0-9-]+\.parley\.test\/parley/).addEventListener('connection', ({ client, info }) => {
        const match = HOST.exec(client.url.hostname)
        const server = match === null ? undefined : servers.get(Number(match[3]))
        if (match === null || server === undefined) {
          client.close(1011, 'no such mock server')
          return
        }
        const protocols = info.protocols === undefined ? [] : typeof info.protocols === 'string' ? [info.protocols] : [...info.protocols]
        server.accept(client, protocols, Number(match[2]), Number(match[1]))
      }),
    )
  }
  return {
    name: 'sdk ↔ msw mock (vectors)',
    notApplicable: {
      'slow-consumer-cut-off': "needs a real server's socket buffers and its slow-consumer detection; a mock has neither",
      'bytes-v2': 'the mock is made from protocol v1 vectors and speaks v1 only',
      'bytes-to-v1-member': 'the mock is made from protocol v1 vectors and speaks v1 only',
    },
    async start(setup, { timeoutMs }): Promise<PairingSession> {
      install()
      const id = ++nextServer
      const server = new VectorServer(id, setup)
      servers.set(id, server)
      const clients: ContractClient[] = []
      return {
        async connect(options = {}) {
          const key = ++nextClient
          const urls = (options.nodes ?? [0]).map((node) => server.url(key, node))
          const client = sdkClient(urls, options, { transport: websocketTransport(), timeoutMs })
          clients.push(client)
          return asPeer(client, server.network(key), urls)
        },
        shutdown: async (node) => server.shutdown(node),
        violations: () => server.violations,
        async close() {
          await Promise.allSettled(clients.map((client) => client.close()))
          server.close()
          servers.delete(id)
        },
      }
    },
  }
}
