import { payloadScenario } from '../lib/payload-scenario.js'

/**
 * 64 KiB of bytes per message (an image, a file): one room, one publisher, 20 subscribers. `parley` sends them as
 * base64 in the JSON data (87 384 characters; what an app does without protocol v2), `parley-bytes` as protocol
 * v2 bytes in binary frames, in one run: `--targets parley,parley-bytes binary`. Both servers take frames up to
 * 256 KiB, since the base64 form does not fit the default 64 KiB. Paced at 50 messages a second to 20 subscribers:
 * about 66 MB/s on the wire as bytes, 88 MB/s as base64.
 */
const BYTES = 64 * 1024

export default payloadScenario({
  name: 'binary',
  title: '64 KiB of bytes to 20 subscribers: binary frames (protocol v2) against base64 in JSON',
  key: `20 subscribers, ${BYTES} B of bytes`,
  chartLabel: '64 KiB of bytes',
  subscribers: 20,
  deliveriesPerSec: 1_000,
  window: 8,
  payload: { bytesPayload: BYTES },
  server: { recovery: false, maxPayload: 256 * 1024 },
  compare: { test: 'parley-bytes', base: 'parley', what: 'Binary frames ÷ base64 in JSON' },
  describe:
    `Each message carries ${BYTES} random bytes: base64 in data.text for parley (the server parses, validates and re-serialises ` +
    `${Math.ceil(BYTES / 3) * 4} characters of JSON string), the bytes after a binary frame's header for parley-bytes.`,
})
