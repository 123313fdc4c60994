import { fork } from 'node:child_process'
import { writeHeapSnapshot } from 'node:v8'
import { createClient } from '@parley/client-sdk'
const N = Number(process.argv[2] ?? 1000)
const child = fork(new URL('./server.ts', import.meta.url), { execArgv: ['--import', new URL('../bench/lib/ts-register.mjs', import.meta.url).pathname] })
const port = await new Promise<number>((r) => child.once('message', (m: any) => r(m.port)))
const gc = (globalThis as any).gc as () => void
const held: unknown[] = []
// warm up: one client through its whole life, so lazily made module state is in snapshot A
{
  const c = createClient(`ws://127.0.0.1:${port}/parley`, { token: "warm" })
  const room = c.join('warm')
  await new Promise<void>((r) => room.on('joined' as never, () => r()))
  held.push(c, room)
}
gc(); gc()
const a = writeHeapSnapshot('/tmp/heapA.heapsnapshot')
const before = process.memoryUsage()
for (let i = 0; i < N; i++) {
  const c = createClient(`ws://127.0.0.1:${port}/parley`, { token: `u${i}` })
  const room = c.join(`room-${i % (N / 10)}`)
  held.push(c, room)
  await new Promise<void>((r) => room.on('joined' as never, () => r()))
}
await new Promise((r) => setTimeout(r, 1500))
gc(); gc()
const after = process.memoryUsage()
console.log('heap/client', ((after.heapUsed - before.heapUsed) / N / 1024).toFixed(2), 'KB', 'rss/client', ((after.rss - before.rss) / N / 1024).toFixed(2), 'KB')
writeHeapSnapshot('/tmp/heapB.heapsnapshot')
console.log(a)
child.kill()
process.exit(0)
