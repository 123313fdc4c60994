import { bottleneckNote, chartPanel, comparisonRows, count, fixed, formatRatio, leadRatio, outcomesJson, perCoreSecond, perDelivery, runInterleaved, verdict, type Column } from '../lib/compare.js'
import type { TrafficJob, TrafficResult } from '../lib/jobs.js'
import type { Row, Scenario } from '../lib/scenario.js'

/**
 * One room, one publisher, 100 and 1000 subscribers. Full rate: the publisher keeps a window of messages in flight
 * (a message is in flight until every subscriber has it), so each target runs as fast as server and load generator
 * together allow. Fixed rate: 30,000 deliveries a second for every target, paced by the clock; end-to-end latency
 * (publish in the load generator → arrival at each subscriber, same clock) and server CPU per delivery. Then the same
 * rate again as bursts of 10 messages: what a server that batches its writes gains when messages come close together.
 */

/**
 * Deliveries per second at the fixed rate: about a third of the slowest target's full rate here (Socket.IO, ~90-100k),
 * so that neither the servers nor the load generator queue, and latency is the system's rather than a backlog's.
 */
const FIXED_DELIVERIES_PER_SEC = 30_000

/** The burst phase sends the same rate as this many messages back to back (a game tick, a batch of updates). */
const BURST = 10

export const TARGETS = {
  /** Server CPU per delivery at the fixed load, as a fraction of Socket.IO's and of plain ws's. */
  cpuVsSocketIo: 0.3,
  cpuVsWs: 0.5,
  /** Full-rate deliveries per second, as a multiple of Socket.IO's. */
  fullVsSocketIo: 2,
  /** p99 latency at the fixed rate, as a fraction of plain ws's. */
  p99VsWs: 1,
}

function job(subscribers: number, quick: boolean): TrafficJob {
  return {
    kind: 'traffic',
    rooms: 1,
    subscribersPerRoom: subscribers,
    publishersPerRoom: 1,
    connectConcurrency: 50,
    warmupMs: quick ? 300 : 1_000,
    full: { durationMs: quick ? 1_500 : 4_000, window: 32 },
    fixed: { durationMs: quick ? 2_000 : 5_000, ratePerPublisher: FIXED_DELIVERIES_PER_SEC / subscribers, burst: BURST },
    drainTimeoutMs: 20_000,
  }
}

const serverFixed = (r: TrafficResult): number => perDelivery(r.fixed.server.cpuMs, r.fixed.deliveries)
const serverFull = (r: TrafficResult): number => perDelivery(r.full.server.cpuMs, r.full.deliveries)
const full = (r: TrafficResult): number => r.full.deliveriesPerSec
const p99 = (r: TrafficResult): number => r.fixed.latencyMs.p99

export const FULL_COLUMNS: ReadonlyArray<Column<TrafficResult>> = [
  { name: 'deliveries/s', value: full, format: count },
  { name: 'server µs/delivery', value: serverFull, format: fixed(2) },
  // Deliveries per second of the server's CPU (V8's helper threads count too): its throughput per core, whichever
  // process ran out (issue 20).
  { name: 'per server CPU-s', value: (r) => perCoreSecond(r.full.deliveries, r.full.server.cpuMs), format: count },
  { name: 'loadgen µs/delivery', value: (r) => perDelivery(r.full.loadgen.cpuMs, r.full.deliveries), format: fixed(2) },
  { name: 'server CPU s', value: (r) => r.full.server.cpuMs / 1_000, format: fixed(2) },
  { name: 'loadgen CPU s', value: (r) => r.full.loadgen.cpuMs / 1_000, format: fixed(2) },
  { name: 'server ELU', value: (r) => r.full.server.elu, format: fixed(2) },
  { name: 'loadgen ELU', value: (r) => r.full.loadgen.elu, format: fixed(2) },
]

type Paced = TrafficResult['fixed']

