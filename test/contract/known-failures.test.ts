/**
 * `knownFailures` lets a project keep its suite green while a listed bug is open, and turns red the day the bug is
 * fixed so the entry cannot outlive it. Shown on the loopback pairing with a deliberate fault standing in for the bug.
 */
import { contractTests, formatMatrix, runScenario, SCENARIOS, type Scenario, type TestApi } from '@parley/contract'
import { parleyLoopbackPairing } from '@parley/contract/parley'
import { describe, expect, it } from 'vitest'

const scenario = SCENARIOS.find((s) => s.id === 'publish-retry-deduplicated') as Scenario
const knownFailures = { 'publish-retry-deduplicated': 'issue #1: ack says dup, not duplicate' }
const run = { timeoutMs: 600, scenarioTimeoutMs: 15_000, knownFailures }

/** The fault: every ack's `duplicate` field goes out as `dup`. */
const brokenAck = (frame: string): string => {
  const message = JSON.parse(frame) as Record<string, unknown>
  if (message['type'] !== 'ack' || !('duplicate' in message)) return frame
  message['dup'] = message['duplicate']
  delete message['duplicate']
  return JSON.stringify(message)
}

describe('knownFailures', () => {
  it('reports a listed scenario that fails as xfail, with the bug it names', async () => {
    const pairing = parleyLoopbackPairing({ name: 'buggy', serverFault: { frame: brokenAck } })
    const result = await runScenario(pairing, scenario, run)
    expect(result.status).toBe('xfail')
    expect(result.detail).toBe('known bug: issue #1: ack says dup, not duplicate')
    expect(formatMatrix([result])).toContain('0 passed, 0 failed, 0 not applicable, 1 known failures (of 1)')
  }, 20_000)

  it('reports a listed scenario that passes as a failure that asks for the entry to go', async () => {
    const result = await runScenario(parleyLoopbackPairing({ name: 'fixed' }), scenario, run)
    expect(result.status).toBe('fail')
    expect(result.detail).toContain('but passed: remove it from knownFailures')
  }, 20_000)

  it('registers a listed scenario with it.fails and every other one with it', () => {
    const registered: Array<{ kind: 'it' | 'fails' | 'skip'; name: string }> = []
    const api: TestApi = {
      describe: (_name, body) => body(),
      it: Object.assign((name: string) => void registered.push({ kind: 'it', name }), {
        skip: (name: string) => void registered.push({ kind: 'skip', name }),
        fails: (name: string) => void registered.push({ kind: 'fails', name }),
      }),
    }
    contractTests(parleyLoopbackPairing(), api, { knownFailures })
    expect(registered.filter((test) => test.kind === 'fails')).toEqual([
      { kind: 'fails', name: 'publish-retry-deduplicated [known bug: issue #1: ack says dup, not duplicate]' },
    ])
    expect(registered.filter((test) => test.kind === 'it')).toHaveLength(SCENARIOS.length - 1)
  })

  it('refuses an entry that names no scenario, and a framework without it.fails', () => {
    const api: TestApi = { describe: (_name, body) => body(), it: Object.assign(() => undefined, { skip: () => undefined }) }
    expect(() => contractTests(parleyLoopbackPairing(), api, { knownFailures: { 'no-such-scenario': 'x' } })).toThrow(/no scenario "no-such-scenario"/)
    expect(() => contractTests(parleyLoopbackPairing(), api, { knownFailures })).toThrow(/needs a test framework with it.fails/)
  })
})
