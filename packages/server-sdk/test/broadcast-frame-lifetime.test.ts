import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createLoopback, createParley, type Connection, type Parley } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { LoopbackClient, openLoopback } from './helpers/loopback-client.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const instances: Parley[] = []
afterEach(async () => {
  await Promise.all(instances.splice(0).map((parley) => parley.close()))
})

/**
 * A room message's encoded frame is shared by every member it is broadcast to, and then let go: it is not kept for
 * as long as the message stays in the room's history (issue 20). Kept, every frame lived as long as its message
 * (100 per room by default), was promoted to the old generation with it, and tripled what each scavenge promoted at
 * 5 000 messages a second (docs/benchmarks.md, "Calm chat").
 */
describe('a broadcast frame outlives its fan-out only while a member still holds it', () => {
  it('is collected once delivered, while its message stays in history for a replay', async () => {
    const parley = createParley({ authenticate: ({ token }) => (token === undefined ? null : { id: token }) })
    instances.push(parley)
    await parley.ready
    // The member's connection reports each room message frame the hub hands it to a finalization registry.
    const collected = new Set<number>()
    const registry = new FinalizationRegistry<number>((seq) => collected.add(seq))
    const { connection, peer } = createLoopback()
    const watched: Connection = {
      ...connection,
      get bufferedAmount() {
        return connection.bufferedAmount
      },
      send(frame) {
        const seq = /"type":"message".*"seq":(\d+)/.exec(frame.text)?.[1]
        if (seq !== undefined) registry.register(frame, Number(seq))
        connection.send(frame)
      },
    }
    const member = new LoopbackClient(peer)
    await parley.accept(watched, { token: 'member' })
    await member.next('welcome')
    member.send({ type: 'join', room: 'lobby', id: 'j' })
    const joined = await member.next('joined')
    const publisher = await openLoopback(parley, { token: 'publisher' }, ['lobby'])
    for (let i = 1; i <= 5; i++) publisher.send({ type: 'publish', room: 'lobby', data: { i } })
    for (let i = 1; i <= 5; i++) expect((await member.next('message')).seq).toBe(i)
    for (let round = 0; round < 20 && collected.size < 5; round++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect([...collected].sort()).toEqual([1, 2, 3, 4, 5])
    // The messages themselves are still there: a late joiner resuming from the start gets all five.
    const late = await openLoopback(parley, { token: 'late' })
    late.send({ type: 'join', room: 'lobby', id: 'r', resume: { epoch: joined.epoch, seq: 0 } })
    expect((await late.next('joined')).recovery).toEqual({ recovered: true, replayed: 5, gap: null })
    for (let i = 1; i <= 5; i++) expect((await late.next('message')).data).toEqual({ i })
  })
})
