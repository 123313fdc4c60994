import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Validator } from '@seriousme/openapi-schema-validator'
import Ajv2020 from 'ajv/dist/2020.js'
import express from 'express'
import { encodeBinary } from '@parley/protocol'
import { createLoopback, createParley, OPENAPI_DOCUMENT, parleyApi, type Parley } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { Resources } from './helpers/fixtures.js'
import { LoopbackClient, openLoopback } from './helpers/loopback-client.js'

// The HTTP API for backends in any language: bearer keys (several, for rotation), JSON in and out, stable error
// codes, and an OpenAPI 3.1 document that is served, checked in, valid, and describes what the handler answers.

const resources = new Resources()
afterEach(() => resources.dispose())

const KEY = 'k-0123456789abcdef-one'
const NEXT_KEY = 'k-0123456789abcdef-two'

async function serve(parley: Parley, mount: 'express' | 'plain'): Promise<string> {
  const api = parleyApi(parley, { keys: [KEY, NEXT_KEY], maxBodyBytes: 4_096, ...(mount === 'plain' ? { basePath: '/parley-api' } : {}) })
  let server: Server
  if (mount === 'express') {
    const app = express()
    app.use('/parley-api', api)
    server = createServer(app)
  } else {
    server = createServer((request, response) => {
      if (request.url?.startsWith('/parley-api') === true) return api(request, response)
      response.statusCode = 404
      response.end()
    })
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  resources.add(server, (s) => new Promise<void>((resolve) => s.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/parley-api`
}

async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await response.text()
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: response.headers }
}

async function setup(mount: 'express' | 'plain' = 'express'): Promise<{ parley: Parley; url: string; bob: LoopbackClient; alice: LoopbackClient }> {
  const parley = resources.add(createParley({ authenticate: ({ token }) => (token === undefined ? null : { id: token }), presence: { graceMs: 0 } }), (p) => p.close())
  await parley.ready
  const tab = async (user: string): Promise<LoopbackClient> => {
    const client = await openLoopback(parley, { token: user }, ['team:42/general'])
    resources.add(client.peer, (p) => p.close())
    return client
  }
  const alice = await tab('alice')
  const bob = await tab('bob')
  return { parley, url: await serve(parley, mount), alice, bob }
}

const ROOM = encodeURIComponent('team:42/general')

/** Checks an answer against the response schema the OpenAPI document gives for that operation and status. */
function matchesDocument(path: string, method: 'get' | 'post', status: number, body: unknown): void {
  const ajv = new Ajv2020({ strict: false })
  ajv.addSchema({ $id: 'doc', components: OPENAPI_DOCUMENT.components })
  const operation = (OPENAPI_DOCUMENT.paths as unknown as Record<string, Record<string, { responses: Record<string, { content?: { 'application/json': { schema: object } }; $ref?: string }> }>>)[path]?.[method]
  let response = operation?.responses[String(status)]
  if (response?.$ref !== undefined) response = (OPENAPI_DOCUMENT.components.responses as unknown as Record<string, typeof response>)[response.$ref.split('/').at(-1) as string]
  const schema = response?.content?.['application/json'].schema
  expect(schema, `${method} ${path} ${status} is documented`).toBeDefined()
  const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')) as object
  const validate = ajv.compile(rewritten)
  expect(validate(body), `${method} ${path} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true)
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1, served at /openapi.json without a key, and checked in as docs/openapi.json', async () => {
    const validator = new Validator()
    const result = await validator.validate(structuredClone(OPENAPI_DOCUMENT) as unknown as Parameters<Validator['validate']>[0])
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([])
    expect(result.valid).toBe(true)
    const checkedIn = JSON.parse(readFileSync(fileURLToPath(new URL('../../../docs/openapi.json', import.meta.url)), 'utf8')) as unknown
    expect(checkedIn, 'docs/openapi.json is out of date: run npm run openapi').toEqual(OPENAPI_DOCUMENT)
    const { url } = await setup()
    const served = await call(url, 'GET', '/openapi.json', undefined, { authorization: '' })
    expect(served.status).toBe(200)
    expect(served.body).toEqual(OPENAPI_DOCUMENT)
  })
})

