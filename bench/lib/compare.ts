import type { JobResult, Validity } from './jobs.js'
import type { Row, ScenarioContext, TargetSpec } from './scenario.js'
import { runTrial, type TrialOutcome } from './trial.js'
import { medianOf } from './throughput.js'
import type { ChartPanel } from './chart.js'
import type { Job } from './jobs.js'
import type { ServerSettings } from '../targets/target.js'

/**
 * Running every target through the same cases in one run, and turning the trials into tables where every Parley
 * figure sits next to its ratio to the other targets. Trials are interleaved: repetition by repetition, case by case,
 * the target order rotating, so that a noisy neighbour on the machine spreads over all targets instead of one.
 */

/** Outcomes of one case: per target label, one per repetition. */
export type CaseOutcomes<R extends JobResult> = Map<string, Array<TrialOutcome<R>>>

export interface TrialCase {
  readonly key: string
  readonly job: Job
  readonly server: ServerSettings
  readonly timeoutMs: number
}

export async function runInterleaved<R extends JobResult>(
  context: ScenarioContext,
  scenario: string,
  specs: readonly TargetSpec[],
  cases: readonly TrialCase[],
): Promise<Map<string, CaseOutcomes<R>>> {
  const results = new Map<string, CaseOutcomes<R>>(cases.map((c) => [c.key, new Map(specs.map((spec) => [spec.label, []]))]))
  for (let rep = 0; rep < context.repetitions; rep++) {
    for (const trialCase of cases) {
      const order = specs.map((_, i) => specs[(i + rep) % specs.length] as TargetSpec)
      for (const spec of order) {
        context.log(`  ${trialCase.key}: ${spec.label} (repetition ${rep + 1}/${context.repetitions})`)
        const outcome = await runTrial<R>({
          target: spec.target,
          server: trialCase.server,
          job: trialCase.job,
          timeoutMs: trialCase.timeoutMs,
          serverEnv: spec.serverEnv,
          loadgenEnv: spec.loadgenEnv,
          profile: context.profileDir === undefined ? undefined : { dir: context.profileDir, name: `${scenario}-${trialCase.key}-${spec.label}-${rep + 1}` },
          log: context.log,
        })
        results.get(trialCase.key)?.get(spec.label)?.push(outcome)
      }
    }
  }
  return results
}

/** A measured figure: how to read it from a result and how to print it. */
export interface Column<R extends JobResult> {
  readonly name: string
  readonly value: (result: R) => number
  readonly format: (value: number) => string
  /** Show this column's ratio in the ratio rows (default true). */
  readonly ratio?: boolean
}

function okResults<R extends JobResult>(outcomes: ReadonlyArray<TrialOutcome<R>>): R[] {
  return outcomes.flatMap((outcome) => (outcome.ok ? [outcome.result] : []))
}

/** Median over the repetitions that ran. */
export function medianValue<R extends JobResult>(outcomes: ReadonlyArray<TrialOutcome<R>>, value: (result: R) => number): number {
  return medianOf(okResults(outcomes).map(value))
}

/**
 * `a ÷ b` for one figure: the median over repetitions of the ratio within each repetition (both targets measured in
 * the same stretch of time), so drift that hits both cancels out.
 */
export function pairedRatio<R extends JobResult>(a: ReadonlyArray<TrialOutcome<R>>, b: ReadonlyArray<TrialOutcome<R>>, value: (result: R) => number): number {
  const ratios: number[] = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x?.ok === true && y?.ok === true) ratios.push(value(x.result) / value(y.result))
  }
  return medianOf(ratios)
}

/** "yes", or why not: a failed trial or a run that lost messages is never shown as valid. */
export function validityCell<R extends JobResult>(outcomes: ReadonlyArray<TrialOutcome<R>>, validity: (result: R) => Validity): string {
  const failed = outcomes.filter((outcome) => !outcome.ok)
  if (failed.length > 0) return `FAILED (${failed.length}/${outcomes.length})`
  const invalid = okResults(outcomes).filter((result) => !validity(result).valid)
  if (invalid.length > 0) return `INVALID (${invalid.length}/${outcomes.length}): ${validity(invalid[0] as R).problems[0] ?? ''}`
  return `yes (${outcomes.length})`
}

export function allValid<R extends JobResult>(outcomes: ReadonlyArray<TrialOutcome<R>>, validity: (result: R) => Validity): boolean {
  return outcomes.length > 0 && outcomes.every((outcome) => outcome.ok && validity(outcome.result).valid)
}

