import { describe, expect, it } from 'vitest'
import { TokenBucket, WindowCounter } from '../src/rate-limiter.js'

const takeMany = (bucket: TokenBucket, count: number, now: number): number => {
  let taken = 0
  for (let i = 0; i < count; i++) if (bucket.take(now)) taken++
  return taken
}

describe('TokenBucket', () => {
  it('starts full: a burst of `messages` passes, the next one does not', () => {
    const bucket = new TokenBucket({ messages: 5, perMs: 1_000 }, 0)
    expect(takeMany(bucket, 5, 0)).toBe(5)
    expect(bucket.take(0)).toBe(false)
  })

  it('refills continuously at messages / perMs', () => {
    const bucket = new TokenBucket({ messages: 10, perMs: 1_000 }, 0)
    expect(takeMany(bucket, 10, 0)).toBe(10)
    expect(bucket.take(99)).toBe(false) // 0.99 of a token
    expect(bucket.take(100)).toBe(true) // one token after 100 ms
    expect(bucket.take(100)).toBe(false)
    expect(takeMany(bucket, 10, 600)).toBe(5) // five more after another 500 ms
  })

  it('never holds more than its capacity, however long it idles', () => {
    const bucket = new TokenBucket({ messages: 3, perMs: 100 }, 0)
    expect(takeMany(bucket, 10, 1_000_000)).toBe(3)
  })

  it('does not refill when the clock goes backwards', () => {
    const bucket = new TokenBucket({ messages: 2, perMs: 1_000 }, 1_000)
    expect(takeMany(bucket, 2, 1_000)).toBe(2)
    expect(bucket.take(500)).toBe(false)
    expect(bucket.take(1_000)).toBe(false)
    expect(bucket.take(1_500)).toBe(true)
  })

  it('sustains exactly the configured rate over a long run', () => {
    const bucket = new TokenBucket({ messages: 50, perMs: 1_000 }, 0)
    let taken = 0
    // Try every millisecond for 10 s: the burst of 50, then 50 per second.
    for (let now = 0; now < 10_000; now++) if (bucket.take(now)) taken++
    expect(taken).toBeGreaterThanOrEqual(549)
    expect(taken).toBeLessThanOrEqual(550)
  })
})

describe('WindowCounter', () => {
  it('counts the hits in the window, this one included', () => {
    const counter = new WindowCounter(1_000)
    expect(counter.hit(0)).toBe(1)
    expect(counter.hit(10)).toBe(2)
    expect(counter.hit(999)).toBe(3)
  })

  it('forgets hits once they are windowMs old', () => {
    const counter = new WindowCounter(1_000)
    counter.hit(0)
    counter.hit(500)
    expect(counter.hit(999)).toBe(3)
    expect(counter.hit(1_000)).toBe(3) // the hit at 0 is exactly windowMs old: gone
    expect(counter.hit(1_500)).toBe(3) // 500 gone too
    expect(counter.hit(5_000)).toBe(1)
  })

  it('spots sustained abuse: 11 hits within 10 s passes a limit of 10, 11 spread over 11 s do not', () => {
    const burst = new WindowCounter(10_000)
    let count = 0
    for (let i = 0; i < 11; i++) count = burst.hit(i * 900)
    expect(count).toBe(11)
    const spread = new WindowCounter(10_000)
    for (let i = 0; i < 11; i++) count = spread.hit(i * 1_000)
    expect(count).toBe(10)
  })
})
