import {
  createClient,
  UnsupportedProtocolError,
  httpStreamTransport,
  websocketTransport,
  type ParleyClientError,
  type Room,
  type TransportFactory,
} from '@parley/client-sdk'
import { decode, parseSubprotocol, SUBPROTOCOL_V1_JSON, type JsonValue } from '@parley/protocol'
import type {
  ClientFactory,
  ClientOptions,
  CloseInfo,
  ContractClient,
  ContractError,
  JoinInfo,
  MessageInfo,
  PresenceInfo,
  RoomView,
  SignalInfo,
  WelcomeInfo,
} from './types.js'

/** Rewrites frames on their way out of a client: for negative tests that prove the suite notices a broken encoder. */
export type FrameTransform = (frame: string) => string

/** Options of {@link parleyClient} and {@link sdkClient}. */
export interface ParleyClientOptions {
  /**
   * `ws`: the SDK's WebSocket transport on the `ws` package (token as `Authorization`, refused handshakes read).
   * `native`: the runtime's global WebSocket (browsers; Node 22+, or Node 20 with `--experimental-websocket`): the
   * token travels as a `parley.token.*` subprotocol entry and refused handshakes look like drops.
   * `http-stream`: the SDK's HTTP stream transport (server-sent events down, POSTs up) on the runtime's `fetch`.
   * @default 'ws'
   */
  readonly transport?: 'ws' | 'native' | 'http-stream' | undefined
  /** Rewrites every outgoing frame (negative tests only). */
  readonly outgoing?: FrameTransform | undefined
}

/** The Parley client SDK as a contract client over WebSocket URLs. */
export function parleyClient(options: ParleyClientOptions = {}): ClientFactory {
  return ({ urls, options: clientOptions, timeoutMs }) => {
    if (options.transport === 'native' && typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'function') {
      throw new Error('parleyClient({ transport: "native" }) needs a global WebSocket (Node 22+, or Node 20 with --experimental-websocket)')
    }
    const transport =
      options.transport === 'native' ? websocketTransport() : options.transport === 'http-stream' ? httpStreamTransport() : websocketTransport({ preferWs: true })
    return sdkClient(urls, clientOptions, { transport, timeoutMs, outgoing: options.outgoing })
  }
}

const toContractError = (error: ParleyClientError): ContractError => ({
  code: error.code,
  message: error.message,
  closeCode: error.closeCode,
  status: error.status,
  ...(error.issues === undefined ? {} : { issues: error.issues }),
  ...(error instanceof UnsupportedProtocolError ? { offered: error.offered, supported: error.supported } : {}),
})

/** The error a rejection carried, as a {@link ContractError}. */
const asContractError = (error: unknown): ContractError =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
    ? toContractError(error as ParleyClientError)
    : { code: 'UNKNOWN', message: String(error) }

interface SdkRoom {
  handle: Room | undefined
  readonly joins: JoinInfo[]
  readonly messages: MessageInfo[]
  readonly presence: PresenceInfo[]
  readonly signals: SignalInfo[]
}

/**
 * The Parley client SDK (`createClient`) driven as a {@link ContractClient} over any transport. The transport is
 * tapped, not changed: the tap counts attempts, sees closes of open connections, decodes inbound frames to report
 * any the protocol refuses, and follows an in-band refresh to its answer. Everything else is read from the SDK's
 * own events and promises, so this measures what an application using the SDK would see.
 */
