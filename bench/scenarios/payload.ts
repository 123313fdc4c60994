import { payloadScenario } from '../lib/payload-scenario.js'

/**
 * Large messages: one room, one publisher, 100 subscribers, each message's text 4 KiB of chat-like words. Run
 * `parley` beside `parley-deflate` (compression on, clients offering it) to see what permessage-deflate costs the
 * server per delivery and saves on the wire, in one run: `--targets parley,parley-deflate,ws payload`.
 *
 * Paced at 50 messages a second to 100 subscribers (about 21 MB/s on the wire uncompressed): low enough that the load
 * generator, which inflates every compressed frame through ws's asynchronous zlib (about 60 µs each, against 15 for
 * a plain one), keeps up; at 20 000/s it saturated and latency measured its queue.
 */
export default payloadScenario({
  name: 'payload',
  title: '4 KiB messages to 100 subscribers: server CPU and bytes on the wire per delivery, compression on and off',
  key: '100 subscribers, 4096 B text',
  chartLabel: '4 KiB messages',
  subscribers: 100,
  deliveriesPerSec: 5_000,
  window: 32,
  payload: { textBytes: 4 * 1024 },
  server: { recovery: false },
  compare: { test: 'parley-deflate', base: 'parley', what: 'Compression on ÷ off' },
  describe: "Each message's text is 4096 bytes of repeating words.",
})
