import { ID_PATTERN } from '@parley/protocol'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ParleyClientError } from '@parley/client-sdk'
import { createIdSource, createPendingRequests, type Settled } from '../src/acks.js'

describe('pending requests', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  it('times out after exactly timeoutMs with a TIMEOUT error naming the id', () => {
    const pending = createPendingRequests<string>()
    const results: Settled<string>[] = []
    pending.add('a', 10_000, (result) => results.push(result))
    vi.advanceTimersByTime(9_999)
    expect(results).toEqual([])
    expect(pending.has('a')).toBe(true)
    vi.advanceTimersByTime(1)
    expect(results).toHaveLength(1)
    const [result] = results
    expect(result?.ok).toBe(false)
    if (result?.ok === false) {
      expect(result.error).toBeInstanceOf(ParleyClientError)
      expect(result.error.code).toBe('TIMEOUT')
      expect(result.error.id).toBe('a')
    }
    expect(pending.has('a')).toBe(false)
  })

  it('settles synchronously on resolve, once, and clears the timer', () => {
    const pending = createPendingRequests<string>()
    const settle = vi.fn()
    pending.add('a', 1_000, settle)
    expect(pending.resolve('a', 'answer')).toBe(true)
    expect(settle).toHaveBeenCalledWith({ ok: true, value: 'answer' })
    expect(pending.resolve('a', 'again')).toBe(false)
    vi.advanceTimersByTime(5_000)
    expect(settle).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rejects one, rejects all, and cancels without settling', () => {
    const pending = createPendingRequests<string>()
    const a = vi.fn()
    const b = vi.fn()
    const c = vi.fn()
    pending.add('a', 1_000, a)
    pending.add('b', 1_000, b)
    pending.add('c', 1_000, c)
    const error = new ParleyClientError('CLOSED', 'closed')
    expect(pending.reject('a', error)).toBe(true)
    expect(a).toHaveBeenCalledWith({ ok: false, error })
    pending.cancel('b')
    pending.rejectAll(error)
    expect(b).not.toHaveBeenCalled()
    expect(c).toHaveBeenCalledWith({ ok: false, error })
    expect(pending.size).toBe(0)
    vi.advanceTimersByTime(5_000)
    expect(a).toHaveBeenCalledTimes(1)
    expect(c).toHaveBeenCalledTimes(1)
  })

  it('replaces a request added twice under one id (the first never settles)', () => {
    const pending = createPendingRequests<string>()
    const first = vi.fn()
    const second = vi.fn()
    pending.add('a', 1_000, first)
    pending.add('a', 1_000, second)
    vi.advanceTimersByTime(1_000)
    expect(first).not.toHaveBeenCalled()
    expect(second).toHaveBeenCalledTimes(1)
  })
})

describe('id source', () => {
  it('makes ids the protocol accepts, unique within and across clients', () => {
    const one = createIdSource()
    const two = createIdSource()
    const ids = [...Array.from({ length: 500 }, () => one.next()), ...Array.from({ length: 500 }, () => two.next())]
    expect(new Set(ids).size).toBe(1_000)
    for (const id of ids) {
      expect(id).toMatch(ID_PATTERN)
      expect(id.length).toBeLessThanOrEqual(64)
    }
  })
})
