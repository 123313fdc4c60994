import { afterEach, describe, expect, it, vi } from 'vitest'
import { Emitter } from '../src/emitter.js'

describe('emitter', () => {
  afterEach(() => void vi.unstubAllGlobals())

  it('returns an unsubscribe from on(), and off() works too', () => {
    const emitter = new Emitter<{ tick: number }>()
    const seen: number[] = []
    const off = emitter.on('tick', (n) => seen.push(n))
    emitter.emit('tick', 1)
    off()
    emitter.emit('tick', 2)
    const handler = (n: number): void => void seen.push(n * 10)
    emitter.on('tick', handler)
    emitter.emit('tick', 3)
    emitter.off('tick', handler)
    emitter.emit('tick', 4)
    expect(seen).toEqual([1, 30])
  })

  it('runs every handler when one throws, and rethrows the error outside the SDK', () => {
    const deferred: Array<() => void> = []
    vi.stubGlobal('queueMicrotask', (callback: () => void) => void deferred.push(callback))
    const emitter = new Emitter<{ tick: number }>()
    const after = vi.fn()
    emitter.on('tick', () => {
      throw new Error('app bug')
    })
    emitter.on('tick', after)
    expect(() => emitter.emit('tick', 1)).not.toThrow()
    expect(after).toHaveBeenCalledWith(1)
    expect(deferred).toHaveLength(1)
    expect(() => deferred[0]?.()).toThrow('app bug')
  })

  it('lets a handler unsubscribe others mid-emit without skipping this round', () => {
    const emitter = new Emitter<{ tick: number }>()
    const second = vi.fn()
    emitter.on('tick', () => emitter.off('tick', second))
    emitter.on('tick', second)
    emitter.emit('tick', 1)
    emitter.emit('tick', 2)
    expect(second).toHaveBeenCalledTimes(1)
  })

  it('calls a handler added mid-emit from the next event on, also when it was the only handler', () => {
    const emitter = new Emitter<{ tick: number }>()
    const later = vi.fn()
    const once = vi.fn(() => emitter.on('tick', later))
    emitter.on('tick', once)
    emitter.emit('tick', 1)
    expect(later).not.toHaveBeenCalled()
    emitter.off('tick', once)
    emitter.emit('tick', 2)
    expect(later).toHaveBeenCalledWith(2)
  })
})
