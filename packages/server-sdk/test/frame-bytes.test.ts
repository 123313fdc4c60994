import { describe, expect, it } from 'vitest'
import { FrameBytes } from '../src/transports/batched-writes.js'
import { Frame } from '../src/transports/connection.js'

// A broadcast's wire bytes are built once per transport and shared by every recipient. The first transport keeps
// them on the frame itself (a field, not a WeakMap entry per broadcast: an ephemeron costs every write and every
// scavenge); a second transport writing the same frame keeps its own.

describe('FrameBytes', () => {
  it('builds a frame once per transport, keeping the first transport\'s bytes on the frame and a second one\'s aside', () => {
    const built: string[] = []
    const plain = new FrameBytes((frame) => {
      built.push(`plain:${frame.text}`)
      return Buffer.from(`P${frame.text}`)
    })
    const deflated = new FrameBytes((frame) => {
      built.push(`deflated:${frame.text}`)
      return Buffer.from(`D${frame.text}`)
    })
    const first = new Frame('one')
    const second = new Frame('two')
    const plainFirst = plain.of(first)
    expect(first.wireFor(plain)).toBe(plainFirst)
    expect(first.wireFor(deflated)).toBeUndefined()
    const deflatedFirst = deflated.of(first)
    // The slot is taken: the second transport's bytes are not on the frame, but still built only once.
    expect(first.wireFor(deflated)).toBeUndefined()
    expect(first.wireFor(plain)).toBe(plainFirst)
    plain.of(second)
    deflated.of(second)
    expect(plain.of(first)).toBe(plainFirst)
    expect(deflated.of(first)).toBe(deflatedFirst)
    expect(String(plain.of(first))).toBe('Pone')
    expect(String(deflated.of(first))).toBe('Done')
    expect(built).toEqual(['plain:one', 'deflated:one', 'plain:two', 'deflated:two'])
    expect(first.keepWire(deflated, Buffer.from('x'))).toBe(false)
  })
})
