import { isRetryableClose } from '@parley/protocol'
import { describe, expect, it } from 'vitest'
import {
  all,
  bufferedAmountOf,
  connectAnon,
  join,
  seqs,
  sessionOf,
  stall,
  unstall,
  useServers,
  waitUntil,
} from './helpers/harness.js'

const servers = useServers()
const maxBufferedBytes = 64 * 1024
const highWaterBytes = 16 * 1024
/** ~1 KB per message: loopback kernel buffers swallow a few MB before `bufferedAmount` grows at all. */
const pad = 'x'.repeat(1_000)

describe('backpressure', () => {
  it('cuts a stalled client with 4509 under the byte cap while the others get all 10 000 messages in order', async () => {
    const total = 10_000
    const { url, parley } = await servers.start({ backpressure: { maxBufferedBytes } })
    const disconnects: Array<{ session: string; code: number; reason: string }> = []
    parley.on('disconnect', (session, code, reason) => disconnects.push({ session: session.id, code, reason }))
    const healthy = [await connectAnon(url), await connectAnon(url)]
    for (const { client } of healthy) await join(client, 'lobby')
    const { client: stalled, user: stalledId } = await connectAnon(url)
    const joined = await join(stalled, 'lobby')
    const stalledSession = sessionOf({ parley }, stalledId)
    stall(stalled)

    let maxBuffered = 0
    let cutAfter = 0
    for (let i = 1; i <= total; i++) {
      await parley.room('lobby').publish({ i, pad })
      if (stalledSession.open) {
        maxBuffered = Math.max(maxBuffered, bufferedAmountOf(stalledSession))
        cutAfter = i
      }
      // Readers in this same process need turns of the event loop; the publisher waits for the healthy ones only.
      if (i % 500 === 0) await waitUntil(() => healthy.every(({ client }) => seqs(client, 'lobby').length === i), `healthy clients at ${i}`, 10_000, 1)
    }
    for (const { client } of healthy) {
      await waitUntil(() => seqs(client, 'lobby').length === total, 'all messages delivered', 10_000)
      const messages = all(client, 'message', 'lobby')
      expect(seqs(client, 'lobby')).toEqual(Array.from({ length: total }, (_, i) => i + 1))
      expect(messages.every((m) => (m.data as { i: number }).i === m.seq)).toBe(true)
    }
    // The stalled session was cut as a slow consumer, and its buffer never passed the cap.
    expect(stalledSession.open).toBe(false)
    expect(cutAfter).toBeLessThan(total)
    expect(maxBuffered).toBeGreaterThan(highWaterBytes)
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes)
    expect(parley.stats().slowConsumers).toBe(1)
    expect(parley.stats().dropped).toBeGreaterThanOrEqual(1)
    await waitUntil(() => disconnects.length === 1, 'the stalled session ended', 3_000)
    expect(disconnects).toEqual([{ session: stalledId, code: 4509, reason: expect.stringContaining('slow consumer') as unknown as string }])
    expect(parley.stats()).toMatchObject({ connections: 2, members: 2 })
    console.info(`[backpressure] stalled client cut after message ${cutAfter} of ${total}; max bufferedAmount ${maxBuffered} B (cap ${maxBufferedBytes} B); healthy clients got ${total}/${total}`)

    // It reads again and finds the connection gone (its close is retryable); it recovers what the window still has.
    unstall(stalled)
    const { code } = await stalled.closed
    expect(isRetryableClose(code)).toBe(true)
    const lastSeen = seqs(stalled, 'lobby').at(-1) ?? joined.seq
    expect(lastSeen).toBeLessThan(cutAfter)
    const { client: back } = await connectAnon(url)
    const rejoined = await join(back, 'lobby', { resume: { epoch: joined.epoch, seq: lastSeen } })
    expect(rejoined).toMatchObject({
      seq: total,
      recovery: { recovered: false, replayed: 100, gap: { reason: 'window-exceeded', from: lastSeen + 1, to: total - 100 } },
    })
    await waitUntil(() => seqs(back, 'lobby').length === 100, 'the kept tail replayed')
    expect(seqs(back, 'lobby')[0]).toBe(total - 99)
  }, 30_000)

  it('drops signals for a client past the high-water mark before any message, and counts them', async () => {
    const { url, parley } = await servers.start({ backpressure: { maxBufferedBytes, highWaterBytes } })
    const { client: slow, user: slowId } = await connectAnon(url)
    await join(slow, 'lobby')
    const slowSession = sessionOf({ parley }, slowId)
    stall(slow)
    // Fill the slow client's buffers until the server holds more than the high-water mark for it.
    let published = 0
    while (bufferedAmountOf(slowSession) <= highWaterBytes) {
      await parley.room('lobby').publish({ pad })
      if (++published % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
      if (published > 20_000) throw new Error('the stalled socket never filled')
    }
    expect(slowSession.open).toBe(true)
    const { client: typist } = await connectAnon(url)
    const { client: watcher } = await connectAnon(url)
    await join(typist, 'lobby')
    await join(watcher, 'lobby')
    const droppedBefore = parley.stats().dropped
    const bufferedBefore = bufferedAmountOf(slowSession)

    typist.send({ type: 'signal', room: 'lobby', key: 'typing', value: true })
    expect(await watcher.next('signal')).toMatchObject({ key: 'typing', value: true })
    expect(parley.stats().dropped).toBe(droppedBefore + 1)
    expect(bufferedAmountOf(slowSession)).toBe(bufferedBefore)
    expect(slowSession.open).toBe(true)

    // A message still goes out to it (queued, not dropped) while under the cap.
    await parley.room('lobby').publish({ pad })
    expect(bufferedAmountOf(slowSession)).toBeGreaterThan(bufferedBefore)
    expect(parley.stats().dropped).toBe(droppedBefore + 1)
    expect(parley.stats().slowConsumers).toBe(0)

    // Only past the cap is it cut.
    while (slowSession.open) {
      expect(bufferedAmountOf(slowSession)).toBeLessThanOrEqual(maxBufferedBytes)
      await parley.room('lobby').publish({ pad })
    }
    expect(parley.stats().slowConsumers).toBe(1)
  })

  it('keeps serving a client that reads slowly but keeps up', async () => {
    const { url, parley } = await servers.start({ backpressure: { maxBufferedBytes } })
    const { client } = await connectAnon(url)
    await join(client, 'lobby')
    stall(client)
    for (let i = 0; i < 500; i++) await parley.room('lobby').publish({ pad })
    // A pause shorter than what the kernel and the cap absorb costs nothing.
    unstall(client)
    await waitUntil(() => seqs(client, 'lobby').length === 500, 'all 500 read after the pause')
    expect(parley.stats()).toMatchObject({ slowConsumers: 0, dropped: 0, connections: 1 })
  })
})
