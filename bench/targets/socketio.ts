import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { deferred, type BenchClient, type ClientSettings, type Payload, type RunningServer, type ServerSettings, type Target } from './target.js'

/**
 * Socket.IO 4.8 with the WebSocket transport only (no HTTP long-polling, no upgrade), default settings otherwise
 * (in-memory adapter, no compression), and `socket.io-client` with `transports: ['websocket']`. A join is an event
 * with an acknowledgement; a publish is `socket.to(room).emit('message', data)`, which Socket.IO encodes once per
 * broadcast. With `recovery`, the server enables Socket.IO's own connection state recovery (since 4.6), which replays
 * the packets a client missed while it was away.
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

async function connect(settings: ClientSettings): Promise<BenchClient> {
  const { io } = await import('socket.io-client')
  const socket = io(`ws://127.0.0.1:${settings.port}`, { transports: ['websocket'], reconnection: false, forceNew: true })
  let dropped = deferred()
  socket.on('message', (data: Payload) => settings.onMessage(data))
  socket.on('disconnect', () => dropped.resolve())
  const join = (): Promise<void> => {
    const joined = deferred()
    socket.emit('join', settings.room, () => joined.resolve())
    return joined.promise
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('connect_error', reject)
  })
  await join()
  return {
    publish(data, ack) {
      if (ack === true) socket.emit('publish', settings.room, data, () => settings.onAck?.())
      else socket.emit('publish', settings.room, data)
    },
    get dropped() {
      return dropped.promise
    },
    async reconnect() {
      dropped = deferred()
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('connect_error', reject)
        socket.connect()
      })
      // A recovered session is back in its rooms and gets the missed packets; otherwise it joins again (and the
      // scenario reports the messages it lost).
      if (!socket.recovered) await join()
    },
    close() {
      socket.disconnect()
    },
  }
}

const target: Target = {
  name: 'socket.io',
  description: 'Socket.IO 4.8, websocket transport only, in-memory adapter, socket.to(room).emit(); client: socket.io-client 4.8',
  recovery: "Socket.IO's connection state recovery (connectionStateRecovery, maxDisconnectionDuration 120 s): the server replays missed packets",
  startServer,
  connect,
}

export default target
