import { defineContract } from '@parley/protocol'
import { parley, startParleyServer } from './parley.js'
import type { RunningServer, ServerSettings, Target } from './target.js'

/**
 * Parley with a contract: the `parley` target's server and raw-frame client, plus `contract` with the bench payload's
 * schema (`{ p, n, t, text }` in every `room-*`), so every publish is checked before fan-out. One target per schema
 * library: run beside `parley` in one run (`--targets parley,parley-zod,parley-valibot chat`) to see what run-time
 * validation costs per message.
 */

async function zodContract() {
  const { z } = await import('zod')
  return defineContract({
    rooms: { 'room-*': { message: z.object({ p: z.number().int().nonnegative(), n: z.number().int().nonnegative(), t: z.number(), text: z.string().max(1_000) }) } },
  })
}

async function valibotContract() {
  const v = await import('valibot')
  const count = v.pipe(v.number(), v.integer(), v.minValue(0))
  return defineContract({
    rooms: { 'room-*': { message: v.object({ p: count, n: count, t: v.number(), text: v.pipe(v.string(), v.maxLength(1_000)) }) } },
  })
}

function validated(name: string, library: string, contract: () => Promise<ReturnType<typeof defineContract>>): Target {
  return {
    ...parley,
    name,
    description: `${parley.description}; contract: every publish checked against a ${library} schema`,
    async startServer(_settings: ServerSettings): Promise<RunningServer> {
      return startParleyServer({ contract: await contract() })
    },
  }
}

export const parleyZod = validated('parley-zod', 'Zod 4', zodContract)
export const parleyValibot = validated('parley-valibot', 'Valibot 1', valibotContract)
