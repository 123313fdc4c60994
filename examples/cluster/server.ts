/**
 * One machine, all cores: `node:cluster` runs one Parley node per worker process, all listening on the same port
 * (the primary hands connections out round-robin), sharing rooms through the Redis adapter. No sticky sessions: a
 * WebSocket stays on the worker that accepted it, and the HTTP stream's POSTs, which may land on any worker, are
 * forwarded through Redis to the one holding the stream.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/cluster/server.ts        # one worker per core
 *   WORKERS=2 PORT=4000 npx tsx examples/cluster/server.ts
 *
 * Any token is a user name (a demo: put your own `authenticate` here). GET /api/cluster shows every node's figures.
 */
import cluster from 'node:cluster'
import { createServer } from 'node:http'
import { availableParallelism } from 'node:os'
import { attach } from '@parley/server-sdk'
import { createRedisAdapter } from '@parley/redis-adapter'

const port = Number(process.env['PORT'] ?? 3000)
const workers = Number(process.env['WORKERS'] ?? availableParallelism())
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'
// Nodes that share a prefix share rooms: one prefix per app (and per test run).
const keyPrefix = process.env['CLUSTER_KEY_PREFIX'] ?? 'parley-cluster-example'

if (cluster.isPrimary) {
  if (!Number.isInteger(workers) || workers < 1) {
    console.error(`WORKERS must be a positive integer, got ${process.env['WORKERS']}`)
    process.exit(1)
  }
  let ready = 0
  let stopping = false
  for (let i = 0; i < workers; i++) cluster.fork()
  cluster.on('message', (_worker, message: unknown) => {
    if (message === 'ready' && ++ready === workers) {
      console.log(`Parley cluster: ${workers} workers on http://127.0.0.1:${port} (Redis ${redisUrl}, prefix ${keyPrefix})`)
      console.log('  WebSocket: ws://127.0.0.1:' + port + '/parley   Cluster figures: /api/cluster   Press Ctrl+C to stop.')
    }
  })
  // A worker that dies is replaced; its clients reconnect to the others and resume.
  cluster.on('exit', (worker, code) => {
    if (stopping) return
    console.error(`worker ${worker.process.pid} exited (${code}); starting another`)
    cluster.fork()
  })
  const stop = (): void => {
    if (stopping) return
    stopping = true
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
    let left = Object.keys(cluster.workers ?? {}).length
    if (left === 0) process.exit(0)
    cluster.on('exit', () => {
      if (--left === 0) process.exit(0)
    })
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
} else {
  const server = createServer(async (request, response) => {
    if (request.url === '/api/cluster') {
      const stats = await parley.clusterStats()
      response.setHeader('Content-Type', 'application/json')
      response.end(JSON.stringify({ answeredBy: parley.nodeId, partial: stats.partial, nodes: stats.nodes.map(({ node, stats: s }) => ({ node, connections: s.connections, members: s.members, deliveries: s.deliveries })) }))
      return
    }
    response.statusCode = 404
    response.end('Not found\n')
  })
  const parley = attach(server, {
    authenticate: ({ token }) => (token === undefined || !/^[A-Za-z0-9_-]{1,32}$/.test(token) ? null : { id: token }),
    // A node that stops beating is swept by the others within this time (presence, streams).
    adapter: createRedisAdapter({ url: redisUrl, keyPrefix, nodeTimeoutMs: 3_000 }),
  })
  await parley.ready
  server.listen(port, '127.0.0.1', () => process.send?.('ready'))
  process.once('SIGTERM', () => {
    void parley.close().then(() => server.close(() => process.exit(0)))
  })
}
