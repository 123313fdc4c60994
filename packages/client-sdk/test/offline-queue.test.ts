import { describe, expect, it } from 'vitest'
import { createOfflineQueue } from '../src/offline-queue.js'

const item = (id: string, room = 'r') => ({ id, room })

describe('offline queue', () => {
  it('keeps call order and refuses once full, without queueing the refused item', () => {
    const queue = createOfflineQueue<{ id: string; room: string }>(2)
    expect(queue.push(item('a'))).toBe(true)
    expect(queue.push(item('b'))).toBe(true)
    expect(queue.push(item('c'))).toBe(false)
    expect(queue.size).toBe(2)
    expect(queue.take(() => true).map((i) => i.id)).toEqual(['a', 'b'])
    expect(queue.size).toBe(0)
  })

  it('a size of 0 queues nothing', () => {
    const queue = createOfflineQueue<{ id: string }>(0)
    expect(queue.push({ id: 'a' })).toBe(false)
  })

  it('takes only the ready items, in order, leaving the rest in place', () => {
    const queue = createOfflineQueue<{ id: string; room: string }>(10)
    for (const [id, room] of [['1', 'a'], ['2', 'b'], ['3', 'a'], ['4', 'b']] as const) queue.push(item(id, room))
    expect(queue.take((i) => i.room === 'a').map((i) => i.id)).toEqual(['1', '3'])
    expect(queue.take(() => true).map((i) => i.id)).toEqual(['2', '4'])
  })

  it('puts in-flight items back at the front in their order, even past the bound', () => {
    const queue = createOfflineQueue<{ id: string; room: string }>(2)
    queue.push(item('c'))
    queue.push(item('d'))
    queue.unshift([item('a'), item('b')])
    expect(queue.size).toBe(4)
    expect(queue.push(item('e'))).toBe(false)
    expect(queue.take(() => true).map((i) => i.id)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('removes by id', () => {
    const queue = createOfflineQueue<{ id: string; room: string }>(5)
    queue.push(item('a'))
    queue.push(item('b'))
    expect(queue.remove('a')?.id).toBe('a')
    expect(queue.remove('a')).toBeUndefined()
    expect(queue.take(() => true).map((i) => i.id)).toEqual(['b'])
  })
})
