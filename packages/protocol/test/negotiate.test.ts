import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  PROTOCOL_VERSION,
  SUBPROTOCOLS,
  SUBPROTOCOL_V1_JSON,
  TOKEN_SUBPROTOCOL_PREFIX,
  negotiate,
  parseSubprotocol,
  parseSubprotocolHeader,
} from '@parley/protocol'

describe('protocol constants', () => {
  it('speaks v2 and v1 over JSON, newest first, with the token prefix outside the subprotocol namespace', () => {
    expect(PROTOCOL_VERSION).toBe(2)
    expect(SUBPROTOCOL_V1_JSON).toBe('parley.v1.json')
    expect(SUBPROTOCOLS).toEqual(['parley.v2.json', 'parley.v1.json'])
    expect(TOKEN_SUBPROTOCOL_PREFIX).toBe('parley.token.')
    expect(parseSubprotocol(`${TOKEN_SUBPROTOCOL_PREFIX}v1.json`)).toBeUndefined()
  })
})

describe('parseSubprotocol', () => {
  it.each([
    ['parley.v1.json', 1, 'json'],
    ['parley.v2.msgpack', 2, 'msgpack'],
    ['parley.v999999.x', 999_999, 'x'],
    ['parley.v10.json-compact', 10, 'json-compact'],
  ])('parses %s', (name, version, encoding) => {
    expect(parseSubprotocol(name)).toEqual({ name, version, encoding })
  })

  it.each([
    '',
    'parley',
    'parley.v1',
    'parley.v0.json',
    'parley.v01.json',
    'parley.v1000000.json',
    'parley.v1.JSON',
    'PARLEY.V1.JSON',
    'parley.v1.json ',
    'parley.v1.1json',
    'parley.v1.json.extra',
    'parley.token.abc',
    'parley.token.v1.json',
    'graphql-transport-ws',
  ])('refuses %j', (name) => {
    expect(parseSubprotocol(name)).toBeUndefined()
  })
})

describe('negotiate', () => {
  const v = (n: number, encoding = 'json'): string => `parley.v${n}.${encoding}`

  it('agrees on v1 by default', () => {
    expect(negotiate(['parley.v1.json'])).toEqual({ ok: true, protocol: 'parley.v1.json', version: 1, encoding: 'json' })
  })

  it('picks the newest version both sides speak, whatever the offer order', () => {
    const supported = [v(3), v(2), v(1)]
    expect(negotiate([v(1), v(2)], supported)).toMatchObject({ ok: true, version: 2, protocol: v(2) })
    expect(negotiate([v(2), v(1)], supported)).toMatchObject({ ok: true, version: 2 })
    expect(negotiate([v(1), v(4), v(3)], supported)).toMatchObject({ ok: true, version: 3 })
    expect(negotiate([v(9), v(1)])).toMatchObject({ ok: true, version: 1, protocol: 'parley.v1.json' })
  })

  it('lets the client order decide the encoding among equal versions', () => {
    const supported = [v(1, 'json'), v(1, 'msgpack')]
    expect(negotiate([v(1, 'msgpack'), v(1, 'json')], supported)).toMatchObject({ ok: true, encoding: 'msgpack' })
    expect(negotiate([v(1, 'json'), v(1, 'msgpack')], supported)).toMatchObject({ ok: true, encoding: 'json' })
  })

  it('ignores token entries and junk', () => {
    const offered = ['parley.token.eyJhbGciOi.abc', '', '  ', 'chat', 'parley.v1', 'PARLEY.V1.JSON', ' parley.v1.json ']
    expect(negotiate(offered)).toEqual({ ok: true, protocol: 'parley.v1.json', version: 1, encoding: 'json' })
  })

  it('never selects a token entry, even one shaped like a subprotocol', () => {
    const result = negotiate(['parley.token.v1.json'], ['parley.token.v1.json', ...SUBPROTOCOLS])
    expect(result.ok).toBe(false)
  })

  it('returns the typed no-common-version result naming both lists', () => {
    const result = negotiate(['parley.token.secret', 'parley.v3.json', 'parley.v1.cbor', 'chat'])
    expect(result).toEqual({
      ok: false,
      reason: 'no-common-version',
      offered: ['parley.v3.json', 'parley.v1.cbor'],
      supported: ['parley.v2.json', 'parley.v1.json'],
    })
  })

  it('keeps tokens out of the failure report (it may be logged or sent back)', () => {
    const result = negotiate(['parley.token.s3cr3t'])
    expect(result).toEqual({ ok: false, reason: 'no-common-version', offered: [], supported: ['parley.v2.json', 'parley.v1.json'] })
    expect(JSON.stringify(result)).not.toContain('s3cr3t')
  })

  it('fails on an empty offer', () => {
    expect(negotiate([])).toMatchObject({ ok: false, reason: 'no-common-version', offered: [] })
  })

  it('fails when this side supports nothing', () => {
    expect(negotiate(['parley.v1.json'], [])).toEqual({ ok: false, reason: 'no-common-version', offered: ['parley.v1.json'], supported: [] })
  })

  it('does not hand out its own supported list for mutation', () => {
    const supported = ['parley.v1.json']
    const result = negotiate(['parley.v2.json'], supported)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.supported).not.toBe(supported)
  })

  it('never throws, and only ever selects an offered and supported entry', () => {
    const entry = fc.oneof(
      fc.string(),
      fc.tuple(fc.integer({ min: 0, max: 12 }), fc.constantFrom('json', 'msgpack', 'JSON', 'x')).map(([n, e]) => `parley.v${n}.${e}`),
      fc.string().map((token) => `parley.token.${token}`),
    )
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), fc.array(entry, { maxLength: 4 }), (offered, supported) => {
        const result = negotiate(offered, supported)
        if (result.ok) {
          expect(offered.map((o) => o.trim())).toContain(result.protocol)
          expect(supported).toContain(result.protocol)
          expect(result.protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX)).toBe(false)
          // Newest common: no common entry has a higher version.
          for (const o of offered) {
            const parsed = parseSubprotocol(o.trim())
            if (parsed !== undefined && supported.includes(parsed.name)) expect(parsed.version).toBeLessThanOrEqual(result.version)
          }
        } else {
          expect(result.reason).toBe('no-common-version')
          for (const o of result.offered) expect(parseSubprotocol(o)).toBeDefined()
          expect(result.supported).toEqual(supported)
        }
      }),
    )
  })
})

describe('parseSubprotocolHeader', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['parley.v1.json', ['parley.v1.json']],
    ['parley.v1.json, parley.token.abc', ['parley.v1.json', 'parley.token.abc']],
    ['  a ,b,   c  ', ['a', 'b', 'c']],
    [',, a,, ,', ['a']],
  ] as const)('splits %j', (header, entries) => {
    expect(parseSubprotocolHeader(header)).toEqual(entries)
  })

  it('feeds negotiate straight from the header', () => {
    const header = 'parley.token.eyJ0eXAiOiJKV1QifQ, parley.v1.json'
    expect(negotiate(parseSubprotocolHeader(header))).toMatchObject({ ok: true, protocol: 'parley.v1.json' })
  })
})
