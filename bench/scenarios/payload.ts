import { chartPanel, type CaseOutcomes, comparisonRows, count, fixed, formatRatio, outcomesJson, pairedRatio, perDelivery, runInterleaved, type Column } from '../lib/compare.js'
import type { TrafficJob, TrafficResult } from '../lib/jobs.js'
import type { Scenario } from '../lib/scenario.js'

/**
 * Large messages: one room, one publisher, 100 subscribers, each message's text 4 KiB of chat-like words. Run
 * `parley` beside `parley-deflate` (compression on, clients offering it) to see what permessage-deflate costs the
 * server per delivery and saves on the wire, in one run: `--targets parley,parley-deflate,ws payload`.
 */

const TEXT_BYTES = 4 * 1024
const SUBSCRIBERS = 100
/**
 * Paced: 50 messages a second to 100 subscribers (about 21 MB/s on the wire uncompressed). Low enough that the load
 * generator, which inflates every compressed frame through ws's asynchronous zlib (about 60 µs each, against 15 for
 * a plain one), keeps up: at 20 000/s it saturated and latency measured its queue.
 */
const FIXED_DELIVERIES_PER_SEC = 5_000

function job(quick: boolean): TrafficJob {
  return {
    kind: 'traffic',
    rooms: 1,
    subscribersPerRoom: SUBSCRIBERS,
    publishersPerRoom: 1,
    connectConcurrency: 50,
    warmupMs: quick ? 300 : 1_000,
    full: { durationMs: quick ? 1_500 : 3_000, window: 32 },
    fixed: { durationMs: quick ? 2_000 : 5_000, ratePerPublisher: FIXED_DELIVERIES_PER_SEC / SUBSCRIBERS },
    drainTimeoutMs: 20_000,
    textBytes: TEXT_BYTES,
  }
}

const serverCpu = (r: TrafficResult): number => perDelivery(r.fixed.server.cpuMs, r.fixed.deliveries)
/** Bytes the server wrote per delivery (its sockets, through `/proc/self/io`): the wire cost of one message to one member. */
const wireBytes = (r: TrafficResult): number => (r.fixed.deliveries > 0 ? r.fixed.server.writtenBytes / r.fixed.deliveries : Number.NaN)

const COLUMNS: ReadonlyArray<Column<TrafficResult>> = [
  { name: 'server µs/delivery', value: serverCpu, format: fixed(2) },
  { name: 'bytes/delivery', value: wireBytes, format: count },
  { name: 'p50 ms', value: (r) => r.fixed.latencyMs.p50, format: fixed(2) },
  { name: 'p99 ms', value: (r) => r.fixed.latencyMs.p99, format: fixed(2) },
  { name: 'loadgen µs/delivery', value: (r) => perDelivery(r.fixed.loadgen.cpuMs, r.fixed.deliveries), format: fixed(2) },
  { name: 'server ELU', value: (r) => r.fixed.server.elu, format: fixed(2) },
  { name: 'full-rate deliveries/s', value: (r) => r.full.deliveriesPerSec, format: count },
  { name: 'full-rate server µs/delivery', value: (r) => perDelivery(r.full.server.cpuMs, r.full.deliveries), format: fixed(2) },
]

const scenario: Scenario = {
  name: 'payload',
  title: `4 KiB messages to ${SUBSCRIBERS} subscribers: server CPU and bytes on the wire per delivery, compression on and off`,
  async run(context) {
    const key = `${SUBSCRIBERS} subscribers, ${TEXT_BYTES} B text`
    const cases = [{ key, job: job(context.quick), server: { recovery: false }, timeoutMs: context.quick ? 90_000 : 180_000 }]
    const results = await runInterleaved<TrafficResult>(context, 'payload', context.targets, cases)
    const outcomes: CaseOutcomes<TrafficResult> = results.get(key) ?? new Map()
    const validity = (r: TrafficResult) => r.validity
    const notes: string[] = []
    const plain = context.targets.find((spec) => spec.target === 'parley' && spec.serverEnv === undefined)
    const deflate = context.targets.find((spec) => spec.target === 'parley-deflate')
    if (plain !== undefined && deflate !== undefined) {
      const on = outcomes.get(deflate.label) ?? []
      const off = outcomes.get(plain.label) ?? []
      notes.push(
        `Compression on ÷ off at ${count(FIXED_DELIVERIES_PER_SEC)} deliveries/s: server CPU per delivery ${formatRatio(pairedRatio(on, off, serverCpu))}, ` +
          `bytes on the wire per delivery ${formatRatio(pairedRatio(on, off, wireBytes))}, p99 ${formatRatio(pairedRatio(on, off, (r) => r.fixed.latencyMs.p99))}.`,
      )
    } else {
      notes.push('Run with --targets parley,parley-deflate (and ws) for the compression ratios.')
    }
    notes.push(
      `Each message's text is ${TEXT_BYTES} bytes of repeating words. Paced at ${count(FIXED_DELIVERIES_PER_SEC)} deliveries/s; full rate keeps 32 in flight. ` +
        'bytes/delivery is what the server process wrote (Linux /proc/self/io wchar) over the paced window, divided by deliveries. ' +
        `Medians of ${context.repetitions} interleaved repetition(s); ratios are medians of per-repetition ratios.`,
    )
    return {
      table: comparisonRows({ case: key }, context.targets, outcomes, COLUMNS, validity),
      notes,
      chart: [
        chartPanel('4 KiB messages: server CPU per delivery (paced)', 'µs', 'lower', context.targets, outcomes, serverCpu, validity),
        chartPanel('4 KiB messages: bytes on the wire per delivery', 'bytes', 'lower', context.targets, outcomes, wireBytes, validity),
      ],
      data: { targets: context.targets, repetitions: context.repetitions, job: cases[0]!.job, results: outcomesJson(results) },
    }
  },
}

export default scenario
