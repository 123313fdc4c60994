import { chartPanel, comparisonRows, count, fixed, formatRatio, leadRatio, outcomesJson, runInterleaved, verdict, type Column } from '../lib/compare.js'
import type { IdleJob, IdleResult } from '../lib/jobs.js'
import type { Scenario } from '../lib/scenario.js'

/**
 * 5000 connections, each joined to a room (rooms of 10), then left idle. Server RSS and V8 heap per connection are
 * the growth from the freshly started server (after two full GCs) to the loaded one (after two full GCs), divided by
 * the connections. Set-up rate: connect + join, 100 at a time, until the last join is answered. Afterwards one
 * server-side message per room must reach every client, or the run is invalid.
 */

const CLIENTS = 5_000

/** Server memory (RSS, heap) per idle connection, against plain ws's: the first release's target, then issue 20's. */
export const MEMORY_TARGET = 1.2
export const MEMORY_TARGET_ISSUE_20 = 1

/** Connection set-up rate (connect + join), as a fraction of plain ws's (issue 20). */
export const SETUP_TARGET = 0.8

function job(quick: boolean): IdleJob {
  return { kind: 'idle', clients: CLIENTS, roomSize: 10, connectConcurrency: 100, settleMs: quick ? 1_000 : 3_000, settledMs: quick ? undefined : 20_000 }
}

const KB = 1_024
const rss = (r: IdleResult): number => r.rssPerConnection / KB
const heap = (r: IdleResult): number => r.heapPerConnection / KB
const setupRate = (r: IdleResult): number => r.connectionsPerSec

const COLUMNS: ReadonlyArray<Column<IdleResult>> = [
  { name: 'RSS KB/conn', value: rss, format: fixed(1) },
  { name: 'heap KB/conn', value: heap, format: fixed(1) },
  { name: 'settled RSS KB/conn', value: (r) => (r.settled === undefined ? Number.NaN : r.settled.rssPerConnection / KB), format: fixed(1) },
  { name: 'settled heap KB/conn', value: (r) => (r.settled === undefined ? Number.NaN : r.settled.heapPerConnection / KB), format: fixed(1) },
  { name: 'server RSS MB', value: (r) => r.after.rss / KB / KB, format: fixed(0) },
  { name: 'set-up conn/s', value: setupRate, format: count },
  { name: 'server µs/conn', value: (r) => (r.setup.server.cpuMs * 1_000) / r.clients, format: fixed(0) },
  { name: 'loadgen µs/conn', value: (r) => (r.setup.loadgen.cpuMs * 1_000) / r.clients, format: fixed(0) },
  { name: 'server CPU s', value: (r) => r.setup.server.cpuMs / 1_000, format: fixed(2) },
  { name: 'loadgen CPU s', value: (r) => r.setup.loadgen.cpuMs / 1_000, format: fixed(2) },
  { name: 'server ELU', value: (r) => r.setup.server.elu, format: fixed(2) },
  { name: 'loadgen ELU', value: (r) => r.setup.loadgen.elu, format: fixed(2) },
  { name: 'idle server ELU', value: (r) => r.idle.server.elu, format: fixed(3) },
]

/** The report's verdicts on the targets, from the lead target's ratios to plain ws (NaN: not measured). */
export function targetNotes(rssVsWs: number, heapVsWs: number, setupVsWs: number): string[] {
  return [
    `Server RSS per idle connection is ${formatRatio(rssVsWs)} plain ws's (target ≤ ${MEMORY_TARGET}×: ${verdict(rssVsWs, MEMORY_TARGET, 'at most')}; ` +
      `issue 20's ≤ ${MEMORY_TARGET_ISSUE_20}×: ${verdict(rssVsWs, MEMORY_TARGET_ISSUE_20, 'at most')}); heap ${formatRatio(heapVsWs)} ` +
      `(issue 20's ≤ ${MEMORY_TARGET_ISSUE_20}×: ${verdict(heapVsWs, MEMORY_TARGET_ISSUE_20, 'at most')}).`,
    `Connection set-up rate is ${formatRatio(setupVsWs)} plain ws's (issue 20's target ≥ ${SETUP_TARGET}×: ${verdict(setupVsWs, SETUP_TARGET, 'at least')}).`,
  ]
}

const scenario: Scenario = {
  name: 'idle-memory',
  title: `${count(CLIENTS)} idle connections, each in a room: server memory per connection and connection set-up rate`,
  async run(context) {
    const trialCase = { key: `${CLIENTS} connections`, job: job(context.quick), server: { recovery: false }, timeoutMs: context.quick ? 90_000 : 180_000 }
    const results = await runInterleaved<IdleResult>(context, 'idle-memory', context.targets, [trialCase])
    const outcomes = results.get(trialCase.key) ?? new Map()
    const validity = (r: IdleResult) => r.validity
    const ratio = leadRatio(context.targets, outcomes, 'ws', rss)
    const heapRatio = leadRatio(context.targets, outcomes, 'ws', heap)
    const setupRatio = leadRatio(context.targets, outcomes, 'ws', setupRate)
    return {
      table: comparisonRows({ conns: CLIENTS }, context.targets, outcomes, COLUMNS, validity),
      notes: [
        ...targetNotes(ratio, heapRatio, setupRatio),
        'RSS and heap: growth from the started server to the loaded one, both after two full GCs, ÷ connections, read 1 s (3 s in a full run) after the ' +
          'last join; this RSS includes the young generation V8 grew during set-up (tens of MB, whatever the target). "settled" (full runs only): the same ' +
          '20 s after the last join, once V8 has shrunk it again: closer to what a connection holds for good. CPU and ELU columns cover the set-up ' +
          '(connect + join, 100 at a time); "idle server ELU" the quiet period after it.',
        `Open-file limit: the children raise theirs to the hard limit (${CLIENTS} sockets each side need ${CLIENTS}+ descriptors).`,
      ],
      chart: [
        chartPanel('idle: server RSS per connection', 'KB', 'lower', context.targets, outcomes, rss, validity),
        chartPanel('idle: connection set-up rate', 'connections/s', 'higher', context.targets, outcomes, setupRate, validity),
      ],
      data: { targets: context.targets, repetitions: context.repetitions, job: trialCase.job, ratioVsWs: ratio, heapVsWs: heapRatio, setupVsWs: setupRatio, results: outcomesJson(results) },
    }
  },
}

export default scenario
