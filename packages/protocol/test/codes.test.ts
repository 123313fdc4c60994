import { describe, expect, it } from 'vitest'
import {
  CLOSE_CODES,
  CloseCode,
  ERROR_CODES,
  ERROR_CODE_LIST,
  ProtocolError,
  closeCodeInfo,
  decode,
  encode,
  isErrorCode,
  isRetryableClose,
  type ErrorCode,
  type Message,
} from '@parley/protocol'

const closeCodeMembers = Object.values(CloseCode).filter((value): value is CloseCode => typeof value === 'number')

describe('CloseCode table', () => {
  it('has exactly one row per enum member', () => {
    expect(closeCodeMembers.length).toBeGreaterThan(10)
    expect(CLOSE_CODES.map((row) => row.code).sort()).toEqual([...closeCodeMembers].sort())
  })

  it.each(closeCodeMembers.map((code) => [code, CloseCode[code]] as const))('%i (%s) has a named, described row', (code, name) => {
    const row = closeCodeInfo(code)
    expect(row).toBeDefined()
    expect(row?.code).toBe(code)
    expect(row?.name).toBe(name)
    expect(row?.description.length).toBeGreaterThan(5)
    expect(typeof row?.retryable).toBe('boolean')
  })

  it('uses RFC 6455 codes for wire faults and the 4000-4999 range for the application', () => {
    for (const code of closeCodeMembers) expect(code >= 1000 && code <= 1015 || (code >= 4000 && code <= 4999), String(code)).toBe(true)
  })

  it('knows nothing about codes it does not define', () => {
    expect(closeCodeInfo(4999)).toBeUndefined()
    expect(closeCodeInfo(1005)).toBeUndefined()
  })
})

describe('isRetryableClose', () => {
  it.each([
    [1000, false],
    [1001, true],
    [1002, false],
    [1003, false],
    [1006, true],
    [1007, false],
    [1008, false],
    [1009, false],
    [1011, true],
    [1012, true],
    [1013, true],
    [4400, false],
    [4401, false],
    [4403, false],
    [4406, false],
    [4408, true],
    [4409, false],
    [4419, true],
    [4429, true],
    [4500, true],
    [4509, true],
    // Codes outside the table: transient unless outside the close-code range altogether.
    [4999, true],
    [4000, true],
    [3000, true],
    [1005, true],
    [1014, true],
    [1015, true],
    [999, false],
    [0, false],
    [5000, false],
    [-1, false],
  ])('%i → %s', (code, retryable) => {
    expect(isRetryableClose(code)).toBe(retryable)
  })

  it('agrees with the table for every defined code', () => {
    for (const row of CLOSE_CODES) expect(isRetryableClose(row.code), String(row.code)).toBe(row.retryable)
  })

  it('treats every fatal code as something reconnecting would repeat', () => {
    const fatal = CLOSE_CODES.filter((row) => !row.retryable).map((row) => row.code)
    expect(fatal).toEqual(
      expect.arrayContaining([CloseCode.Normal, CloseCode.BadRequest, CloseCode.Unauthorized, CloseCode.UnsupportedVersion]),
    )
  })
})

describe('ErrorCode', () => {
  it('lists every code once, with a default message', () => {
    expect(new Set(ERROR_CODE_LIST).size).toBe(ERROR_CODE_LIST.length)
    expect([...ERROR_CODE_LIST].sort()).toEqual(Object.keys(ERROR_CODES).sort())
    for (const code of ERROR_CODE_LIST) {
      expect(ERROR_CODES[code].message.length, code).toBeGreaterThan(3)
      expect(code).toMatch(/^[A-Z][A-Z0-9_]{0,63}$/)
    }
  })

  it('maps wire faults to the RFC 6455 close code they cause', () => {
    expect(ERROR_CODES.INVALID_JSON.closeCode).toBe(CloseCode.InvalidPayload)
    expect(ERROR_CODES.INVALID_UNICODE.closeCode).toBe(CloseCode.InvalidPayload)
    expect(ERROR_CODES.UNSUPPORTED_DATA.closeCode).toBe(CloseCode.UnsupportedData)
    expect(ERROR_CODES.PAYLOAD_TOO_LARGE.closeCode).toBe(CloseCode.MessageTooBig)
    expect(ERROR_CODES.UNAUTHORIZED.closeCode).toBe(CloseCode.Unauthorized)
    for (const code of ERROR_CODE_LIST) {
      const closeCode = ERROR_CODES[code].closeCode
      if (closeCode !== undefined) expect(closeCodeInfo(closeCode), code).toBeDefined()
    }
  })

  it('recognises its own codes only', () => {
    for (const code of ERROR_CODE_LIST) expect(isErrorCode(code)).toBe(true)
    for (const other of ['NOPE', 'invalid_json', 'toString', '__proto__', 'constructor', '', 5, null, undefined, {}]) {
      expect(isErrorCode(other), String(other)).toBe(false)
    }
  })
})

