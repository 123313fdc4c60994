import { createMemoryHistory } from '@parley/server-sdk'
import { count, fixed } from '../lib/compare.js'
import type { Row, Scenario } from '../lib/scenario.js'

/**
 * The reference history store (`createMemoryHistory`, default 10 000 messages per room) taking a room's messages
 * one append at a time, past the point where the room is full and every append drops the oldest: microseconds per
 * append, in blocks. In this process, on a simulated clock; with and without `maxAgeMs` (whose check reads the
 * room's messages by `ts`, wherever they sit).
 */

const BLOCK = 10_000
const PER_ROOM = 10_000

async function appendsPerBlock(blocks: number, maxAgeMs: number | undefined): Promise<number[]> {
  let now = 1_000_000
  const store = createMemoryHistory({ maxPerRoom: PER_ROOM, maxAgeMs, now: () => now })
  const data = { text: 'hello everyone, how is it going?' }
  const dataJson = JSON.stringify(data)
  const perAppend: number[] = []
  let seq = 0
  for (let block = 0; block < blocks; block++) {
    const start = performance.now()
    for (let i = 0; i < BLOCK; i++) {
      now++
      seq++
      await store.append([{ room: 'r', epoch: 'e', seq, from: 'u', ts: now, data, dataJson }])
    }
    perAppend.push(((performance.now() - start) * 1_000) / BLOCK)
  }
  return perAppend
}

const scenario: Scenario = {
  name: 'memory-history',
  title: 'the reference history store: µs per append to one room, before and after it is full (10 000 messages)',
  async run({ quick, log }) {
    const blocks = quick ? 3 : 6
    log(`  ${blocks} blocks of ${count(BLOCK)} appends to one room, without and with maxAgeMs`)
    const plain = await appendsPerBlock(blocks, undefined)
    const aged = await appendsPerBlock(blocks, 3_600_000)
    const table: Row[] = plain.map((us, block) => ({
      appends: count((block + 1) * BLOCK),
      'room full': (block + 1) * BLOCK > PER_ROOM ? 'yes' : 'no',
      'µs/append': fixed(2)(us),
      'µs/append, maxAgeMs': fixed(2)(aged[block] ?? Number.NaN),
    }))
    return {
      table,
      notes: ['Once the room is full every append also drops its oldest message. maxAgeMs (an hour here) drops nothing, but its check reads every message of the room by `ts` on each append.'],
      data: { block: BLOCK, maxPerRoom: PER_ROOM, perAppendUs: plain, perAppendWithMaxAgeUs: aged },
    }
  },
}

export default scenario
