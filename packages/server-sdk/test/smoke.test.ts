import { afterEach, describe, expect, it } from 'vitest'
import { connect } from './helpers/raw-client.js'
import { startServer, type TestServer } from './helpers/start-server.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.stop()
  server = undefined
})

describe('attach() smoke', () => {
  it('welcomes, joins, publishes with ack, and fans out to another member', async () => {
    server = await startServer()
    const a = await connect(server.url)
    const b = await connect(server.url)
    const welcome = await a.next('welcome')
    expect(welcome.protocol).toBe('parley.v1.json')
    await b.next('welcome')
    a.send({ type: 'join', room: 'general', id: 'j1' })
    const joinedA = await a.next('joined')
    expect(joinedA.members.map((m) => m.user)).toEqual([welcome.user])
    b.send({ type: 'join', room: 'general', id: 'j2' })
    await b.next('joined')
    a.send({ type: 'publish', room: 'general', id: 'p1', data: { text: 'hi' } })
    const ack = await a.next('ack')
    expect(ack).toMatchObject({ id: 'p1', room: 'general', seq: 1 })
    const got = await b.next('message')
    expect(got).toMatchObject({ room: 'general', seq: 1, from: welcome.user, data: { text: 'hi' } })
    a.close()
    b.close()
  })
})
