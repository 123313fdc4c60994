import { Agent, request } from 'node:http'
import { SUBPROTOCOL_V1_JSON } from '@parley/protocol'
import { readDeliveryAt } from '../lib/delivery-reader.js'
import { moveTo, noPosition, onServerFrame, parley, publishFrame, resumeFrom, type RawClientState } from './parley.js'
import { deferred, type BenchClient, type ClientSettings, type Target } from './target.js'

/**
 * Parley over its HTTP stream transport: the same server as the `parley` target, and in the load generator a raw
 * HTTP stream client (server-sent events read off the response's bytes, room messages by `readDeliveryAt` as over the
 * light socket and other frames by JSON.parse, frames POSTed one request at a time, no acks), the counterpart of
 * `parley`'s raw WebSocket frames.
 */

const PATH = '/parley'
const EMPTY = Buffer.alloc(0)
/** Server-sent events: a blank line ends a block; a frame is its `data: ` line; a `:` line is a comment. */
const DATA_PREFIX = Buffer.from('data: ')
const COLON = 0x3a
const LF = 0x0a

/** Where the block starting at `at` ends (its blank line), or -1: a one-byte native search for each line's end. */
function blockEnd(data: Buffer, at: number): number {
  for (let end = data.indexOf(LF, at); end >= 0; end = data.indexOf(LF, end + 1)) if (data[end + 1] === LF) return end
  return -1
}

function isDataLine(data: Buffer, at: number): boolean {
  for (let i = 0; i < DATA_PREFIX.byteLength; i++) if (data[at + i] !== DATA_PREFIX[i]) return false
  return true
}
// Keep-alive, so a publisher's POSTs reuse connections instead of opening one per request.
const agent = new Agent({ keepAlive: true, maxSockets: 4 })

async function connectHttp(settings: ClientSettings): Promise<BenchClient> {
  const position = noPosition()
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
    const client: RawClientState = { settings, position, resume, send, joined }
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
      // Server-sent events read from the bytes: blocks found with a native `indexOf`, room messages read by
      // `readDeliveryAt` in place (as the light socket does), anything else made a string.
      let rest: Buffer = EMPTY
      response.on('data', (chunk: Buffer) => {
        const data = rest.byteLength === 0 ? chunk : Buffer.concat([rest, chunk])
        let at = 0
        let end: number
        while ((end = blockEnd(data, at)) >= 0) {
          const start = at
          at = end + 2
          if (data[start] === COLON) continue
          if (isDataLine(data, start)) {
            const delivery = readDeliveryAt(data, start + DATA_PREFIX.byteLength, end)
            if (delivery !== undefined) {
              moveTo(position, delivery.epoch, delivery.seq)
              settings.onMessage(delivery.data)
            } else {
              onServerFrame(data.toString('utf8', start + DATA_PREFIX.byteLength, end), client)
            }
            continue
          }
          const block = data.toString('utf8', start, end)
          if (block.startsWith('event: open')) {
            const opened = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { stream: string; secret: string }
            stream = opened.stream
            secret = opened.secret
          } else if (block.startsWith('event: ping')) send('')
        }
        rest = at === data.byteLength ? EMPTY : data.subarray(at)
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
