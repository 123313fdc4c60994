import { createMemoryAdapter, type AdapterHooks } from '@parley/server-sdk'
import { count, fixed } from '../lib/compare.js'
import type { Row, Scenario } from '../lib/scenario.js'

/**
 * The memory adapter's de-duplication window under a steady stream of acknowledged publishes: every publish with an
 * id is remembered for `dedupWindowMs` (120 s by default), at most 100 000 ids, and the oldest are dropped as new
 * ones come. What a publish costs must not grow with how long the server has run. In this process, on a simulated
 * clock (1 000 publishes a second, 100 rooms), in blocks of publishes: microseconds per publish, and the ids
 * remembered at the end of each block. Nothing is delivered (no subscribers) and no history is kept, so the figure
 * is the adapter's sequencing and de-duplication alone.
 */

const BLOCK = 25_000
const RATE_PER_MS = 1

const noHooks: AdapterHooks = { message: () => undefined, presence: () => undefined, signal: () => undefined, direct: () => undefined, control: async () => 0, forwarded: async () => ({ status: 404 }) }

const scenario: Scenario = {
  name: 'dedup-window',
  title: "the memory adapter's de-duplication window under steady acknowledged publishes: µs per publish as ids pile up",
  async run({ quick, log }) {
    const blocks = quick ? 6 : 12
    let now = 0
    const adapter = createMemoryAdapter({ now: () => now })
    const node = await adapter.connect(noHooks, { history: { size: 0, ttlMs: 300_000 }, dedupWindowMs: 120_000 })
    const remembered = (adapter as unknown as { readonly dedup?: ReadonlyMap<string, unknown> }).dedup
    const table: Row[] = []
    const perPublish: number[] = []
    let published = 0
    log(`  ${blocks} blocks of ${count(BLOCK)} publishes, ${RATE_PER_MS * 1_000} a second on a simulated clock`)
    for (let block = 0; block < blocks; block++) {
      const start = performance.now()
      for (let i = 0; i < BLOCK; i++, published++) {
        now = Math.floor(published / RATE_PER_MS)
        await node.publish({ room: `room-${published % 100}`, from: `u${published % 1_000}`, data: published, dataJson: String(published), dedupKey: `u${published % 1_000}\u0000p${published}` })
      }
      const us = ((performance.now() - start) * 1_000) / BLOCK
      perPublish.push(us)
      table.push({ publishes: count(published), 'simulated s': fixed(0)(now / 1_000), 'ids remembered': remembered === undefined ? 'n/a' : count(remembered.size), 'µs/publish': fixed(2)(us) })
    }
    await node.disconnect()
    const first = perPublish[1] ?? Number.NaN
    const last = perPublish.at(-1) ?? Number.NaN
    return {
      table,
      notes: [
        `The last block cost ${fixed(2)(last / first)}× the second (the first includes warm-up): a cost that grows with the ids dropped so far shows here as a ratio well above 1.`,
        'Ids stop piling up at 100 000 (the cap; the 120 s window would hold 120 000 at this rate), so from the fifth block on every publish also drops the oldest id.',
      ],
      data: { block: BLOCK, ratePerSecond: RATE_PER_MS * 1_000, blocks, perPublishUs: perPublish, growth: last / first },
    }
  },
}

export default scenario
