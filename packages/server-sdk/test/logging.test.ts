import { Writable } from 'node:stream'
import pino from 'pino'
import { createClient } from '@parley/client-sdk'
import type { Logger } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import { tryHandshake } from './helpers/fixtures.js'
import { connectAs, join, stall, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()
/** A token as an app would issue it: the test looks for it, and for its parts, in every line. */
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.s3cr3t-signature-value'
const GOOD = 'good-token-alice'

/** A real pino logger writing JSON lines into an array. */
function capture(level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const raw: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''))
      done()
    },
  })
  const logger = pino({ level }, stream)
  return {
    logger,
    get lines() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>)
    },
    text: () => raw.join('\n'),
  }
}

function expectNoSecret(text: string): void {
  for (const secret of [TOKEN, ...TOKEN.split('.'), GOOD]) expect(text).not.toContain(secret)
}

describe('structured logs through real pino', () => {
  it('an auth failure at the handshake (header, query, cookie) and in band is logged as auth.failed, with no token in any line', async () => {
    const log = capture()
    const { url } = await servers.start({
      logger: log.logger,
      authMode: 'handshake',
      authenticate: ({ token }) => (token === GOOD ? { id: 'alice' } : null),
    })
    expect(await tryHandshake(url, { headers: { authorization: `Bearer ${TOKEN}` } })).toMatchObject({ kind: 'http', status: 401 })
    expect(await tryHandshake(`${url}?token=${TOKEN}`)).toMatchObject({ kind: 'http', status: 401 })
    expect(await tryHandshake(url, { headers: { cookie: `parley_token=${TOKEN}` } })).toMatchObject({ kind: 'http', status: 401 })
    // A good connection, then a refresh with a bad token: refused in band, closed 4401.
    const alice = await connectAs(url, GOOD)
    alice.send({ type: 'authenticate', token: TOKEN, id: 'refresh' })
    await alice.next('error')
    await waitUntil(() => log.lines.filter((l) => l['event'] === 'auth.failed').length === 4, 'four auth failures logged')

    const failures = log.lines.filter((l) => l['event'] === 'auth.failed')
    expect(failures.slice(0, 3)).toEqual([1, 2, 3].map(() => expect.objectContaining({ level: 40, phase: 'handshake', code: 'UNAUTHORIZED', status: 401, transport: 'websocket', remoteAddress: expect.any(String) })))
    expect(failures[3]).toMatchObject({ level: 40, phase: 'refresh', user: 'alice', reason: 'no user', msg: expect.stringContaining('4401') })
    expect(log.lines.find((l) => l['event'] === 'connection.accepted')).toMatchObject({ level: 20, user: 'alice', transport: 'websocket', protocol: 'parley.v1.json' })
    expectNoSecret(log.text())
  })

  it('a slow-consumer cut-off is logged as session.slow-consumer with its buffer figures, and no token', async () => {
    const log = capture('info')
    const maxBufferedBytes = 64 * 1024
    const { url, parley } = await servers.start({ logger: log.logger, backpressure: { maxBufferedBytes }, authenticate: ({ token }) => (token === TOKEN ? { id: 'slowpoke' } : null) })
    const slow = await connectAs(url, TOKEN)
    await join(slow, 'firehose')
    const session = parley.sessions().find((candidate) => candidate.user.id === 'slowpoke')!
    stall(slow)
    const pad = 'x'.repeat(1_000)
    for (let i = 0; i < 20_000 && session.open; i++) await parley.room('firehose').publish({ i, pad })
    expect(session.open).toBe(false)
    await waitUntil(() => log.lines.some((l) => l['event'] === 'session.slow-consumer'), 'the cut-off logged')
    const line = log.lines.find((l) => l['event'] === 'session.slow-consumer')
    expect(line).toMatchObject({ level: 40, user: 'slowpoke', session: session.id, maxBufferedBytes, msg: expect.stringContaining('4509') })
    expect((line?.['bufferedBytes'] as number) + (line?.['heldBytes'] as number)).toBeGreaterThan(0)
    // Debug lines (connection.accepted) are below the level: nothing else was logged.
    expect(log.lines.map((l) => l['event'])).toEqual(['session.slow-consumer'])
    expectNoSecret(log.text())
  })

  it('the client SDK logs its connection life to pino: connected, reconnecting (the URL without its query), closed; no token', async () => {
    const log = capture()
    const { url, parley } = await servers.start({ authenticate: ({ token }) => (token === TOKEN ? { id: 'bot' } : null) })
    const client = createClient(`${url}?token=${TOKEN}`, { logger: log.logger, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } })
    await waitUntil(() => client.state === 'open', 'connected')
    for (const session of parley.sessions()) session.close(1012, 'restart')
    await waitUntil(() => log.lines.filter((l) => l['event'] === 'client.connected').length === 2, 'reconnected')
    await client.close()
    const events = log.lines.map((l) => l['event'])
    expect(events).toEqual(['client.transport', 'client.connected', 'client.reconnecting', 'client.connected', 'client.closed'])
    expect(log.lines[0]).toMatchObject({ level: 30, transport: 'websocket' })
    expect(log.lines[1]).toMatchObject({ level: 30, user: 'bot', url, protocol: 'parley.v2.json' })
    expect(log.lines[2]).toMatchObject({ level: 40, code: 1012, attempt: 1, url })
    expectNoSecret(log.text())
  })

  it('a logger that is not one is refused at creation, on both sides', async () => {
    await expect(servers.start({ logger: { info: () => undefined } as unknown as Logger })).rejects.toThrow(/logger/)
    expect(() => createClient('ws://127.0.0.1:1/parley', { logger: console.log as unknown as Logger })).toThrow(/logger/)
  })
})
