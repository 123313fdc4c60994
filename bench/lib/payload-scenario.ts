import { chartPanel, type CaseOutcomes, comparisonRows, count, fixed, formatRatio, outcomesJson, pairedRatio, perDelivery, runInterleaved, type Column } from './compare.js'
import type { TrafficJob, TrafficResult } from './jobs.js'
import type { Scenario } from './scenario.js'
import type { ServerSettings } from '../targets/target.js'

/** One large-message scenario: what its messages carry, how they are paced, and which two targets it compares. */
export interface PayloadScenarioSpec {
  readonly name: string
  readonly title: string
  /** The case's label, and the charts' prefix (`4 KiB messages`). */
  readonly key: string
  readonly chartLabel: string
  readonly subscribers: number
  /** Paced rate, deliveries per second over all subscribers. */
  readonly deliveriesPerSec: number
  /** Messages in flight per publisher at full rate. */
  readonly window: number
  readonly payload: Pick<TrafficJob, 'textBytes' | 'bytesPayload'>
  readonly server: ServerSettings
  /** The ratio printed: `test` ÷ `base`, both target names, introduced by `what` (`Compression on ÷ off`). */
  readonly compare: { readonly test: string; readonly base: string; readonly what: string }
  /** What each message holds, for the notes. */
  readonly describe: string
}

const serverCpu = (r: TrafficResult): number => perDelivery(r.fixed.server.cpuMs, r.fixed.deliveries)
/** Bytes the server wrote per delivery (its sockets, through `/proc/self/io`): the wire cost of one message to one member. */
const wireBytes = (r: TrafficResult): number => (r.fixed.deliveries > 0 ? r.fixed.server.writtenBytes / r.fixed.deliveries : Number.NaN)
const loadgenCpu = (r: TrafficResult): number => perDelivery(r.fixed.loadgen.cpuMs, r.fixed.deliveries)

const COLUMNS: ReadonlyArray<Column<TrafficResult>> = [
  { name: 'server µs/delivery', value: serverCpu, format: fixed(2) },
  { name: 'bytes/delivery', value: wireBytes, format: count },
  { name: 'p50 ms', value: (r) => r.fixed.latencyMs.p50, format: fixed(2) },
  { name: 'p99 ms', value: (r) => r.fixed.latencyMs.p99, format: fixed(2) },
  { name: 'loadgen µs/delivery', value: loadgenCpu, format: fixed(2) },
  { name: 'server ELU', value: (r) => r.fixed.server.elu, format: fixed(2) },
  { name: 'full-rate deliveries/s', value: (r) => r.full.deliveriesPerSec, format: count },
  { name: 'full-rate server µs/delivery', value: (r) => perDelivery(r.full.server.cpuMs, r.full.deliveries), format: fixed(2) },
]

/**
 * A scenario of large messages: one room, one publisher, `subscribers` members, paced then at full rate; server CPU
 * and bytes on the wire per delivery, and the ratio of two targets measured in the same run (`payload`: compression
 * on ÷ off; `binary`: binary frames ÷ base64 in JSON).
 */
export function payloadScenario(spec: PayloadScenarioSpec): Scenario {
  const job = (quick: boolean): TrafficJob => ({
    kind: 'traffic',
    rooms: 1,
    subscribersPerRoom: spec.subscribers,
    publishersPerRoom: 1,
    connectConcurrency: Math.min(50, spec.subscribers),
    warmupMs: quick ? 300 : 1_000,
    full: { durationMs: quick ? 1_500 : 3_000, window: spec.window },
    fixed: { durationMs: quick ? 2_000 : 5_000, ratePerPublisher: spec.deliveriesPerSec / spec.subscribers },
    drainTimeoutMs: 20_000,
    ...spec.payload,
  })
  return {
    name: spec.name,
    title: spec.title,
    async run(context) {
      const cases = [{ key: spec.key, job: job(context.quick), server: spec.server, timeoutMs: context.quick ? 90_000 : 180_000 }]
      const results = await runInterleaved<TrafficResult>(context, spec.name, context.targets, cases)
      const outcomes: CaseOutcomes<TrafficResult> = results.get(spec.key) ?? new Map()
      const validity = (r: TrafficResult) => r.validity
      const notes: string[] = []
      const test = context.targets.find((target) => target.target === spec.compare.test)
      const base = context.targets.find((target) => target.target === spec.compare.base && target.serverEnv === undefined)
      if (test !== undefined && base !== undefined) {
        const on = outcomes.get(test.label) ?? []
        const off = outcomes.get(base.label) ?? []
        notes.push(
          `${spec.compare.what} at ${count(spec.deliveriesPerSec)} deliveries/s: server CPU per delivery ${formatRatio(pairedRatio(on, off, serverCpu))}, ` +
            `bytes on the wire per delivery ${formatRatio(pairedRatio(on, off, wireBytes))}, p99 ${formatRatio(pairedRatio(on, off, (r) => r.fixed.latencyMs.p99))}, ` +
            `load generator CPU per delivery ${formatRatio(pairedRatio(on, off, loadgenCpu))}.`,
        )
      } else {
        notes.push(`Run with --targets ${spec.compare.base},${spec.compare.test} for the ratios.`)
      }
      notes.push(
        `${spec.describe} Paced at ${count(spec.deliveriesPerSec)} deliveries/s; full rate keeps ${spec.window} in flight. ` +
          'bytes/delivery is what the server process wrote (Linux /proc/self/io wchar) over the paced window, divided by deliveries. ' +
          `Medians of ${context.repetitions} interleaved repetition(s); ratios are medians of per-repetition ratios.`,
      )
      return {
        table: comparisonRows({ case: spec.key }, context.targets, outcomes, COLUMNS, validity),
        notes,
        chart: [
          chartPanel(`${spec.chartLabel}: server CPU per delivery (paced)`, 'µs', 'lower', context.targets, outcomes, serverCpu, validity),
          chartPanel(`${spec.chartLabel}: bytes on the wire per delivery`, 'bytes', 'lower', context.targets, outcomes, wireBytes, validity),
        ],
        data: { targets: context.targets, repetitions: context.repetitions, job: cases[0]!.job, results: outcomesJson(results) },
      }
    },
  }
}
