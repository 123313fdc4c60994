import { randomBytes } from 'node:crypto'
import { parley, startParleyServer } from './parley.js'
import type { RunningServer, ServerSettings, Target } from './target.js'

/**
 * Parley on `@parley/redis-adapter`: the `parley` target's server and raw-frame client, with sequencing, history,
 * de-duplication and presence in Redis (one node). Beside `parley` in one run (`--targets parley,parley-redis
 * room-join`) it shows what keeping a room in Redis costs, a large room's joins included.
 *
 * Each trial uses a key prefix of its own in `PARLEY_BENCH_REDIS_URL` (default the local Redis) and deletes its keys
 * when the server closes.
 */

export const BENCH_REDIS_URL = process.env['PARLEY_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379'

async function startServer(_settings: ServerSettings): Promise<RunningServer> {
  const { createRedisAdapter } = await import('@parley/redis-adapter')
  const { createClient } = await import('redis')
  const keyPrefix = `parley-bench-${randomBytes(6).toString('hex')}`
  const adapter = createRedisAdapter({ url: BENCH_REDIS_URL, keyPrefix })
  return startParleyServer({ adapter }, async () => {
    const client = createClient({ url: BENCH_REDIS_URL })
    await client.connect()
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}:*`, COUNT: 1_000 })) {
      const batch = Array.isArray(keys) ? keys : [keys]
      if (batch.length > 0) await client.del(batch)
    }
    await client.quit()
  })
}

export const parleyRedis: Target = {
  ...parley,
  name: 'parley-redis',
  description: `${parley.description}; adapter: @parley/redis-adapter on one Redis (a fresh key prefix per trial)`,
  startServer,
}
