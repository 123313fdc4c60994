import { createParley, type Connection, type Frame, type ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { Resources, until } from './helpers/fixtures.js'

// A paced replay waits for the connection's drain signal (Connection.onDrain) instead of polling its buffer: the
// moment a transport says it drained, the replay goes on, before any timer could have run.

const resources = new Resources()
afterEach(() => resources.dispose())

/** A connection whose buffer only empties when the test says so, and which records what was sent. */
function controlledConnection(): { connection: Connection; sent: string[]; drain(): void; fill(): void; receive(frame: string): void } {
  let buffered = 0
  let full = true
  const sent: string[] = []
  const drains: Array<() => void> = []
  const messages: Array<(frame: string | Uint8Array) => void> = []
  const closes: Array<(code: number, reason: string) => void> = []
  const connection: Connection = {
    protocol: 'parley.v1.json',
    get bufferedAmount() {
      return buffered
    },
    send(frame: Frame) {
      sent.push(frame.text)
      if (full) buffered += frame.byteLength
    },
    close: (code, reason) => queueMicrotask(() => closes.forEach((listener) => listener(code, reason))),
    terminate: () => queueMicrotask(() => closes.forEach((listener) => listener(1006, ''))),
    ping: () => undefined,
    onMessage: (listener) => void messages.push(listener),
    onPong: () => undefined,
    onDrain: (listener) => void drains.push(listener),
    onClose: (listener) => void closes.push(listener),
  }
  return {
    connection,
    sent,
    drain() {
      buffered = 0
      full = false
      for (const listener of drains) listener()
    },
    fill() {
      full = true
    },
    receive: (frame) => messages.forEach((listener) => listener(frame)),
  }
}

const microtasks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve()
}

describe('a paced replay and the connection drain signal', () => {
  it('stops at the high-water mark, and goes on as soon as the connection drains, before any timer runs', async () => {
    const options: ServerOptions = { backpressure: { maxBufferedBytes: 64 * 1024, highWaterBytes: 8 * 1024 }, history: { size: 100 } }
    const parley = resources.add(createParley(options), (p) => p.close())
    await parley.ready
    const pad = 'x'.repeat(2_000)
    let epoch = ''
    for (let i = 1; i <= 40; i++) epoch = (await parley.room('r').publish({ i, pad })).epoch
    const end = controlledConnection()
    await parley.accept(end.connection)
    end.receive(JSON.stringify({ type: 'join', room: 'r', resume: { epoch, seq: 0 } }))
    const replayed = (): number => end.sent.filter((text) => text.startsWith('{"type":"message"')).length
    await until(() => replayed() > 0, 2_000, 'the replay to start')
    // Past the mark it waits: time passes (and its re-check timer runs) without a frame while the buffer stays full.
    await new Promise((resolve) => setTimeout(resolve, 60))
    const stalledAt = replayed()
    expect(stalledAt).toBeGreaterThan(0)
    expect(stalledAt).toBeLessThan(40)
    // Drained: the rest follows within microtasks, which all run before any timer can fire.
    end.drain()
    await microtasks(200)
    expect(replayed()).toBe(40)
    const seqs = end.sent.filter((text) => text.startsWith('{"type":"message"')).map((text) => (JSON.parse(text) as { seq: number }).seq)
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
  })
})
