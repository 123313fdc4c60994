import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startHeartbeat } from '../src/heartbeat.js'

describe('client heartbeat', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  const settings = { intervalMs: 1_000, timeoutMs: 500 }

  it('pings after intervalMs of silence and declares death timeoutMs after the ping', () => {
    const ping = vi.fn()
    const dead = vi.fn()
    startHeartbeat(settings, ping, dead)
    vi.advanceTimersByTime(999)
    expect(ping).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(ping).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(499)
    expect(dead).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(dead).toHaveBeenCalledTimes(1)
  })

  it('any inbound frame defers the ping; an answer to a ping clears the deadline', () => {
    const ping = vi.fn()
    const dead = vi.fn()
    const heartbeat = startHeartbeat(settings, ping, dead)
    vi.advanceTimersByTime(800)
    heartbeat.received()
    vi.advanceTimersByTime(800)
    expect(ping).not.toHaveBeenCalled()
    vi.advanceTimersByTime(200)
    expect(ping).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(400)
    heartbeat.received()
    vi.advanceTimersByTime(900)
    expect(dead).not.toHaveBeenCalled()
    expect(ping).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(100)
    expect(ping).toHaveBeenCalledTimes(2)
  })

  it('never blames a throttled timer: a deadline firing more than timeoutMs late pings again first', () => {
    const ping = vi.fn()
    const dead = vi.fn()
    startHeartbeat(settings, ping, dead)
    vi.advanceTimersByTime(1_000)
    expect(ping).toHaveBeenCalledTimes(1)
    // The tab slept: the wall clock jumps a minute while the deadline timer has not run yet.
    vi.setSystemTime(Date.now() + 60_000)
    vi.advanceTimersByTime(500)
    expect(dead).not.toHaveBeenCalled()
    expect(ping).toHaveBeenCalledTimes(2)
    vi.advanceTimersByTime(500)
    expect(dead).toHaveBeenCalledTimes(1)
  })

  it('a tab throttled for good still detects a dead peer: one grace ping, then the next late check judges', () => {
    const ping = vi.fn()
    const dead = vi.fn()
    startHeartbeat(settings, ping, dead)
    vi.advanceTimersByTime(1_000)
    expect(ping).toHaveBeenCalledTimes(1)
    // Every timer of the tab fires a minute late from now on, and the peer never answers.
    vi.setSystemTime(Date.now() + 60_000)
    vi.advanceTimersByTime(500)
    expect(ping).toHaveBeenCalledTimes(2)
    expect(dead).not.toHaveBeenCalled()
    vi.setSystemTime(Date.now() + 60_000)
    vi.advanceTimersByTime(500)
    expect(dead).toHaveBeenCalledTimes(1)
    expect(ping).toHaveBeenCalledTimes(2)
  })

  it('an answer after the grace ping restores the grace for the next silence', () => {
    const ping = vi.fn()
    const dead = vi.fn()
    const heartbeat = startHeartbeat(settings, ping, dead)
    vi.advanceTimersByTime(1_000)
    vi.setSystemTime(Date.now() + 60_000)
    vi.advanceTimersByTime(500)
    expect(ping).toHaveBeenCalledTimes(2)
    heartbeat.received()
    vi.advanceTimersByTime(1_000)
    expect(ping).toHaveBeenCalledTimes(3)
    vi.setSystemTime(Date.now() + 60_000)
    vi.advanceTimersByTime(500)
    expect(dead).not.toHaveBeenCalled()
    expect(ping).toHaveBeenCalledTimes(4)
  })

  it('stop() ends every timer', () => {
    const ping = vi.fn()
    const heartbeat = startHeartbeat(settings, ping, vi.fn())
    heartbeat.stop()
    vi.advanceTimersByTime(10_000)
    expect(ping).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(0)
  })
})
