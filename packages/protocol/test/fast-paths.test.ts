import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, ID_PATTERN, ProtocolError, ROOM_NAME_PATTERN, resolveLimits, type ProtocolLimits } from '@parley/protocol'
import { isId, isRoomName, limitsFor } from '../src/limits.js'
import { checkTree, outgoingTreePasses, parsedFramePassesTreeCheck, validateShape, validateShapeByTable } from '../src/validate.js'

/**
 * The shortcuts decode and encode take on the hot path (bench/scenarios/protocol-decode.ts) must answer exactly as
 * the plain code they stand in for: the char tables as the patterns, limitsFor as resolveLimits, the frame-level
 * proof only where checkTree passes, and the hand-written publish/message validators as the field tables.
 */

const LIMIT_KEYS = ['maxPayload', 'maxRoomNameLength', 'maxIdLength', 'maxTokenLength', 'maxDepth'] as const

const piece = fc.constantFrom(
  'a', 'Z', '0', '_', '-', '.', ':', '/', '@', '#', '~', ' ', 'é', '日', '\ud83d\ude00', '\ud800', '\udc00',
  '"', '\\', '\\u', '__proto__', '{', '[',
)
const oddString = fc.oneof(fc.array(piece, { maxLength: 6 }).map((parts) => parts.join('')), fc.string({ maxLength: 8 }))

function outcome(result: unknown): unknown {
  if (result instanceof ProtocolError) {
    return { code: result.code, message: result.message, closeCode: result.closeCode, details: result.details }
  }
  // JSON text keeps key order, which toEqual ignores: the hot paths must build the same key order too.
  return { json: JSON.stringify(result), value: result }
}

