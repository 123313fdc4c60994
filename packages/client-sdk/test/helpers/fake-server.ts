import { createLoopbackTransport, type LoopbackClientEnd, type TransportFactory } from '@parley/client-sdk'
import {
  SUBPROTOCOL_V1_JSON,
  decode,
  encode,
  type ClientMessage,
  type ClientMessageOf,
  type RoomMessage,
  type ServerMessage,
  type WelcomeMessage,
} from '@parley/protocol'

/** A `welcome` with protocol defaults; override what a test cares about. */
export function welcomeMessage(overrides: Partial<WelcomeMessage> = {}): WelcomeMessage {
  return {
    type: 'welcome',
    session: 's-1',
    protocol: SUBPROTOCOL_V1_JSON,
    version: 1,
    heartbeat: { intervalMs: 25_000, timeoutMs: 20_000 },
    limits: { maxPayload: 65_536, maxRooms: 100, rate: { messages: 50, perMs: 1_000 } },
    capabilities: ['presence', 'signals', 'recovery', 'dedup', 'direct', 'history', 'search'],
    user: 'u-1',
    ...overrides,
  }
}

/** One client connection as the fake server sees it: a queue of decoded client messages, and ways to answer. */
export interface FakeConnection {
  readonly end: LoopbackClientEnd
  /** Every message the client sent on this connection, in order. */
  readonly received: ClientMessage[]
  /** The next message not yet taken (of `type`, skipping others, when given); waits for it. */
  next<T extends ClientMessage['type']>(type?: T): Promise<ClientMessageOf<T>>
  /** Encodes (and so validates) a server message and sends it. */
  send(message: ServerMessage): void
  /** Sends a frame as is: for invalid frames. */
  sendRaw(frame: string | Uint8Array): void
  close(code: number, reason?: string): void
  /** Resolves with the close, from either side. */
  readonly closed: Promise<{ code: number; reason: string }>
  readonly isClosed: boolean
  /** Extra handling of each client message (the room server uses it); runs after the message is queued. */
  onMessage(listener: (message: ClientMessage) => void): void
}

/** What the fake server does with a handshake: accept (and send `welcome`), or refuse with an HTTP status. */
export type Handshake =
  | { readonly accept: true; readonly protocol?: string; readonly welcome?: WelcomeMessage | false }
  | { readonly accept: false; readonly status: number; readonly body?: unknown }

/** A scripted server over the loopback transport. */
export interface FakeServer {
  /** The `transport` option for `createClient()`. */
  readonly transport: TransportFactory
  /** Every connection so far. */
  readonly connections: FakeConnection[]
  /** Every handshake request so far (accepted or not). */
  readonly requests: LoopbackClientEnd['request'][]
  /** The next connection not yet taken (accepted ones only). */
  nextConnection(): Promise<FakeConnection>
  /** Decides each handshake; the default accepts with `parley.v1.json` and sends {@link welcomeMessage}. */
  handshake: (end: LoopbackClientEnd) => Handshake
  /** Runs for each new accepted connection, before its welcome is sent. */
  onConnection(listener: (connection: FakeConnection) => void): void
}

/** A promise queue: `take()` waits for the next `put()` (or returns one already put). */
function queue<T>(): { put(value: T): void; take(match?: (value: T) => boolean): Promise<T> } {
  const values: T[] = []
  const waiters: Array<{ match: (value: T) => boolean; resolve: (value: T) => void }> = []
  return {
    put(value) {
      const index = waiters.findIndex((waiter) => waiter.match(value))
      if (index === -1) values.push(value)
      else waiters.splice(index, 1)[0]?.resolve(value)
    },
    take(match = () => true) {
      const index = values.findIndex(match)
      if (index !== -1) return Promise.resolve(values.splice(index, 1)[0] as T)
      return new Promise((resolve) => waiters.push({ match, resolve }))
    },
  }
}

