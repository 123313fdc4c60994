import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readSocketIoDeliveryAt } from '../lib/delivery-reader.js'
import { openLightSocket, type LightSocket } from '../lib/light-socket.js'
import { deferred, type BenchClient, type ClientSettings, type Payload, type RunningServer, type ServerSettings, type Target } from './target.js'

/**
 * Socket.IO 4.8 with the WebSocket transport only (no HTTP long-polling, no upgrade), default settings otherwise
 * (in-memory adapter, no compression); the client speaks `socket.io-client` 4.8's protocol over the load generator's
 * light socket (see `connect`). A join is an event with an acknowledgement; a publish is
 * `socket.to(room).emit('message', data)`, which Socket.IO encodes once per broadcast. With `recovery`, the server
 * enables Socket.IO's own connection state recovery (since 4.6), which replays the packets a client missed while it
 * was away.
 */

async function startServer(settings: ServerSettings): Promise<RunningServer> {
  const { Server } = await import('socket.io')
  const http = createServer()
  const io = new Server(http, {
    transports: ['websocket'],
    serveClient: false,
    ...(settings.recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true } } : {}),
  })
  io.on('connection', (socket) => {
    socket.on('join', (room: string, ack?: () => void) => {
      void socket.join(room)
      ack?.()
    })
    socket.on('publish', (room: string, data: Payload, ack?: () => void) => {
      socket.to(room).emit('message', data)
      ack?.()
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return {
    port: (http.address() as AddressInfo).port,
    async publish(room, data) {
      for (const item of data) io.to(room).emit('message', item)
    },
    drop() {
      let count = 0
      // Closing the Engine.IO connection ends the socket with "forced close", which recovery treats as recoverable.
      for (const socket of io.of('/').sockets.values()) {
        socket.conn.close()
        count++
      }
      return count
    },
    async close() {
      await io.close()
    },
  }
}

/**
 * The load generator's Socket.IO client: the protocol `socket.io-client` 4.8 speaks (Engine.IO 4, Socket.IO 5, the
 * WebSocket transport only) over the light socket the other targets' raw clients use, so that at full rate the
 * server, not `socket.io-client`'s per-packet work, is what runs out (issue 20). Room messages
 * (`42["message",{...}]`) are read from their bytes; other packets are parsed. With connection state recovery on,
 * it keeps the session's `pid` and the last packet's offset, reconnects with both (`40{"pid":...,"offset":...}`) and
 * counts the session recovered when the server answers with the same `pid`, as `socket.io-client` does.
 */
async function connect(settings: ClientSettings): Promise<BenchClient> {
  const url = `ws://127.0.0.1:${settings.port}/socket.io/?EIO=4&transport=websocket`
  let socket!: LightSocket
  let dropped = deferred()
  /** The session id for recovery (sent by a server with connection state recovery) and the last offset seen. */
  let pid: string | undefined
  let offset = ''
  let nextAck = 0
  const acks = new Map<number, () => void>()
  /**
   * Whether the namespace is joined; packets emitted while it is not (before the server's CONNECT, or while dropped)
   * wait, as `socket.io-client` buffers them.
   */
  let joined = false
  let queued: string[] = []
  const sendPacket = (packet: string): void => {
    if (joined) socket.send(packet)
    else queued.push(packet)
  }
  const emit = (args: readonly unknown[], onAck?: () => void): void => {
    if (onAck === undefined) return sendPacket(`42${JSON.stringify(args)}`)
    const id = nextAck++
    acks.set(id, onAck)
    sendPacket(`42${id}${JSON.stringify(args)}`)
  }
  const onEvent = (args: unknown[]): void => {
    if (args[0] !== 'message') return
    if (typeof args[2] === 'string') offset = args[2]
    settings.onMessage(args[1] as Payload)
  }

  /** Opens the connection and the main namespace; resolves with whether the server recovered the session. */
  const open = async (): Promise<boolean> => {
    const connected = deferred<boolean>()
    const light = await openLightSocket(url)
    socket = light
    light.onDelivery((delivery) => {
      if (delivery.offset !== '') offset = delivery.offset
      settings.onMessage(delivery.data)
    }, readSocketIoDeliveryAt)
    light.onMessage((text) => {
      // Engine.IO: 0 open, 1 close, 2 ping, 4 message (a Socket.IO packet: 0 connect, 2 event, 3 ack, 4 error).
      if (text === '2') return light.send('3')
      if (text.startsWith('0')) return light.send(pid === undefined ? '40' : `40${JSON.stringify({ pid, offset })}`)
      if (text === '1') return light.terminate()
      if (!text.startsWith('4')) return
      switch (text[1]) {
        case '0': {
          const answer = JSON.parse(text.slice(2)) as { pid?: string }
          const recovered = pid !== undefined && answer.pid === pid
          pid = answer.pid
          joined = true
          for (const packet of queued) light.send(packet)
          queued = []
          return connected.resolve(recovered)
        }
        case '1':
          // The server left us out of the namespace: a drop, as socket.io-client reports it.
          return light.terminate()
        case '2':
          return onEvent(JSON.parse(text.slice(text.indexOf('['))) as unknown[])
        case '3': {
          const id = Number.parseInt(text.slice(2), 10)
          const onAck = acks.get(id)
          acks.delete(id)
          return onAck?.()
        }
        case '4':
          connected.reject(new Error(`socket.io: connect error ${text.slice(2)}`))
          return light.terminate()
        default:
          return
      }
    })
    light.onClose(() => {
      joined = false
      connected.reject(new Error('socket.io: the connection closed before the namespace was joined'))
      dropped.resolve()
    })
    return connected.promise
  }
  const join = (): Promise<void> => {
    const joined = deferred()
    emit(['join', settings.room], () => joined.resolve())
    return joined.promise
  }

  await open()
  await join()
  return {
    publish(data, ack) {
      if (ack === true) emit(['publish', settings.room, data], () => settings.onAck?.())
      else emit(['publish', settings.room, data])
    },
    get dropped() {
      return dropped.promise
    },
    async reconnect() {
      dropped = deferred()
      // A recovered session is back in its rooms and gets the missed packets; otherwise it joins again (and the
      // scenario reports the messages it lost).
      if (!(await open())) await join()
    },
    close() {
      // As socket.io-client's disconnect(): leave the namespace first, so the server keeps no session to recover.
      if (joined) socket.send('41')
      joined = false
      socket.terminate()
    },
  }
}

const target: Target = {
  name: 'socket.io',
  description: "Socket.IO 4.8, websocket transport only, in-memory adapter, socket.to(room).emit(); client: socket.io-client 4.8's protocol over the light socket",
  recovery: "Socket.IO's connection state recovery (connectionStateRecovery, maxDisconnectionDuration 120 s): the server replays missed packets",
  startServer,
  connect,
}

export default target
