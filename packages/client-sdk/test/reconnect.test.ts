import { CLOSE_CODES, CloseCode } from '@parley/protocol'
import { describe, expect, it } from 'vitest'
import { DEFAULTS, backoffDelayMs, decideReconnect, shouldReconnect } from '@parley/client-sdk'

const options = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, maxAttempts: Infinity }

describe('shouldReconnect', () => {
  it.each([
    CloseCode.GoingAway,
    CloseCode.Abnormal,
    CloseCode.InternalError,
    CloseCode.ServiceRestart,
    CloseCode.TryAgainLater,
    CloseCode.AuthenticationTimeout,
    CloseCode.TokenExpired,
    CloseCode.RateLimited,
    CloseCode.ServerError,
    CloseCode.SlowConsumer,
  ])('retries after %i', (code) => {
    expect(shouldReconnect(code)).toBe(true)
  })

  it.each([
    CloseCode.Normal,
    CloseCode.ProtocolError,
    CloseCode.UnsupportedData,
    CloseCode.InvalidPayload,
    CloseCode.PolicyViolation,
    CloseCode.MessageTooBig,
    CloseCode.BadRequest,
    CloseCode.Unauthorized,
    CloseCode.Forbidden,
    CloseCode.UnsupportedVersion,
    CloseCode.TooManyConnections,
  ])('never retries after %i', (code) => {
    expect(shouldReconnect(code)).toBe(false)
  })

  it('agrees with the protocol table for every code it defines', () => {
    for (const row of CLOSE_CODES) expect(shouldReconnect(row.code), `${row.code} ${row.name}`).toBe(row.retryable)
  })

  it('treats codes the table does not know as transient (a proxy or newer server may send them)', () => {
    expect(shouldReconnect(1005)).toBe(true)
    expect(shouldReconnect(1014)).toBe(true)
    expect(shouldReconnect(4999)).toBe(true)
  })
})

describe('backoffDelayMs (full jitter)', () => {
  it('is random() times the bound initialDelayMs × factor^(attempt-1)', () => {
    expect(backoffDelayMs(1, options, () => 0.5)).toBe(250)
    expect(backoffDelayMs(2, options, () => 0.5)).toBe(500)
    expect(backoffDelayMs(3, options, () => 0.5)).toBe(1_000)
    expect(backoffDelayMs(4, options, () => 0.25)).toBe(1_000)
  })

  it('stays within [0, bound] at the extremes of random()', () => {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const bound = Math.min(30_000, 500 * 2 ** (attempt - 1))
      expect(backoffDelayMs(attempt, options, () => 0)).toBe(0)
      expect(backoffDelayMs(attempt, options, () => 0.999_999)).toBeLessThan(bound)
      expect(backoffDelayMs(attempt, options, () => 0.999_999)).toBeGreaterThanOrEqual(Math.floor(bound * 0.999))
    }
  })

  it('never passes maxDelayMs, however many attempts', () => {
    expect(backoffDelayMs(50, options, () => 1)).toBe(30_000)
    expect(backoffDelayMs(1_000, options, () => 1)).toBe(30_000)
  })

  it('clamps a misbehaving random source into [0, 1]', () => {
    expect(backoffDelayMs(1, options, () => 7)).toBe(500)
    expect(backoffDelayMs(1, options, () => -1)).toBe(0)
  })

  it('spreads a crowd: 1000 real draws cover the range and stay in bounds', () => {
    const delays = Array.from({ length: 1_000 }, () => backoffDelayMs(3, options))
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...delays)).toBeLessThan(2_000)
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(1_000)
  })
})

describe('decideReconnect', () => {
  it('retries a transient close with the attempt number and its delay', () => {
    expect(decideReconnect(CloseCode.Abnormal, 3, options, () => 0.5)).toEqual({ retry: true, attempt: 3, delayMs: 1_000 })
  })

  it('stops for good after a fatal close', () => {
    expect(decideReconnect(CloseCode.Unauthorized, 1, options)).toEqual({ retry: false, reason: 'fatal-close' })
    expect(decideReconnect(CloseCode.UnsupportedVersion, 1, options)).toEqual({ retry: false, reason: 'fatal-close' })
  })

  it('stops when the attempts run out', () => {
    const limited = { ...options, maxAttempts: 2 }
    expect(decideReconnect(CloseCode.Abnormal, 2, limited, () => 0).retry).toBe(true)
    expect(decideReconnect(CloseCode.Abnormal, 3, limited, () => 0)).toEqual({ retry: false, reason: 'attempts-exhausted' })
  })

  it('has the documented defaults', () => {
    expect(DEFAULTS.reconnect).toEqual({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, maxAttempts: Infinity })
  })
})
