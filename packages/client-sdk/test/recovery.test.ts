import type { JoinedMessage, RoomMessage } from '@parley/protocol'
import { describe, expect, it } from 'vitest'
import { createRecoveryTracker } from '../src/recovery.js'

const message = (seq: number, epoch = 'e1', room = 'r'): RoomMessage => ({ type: 'message', room, seq, epoch, from: null, ts: 0, data: seq })
const joined = (seq: number, recovery: JoinedMessage['recovery'], epoch = 'e1'): JoinedMessage => ({
  type: 'joined',
  room: 'r',
  epoch,
  seq,
  members: [],
  recovery,
})

describe('recovery tracker', () => {
  it('starts live from a fresh join and drops duplicates and old seqs', () => {
    const tracker = createRecoveryTracker()
    tracker.joined(joined(10, null))
    expect(tracker.accept(message(10))).toBe(false)
    expect(tracker.accept(message(11))).toBe(true)
    expect(tracker.accept(message(11))).toBe(false)
    expect(tracker.accept(message(9))).toBe(false)
    expect(tracker.accept(message(12))).toBe(true)
    expect(tracker.resumePoint('r')).toEqual({ epoch: 'e1', seq: 12 })
  })

  it('has no resume point for a room never seen, and forgets on request', () => {
    const tracker = createRecoveryTracker()
    expect(tracker.resumePoint('r')).toBeUndefined()
    tracker.joined(joined(3, null))
    tracker.forget('r')
    expect(tracker.resumePoint('r')).toBeUndefined()
  })

  it('after a recovered resume accepts exactly the replayed messages, then live ones', () => {
    const tracker = createRecoveryTracker()
    tracker.joined(joined(5, null))
    tracker.joined(joined(8, { recovered: true, replayed: 3, gap: null }))
    const delivered = [4, 5, 6, 6, 7, 8, 8, 9].filter((seq) => tracker.accept(message(seq)))
    expect(delivered).toEqual([6, 7, 8, 9])
  })

  it('keeps what it has seen when a server replays more than asked', () => {
    const tracker = createRecoveryTracker()
    tracker.joined(joined(5, null))
    // Replays 3..8 although the client had 5 already.
    tracker.joined(joined(8, { recovered: true, replayed: 6, gap: null }))
    expect([3, 4, 5, 6, 7, 8].filter((seq) => tracker.accept(message(seq)))).toEqual([6, 7, 8])
  })

  it('after a window-exceeded gap accepts the replay that follows the gap', () => {
    const tracker = createRecoveryTracker()
    tracker.joined(joined(2, null))
    tracker.joined(joined(20, { recovered: false, replayed: 5, gap: { reason: 'window-exceeded', from: 3, to: 15 } }))
    expect([16, 17, 18, 19, 20, 21].filter((seq) => tracker.accept(message(seq)))).toEqual([16, 17, 18, 19, 20, 21])
  })

  it('after an epoch change starts over at the new epoch', () => {
    const tracker = createRecoveryTracker()
    tracker.joined(joined(50, null, 'e1'))
    tracker.joined(joined(2, { recovered: false, replayed: 0, gap: { reason: 'epoch-changed' } }, 'e2'))
    expect(tracker.resumePoint('r')).toEqual({ epoch: 'e2', seq: 2 })
    expect(tracker.accept(message(2, 'e2'))).toBe(false)
    expect(tracker.accept(message(3, 'e2'))).toBe(true)
  })

  it('after an epoch change with a replay (the new epoch’s messages the server still keeps) accepts exactly those', () => {
    const tracker = createRecoveryTracker()
    tracker.joined(joined(50, null, 'e1'))
    tracker.joined(joined(5, { recovered: false, replayed: 2, gap: { reason: 'epoch-changed' } }, 'e2'))
    expect([3, 4, 4, 5, 6].filter((seq) => tracker.accept(message(seq, 'e2')))).toEqual([4, 5, 6])
  })

  it('keeps positions per room', () => {
    const tracker = createRecoveryTracker()
    tracker.joined({ ...joined(1, null), room: 'a' })
    tracker.joined({ ...joined(7, null), room: 'b' })
    expect(tracker.accept(message(2, 'e1', 'a'))).toBe(true)
    expect(tracker.accept(message(7, 'e1', 'b'))).toBe(false)
    expect(tracker.accept(message(8, 'e1', 'b'))).toBe(true)
  })
})
