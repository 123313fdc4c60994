import type { JsonValue, Recovery, WelcomeMessage } from '@parley/protocol'
import { describe, expectTypeOf, it } from 'vitest'
import {
  createClient,
  type ClientState,
  type Member,
  type ParleyClientError,
  type PublishAck,
  type ReconnectEvent,
  type Room,
  type RoomMessageEvent,
} from '@parley/client-sdk'

interface ChatMessage {
  text: string
  mentions?: string[]
}
interface ChatPresence {
  name: string
  status: 'online' | 'away'
}
type Cursor = { x: number; y: number }

describe('client types', () => {
  it('types the client events', () => {
    const client = createClient('ws://localhost/parley')
    client.on('state', (state) => expectTypeOf(state).toEqualTypeOf<ClientState>())
    client.on('error', (error) => expectTypeOf(error).toEqualTypeOf<ParleyClientError>())
    client.on('welcome', (welcome) => expectTypeOf(welcome).toEqualTypeOf<WelcomeMessage>())
    client.on('reconnect', (event) => {
      expectTypeOf(event).toEqualTypeOf<ReconnectEvent>()
      expectTypeOf(event.attempt).toBeNumber()
      expectTypeOf(event.delayMs).toBeNumber()
    })
    expectTypeOf(client.on('state', () => undefined)).toEqualTypeOf<() => void>()
    expectTypeOf(client.protocol).toEqualTypeOf<string | undefined>()
    expectTypeOf(client.close()).toEqualTypeOf<Promise<void>>()
    // @ts-expect-error not an event of the client
    client.on('message', () => undefined)
    // @ts-expect-error the state event carries the state, not an object
    client.on('state', (state: { state: string }) => state)
  })

  it('accepts one URL or a list of URLs, and typed options', () => {
    createClient(['ws://a/parley', 'ws://b/parley'], { reconnect: { maxAttempts: 5 }, heartbeat: false })
    createClient('ws://a/parley', { getToken: async () => ({ token: 't', expiresAt: 1 }) })
    // @ts-expect-error reconnect delays are numbers
    createClient('ws://a/parley', { reconnect: { initialDelayMs: '1s' } })
    // @ts-expect-error unknown option
    createClient('ws://a/parley', { retries: 3 })
  })

  it('types room payloads through the generics', () => {
    const client = createClient('ws://localhost/parley')
    const room = client.join<ChatMessage, ChatPresence, Cursor>('general', { presence: { name: 'Ada', status: 'online' } })
    expectTypeOf(room).toEqualTypeOf<Room<ChatMessage, ChatPresence, Cursor>>()

    room.on('message', (message) => {
      expectTypeOf(message).toEqualTypeOf<RoomMessageEvent<ChatMessage>>()
      expectTypeOf(message.data).toEqualTypeOf<ChatMessage>()
      expectTypeOf(message.seq).toBeNumber()
      expectTypeOf(message.from).toEqualTypeOf<string | null>()
    })
    room.on('presence', (event) => expectTypeOf(event.member.presence).toEqualTypeOf<ChatPresence>())
    room.on('signal', (event) => expectTypeOf(event.value).toEqualTypeOf<Cursor | null>())
    room.on('typing', (event) => expectTypeOf(event).toEqualTypeOf<{ readonly user: string; readonly typing: boolean }>())
    room.on('recovery', (event) => expectTypeOf(event).toEqualTypeOf<Recovery>())
    room.on('error', (error) => expectTypeOf(error).toEqualTypeOf<ParleyClientError>())
    expectTypeOf(room.members()).toEqualTypeOf<Member<ChatPresence>[]>()
    expectTypeOf(room.publish({ text: 'hi' })).toEqualTypeOf<Promise<PublishAck>>()

    // @ts-expect-error the message type is ChatMessage
    void room.publish({ txt: 'hi' })
    // @ts-expect-error presence must be a ChatPresence
    room.setPresence({ name: 'Ada', status: 'busy' })
    // @ts-expect-error signals carry a Cursor
    room.signal('cursor', { x: 1 })
    // @ts-expect-error presence option is typed too
    client.join<ChatMessage, ChatPresence>('other', { presence: { name: 1 } })
    // @ts-expect-error typing takes a boolean
    room.typing('yes')
    // @ts-expect-error not a room event
    room.on('direct', () => undefined)
  })

  it('defaults payloads to JsonValue', () => {
    const room = createClient('ws://localhost/parley').join('general')
    room.on('message', (message) => expectTypeOf(message.data).toEqualTypeOf<JsonValue>())
    void room.publish({ any: ['json', 1, null] })
  })
})