describe('ProtocolError', () => {
  it.each(ERROR_CODE_LIST.map((code) => [code] as const))('%s: default message and close code', (code: ErrorCode) => {
    const error = new ProtocolError(code)
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('ProtocolError')
    expect(error.code).toBe(code)
    expect(error.message).toBe(ERROR_CODES[code].message)
    expect(error.closeCode).toBe(ERROR_CODES[code].closeCode)
    expect(error.details).toEqual({})
  })

  it('keeps a custom message and details', () => {
    const error = new ProtocolError('INVALID_FIELD', 'custom', { field: 'room', expected: 'x', received: 'y' })
    expect(error.message).toBe('custom')
    expect(error.details).toEqual({ field: 'room', expected: 'x', received: 'y' })
    expect(error.closeCode).toBeUndefined()
  })

  it('names the message type, field, expectation and what arrived when decode refuses a field', () => {
    const result = decode('{"type":"join","room":"general","id":"req-7","resume":{"epoch":"e1","seq":"5"}}', { from: 'client' })
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.error.code).toBe('INVALID_FIELD')
    expect(result.error.details).toEqual({
      messageType: 'join',
      field: 'resume.seq',
      expected: 'an integer from 0 to 9007199254740991',
      received: 'string "5"',
      id: 'req-7',
    })
    expect(result.error.message).toContain('join.resume.seq')
    expect(result.error.message).toContain('string "5"')
  })

  it('names the missing field, and the request id so an error can answer it', () => {
    const result = decode('{"type":"publish","room":"general","id":"msg-1"}', { from: 'client' })
    expect(result.ok ? undefined : result.error).toMatchObject({
      code: 'MISSING_FIELD',
      details: { messageType: 'publish', field: 'data', expected: 'present', received: 'nothing', id: 'msg-1' },
    })
  })

  it('leaves an unreadable id out of the details', () => {
    const result = decode('{"type":"publish","room":"general","id":"bad id","data":1}', { from: 'client' })
    expect(result.ok ? undefined : result.error.details).toEqual(
      expect.objectContaining({ field: 'id', received: 'string "bad id"' }),
    )
    expect(result.ok ? undefined : result.error.details).not.toHaveProperty('id')
  })

  it('names what arrived for an unknown type, truncating long strings', () => {
    const result = decode(JSON.stringify({ type: 'x'.repeat(100) }), { from: 'server' })
    expect(result.ok ? undefined : result.error).toMatchObject({ code: 'UNKNOWN_TYPE', details: { field: 'type' } })
    expect(result.ok ? '' : (result.error.details.received ?? '')).toMatch(/^string "x{40}…"$/)
  })

  it('carries the close code of the fault it reports', () => {
    const closeOf = (frame: unknown, limits?: { maxPayload: number }, version = 1): number | undefined => {
      const result = decode(frame, limits === undefined ? { from: 'client', version } : { from: 'client', limits, version })
      return result.ok ? -1 : result.error.closeCode
    }
    expect(closeOf('{')).toBe(1007)
    expect(closeOf('{"type":"ping","x":"\\ud800"}')).toBe(1007)
    expect(closeOf(new Uint8Array(1))).toBe(1003)
    expect(closeOf(new Uint8Array(1), undefined, 2)).toBe(1007)
    expect(closeOf(new Uint8Array(8), { maxPayload: 4 }, 2)).toBe(1009)
    expect(closeOf('{"type":"ping"}', { maxPayload: 4 })).toBe(1009)
    expect(closeOf('{"type":"nope"}')).toBeUndefined()
  })

  it('is what encode throws, naming the field', () => {
    let caught: unknown
    try {
      encode({ type: 'publish', room: 'bad room', data: 1 } satisfies Message)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ProtocolError)
    expect(caught).toMatchObject({ code: 'ROOM_NAME_INVALID', details: { messageType: 'publish', field: 'room', received: 'string "bad room"' } })
  })
})

describe('validateWith', () => {
  it('refuses a schema that answers with any thenable, not only a native Promise', async () => {
    const { validateWith } = await import('../src/contract.js')
    const thenable = { '~standard': { version: 1 as const, vendor: 'x', validate: () => ({ then: () => undefined }) as never } }
    expect(validateWith(thenable, 1)).toEqual({ issues: [{ path: '', message: 'the schema validates asynchronously; Parley needs a synchronous schema' }] })
  })
})
