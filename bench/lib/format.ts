import type { Row } from './scenario.js'

/** `1234567.8` → `1,234,568`. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

/** `0.123` → `+12.3 %`. */
export function formatPercent(ratio: number): string {
  const percent = ratio * 100
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)} %`
}

// Cells that read as figures are right-aligned, so digits line up.
const FIGURE = /^[+\-±×~]?\s?[\d.,]+/

/** A plain-text table with a header rule; columns come from the first row. */
export function renderTable(rows: readonly Row[]): string {
  const first = rows[0]
  if (first === undefined) return '(no rows)'
  const columns = Object.keys(first)
  const cells = rows.map((row) => columns.map((column) => String(row[column] ?? '')))
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => (line[i] as string).length)))
  const align = (text: string, i: number): string => {
    const width = widths[i] as number
    return FIGURE.test(text) ? text.padStart(width) : text.padEnd(width)
  }
  const lines = [
    columns.map((column, i) => column.padEnd(widths[i] as number)).join('  '),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map((line) => line.map(align).join('  ')),
  ]
  return lines.map((line) => line.trimEnd()).join('\n')
}
