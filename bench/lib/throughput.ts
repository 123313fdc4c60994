import { performance } from 'node:perf_hooks'

/**
 * Throughput of small synchronous operations: warm-up, then several rounds in which every case runs for the same
 * wall time, in an order that rotates each round so that drift (thermal, GC, a busy neighbour) spreads over all
 * cases instead of favouring one. Rounds are kept per case, so two cases can be compared round by round.
 *
 * Rates are per second of CPU time used by this process (`process.cpuUsage`), not of wall time: on a shared or
 * virtual machine the wall clock also counts time the process was not running, which made rounds differ by ±50 %
 * here, against a few % for CPU time. On an idle machine the two agree (the loop is single-threaded; GC helper
 * threads are counted, which is a real cost of allocating). Wall-clock rates are kept too.
 */

/** One measured operation. `fn` must do the whole operation and return its result (kept, so it is not optimised away). */
export interface ThroughputCase {
  readonly name: string
  readonly fn: () => unknown
}

/** How long to measure. */
export interface ThroughputSettings {
  /** Warm-up per case, so the JIT has optimised every path before timing starts. */
  readonly warmupMs: number
  readonly rounds: number
  /** Wall time of each case in each round. */
  readonly roundMs: number
}

/** Settings for a full run and for `--quick`. */
export function throughputSettings(quick: boolean): ThroughputSettings {
  return quick ? { warmupMs: 200, rounds: 7, roundMs: 50 } : { warmupMs: 1_000, rounds: 31, roundMs: 100 }
}

/** The figures of one case. */
export interface ThroughputStats {
  readonly name: string
  readonly medianOpsPerSec: number
  readonly minOpsPerSec: number
  readonly maxOpsPerSec: number
  /** Nanoseconds per operation at the median. */
  readonly nsPerOp: number
  /** Operations per CPU second in each round, in round order. */
  readonly rounds: readonly number[]
  /** Operations per wall-clock second in each round, for reference. */
  readonly wallRounds: readonly number[]
}

// Every result is stored here, so V8 cannot drop a call whose result looks unused.
let sink: unknown

/** Measures every case; returns their stats in the order given. */
export function measureThroughput(cases: readonly ThroughputCase[], settings: ThroughputSettings): ThroughputStats[] {
  const batch = cases.map((c) => calibrate(c.fn))
  for (let i = 0; i < cases.length; i++) runFor((cases[i] as ThroughputCase).fn, batch[i] as number, settings.warmupMs)
  const rounds: Rate[][] = cases.map(() => [])
  for (let round = 0; round < settings.rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (round + k) % cases.length
      ;(rounds[i] as Rate[]).push(runFor((cases[i] as ThroughputCase).fn, batch[i] as number, settings.roundMs))
    }
  }
  if (sink === rounds) throw new Error('unreachable')
  return cases.map((c, i) => {
    const perRound = (rounds[i] as Rate[]).map((rate) => rate.cpu)
    const median = medianOf(perRound)
    return {
      name: c.name,
      medianOpsPerSec: median,
      minOpsPerSec: Math.min(...perRound),
      maxOpsPerSec: Math.max(...perRound),
      nsPerOp: 1e9 / median,
      rounds: perRound,
      wallRounds: (rounds[i] as Rate[]).map((rate) => rate.wall),
    }
  })
}

/** The median of the round-by-round ratio `a / b`: robust to drift that hits both cases of a round alike. */
export function pairedRatio(a: ThroughputStats, b: ThroughputStats): number {
  const ratios = a.rounds.map((value, i) => value / (b.rounds[i] as number))
  return medianOf(ratios)
}

export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Iterations per timing check, so reading the clock costs well under 1 % of a batch (a batch takes ≥ 1 ms). */
function calibrate(fn: () => unknown): number {
  for (let n = 1; ; n *= 2) {
    const start = performance.now()
    for (let i = 0; i < n; i++) sink = fn()
    if (performance.now() - start >= 1 || n >= 1 << 24) return n
  }
}

interface Rate {
  readonly cpu: number
  readonly wall: number
}

/** Runs whole batches for at least `ms` of wall time; returns operations per CPU second and per wall second. */
function runFor(fn: () => unknown, batch: number, ms: number): Rate {
  let iterations = 0
  const cpuStart = process.cpuUsage()
  const start = performance.now()
  let elapsed = 0
  do {
    for (let i = 0; i < batch; i++) sink = fn()
    iterations += batch
    elapsed = performance.now() - start
  } while (elapsed < ms)
  const cpu = process.cpuUsage(cpuStart)
  const cpuMs = (cpu.user + cpu.system) / 1_000
  return { cpu: (iterations * 1_000) / cpuMs, wall: (iterations * 1_000) / elapsed }
}