/** The columns of a fixed-rate phase; `phase` picks which one (paced or in bursts). */
export function pacedColumns(phase: (r: TrafficResult) => Paced | undefined): ReadonlyArray<Column<TrafficResult>> {
  const of = (read: (p: Paced) => number) => (r: TrafficResult): number => {
    const p = phase(r)
    return p === undefined ? Number.NaN : read(p)
  }
  return [
    { name: 'deliveries/s', value: of((p) => p.deliveriesPerSec), format: count, ratio: false },
    { name: 'p50 ms', value: of((p) => p.latencyMs.p50), format: fixed(2) },
    { name: 'p99 ms', value: of((p) => p.latencyMs.p99), format: fixed(2) },
    { name: 'p99.9 ms', value: of((p) => p.latencyMs.p999), format: fixed(2) },
    { name: 'server µs/delivery', value: of((p) => perDelivery(p.server.cpuMs, p.deliveries)), format: fixed(2) },
    { name: '(system)', value: of((p) => perDelivery(p.server.systemMs, p.deliveries)), format: fixed(2) },
    { name: 'loadgen µs/delivery', value: of((p) => perDelivery(p.loadgen.cpuMs, p.deliveries)), format: fixed(2) },
    { name: 'server CPU s', value: of((p) => p.server.cpuMs / 1_000), format: fixed(2) },
    { name: 'loadgen CPU s', value: of((p) => p.loadgen.cpuMs / 1_000), format: fixed(2) },
    { name: 'server ELU', value: of((p) => p.server.elu), format: fixed(2) },
    { name: 'loadgen ELU', value: of((p) => p.loadgen.elu), format: fixed(2) },
  ]
}

export const FIXED_COLUMNS = pacedColumns((r) => r.fixed)
const BURST_COLUMNS = pacedColumns((r) => r.burst)
const serverBurst = (r: TrafficResult): number => (r.burst === undefined ? Number.NaN : perDelivery(r.burst.server.cpuMs, r.burst.deliveries))

