import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { arch, cpus, platform, release, totalmem } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { renderChart, type ChartPanel } from './lib/chart.js'
import { renderTable } from './lib/format.js'
import type { Scenario, TargetSpec } from './lib/scenario.js'
import { PROFILE_DIR } from './lib/trial.js'
import { TARGETS } from './targets/index.js'

/**
 * Benchmark runner: `npm run bench [-- --quick] [-- <scenario>...]`. Runs the named scenarios (all by default) one
 * after the other, prints tables per scenario, writes each result as JSON to bench/results/ and one SVG chart for the
 * run. Scenarios that compare targets start each target's server in a child process and the load generator in
 * another (lib/trial.ts); this process only orchestrates. A scenario is loaded only when it runs.
 *
 * To add a scenario: write bench/scenarios/<name>.ts with a default-exported `Scenario`, and add one line below.
 */
const SCENARIOS: Readonly<Record<string, () => Promise<{ default: Scenario }>>> = {
  fanout: () => import('./scenarios/fanout.js'),
  chat: () => import('./scenarios/chat.js'),
  'idle-memory': () => import('./scenarios/idle-memory.js'),
  recovery: () => import('./scenarios/recovery.js'),
  'protocol-decode': () => import('./scenarios/protocol-decode.js'),
  'redis-fanout': () => import('./scenarios/redis-fanout.js'),
  'history-page': () => import('./scenarios/history-page.js'),
  payload: () => import('./scenarios/payload.js'),
  binary: () => import('./scenarios/binary.js'),
  'client-cost': () => import('./scenarios/client-cost.js'),
  'room-join': () => import('./scenarios/room-join.js'),
  'dedup-window': () => import('./scenarios/dedup-window.js'),
  'memory-history': () => import('./scenarios/memory-history.js'),
}

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url))

/** Scenarios that need something outside this repository, run only when named. */
const ON_REQUEST = new Set(['redis-fanout', 'history-page'])

const DEFAULT_TARGETS = ['parley', 'ws', 'socket.io']

const USAGE = `Usage: npm run bench -- [options] [scenario...]

  --quick             fewer, shorter rounds (a smoke run; figures are noisier)
  --targets a,b,...   targets to compare (default ${DEFAULT_TARGETS.join(',')}; known: ${Object.keys(TARGETS).join(', ')})
  --reps <n>          interleaved repetitions per target and case (default 1 with --quick, else 3)
  --baseline <path>   also run Parley's server from another copy of the sources: the tsconfig.json whose
                      "paths" point at it (shown as "parley@baseline"; every Parley figure gets a ratio to it)
  --baseline-target <name>  which Parley target runs from the baseline (default parley; e.g. parley-redis;
                      parley-sdk also runs its load generator's client SDK from it)
  --profile           write V8 CPU profiles of each server child's measured windows to bench/results/profiles/
                      (read them with: npx tsx bench/lib/profile-top.ts <file>); profiling slows the servers
  --list              print the scenario names and exit

Scenarios: ${Object.keys(SCENARIOS).join(', ')} (${[...ON_REQUEST].join(', ')} only when named: they need Redis or PostgreSQL)`

