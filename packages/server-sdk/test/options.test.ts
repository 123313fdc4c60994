import { createServer, type Server } from 'node:http'
import { attach, type Parley, type ServerOptions } from '@parley/server-sdk'
import express from 'express'
import Koa from 'koa'
import { afterEach, describe, expect, it } from 'vitest'
import { closeServer, listen, Resources, track } from './helpers/fixtures.js'
import { connect } from './helpers/raw-client.js'

const resources = new Resources()
afterEach(() => resources.dispose())

function newServer(): Server {
  return resources.add(track(createServer()), closeServer)
}

/** Attaches bad options and returns what was thrown (failing the test when nothing was). */
function thrownBy(server: unknown, options: unknown): Error {
  let parley: Parley | undefined
  try {
    parley = attach(server as Server, options as ServerOptions)
  } catch (error) {
    return error as Error
  }
  resources.add(parley, (p) => p.close())
  throw new Error(`attach() accepted ${JSON.stringify(options)}`)
}

describe('attach() checks its options at once', () => {
  // Each case: the options, and the option name the message must contain (quoted, as the message quotes it).
  const cases: Array<[string, unknown, string]> = [
    ['a path without a leading slash', { path: 'parley' }, '"path"'],
    ['a path with a query', { path: '/parley?x=1' }, '"path"'],
    ['a negative heartbeat.intervalMs', { heartbeat: { intervalMs: -1 } }, '"heartbeat.intervalMs"'],
    ['a fractional heartbeat.timeoutMs', { heartbeat: { timeoutMs: 1.5 } }, '"heartbeat.timeoutMs"'],
    ['an unknown option', { pathh: '/parley' }, '"pathh"'],
    ['authMode first-message without authenticate', { authMode: 'first-message' }, '"authenticate"'],
    ['an unknown authMode', { authMode: 'cookie' }, '"authMode"'],
    ['highWaterBytes above maxBufferedBytes', { backpressure: { maxBufferedBytes: 1_000, highWaterBytes: 2_000 } }, '"backpressure.highWaterBytes"'],
    ['a zero limits.maxPayload', { limits: { maxPayload: 0 } }, '"limits.maxPayload"'],
    ['a rate without perMs', { limits: { rate: { messages: 5 } } }, '"limits.rate.perMs"'],
    ['a string authTimeoutMs', { authTimeoutMs: '100' }, '"authTimeoutMs"'],
    ['origins as a string', { origins: 'https://app.example' }, '"origins"'],
    ['authenticate as a string', { authenticate: 'jwt' }, '"authenticate"'],
    ['authorize as an object', { authorize: {} }, '"authorize"'],
    ['an empty tokenCookie', { tokenCookie: '' }, '"tokenCookie"'],
    ['a logger without error()', { logger: { debug() {}, info() {}, warn() {} } }, '"logger"'],
    ['heartbeat as a number', { heartbeat: 1_000 }, '"heartbeat"'],
  ]

  it.each(cases)('throws a TypeError naming the option for %s, and leaves the server untouched', (_name, options, named) => {
    const server = newServer()
    const before = server.listenerCount('upgrade')
    const error = thrownBy(server, options)
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toContain(named)
    expect(server.listenerCount('upgrade')).toBe(before)
  })

  it('throws when the first argument is not an http server (nothing, an object, an Express app, a Koa app)', () => {
    for (const notAServer of [undefined, null, {}, { on() {}, listenerCount: () => 0 }, express(), new Koa()]) {
      const error = thrownBy(notAServer, {})
      expect(error).toBeInstanceOf(TypeError)
      expect(error.message).toContain('http.Server')
    }
  })

  it('throws when another Parley instance already serves the path on that server, and the first keeps working', async () => {
    const server = newServer()
    const first = resources.add(attach(server, { path: '/rt' }), (p) => p.close())
    const error = thrownBy(server, { path: '/rt' })
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toContain('"path"')
    expect(server.listenerCount('upgrade')).toBe(1)

    const port = await listen(server)
    const raw = resources.add(await connect(`ws://127.0.0.1:${port}/rt`), (c) => c.ws.terminate())
    await raw.next('welcome')
    expect(first.stats().connections).toBe(1)
  })

  it('accepts the same options on another server, and the same server with another path', () => {
    const server = newServer()
    resources.add(attach(server, { path: '/a' }), (p) => p.close())
    resources.add(attach(server, { path: '/b' }), (p) => p.close())
    resources.add(attach(newServer(), { path: '/a' }), (p) => p.close())
    expect(server.listenerCount('upgrade')).toBe(2)
  })
})

describe('resolved options reach the wire', () => {
  it('announces the configured heartbeat and limits in welcome, on the configured path', async () => {
    const server = newServer()
    const parley = resources.add(
      attach(server, {
        path: '/custom/rt',
        heartbeat: { intervalMs: 1_500, timeoutMs: 700 },
        limits: { maxPayload: 4_096, maxRooms: 3, rate: { messages: 7, perMs: 2_000 } },
      }),
      (p) => p.close(),
    )
    expect(parley.options.path).toBe('/custom/rt')
    const port = await listen(server)
    const raw = resources.add(await connect(`ws://127.0.0.1:${port}/custom/rt`), (c) => c.ws.terminate())
    const welcome = await raw.next('welcome')
    expect(welcome.heartbeat).toEqual({ intervalMs: 1_500, timeoutMs: 700 })
    expect(welcome.limits).toEqual({ maxPayload: 4_096, maxRooms: 3, rate: { messages: 7, perMs: 2_000 } })
  })

  it('uses the documented defaults when nothing is given', async () => {
    const server = newServer()
    const parley = resources.add(attach(server), (p) => p.close())
    expect(parley.options.path).toBe('/parley')
    expect(parley.options.authMode).toBe('handshake')
    expect(parley.options.tokenCookie).toBe('parley_token')
    expect(parley.options.backpressure).toEqual({ maxBufferedBytes: 1_048_576, highWaterBytes: 262_144 })
    const port = await listen(server)
    const raw = resources.add(await connect(`ws://127.0.0.1:${port}/parley`), (c) => c.ws.terminate())
    const welcome = await raw.next('welcome')
    expect(welcome.heartbeat).toEqual({ intervalMs: 25_000, timeoutMs: 20_000 })
    expect(welcome.limits).toEqual({ maxPayload: 65_536, maxRooms: 100, rate: { messages: 50, perMs: 1_000 } })
  })
})