/** Parley rows are compared with every other target; a `--baseline` Parley counts as another target. */
export function isPrimary(spec: TargetSpec): boolean {
  return spec.target.startsWith('parley') && spec.serverEnv === undefined
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio < 0.1 ? ratio.toFixed(3) : ratio.toFixed(2)}×` : 'n/a'
}

/**
 * Rows for one case: one per target (medians over repetitions), then `parley ÷ other` for every other target with
 * the ratio of each figure.
 */
export function comparisonRows<R extends JobResult>(
  lead: Readonly<Record<string, string | number>>,
  specs: readonly TargetSpec[],
  outcomes: CaseOutcomes<R>,
  columns: ReadonlyArray<Column<R>>,
  validity: (result: R) => Validity,
): Row[] {
  const rows: Row[] = []
  for (const spec of specs) {
    const list = outcomes.get(spec.label) ?? []
    const row: Record<string, string | number> = { ...lead, target: spec.label }
    for (const column of columns) row[column.name] = list.some((o) => o.ok) ? column.format(medianValue(list, column.value)) : 'n/a'
    row['all delivered'] = validityCell(list, validity)
    rows.push(row)
  }
  for (const primary of specs.filter(isPrimary)) {
    for (const other of specs.filter((spec) => spec !== primary && !isPrimary(spec))) {
      const row: Record<string, string | number> = { ...lead, target: `${primary.label} ÷ ${other.label}` }
      for (const column of columns) {
        row[column.name] = column.ratio === false ? '' : formatRatio(pairedRatio(outcomes.get(primary.label) ?? [], outcomes.get(other.label) ?? [], column.value))
      }
      row['all delivered'] = ''
      rows.push(row)
    }
  }
  return rows
}

/** A chart panel for one figure of one case. */
export function chartPanel<R extends JobResult>(
  title: string,
  unit: string,
  better: 'lower' | 'higher',
  specs: readonly TargetSpec[],
  outcomes: CaseOutcomes<R>,
  value: (result: R) => number,
  validity: (result: R) => Validity,
): ChartPanel {
  return {
    title,
    unit,
    better,
    bars: specs.map((spec) => {
      const list = outcomes.get(spec.label) ?? []
      return { label: spec.label, value: medianValue(list, value), valid: allValid(list, validity) }
    }),
  }
}

/** The ratio of the first Parley target to the target with this label, or NaN when either is missing. */
export function leadRatio<R extends JobResult>(specs: readonly TargetSpec[], outcomes: CaseOutcomes<R>, other: string, value: (result: R) => number): number {
  const primary = specs.find(isPrimary)
  if (primary === undefined || !outcomes.has(other)) return Number.NaN
  return pairedRatio(outcomes.get(primary.label) ?? [], outcomes.get(other) ?? [], value)
}

/**
 * Which process ran out at full rate, per target: the server when its event loop was busy ≥ 90 % of the window (so
 * deliveries/s measure the server), else the load generator. Issue 20 asks that every server be the bottleneck; this
 * says, per run, where that holds.
 */
export function bottleneckNote(
  caseName: string,
  specs: readonly TargetSpec[],
  outcomes: CaseOutcomes<
    JobResult & { readonly full: { readonly deliveries: number; readonly server: { readonly elu: number; readonly cpuMs: number }; readonly loadgen: { readonly elu: number } } }
  >,
): string {
  const parts = specs.map((spec) => {
    const list = outcomes.get(spec.label) ?? []
    if (!list.some((outcome) => outcome.ok)) return `${spec.label} n/a`
    const server = medianValue(list, (r) => r.full.server.elu)
    const loadgen = medianValue(list, (r) => r.full.loadgen.elu)
    if (server >= 0.9) return `${spec.label} server-bound (server ELU ${server.toFixed(2)}, load generator ${loadgen.toFixed(2)})`
    // Its deliveries/s are the load generator's; what its server would do is what a core of it delivers per second.
    const capacity = medianValue(list, (r) => perCoreSecond(r.full.deliveries, r.full.server.cpuMs))
    return `${spec.label} LOAD-GENERATOR-BOUND (server ELU ${server.toFixed(2)}, load generator ${loadgen.toFixed(2)}; its server delivers ${count(capacity)} per second of its CPU)`
  })
  return `${caseName}, full rate: ${parts.join('; ')}`
}

/** "met" / "NOT met" / "not measured" for a target stated as `ratio ≤ limit` (or ≥). */
export function verdict(ratio: number, limit: number, direction: 'at most' | 'at least'): string {
  if (!Number.isFinite(ratio)) return 'not measured'
  const met = direction === 'at most' ? ratio <= limit : ratio >= limit
  return met ? 'met' : 'NOT met'
}

/**
 * Deliveries per second of CPU: what a core's worth of that process delivers at this cost per delivery (the process's
 * CPU includes V8's helper threads, so a server at ELU 1.00 can deliver a little more per wall second).
 */
export const perCoreSecond = (deliveries: number, cpuMs: number): number => (cpuMs > 0 ? deliveries / (cpuMs / 1_000) : Number.NaN)

/** µs of CPU per delivery. */
export const perDelivery = (cpuMs: number, deliveries: number): number => (deliveries > 0 ? (cpuMs * 1_000) / deliveries : Number.NaN)

export const fixed = (digits: number) => (value: number): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')
export const count = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a')

/** The outcomes as plain objects, for the JSON file. */
export function outcomesJson<R extends JobResult>(results: Map<string, CaseOutcomes<R>>): Record<string, Record<string, Array<TrialOutcome<R>>>> {
  return Object.fromEntries([...results].map(([key, outcomes]) => [key, Object.fromEntries(outcomes)]))
}
