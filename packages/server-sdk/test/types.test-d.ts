/**
 * Type tests for the public API of `@parley/server-sdk` (exactly what src/index.ts exports): checked by
 * `tsc --noEmit` (the root tsconfig includes packages/*\/test/**\/*.ts), never executed, since the name does not
 * match vitest's `*.test.ts` include. Each `@ts-expect-error` line must stay an error: if it ever compiles, tsc
 * reports the directive as unused.
 */
import { createServer as createHttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { ClientMessage, ErrorCode, Gap, JsonValue, ResumePoint, RoomMessage } from '@parley/protocol'
import type { Express } from 'express'
import { describe, expectTypeOf, it } from 'vitest'
import {
  Parley,
  ParleyServerError,
  SILENT_LOGGER,
  attach,
  createLoopback,
  createParley,
  gapAfter,
  limitCloseReason,
  randomId,
  replayStart,
  resumeResult,
  type AuthenticateContext,
  type Connection,
  type Handshake,
  type HandshakeRequest,
  type Logger,
  type LoopbackPeer,
  type Middleware,
  type MiddlewareContext,
  type ParleySession,
  type ParleyStats,
  type PublishRequest,
  type PublishResult,
  type Refusal,
  type ResumeResult,
  type RoomHead,
  type ServerErrorCode,
  type ServerOptions,
  type ServerUser,
} from '@parley/server-sdk'

describe('server-sdk types', () => {
  // attach() takes a node http/https server, never an app or a look-alike object.
  it('attaches to http and https servers only', () => {
    expectTypeOf(attach(createHttpServer(), {})).toEqualTypeOf<Parley>()
    expectTypeOf(attach(createHttpsServer())).toEqualTypeOf<Parley>()
    expectTypeOf(createParley()).toEqualTypeOf<Parley>()
    const app = null as unknown as Express
    // @ts-expect-error a plain object is not a server
    attach({}, {})
    // @ts-expect-error an Express app is a request handler, not the server app.listen() returns
    attach(app)
  })

  // ServerOptions: the hook contexts are plain data, and the unions accept exactly what the docs promise.
  it('types the options', () => {
    const authenticate: NonNullable<ServerOptions['authenticate']> = async (context) => {
      expectTypeOf(context).toEqualTypeOf<AuthenticateContext>()
      expectTypeOf(context.request).toEqualTypeOf<HandshakeRequest | undefined>()
      expectTypeOf(context.token).toEqualTypeOf<string | undefined>()
      expectTypeOf(context.request?.url).toEqualTypeOf<string | undefined>()
      expectTypeOf(context.request?.remoteAddress).toEqualTypeOf<string | undefined>()
      expectTypeOf(context.request?.headers['cookie']).toEqualTypeOf<string | readonly string[] | undefined>()
      // @ts-expect-error the request is plain data, not node's IncomingMessage
      void context.request?.socket
      return context.token === undefined ? null : { id: context.token, role: 'admin' }
    }
    expectTypeOf<NonNullable<ServerOptions['authenticate']>>().returns.toEqualTypeOf<ServerUser | null | Promise<ServerUser | null>>()
    const server = createHttpServer()
    attach(server, { authenticate, origins: ['https://app.example'], tokenCookie: 'session' })
    attach(server, { authenticate: () => null, origins: (origin) => origin.endsWith('.example'), tokenCookie: false })
    attach(server, { authenticate: (): ServerUser => ({ id: 'u1', expiresAt: 1 }), origins: '*' })
    // @ts-expect-error authenticate answers with a user or null, never undefined
    attach(server, { authenticate: () => undefined })
    // @ts-expect-error '*' is the only string origins takes
    attach(server, { origins: 'any' })
    // @ts-expect-error tokenCookie is a cookie name or false
    attach(server, { tokenCookie: true })
    // @ts-expect-error unknown option
    attach(server, { port: 8080 })
    // @ts-expect-error unknown option in a section
    createParley({ limits: { maxMessages: 10 } })
  })

  // Parley: typed events, server-side handles, accept(), stats and close.
  it('types the instance', async () => {
    const parley = createParley()
    parley.on('connection', (session) => expectTypeOf(session).toEqualTypeOf<ParleySession>())
    parley.on('disconnect', (session, code, reason) => {
      expectTypeOf(session).toEqualTypeOf<ParleySession>()
      expectTypeOf(code).toEqualTypeOf<number>()
      expectTypeOf(reason).toEqualTypeOf<string>()
    })
    parley.on('error', (error, session) => {
      expectTypeOf(error).toEqualTypeOf<ParleyServerError>()
      expectTypeOf(session).toEqualTypeOf<ParleySession | undefined>()
    })
    expectTypeOf(parley.on('join', () => undefined)).toEqualTypeOf<Parley>()
    // @ts-expect-error not an event of Parley
    parley.on('message', () => undefined)
    // @ts-expect-error disconnect carries a numeric close code
    parley.on('disconnect', (_session: ParleySession, code: string) => code)

    expectTypeOf(parley.room('general').publish({ text: 'hi', tags: ['a'], n: null })).toEqualTypeOf<Promise<{ seq: number; epoch: string }>>()
    expectTypeOf(parley.user('u1').send('hello')).toEqualTypeOf<Promise<void>>()
    // @ts-expect-error functions are not JSON
    void parley.room('general').publish(() => 1)
    // @ts-expect-error undefined is not JSON
    void parley.room('general').publish(undefined)
    // @ts-expect-error a Date is not JSON (serialise it first)
    void parley.room('general').publish({ at: new Date() })
    // @ts-expect-error bigint is not JSON
    void parley.user('u1').send(1n)

    const { connection, peer } = createLoopback()
    expectTypeOf(parley.accept(connection)).toEqualTypeOf<Promise<ParleySession | undefined>>()
    expectTypeOf(parley.accept).parameter(1).toEqualTypeOf<Partial<Handshake> | undefined>()
    await parley.accept(connection, { token: 't', protocols: ['parley.v1.json'] })
    // @ts-expect-error the client's end is not a Connection
    await parley.accept(peer)
    // @ts-expect-error protocols is a list
    await parley.accept(connection, { protocols: 'parley.v1.json' })
    expectTypeOf(parley.stats()).toEqualTypeOf<ParleyStats>()
    expectTypeOf(parley.close()).toEqualTypeOf<Promise<void>>()
  })

  // ParleyServerError: server-only codes extend the protocol's, and only protocol codes go on the wire.
  it('types server errors', () => {
    expectTypeOf<ServerErrorCode>().toEqualTypeOf<ErrorCode | 'CLOSED' | 'MIDDLEWARE_NEXT_TWICE'>()
    const error = new ParleyServerError('FORBIDDEN', 'no', { expose: true })
    expectTypeOf(error.code).toEqualTypeOf<ServerErrorCode>()
    expectTypeOf(error.wireCode).toEqualTypeOf<ErrorCode>()
    expectTypeOf(error).toMatchTypeOf<Error>()
    void new ParleyServerError('CLOSED')
    // @ts-expect-error not a server error code
    void new ParleyServerError('NOPE')
    // @ts-expect-error wireCode is read-only (a getter)
    error.wireCode = 'FORBIDDEN'
  })

  // Connection: the transport contract, with its pre-open and drain hooks optional.
  it('types connections and the loopback', () => {
    const minimal: Connection = {
      protocol: 'parley.v1.json', bufferedAmount: 0, send: () => undefined, close: () => undefined, terminate: () => undefined,
      ping: () => undefined, onMessage: () => undefined, onPong: () => undefined, onClose: () => undefined,
    }
    expectTypeOf<Connection['onDrain']>().toEqualTypeOf<((listener: () => void) => void) | undefined>()
    expectTypeOf<Connection['refuse']>().toEqualTypeOf<((refusal: Refusal) => void) | undefined>()
    expectTypeOf(minimal.open).toEqualTypeOf<((protocol: string) => boolean) | undefined>()
    expectTypeOf(createLoopback()).toEqualTypeOf<{ connection: Connection; peer: LoopbackPeer }>()
    // @ts-expect-error terminate is required
    const noTerminate: Connection = { ...minimal, terminate: undefined }
    void noTerminate
  })

  // Middleware sees the decoded protocol message and may only call next() without arguments.
  it('types middleware', () => {
    const middleware: Middleware = async (context, next) => {
      expectTypeOf(context).toEqualTypeOf<MiddlewareContext>()
      expectTypeOf(context.message).toEqualTypeOf<ClientMessage>()
      expectTypeOf(context.session).toEqualTypeOf<ParleySession>()
      await next()
    }
    expectTypeOf(createParley().use(middleware)).toEqualTypeOf<Parley>()
    // @ts-expect-error the session is read-only
    createParley().use((context) => void (context.session = null))
  })

  // The adapter kit: the resume arithmetic, logger and helpers every adapter shares.
  it('types the adapter kit', () => {
    const head: RoomHead = { epoch: 'e1', seq: 10 }
    const from: ResumePoint | undefined = { epoch: 'e1', seq: 4 }
    const kept: readonly RoomMessage[] = []
    expectTypeOf(replayStart(head, from)).toEqualTypeOf<number | undefined>()
    expectTypeOf(resumeResult(head, from, kept)).toEqualTypeOf<ResumeResult>()
    expectTypeOf(gapAfter(4, kept, 10)).toEqualTypeOf<Gap | null>()
    expectTypeOf(SILENT_LOGGER).toEqualTypeOf<Logger>()
    expectTypeOf(randomId(16)).toEqualTypeOf<string>()
    expectTypeOf(limitCloseReason('bye')).toEqualTypeOf<string>()
    // @ts-expect-error a head has an epoch
    replayStart({ seq: 1 }, undefined)
    // @ts-expect-error the length is a number
    randomId('16')
  })

  // PublishRequest/PublishResult: a publish carries its serialised data, and its result never the payload.
  it('types publish requests and results', () => {
    const data: JsonValue = { text: 'hi' }
    const request: PublishRequest = { room: 'general', from: null, data, dataJson: JSON.stringify(data) }
    expectTypeOf(request.dedupKey).toEqualTypeOf<string | undefined>()
    // @ts-expect-error dataJson is required
    const withoutJson: PublishRequest = { room: 'general', from: null, data }
    void withoutJson
    const result = null as unknown as PublishResult
    expectTypeOf(result).toEqualTypeOf<{ readonly seq: number; readonly epoch: string; readonly ts: number; readonly duplicate: boolean }>()
    // @ts-expect-error a publish result keeps no message
    void result.message
  })
})
