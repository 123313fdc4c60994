/**
 * A vitest reporter that prints the contract matrix (scenario × pairing) from vitest's own results, so the table
 * cannot say more than what ran: `npm run test:contract` adds it next to the default reporter. Each
 * `describe('contract: <pairing>')` is a column, each test in it a row (its name up to a ` [` suffix). A cell is
 * `pass`, `FAIL`, `n/a` (a skipped test named `… [n/a: reason]`), `xfail` (an `it.fails` test named
 * `… [known bug: …]` that failed as it must) or `skip` for anything else not run.
 */
import type { RunnerTask, RunnerTestFile } from 'vitest'
import type { Reporter } from 'vitest/reporters'

interface Cell {
  readonly status: string
  readonly note: string | undefined
}

function collect(tasks: readonly RunnerTask[], column: string | undefined, cells: Map<string, Map<string, Cell>>): void {
  for (const task of tasks) {
    if (task.type === 'suite') {
      const match = /^contract: (.+)$/.exec(task.name)
      collect(task.tasks, match?.[1] ?? column, cells)
      continue
    }
    if (task.type !== 'test' || column === undefined) continue
    const bracket = task.name.indexOf(' [')
    const row = bracket === -1 ? task.name : task.name.slice(0, bracket)
    const note = bracket === -1 ? undefined : task.name.slice(bracket + 2, -1)
    const state = task.result?.state
    let status: string
    if (task.mode === 'skip' || task.mode === 'todo') status = note?.startsWith('n/a') === true ? 'n/a' : 'skip'
    else if (state === 'pass') status = task.fails === true ? 'xfail' : 'pass'
    else if (state === 'fail') status = 'FAIL'
    else status = state ?? 'not run'
    let byColumn = cells.get(row)
    if (byColumn === undefined) {
      byColumn = new Map()
      cells.set(row, byColumn)
    }
    byColumn.set(column, { status, note })
  }
}

/** The matrix as text, with a line per n/a, xfail and failure saying why. */
export function renderMatrix(files: readonly RunnerTestFile[]): string | undefined {
  const cells = new Map<string, Map<string, Cell>>()
  collect(files, undefined, cells)
  if (cells.size === 0) return undefined
  const columns = [...new Set([...cells.values()].flatMap((byColumn) => [...byColumn.keys()]))].sort()
  const rows = [...cells.entries()].map(([row, byColumn]) => [row, ...columns.map((column) => byColumn.get(column)?.status ?? '-')])
  const header = ['scenario', ...columns]
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)))
  const line = (texts: readonly string[]): string => `| ${texts.map((text, i) => text.padEnd(widths[i] as number)).join(' | ')} |`
  const out = ['', 'Contract matrix (scenario × pairing)', line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)]
  const counts = new Map<string, number>()
  for (const row of rows) for (const status of row.slice(1)) counts.set(status, (counts.get(status) ?? 0) + 1)
  out.push('', [...counts].map(([status, count]) => `${count} ${status}`).join(', '))
  for (const [row, byColumn] of cells) {
    for (const [column, cell] of byColumn) {
      if (cell.status !== 'pass' && cell.note !== undefined) out.push(`  ${cell.status} ${row} × ${column}: ${cell.note.replace(/^n\/a: /, '')}`)
      else if (cell.status === 'FAIL') out.push(`  FAIL ${row} × ${column}`)
    }
  }
  return out.join('\n')
}

export default class MatrixReporter implements Reporter {
  onFinished(files: RunnerTestFile[]): void {
    const text = renderMatrix(files)
    if (text !== undefined) process.stdout.write(`${text}\n`)
  }
}
