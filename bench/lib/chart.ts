/**
 * A hand-written SVG bar chart: one small panel per figure (e.g. "fan-out 1000: server µs per delivery"), one
 * horizontal bar per target, the value printed next to it. No dependencies; opens in any browser.
 */

export interface ChartBar {
  readonly label: string
  readonly value: number
  /** Runs that did not deliver every message are drawn hatched and marked. */
  readonly valid: boolean
}

export interface ChartPanel {
  readonly title: string
  readonly unit: string
  readonly better: 'lower' | 'higher'
  readonly bars: readonly ChartBar[]
}

const COLORS: Readonly<Record<string, string>> = {
  parley: '#2b6cb0',
  'parley-sdk': '#4299e1',
  ws: '#718096',
  'socket.io': '#d69e2e',
}
const FALLBACK = ['#38a169', '#805ad5', '#e53e3e', '#319795']

function colorOf(label: string, index: number): string {
  return COLORS[label] ?? (label.startsWith('parley') ? '#90cdf4' : (FALLBACK[index % FALLBACK.length] as string))
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US')
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

const WIDTH = 480
const BAR_HEIGHT = 18
const GAP = 8
const LABEL_WIDTH = 110
const VALUE_WIDTH = 90

function panelHeight(panel: ChartPanel): number {
  return 54 + panel.bars.length * (BAR_HEIGHT + GAP)
}

function renderPanel(panel: ChartPanel, x: number, y: number): string {
  const max = Math.max(...panel.bars.map((bar) => (Number.isFinite(bar.value) ? bar.value : 0)), Number.MIN_VALUE)
  const room = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20
  const parts = [
    `<g transform="translate(${x},${y})">`,
    `<rect width="${WIDTH}" height="${panelHeight(panel)}" fill="#ffffff" stroke="#e2e8f0"/>`,
    `<text x="10" y="20" font-size="13" font-weight="600">${escape(panel.title)}</text>`,
    `<text x="10" y="36" font-size="11" fill="#718096">${escape(panel.unit)}, ${panel.better} is better</text>`,
  ]
  panel.bars.forEach((bar, i) => {
    const top = 44 + i * (BAR_HEIGHT + GAP)
    const length = Number.isFinite(bar.value) ? Math.max(1, (bar.value / max) * room) : 0
    const color = colorOf(bar.label, i)
    parts.push(
      `<text x="10" y="${top + 13}" font-size="12">${escape(bar.label)}</text>`,
      `<rect x="${LABEL_WIDTH}" y="${top}" width="${length.toFixed(1)}" height="${BAR_HEIGHT}" fill="${bar.valid ? color : 'url(#invalid)'}"/>`,
      `<text x="${(LABEL_WIDTH + length + 6).toFixed(1)}" y="${top + 13}" font-size="12">${escape(formatValue(bar.value))}${bar.valid ? '' : ' (invalid run)'}</text>`,
    )
  })
  parts.push('</g>')
  return parts.join('\n')
}

/** The whole chart: panels two to a row under a title and a subtitle (machine, date). */
export function renderChart(title: string, subtitle: string, panels: readonly ChartPanel[]): string {
  const columns = 2
  const rows: ChartPanel[][] = []
  for (let i = 0; i < panels.length; i += columns) rows.push(panels.slice(i, i + columns))
  const body: string[] = []
  let y = 60
  for (const row of rows) {
    row.forEach((panel, column) => body.push(renderPanel(panel, 10 + column * (WIDTH + 10), y)))
    y += Math.max(...row.map(panelHeight)) + 10
  }
  const width = 10 + columns * (WIDTH + 10)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="system-ui, sans-serif">`,
    '<defs><pattern id="invalid" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#e53e3e"/></pattern></defs>',
    `<rect width="${width}" height="${y}" fill="#f7fafc"/>`,
    `<text x="10" y="26" font-size="18" font-weight="700">${escape(title)}</text>`,
    `<text x="10" y="46" font-size="12" fill="#4a5568">${escape(subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}
