/**
 * The suite must notice a broken wire contract. Each case below breaks one thing one side puts on the wire (a renamed
 * or dropped field, a changed close code), as a careless change to either SDK would, and runs the whole suite on the
 * loopback pairing with the fault in place: the scenarios that depend on that part of the contract must fail.
 */
import { runScenario, SCENARIOS } from '@parley/contract'
import { parleyLoopbackPairing, type LoopbackPairingOptions } from '@parley/contract/parley'
import { describe, expect, it } from 'vitest'

type Json = Record<string, unknown>

/** Rewrites frames of one message type; other frames pass unchanged. */
const rewrite =
  (type: string, change: (message: Json) => void) =>
  (frame: string): string => {
    const message = JSON.parse(frame) as Json
    if (message['type'] !== type) return frame
    change(message)
    return JSON.stringify(message)
  }

const rename = (message: Json, from: string, to: string): void => {
  if (!(from in message)) return
  message[to] = message[from]
  delete message[from]
}

interface Breakage {
  readonly name: string
  readonly fault: Pick<LoopbackPairingOptions, 'serverFault' | 'clientOutgoing'>
  /** Scenarios that must catch it (others may too). */
  readonly caughtBy: readonly string[]
}

const BREAKAGES: readonly Breakage[] = [
  {
    name: 'server: message frames drop seq',
    fault: { serverFault: { frame: rewrite('message', (m) => delete m['seq']) } },
    caughtBy: ['publish-ack', 'recovery-exact-replay'],
  },
  {
    name: 'server: ack renames duplicate to dup',
    fault: { serverFault: { frame: rewrite('ack', (m) => rename(m, 'duplicate', 'dup')) } },
    caughtBy: ['publish-retry-deduplicated'],
  },
  {
    name: 'server: joined sends recovery: null',
    fault: { serverFault: { frame: rewrite('joined', (m) => (m['recovery'] = null)) } },
    caughtBy: ['recovery-exact-replay', 'history-window-exceeded'],
  },
  {
    name: 'server: presence event "leave" sent as "left"',
    // In a `presence` and in each change of a `presences` batch (what the SDK asks for).
    fault: {
      serverFault: {
        frame: (frame: string) =>
          rewrite('presences', (m) => {
            for (const change of m['events'] as Json[]) change['event'] = change['event'] === 'leave' ? 'left' : change['event']
          })(rewrite('presence', (m) => (m['event'] = m['event'] === 'leave' ? 'left' : m['event']))(frame)),
      },
    },
    caughtBy: ['presence-three-clients'],
  },
  {
    name: 'server: welcome announces the default maxPayload whatever it enforces',
    fault: { serverFault: { frame: rewrite('welcome', (m) => ((m['limits'] as Json)['maxPayload'] = 65_536)) } },
    caughtBy: ['connect-and-negotiate', 'payload-too-large'],
  },
  {
    name: 'server: VALIDATION_FAILED errors drop their issues',
    fault: { serverFault: { frame: rewrite('error', (m) => delete m['issues']) } },
    caughtBy: ['request-response'],
  },
  {
    name: 'server: graceful shutdown closes with 1000 instead of 1001',
    fault: { serverFault: { closeCode: (code) => (code === 1001 ? 1000 : code) } },
    caughtBy: ['shutdown-reconnect-elsewhere'],
  },
  {
    name: 'server: slow-consumer close 4509 sent as 4400',
    fault: { serverFault: { closeCode: (code) => (code === 4509 ? 4400 : code) } },
    caughtBy: ['slow-consumer-cut-off'],
  },
  {
    name: 'client: publish frames drop id',
    fault: { clientOutgoing: rewrite('publish', (m) => delete m['id']) },
    caughtBy: ['publish-ack', 'rate-limited'],
  },
  {
    name: 'client: join frames drop resume',
    fault: { clientOutgoing: rewrite('join', (m) => delete m['resume']) },
    caughtBy: ['recovery-exact-replay', 'shutdown-reconnect-elsewhere'],
  },
  {
    name: 'client: signal renames ttlMs to ttl',
    fault: { clientOutgoing: rewrite('signal', (m) => rename(m, 'ttlMs', 'ttl')) },
    caughtBy: ['signal-expiry'],
  },
  {
    name: 'client: request renames input to args',
    fault: { clientOutgoing: rewrite('request', (m) => rename(m, 'input', 'args')) },
    caughtBy: ['request-response'],
  },
  {
    name: 'client: authenticate renames token to jwt',
    fault: { clientOutgoing: rewrite('authenticate', (m) => rename(m, 'token', 'jwt')) },
    caughtBy: ['auth-refreshed-in-band'],
  },
]

/** Runs `tasks` with at most `limit` of them at a time, keeping their order in the results. */
async function pooled<T>(tasks: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++
      results[index] = await (tasks[index] as () => Promise<T>)()
    }
  }
  await Promise.all(Array.from({ length: limit }, lane))
  return results
}

describe('a broken wire contract fails the suite', () => {
  it('catches every deliberate breakage, in the scenarios that depend on it', async () => {
    // The whole suite on the loopback pairing once per breakage. A broken contract mostly shows as an answer that
    // never comes, so each expectation waits briefly, and several scenarios run at once (loopback has no sockets).
    const tasks = BREAKAGES.flatMap((breakage) => {
      const pairing = parleyLoopbackPairing({ name: breakage.name, ...breakage.fault })
      return SCENARIOS.map((scenario) => () => runScenario(pairing, scenario, { timeoutMs: 600, scenarioTimeoutMs: 15_000 }))
    })
    const all = await pooled(tasks, 8)
    const outcomes = BREAKAGES.map((breakage) => ({ breakage, results: all.filter((result) => result.pairing === breakage.name) }))
    const lines = outcomes.map(({ breakage, results }) => {
      const failed = results.filter((result) => result.status === 'fail').map((result) => result.scenario)
      return `${breakage.name}: ${failed.length}/${results.length} scenarios fail (${failed.join(', ')})`
    })
    console.info(`[contract] broken encoders against the suite (loopback pairing):\n  ${lines.join('\n  ')}`)
    for (const { breakage, results } of outcomes) {
      const failed = results.filter((result) => result.status === 'fail').map((result) => result.scenario)
      expect(failed.length, `${breakage.name} went unnoticed`).toBeGreaterThan(0)
      for (const scenario of breakage.caughtBy) expect(failed, `${breakage.name} should fail ${scenario}`).toContain(scenario)
    }
  }, 90_000)
})
