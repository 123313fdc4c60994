/**
 * docs/contract-testing.md's runnable example, run as a user would run it (`npx tsx examples/contract-testing/run.ts`),
 * on a few scenarios to keep it quick: it must print the matrix and pass them.
 */
import { describe, expect, it } from 'vitest'
import { runExample } from '../e2e/helpers/processes.js'

describe('the contract-testing example', () => {
  it('runs the suite against "your server" and prints the matrix', async () => {
    const scenarios = ['connect-and-negotiate', 'auth-rejected', 'publish-ack', 'recovery-exact-replay', 'recovery-backlog-over-buffer-cap', 'request-response']
    const example = runExample('examples/contract-testing/run.ts', ['--scenarios', scenarios.join(',')])
    try {
      expect(await example.exited()).toBe(0)
    } finally {
      await example.kill()
    }
    const output = example.output()
    expect(output).toContain('| scenario')
    expect(output).toMatch(/\| publish-ack +\| pass +\| pass +\|/)
    expect(output).toMatch(/\| recovery-backlog-over-buffer-cap +\| pass +\| pass +\|/)
    expect(output).toMatch(/\| request-response +\| pass +\| pass +\|/)
    expect(output).toContain('12 passed, 0 failed, 0 not applicable (of 12)')
  }, 60_000)
})
