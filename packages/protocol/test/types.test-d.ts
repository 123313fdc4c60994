/**
 * Type tests: checked by `tsc --noEmit` (the root tsconfig includes packages/*\/test/**\/*.ts), never executed. The
 * file name does not match vitest's `*.test.ts` include on purpose. Each `@ts-expect-error` line must stay an error:
 * if it ever compiles, tsc reports the directive as unused.
 */
import { expectTypeOf } from 'vitest'
import {
  CLIENT_MESSAGE_TYPES,
  CloseCode,
  ERROR_CODE_LIST,
  ProtocolError,
  SERVER_MESSAGE_TYPES,
  decode,
  encode,
  negotiate,
  type AckMessage,
  type ClientMessage,
  type ClientMessageOf,
  type DecodeResult,
  type ErrorCode,
  type JsonValue,
  type Message,
  type PingMessage,
  type PublishMessage,
  type ServerMessage,
  type ServerMessageOf,
  type SignalBroadcastMessage,
  type SignalMessage,
} from '@parley/protocol'
import { frameOf, loadVectors, type InvalidVector, type ValidVector } from '../test-vectors/index.js'

export function decodeIsDirectionAware(frame: string, from: 'client' | 'server'): void {
  const fromClient = decode(frame, { from: 'client' })
  if (fromClient.ok) expectTypeOf(fromClient.message).toEqualTypeOf<ClientMessage>()
  else expectTypeOf(fromClient.error).toEqualTypeOf<ProtocolError>()

  const fromServer = decode(frame, { from: 'server' })
  if (fromServer.ok) expectTypeOf(fromServer.message).toEqualTypeOf<ServerMessage>()

  const either = decode(frame, { from })
  expectTypeOf(either).toEqualTypeOf<DecodeResult<Message>>()

  // @ts-expect-error there is no third direction
  decode(frame, { from: 'browser' })
  // @ts-expect-error the direction is required
  decode(frame, {})
  // @ts-expect-error limits are numbers
  decode(frame, { from: 'client', limits: { maxPayload: '64k' } })
}

export function messagesNarrowByType(message: ClientMessage, server: ServerMessage): void {
  if (message.type === 'publish') expectTypeOf(message).toEqualTypeOf<PublishMessage>()
  if (message.type === 'signal') expectTypeOf(message).toEqualTypeOf<SignalMessage>()
  if (server.type === 'signal') {
    expectTypeOf(server).toEqualTypeOf<SignalBroadcastMessage>()
    expectTypeOf(server.from).toEqualTypeOf<string>()
  }
  if (server.type === 'message') expectTypeOf(server.from).toEqualTypeOf<string | null>()
}

export function messageOfPicksOneType(): void {
  expectTypeOf<ServerMessageOf<'ack'>>().toEqualTypeOf<AckMessage>()
  expectTypeOf<ServerMessageOf<'ack'>['id']>().toEqualTypeOf<string>()
  expectTypeOf<ClientMessageOf<'signal'>>().toEqualTypeOf<SignalMessage>()
  expectTypeOf<ServerMessageOf<'signal'>>().toEqualTypeOf<SignalBroadcastMessage>()
  expectTypeOf<ClientMessageOf<'ping'>['ts']>().toEqualTypeOf<number | undefined>()
  // @ts-expect-error welcome is not a client message
  expectTypeOf<ClientMessageOf<'welcome'>>()
  // @ts-expect-error publish is not a server message
  expectTypeOf<ServerMessageOf<'publish'>>()
}

export function typeListsMatchTheUnions(): void {
  expectTypeOf<(typeof CLIENT_MESSAGE_TYPES)[number]>().toEqualTypeOf<ClientMessage['type']>()
  expectTypeOf<(typeof SERVER_MESSAGE_TYPES)[number]>().toEqualTypeOf<ServerMessage['type']>()
  expectTypeOf<(typeof ERROR_CODE_LIST)[number]>().toEqualTypeOf<ErrorCode>()
}

