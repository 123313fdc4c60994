/**
 * The idle-memory report names issue 20's targets (memory ≤ plain ws's, set-up rate ≥ 0.8 × ws's) beside the first
 * release's 1.2× memory target, each with its verdict.
 */
import { describe, expect, it } from 'vitest'
import { targetNotes } from '../../bench/scenarios/idle-memory.js'

describe('idle-memory target notes', () => {
  it("judges RSS against 1.2× and 1×, heap against 1×, and the set-up rate against 0.8× of ws's", () => {
    const [memory, setup] = targetNotes(1.15, 1.47, 0.59)
    expect(memory).toMatch(/RSS .* 1\.15× plain ws's \(target ≤ 1\.2×: met; issue 20's ≤ 1×: NOT met\); heap 1\.47× \(issue 20's ≤ 1×: NOT met\)/)
    expect(setup).toMatch(/set-up rate is 0\.59× plain ws's \(issue 20's target ≥ 0\.8×: NOT met\)/)
    const [memoryMet, setupMet] = targetNotes(0.95, 1, 0.81)
    expect(memoryMet).toMatch(/target ≤ 1\.2×: met; issue 20's ≤ 1×: met\); heap 1\.00× \(issue 20's ≤ 1×: met\)/)
    expect(setupMet).toMatch(/≥ 0\.8×: met\)/)
    expect(targetNotes(Number.NaN, Number.NaN, Number.NaN).join(' ')).toMatch(/not measured.*not measured.*not measured/)
  })
})
