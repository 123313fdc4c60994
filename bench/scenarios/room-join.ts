import { chartPanel, comparisonRows, count, fixed, formatRatio, leadRatio, outcomesJson, runInterleaved, verdict, type CaseOutcomes, type Column } from '../lib/compare.js'
import type { IdleJob, IdleResult } from '../lib/jobs.js'
import type { Row, Scenario } from '../lib/scenario.js'

/**
 * Everyone joins one room: 1 000, then 10 000 clients connect and join the same room, 100 at a time, with default
 * options. Issue 20's targets: the time until the last join is answered ≤ 1.5 × raw ws's, and ≤ 10 presence frames
 * per join on average (every member learns of the others in batches). Memory per member is reported; afterwards one
 * server-side message must reach every member, or the run is invalid. Run with `--targets parley,parley-quiet,ws`
 * (`parley-quiet`: no join/leave announcements) and `socket.io`.
 */

const SIZES = [1_000, 10_000]
export const JOIN_TARGET = 1.5
export const PRESENCE_FRAMES_TARGET = 10

function job(clients: number, quick: boolean): IdleJob {
  return { kind: 'idle', clients, roomSize: clients, connectConcurrency: 100, settleMs: quick ? 500 : 1_000 }
}

const KB = 1_024
const joinSeconds = (r: IdleResult): number => r.setupMs / 1_000
const framesPerJoin = (r: IdleResult): number => r.presenceFrames / r.clients

const COLUMNS: ReadonlyArray<Column<IdleResult>> = [
  { name: 'all joined s', value: joinSeconds, format: fixed(2) },
  { name: 'joins/s', value: (r) => r.connectionsPerSec, format: count },
  { name: 'presence frames/join', value: framesPerJoin, format: fixed(1), ratio: false },
  { name: 'server RSS KB/member', value: (r) => r.rssPerConnection / KB, format: fixed(1) },
  { name: 'server heap KB/member', value: (r) => r.heapPerConnection / KB, format: fixed(1) },
  { name: 'server µs/join', value: (r) => (r.setup.server.cpuMs * 1_000) / r.clients, format: fixed(0) },
  { name: 'loadgen µs/join', value: (r) => (r.setup.loadgen.cpuMs * 1_000) / r.clients, format: fixed(0) },
  { name: 'server ELU', value: (r) => r.setup.server.elu, format: fixed(2) },
  { name: 'loadgen ELU', value: (r) => r.setup.loadgen.elu, format: fixed(2) },
]

const scenario: Scenario = {
  name: 'room-join',
  title: '1 000 and 10 000 clients join one room: time until all joined, presence frames per join, memory per member',
  async run(context) {
    const cases = SIZES.map((clients) => ({ key: `${clients} members`, job: job(clients, context.quick), server: { recovery: false }, timeoutMs: 300_000 }))
    const results = await runInterleaved<IdleResult>(context, 'room-join', context.targets, cases)
    const validity = (r: IdleResult) => r.validity
    const table: Row[] = []
    const notes: string[] = []
    const chart = []
    for (const { key, job: caseJob } of cases) {
      const outcomes: CaseOutcomes<IdleResult> = results.get(key) ?? new Map()
      table.push(...comparisonRows({ members: caseJob.clients }, context.targets, outcomes, COLUMNS, validity))
      const ratio = leadRatio(context.targets, outcomes, 'ws', joinSeconds)
      const parley = context.targets.find((spec) => spec.target === 'parley' && spec.serverEnv === undefined)
      const frames = parley === undefined ? Number.NaN : ((outcomes.get(parley.label) ?? []).find((o) => o.ok)?.result as IdleResult | undefined)
      const perJoin = frames === undefined || typeof frames === 'number' ? Number.NaN : framesPerJoin(frames)
      notes.push(
        `${count(caseJob.clients)} members: all joined in ${formatRatio(ratio)} raw ws's time (target ≤ ${JOIN_TARGET}×: ${verdict(ratio, JOIN_TARGET, 'at most')}); ` +
          `presence frames per join ${Number.isFinite(perJoin) ? perJoin.toFixed(1) : 'n/a'} (target ≤ ${PRESENCE_FRAMES_TARGET}: ${Number.isFinite(perJoin) ? (perJoin <= PRESENCE_FRAMES_TARGET ? 'met' : 'NOT met') : 'not measured'}).`,
      )
      chart.push(chartPanel(`${count(caseJob.clients)} join one room: seconds until all joined`, 's', 'lower', context.targets, outcomes, joinSeconds, validity))
    }
    notes.push(
      'Clients connect and join 100 at a time; "all joined" runs from the first connection to the last join answered. Presence frames: every `presence` ' +
        'and `presences` frame the clients received, ÷ joins (Parley\'s raw clients ask for batches, as the SDK does). Memory: server growth after two full GCs, ÷ members.',
    )
    return { table, notes, chart, data: { targets: context.targets, repetitions: context.repetitions, jobs: Object.fromEntries(cases.map((c) => [c.key, c.job])), results: outcomesJson(results) } }
  },
}

export default scenario
