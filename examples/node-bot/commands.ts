/** The bot's commands, as a pure function of the message and what the bot can look up. */

/** What a command may ask about. */
export interface CommandContext {
  /** Who is in the room now (user ids). */
  members(): readonly string[]
  /** Server figures, or an explanation of why there are none. */
  stats(): Promise<string>
  now(): Date
}

export const HELP = 'Commands: /echo <text>, /time, /who, /stats, /help'

/** The reply to `text`, or `undefined` when it is not a command (the bot stays quiet). */
export async function answer(text: string, context: CommandContext): Promise<string | undefined> {
  const match = /^\/([a-z]+)(?:\s+([\s\S]*))?$/i.exec(text.trim())
  if (match === null) return undefined
  const command = (match[1] as string).toLowerCase()
  const rest = (match[2] ?? '').trim()
  switch (command) {
    case 'echo':
      return rest === '' ? 'Usage: /echo <text>' : rest
    case 'time': {
      const now = context.now()
      return `It is ${now.toISOString().replace('T', ' ').slice(0, 19)} UTC`
    }
    case 'who': {
      const members = [...context.members()].sort()
      return `${members.length} here: ${members.join(', ')}`
    }
    case 'stats':
      return context.stats()
    case 'help':
      return HELP
    default:
      return `Unknown command /${command}. ${HELP}`
  }
}

/** One line from the chat server's /api/stats JSON. */
export function describeStats(stats: Record<string, unknown>): string {
  const n = (key: string): string => (typeof stats[key] === 'number' ? (stats[key] as number).toLocaleString('en-US') : '?')
  const uptime = typeof stats['uptimeMs'] === 'number' ? `, up ${Math.round((stats['uptimeMs'] as number) / 1000)} s` : ''
  return `${n('connections')} connections, ${n('rooms')} rooms, ${n('messagesIn')} messages in, ${n('messagesOut')} out, ${n('dropped')} dropped${uptime}`
}
