/**
 * Type tests of the contract (`defineContract`) through both SDKs, with Zod and Valibot schemas: checked by
 * `tsc --noEmit`, never executed. Each `@ts-expect-error` line must stay an error (tsc reports an unused directive).
 */
import { createClient } from '@parley/client-sdk'
import { defineContract, type JsonValue, type MessageOf, type RequestOutput } from '@parley/protocol'
import { createParley, RequestError } from '@parley/server-sdk'
import * as v from 'valibot'
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'

const contract = defineContract({
  rooms: {
    'chat:*': {
      message: z.object({ text: z.string(), mentions: z.array(z.string()).optional() }),
      presence: z.object({ status: z.enum(['online', 'away']) }),
      signals: { typing: z.boolean() },
    },
    'dm:*': { message: v.object({ body: v.string(), at: v.number() }) },
    lobby: { message: v.string() },
  },
  requests: {
    'rooms.create': { input: z.object({ name: z.string() }), output: z.object({ room: z.string() }), errors: ['NAME_TAKEN'] },
    add: { input: v.object({ a: v.number(), b: v.number() }), output: v.number() },
  },
})

describe('a contract types the client', () => {
  const client = createClient('ws://127.0.0.1:3000/parley', { contract })

  it('types rooms by name or pattern: publish, message events, presence and signals', () => {
    const chat = client.join('chat:general', { presence: { status: 'online' } })
    expectTypeOf(chat.publish).parameter(0).toEqualTypeOf<{ text: string; mentions?: string[] | undefined }>()
    chat.on('message', (message) => {
      expectTypeOf(message.data.text).toEqualTypeOf<string>()
      // @ts-expect-error no such field in the schema
      void message.data.txt
    })
    // @ts-expect-error a typo in a payload does not compile
    void chat.publish({ txt: 'hello' })
    // @ts-expect-error presence outside the enum
    client.join('chat:general', { presence: { status: 'asleep' } })
    expectTypeOf(chat.members()[0]?.presence).toEqualTypeOf<{ status: 'online' | 'away' } | undefined>()
    const dm = client.join('dm:alice:bob')
    expectTypeOf(dm.publish).parameter(0).toEqualTypeOf<{ body: string; at: number }>()
    expectTypeOf(client.join('lobby').publish).parameter(0).toEqualTypeOf<string>()
    expectTypeOf<MessageOf<typeof contract, 'dm:x'>>().toEqualTypeOf<{ body: string; at: number }>()
  })

  it('types requests: input, output, and unknown names', async () => {
    expectTypeOf(await client.request('rooms.create', { name: 'design' })).toEqualTypeOf<{ room: string }>()
    expectTypeOf(await client.request('add', { a: 1, b: 2 })).toEqualTypeOf<number>()
    // @ts-expect-error the input of another request
    void client.request('add', { name: 'x' })
    expectTypeOf<RequestOutput<typeof contract, 'add'>>().toEqualTypeOf<number>()
  })

  it('leaves rooms the contract does not name as JSON, and a client without a contract as it was', async () => {
    expectTypeOf(client.join('elsewhere').publish).parameter(0).toEqualTypeOf<JsonValue>()
    // @ts-expect-error a typed client takes no type arguments for a room: the contract says
    client.join<{ n: number }>('chat:general')
    const plain = createClient('ws://127.0.0.1:3000/parley')
    expectTypeOf(plain.join('anything').publish).parameter(0).toEqualTypeOf<JsonValue>()
    expectTypeOf(plain.join<{ n: number }>('anything').publish).parameter(0).toEqualTypeOf<{ n: number }>()
    expectTypeOf(await plain.request('any.name', { x: 1 })).toEqualTypeOf<JsonValue>()
  })
})

describe('a contract types the server', () => {
  const parley = createParley({ contract })

  it('types handlers by request name', () => {
    parley.handle(contract, 'rooms.create', (input, { user }) => {
      expectTypeOf(input).toEqualTypeOf<{ name: string }>()
      expectTypeOf(user.id).toEqualTypeOf<string>()
      if (input.name === 'general') throw new RequestError('NAME_TAKEN', 'exists')
      return { room: `chat:${input.name}` }
    })
    parley.handle(contract, 'add', async ({ a, b }) => a + b)
    // @ts-expect-error the output must match the schema
    parley.handle(contract, 'add', () => 'three')
    // @ts-expect-error not a request of the contract
    parley.handle(contract, 'rooms.delete', () => null)
  })
})
