import { connectRaw, parley, startParleyServer } from './parley.js'
import type { RunningServer, ServerSettings, Target } from './target.js'

/**
 * Parley with `compression: true` (permessage-deflate, threshold 1 024 bytes, level 1), and load-generator clients
 * that offer the extension as browsers do. Beside `parley` in the `payload` scenario: what compression costs the
 * server per delivery and saves on the wire.
 */
export const parleyDeflate: Target = {
  ...parley,
  name: 'parley-deflate',
  description: `${parley.description}; compression: true (permessage-deflate), clients offer it`,
  async startServer(_settings: ServerSettings): Promise<RunningServer> {
    return startParleyServer({ compression: true }, undefined, (instance) => () => {
      // A run in which nothing was compressed measured nothing: say so rather than print figures.
      if (instance.stats().compression.frames === 0) throw new Error('parley-deflate: no frame was compressed')
    })
  },
  connect: (settings) => connectRaw(settings, true),
}
