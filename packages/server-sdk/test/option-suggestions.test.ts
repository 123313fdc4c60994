import { createServer as createNetServer } from 'node:net'
import { attach, createParley, type ServerOptions } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'

// Forgiving options: a typo at any level of the options is refused at once with the option most likely meant, and
// attach() refuses a server that speaks no HTTP.

function thrown(run: () => unknown): Error & { code?: string } {
  try {
    run()
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('nothing was thrown')
}

describe('unknown options', () => {
  it.each([
    [{ limits: { maxRoom: 5 } }, 'limits.maxRoom', 'limits.maxRooms'],
    [{ heartbeat: { interval: 1_000 } }, 'heartbeat.interval', 'heartbeat.intervalMs'],
    [{ pathh: '/x' }, 'pathh', 'path'],
    [{ authentificate: () => null }, 'authentificate', 'authenticate'],
    [{ limits: { rate: { messages: 5, perMS: 1_000 } } }, 'limits.rate.perMS', 'limits.rate.perMs'],
    [{ backpressure: { maxBufferBytes: 10 } }, 'backpressure.maxBufferBytes', 'backpressure.maxBufferedBytes'],
    [{ shutdown: { timeout: 5 } }, 'shutdown.timeout', 'shutdown.timeoutMs'],
  ] as Array<[object, string, string]>)('are refused with a suggestion: %o', (options, name, meant) => {
    const error = thrown(() => createParley(options as ServerOptions))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.code).toBe('INVALID_OPTION')
    expect(error.message).toContain(`unknown option "${name}"; did you mean "${meant}"?`)
  })

  it('are refused without a guess when nothing is close', () => {
    const error = thrown(() => createParley({ limits: { completelyDifferent: 1 } } as ServerOptions))
    expect(error.message).toContain('unknown option "limits.completelyDifferent"')
    expect(error.message).not.toContain('did you mean')
  })
})

describe('attach() on something that is not an http(s) server', () => {
  it('refuses a bare net.Server with a TypeError that says what to pass', () => {
    const error = thrown(() => attach(createNetServer() as never))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.code).toBe('INVALID_OPTION')
    expect(error.message).toContain('http.Server or https.Server')
  })
})
