import { describe, expect, it } from 'vitest'
import { all, connectAnon, join, useServers } from './helpers/harness.js'

const servers = useServers()

describe('publish guards', () => {
  it('refuses data that re-encodes past maxPayload before it is sequenced, so the room keeps flowing', async () => {
    const { url } = await servers.start({ limits: { maxPayload: 400 } })
    const { client: alice } = await connectAnon(url)
    const { client: bob } = await connectAnon(url)
    await join(alice, 'lobby')
    await join(bob, 'lobby')
    // 40 × "1e20," is 200 characters on the wire, but JSON.stringify writes each as 21 digits: ~880 bytes.
    const frame = `{"type":"publish","room":"lobby","id":"big","data":[${Array.from({ length: 40 }, () => '1e20').join(',')}]}`
    expect(frame.length).toBeLessThan(400)
    alice.send(frame)
    expect(await alice.next('error')).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', id: 'big' })
    alice.send({ type: 'publish', room: 'lobby', id: 'ok', data: 'fine' })
    expect(await alice.next('ack')).toMatchObject({ id: 'ok', seq: 1 })
    expect(await bob.next('message')).toMatchObject({ seq: 1, data: 'fine' })
  })

  it('server-side publish applies the same rule', async () => {
    const { parley } = await servers.start({ limits: { maxPayload: 400 } })
    await expect(parley.room('lobby').publish(Array.from({ length: 40 }, () => 1e20))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
  })

  it('de-duplicates an anonymous user\'s retry after a reconnect (a new session, the same publish id)', async () => {
    const { url } = await servers.start()
    const { client: watcher } = await connectAnon(url)
    await join(watcher, 'lobby')
    const { client: first } = await connectAnon(url)
    await join(first, 'lobby')
    first.send({ type: 'publish', room: 'lobby', id: 'm-7f3a', data: 'once' })
    expect(await first.next('ack')).toMatchObject({ seq: 1 })
    first.ws.terminate()
    const { client: again } = await connectAnon(url)
    await join(again, 'lobby')
    again.send({ type: 'publish', room: 'lobby', id: 'm-7f3a', data: 'once' })
    expect(await again.next('ack')).toMatchObject({ seq: 1, duplicate: true })
    await watcher.quiet(50)
    expect(all(watcher, 'message').map((m) => m.data)).toEqual(['once'])
  })
})
