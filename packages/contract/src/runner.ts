import { ContractFailure } from './check.js'
import { SCENARIOS, type Scenario, type ScenarioContext, type ScenarioSession } from './scenarios.js'
import { resolveSetup } from './setup.js'
import type { Pairing, PairingSession, Peer } from './types.js'

/**
 * How a scenario ended on a pairing: `xfail` is a failure listed in `knownFailures` (expected until its bug is fixed);
 * a listed scenario that passes counts as `fail`, so the list cannot outlive the bug.
 */
export type ScenarioStatus = 'pass' | 'fail' | 'n/a' | 'xfail'

/** One cell of the matrix. */
export interface ScenarioResult {
  readonly pairing: string
  readonly scenario: string
  readonly status: ScenarioStatus
  /** Why it failed, or why it does not apply. */
  readonly detail?: string | undefined
  readonly durationMs: number
}

/** Options of {@link runScenario} and {@link runContract}. */
export interface RunOptions {
  /** How long one expectation may take. @default 3_000 */
  readonly timeoutMs?: number | undefined
  /** How long a whole scenario may take. @default 30_000 */
  readonly scenarioTimeoutMs?: number | undefined
  /** Scenarios expected to fail because of a known bug, by id, with its description. */
  readonly knownFailures?: Readonly<Record<string, string>> | undefined
}

/** Why a scenario is not applicable to a pairing, or undefined when it is. */
export function notApplicable(pairing: Pairing, scenario: Scenario): string | undefined {
  return pairing.notApplicable?.[scenario.id]
}

/** A readable message for anything a scenario threw (assertion failures, refusals as plain objects, errors). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code, message } = error as { code: unknown; message?: unknown }
    return `unexpected refusal ${String(code)}${typeof message === 'string' ? `: ${message}` : ''}`
  }
  return String(error)
}

/**
 * Runs one scenario on one pairing and throws a {@link ContractFailure} when it fails: its own expectations, then
 * the contract breaches every client (and the server side, when it reports them) saw on the way. Every server and
 * client the scenario started is stopped, pass or fail.
 */
export async function runScenarioOrThrow(pairing: Pairing, scenario: Scenario, options: RunOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 3_000
  const sessions: PairingSession[] = []
  const peers: Peer[] = []
  const context: ScenarioContext = {
    timeoutMs,
    async start(setup) {
      const session = await pairing.start(resolveSetup(setup), { timeoutMs })
      sessions.push(session)
      const wrapped: ScenarioSession = {
        async connect(clientOptions) {
          const peer = await session.connect(clientOptions)
          peers.push(peer)
          return peer
        },
        shutdown: (node) => session.shutdown(node),
      }
      return wrapped
    },
  }
  const breaches = (): string[] => [
    ...peers.flatMap((peer, index) => peer.violations.map((violation) => `client #${index + 1}: ${violation}`)),
    ...sessions.flatMap((session) => session.violations?.() ?? []).map((violation) => `server: ${violation}`),
  ]
  const listed = (found: readonly string[]): string => `contract breaches seen on the wire:\n  ${found.slice(0, 10).join('\n  ')}`
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([
      scenario.run(context),
      new Promise<never>((_resolve, reject) => {
        const limit = options.scenarioTimeoutMs ?? 30_000
        timer = setTimeout(() => reject(new ContractFailure(`the scenario did not finish within ${limit} ms`)), limit)
      }),
    ])
    const found = breaches()
    if (found.length > 0) throw new ContractFailure(listed(found))
  } catch (error) {
    if (error instanceof ContractFailure && error.message.startsWith('contract breaches')) throw error
    // A breach usually explains a failed expectation (a frame nobody could decode is an answer that never came).
    const found = breaches()
    throw new ContractFailure(`${describeError(error)}${found.length > 0 ? `\n${listed(found)}` : ''}`)
  } finally {
    clearTimeout(timer)
    await Promise.allSettled(sessions.map((session) => session.close()))
  }
}

/** Runs one scenario on one pairing and reports the outcome (never throws). */
export async function runScenario(pairing: Pairing, scenario: Scenario, options: RunOptions = {}): Promise<ScenarioResult> {
  const reason = notApplicable(pairing, scenario)
  if (reason !== undefined) return { pairing: pairing.name, scenario: scenario.id, status: 'n/a', detail: reason, durationMs: 0 }
  const started = Date.now()
  const known = options.knownFailures?.[scenario.id]
  const result = (status: ScenarioStatus, detail?: string): ScenarioResult => ({
    pairing: pairing.name,
    scenario: scenario.id,
    status,
    detail,
    durationMs: Date.now() - started,
  })
  try {
    await runScenarioOrThrow(pairing, scenario, options)
    return known === undefined ? result('pass') : result('fail', `listed as a known failure (${known}) but passed: remove it from knownFailures`)
  } catch (error) {
    return known === undefined ? result('fail', describeError(error)) : result('xfail', `known bug: ${known}`)
  }
}

/** Runs scenarios (every one by default, or those with the given ids) on every pairing, one after another. */
export async function runContract(
  pairings: readonly Pairing[],
  options: RunOptions & { readonly scenarios?: readonly string[] | undefined } = {},
): Promise<ScenarioResult[]> {
  for (const id of Object.keys(options.knownFailures ?? {})) selectScenarios([id])
  const chosen = selectScenarios(options.scenarios)
  const results: ScenarioResult[] = []
  for (const pairing of pairings) for (const scenario of chosen) results.push(await runScenario(pairing, scenario, options))
  return results
}

