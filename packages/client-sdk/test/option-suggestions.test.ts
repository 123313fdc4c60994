import { describe, expect, it } from 'vitest'
import { createClient, type ClientOptions } from '@parley/client-sdk'

// Forgiving options and loud URLs: a typo in the client's options is refused at createClient() with the option most
// likely meant; a URL without a ws(s):// or http(s):// scheme is refused with what to write instead.

describe('createClient() options', () => {
  it.each([
    [{ tokn: 'x' }, 'tokn', 'token'],
    [{ reconnect: { maxDelay: 5 } }, 'reconnect.maxDelay', 'reconnect.maxDelayMs'],
    [{ heartbeat: { intervalMS: 5 } }, 'heartbeat.intervalMS', 'heartbeat.intervalMs'],
    [{ ackTimeout: 5 }, 'ackTimeout', 'ackTimeoutMs'],
  ] as Array<[object, string, string]>)('refuses an unknown option with a suggestion: %o', (options, name, meant) => {
    expect(() => createClient('ws://127.0.0.1:1/parley', options as ClientOptions)).toThrowError(
      expect.objectContaining({ code: 'INVALID_OPTION', message: `Unknown option ${name}; did you mean ${meant}?` }) as Error,
    )
  })

  it.each(['localhost:3000/parley', '127.0.0.1:3000', 'ftp://example.com/parley', '/parley', 'not a url'])('refuses the URL %s, saying what to write', (url) => {
    expect(() => createClient(url)).toThrowError(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('ws://localhost:3000/parley') as string }) as Error)
  })

  it('takes http(s):// as the same server', async () => {
    const client = createClient('http://127.0.0.1:1/parley', { reconnect: false })
    expect(client.url).toBe('ws://127.0.0.1:1/parley')
    await client.close()
  })
})
