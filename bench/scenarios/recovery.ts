import { chartPanel, comparisonRows, fixed, outcomesJson, runInterleaved, type Column } from '../lib/compare.js'
import type { RecoveryJob, RecoveryResult } from '../lib/jobs.js'
import type { Scenario, TargetSpec } from '../lib/scenario.js'
import { loadTarget } from '../targets/index.js'

/**
 * 100 clients in one room; the server drops every connection (Parley: close 1012 "service restart"; Socket.IO: the
 * Engine.IO connection closed, which its recovery treats as a transport loss; ws: terminate), publishes 100 messages
 * while they are away, then all 100 reconnect at once. Measured: from the reconnect until the last client has every
 * missed message ("all live"). Then one more live message must reach all, and every client must hold all 106
 * messages once and in order, or the run is invalid.
 *
 * Parley runs with the client SDK here (its own resume on reconnect); Socket.IO with its connection state recovery;
 * raw ws has no recovery, so its target implements the nearest hand-written equivalent (see targets/ws.ts).
 */

function job(): RecoveryJob {
  return { kind: 'recovery', clients: 100, missed: 100, timeoutMs: 30_000 }
}

const COLUMNS: ReadonlyArray<Column<RecoveryResult>> = [
  { name: 'all live ms', value: (r) => r.allLiveMs, format: fixed(1) },
  { name: 'median client ms', value: (r) => r.medianLiveMs, format: fixed(1) },
  { name: 'all joined ms', value: (r) => r.allJoinedMs, format: fixed(1) },
  { name: 'server µs/delivery', value: (r) => (r.window.server.cpuMs * 1_000) / (r.clients * r.missed), format: fixed(2) },
  { name: 'server CPU ms', value: (r) => r.window.server.cpuMs, format: fixed(1) },
  { name: 'loadgen CPU ms', value: (r) => r.window.loadgen.cpuMs, format: fixed(1) },
  { name: 'server ELU', value: (r) => r.window.server.elu, format: fixed(2) },
  { name: 'loadgen ELU', value: (r) => r.window.loadgen.elu, format: fixed(2) },
]

const scenario: Scenario = {
  name: 'recovery',
  title: '100 clients reconnect at once, each recovering 100 missed messages: time until all are live again',
  async run(context) {
    // The raw-frame Parley client has no reconnect logic of its own worth measuring: use the SDK's.
    const specs: TargetSpec[] = context.targets.map((spec) =>
      spec.target === 'parley' ? { ...spec, target: 'parley-sdk', label: spec.label === 'parley' ? 'parley-sdk' : `${spec.label} (sdk)` } : spec,
    )
    const trialCase = { key: '100 × 100 missed', job: job(), server: { recovery: true }, timeoutMs: 60_000 }
    const results = await runInterleaved<RecoveryResult>(context, 'recovery', specs, [trialCase])
    const outcomes = results.get(trialCase.key) ?? new Map()
    const validity = (r: RecoveryResult) => r.validity
    const how = await Promise.all(specs.map(async (spec) => `${spec.label}: ${(await loadTarget(spec.target)).recovery}`))
    return {
      table: comparisonRows({ clients: 100 }, specs, outcomes, COLUMNS, validity),
      notes: [
        ...how,
        '"all live": from the moment every client reconnects until the last one holds all 100 missed messages; "all joined": until the last re-join was answered. ' +
          'CPU and ELU cover that window; µs/delivery = server CPU ÷ (100 clients × 100 messages).',
        `Medians of ${context.repetitions} interleaved repetition(s).`,
      ],
      chart: [chartPanel('recovery: 100 clients × 100 missed, until all live', 'ms', 'lower', specs, outcomes, (r) => r.allLiveMs, validity)],
      data: { targets: specs, repetitions: context.repetitions, job: trialCase.job, results: outcomesJson(results) },
    }
  },
}

export default scenario