/** The scenarios with these ids (all of them when none are given); an unknown id throws. */
export function selectScenarios(ids?: readonly string[]): readonly Scenario[] {
  if (ids === undefined) return SCENARIOS
  return ids.map((id) => {
    const scenario = SCENARIOS.find((candidate) => candidate.id === id)
    if (scenario === undefined) throw new Error(`@parley/contract: no scenario "${id}" (known: ${SCENARIOS.map((s) => s.id).join(', ')})`)
    return scenario
  })
}

/**
 * The matrix as text: one row per scenario, one column per pairing, each cell `pass`, `FAIL` or `n/a`, followed by
 * the reasons of every n/a and failure, so nothing that did not run can pass for something that did.
 */
export function formatMatrix(results: readonly ScenarioResult[]): string {
  const pairings = [...new Set(results.map((result) => result.pairing))]
  const scenarios = [...new Set(results.map((result) => result.scenario))]
  const cell = (pairing: string, scenario: string): string => {
    const result = results.find((r) => r.pairing === pairing && r.scenario === scenario)
    return result === undefined ? '-' : result.status === 'fail' ? 'FAIL' : result.status
  }
  const header = ['scenario', ...pairings]
  const rows = scenarios.map((scenario) => [scenario, ...pairings.map((pairing) => cell(pairing, scenario))])
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)))
  const line = (cells: readonly string[]): string => `| ${cells.map((text, column) => text.padEnd(widths[column] as number)).join(' | ')} |`
  const out = [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)]
  const count = (status: ScenarioStatus): number => results.filter((result) => result.status === status).length
  const xfail = count('xfail') === 0 ? '' : `, ${count('xfail')} known failures`
  out.push('', `${count('pass')} passed, ${count('fail')} failed, ${count('n/a')} not applicable${xfail} (of ${results.length})`)
  const notes = results.filter((result) => result.status !== 'pass' && result.detail !== undefined)
  for (const result of notes) {
    out.push(`  ${result.status === 'fail' ? 'FAIL' : result.status} ${result.scenario} × ${result.pairing}: ${result.detail?.split('\n')[0]}`)
  }
  return out.join('\n')
}

/** The subset of a test framework's API {@link contractTests} needs (vitest, jest, mocha and node:test have it). */
export interface TestApi {
  describe(name: string, body: () => void): unknown
  it: {
    (name: string, body: () => Promise<void>, timeoutMs?: number): unknown
    skip(name: string, body: () => Promise<void>): unknown
    /** A test that must fail (vitest, jest): needed only for `knownFailures`. */
    fails?: ((name: string, body: () => Promise<void>, timeoutMs?: number) => unknown) | undefined
  }
}

/**
 * Options of {@link contractTests}. `knownFailures` are registered as tests that must fail (`it.fails`), so the suite
 * stays green until the bug is fixed and then tells you to remove the entry.
 */
export interface ContractTestsOptions extends RunOptions {
  /** Only these scenarios (by id). @default every scenario */
  readonly scenarios?: readonly string[] | undefined
}

/** The test name of a scenario on a pairing: its id, and for a scenario that does not apply, `[n/a: reason]`. */
export function testName(pairing: Pairing, scenario: Scenario, knownFailure?: string): string {
  const reason = notApplicable(pairing, scenario)
  if (reason !== undefined) return `${scenario.id} [n/a: ${reason}]`
  return knownFailure === undefined ? scenario.id : `${scenario.id} [known bug: ${knownFailure}]`
}

/**
 * Registers the suite with your test framework: one `describe('contract: <pairing>')` with one test per scenario,
 * a skipped test (named `… [n/a: reason]`) for each scenario the pairing marks not applicable.
 *
 * ```ts
 * import { describe, it } from 'vitest'
 * contractTests(myPairing, { describe, it })
 * ```
 */
export function contractTests(pairing: Pairing, api: TestApi, options: ContractTestsOptions = {}): void {
  const scenarioTimeoutMs = options.scenarioTimeoutMs ?? 30_000
  for (const id of Object.keys(options.knownFailures ?? {})) selectScenarios([id])
  api.describe(`contract: ${pairing.name}`, () => {
    for (const scenario of selectScenarios(options.scenarios)) {
      const knownFailure = options.knownFailures?.[scenario.id]
      const name = testName(pairing, scenario, knownFailure)
      const run = (): Promise<void> => runScenarioOrThrow(pairing, scenario, options)
      if (notApplicable(pairing, scenario) !== undefined) {
        // Skipped on purpose, not left over: the pairing declared this scenario not applicable (e.g. a mock server has no
        // socket buffers for slow-consumer-cut-off), so it is registered as skipped to show as n/a in the matrix,
        // never run and never counted as a pass.
        api.it.skip(name, async () => undefined) // n/a by the pairing's own declaration (see above): shown, never run
      } else if (knownFailure !== undefined) {
        if (api.it.fails === undefined) throw new Error('@parley/contract: knownFailures needs a test framework with it.fails')
        api.it.fails(name, run, scenarioTimeoutMs + 5_000)
      } else {
        api.it(name, run, scenarioTimeoutMs + 5_000)
      }
    }
  })
}