/** Creates a {@link FakeServer}. Frames in both directions go through the protocol's `encode`/`decode`. */
export function createFakeServer(welcome: Partial<WelcomeMessage> = {}): FakeServer {
  const accepted = queue<FakeConnection>()
  const listeners: Array<(connection: FakeConnection) => void> = []
  let sessions = 0
  const server: FakeServer = {
    connections: [],
    requests: [],
    nextConnection: () => accepted.take(),
    handshake: () => ({ accept: true }),
    onConnection: (listener) => void listeners.push(listener),
    transport: createLoopbackTransport((end) => {
      server.requests.push(end.request)
      const decision = server.handshake(end)
      if (!decision.accept) return end.reject(decision.status, decision.body)
      const connection = wrap(end)
      server.connections.push(connection)
      end.accept(decision.protocol ?? SUBPROTOCOL_V1_JSON)
      for (const listener of listeners) listener(connection)
      if (decision.welcome !== false) connection.send(decision.welcome ?? welcomeMessage({ session: `s-${++sessions}`, ...welcome }))
      accepted.put(connection)
    }),
  }
  return server
}

function wrap(end: LoopbackClientEnd): FakeConnection {
  const inbox = queue<ClientMessage>()
  const extra: Array<(message: ClientMessage) => void> = []
  let isClosed = false
  let onClosed: (close: { code: number; reason: string }) => void = () => undefined
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve))
  const received: ClientMessage[] = []
  end.onMessage((frame) => {
    const result = decode(frame, { from: 'client' })
    if (!result.ok) throw new Error(`The client sent an invalid frame: ${result.error.message}`)
    received.push(result.message)
    inbox.put(result.message)
    for (const listener of extra) listener(result.message)
  })
  end.onClose((code, reason) => {
    isClosed = true
    onClosed({ code, reason })
  })
  return {
    end,
    received,
    next: <T extends ClientMessage['type']>(type?: T) =>
      inbox.take((message) => type === undefined || message.type === type) as Promise<ClientMessageOf<T>>,
    send: (message) => end.send(encode(message)),
    sendRaw: (frame) => end.send(frame),
    close: (code, reason) => end.close(code, reason),
    closed,
    get isClosed() {
      return isClosed
    },
    onMessage: (listener) => void extra.push(listener),
  }
}

/** Options of {@link createRoomServer}. */
export interface RoomServerOptions {
  /** Messages kept per room for recovery. @default 100 */
  readonly historySize?: number
  readonly welcome?: Partial<WelcomeMessage>
}

/** One room of the {@link RoomServer}. */
export interface FakeRoom {
  epoch: string
  seq: number
  history: RoomMessage[]
  readonly members: Set<FakeConnection>
}

/**
 * A tiny scripted server with rooms, per-room seq/epoch, a bounded history with resume, publish de-duplication by id,
 * acks and pongs: enough of the lead's semantics to drive reconnect and recovery scenarios deterministically.
 */
export interface RoomServer extends FakeServer {
  readonly rooms: Map<string, FakeRoom>
  /** Stop answering anything on this connection (a half-open peer that never closes). */
  silence(connection: FakeConnection): void
  /** Publishes from the server side (`from: null`), fanning out to members. */
  publish(room: string, data: RoomMessage['data']): RoomMessage
  /** Drops every connection with `code` (1012 by default); with `loseHistory`, rooms restart in a new epoch. */
  restart(options?: { code?: number; loseHistory?: boolean }): void
  /** Publish ids already accepted (the de-duplication window). */
  readonly seen: Map<string, { room: string; seq: number; epoch: string }>
}

