import type { RoomMessage } from '@parley/protocol'
import { describe, expect, it } from 'vitest'
import { History } from '../src/history.js'

const message = (seq: number): RoomMessage => ({ type: 'message', room: 'r', seq, epoch: 'e', from: null, ts: seq, data: seq })
const seqsOf = (messages: readonly RoomMessage[]): number[] => messages.map((m) => m.seq)

/** A history with a hand-driven clock. */
function make(size: number, ttlMs: number) {
  const clock = { now: 1_000 }
  const history = new History(size, ttlMs, () => clock.now)
  let last = 0
  const append = (count: number): void => {
    for (let i = 0; i < count; i++) history.append(message(++last))
  }
  return { history, clock, append, last: () => last }
}

describe('History', () => {
  it('returns every message after the resume point when all are kept', () => {
    const { history, append } = make(10, 60_000)
    append(5)
    expect(history.length).toBe(5)
    const slice = history.since(2, 5)
    expect(seqsOf(slice.messages)).toEqual([3, 4, 5])
    expect(slice.gap).toBeNull()
    expect(seqsOf(history.since(0, 5).messages)).toEqual([1, 2, 3, 4, 5])
  })

  it('returns nothing, and no gap, for a resume at or past the head', () => {
    const { history, append } = make(10, 60_000)
    append(3)
    expect(history.since(3, 3)).toEqual({ messages: [], gap: null })
    expect(history.since(7, 3)).toEqual({ messages: [], gap: null })
    expect(make(10, 1).history.since(0, 0)).toEqual({ messages: [], gap: null })
  })

  it('keeps at most `size` messages (a ring buffer) and reports the evicted ones as a window-exceeded gap', () => {
    const { history, append } = make(4, 60_000)
    append(10)
    expect(history.length).toBe(4)
    const slice = history.since(3, 10)
    expect(seqsOf(slice.messages)).toEqual([7, 8, 9, 10])
    expect(slice.gap).toEqual({ reason: 'window-exceeded', from: 4, to: 6 })
    // A resume right at the start of the window is complete.
    expect(history.since(6, 10)).toEqual({ messages: [message(7), message(8), message(9), message(10)], gap: null })
    // One before it is a one-message gap.
    expect(history.since(5, 10).gap).toEqual({ reason: 'window-exceeded', from: 6, to: 6 })
  })

  it('wraps around many times and stays in order', () => {
    const { history, append } = make(3, 60_000)
    append(1_000)
    expect(seqsOf(history.since(997, 1_000).messages)).toEqual([998, 999, 1_000])
    expect(history.since(0, 1_000).gap).toEqual({ reason: 'window-exceeded', from: 1, to: 997 })
  })

  it('expires messages after ttlMs, measured from when each was stored', () => {
    const { history, clock, append } = make(10, 1_000)
    append(2) // stored at t=1000
    clock.now = 1_500
    append(2) // stored at t=1500
    clock.now = 1_999
    expect(history.length).toBe(4)
    clock.now = 2_000 // the first two are exactly ttlMs old
    expect(history.length).toBe(2)
    expect(history.since(0, 4)).toEqual({ messages: [message(3), message(4)], gap: { reason: 'window-exceeded', from: 1, to: 2 } })
    clock.now = 2_500
    expect(history.length).toBe(0)
    expect(history.since(1, 4)).toEqual({ messages: [], gap: { reason: 'window-exceeded', from: 2, to: 4 } })
  })

  it('reports when its newest message was stored', () => {
    const { history, clock, append } = make(5, 1_000)
    expect(history.lastStoredAt).toBeUndefined()
    append(1)
    clock.now = 1_200
    append(1)
    expect(history.lastStoredAt).toBe(1_200)
    clock.now = 2_200
    expect(history.lastStoredAt).toBeUndefined()
  })

  it('with size 0 keeps nothing and every resume behind the head is a gap', () => {
    const { history, append } = make(0, 1_000)
    append(3)
    expect(history.length).toBe(0)
    expect(history.since(1, 3)).toEqual({ messages: [], gap: { reason: 'window-exceeded', from: 2, to: 3 } })
    expect(history.since(3, 3)).toEqual({ messages: [], gap: null })
  })

  it('keeps working after expiry empties it and new messages arrive', () => {
    const { history, clock, append } = make(3, 100)
    append(5)
    clock.now += 100
    expect(history.length).toBe(0)
    append(2)
    expect(seqsOf(history.since(5, 7).messages)).toEqual([6, 7])
    expect(history.since(5, 7).gap).toBeNull()
    expect(history.since(4, 7).gap).toEqual({ reason: 'window-exceeded', from: 5, to: 5 })
  })
})
