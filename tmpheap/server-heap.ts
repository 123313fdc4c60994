import { fork } from 'node:child_process'
import { createServer } from 'node:http'
import { writeHeapSnapshot } from 'node:v8'
import { attach } from '@parley/server-sdk'
const N = Number(process.argv[2] ?? 2000)
const http = createServer()
const parley = attach(http, {})
await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()))
await parley.ready
const port = (http.address() as { port: number }).port
const gc = (globalThis as any).gc as () => void
const run = async (n: number) => {
  const child = fork(new URL('./conns.ts', import.meta.url), [String(port), String(n)], { execArgv: ['--import', new URL('../bench/lib/ts-register.mjs', import.meta.url).pathname] })
  await new Promise<void>((r) => child.once('message', () => r()))
  return child
}
const warm = await run(20)
await new Promise((r) => setTimeout(r, 500)); gc(); gc()
writeHeapSnapshot('/tmp/heapA.heapsnapshot')
const before = process.memoryUsage()
const c = await run(N)
await new Promise((r) => setTimeout(r, 1500)); gc(); gc()
const after = process.memoryUsage()
console.log('heap/conn', ((after.heapUsed - before.heapUsed) / N / 1024).toFixed(2), 'KB')
writeHeapSnapshot('/tmp/heapB.heapsnapshot')
c.kill(); warm.kill(); process.exit(0)
