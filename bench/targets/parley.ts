import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import WebSocket from 'ws'
import { readDelivery } from '../lib/delivery-reader.js'
import { readControlFrameAt } from '../lib/control-frame-reader.js'
import { openLightSocket } from '../lib/light-socket.js'
import { CloseCode, SUBPROTOCOL_V1_JSON, type SplitBinaryFrame } from '@parley/protocol'
import type { Parley, ServerOptions } from '@parley/server-sdk'
import { deferred, type BenchClient, type ClientSettings, type Payload, type RunningServer, type ServerSettings, type Target } from './target.js'

/**
 * Parley: `attach()` on a plain `http.Server` with default options except the publish rate limit (raised, since one
 * publisher drives the whole fan-out) and a trivial `authenticate` (the token is the user id, so presence lists stay
 * short). History, presence, heartbeat, backpressure and dedup all stay on, as a user would run it.
 *
 * Two load-generator clients:
 * - `parley` speaks raw protocol frames over the same `ws` client the ws target uses (JSON.parse per frame, publishes
 *   without an id, so no acks, like the other targets): the client side then costs the same as for raw ws, and on
 *   2 cores that keeps the comparison about the servers.
 * - `parley-sdk` uses `@parley/client-sdk` as an application would: every frame decoded and validated, a publish id
 *   and an ack per publish, reconnect with resume. The recovery scenario uses it, since its resume is what is measured.
 */

const PATH = '/parley'

async function startServer(settings: ServerSettings): Promise<RunningServer> {
  return startParleyServer(settings.maxPayload === undefined ? {} : { maxPayload: settings.maxPayload })
}

/**
 * The Parley server every Parley target runs, with `extra` options on top (another target's history store, say);
 * `onStart` gets the running instance (what it returns runs first at close); `onClose` runs after it closed.
 */
export async function startParleyServer(
  extra: Pick<ServerOptions, 'history' | 'contract' | 'presence' | 'compression' | 'adapter'> & { readonly maxPayload?: number | undefined },
  onClose?: () => Promise<void>,
  onStart?: (parley: Parley) => () => void,
): Promise<RunningServer> {
  const { attach } = await import('@parley/server-sdk')
  const http = createServer()
  const { maxPayload, ...options } = extra
  const parley = attach(http, {
    path: PATH,
    authenticate: ({ token }) => (token === undefined ? null : { id: token }),
    limits: { rate: { messages: 1_000_000, perMs: 1_000 }, ...(maxPayload === undefined ? {} : { maxPayload }) },
    ...options,
  })
  await parley.ready
  const stop = onStart?.(parley)
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return {
    port: (http.address() as AddressInfo).port,
    module: import.meta.resolve('@parley/server-sdk'),
    async publish(room, data) {
      const handle = parley.room(room)
      for (const item of data) await handle.publish({ ...item })
    },
    drop() {
      const sessions = parley.sessions()
      // 1012 (service restart) is what a restarting node sends; clients treat it as retryable and resume.
      for (const session of sessions) session.close(CloseCode.ServiceRestart, 'bench: dropped')
      return sessions.length
    },
    async close() {
      stop?.()
      await parley.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await onClose?.()
    },
  }
}

/**
 * Where a raw client is in its room's stream: what it resumes from after a drop. One flat object per client, moved in
 * place by every delivery (one object touched, nothing allocated: with 1 000 clients each delivery's state is a cache
 * miss or several).
 */
export interface RawPosition {
  /** False until the client has a position (its first `joined` or message). */
  known: boolean
  epoch: string
  seq: number
}

/** A client with no position yet. */
export function noPosition(): RawPosition {
  return { known: false, epoch: '', seq: 0 }
}

/** Moves a raw client to `epoch`/`seq`. */
export function moveTo(position: RawPosition, epoch: string, seq: number): void {
  position.known = true
  position.epoch = epoch
  position.seq = seq
}

/** Where a new connection resumes: a copy of the position, which deliveries then move in place. */
export function resumeFrom(position: RawPosition): { readonly epoch: string; readonly seq: number } | undefined {
  return position.known ? { epoch: position.epoch, seq: position.seq } : undefined
}

/** One connection of a raw client, as its frame handlers see it. */
export interface RawClientState {
  readonly settings: ClientSettings
  readonly position: RawPosition
  /** Where this connection resumed from (undefined on a first connection). */
  readonly resume: ReturnType<typeof resumeFrom>
  readonly send: (frame: string) => void
  readonly joined: { resolve(): void; reject(error: unknown): void }
}