describe('room name and id char tables', () => {
  it('agree with ROOM_NAME_PATTERN and ID_PATTERN on every UTF-16 unit, alone and next to a valid char', () => {
    for (let code = 0; code <= 0xffff; code++) {
      const unit = String.fromCharCode(code)
      for (const text of [unit, `a${unit}`, `${unit}a`]) {
        if (isRoomName(text) !== ROOM_NAME_PATTERN.test(text)) expect.fail(`isRoomName(${JSON.stringify(text)})`)
        if (isId(text) !== ID_PATTERN.test(text)) expect.fail(`isId(${JSON.stringify(text)})`)
      }
    }
    expect(isRoomName('')).toBe(false)
    expect(isId('')).toBe(false)
  })

  it('agree with the patterns on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(oddString, fc.string(), fc.string({ unit: 'binary' })), (text) => {
        expect(isRoomName(text)).toBe(ROOM_NAME_PATTERN.test(text))
        expect(isId(text)).toBe(ID_PATTERN.test(text))
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('limitsFor', () => {
  const cases: Array<Partial<ProtocolLimits> | undefined> = [
    undefined,
    {},
    { maxPayload: 10 },
    { maxDepth: 3, maxIdLength: 5, maxRoomNameLength: 6, maxTokenLength: 7, maxPayload: 8 },
    // What untyped callers can pass: explicit undefined (a spread copies it), extra keys, non-enumerable and
    // inherited properties (a spread skips both).
    { maxDepth: undefined } as unknown as Partial<ProtocolLimits>,
    { maxPayload: 5, extra: 1 } as Partial<ProtocolLimits>,
    Object.defineProperty({}, 'maxDepth', { value: 1, enumerable: false }) as Partial<ProtocolLimits>,
    Object.create({ maxDepth: 1, maxPayload: 2 }) as Partial<ProtocolLimits>,
  ]

  it.each(cases.map((limits) => [limits]))('reads the five limits as resolveLimits(%o) has them', (limits) => {
    const fast = limitsFor(limits)
    const reference = resolveLimits(limits)
    for (const key of LIMIT_KEYS) expect(fast[key], key).toBe(reference[key])
  })

  it('hands out nothing shared: DEFAULT_LIMITS stays as it was', () => {
    expect(limitsFor(undefined)).toEqual(DEFAULT_LIMITS)
    expect(limitsFor(undefined)).not.toBe(DEFAULT_LIMITS)
  })

  it.each(cases.map((limits) => [limits === undefined ? undefined : Object.freeze({ ...limits })]))(
    'reads a frozen %o as resolveLimits has it, every time, whatever was asked in between',
    (limits) => {
      const other = Object.freeze({ maxPayload: 77, maxDepth: 2 })
      for (let round = 0; round < 3; round++) {
        for (const asked of [limits, other, limits]) {
          const reference = resolveLimits(asked)
          for (const key of LIMIT_KEYS) expect(limitsFor(asked)[key], key).toBe(reference[key])
        }
      }
    },
  )

  it('reuses the merge of a frozen object, and never of one that can change', () => {
    const frozen = Object.freeze({ maxPayload: 10 })
    expect(limitsFor(frozen)).toBe(limitsFor(frozen))
    const open: { maxPayload: number } = { maxPayload: 10 }
    expect(limitsFor(open).maxPayload).toBe(10)
    open.maxPayload = 20
    expect(limitsFor(open).maxPayload).toBe(20)
    let calls = 0
    const getter = Object.freeze(Object.defineProperty({}, 'maxPayload', { get: () => ++calls * 100, enumerable: true })) as Partial<ProtocolLimits>
    expect(limitsFor(getter).maxPayload).toBe(100)
    expect(limitsFor(getter).maxPayload).toBe(200)
  })
})

describe('parsedFramePassesTreeCheck', () => {
  // JSON text built by hand, so raw lone surrogates, \u escapes, "__proto__" keys and deep nesting reach the parser.
  const { text } = fc.letrec<{ text: string; object: string; array: string }>((tie) => ({
    text: fc.oneof(
      { depthSize: 'small' },
      fc.oneof(oddString, fc.integer(), fc.boolean(), fc.constant(null)).map((value) => JSON.stringify(value)),
      tie('object'),
      tie('array'),
    ),
    object: fc
      .array(fc.tuple(fc.oneof(oddString, fc.constantFrom('__proto__', 'data', 'room')), tie('text')), { maxLength: 5 })
      .map((pairs) => `{${pairs.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`),
    array: fc.array(tie('text'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  }))
  const rewrite = fc.constantFrom(
    (frame: string) => frame,
    // Raw characters where JSON.stringify wrote escapes: raw lone surrogates.
    (frame: string) => frame.replace(/\\u([0-9a-fA-F]{4})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    // Escapes where there were plain characters: "\u005f_proto__" is a __proto__ key.
    (frame: string) => frame.replace(/_/g, '\\u005f'),
  )
  const nested = fc
    .tuple(fc.integer({ min: 1, max: 80 }), fc.constantFrom('[', '{"a":'))
    .map(([depth, open]) => `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`)
  const frames = fc.oneof(fc.tuple(text, rewrite).map(([frame, change]) => change(frame)), nested)

  it('passes a frame only when checkTree passes what it parses to', () => {
    fc.assert(
      fc.property(frames, fc.integer({ min: 0, max: 70 }), (frame, maxDepth) => {
        let parsed: unknown
        try {
          parsed = JSON.parse(frame)
        } catch {
          return
        }
        const limits = { ...DEFAULT_LIMITS, maxDepth }
        if (parsedFramePassesTreeCheck(frame, parsed, maxDepth)) expect(checkTree(parsed, limits)).toBeUndefined()
      }),
      { numRuns: 5_000 },
    )
  })

  it('passes the frames clients send every day, so decode takes the shortcut', () => {
    const frame = '{"type":"publish","room":"general","id":"m-1","data":{"text":"hello, \\"you\\"","mentions":["alice"]}}'
    expect(parsedFramePassesTreeCheck(frame, JSON.parse(frame), DEFAULT_LIMITS.maxDepth)).toBe(true)
    // ASCII-only encoders (Python's json.dumps by default) escape every non-ASCII character.
    const escaped = '{"type":"publish","room":"general","data":{"text":"caf\\u00e9 \\u65e5"}}'
    expect(parsedFramePassesTreeCheck(escaped, JSON.parse(escaped), DEFAULT_LIMITS.maxDepth)).toBe(true)
    const surrogate = '{"type":"publish","room":"general","data":{"text":"\\ud83d\\ude00"}}'
    expect(parsedFramePassesTreeCheck(surrogate, JSON.parse(surrogate), DEFAULT_LIMITS.maxDepth)).toBe(false)
  })

  it('gives up on deep trees without overflowing the stack', () => {
    const frame = `${'['.repeat(50_000)}${']'.repeat(50_000)}`
    expect(parsedFramePassesTreeCheck(frame, JSON.parse(frame), Number.MAX_SAFE_INTEGER)).toBe(false)
  })
})

describe('hot paths (publish from clients, message from servers)', () => {
  const PUBLISH = { type: 'publish', room: 'general', data: { text: 'hi', mentions: ['alice'] }, id: 'm-000123', echo: false }
  const MESSAGE = { type: 'message', room: 'general', seq: 123, epoch: 'e-7f3a9c', from: 'alice', ts: 1_732_240_000_000, data: { text: 'hi' } }
  const value = fc.oneof(
    oddString,
    fc.constantFrom<unknown>('general', 'm-1', '', 'r'.repeat(129), 'i'.repeat(65), 0, 1, -1, 1.5, 2 ** 53, Number.NaN, Infinity, true, null, undefined, [], {}),
  )
  const edit = fc.tuple(fc.constantFrom('room', 'data', 'id', 'echo', 'seq', 'epoch', 'from', 'ts', 'type', 'extra'), fc.option(value, { nil: Symbol.for('delete') }))
  const message = fc
    .tuple(fc.constantFrom<Record<string, unknown>>(PUBLISH, MESSAGE), fc.array(edit, { maxLength: 3 }), fc.constantFrom('plain', 'null-prototype', 'reversed'))
    .map(([template, edits, kind]) => {
      const fields: Record<string, unknown> = { ...template }
      for (const [key, change] of edits) {
        if (change === Symbol.for('delete')) delete fields[key]
        else fields[key] = change
      }
      const entries = Object.entries(fields)
      if (kind === 'reversed') entries.reverse()
      const out: Record<string, unknown> = kind === 'null-prototype' ? Object.create(null) : {}
      for (const [key, field] of entries) out[key] = field
      return out
    })
  const limits = fc.constantFrom<ProtocolLimits>(
    DEFAULT_LIMITS,
    { ...DEFAULT_LIMITS, maxRoomNameLength: 3, maxIdLength: 3 },
    { ...DEFAULT_LIMITS, maxRoomNameLength: Number.NaN, maxIdLength: undefined as unknown as number },
  )
  const direction = fc.constantFrom('client', 'server') as fc.Arbitrary<'client' | 'server'>

  const check = (): void => {
    fc.assert(
      fc.property(message, direction, limits, (candidate, from, chosen) => {
        expect(outcome(validateShape(candidate, from, chosen))).toEqual(outcome(validateShapeByTable(candidate, from, chosen)))
      }),
      { numRuns: 3_000 },
    )
  }

  const POLLUTION: ReadonlyArray<readonly [string, unknown]> = [
    ['room', 'general'],
    ['data', 1],
    ['id', 'm-1'],
    ['echo', true],
    ['seq', 1],
    ['epoch', 'e-1'],
    ['from', null],
    ['ts', 1],
  ]

  afterEach(() => {
    for (const [key] of POLLUTION) delete (Object.prototype as Record<string, unknown>)[key]
  })

  it('answer as the field tables do, valid or not, in key order too', check)

  it.each(POLLUTION)('answer as the field tables do when Object.prototype.%s is set', (key, polluted) => {
    // Inherited fields are absent to the tables; the hot paths must not take them for own ones.
    Object.defineProperty(Object.prototype, key, { value: polluted, configurable: true, writable: true })
    check()
  })
})

describe('outgoingTreePasses (encode\'s tree check without allocating)', () => {
  class Point {
    x = 1
  }
  // Values built in code, not parsed: everything JSON.stringify would drop, mangle or refuse, among JSON values.
  const odd = fc.constantFrom<unknown>(
    undefined, Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308, 10n, Symbol('s'), () => 1, new Date(0), new Map(), new Point(),
    Object.create(null) as object, JSON.parse('{"__proto__":1}') as object, [undefined], [, 1], '\ud800', 'é', '\ud83d\ude00',
  )
  const { value } = fc.letrec<{ value: unknown; object: unknown; array: unknown }>((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, oddString, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), odd, tie('object'), tie('array')),
    object: fc
      .array(fc.tuple(fc.oneof(oddString, fc.constantFrom('__proto__', 'data', '\udc00')), tie('value')), { maxLength: 5 })
      .map((pairs) => {
        const object: Record<string, unknown> = {}
        for (const [key, item] of pairs) Object.defineProperty(object, key, { value: item, enumerable: true, writable: true, configurable: true })
        return object
      }),
    array: fc.array(tie('value'), { maxLength: 4 }),
  }))
  const nested = fc
    .tuple(fc.integer({ min: 1, max: 80 }), fc.boolean())
    .map(([depth, arrays]) => {
      let tree: unknown = 1
      for (let i = 0; i < depth; i++) tree = arrays ? [tree] : { a: tree }
      return tree
    })

  it('says yes exactly when checkTree finds nothing, for any value and maxDepth', () => {
    fc.assert(
      fc.property(fc.oneof(value, nested), fc.integer({ min: 0, max: 70 }), (tree, maxDepth) => {
        const limits = { ...DEFAULT_LIMITS, maxDepth }
        const found = checkTree(tree, limits, true)
        // Never more lenient than checkTree; stricter only past its recursion cap, where checkTree then decides.
        if (outgoingTreePasses(tree, 1, maxDepth)) expect(found).toBeUndefined()
        else if (!deeperThanRecursion(tree)) expect(found).toBeInstanceOf(ProtocolError)
      }),
      { numRuns: 5_000 },
    )
  })

  it('passes the messages a server sends every day, and gives up on deep trees without overflowing the stack', () => {
    const message = { type: 'message', room: 'general', seq: 7, epoch: 'e1', from: 'alice', ts: 1, data: { text: 'hi', mentions: ['bob'], n: 1.5 } }
    expect(outgoingTreePasses(message, 1, DEFAULT_LIMITS.maxDepth)).toBe(true)
    let deep: unknown = 1
    for (let i = 0; i < 50_000; i++) deep = [deep]
    expect(outgoingTreePasses(deep, 1, Number.MAX_SAFE_INTEGER)).toBe(false)
  })
})

/** Whether a tree nests past the fast check's recursion cap (64), where it says no and leaves checkTree to decide. */
function deeperThanRecursion(tree: unknown, depth = 1): boolean {
  if (typeof tree !== 'object' || tree === null) return false
  if (depth > 64) return true
  return Object.values(tree).some((item) => deeperThanRecursion(item, depth + 1))
}
