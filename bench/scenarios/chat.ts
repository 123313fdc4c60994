import { bottleneckNote, chartPanel, comparisonRows, count, outcomesJson, perDelivery, runInterleaved } from '../lib/compare.js'
import type { TrafficJob, TrafficResult } from '../lib/jobs.js'
import type { Scenario } from '../lib/scenario.js'
import { FIXED_COLUMNS, FULL_COLUMNS } from './fanout.js'

/**
 * Chat: 1000 clients in 100 rooms of 10, every client publishing to its room (each message reaches the 9 others).
 * Full rate: each publisher keeps 2 messages in flight. Fixed rate: 5 messages a second per client, i.e. 5,000
 * messages and 45,000 deliveries a second in all. Many small rooms stress per-message work (decode, sequencing,
 * history) more than fan-out does. A second case, "calm": the same rooms at one message a second per client, every
 * publish acknowledged (issue 20's paced chat: one message per event-loop turn, the per-message path alone).
 */

const RATE_PER_CLIENT = 5
const CALM_RATE_PER_CLIENT = 1

function calmJob(quick: boolean): TrafficJob {
  return { ...job(quick), full: { durationMs: quick ? 500 : 1_000, window: 2 }, fixed: { durationMs: quick ? 3_000 : 8_000, ratePerPublisher: CALM_RATE_PER_CLIENT }, acks: true }
}

function job(quick: boolean): TrafficJob {
  return {
    kind: 'traffic',
    rooms: 100,
    subscribersPerRoom: 0,
    publishersPerRoom: 10,
    connectConcurrency: 50,
    warmupMs: quick ? 300 : 1_000,
    full: { durationMs: quick ? 1_500 : 4_000, window: 2 },
    fixed: { durationMs: quick ? 2_000 : 5_000, ratePerPublisher: RATE_PER_CLIENT },
    drainTimeoutMs: 20_000,
  }
}

const scenario: Scenario = {
  name: 'chat',
  title: '1000 clients in 100 rooms of 10, everyone publishing: throughput, latency and server CPU per delivery',
  async run(context) {
    const trialCase = { key: '100 rooms × 10', job: job(context.quick), server: { recovery: false }, timeoutMs: context.quick ? 90_000 : 180_000 }
    const calmCase = { key: '100 rooms × 10, calm', job: calmJob(context.quick), server: { recovery: false }, timeoutMs: context.quick ? 90_000 : 180_000 }
    const results = await runInterleaved<TrafficResult>(context, 'chat', context.targets, [trialCase, calmCase])
    const outcomes = results.get(trialCase.key) ?? new Map()
    const calm = results.get(calmCase.key) ?? new Map()
    const validity = (r: TrafficResult) => r.validity
    const lead = { rooms: '100 × 10' }
    return {
      tableTitle: 'Full rate (2 messages in flight per client)',
      table: comparisonRows(lead, context.targets, outcomes, FULL_COLUMNS, validity),
      tables: [
        { title: `Fixed rate: ${RATE_PER_CLIENT} messages/s per client (${count(1_000 * RATE_PER_CLIENT * 9)} deliveries/s)`, rows: comparisonRows(lead, context.targets, outcomes, FIXED_COLUMNS, validity) },
        { title: `Calm: ${CALM_RATE_PER_CLIENT} message/s per client (${count(1_000 * CALM_RATE_PER_CLIENT * 9)} deliveries/s), every publish acknowledged`, rows: comparisonRows(lead, context.targets, calm, FIXED_COLUMNS, validity) },
      ],
      notes: [
        'Every message goes to the 9 other members of its room; each client checks it got every message of every other member, in order; in the calm case every publish asks for an acknowledgement and each must come back.',
        bottleneckNote('100 rooms × 10', context.targets, outcomes),
        `Medians of ${context.repetitions} interleaved repetition(s); ratios are medians of per-repetition ratios.`,
      ],
      chart: [
        chartPanel('chat: full-rate deliveries/s', 'deliveries/s', 'higher', context.targets, outcomes, (r) => r.full.deliveriesPerSec, validity),
        chartPanel('chat: server CPU per delivery (fixed rate)', 'µs', 'lower', context.targets, outcomes, (r) => perDelivery(r.fixed.server.cpuMs, r.fixed.deliveries), validity),
        chartPanel('chat, calm: server CPU per delivery (1 msg/s per client, acked)', 'µs', 'lower', context.targets, calm, (r) => perDelivery(r.fixed.server.cpuMs, r.fixed.deliveries), validity),
        chartPanel('chat, calm: p99 latency', 'ms', 'lower', context.targets, calm, (r) => r.fixed.latencyMs.p99, validity),
      ],
      data: { targets: context.targets, repetitions: context.repetitions, job: trialCase.job, calmJob: calmCase.job, results: outcomesJson(results) },
    }
  },
}

export default scenario
