/**
 * The full-rate verdict of the fan-out and chat reports: which process ran out, and for a server that did not, what
 * it delivers per second of its CPU (issue 20 asks for throughput per server core whichever process is the limit).
 */
import { describe, expect, it } from 'vitest'
import { bottleneckNote, perCoreSecond, type CaseOutcomes } from '../../bench/lib/compare.js'
import type { TrafficResult } from '../../bench/lib/jobs.js'

/** A trial outcome carrying only what the note reads. */
function outcome(target: string, serverElu: number, loadgenElu: number, deliveries: number, serverCpuMs: number) {
  const result = { full: { deliveries, server: { elu: serverElu, cpuMs: serverCpuMs }, loadgen: { elu: loadgenElu } } } as unknown as TrafficResult
  return { ok: true as const, target, result }
}

describe('bottleneckNote', () => {
  it('calls a server at ELU ≥ 0.9 the bottleneck, and gives a load-generator-bound one its deliveries per CPU second', () => {
    const outcomes: CaseOutcomes<TrafficResult> = new Map([
      ['parley', [outcome('parley', 0.7, 0.98, 1_000_000, 1_250), outcome('parley', 0.75, 0.97, 900_000, 1_000), outcome('parley', 0.72, 0.99, 800_000, 1_000)]],
      ['ws', [outcome('ws', 1, 0.9, 500_000, 4_000), outcome('ws', 0.99, 0.91, 500_000, 4_000), outcome('ws', 1, 0.9, 500_000, 4_000)]],
    ])
    const note = bottleneckNote('100 subscribers', [{ target: 'parley', label: 'parley' }, { target: 'ws', label: 'ws' }], outcomes)
    // Medians: parley ELU 0.72 / 0.98, deliveries per CPU second 800 000 (800 000, 900 000 and 800 000).
    expect(note).toBe(
      '100 subscribers, full rate: parley LOAD-GENERATOR-BOUND (server ELU 0.72, load generator 0.98; its server delivers 800,000 per second of its CPU); ' +
        'ws server-bound (server ELU 1.00, load generator 0.90)',
    )
  })

  it('perCoreSecond is deliveries over CPU seconds, and n/a without CPU', () => {
    expect(perCoreSecond(500_000, 250)).toBe(2_000_000)
    expect(perCoreSecond(10, 0)).toBeNaN()
  })
})
