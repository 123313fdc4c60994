import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { openLightSocket, type LightSocket } from '../lib/light-socket.js'
import { deferred, type BenchClient, type ClientSettings, type Payload, type RunningServer, type ServerSettings, type Target } from './target.js'

/**
 * Raw `ws`: what most hand-written servers do. A `Set` of sockets per room, `JSON.stringify` once per publish and a
 * `send()` per recipient. The only extra is a per-room `seq` and, with `recovery`, a replay buffer of the last 100
 * frames that a re-join with `since` reads from: the nearest hand-written equivalent of Parley's recovery.
 *
 * Wire format (JSON text frames): client → `{type:'join',room,since?}` | `{type:'publish',room,data}`;
 * server → `{type:'joined',room,seq}` | `{type:'message',room,seq,data}`.
 */

const REPLAY = 100

interface RoomState {
  readonly members: Set<WebSocket>
  seq: number
  /** The last REPLAY frames as [seq, text], oldest first (only with `recovery`). */
  readonly replay: Array<readonly [number, string]>
}

async function startServer(settings: ServerSettings): Promise<RunningServer> {
  const http = createServer()
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false })
  const rooms = new Map<string, RoomState>()
  const roomOf = (name: string): RoomState => {
    let room = rooms.get(name)
    if (room === undefined) {
      room = { members: new Set(), seq: 0, replay: [] }
      rooms.set(name, room)
    }
    return room
  }
  const broadcast = (name: string, room: RoomState, data: unknown, sender: WebSocket | undefined): void => {
    const seq = ++room.seq
    const text = JSON.stringify({ type: 'message', room: name, seq, data })
    if (settings.recovery) {
      room.replay.push([seq, text])
      if (room.replay.length > REPLAY) room.replay.shift()
    }
    for (const peer of room.members) if (peer !== sender) peer.send(text)
  }

  wss.on('connection', (ws) => {
    let joined: string | undefined
    ws.on('error', () => undefined)
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type: string; room: string; since?: number; data?: unknown; id?: string }
      if (message.type === 'join') {
        const room = roomOf(message.room)
        joined = message.room
        room.members.add(ws)
        ws.send(JSON.stringify({ type: 'joined', room: message.room, seq: room.seq }))
        if (message.since !== undefined) for (const [seq, text] of room.replay) if (seq > message.since) ws.send(text)
      } else if (message.type === 'publish') {
        const room = rooms.get(message.room)
        if (room !== undefined) broadcast(message.room, room, message.data, ws)
        if (message.id !== undefined) ws.send(JSON.stringify({ type: 'ack', id: message.id }))
      }
    })
    ws.on('close', () => {
      if (joined !== undefined) rooms.get(joined)?.members.delete(ws)
    })
  })

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return {
    port: (http.address() as AddressInfo).port,
    async publish(name, data) {
      const room = roomOf(name)
      for (const item of data) broadcast(name, room, item, undefined)
    },
    drop() {
      let count = 0
      for (const ws of wss.clients) {
        ws.terminate()
        count++
      }
      return count
    },
    async close() {
      for (const ws of wss.clients) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

async function connect(settings: ClientSettings): Promise<BenchClient> {
  const url = `ws://127.0.0.1:${settings.port}/`
  let lastSeq: number | undefined
  let socket!: LightSocket
  let dropped = deferred()

  // The load generator's light client (lib/light-socket.ts), as the parley target's: the same client cost for both.
  const open = async (since: number | undefined): Promise<void> => {
    const joined = deferred()
    const ws = await openLightSocket(url)
    socket = ws
    ws.onDelivery((delivery) => {
      lastSeq = delivery.seq
      settings.onMessage(delivery.data)
    })
    ws.onMessage((raw) => {
      const message = JSON.parse(raw) as { type: string; seq: number; data: Payload }
      if (message.type === 'message') {
        lastSeq = message.seq
        settings.onMessage(message.data)
      } else if (message.type === 'ack') {
        settings.onAck?.()
      } else if (message.type === 'joined') {
        if (since === undefined) lastSeq = message.seq
        joined.resolve()
      }
    })
    ws.onClose(() => dropped.resolve())
    ws.send(JSON.stringify({ type: 'join', room: settings.room, ...(since === undefined ? {} : { since }) }))
    return joined.promise
  }

  await open(undefined)
  let ids = 0
  return {
    publish(data, ack) {
      socket.send(JSON.stringify({ type: 'publish', room: settings.room, data, ...(ack === true ? { id: `a${ids++}` } : {}) }))
    },
    get dropped() {
      return dropped.promise
    },
    reconnect() {
      dropped = deferred()
      return open(lastSeq)
    },
    close() {
      socket.terminate()
    },
  }
}

const target: Target = {
  name: 'ws',
  description: 'ws 8: a Set per room, JSON.stringify once per publish, ws.send() per recipient; client: ws',
  recovery: 'hand-written nearest equivalent: re-join with the last seq seen, the server replays from a 100-frame buffer per room',
  startServer,
  connect,
}

export default target
