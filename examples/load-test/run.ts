/**
 * npm run load-test -- --clients 100 --messages 1000 [--rooms 10] [--url ws://127.0.0.1:3000/parley] [--json]
 *
 * Connects N clients across rooms, publishes M messages in all, and checks every member of a room got each of its
 * messages exactly once. Exits 1 when anything was lost, duplicated, out of order, or the run timed out.
 */
import { parseArgs } from 'node:util'
import { runLoadTest, type LoadTestProgress, type LoadTestResult } from './load-test.js'

const USAGE = `Usage: npm run load-test -- [options]

  --clients <n>        clients to connect (default 100)
  --messages <n>       messages to publish in all, round-robin over the clients (default 1000)
  --rooms <n>          rooms to spread the clients over (default: one per 10 clients)
  --rate <n>           publishes per second per client (default 40; the server allows 50)
  --url <ws-url>       test a running chat example on this machine instead of an in-process server
                       (127.0.0.1 or localhost only; clients sign in through its POST /api/login)
  --timeout <seconds>  give up after this long (default 60)
  --json               print the result as JSON
  --help`

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 1) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(value)}\n\n${USAGE}`)
    process.exit(2)
  }
  return parsed
}

let args: ReturnType<typeof parse>
function parse() {
  return parseArgs({
    options: {
      clients: { type: 'string' },
      messages: { type: 'string' },
      rooms: { type: 'string' },
      rate: { type: 'string' },
      url: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
}
try {
  args = parse()
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`)
  process.exit(2)
}
if (args.values.help) {
  console.log(USAGE)
  process.exit(0)
}

const clients = positiveInt('clients', args.values.clients, 100)
const messages = positiveInt('messages', args.values.messages, 1_000)
const rooms = positiveInt('rooms', args.values.rooms, Math.max(1, Math.ceil(clients / 10)))
const ratePerClient = positiveInt('rate', args.values.rate, 40)
const timeoutMs = positiveInt('timeout', args.values.timeout, 60) * 1_000
const json = args.values.json === true
const tty = process.stdout.isTTY === true && !json

const fmt = (value: number, digits = 0): string => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

let lastLineAt = 0
function showProgress(p: LoadTestProgress): void {
  if (json) return
  const pct = p.expected === 0 ? 0 : Math.floor((p.delivered / p.expected) * 100)
  const line =
    `[${(p.elapsedMs / 1_000).toFixed(1).padStart(5)}s] ${p.phase.padEnd(10)} connected ${fmt(p.connected)}/${fmt(clients)}  ` +
    `published ${fmt(p.published)}/${fmt(messages)}  acked ${fmt(p.acked)}  delivered ${fmt(p.delivered)}/${fmt(p.expected)} (${pct}%)`
  if (tty) {
    process.stdout.write(`\r${line}\x1b[K`)
  } else if (p.phase === 'done' || p.elapsedMs - lastLineAt >= 1_000) {
    // Not a terminal (CI, a pipe): a line a second instead of rewriting one.
    lastLineAt = p.elapsedMs
    console.log(line)
  }
}

function report(result: LoadTestResult): void {
  if (tty) process.stdout.write('\n')
  if (json) {
    console.log(JSON.stringify(result, null, 2))
    return
  }
  const ok = (value: number): string => (value === 0 ? `${value}  ✓` : `${value}  ✗`)
  const rows: Array<[string, string]> = [
    ['server', result.url],
    ['clients / rooms', `${fmt(result.clients)} in ${fmt(result.rooms)} rooms (connected in ${fmt(result.connectMs)} ms)`],
    ['messages', `${fmt(result.messages)} published, ${fmt(result.acked)} acked, ${fmt(result.failed)} failed`],
    ['deliveries expected', fmt(result.expected)],
    ['delivered', fmt(result.delivered)],
    ['lost', ok(result.lost)],
    ['duplicated', ok(result.duplicated)],
    ['out of order', ok(result.outOfOrder)],
    ['duration', `${fmt(result.durationMs)} ms${result.timedOut ? ' (timed out)' : ''}`],
    ['throughput', `${fmt(result.deliveriesPerSecond)} deliveries/s, ${fmt(result.publishesPerSecond)} publishes/s`],
    [
      'latency (ms)',
      `p50 ${fmt(result.latencyMs.p50, 1)}  p90 ${fmt(result.latencyMs.p90, 1)}  p99 ${fmt(result.latencyMs.p99, 1)}  max ${fmt(result.latencyMs.max, 1)}`,
    ],
  ]
  const width = Math.max(...rows.map(([label]) => label.length))
  console.log('')
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`)
  console.log('')
}

if (!json) {
  console.log(`Parley load test: ${fmt(clients)} clients, ${fmt(rooms)} rooms, ${fmt(messages)} messages` + (args.values.url ? ` against ${args.values.url}` : ' (in-process server on 127.0.0.1)'))
}
try {
  const result = await runLoadTest({
    clients,
    messages,
    rooms,
    ratePerClient,
    timeoutMs,
    onProgress: showProgress,
    ...(args.values.url === undefined ? {} : { url: args.values.url }),
  })
  report(result)
  const passed = result.lost === 0 && result.duplicated === 0 && result.outOfOrder === 0 && !result.timedOut && result.failed === 0
  if (!json) console.log(passed ? 'PASS: every message delivered exactly once, in order.' : 'FAIL: see the figures above.')
  process.exit(passed ? 0 : 1)
} catch (error) {
  if (tty) process.stdout.write('\n')
  console.error(`load test failed: ${(error as Error).message}`)
  process.exit(2)
}
