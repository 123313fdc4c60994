import { describe, expect, it } from 'vitest'
import { createMemoryHistory } from '../src/memory-history.js'
import { MAX_SEARCH_TEXT } from '../src/search-text.js'
import { describeHistoryStore, run, stored } from './helpers/history-store-conformance.js'

// The reference store against the suite every store runs (packages/postgres-history runs it too).
describeHistoryStore('memory', (options) => createMemoryHistory(options))

describe('createMemoryHistory', () => {
  it('bounds each room on append, without waiting for a prune', async () => {
    const store = createMemoryHistory({ maxPerRoom: 3 })
    await store.append(run('r', 'e', 1, 10))
    expect((await store.read('r', { limit: 10 }))?.messages.map((m) => m.seq)).toEqual([8, 9, 10])
  })

  it('drops every message older than maxAgeMs by its ts, wherever it sits in the order', async () => {
    let now = 10_000
    const store = createMemoryHistory({ maxAgeMs: 200, now: () => now })
    // A late message of an old epoch (seq order and ts order disagree).
    await store.append([stored('r', 'e1', 1, 'a', 9_950), stored('r', 'e2', 1, 'b', 9_960), stored('r', 'e1', 2, 'c', 9_850)])
    now = 10_120
    // c is older than the cutoff although a, before it in the order, is not.
    expect(await store.prune?.()).toBe(1)
    expect((await store.read('r', { limit: 10 }))?.messages.map((m) => m.data)).toEqual(['a', 'b'])
  })

  it('keeps a copy of each message, cut to MAX_SEARCH_TEXT for search even with a searchText of your own', async () => {
    const store = createMemoryHistory({ searchText: (data) => `${'x '.repeat(MAX_SEARCH_TEXT)}needle ${JSON.stringify(data)}` })
    const data = { text: 'original' }
    await store.append([{ ...stored('r', 'e', 1), data, dataJson: JSON.stringify(data) }])
    data.text = 'changed after append'
    expect((await store.read('r', { limit: 1 }))?.messages[0]?.data).toEqual({ text: 'original' })
    expect((await store.search?.('r', 'needle', { limit: 5 }))?.messages).toEqual([])
  })

  it('refuses a maxPerRoom that is not a positive integer', () => {
    for (const maxPerRoom of [0, -1, 1.5, Number.NaN]) expect(() => createMemoryHistory({ maxPerRoom }), String(maxPerRoom)).toThrow(/maxPerRoom/)
  })
})
