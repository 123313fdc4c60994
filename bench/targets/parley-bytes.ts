import { joinBinaryFrame, splitBinaryFrame } from '@parley/protocol'
import { connectRaw, parley } from './parley.js'
import type { Target } from './target.js'

/**
 * Parley with protocol v2's bytes: the load generator's light client negotiates `parley.v2.json` and sends each
 * message's `text` (in the `binary` scenario, the base64 of random bytes) as the bytes themselves, in one binary frame
 * whose header's data holds only the benchmark's numbers; members get binary frames, read by their header alone.
 * Beside `parley`, which sends the same bytes as base64 text in JSON, in one run: what binary frames save.
 */
export const parleyBytes: Target = {
  ...parley,
  name: 'parley-bytes',
  description: `${parley.description.replace(/; client: .*$/, '')}; client: raw protocol v2 frames, the payload as bytes in binary frames (light client)`,
  connect: (settings) => connectRaw(settings, 'light', { join: joinBinaryFrame, split: splitBinaryFrame }),
}
