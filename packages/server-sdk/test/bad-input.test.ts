import type { ErrorCode } from '@parley/protocol'
import { describe, expect, it } from 'vitest'
import { loadVectors, type InvalidVector } from '../../protocol/test-vectors/index.js'
import type { RawClient } from './helpers/raw-client.js'
import { all, connectAnon, join, useServers, waitUntil } from './helpers/harness.js'

const servers = useServers()

/** Every invalid frame a client could send, from the protocol's shared vectors. */
const clientVectors = loadVectors().invalid.filter(
  (vector) => vector.from === 'client' && (vector.file === 'invalid-client.json' || vector.file === 'invalid-frame.json'),
)

/** Vectors whose fault only exists under a limit the server cannot be configured with (the decoder's maxDepth). */
const NOT_CONFIGURABLE = ['nesting-over-custom-limit', 'nesting-empty-array-counts', 'nesting-in-unknown-field']

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * The frame's bytes: UTF-8, except that a lone surrogate is written as its 3-byte (WTF-8) form, which is what a
 * careless client produces and what a WebSocket server must refuse as invalid UTF-8.
 */
function bytesOf(text: string): Buffer {
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i) as number
    if (cp > 0xffff) i++
    if (cp < 0x80) bytes.push(cp)
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f))
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f))
    else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f))
  }
  return Buffer.from(bytes)
}

/** What a live server must do with a vector: answer with an `error` of its code, or close with the code that fits. */
function expectationOf(vector: InvalidVector): { readonly close: number } | { readonly error: ErrorCode } {
  if (vector.binary === true) return { close: 1003 }
  if (vector.error === 'PAYLOAD_TOO_LARGE') return { close: 1009 }
  // Not representable as UTF-8: the WebSocket layer refuses the frame (RFC 6455 §8.1) before Parley sees it.
  if (LONE_SURROGATE.test(vector.frame)) return { close: 1007 }
  return { error: vector.error }
}

function sendVector(client: RawClient, vector: InvalidVector): void {
  if (vector.binary === true) client.ws.send(Buffer.from(vector.frame, 'base64'), { binary: true })
  else client.ws.send(bytesOf(vector.frame), { binary: false })
}

/**
 * Sends every vector to a live server from attacker sessions in room `general` while a publisher keeps publishing
 * there, and checks each answer; then checks that the observer (and the surviving attacker) got every message.
 */
async function attack(vectors: readonly InvalidVector[], maxPayload: number | undefined): Promise<number> {
  const server = await servers.start({
    limits: { ...(maxPayload === undefined ? {} : { maxPayload }), maxInvalidPerMinute: 10_000, rate: { messages: 10_000, perMs: 1_000 } },
  })
  const { client: observer } = await connectAnon(server.url)
  const { client: publisher } = await connectAnon(server.url)
  const { client: attacker } = await connectAnon(server.url)
  for (const client of [observer, publisher, attacker]) await join(client, 'general')
  let published = 0
  let closes = 0
  for (const vector of vectors) {
    const expected = expectationOf(vector)
    if ('close' in expected) {
      const { client: doomed } = await connectAnon(server.url)
      await join(doomed, 'general')
      sendVector(doomed, vector)
      const { code } = await doomed.closed
      expect(code, vector.name).toBe(expected.close)
      expect(all(doomed, 'error').map((e) => e.code), vector.name).toEqual([])
      closes++
    } else {
      sendVector(attacker, vector)
      const answer = await attacker.next('error').catch((error: Error) => {
        throw new Error(`${vector.name}: ${error.message}`)
      })
      expect(answer.code, vector.name).toBe(expected.error)
    }
    publisher.send({ type: 'publish', room: 'general', data: ++published })
  }
  await waitUntil(() => all(observer, 'message').length >= published && all(attacker, 'message').length >= published, 'everything delivered')
  const expectedData = Array.from({ length: published }, (_, i) => i + 1)
  for (const client of [observer, attacker]) {
    expect(all(client, 'message').map((m) => m.data)).toEqual(expectedData)
    expect(all(client, 'message').map((m) => m.seq)).toEqual(expectedData)
  }
  // The attacker session is still served, and nothing it sent was published.
  // (short enough for the 64-byte servers)
  attacker.send({ type: 'publish', room: 'general', id: 'ok', data: 0 })
  expect(await attacker.next('ack')).toMatchObject({ id: 'ok', seq: published + 1 })
  expect(server.parley.stats().connections).toBe(3)
  return closes
}

describe('bad input from the protocol test vectors, against a live server', () => {
  it('has client vectors to send (the vector files are loaded)', () => {
    expect(clientVectors.length).toBeGreaterThanOrEqual(100)
    const skipped = clientVectors.filter((v) => v.limits !== undefined && Object.keys(v.limits).some((key) => key !== 'maxPayload'))
    expect(skipped.map((v) => v.name).sort()).toEqual([...NOT_CONFIGURABLE].sort())
  })

  it('answers every invalid vector under the default limits with its error code or close code, losing nothing for others', async () => {
    const vectors = clientVectors.filter((v) => v.limits === undefined)
    const closes = await attack(vectors, undefined)
    // binary frames (1003) and the literal lone surrogate (1007) close; everything else is an error answer.
    expect(closes).toBe(vectors.filter((v) => 'close' in expectationOf(v)).length)
    expect(closes).toBeGreaterThanOrEqual(3)
  })

  const byPayload = new Map<number, InvalidVector[]>()
  for (const vector of clientVectors) {
    const limit = vector.limits?.maxPayload
    if (limit === undefined || NOT_CONFIGURABLE.includes(vector.name)) continue
    byPayload.set(limit, [...(byPayload.get(limit) ?? []), vector])
  }
  for (const [maxPayload, vectors] of byPayload) {
    it(`closes 1009 on the oversized vectors with limits.maxPayload ${maxPayload} (${vectors.map((v) => v.name).join(', ')})`, async () => {
      expect(vectors.every((v) => v.error === 'PAYLOAD_TOO_LARGE')).toBe(true)
      expect(await attack(vectors, maxPayload)).toBe(vectors.length)
    })
  }
})
