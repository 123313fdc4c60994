import { createServer } from 'node:http'
import { attach, createParley, ParleyServerError, type ServerOptions } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'

// Fault 4 of the core review: every error the public API throws carries a stable code, as every error that reaches
// a client does. Calls on a closed instance reject with CLOSED; bad options and arguments are TypeErrors with the
// code INVALID_OPTION.

describe('errors thrown by the public API carry a code', () => {
  it('rejects room(), user(), rooms() and clusterStats() on a closed instance with ParleyServerError CLOSED', async () => {
    const parley = createParley()
    await parley.ready
    await parley.close()
    const calls: Array<() => Promise<unknown>> = [
      () => parley.room('r').publish({ n: 1 }),
      () => parley.room('r').members(),
      () => parley.user('u').send('hi'),
      () => parley.rooms(),
      () => parley.clusterStats(),
    ]
    for (const call of calls) {
      const error = await call().then(
        () => undefined,
        (thrown: unknown) => thrown,
      )
      expect(error).toBeInstanceOf(ParleyServerError)
      expect(error).toMatchObject({ code: 'CLOSED', wireCode: 'INTERNAL_ERROR', message: 'Parley is closed' })
    }
  })

  it('throws TypeErrors with code INVALID_OPTION for bad options, use(), attach() and a taken path', () => {
    const thrown = (run: () => unknown): unknown => {
      try {
        run()
      } catch (error) {
        return error
      }
      return undefined
    }
    const server = createServer()
    const first = attach(server)
    const cases: Array<() => unknown> = [
      () => createParley({ limits: { maxPayload: -1 } }),
      () => createParley({ nope: true } as ServerOptions),
      () => createParley().use('not a function' as never),
      () => attach({} as never),
      () => attach(server),
    ]
    for (const run of cases) {
      const error = thrown(run)
      expect(error).toBeInstanceOf(TypeError)
      expect(error).toMatchObject({ code: 'INVALID_OPTION' })
    }
    void first.close()
  })

  it('answers middleware that calls next() twice with INTERNAL_ERROR on the wire and MIDDLEWARE_NEXT_TWICE in the error event', async () => {
    const { createLoopback } = await import('@parley/server-sdk')
    const { LoopbackClient } = await import('./helpers/loopback-client.js')
    const parley = createParley()
    const errors: string[] = []
    parley.on('error', (error) => void errors.push(error.code))
    parley.use(async (_context, next) => {
      await next()
      await next()
    })
    await parley.ready
    const { connection, peer } = createLoopback()
    const client = new LoopbackClient(peer)
    await parley.accept(connection)
    await client.next('welcome')
    client.send({ type: 'join', room: 'r', id: 'j1' })
    await client.next('joined')
    expect(await client.next('error')).toMatchObject({ code: 'INTERNAL_ERROR', id: 'j1' })
    expect(errors).toEqual(['MIDDLEWARE_NEXT_TWICE'])
    peer.close()
    await parley.close()
  })
})
