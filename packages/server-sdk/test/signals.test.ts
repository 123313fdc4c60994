import { describe, expect, it } from 'vitest'
import { all, connectAs, join, sleep, tokenAuth, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()

async function room(options: Parameters<typeof servers.start>[0] = {}) {
  const server = await servers.start({ authenticate: tokenAuth, ...options })
  const alice = await connectAs(server.url, 'alice')
  const aliceTab2 = await connectAs(server.url, 'alice')
  const bob = await connectAs(server.url, 'bob')
  for (const client of [alice, aliceTab2, bob]) await join(client, 'lobby')
  return { server, alice, aliceTab2, bob }
}

describe('signals', () => {
  it('peers receive { from, key, value, ttlMs }; the sender\'s own connections do not', async () => {
    const { alice, aliceTab2, bob } = await room()
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: true, ttlMs: 3_000 })
    expect(await bob.next('signal')).toEqual({ type: 'signal', room: 'lobby', from: 'alice', key: 'typing', value: true, ttlMs: 3_000 })
    await sleep(50)
    expect(all(alice, 'signal')).toEqual([])
    expect(all(aliceTab2, 'signal')).toEqual([])
  })

  it('uses the default TTL when the signal sets none', async () => {
    const { alice, bob } = await room({ signals: { defaultTtlMs: 1_234 } })
    alice.send({ type: 'signal', room: 'lobby', key: 'cursor', value: { x: 1, y: 2 } })
    expect(await bob.next('signal')).toMatchObject({ key: 'cursor', value: { x: 1, y: 2 }, ttlMs: 1_234 })
  })

  it('expires a signal not refreshed within its TTL: peers get value null, ttlMs 0', async () => {
    const { alice, bob } = await room()
    const sentAt = Date.now()
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: true, ttlMs: 200 })
    await bob.next('signal')
    const expired = await bob.next('signal', 2_000)
    const elapsed = Date.now() - sentAt
    expect(expired).toEqual({ type: 'signal', room: 'lobby', from: 'alice', key: 'typing', value: null, ttlMs: 0 })
    expect(elapsed).toBeGreaterThanOrEqual(190)
    expect(elapsed).toBeLessThan(700)
  })

  it('a refresh keeps the signal alive past its first TTL', async () => {
    const { alice, bob } = await room({ signals: { minIntervalMs: 0 } })
    for (let i = 0; i < 6; i++) {
      alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: true, ttlMs: 200 })
      await sleep(100)
    }
    // 600 ms of refreshes every 100 ms: never expired.
    expect(all(bob, 'signal').some((s) => s.value === null)).toBe(false)
    expect(all(bob, 'signal').length).toBeGreaterThanOrEqual(1)
    await waitUntil(() => all(bob, 'signal').some((s) => s.value === null), 'the expiry after refreshes stop', 1_000)
  })

  it('coalesces rapid changes of one key: the latest value arrives, in far fewer frames', async () => {
    const { alice, bob } = await room({ signals: { minIntervalMs: 200 } })
    for (let i = 1; i <= 10; i++) alice.send({ type: 'signal', room: 'lobby', key: 'cursor', value: i, ttlMs: 5_000 })
    await waitUntil(() => all(bob, 'signal').at(-1)?.value === 10, 'the latest value arrived', 2_000)
    await bob.quiet(300)
    const values = all(bob, 'signal').map((s) => s.value)
    expect(values.at(-1)).toBe(10)
    expect(values.length).toBeLessThanOrEqual(3)
    // Never out of order.
    expect([...values].sort((x, y) => (x as number) - (y as number))).toEqual(values)
  })

  it('value null clears at once, even inside the coalescing interval', async () => {
    const { alice, bob } = await room({ signals: { minIntervalMs: 10_000 } })
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: true, ttlMs: 5_000 })
    await bob.next('signal')
    const sentAt = Date.now()
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: null })
    expect(await bob.next('signal', 1_000)).toEqual({ type: 'signal', room: 'lobby', from: 'alice', key: 'typing', value: null, ttlMs: 0 })
    expect(Date.now() - sentAt).toBeLessThan(500)
  })

  it('keeps keys and users apart', async () => {
    const { alice, bob } = await room({ signals: { minIntervalMs: 0 } })
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: true })
    alice.send({ type: 'signal', room: 'lobby', key: 'cursor', value: 7 })
    bob.send({ type: 'signal', room: 'lobby', key: 'typing', value: false })
    await waitUntil(() => all(bob, 'signal').length === 2, 'bob got alice\'s two keys')
    await waitUntil(() => all(alice, 'signal').length === 1, 'alice got bob\'s key')
    expect(all(bob, 'signal').map((s) => [s.from, s.key, s.value])).toEqual([['alice', 'typing', true], ['alice', 'cursor', 7]])
    expect(all(alice, 'signal').map((s) => [s.from, s.key, s.value])).toEqual([['bob', 'typing', false]])
  })

  it('clears a leaving member\'s signals for the others', async () => {
    const { alice, bob } = await room()
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: true })
    await bob.next('signal')
    alice.send({ type: 'leave', room: 'lobby' })
    expect(await bob.next('signal', 1_000)).toMatchObject({ from: 'alice', key: 'typing', value: null, ttlMs: 0 })
  })

  it('refuses a signal to a room not joined with NOT_JOINED', async () => {
    const { server } = await room()
    const carol = await connectAs(server.url, 'carol')
    carol.send({ type: 'signal', room: 'lobby', key: 'typing', value: true })
    expect(await carol.next('error')).toMatchObject({ code: 'NOT_JOINED', room: 'lobby' })
  })

  it('never replays signals on a resume, while messages are', async () => {
    const { server, alice, bob } = await room()
    const carol = await connectAs(server.url, 'carol')
    const joined = await join(carol, 'lobby')
    carol.ws.terminate()
    await carol.closed
    alice.send({ type: 'signal', room: 'lobby', key: 'typing', value: true, ttlMs: 10_000 })
    alice.send({ type: 'publish', room: 'lobby', data: 'while away' })
    await bob.next('signal')
    await bob.next('message')
    const back = await connectAs(server.url, 'carol')
    const rejoined = await join(back, 'lobby', { resume: { epoch: joined.epoch, seq: joined.seq } })
    expect(rejoined.recovery).toEqual({ recovered: true, replayed: 1, gap: null })
    expect(await back.next('message')).toMatchObject({ seq: 1, data: 'while away' })
    await back.quiet(100)
    expect(all(back, 'signal')).toEqual([])
  })
})
