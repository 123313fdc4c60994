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
    return startParleyServer({ compression: true })
  },
  async connect(settings) {
    const client = await connectRaw(settings, 'ws-deflate')
    // A client the server did not compress for would measure nothing: the trial fails instead (FAILED in the table).
    if (client.extensions !== 'permessage-deflate') throw new Error(`parley-deflate: permessage-deflate was not negotiated (${client.extensions || 'no extension'})`)
    return client
  },
}
