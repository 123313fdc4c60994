import type { IncomingMessage } from 'node:http'
import { BYTES_VERSION, decode, isRetryableClose, joinBinaryFrame, parseSubprotocol, SUBPROTOCOL_V1_JSON, type JsonValue, type PresenceMember, type ServerMessage } from '@parley/protocol'
import WebSocket from 'ws'
import type {
  ClientFactory,
  ClientOptions,
  CloseInfo,
  ContractClient,
  ContractError,
  JoinInfo,
  MessageInfo,
  PresenceInfo,
  PublishOptions,
  PublishResult,
  RoomView,
  SignalInfo,
  WelcomeInfo,
} from './types.js'
import { frameFromVector } from './vectors.js'

/** Options of {@link rawClient}. */
export interface RawClientOptions {
  /** Pause before reconnecting after a retryable close. @default 50 */
  readonly reconnectDelayMs?: number
}

/**
 * The raw scripted client: plain `ws`, every frame it sends made from a valid client test vector (`join-all-fields`,
 * `publish-all-fields`, `leave-with-id`, `signal-with-ttl`, `presence-update-with-id`, `authenticate-with-id`,
 * `request-with-input`) with the scenario's values filled in, every frame it receives decoded with `@parley/protocol`
 * (a frame that does not decode is a violation). It adds nothing of its own: no local checks, no client-side
 * de-duplication, so what it records is exactly what the server sent. Use it to test a server (the provider side of
 * the contract).
 */
export function rawClient(options: RawClientOptions = {}): ClientFactory {
  return ({ urls, options: clientOptions, timeoutMs }) => new RawClient(urls, clientOptions, timeoutMs, options.reconnectDelayMs ?? 50)
}

interface RawRoom {
  wanted: boolean
  presence: JsonValue | undefined
  position: { epoch: string; seq: number } | undefined
  readonly joins: JoinInfo[]
  readonly messages: MessageInfo[]
  readonly presenceEvents: PresenceInfo[]
  readonly signals: SignalInfo[]
  readonly members: Map<string, PresenceMember>
  /** Resolvers waiting for this room's next `joined`. */
  readonly waiting: Array<{ resolve: (join: JoinInfo) => void; reject: (error: ContractError) => void }>
}

interface Pending {
  readonly resolve: (message: ServerMessage) => void
  readonly reject: (error: ContractError) => void
  readonly timer: ReturnType<typeof setTimeout>
}

/** The error a close stands for, by the protocol's close-code table. */
function errorOfClose(code: number, reason: string): ContractError {
  const codes: Record<number, string> = {
    1003: 'UNSUPPORTED_DATA',
    1007: 'INVALID_UNICODE',
    1009: 'PAYLOAD_TOO_LARGE',
    4400: 'BAD_REQUEST',
    4401: 'UNAUTHORIZED',
    4403: 'FORBIDDEN',
    4406: 'UNSUPPORTED_VERSION',
    4409: 'TOO_MANY_CONNECTIONS',
    4429: 'RATE_LIMITED',
  }
  return { code: codes[code] ?? 'CONNECTION_CLOSED', message: `closed with ${code}${reason === '' ? '' : `: ${reason}`}`, closeCode: code }
}

class RawClient implements ContractClient {
  readonly welcomes: WelcomeInfo[] = []
  readonly closes: CloseInfo[] = []
  readonly violations: string[] = []
  attempts = 0
  failure: ContractError | undefined
  readonly #urls: readonly string[]
  readonly #options: ClientOptions
  readonly #timeoutMs: number
  readonly #reconnectDelayMs: number
  readonly #rooms = new Map<string, RawRoom>()
  readonly #pending = new Map<string, Pending>()
  #socket: WebSocket | undefined
  #welcomed = false
  #urlIndex = 0
  #ids = 0
  #closing = false
  #retry: ReturnType<typeof setTimeout> | undefined
  #refresh: { id: string | undefined; done: Promise<ContractError | undefined>; settle: (result: ContractError | undefined) => void }
  #closed: Promise<void> = Promise.resolve()