describe.each(['express', 'plain'] as const)('the HTTP API, mounted on %s', (mount) => {
  it('acts through every route, answering what the document describes', async () => {
    const { url, parley, alice, bob } = await setup(mount)
    const published = await call(url, 'POST', `/rooms/${ROOM}/publish`, { data: { text: 'from the backend' } })
    expect(published).toMatchObject({ status: 200, body: { seq: 1 } })
    matchesDocument('/rooms/{room}/publish', 'post', 200, published.body)
    expect(await alice.next('message')).toMatchObject({ from: null, data: { text: 'from the backend' } })

    const members = await call(url, 'GET', `/rooms/${ROOM}/members`)
    expect((members.body['members'] as Array<{ user: string }>).map((m) => m.user).sort()).toEqual(['alice', 'bob'])
    matchesDocument('/rooms/{room}/members', 'get', 200, members.body)

    // Bytes (protocol v2) go in and come out as base64, the text form.
    const withBytes = await call(url, 'POST', `/rooms/${ROOM}/publish`, { data: { kind: 'file' }, bytes: 'AAEC/w==' })
    expect(withBytes).toMatchObject({ status: 200, body: { seq: 2 } })
    expect([...((await alice.next('message')).bytes ?? [])]).toEqual([0, 1, 2, 255])

    // Bytes a v2 client published in a binary frame, and a Node Buffer from the server API: base64 in the page too.
    const { connection, peer } = createLoopback('parley.v2.json')
    resources.add(peer, (p) => p.close())
    const v2 = new LoopbackClient(peer)
    await parley.accept(connection, { token: 'carol' })
    await v2.next('welcome')
    v2.send({ type: 'join', room: 'team:42/general', id: 'j' })
    await v2.next('joined')
    peer.send(encodeBinary({ type: 'publish', room: 'team:42/general', id: 'b', data: 'binary', bytes: new Uint8Array([9, 8, 7]) }))
    await v2.next('ack')
    await parley.room('team:42/general').publish('buffer', { bytes: Buffer.from([6, 5]) })
    peer.close()
    for (let waited = 0; parley.stats().connections > 2 && waited < 2_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10))

    const history = await call(url, 'GET', `/rooms/${ROOM}/history?limit=10`)
    expect((history.body['messages'] as Array<{ bytes?: unknown }>).map((message) => message.bytes)).toEqual([undefined, 'AAEC/w==', 'CQgH', 'BgU='])
    matchesDocument('/rooms/{room}/history', 'get', 200, history.body)

    const rooms = await call(url, 'GET', '/rooms')
    expect(rooms.body).toEqual({ rooms: [{ room: 'team:42/general', members: 2 }] })
    matchesDocument('/rooms', 'get', 200, rooms.body)

    const stats = await call(url, 'GET', '/stats')
    matchesDocument('/stats', 'get', 200, stats.body)

    const broadcast = await call(url, 'POST', '/broadcast', { data: { notice: 'hi all' } })
    expect(broadcast.body).toMatchObject({ sessions: 2, missing: [] })
    matchesDocument('/broadcast', 'post', 200, broadcast.body)
    expect(await bob.next('direct')).toMatchObject({ data: { notice: 'hi all' } })

    const sent = await call(url, 'POST', '/users/bob/send', { data: 'just you' })
    expect(sent.body).toEqual({ sent: true })
    expect(await bob.next('direct')).toMatchObject({ data: 'just you' })

    const joined = await call(url, 'POST', '/users/alice/join', { room: 'news' })
    expect(joined.body).toMatchObject({ sessions: 1 })
    expect(await alice.next('joined')).toMatchObject({ room: 'news' })
    const left = await call(url, 'POST', '/users/alice/leave', { room: 'news' })
    expect(left.body).toMatchObject({ sessions: 1 })
    expect(await alice.next('left')).toMatchObject({ room: 'news', reason: 'unsubscribed' })

    const removed = await call(url, 'POST', `/rooms/${ROOM}/remove`, { user: 'bob', reason: 'kicked' })
    expect(removed.body).toMatchObject({ sessions: 1 })
    matchesDocument('/rooms/{room}/remove', 'post', 200, removed.body)
    expect(await bob.next('left')).toMatchObject({ room: 'team:42/general', reason: 'kicked' })

    // Unknown users and rooms are an answer, not an error.
    expect((await call(url, 'POST', '/users/nobody/disconnect', {})).body).toMatchObject({ sessions: 0 })
    expect((await call(url, 'GET', '/rooms/empty/members')).body).toEqual({ members: [] })

    const disconnected = await call(url, 'POST', '/users/bob/disconnect', { code: 4001, reason: 'bye' })
    expect(disconnected.body).toMatchObject({ sessions: 1 })
    matchesDocument('/users/{user}/disconnect', 'post', 200, disconnected.body)
    expect(await bob.closed).toEqual({ code: 4001, reason: 'bye' })
  })

  it('refuses a missing or wrong key with 401 and does nothing; accepts every key of the rotation', async () => {
    const { url, parley } = await setup(mount)
    for (const authorization of ['', 'Bearer', `Bearer ${KEY}x`, `Basic ${KEY}`, `Bearer ${KEY.slice(0, -1)}`]) {
      const refused = await call(url, 'POST', '/users/bob/disconnect', {}, { authorization })
      expect(refused.status, authorization).toBe(401)
      expect(refused.body).toMatchObject({ error: { code: 'UNAUTHORIZED' } })
      expect(refused.headers.get('www-authenticate')).toBe('Bearer')
      matchesDocument('/users/{user}/disconnect', 'post', 401, refused.body)
    }
    expect(parley.sessions()).toHaveLength(2)
    expect((await call(url, 'GET', '/rooms', undefined, { authorization: `Bearer ${NEXT_KEY}` })).status).toBe(200)
  })

  it('answers bad input with stable codes: 400 (naming the field), 404, 413, 415', async () => {
    const { url, parley } = await setup(mount)
    const cases: Array<[string, string, unknown, number, string, string?]> = [
      ['POST', `/rooms/${ROOM}/publish`, '{not json', 400, 'INVALID_JSON'],
      ['POST', `/rooms/${ROOM}/publish`, [1, 2], 400, 'INVALID_JSON'],
      ['POST', `/rooms/${ROOM}/publish`, {}, 400, 'INVALID_FIELD', 'data'],
      ['POST', `/rooms/${ROOM}/publish`, { data: 1, extra: true }, 400, 'INVALID_FIELD', 'extra'],
      ['POST', `/rooms/${ROOM}/publish`, { data: 1, bytes: 'not base64' }, 400, 'INVALID_FIELD', 'bytes'],
      ['POST', `/rooms/${ROOM}/publish`, { data: 1, bytes: [1, 2] }, 400, 'INVALID_FIELD', 'bytes'],
      ['POST', `/rooms/${encodeURIComponent('bad room!')}/publish`, { data: 1 }, 400, 'ROOM_NAME_INVALID'],
      ['POST', `/rooms/${ROOM}/remove`, { reason: 'x' }, 400, 'INVALID_FIELD', 'user'],
      ['POST', '/users/bob/disconnect', { code: 1006 }, 400, 'INVALID_FIELD'],
      ['POST', '/users/bob/disconnect', { code: 'x' }, 400, 'INVALID_FIELD', 'code'],
      ['POST', '/users/bob/join', { room: 5 }, 400, 'INVALID_FIELD', 'room'],
      ['GET', `/rooms/${ROOM}/history?limit=abc`, undefined, 400, 'INVALID_FIELD', 'limit'],
      ['GET', `/rooms/${ROOM}/history?limit=9999`, undefined, 400, 'INVALID_FIELD'],
      ['GET', '/nope', undefined, 404, 'NOT_FOUND'],
      ['DELETE', '/rooms', undefined, 404, 'NOT_FOUND'],
      ['POST', '/broadcast', { data: 'x'.repeat(5_000) }, 413, 'PAYLOAD_TOO_LARGE'],
    ]
    for (const [method, path, body, status, code, field] of cases) {
      const answer = await call(url, method, path, body)
      expect(answer.status, `${method} ${path}`).toBe(status)
      expect(answer.body, `${method} ${path}`).toMatchObject({ error: { code, ...(field === undefined ? {} : { field }) } })
    }
    const wrongType = await call(url, 'POST', '/broadcast', { data: 1 }, { 'content-type': 'text/plain' })
    if (mount === 'plain') expect(wrongType).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } })
    else expect([400, 415]).toContain(wrongType.status)
    // Nothing reached the room, and both sessions are still there.
    expect(parley.sessions()).toHaveLength(2)
    expect(await parley.room('team:42/general').history()).toEqual({ messages: [], more: false, gaps: [] })
  })
})

describe('parleyApi() options', () => {
  it('refuses to start without a key of at least 16 characters', () => {
    const parley = resources.add(createParley(), (p) => p.close())
    for (const options of [{}, { key: 'short' }, { keys: [] }, { keys: ['a'.repeat(16), 'b'] }]) {
      expect(() => parleyApi(parley, options)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }) as Error)
    }
  })
})
