import { describe, expect, it, vi } from 'vitest'
import type { HistoryStore, StoredMessage } from '../src/history-store.js'
import { HistoryWriter } from '../src/history-writer.js'
import { createMemoryHistory } from '../src/memory-history.js'
import { SILENT_LOGGER } from '../src/logging.js'
import { stored } from './helpers/history-store-conformance.js'

const SETTINGS = { maxQueue: 5, batchSize: 100, flushMs: 0, retryMs: 10, maxRetryMs: 20 }

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('HistoryWriter', () => {
  it('a store write that never answers counts as failed after appendTimeoutMs, and the batch is written again', async () => {
    const inner = createMemoryHistory()
    let calls = 0
    const store: HistoryStore = {
      append: (batch: readonly StoredMessage[]) => (++calls === 1 ? new Promise<void>(() => undefined) : inner.append(batch)),
      read: (room, query) => inner.read(room, query),
    }
    const writer = new HistoryWriter(store, { ...SETTINGS, appendTimeoutMs: 50 }, SILENT_LOGGER)
    for (let seq = 1; seq <= 3; seq++) writer.add(stored('r', 'e', seq))
    await until(() => writer.stats().written === 3, 'all three written')
    expect(writer.stats()).toMatchObject({ failedWrites: 1, queued: 0, dropped: 0 })
    expect((await inner.read('r', { limit: 10 }))?.messages.map((m) => m.seq)).toEqual([1, 2, 3])
    writer.close()
  })

  it('says at the first drop that the queue is full, and lists the dropped ranges once it drains', async () => {
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const inner = createMemoryHistory()
    const store: HistoryStore = { append: async (batch) => (await gate, inner.append(batch)), read: (room, query) => inner.read(room, query) }
    const warn = vi.fn()
    const writer = new HistoryWriter(store, SETTINGS, { ...SILENT_LOGGER, warn })
    for (let seq = 1; seq <= 8; seq++) writer.add(stored('r', 'e', seq))
    // 5 queued (the bound), 3 dropped; the store is slow, not failing.
    expect(writer.stats()).toMatchObject({ queued: 5, dropped: 3 })
    expect(warn).toHaveBeenCalledTimes(1)
    expect(warn.mock.calls[0]?.[0]).toMatchObject({ event: 'history.queue-full', maxQueue: 5 })
    expect(String(warn.mock.calls[0]?.[1])).toContain('queue is full')
    release()
    await until(() => writer.stats().queued === 0, 'drained')
    expect(warn).toHaveBeenCalledTimes(2)
    expect(warn.mock.calls[1]?.[0]).toMatchObject({ event: 'history.dropped', ranges: ['r e 6-8'], droppedTotal: 3 })
    writer.close()
  })
})