export function messagesAreExact(): void {
  const ok: PublishMessage = { type: 'publish', room: 'general', data: { text: 'hi' } }
  expectTypeOf(encode(ok)).toEqualTypeOf<string>()

  // @ts-expect-error a publish without room does not compile
  const noRoom: PublishMessage = { type: 'publish', data: 1 }
  // @ts-expect-error a publish without data does not compile
  const noData: PublishMessage = { type: 'publish', room: 'general' }
  // @ts-expect-error exactOptionalPropertyTypes: an optional field is absent, never undefined
  const undefinedId: PingMessage = { type: 'ping', id: undefined }
  // @ts-expect-error a client signal has no from
  const clientSignalWithFrom: SignalMessage = { type: 'signal', room: 'r', key: 'k', value: 1, from: 'u' }
  // @ts-expect-error a server signal needs from and ttlMs
  const broadcastWithoutFrom: SignalBroadcastMessage = { type: 'signal', room: 'r', key: 'k', value: 1, ttlMs: 0 }
  // @ts-expect-error messages are readonly
  ok.room = 'other'
  // @ts-expect-error encode takes messages, not strings
  encode('{"type":"ping"}')
  // @ts-expect-error unknown type
  encode({ type: 'subscribe', room: 'general' })
  void [noRoom, noData, undefinedId, clientSignalWithFrom, broadcastWithoutFrom]
}

export function jsonValueIsJsonOnly(): void {
  const fine: JsonValue = { a: [1, 'two', null, true, { b: [] }] }
  void fine
  // @ts-expect-error undefined is not JSON
  const withUndefined: JsonValue = { a: undefined }
  // @ts-expect-error functions are not JSON
  const withFunction: JsonValue = { f: () => 1 }
  // @ts-expect-error bigint is not JSON
  const withBigInt: JsonValue = 1n
  void [withUndefined, withFunction, withBigInt]
}

export function codesAreTyped(error: ProtocolError): void {
  expectTypeOf(error.code).toEqualTypeOf<ErrorCode>()
  expectTypeOf(error.closeCode).toEqualTypeOf<CloseCode | undefined>()
  expectTypeOf(error.details.field).toEqualTypeOf<string | undefined>()
  expectTypeOf(error).toMatchTypeOf<Error>()
  // @ts-expect-error not an ErrorCode
  const unknownCode: ErrorCode = 'NOPE'
  // @ts-expect-error ProtocolError takes an ErrorCode
  const bad = new ProtocolError('NOPE')
  void [unknownCode, bad]
}

export function negotiationResultIsTyped(): void {
  const result = negotiate(['parley.v1.json'])
  if (result.ok) {
    expectTypeOf(result.version).toEqualTypeOf<number>()
    // @ts-expect-error offered exists only on failure
    void result.offered
  } else {
    expectTypeOf(result.reason).toEqualTypeOf<'no-common-version'>()
    expectTypeOf(result.offered).toEqualTypeOf<readonly string[]>()
    expectTypeOf(result.supported).toEqualTypeOf<readonly string[]>()
  }
}

export function vectorsAreTyped(): void {
  const { valid, invalid } = loadVectors()
  expectTypeOf(valid).toEqualTypeOf<readonly ValidVector[]>()
  expectTypeOf(invalid).toEqualTypeOf<readonly InvalidVector[]>()
  const first = valid[0]
  if (first?.from === 'client') expectTypeOf(first.decoded).toEqualTypeOf<ClientMessage>()
  if (first?.from === 'server') expectTypeOf(first.decoded).toEqualTypeOf<ServerMessage>()
  const bad = invalid[0]
  if (bad !== undefined) {
    expectTypeOf(bad.error).toEqualTypeOf<ErrorCode>()
    expectTypeOf(bad.layer).toEqualTypeOf<'frame' | 'message'>()
    expectTypeOf(frameOf(bad)).toEqualTypeOf<string | Uint8Array>()
  }
}