/** Creates a {@link RoomServer}. */
export function createRoomServer(options: RoomServerOptions = {}): RoomServer {
  const historySize = options.historySize ?? 100
  const base = createFakeServer(options.welcome)
  const rooms = new Map<string, FakeRoom>()
  const seen = new Map<string, { room: string; seq: number; epoch: string }>()
  const silenced = new Set<FakeConnection>()
  let epochs = 0
  const roomOf = (name: string): FakeRoom => {
    let room = rooms.get(name)
    if (room === undefined) {
      room = { epoch: `e${++epochs}`, seq: 0, history: [], members: new Set() }
      rooms.set(name, room)
    }
    return room
  }
  const fanOut = (name: string, room: FakeRoom, data: RoomMessage['data'], from: string | null, except?: FakeConnection): RoomMessage => {
    const message: RoomMessage = { type: 'message', room: name, seq: ++room.seq, epoch: room.epoch, from, ts: 1_700_000_000_000 + room.seq, data }
    room.history.push(message)
    if (room.history.length > historySize) room.history.shift()
    for (const member of room.members) if (member !== except && !silenced.has(member)) member.send(message)
    return message
  }

  base.onConnection((connection) => {
    connection.onMessage((message) => {
      if (silenced.has(connection)) return
      switch (message.type) {
        case 'join': {
          const room = roomOf(message.room)
          room.members.add(connection)
          const resume = message.resume
          let recovery = null
          let replay: RoomMessage[] = []
          if (resume !== undefined) {
            if (resume.epoch !== room.epoch) {
              recovery = { recovered: false, replayed: 0, gap: { reason: 'epoch-changed' as const } }
            } else {
              replay = room.history.filter((m) => m.seq > resume.seq)
              const first = replay[0]?.seq ?? room.seq + 1
              const recovered = first <= resume.seq + 1
              recovery = {
                recovered,
                replayed: replay.length,
                gap: recovered ? null : { reason: 'window-exceeded' as const, from: resume.seq + 1, to: first - 1 },
              }
            }
          }
          connection.send({
            type: 'joined',
            room: message.room,
            ...(message.id === undefined ? {} : { id: message.id }),
            epoch: room.epoch,
            seq: room.seq,
            members: [{ user: 'u-1', presence: message.presence ?? null, connections: 1 }],
            recovery,
          })
          for (const replayed of replay) connection.send(replayed)
          return
        }
        case 'leave':
          rooms.get(message.room)?.members.delete(connection)
          connection.send({ type: 'left', room: message.room, ...(message.id === undefined ? {} : { id: message.id }) })
          return
        case 'publish': {
          const room = rooms.get(message.room)
          if (room === undefined || !room.members.has(connection)) {
            connection.send({ type: 'error', code: 'NOT_JOINED', message: 'Not joined', ...(message.id === undefined ? {} : { id: message.id }), room: message.room })
            return
          }
          const previous = message.id === undefined ? undefined : seen.get(message.id)
          if (previous !== undefined && message.id !== undefined) {
            connection.send({ type: 'ack', id: message.id, room: previous.room, seq: previous.seq, epoch: previous.epoch, duplicate: true })
            return
          }
          const sent = fanOut(message.room, room, message.data, 'u-1', message.echo === false ? connection : undefined)
          if (message.id !== undefined) {
            seen.set(message.id, { room: message.room, seq: sent.seq, epoch: sent.epoch })
            connection.send({ type: 'ack', id: message.id, room: message.room, seq: sent.seq, epoch: sent.epoch })
          }
          return
        }
        case 'ping':
          connection.send({ type: 'pong', ...(message.id === undefined ? {} : { id: message.id }), ...(message.ts === undefined ? {} : { ts: message.ts }) })
          return
        case 'authenticate':
          if (message.id !== undefined) connection.send({ type: 'ack', id: message.id })
          return
        default:
          return
      }
    })
    connection.closed.then(() => {
      for (const room of rooms.values()) room.members.delete(connection)
    })
  })

  return Object.assign(base, {
    rooms,
    seen,
    silence: (connection: FakeConnection) => void silenced.add(connection),
    publish: (name: string, data: RoomMessage['data']) => fanOut(name, roomOf(name), data, null),
    restart({ code = 1012, loseHistory = false }: { code?: number; loseHistory?: boolean } = {}) {
      for (const connection of base.connections) if (!connection.isClosed) connection.close(code, 'restart')
      for (const room of rooms.values()) {
        room.members.clear()
        if (loseHistory) {
          room.epoch = `e${++epochs}`
          room.seq = 0
          room.history = []
        }
      }
    },
  })
}