function environment(quick: boolean): Record<string, unknown> {
  let commit: string | undefined
  let dirty: boolean | undefined
  try {
    const cwd = fileURLToPath(new URL('.', import.meta.url))
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    dirty = execFileSync('git', ['status', '--porcelain'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }) !== ''
  } catch {
    // Not a git checkout (e.g. an unpacked tarball): the figures still stand, just without a commit.
  }
  const cpu = cpus()
  return {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    v8: process.versions.v8,
    os: `${platform()} ${release()} ${arch()}`,
    cpu: cpu[0]?.model ?? 'unknown',
    cpus: cpu.length,
    memoryBytes: totalmem(),
    commit,
    dirty,
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      targets: { type: 'string' },
      reps: { type: 'string' },
      baseline: { type: 'string' },
      'baseline-target': { type: 'string', default: 'parley' },
      profile: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  })
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (values.list) {
    console.log(Object.keys(SCENARIOS).join('\n'))
    return 0
  }
  const unknown = positionals.filter((name) => !Object.hasOwn(SCENARIOS, name))
  if (unknown.length > 0) {
    console.error(`Unknown scenario(s): ${unknown.join(', ')}\n\n${USAGE}`)
    return 2
  }
  const names = positionals.length > 0 ? positionals : Object.keys(SCENARIOS).filter((name) => !ON_REQUEST.has(name))
  const quick = values.quick
  const targetNames = (values.targets ?? DEFAULT_TARGETS.join(',')).split(',').map((name) => name.trim()).filter((name) => name !== '')
  const unknownTargets = targetNames.filter((name) => !Object.hasOwn(TARGETS, name))
  const repetitions = values.reps === undefined ? (quick ? 1 : 3) : Number(values.reps)
  if (unknownTargets.length > 0 || !Number.isInteger(repetitions) || repetitions < 1) {
    console.error(`${unknownTargets.length > 0 ? `Unknown target(s): ${unknownTargets.join(', ')}` : '--reps must be a positive integer'}\n\n${USAGE}`)
    return 2
  }
  const targets: TargetSpec[] = targetNames.map((name) => ({ target: name, label: name }))
  if (values.baseline !== undefined) {
    // npm runs this in bench/; a relative path means one from where `npm run bench` was typed.
    const tsconfig = resolve(process.env['INIT_CWD'] ?? process.cwd(), values.baseline)
    if (!existsSync(tsconfig)) {
      console.error(`--baseline: no such file ${tsconfig}`)
      return 2
    }
    const base = values['baseline-target']
    if (!base.startsWith('parley') || !Object.hasOwn(TARGETS, base)) {
      console.error(`--baseline-target: a Parley target (${Object.keys(TARGETS).filter((name) => name.startsWith('parley')).join(', ')}), got ${base}`)
      return 2
    }
    const sources = { TSX_TSCONFIG_PATH: tsconfig }
    // parley-sdk's client SDK runs in the load generator: it comes from the baseline too.
    targets.push({ target: base, label: `${base}@baseline`, serverEnv: sources, ...(base === 'parley-sdk' ? { loadgenEnv: sources } : {}) })
  }
  const env: Record<string, unknown> = { ...environment(quick), targets, repetitions }
  console.log(
    `Parley benchmarks: node ${process.version}, ${String(env['cpu'])} × ${String(env['cpus'])}${quick ? ', --quick' : ''}; ` +
      `targets ${targets.map((t) => t.label).join(', ')}; ${repetitions} repetition(s)`,
  )
  mkdirSync(RESULTS_DIR, { recursive: true })
  const stamp = String(env['date']).replace(/[:.]/g, '-')
  const panels: ChartPanel[] = []
  let failures = 0
  const runStarted = performance.now()

  for (const name of names) {
    const { default: scenario } = await (SCENARIOS[name] as () => Promise<{ default: Scenario }>)()
    console.log(`\n## ${scenario.name}: ${scenario.title}\n`)
    const log = (line: string): void => void process.stderr.write(`${line}\n`)
    const started = performance.now()
    let result
    try {
      result = await scenario.run({ quick, log, targets, repetitions, profileDir: values.profile ? PROFILE_DIR : undefined })
    } catch (error) {
      // One broken scenario (e.g. Redis not running) does not take the rest of the run with it.
      failures++
      console.log(`FAILED: ${error instanceof Error ? error.message : String(error)}`)
      continue
    }
    const seconds = (performance.now() - started) / 1_000
    if (result.tableTitle !== undefined) console.log(`### ${result.tableTitle}\n`)
    console.log(renderTable(result.table))
    for (const extra of result.tables ?? []) console.log(`\n### ${extra.title}\n\n${renderTable(extra.rows)}`)
    if (result.notes !== undefined && result.notes.length > 0) console.log(`\n${result.notes.map((note) => `* ${note}`).join('\n')}`)
    panels.push(...(result.chart ?? []))
    const file = `${RESULTS_DIR}${scenario.name}${quick ? '-quick' : ''}-${stamp}.json`
    const json = { scenario: scenario.name, title: scenario.title, environment: env, seconds, table: result.table, tables: result.tables ?? [], notes: result.notes ?? [], chart: result.chart ?? [], data: result.data }
    writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)
    console.log(`\n(${seconds.toFixed(1)} s; written to ${file})`)
  }
  if (panels.length > 0) {
    const file = `${RESULTS_DIR}report${quick ? '-quick' : ''}-${stamp}.svg`
    const subtitle = `${String(env['date'])} · node ${process.version} · ${String(env['cpu'])} × ${String(env['cpus'])} · medians of ${repetitions} repetition(s)${quick ? ' · --quick' : ''}`
    writeFileSync(file, renderChart('Parley vs raw ws vs Socket.IO', subtitle, panels))
    console.log(`\nChart: ${file}`)
  }
  console.log(`\nTotal: ${((performance.now() - runStarted) / 1_000).toFixed(1)} s`)
  return failures > 0 ? 1 : 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  },
)