const scenario: Scenario = {
  name: 'fanout',
  title: 'one room, one publisher, 100 and 1000 subscribers: full-rate throughput, fixed-rate latency and server CPU per delivery',
  async run(context) {
    const sizes = [100, 1_000]
    const cases = sizes.map((subscribers) => ({
      key: `${subscribers} subscribers`,
      job: job(subscribers, context.quick),
      server: { recovery: false },
      timeoutMs: context.quick ? 90_000 : 180_000,
    }))
    const results = await runInterleaved<TrafficResult>(context, 'fanout', context.targets, cases)
    const fullRows: Row[] = []
    const fixedRows: Row[] = []
    const burstRows: Row[] = []
    const notes: string[] = []
    const chart = []
    const summary: Record<string, unknown> = {}
    const validity = (r: TrafficResult) => r.validity
    for (const subscribers of sizes) {
      const key = `${subscribers} subscribers`
      const outcomes = results.get(key) ?? new Map()
      fullRows.push(...comparisonRows({ subs: subscribers }, context.targets, outcomes, FULL_COLUMNS, validity))
      fixedRows.push(...comparisonRows({ subs: subscribers }, context.targets, outcomes, FIXED_COLUMNS, validity))
      burstRows.push(...comparisonRows({ subs: subscribers }, context.targets, outcomes, BURST_COLUMNS, validity))
      const ratios = {
        cpuVsSocketIo: leadRatio(context.targets, outcomes, 'socket.io', serverFixed),
        cpuVsWs: leadRatio(context.targets, outcomes, 'ws', serverFixed),
        fullVsSocketIo: leadRatio(context.targets, outcomes, 'socket.io', full),
        p99VsWs: leadRatio(context.targets, outcomes, 'ws', p99),
        fullCpuVsSocketIo: leadRatio(context.targets, outcomes, 'socket.io', serverFull),
        fullCpuVsWs: leadRatio(context.targets, outcomes, 'ws', serverFull),
        burstCpuVsSocketIo: leadRatio(context.targets, outcomes, 'socket.io', serverBurst),
        burstCpuVsWs: leadRatio(context.targets, outcomes, 'ws', serverBurst),
      }
      summary[key] = ratios
      notes.push(bottleneckNote(`${subscribers} subscribers`, context.targets, outcomes))
      notes.push(
        `${subscribers} subscribers: server CPU per delivery at ${count(FIXED_DELIVERIES_PER_SEC)} deliveries/s is ${formatRatio(ratios.cpuVsSocketIo)} Socket.IO's ` +
          `(target ≤ ${TARGETS.cpuVsSocketIo}×: ${verdict(ratios.cpuVsSocketIo, TARGETS.cpuVsSocketIo, 'at most')}) and ${formatRatio(ratios.cpuVsWs)} plain ws's ` +
          `(target ≤ ${TARGETS.cpuVsWs}×: ${verdict(ratios.cpuVsWs, TARGETS.cpuVsWs, 'at most')}); at the same rate in bursts of ${BURST} it is ` +
          `${formatRatio(ratios.burstCpuVsSocketIo)} (${verdict(ratios.burstCpuVsSocketIo, TARGETS.cpuVsSocketIo, 'at most')}) and ${formatRatio(ratios.burstCpuVsWs)} ` +
          `(${verdict(ratios.burstCpuVsWs, TARGETS.cpuVsWs, 'at most')}); at full rate ${formatRatio(ratios.fullCpuVsSocketIo)} and ${formatRatio(ratios.fullCpuVsWs)}`,
        `${subscribers} subscribers: full-rate deliveries/s are ${formatRatio(ratios.fullVsSocketIo)} Socket.IO's (target ≥ ${TARGETS.fullVsSocketIo}×: ` +
          `${verdict(ratios.fullVsSocketIo, TARGETS.fullVsSocketIo, 'at least')}); p99 at the fixed rate is ${formatRatio(ratios.p99VsWs)} plain ws's ` +
          `(target ≤ ${TARGETS.p99VsWs}×: ${verdict(ratios.p99VsWs, TARGETS.p99VsWs, 'at most')})`,
      )
      chart.push(
        chartPanel(`fan-out ${subscribers}: full-rate deliveries/s`, 'deliveries/s', 'higher', context.targets, outcomes, full, validity),
        chartPanel(`fan-out ${subscribers}: server CPU per delivery (fixed rate)`, 'µs', 'lower', context.targets, outcomes, serverFixed, validity),
        chartPanel(`fan-out ${subscribers}: server CPU per delivery (bursts of ${BURST})`, 'µs', 'lower', context.targets, outcomes, serverBurst, validity),
        chartPanel(`fan-out ${subscribers}: p99 latency (fixed rate)`, 'ms', 'lower', context.targets, outcomes, p99, validity),
      )
    }
    notes.push(
      `Fixed rate: ${count(FIXED_DELIVERIES_PER_SEC)} deliveries/s for every target (${FIXED_DELIVERIES_PER_SEC / 100} messages/s to 100 subscribers, ` +
        `${FIXED_DELIVERIES_PER_SEC / 1_000} to 1000), first paced evenly, then as bursts of ${BURST} back to back. Full rate: 32 messages in flight. Medians of ${context.repetitions} interleaved repetition(s); ratios are ` +
        'medians of per-repetition ratios. "(system)" is the kernel share of the server\'s CPU per delivery.',
    )
    return {
      tableTitle: 'Full rate (32 messages in flight)',
      table: fullRows,
      tables: [
        { title: `Fixed rate: ${count(FIXED_DELIVERIES_PER_SEC)} deliveries/s, paced evenly`, rows: fixedRows },
        { title: `Fixed rate: the same ${count(FIXED_DELIVERIES_PER_SEC)} deliveries/s, as bursts of ${BURST} messages`, rows: burstRows },
      ],
      notes,
      chart,
      data: { targets: context.targets, repetitions: context.repetitions, jobs: Object.fromEntries(cases.map((c) => [c.key, c.job])), targetsStated: TARGETS, ratios: summary, results: outcomesJson(results) },
    }
  },
}

export default scenario