/**
 * What a raw client does with a server frame that was not read as a delivery, whatever carried it: welcome → join
 * (with `resume` after a drop) → joined → messages, each parsed with `JSON.parse`, and nothing validated (the ws
 * target's client does the same work). Room messages in the usual shape never get here: the light socket and the
 * HTTP stream client read them from their bytes with `readDeliveryAt` first, and the light socket reads `joined`,
 * presence, `ack` and `welcome` frames by type from their bytes too (`readControlFrameAt`).
 */
export function onServerFrame(text: string, client: RawClientState): void {
  const message = JSON.parse(text) as { type: string; epoch: string; seq: number; data: never; message?: string }
  switch (message.type) {
    case 'message':
      moveTo(client.position, message.epoch, message.seq)
      client.settings.onMessage(message.data)
      return
    case 'error':
      client.joined.reject(new Error(`parley error: ${message.message ?? ''}`))
      return
    default:
      onControlFrame(message, client)
  }
}

/** What a raw client does with the frames that need no more than their type (and a `joined`'s position). */
export function onControlFrame(frame: { readonly type: string; readonly epoch: string; readonly seq: number }, client: RawClientState): void {
  const { settings, position, resume, send, joined } = client
  switch (frame.type) {
    case 'welcome':
      // As the client SDK does: presence changes in batches, from a server that offers them.
      send(JSON.stringify({ type: 'join', room: settings.room, id: 'j', batch: true, ...(resume === undefined ? {} : { resume }) }))
      return
    case 'ack':
      settings.onAck?.()
      return
    case 'presence':
    case 'presences':
      settings.onPresenceFrame?.()
      return
    case 'joined':
      // With a resume, the replay follows and moves the position; otherwise the room's head is where we are.
      if (resume === undefined) moveTo(position, frame.epoch, frame.seq)
      joined.resolve()
      return
    default:
      return
  }
}

/** A raw `publish` frame (`room` already JSON), with an id when an acknowledgement is wanted. */
export function publishFrame(room: string, data: Payload | Omit<Payload, 'text'>, ackId: number | undefined): string {
  return `{"type":"publish","room":${room},"echo":false,${ackId === undefined ? '' : `"id":"a${ackId}",`}"data":${JSON.stringify(data)}}`
}

/**
 * Raw protocol frames over the load generator's light WebSocket client (`lib/light-socket.ts`, as the ws target's
 * client), or over `ws`'s client: plain (`'ws'`, the baseline a client SDK is compared with), or offering
 * permessage-deflate as browsers always do (`'ws-deflate'`), which the light one lacks. With `binaryFrames` the
 * light client speaks protocol v2: each payload's `text` (base64) goes as bytes in a binary frame whose header's data
 * holds only the numbers, and a room message that arrives as a binary frame is read by its header. (Passed in rather
 * than imported here, so this file still loads against a `--baseline` protocol that predates v2.)
 */
export async function connectRaw(settings: ClientSettings, socketKind: 'light' | 'ws' | 'ws-deflate' = 'light', binaryFrames?: BinaryFrames): Promise<BenchClient & { readonly extensions: string }> {
  const url = `ws://127.0.0.1:${settings.port}${PATH}`
  const room = JSON.stringify(settings.room)
  const position = noPosition()
  const headers = { authorization: `Bearer ${settings.user}` }
  let socket!: { send(text: string): void; sendBinary?(payload: Uint8Array): void; terminate(): void; readonly extensions: string }
  let dropped = deferred()
  const bytes = new BytesOfText()

  const open = async (): Promise<void> => {
    const joined = deferred()
    const resume = resumeFrom(position)
    if (socketKind === 'ws' || socketKind === 'ws-deflate') {
      const ws = new WebSocket(url, [SUBPROTOCOL_V1_JSON], { headers, perMessageDeflate: socketKind === 'ws-deflate' })
      socket = ws
      ws.on('error', (error) => joined.reject(error))
      // Over `ws`'s client every frame is JSON.parse'd, room messages included: what a hand-written client does at
      // the least, and so the baseline the client SDK's cost is compared with (client-cost).
      const client: RawClientState = { settings, position, resume, send: (frame) => ws.send(frame), joined }
      ws.on('message', (raw) => onServerFrame(String(raw), client))
      ws.on('close', () => dropped.resolve())
    } else {
      const light = await openLightSocket(url, { protocols: [binaryFrames === undefined ? SUBPROTOCOL_V1_JSON : 'parley.v2.json'], headers })
      socket = { send: (text) => light.send(text), sendBinary: (payload) => light.sendBinary(payload), terminate: () => light.terminate(), extensions: '' }
      light.onDelivery((delivery) => {
        moveTo(position, delivery.epoch, delivery.seq)
        settings.onMessage(delivery.data)
      })
      const client: RawClientState = { settings, position, resume, send: (frame) => light.send(frame), joined }
      // Frames that need only their type (and a joined's position) are read from their bytes, never decoded.
      light.onPeek((bytes, start, end) => {
        const control = readControlFrameAt(bytes, start, end)
        if (control === undefined) return false
        onControlFrame(control, client)
        return true
      })
      light.onMessage((text) => onServerFrame(text, client))
      light.onBinary((payload) => {
        const split = binaryFrames?.split(payload)
        const delivery = split?.ok === true ? readDelivery(split.header) : undefined
        if (delivery === undefined) throw new Error('parley: a binary frame that is not a room message')
        moveTo(position, delivery.epoch, delivery.seq)
        settings.onMessage(delivery.data)
      })
      light.onClose(() => dropped.resolve())
    }
    return joined.promise
  }

  await open()
  let ids = 0
  return {
    get extensions() {
      return socket.extensions
    },
    publish(data, ack) {
      const id = ack === true ? ids++ : undefined
      if (binaryFrames === undefined) return socket.send(publishFrame(room, data, id))
      socket.sendBinary?.(binaryFrames.join(publishFrame(room, { p: data.p, n: data.n, t: data.t }, id), bytes.of(data.text)))
    },
    get dropped() {
      return dropped.promise
    },
    reconnect() {
      dropped = deferred()
      return open()
    },
    close() {
      socket.terminate()
    },
  }
}

