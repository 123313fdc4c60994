/**
 * The contract between `run.ts` and a scenario file. A scenario measures one thing, returns a table for people and
 * data for files; the runner prints the first and writes the second to `bench/results/`. Scenarios never assert on
 * timings: they report, and say in `notes` whether a stated target was met.
 */

import type { ChartPanel } from './chart.js'

/** One target as a scenario runs it: which target file, the label in tables, and the server child's environment. */
export interface TargetSpec {
  /** Name in `targets/index.ts`. */
  readonly target: string
  /** As shown in tables and charts. */
  readonly label: string
  /** Extra environment of the server child (`--baseline`: `TSX_TSCONFIG_PATH` pointing at another copy of the sources). */
  readonly serverEnv?: Readonly<Record<string, string>> | undefined
  /** Extra environment of the load generator child: the same, for `--baseline-target parley-sdk`, whose client SDK runs there. */
  readonly loadgenEnv?: Readonly<Record<string, string>> | undefined
}

/** What the runner hands a scenario. */
export interface ScenarioContext {
  /** `--quick`: fewer and shorter rounds, for a smoke run; figures are noisier. */
  readonly quick: boolean
  /** Progress output (stderr), so stdout stays the report. */
  readonly log: (line: string) => void
  /** Targets to compare (`--targets`, default parley, ws, socket.io; `--baseline` adds a second copy of Parley). */
  readonly targets: readonly TargetSpec[]
  /** Trials per target and case, interleaved (`--reps`; default 1 with `--quick`, else 3). */
  readonly repetitions: number
  /** `--profile`: where server CPU profiles of the measured windows go. */
  readonly profileDir: string | undefined
}

/** One printed table row: column name → cell, in column order. Every row of a table has the same columns. */
export type Row = Readonly<Record<string, string | number>>

/** What a scenario returns. */
export interface ScenarioResult {
  /** Printed above the first table, when there are several. */
  readonly tableTitle?: string
  readonly table: readonly Row[]
  /** Further tables, printed after the first, each under its title. */
  readonly tables?: ReadonlyArray<{ readonly title: string; readonly rows: readonly Row[] }>
  /** Bars for the run's SVG chart. */
  readonly chart?: readonly ChartPanel[]
  /** Findings printed under the table: ratios, targets met or missed, caveats. */
  readonly notes?: readonly string[]
  /** Everything worth keeping (settings, raw rounds, derived figures); written as JSON. */
  readonly data: unknown
}

/** A benchmark scenario: the default export of each file in `bench/scenarios/`. */
export interface Scenario {
  /** Short kebab-case name, as used on the command line and in result file names. */
  readonly name: string
  /** One line saying what is measured. */
  readonly title: string
  readonly run: (context: ScenarioContext) => Promise<ScenarioResult>
}