export function sdkClient(
  urls: readonly string[],
  options: ClientOptions,
  context: { readonly transport: TransportFactory; readonly timeoutMs: number; readonly outgoing?: FrameTransform | undefined },
): ContractClient {
  const welcomes: WelcomeInfo[] = []
  const closes: CloseInfo[] = []
  const violations: string[] = []
  const rooms = new Map<string, SdkRoom>()
  let attempts = 0
  let failure: ContractError | undefined
  let lastError: ParleyClientError | undefined
  let closedByUs = false
  let refreshId: string | undefined
  let settleRefresh: (result: ContractError | undefined) => void = () => undefined
  const refreshed = new Promise<ContractError | undefined>((resolve) => (settleRefresh = resolve))

  const tapped: TransportFactory = (request) => {
    attempts++
    const inner = context.transport(request)
    let opened = false
    return {
      get protocol() {
        return inner.protocol
      },
      get bufferedAmount() {
        return inner.bufferedAmount
      },
      get binary() {
        return inner.binary
      },
      send(frame) {
        // A binary frame (v2 bytes) goes through untouched: fault injection works on text.
        if (typeof frame !== 'string') return inner.send(frame)
        const out = context.outgoing === undefined ? frame : context.outgoing(frame)
        if (options.refreshTo !== undefined && refreshId === undefined) {
          const sent = decode(frame, { from: 'client', limits: { maxPayload: 16 * 1024 * 1024 } })
          if (sent.ok && sent.message.type === 'authenticate' && sent.message.token === options.refreshTo) refreshId = sent.message.id
        }
        inner.send(out)
      },
      close: (code, reason) => inner.close(code, reason),
      onOpen: (listener) =>
        inner.onOpen(() => {
          opened = true
          listener()
        }),
      onMessage: (listener) =>
        inner.onMessage((frame) => {
          // At the negotiated version: a binary frame is a violation on v1 and a message with bytes on v2.
          const version = parseSubprotocol(inner.protocol)?.version ?? 1
          const result = decode(frame, { from: 'server', limits: { maxPayload: 16 * 1024 * 1024 }, version })
          if (!result.ok) violations.push(`undecodable server frame (${result.error.code}: ${result.error.message}): ${String(frame).slice(0, 300)}`)
          else if (refreshId !== undefined && (result.message.type === 'ack' || result.message.type === 'error') && result.message.id === refreshId) {
            settleRefresh(result.message.type === 'ack' ? undefined : { code: result.message.code, message: result.message.message })
          }
          listener(frame)
        }),
      onClose: (listener) =>
        inner.onClose((code, reason) => {
          if (opened) closes.push({ code, reason })
          listener(code, reason)
        }),
      onError: (listener) => inner.onError(listener),
    }
  }

  const client = createClient(urls, {
    ...(options.token === undefined ? {} : { token: options.token }),
    subprotocols: options.protocols ?? [SUBPROTOCOL_V1_JSON],
    transport: tapped,
    // Short, jittered retries: scenarios wait for reconnects, and the backoff policy itself is unit-tested in the SDK.
    reconnect: { initialDelayMs: 50, maxDelayMs: 250 },
    ackTimeoutMs: context.timeoutMs,
    connectTimeoutMs: context.timeoutMs,
    // With refreshTo, the first token is due at once (the client's view; the server keeps the session), so the SDK
    // refreshes in band right after the welcome.
    ...(options.refreshTo === undefined
      ? {}
      : {
          tokenExpiresAt: Date.now(),
          refreshBeforeMs: 3_600_000,
          getToken: () => ({ token: options.refreshTo as string, expiresAt: Date.now() + 7_200_000 }),
        }),
  })
  client.on('welcome', (message) => {
    const { session, protocol, version, user, heartbeat, limits, capabilities } = message
    welcomes.push({ url: client.url, session, protocol, version, user, heartbeat, limits, capabilities })
  })
  client.on('error', (error) => {
    lastError = error
    if (error.code === 'UNEXPECTED_MESSAGE') violations.push(error.message)
  })
  client.on('state', (state) => {
    if (state !== 'closed' || closedByUs) return
    failure = lastError === undefined ? { code: 'CLOSED', message: 'the client closed' } : toContractError(lastError)
    settleRefresh(failure)
  })

  const roomOf = (name: string): SdkRoom => {
    let room = rooms.get(name)
    if (room === undefined) {
      room = { handle: undefined, joins: [], messages: [], presence: [], signals: [] }
      rooms.set(name, room)
    }
    return room
  }
  const handleOf = (name: string): Room => {
    const handle = rooms.get(name)?.handle
    if (handle === undefined) throw { code: 'NOT_JOINED', message: `${name} was never joined` } satisfies ContractError
    return handle
  }

  return {
    welcomes,
    closes,
    violations,
    get attempts() {
      return attempts
    },
    get failure() {
      return failure
    },
    join(name, joinOptions = {}) {
      const room = roomOf(name)
      const handle = client.join(name, { presence: joinOptions.presence, resume: joinOptions.resume })
      if (room.handle !== handle) {
        room.handle = handle
        handle.on('joined', ({ epoch, seq, members, recovery }) => room.joins.push({ epoch, seq, members, recovery }))
        handle.on('message', ({ seq, epoch, from, ts, data, bytes }) => room.messages.push(bytes === undefined ? { seq, epoch, from, ts, data } : { seq, epoch, from, ts, data, bytes }))
        handle.on('presence', ({ event, member }) => room.presence.push({ event, member }))
        handle.on('signal', ({ from, key, value, ttlMs }) => room.signals.push({ from, key, value, ttlMs, at: Date.now() }))
        handle.on('typing', ({ user, typing }) => room.signals.push({ from: user, key: 'typing', value: typing, ttlMs: -1, at: Date.now() }))
      }
      return new Promise<JoinInfo>((resolve, reject) => {
        const offs = [
          handle.on('joined', ({ epoch, seq, members, recovery }) => done(() => resolve({ epoch, seq, members, recovery }))),
          handle.on('error', (error) => done(() => reject(toContractError(error)))),
          handle.on('left', ({ reason }) => done(() => reject({ code: 'NOT_JOINED', message: `left: ${String(reason)}` } satisfies ContractError))),
        ]
        const done = (settle: () => void): void => {
          for (const off of offs) off()
          settle()
        }
      })
    },
    leave: (name) => handleOf(name).leave(),
    async publish(name, data, publishOptions = {}) {
      try {
        const ack = await handleOf(name).publish(data as JsonValue, { id: publishOptions.id, echo: publishOptions.echo, bytes: publishOptions.bytes })
        return { seq: ack.seq, epoch: ack.epoch, duplicate: ack.duplicate }
      } catch (error) {
        throw asContractError(error)
      }
    },
    signal(name, key, value, ttlMs) {
      handleOf(name).signal(key, value, ttlMs === undefined ? {} : { ttlMs })
    },
    setPresence: (name, presence) => handleOf(name).setPresence(presence),
    async request(name, input) {
      // No contract on this side: the SDK checks nothing locally, so the answers are the server's own.
      try {
        return await client.request(name, input)
      } catch (error) {
        throw asContractError(error)
      }
    },
    refreshed: () => refreshed,
    room(name): RoomView {
      const room = roomOf(name)
      return {
        joins: room.joins,
        messages: room.messages,
        presence: room.presence,
        signals: room.signals,
        members: () => room.handle?.members() ?? [],
      }
    },
    async close() {
      closedByUs = true
      await client.close()
    },
  }
}
