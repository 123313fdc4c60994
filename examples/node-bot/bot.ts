/**
 * A Node bot for the chat examples: signs in like the page (`POST /api/login`, a short-lived JWT, refreshed in band
 * before it expires), joins a room and answers /echo, /time, /who and /stats. It shares the chat's contract
 * (../shared/chat-contract.ts) with the server and the page, so messages are typed and checked on arrival.
 *
 *   npx tsx examples/node-bot/bot.ts [--url ws://127.0.0.1:3000/parley] [--room general] [--name parley-bot]
 *
 * Node 20 has no global WebSocket; the client SDK then uses the `ws` package.
 */
import { parseArgs } from 'node:util'
import { createClient } from '@parley/client-sdk'
import type { IssuedToken } from '../shared/chat-auth.js'
import { chatContract } from '../shared/chat-contract.js'
import { chatTokenOptions, requestChatToken } from '../shared/chat-login.js'
import { answer, describeStats } from './commands.js'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env['PARLEY_URL'] ?? 'ws://127.0.0.1:3000/parley' },
    room: { type: 'string', default: 'general' },
    name: { type: 'string', default: 'parley-bot' },
    'stats-url': { type: 'string' },
  },
})
const url = values.url as string
const roomName = values.room as string
const name = values.name as string
// The chat servers sign in and publish their stats next to the WebSocket endpoint.
const statsUrl = values['stats-url'] ?? new URL('/api/stats', url.replace(/^ws/, 'http')).href
const loginUrl = new URL('/api/login', url.replace(/^ws/, 'http')).href

// Sign in first, so a wrong URL or a refused name is said at once; later tokens come from `getToken`.
let first: IssuedToken
try {
  first = await requestChatToken(loginUrl, name)
} catch (error) {
  console.error(`[bot] cannot sign in as ${name} at ${loginUrl}: ${(error as Error).message}`)
  process.exit(1)
}
const client = createClient(url, { ...chatTokenOptions(first, () => requestChatToken(loginUrl, name)), contract: chatContract })
const room = client.join(roomName, { presence: { client: 'bot' } })
let replies = 0
/** Replies go out in the order the commands came in, even when one (/stats) has to wait for an answer. */
let replying: Promise<void> = Promise.resolve()

client.on('state', (state) => console.log(`[bot] ${state}`))
client.on('error', (error) => console.error(`[bot] ${error.code}: ${error.message}`))
room.on('joined', ({ members }) => console.log(`[bot] ${name} joined #${roomName} (${members.length} here). Try /echo hello in the chat.`))
room.on('error', (error) => console.error(`[bot] #${roomName}: ${error.code}: ${error.message}`))

room.on('message', ({ from, data }) => {
  // Never answer itself (or the server): two bots in a room must not talk forever. `data` is a chat message: the
  // client checked it against the contract (one that breaks it is the room's `error` instead).
  if (from === null || from === client.user) return
  // A reaction (to anyone's message) or an image is not a command.
  if ('reaction' in data || 'image' in data) return
  const text = data.text
  const reply = answer(text, {
    members: () => room.members().map((member) => member.user),
    now: () => new Date(),
    stats: async () => {
      try {
        const response = await fetch(statsUrl, { signal: AbortSignal.timeout(3_000) })
        if (!response.ok) return `No stats: ${statsUrl} answered ${response.status}`
        return describeStats((await response.json()) as Record<string, unknown>)
      } catch (error) {
        return `No stats: ${statsUrl} is unreachable (${(error as Error).message})`
      }
    },
  })
  replying = replying.then(async () => {
    const line = await reply
    if (line === undefined) return
    const mid = `${name}.${Date.now().toString(36)}.${(replies++).toString(36)}`
    console.log(`[bot] ${from}: ${text} -> ${line}`)
    // The chat page de-duplicates by `mid`; using it as the publish id makes a retried reply safe too.
    await room.publish({ text: line.slice(0, 2_000), mid }, { id: mid })
  }).catch((error: Error) => console.error(`[bot] reply failed: ${error.message}`))
})

const stop = (): void => {
  void client.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
