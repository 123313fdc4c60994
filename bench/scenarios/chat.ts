import { chartPanel, comparisonRows, count, outcomesJson, perDelivery, runInterleaved } from '../lib/compare.js'
import type { TrafficJob, TrafficResult } from '../lib/jobs.js'
import type { Scenario } from '../lib/scenario.js'
import { FIXED_COLUMNS, FULL_COLUMNS } from './fanout.js'

/**
 * Chat: 1000 clients in 100 rooms of 10, every client publishing to its room (each message reaches the 9 others).
 * Full rate: each publisher keeps 2 messages in flight. Fixed rate: 5 messages a second per client, i.e. 5,000
 * messages and 45,000 deliveries a second in all. Many small rooms stress per-message work (decode, sequencing,
 * history) more than fan-out does.
 */

const RATE_PER_CLIENT = 5

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
    const results = await runInterleaved<TrafficResult>(context, 'chat', context.targets, [trialCase])
    const outcomes = results.get(trialCase.key) ?? new Map()
    const validity = (r: TrafficResult) => r.validity
    const lead = { rooms: '100 × 10' }
    return {
      tableTitle: 'Full rate (2 messages in flight per client)',
      table: comparisonRows(lead, context.targets, outcomes, FULL_COLUMNS, validity),
      tables: [{ title: `Fixed rate: ${RATE_PER_CLIENT} messages/s per client (${count(1_000 * RATE_PER_CLIENT * 9)} deliveries/s)`, rows: comparisonRows(lead, context.targets, outcomes, FIXED_COLUMNS, validity) }],
      notes: [
        'Every message goes to the 9 other members of its room; each client checks it got every message of every other member, in order.',
        `Medians of ${context.repetitions} interleaved repetition(s); ratios are medians of per-repetition ratios.`,
      ],
      chart: [
        chartPanel('chat: full-rate deliveries/s', 'deliveries/s', 'higher', context.targets, outcomes, (r) => r.full.deliveriesPerSec, validity),
        chartPanel('chat: server CPU per delivery (fixed rate)', 'µs', 'lower', context.targets, outcomes, (r) => perDelivery(r.fixed.server.cpuMs, r.fixed.deliveries), validity),
      ],
      data: { targets: context.targets, repetitions: context.repetitions, job: trialCase.job, results: outcomesJson(results) },
    }
  },
}

export default scenario