  constructor(urls: readonly string[], options: ClientOptions, timeoutMs: number, reconnectDelayMs: number) {
    this.#urls = urls
    this.#options = options
    this.#timeoutMs = timeoutMs
    this.#reconnectDelayMs = reconnectDelayMs
    let settle: (result: ContractError | undefined) => void = () => undefined
    const done = new Promise<ContractError | undefined>((resolve) => (settle = resolve))
    this.#refresh = { id: undefined, done, settle }
    this.#open()
  }

  #id(prefix: string): string {
    return `${prefix}-${(++this.#ids).toString(36)}`
  }

  #open(): void {
    const url = this.#urls[this.#urlIndex++ % this.#urls.length] as string
    this.attempts++
    const headers: Record<string, string> = {}
    if (this.#options.token !== undefined) headers['authorization'] = `Bearer ${this.#options.token}`
    const socket = new WebSocket(url, [...(this.#options.protocols ?? [SUBPROTOCOL_V1_JSON])], { headers })
    this.#socket = socket
    this.#welcomed = false
    let opened = false
    let refused = false
    let closedResolve: () => void = () => undefined
    this.#closed = new Promise((resolve) => (closedResolve = resolve))
    socket.on('error', () => undefined)
    socket.on('open', () => {
      opened = true
    })
    socket.on('unexpected-response', (_request, response: IncomingMessage) => {
      refused = true
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => {
        socket.terminate()
        let body: Record<string, unknown> = {}
        try {
          const parsed: unknown = JSON.parse(text)
          if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>
        } catch {
          // Not JSON (a proxy's page): the status alone says what happened.
        }
        const list = (value: unknown): string[] | undefined => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined)
        const status = response.statusCode ?? 0
        const error: ContractError = {
          code: typeof body['code'] === 'string' ? body['code'] : `HTTP_${status}`,
          message: typeof body['message'] === 'string' ? body['message'] : `handshake refused with HTTP ${status}`,
          status,
          offered: list(body['offered']),
          supported: list(body['supported']),
        }
        // Protocol §2.4: 503 is retried after a pause; every other refusal is final.
        if (status === 503 && !this.#closing) this.#retry = setTimeout(() => this.#open(), this.#reconnectDelayMs)
        else this.#fail(error)
      })
    })
    socket.on('message', (data, isBinary) => {
      if (socket !== this.#socket) return
      // A binary frame is read only on v2 (protocol §19.1); on v1 decode refuses it, which is a violation.
      this.#receive(isBinary ? new Uint8Array(data as Buffer) : String(data), parseSubprotocol(socket.protocol)?.version ?? 1)
    })
    socket.on('close', (code, reasonBuffer) => {
      closedResolve()
      if (socket !== this.#socket) return
      this.#socket = undefined
      this.#welcomed = false
      if (refused) return
      const reason = reasonBuffer.toString('utf8')
      if (opened) this.closes.push({ code, reason })
      const error = errorOfClose(code, reason)
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer)
        this.#pending.delete(id)
        pending.reject(error)
      }
      if (this.#closing || this.failure !== undefined) return
      if (isRetryableClose(code)) this.#retry = setTimeout(() => this.#open(), this.#reconnectDelayMs)
      else this.#fail(error)
    })
  }

  #fail(error: ContractError): void {
    if (this.failure !== undefined) return
    this.failure = error
    this.#refresh.settle(error)
    for (const room of this.#rooms.values()) for (const waiter of room.waiting.splice(0)) waiter.reject(error)
  }

  #send(frame: string | Uint8Array): boolean {
    const socket = this.#socket
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) return false
    socket.send(frame)
    return true
  }

  /** Sends a request frame with an id and waits for the answer carrying that id. */
  #request(id: string, frame: string | Uint8Array): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      if (!this.#welcomed || !this.#send(frame)) {
        reject({ code: 'NOT_CONNECTED', message: 'the raw client is not connected' } satisfies ContractError)
        return
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject({ code: 'TIMEOUT', message: `no answer to ${id} within ${this.#timeoutMs} ms` } satisfies ContractError)
      }, this.#timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
    })
  }

  #answer(id: string | undefined, message: ServerMessage): boolean {
    if (id === undefined) return false
    const pending = this.#pending.get(id)
    if (pending === undefined) return false
    this.#pending.delete(id)
    clearTimeout(pending.timer)
    if (message.type === 'error') pending.reject({ code: message.code, message: message.message, ...(message.issues === undefined ? {} : { issues: message.issues }) })
    else pending.resolve(message)
    return true
  }

  #roomOf(name: string): RawRoom {
    let room = this.#rooms.get(name)
    if (room === undefined) {
      room = { wanted: false, presence: undefined, position: undefined, joins: [], messages: [], presenceEvents: [], signals: [], members: new Map(), waiting: [] }
      this.#rooms.set(name, room)
    }
    return room
  }

  #sendJoin(name: string, room: RawRoom): void {
    // join-all-fields carries every field a join may have; the ones this join does not need are left out.
    this.#send(
      frameFromVector('join-all-fields', {
        room: name,
        id: this.#id('j'),
        resume: room.position === undefined ? undefined : { epoch: room.position.epoch, seq: room.position.seq },
        presence: room.presence,
      }),
    )
  }

  #receive(frame: string | Uint8Array, version: number): void {
    const result = decode(frame, { from: 'server', limits: { maxPayload: 16 * 1024 * 1024 }, version })
    if (!result.ok) {
      const shown = typeof frame === 'string' ? frame.slice(0, 300) : `${frame.byteLength} binary bytes`
      this.violations.push(`undecodable server frame (${result.error.code}: ${result.error.message}): ${shown}`)
      return
    }
    const message = result.message
    if (!this.#welcomed && message.type !== 'welcome') {
      this.violations.push(`${message.type} before welcome`)
      return
    }
    switch (message.type) {
      case 'welcome': {
        const offered = this.#options.protocols ?? [SUBPROTOCOL_V1_JSON]
        if (!offered.includes(message.protocol)) this.violations.push(`welcome names ${message.protocol}, which was not offered`)
        this.#welcomed = true
        const { session, protocol, version, user, heartbeat, limits, capabilities } = message
        this.welcomes.push({ url: this.#socket?.url ?? '', session, protocol, version, user, heartbeat, limits, capabilities })
        if (this.#options.refreshTo !== undefined && this.#refresh.id === undefined) {
          const id = this.#id('a')
          this.#refresh.id = id
          this.#request(id, frameFromVector('authenticate-with-id', { token: this.#options.refreshTo, id })).then(
            () => this.#refresh.settle(undefined),
            (error: ContractError) => this.#refresh.settle(error),
          )
        }
        for (const [name, room] of this.#rooms) if (room.wanted) this.#sendJoin(name, room)
        return
      }
      case 'joined': {
        const room = this.#rooms.get(message.room)
        if (room === undefined) {
          this.violations.push(`joined for ${message.room}, which this client never joined`)
          return
        }
        const join: JoinInfo = { epoch: message.epoch, seq: message.seq, members: message.members, recovery: message.recovery }
        room.joins.push(join)
        // Protocol §8: the position is the join's head less what the replay that follows will bring.
        room.position = { epoch: message.epoch, seq: message.seq - (message.recovery?.replayed ?? 0) }
        room.members.clear()
        for (const member of message.members) room.members.set(member.user, member)
        for (const waiter of room.waiting.splice(0)) waiter.resolve(join)
        return
      }
      case 'left':
        if (!this.#answer(message.id, message)) {
          const room = this.#rooms.get(message.room)
          if (room !== undefined) room.wanted = false
        }
        return
      case 'message': {
        const room = this.#rooms.get(message.room)
        if (room === undefined) {
          this.violations.push(`message for ${message.room}, which this client never joined`)
          return
        }
        const { seq, epoch, from, ts, data, bytes } = message
        room.messages.push(bytes === undefined ? { seq, epoch, from, ts, data } : { seq, epoch, from, ts, data, bytes })
        room.position = { epoch, seq }
        return
      }
      case 'presence': {
        const room = this.#roomOf(message.room)
        room.presenceEvents.push({ event: message.event, member: message.member })
        if (message.event === 'leave') room.members.delete(message.member.user)
        else room.members.set(message.member.user, message.member)
        return
      }
      case 'signal':
        this.#roomOf(message.room).signals.push({ from: message.from, key: message.key, value: message.value, ttlMs: message.ttlMs, at: Date.now() })
        return
      case 'ack':
      case 'error':
      case 'response':
        this.#answer(message.id, message)
        return
      default:
        return
    }
  }

  join(name: string, options: { readonly presence?: JsonValue | undefined; readonly resume?: boolean | undefined } = {}): Promise<JoinInfo> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    const room = this.#roomOf(name)
    room.wanted = true
    if (options.presence !== undefined) room.presence = options.presence
    if (options.resume === false) room.position = undefined
    const answered = new Promise<JoinInfo>((resolve, reject) => room.waiting.push({ resolve, reject }))
    if (this.#welcomed) this.#sendJoin(name, room)
    return answered
  }

  async leave(name: string): Promise<void> {
    const room = this.#roomOf(name)
    room.wanted = false
    const id = this.#id('l')
    await this.#request(id, frameFromVector('leave-with-id', { room: name, id }))
  }

  async publish(room: string, data: JsonValue, options: PublishOptions = {}): Promise<PublishResult> {
    const id = options.id ?? this.#id('p')
    const text = frameFromVector('publish-all-fields', { room, data, id, echo: options.echo })
    const bytes = options.bytes
    const version = this.welcomes.at(-1)?.version ?? 1
    // Protocol §19.3: bytes need v2; on v1 they are refused here, before anything is sent.
    if (bytes !== undefined && version < BYTES_VERSION) throw { code: 'UNSUPPORTED_DATA', message: `the connection speaks v${version}, which carries no bytes` } satisfies ContractError
    // The header is the vector's publish; the bytes follow it in one binary frame (§19.1).
    const answer = await this.#request(id, bytes === undefined ? text : joinBinaryFrame(text, bytes))
    if (answer.type !== 'ack') throw { code: 'UNEXPECTED_MESSAGE', message: `${answer.type} answered publish ${id}` } satisfies ContractError
    return { seq: answer.seq, epoch: answer.epoch, duplicate: answer.duplicate === true }
  }

  signal(room: string, key: string, value: JsonValue, ttlMs?: number): void {
    this.#send(frameFromVector('signal-with-ttl', { room, key, value, ttlMs }))
  }

  setPresence(name: string, presence: JsonValue): void {
    this.#roomOf(name).presence = presence
    this.#send(frameFromVector('presence-update-with-id', { room: name, presence, id: undefined }))
  }

  async request(name: string, input: JsonValue): Promise<JsonValue> {
    const id = this.#id('r')
    const answer = await this.#request(id, frameFromVector('request-with-input', { id, name, input }))
    if (answer.type !== 'response') throw { code: 'UNEXPECTED_MESSAGE', message: `${answer.type} answered request ${id}` } satisfies ContractError
    return answer.output
  }

  refreshed(): Promise<ContractError | undefined> {
    return this.#refresh.done
  }

  room(name: string): RoomView {
    const room = this.#roomOf(name)
    return {
      joins: room.joins,
      messages: room.messages,
      presence: room.presenceEvents,
      signals: room.signals,
      members: () => [...room.members.values()],
    }
  }

  async close(): Promise<void> {
    this.#closing = true
    clearTimeout(this.#retry)
    const socket = this.#socket
    if (socket === undefined) return
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate()
    else socket.close(1000, 'done')
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([this.#closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)))])
    clearTimeout(timer)
    if (socket.readyState !== WebSocket.CLOSED) socket.terminate()
  }
}
