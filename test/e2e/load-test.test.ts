/**
 * The load test (examples/load-test) with small numbers: 20 clients in 2 rooms, 50 messages from each (1,000 in all,
 * 10,000 deliveries). Every member must get every message of its room exactly once and in order.
 */
import { describe, expect, it } from 'vitest'
import { isLoopbackUrl, runLoadTest, type LoadTestProgress } from '../../examples/load-test/load-test.js'

describe('load test', () => {
  it('delivers 20 clients × 50 messages with zero loss and zero duplicates', async () => {
    const progress: LoadTestProgress[] = []
    const result = await runLoadTest({ clients: 20, messages: 20 * 50, rooms: 2, timeoutMs: 40_000, onProgress: (p) => progress.push(p) })

    expect(result.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/parley$/)
    expect(result.timedOut).toBe(false)
    expect(result.acked).toBe(1_000)
    expect(result.failed).toBe(0)
    expect(result.expected).toBe(1_000 * 10)
    expect(result.delivered).toBe(result.expected)
    expect(result.lost).toBe(0)
    expect(result.duplicated).toBe(0)
    expect(result.outOfOrder).toBe(0)
    expect(result.latencyMs.p50).toBeLessThanOrEqual(result.latencyMs.p99)
    expect(result.deliveriesPerSecond).toBeGreaterThan(0)
    expect(progress.at(-1)).toMatchObject({ phase: 'done', delivered: 10_000, expected: 10_000 })
  }, 50_000)

  it('only ever targets this machine', async () => {
    expect(isLoopbackUrl('ws://127.0.0.1:3000/parley')).toBe(true)
    expect(isLoopbackUrl('ws://localhost:3000/parley')).toBe(true)
    expect(isLoopbackUrl('ws://10.0.0.5:3000/parley')).toBe(false)
    expect(isLoopbackUrl('http://127.0.0.1:3000/parley')).toBe(false)
    await expect(runLoadTest({ url: 'ws://example.com/parley', clients: 1, messages: 1 })).rejects.toThrow(/only targets loopback/)
  })
})
