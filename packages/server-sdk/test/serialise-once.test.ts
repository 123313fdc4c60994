import { createLoopback, createParley, type ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Resources } from './helpers/fixtures.js'
import { LoopbackClient } from './helpers/loopback-client.js'

// A publish's payload is serialised once on the server's path: the size check's JSON text is reused by the adapter
// and spliced into the outgoing frame (it used to be serialised for the size check, again by middleware's check, and
// again for the frame). Counted by watching JSON.stringify for results that hold the payload's marker.

const resources = new Resources()
afterEach(() => {
  vi.restoreAllMocks()
  return resources.dispose()
})

async function setup(options: ServerOptions, withMiddleware: boolean): Promise<{ a: LoopbackClient; b: LoopbackClient }> {
  const parley = resources.add(createParley(options), (p) => p.close())
  if (withMiddleware) parley.use((_context, next) => next())
  await parley.ready
  const clients: LoopbackClient[] = []
  for (let i = 0; i < 2; i++) {
    const { connection, peer } = createLoopback()
    const client = new LoopbackClient(peer)
    resources.add(peer, (p) => p.close())
    await parley.accept(connection)
    await client.next('welcome')
    client.send({ type: 'join', room: 'once', id: `j${i}` })
    await client.next('joined')
    clients.push(client)
  }
  return { a: clients[0] as LoopbackClient, b: clients[1] as LoopbackClient }
}

describe.each([false, true])('a publish, with middleware: %s', (withMiddleware) => {
  it('serialises the payload once, and every member gets it intact', async () => {
    const { a, b } = await setup({}, withMiddleware)
    const marker = 'payload-marker-7f3a'
    const data = { text: marker, nested: { list: [1, 2, 3], ok: true, none: null } }
    // The client's own serialisation happens in send(), before the server sees the frame (on a later microtask).
    a.send({ type: 'publish', room: 'once', id: 'p1', data })
    const stringify = vi.spyOn(JSON, 'stringify')
    const atB = await b.next('message')
    const atA = await a.next('message')
    const withPayload = stringify.mock.results.filter((result) => typeof result.value === 'string' && result.value.includes(marker))
    stringify.mockRestore()
    expect(atB.data).toEqual(data)
    expect(atA.data).toEqual(data)
    expect(withPayload).toHaveLength(1)
  })
})
