import { Agent, request } from 'node:http'
import { SUBPROTOCOL_V1_JSON } from '@parley/protocol'
import { onServerFrame, parley, publishFrame, resumeFrom, type RawPosition } from './parley.js'
import { deferred, type BenchClient, type ClientSettings, type Target } from './target.js'

/**
 * Parley over its HTTP stream transport: the same server as the `parley` target, and in the load generator a raw
 * HTTP stream client (server-sent events read off the response, frames POSTed one request at a time, JSON.parse per
 * frame, no acks), the counterpart of `parley`'s raw WebSocket frames.
 */

const PATH = '/parley'
// Keep-alive, so a publisher's POSTs reuse connections instead of opening one per request.
const agent = new Agent({ keepAlive: true, maxSockets: 4 })

async function connectHttp(settings: ClientSettings): Promise<BenchClient> {
  const position: RawPosition = { current: undefined }
  let stream = ''
  let secret = ''
  let queue: string[] = []
  let posting = false
  let abort: (() => void) | undefined
  let dropped = deferred()

  const flush = (): void => {
    if (posting || queue.length === 0 || stream === '') return
    posting = true
    const body = queue.join('\n')
    queue = []
    const post = request(
      { host: '127.0.0.1', port: settings.port, path: `${PATH}?stream=${stream}`, method: 'POST', agent, headers: { 'content-type': 'text/plain', 'x-parley-secret': secret, 'content-length': Buffer.byteLength(body) } },
      (response) => {
        response.resume()
        response.on('end', () => {
          posting = false
          flush()
        })
      },
    )
    post.on('error', () => {
      posting = false
    })
    post.end(body)
  }
  const send = (frame: string): void => {
    queue.push(frame)
    flush()
  }

  const open = (): Promise<void> => {
    const joined = deferred()
    const resume = resumeFrom(position)
    const get = request({
      host: '127.0.0.1',
      port: settings.port,
      path: `${PATH}?protocols=${SUBPROTOCOL_V1_JSON}`,
      headers: { accept: 'text/event-stream', authorization: `Bearer ${settings.user}` },
    })
    abort = () => get.destroy()
    get.on('error', (error) => joined.reject(error))
    get.on('response', (response) => {
      if (response.statusCode !== 200) return joined.reject(new Error(`HTTP ${response.statusCode ?? 0}`))
      response.setEncoding('utf8')
      let buffer = ''
      response.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (block.startsWith(':')) continue
          if (block.startsWith('event: open')) {
            const opened = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { stream: string; secret: string }
            stream = opened.stream
            secret = opened.secret
            continue
          }
          if (block.startsWith('event: ping')) {
            send('')
            continue
          }
          if (block.startsWith('event: close')) continue
          onServerFrame(block.slice(6), settings, position, resume, send, joined)
        }
      })
      response.on('close', () => {
        stream = ''
        dropped.resolve()
      })
    })
    get.end()
    return joined.promise
  }

  await open()
  const room = JSON.stringify(settings.room)
  let ids = 0
  return {
    publish(data, ack) {
      send(publishFrame(room, data, ack === true ? ids++ : undefined))
    },
    get dropped() {
      return dropped.promise
    },
    reconnect() {
      dropped = deferred()
      return open()
    },
    close() {
      abort?.()
    },
  }
}

/** Parley over the HTTP stream transport, with a raw stream client in the load generator. */
export const parleyHttp: Target = {
  name: 'parley-http',
  description: '@parley/server-sdk attach() as for parley; client: raw HTTP stream (server-sent events down, POSTs up, no acks)',
  recovery: parley.recovery,
  startServer: parley.startServer,
  connect: connectHttp,
}
