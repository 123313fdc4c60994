import { chartPanel, comparisonRows, count, fixed, formatRatio, outcomesJson, pairedRatio, runInterleaved, verdict, type CaseOutcomes, type Column } from '../lib/compare.js'
import type { IdleJob, IdleResult } from '../lib/jobs.js'
import type { Scenario } from '../lib/scenario.js'

/**
 * What a client costs the process that holds many of them (bots, backends, the load generator itself): 2 000
 * clients in rooms of 10, opened by the load generator, then 100 server-side messages to every room. Per client:
 * the load generator's heap and RSS growth (after two full GCs), and its CPU per message received. Run with
 * `--targets parley-sdk,parley-ws` (the client SDK against raw frames over `ws`'s client: issue 20's baseline) and
 * `parley` (the bench's light client) for the floor.
 */

const CLIENTS = 2_000
/** 100, not 20: with 40 000 deliveries the CPU window was about 0.15 s, and repetitions differed by 30 % or more. */
const MESSAGES = 100
/** Issue 20: the client SDK within 1.5 × a raw ws client, in memory and in CPU per received message. */
export const CLIENT_TARGET = 1.5

function job(quick: boolean): IdleJob {
  return { kind: 'idle', clients: CLIENTS, roomSize: 10, connectConcurrency: 100, settleMs: quick ? 1_000 : 2_000, clientMessages: MESSAGES }
}

const KB = 1_024
const heap = (r: IdleResult): number => r.client.heapPerConnection / KB
const rss = (r: IdleResult): number => r.client.rssPerConnection / KB
const cpu = (r: IdleResult): number => r.client.cpuPerMessageUs

const COLUMNS: ReadonlyArray<Column<IdleResult>> = [
  { name: 'client heap KB', value: heap, format: fixed(1) },
  { name: 'client RSS KB', value: rss, format: fixed(1) },
  { name: 'client µs/message', value: cpu, format: fixed(2) },
  { name: 'set-up conn/s', value: (r) => r.connectionsPerSec, format: count },
  { name: 'loadgen µs/conn', value: (r) => (r.setup.loadgen.cpuMs * 1_000) / r.clients, format: fixed(0) },
]

const scenario: Scenario = {
  name: 'client-cost',
  title: `${count(CLIENTS)} clients in one process: memory per client and CPU per received message`,
  async run(context) {
    const trialCase = { key: `${CLIENTS} clients`, job: job(context.quick), server: { recovery: false }, timeoutMs: context.quick ? 90_000 : 180_000 }
    const results = await runInterleaved<IdleResult>(context, 'client-cost', context.targets, [trialCase])
    const outcomes: CaseOutcomes<IdleResult> = results.get(trialCase.key) ?? new Map()
    const validity = (r: IdleResult) => r.validity
    const notes: string[] = []
    const sdk = context.targets.find((spec) => spec.target === 'parley-sdk')
    const raw = context.targets.find((spec) => spec.target === 'parley-ws')
    if (sdk !== undefined && raw !== undefined) {
      const a = outcomes.get(sdk.label) ?? []
      const b = outcomes.get(raw.label) ?? []
      const ratios = { heap: pairedRatio(a, b, heap), rss: pairedRatio(a, b, rss), cpu: pairedRatio(a, b, cpu) }
      notes.push(
        `Client SDK ÷ raw frames over ws's client: heap per client ${formatRatio(ratios.heap)}, RSS per client ${formatRatio(ratios.rss)} ` +
          `(target ≤ ${CLIENT_TARGET}×: ${verdict(ratios.rss, CLIENT_TARGET, 'at most')}), CPU per received message ${formatRatio(ratios.cpu)} ` +
          `(target ≤ ${CLIENT_TARGET}×: ${verdict(ratios.cpu, CLIENT_TARGET, 'at most')}).`,
      )
    } else {
      notes.push('Run with --targets parley-sdk,parley-ws (and parley) for the SDK against a raw ws client.')
    }
    notes.push(
      `Memory: the load generator's growth from before the first connection to after the last join (two full GCs each), ÷ ${count(CLIENTS)}; it includes ` +
        `the bench's own per-client bookkeeping, the same for every target. CPU: the load generator's while the server publishes ${MESSAGES} messages to every ` +
        `room of 10, ÷ messages received; each must arrive, or the run is invalid.`,
    )
    return {
      table: comparisonRows({ clients: CLIENTS }, context.targets, outcomes, COLUMNS, validity),
      notes,
      chart: [
        chartPanel('client: heap per client', 'KB', 'lower', context.targets, outcomes, heap, validity),
        chartPanel('client: CPU per received message', 'µs', 'lower', context.targets, outcomes, cpu, validity),
      ],
      data: { targets: context.targets, repetitions: context.repetitions, job: trialCase.job, results: outcomesJson(results) },
    }
  },
}

export default scenario
