import { parley, startParleyServer } from './parley.js'
import type { RunningServer, ServerSettings, Target } from './target.js'

/**
 * Parley with `presence.announce: 'none'` (broadcast-style rooms): the `parley` target's server and client, but
 * members are not told of each other's joins. Beside `parley` in the fan-out scenario, the setup time of 1 000
 * subscribers joining one room shows what announcing every join to every member costs.
 */
export const parleyQuiet: Target = {
  ...parley,
  name: 'parley-quiet',
  description: `${parley.description}; presence.announce 'none' (no join/leave announcements)`,
  async startServer(_settings: ServerSettings): Promise<RunningServer> {
    return startParleyServer({ presence: { announce: 'none' } })
  },
}
