import { startNode, type NodeProcess } from '../../packages/redis-adapter/test/helpers.js'
import { openLightSocket, type LightSocket } from '../lib/light-socket.js'
import { formatCount } from '../lib/format.js'
import type { Row, Scenario } from '../lib/scenario.js'

/**
 * Cross-node fan-out through the Redis adapter: one room, subscribers spread evenly over 1, 2 and 3 server
 * processes, one publisher on the first node publishing as fast as its acks come back (a window of in-flight
 * publishes). Figures: deliveries per second until every subscriber has every message (checked, not assumed).
 * Needs Redis on 127.0.0.1:6379. On 2 cores the load generator (this process) and up to three servers share the
 * CPU, so the figure is a floor, not a ceiling. Clients are the load generator's light WebSocket client; each
 * subscriber checks it got every message once and in order.
 */

interface Run {
  readonly nodes: number
  readonly subscribers: number
  readonly messages: number
  readonly deliveries: number
  readonly seconds: number
  readonly deliveriesPerSec: number
  readonly complete: boolean
  /** Subscribers that saw a message out of order or twice. */
  readonly outOfOrder: number
}

function open(url: string, name: string): Promise<LightSocket> {
  return openLightSocket(url, { protocols: ['parley.v1.json'], headers: { authorization: `Bearer ${name}` } })
}

/** Joins the room; from then on every frame goes to `onFrame`. */
async function joinRoom(socket: LightSocket, onFrame: (text: string) => void = () => undefined): Promise<void> {
  await new Promise<void>((resolve) => {
    let joined = false
    socket.onMessage((text) => {
      if (joined) return onFrame(text)
      if (text.includes('"type":"joined"')) {
        joined = true
        resolve()
      }
    })
    socket.send(JSON.stringify({ type: 'join', room: 'fanout', id: 'j' }))
  })
}

async function runOnce(nodeCount: number, subscribers: number, messages: number, keyPrefix: string): Promise<Run> {
  const nodes: NodeProcess[] = []
  const sockets: LightSocket[] = []
  let outOfOrder = 0
  try {
    for (let i = 0; i < nodeCount; i++) nodes.push(await startNode({ redisUrl: 'redis://127.0.0.1:6379', keyPrefix, nodeTimeoutMs: 5_000 }))
    let delivered = 0
    let allDone: () => void = () => undefined
    const done = new Promise<void>((resolve) => (allDone = resolve))
    const expected = subscribers * messages
    for (let i = 0; i < subscribers; i++) {
      const socket = await open((nodes[i % nodeCount] as NodeProcess).url, `sub-${i}`)
      let next = 0
      socket.onDelivery((delivery) => {
        if (delivery.data.n !== next) outOfOrder++
        next = delivery.data.n + 1
        if (++delivered === expected) allDone()
      })
      await joinRoom(socket)
      sockets.push(socket)
    }
    const publisher = await open((nodes[0] as NodeProcess).url, 'publisher')
    sockets.push(publisher)
    let onAck: () => void = () => undefined
    await joinRoom(publisher, (text) => {
      if (text.startsWith('{"type":"ack"')) onAck()
    })
    const window = 64
    let sent = 0
    let acked = 0
    const start = performance.now()
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (sent < messages && sent - acked < window) {
          publisher.send(JSON.stringify({ type: 'publish', room: 'fanout', id: `p${sent}`, echo: false, data: { p: 0, n: sent, t: 0 } }))
          sent++
        }
      }
      onAck = () => {
        acked++
        if (acked === messages) resolve()
        else pump()
      }
      pump()
    })
    const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000))
    const complete = await Promise.race([done.then(() => true), timeout])
    const seconds = (performance.now() - start) / 1_000
    return { nodes: nodeCount, subscribers, messages, deliveries: delivered, seconds, deliveriesPerSec: delivered / seconds, complete: complete && outOfOrder === 0, outOfOrder }
  } finally {
    for (const socket of sockets) socket.terminate()
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

const scenario: Scenario = {
  name: 'redis-fanout',
  title: 'cross-node fan-out through the Redis adapter, 1 / 2 / 3 server processes (needs Redis on 127.0.0.1:6379)',
  async run({ quick, log }) {
    const subscribers = quick ? 60 : 300
    const messages = quick ? 500 : 2_000
    const runs: Run[] = []
    for (const nodes of [1, 2, 3]) {
      log(`  ${nodes} node(s): ${subscribers} subscribers, ${messages} messages`)
      runs.push(await runOnce(nodes, subscribers, messages, `parley-bench-${Date.now()}-${nodes}`))
    }
    const single = runs[0]?.deliveriesPerSec ?? Number.NaN
    const table: Row[] = runs.map((r) => ({
      nodes: r.nodes,
      subscribers: r.subscribers,
      messages: r.messages,
      'deliveries/s': formatCount(r.deliveriesPerSec),
      'vs 1 node': `${(r.deliveriesPerSec / single).toFixed(2)}×`,
      'all delivered': r.complete ? 'yes' : `NO (${r.deliveries}/${r.subscribers * r.messages}${r.outOfOrder > 0 ? `, ${r.outOfOrder} out of order` : ''})`,
      seconds: r.seconds.toFixed(2),
    }))
    return {
      table,
      notes: ['Load generator and servers share 2 cores: more nodes add Redis hops and processes, not cores.'],
      data: { runs },
    }
  },
}

export default scenario