/** Protocol v2's binary frame codec (`joinBinaryFrame`, `splitBinaryFrame` of `@parley/protocol`). */
export interface BinaryFrames {
  join(header: string, bytes: Uint8Array): Uint8Array
  split(frame: Uint8Array): SplitBinaryFrame
}

/** A payload's text (base64) as bytes: the load generator sends the same text every time, so it is decoded once. */
class BytesOfText {
  #text = ''
  #bytes: Uint8Array = new Uint8Array(0)

  of(text: string): Uint8Array {
    if (text !== this.#text) {
      this.#text = text
      this.#bytes = Buffer.from(text, 'base64')
    }
    return this.#bytes
  }
}

/** The client SDK. Reconnects wait for `reconnect()` (a gate in `getToken`), then resume by themselves. */
async function connectSdk(settings: ClientSettings): Promise<BenchClient> {
  const { createClient } = await import('@parley/client-sdk')
  let gate = deferred()
  let dropped = deferred()
  const client = createClient(`ws://127.0.0.1:${settings.port}${PATH}`, {
    token: settings.user,
    // Called before every reconnect: holding it keeps a dropped client away until the scenario lets it back.
    getToken: () => gate.promise.then(() => settings.user),
    // No backoff delay once the gate opens: the scenario measures the server, not the jitter.
    random: () => 0,
  })
  client.on('state', (state) => {
    if (state === 'reconnecting') dropped.resolve()
  })
  const room = client.join(settings.room)
  room.on('message', (message) => settings.onMessage(message.data as never))
  const joined = (): Promise<void> => new Promise((resolve) => {
    const off = room.on('joined', () => {
      off()
      resolve()
    })
  })
  await joined()
  return {
    publish(data, ack) {
      // The SDK always gives its publishes an id: `ack` only decides whether the acknowledgement is counted.
      room.publish({ ...data }, { echo: false }).then(
        () => (ack === true ? settings.onAck?.() : undefined),
        () => undefined,
      )
    },
    get dropped() {
      return dropped.promise
    },
    reconnect() {
      const again = joined()
      const open = gate
      gate = deferred()
      dropped = deferred()
      open.resolve()
      return again
    },
    close() {
      void client.close()
    },
  }
}

const DESCRIPTION = '@parley/server-sdk attach() (defaults; publish rate limit raised; authenticate: token = user id)'
const RECOVERY = "Parley's own: re-join with the last (epoch, seq); the server replays the missed messages from its history window"

/** Parley with raw protocol frames in the load generator (same `ws` client as the ws target). */
export const parley: Target = {
  name: 'parley',
  description: `${DESCRIPTION}; client: raw protocol frames over ws (JSON.parse, no publish ids/acks)`,
  recovery: RECOVERY,
  startServer,
  connect: (settings) => connectRaw(settings),
}

/** Parley with raw protocol frames over `ws`'s own client: the plain-WebSocket baseline for the client SDK's cost. */
export const parleyWs: Target = {
  name: 'parley-ws',
  description: `${DESCRIPTION}; client: raw protocol frames over ws's WebSocket client, every frame JSON.parse'd`,
  recovery: RECOVERY,
  startServer,
  connect: (settings) => connectRaw(settings, 'ws'),
}

/** Parley with the client SDK in the load generator. */
export const parleySdk: Target = {
  name: 'parley-sdk',
  description: `${DESCRIPTION}; client: @parley/client-sdk (decode + validate per frame, publish id + ack, auto-resume)`,
  recovery: RECOVERY,
  startServer,
  connect: connectSdk,
}

export default parley
