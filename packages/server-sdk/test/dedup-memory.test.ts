import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import type { RoomMessage } from '@parley/protocol'
import { createMemoryAdapter, type AdapterHooks } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'

// Fault 1 of the core review: the memory adapter kept whole messages (payload included) for `dedupWindowMs`, so
// 1 600 publishes of 32 KiB left over 100 MiB of heap for two minutes. What a retried publish needs answered is its
// position (seq, epoch, ts); that is all that may be kept per publish id.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapAfterGc(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const noHooks: AdapterHooks = { message: () => undefined, presence: () => undefined, signal: () => undefined, direct: () => undefined, control: async () => 0, forwarded: async () => ({ status: 404 }) }
const MiB = 1024 * 1024

describe('memory adapter de-duplication', () => {
  it('keeps no payload per publish id: 1 600 publishes of 32 KiB end within a few MiB of the baseline heap', async () => {
    const adapter = createMemoryAdapter()
    // No history window, so what stays reachable is what de-duplication keeps.
    const node = await adapter.connect(noHooks, { history: { size: 0, ttlMs: 300_000 }, dedupWindowMs: 120_000 })
    const before = heapAfterGc()
    for (let i = 0; i < 1_600; i++) {
      // A fresh 32 KiB payload each time (no shared string): what a user would send.
      const data = { i, text: `${i}:`.padEnd(32 * 1024, String.fromCharCode(97 + (i % 26))) }
      await node.publish({ room: 'big', from: 'u', data, dataJson: JSON.stringify(data), dedupKey: `u\u0000p${i}` })
    }
    const grown = heapAfterGc() - before
    console.log(`[dedup] heap after 1 600 × 32 KiB publishes with ids: +${(grown / MiB).toFixed(2)} MiB`)
    // Kept payloads would be 1 600 × 32 KiB ≈ 50 MiB of text at the very least.
    expect(grown).toBeLessThan(4 * MiB)
    await node.disconnect()
  })

  it('still answers a retry within the window with the first publish position, and delivers it once', async () => {
    const adapter = createMemoryAdapter()
    const delivered: RoomMessage[] = []
    const node = await adapter.connect({ ...noHooks, message: (message) => void delivered.push(message) }, { history: { size: 10, ttlMs: 300_000 }, dedupWindowMs: 60_000 })
    await node.subscribe('r')
    const request = { room: 'r', from: 'u', data: { n: 1 }, dataJson: '{"n":1}', dedupKey: 'u\u0000same' }
    const first = await node.publish(request)
    const retry = await node.publish(request)
    expect(first).toMatchObject({ seq: 1, duplicate: false })
    expect(retry).toEqual({ seq: first.seq, epoch: first.epoch, ts: first.ts, duplicate: true })
    expect(delivered.map((m) => m.seq)).toEqual([1])
    await node.disconnect()
  })

  it('drops expired ids and the oldest past 100 000 without walking its map (a walk skips every entry deleted before: O(deleted) per publish)', async () => {
    let now = 0
    const adapter = createMemoryAdapter({ now: () => now })
    const dedup = (adapter as unknown as { dedup: Map<string, unknown> }).dedup
    for (const walk of [Symbol.iterator, 'entries', 'keys', 'values', 'forEach'] as const) {
      Object.defineProperty(dedup, walk, { value: () => { throw new Error(`the de-duplication map was walked (${String(walk)})`) } })
    }
    const node = await adapter.connect(noHooks, { history: { size: 0, ttlMs: 300_000 }, dedupWindowMs: 1_000 })
    const publish = (id: string) => node.publish({ room: 'r', from: 'u', data: 1, dataJson: '1', dedupKey: `u\u0000${id}` })
    for (const id of ['a', 'b', 'c']) await publish(id)
    now = 1_500
    expect((await publish('d')).duplicate).toBe(false)
    expect(dedup.size).toBe(1)
    // An id used again after it expired is a new publish, and its new entry survives the old one's turn to go.
    expect((await publish('a')).duplicate).toBe(false)
    expect((await publish('a')).duplicate).toBe(true)
    expect(dedup.size).toBe(2)
    now = 2_000
    for (let i = 0; i < 100_010; i++) await publish(`p${i}`)
    expect(dedup.size).toBe(100_000)
    expect((await publish('p9')).duplicate).toBe(false)
    expect((await publish('p100009')).duplicate).toBe(true)
    await node.disconnect()
  })

  it('keeps its queue of ids bounded when nodes with different windows share the adapter (a long-lived id at the front)', async () => {
    let now = 0
    const adapter = createMemoryAdapter({ now: () => now })
    const long = await adapter.connect(noHooks, { history: { size: 0, ttlMs: 300_000 }, dedupWindowMs: 120_000 })
    const short = await adapter.connect(noHooks, { history: { size: 0, ttlMs: 300_000 }, dedupWindowMs: 1 })
    await long.publish({ room: 'r', from: 'u', data: 1, dataJson: '1', dedupKey: 'u\u0000k' })
    // The same id again and again from the node with the 1 ms window, each time after its previous entry expired.
    for (let i = 0; i < 20_000; i++) {
      now += 2
      expect((await short.publish({ room: 'r', from: 'u', data: 1, dataJson: '1', dedupKey: 'u\u0000x' })).duplicate).toBe(false)
    }
    const bus = adapter as unknown as { readonly dedup: Map<string, unknown>; readonly dedupQueued: number }
    expect(bus.dedup.size).toBe(2)
    // 20 001 entries were queued; all but the two the map holds were superseded, and they do not pile up.
    expect(bus.dedupQueued).toBeLessThanOrEqual(1_100)
    await long.disconnect()
    await short.disconnect()
  })
})
