/**
 * Admin commands for the chat (seed 004): `/kick`, `/mute` for a time, `/ban` and `/unban`, run by users with the
 * admin role through Parley's server control API, each shown to the room as a system line. Bans and mutes live in
 * this example's own store (memory here; a real app keeps them in its database).
 */
import { ParleyServerError, type Parley } from '@parley/server-sdk'
import { isUsername } from './chat-rules.js'

/** Who is an admin: `CHAT_ADMINS` (comma-separated usernames), default `admin`. */
export function chatAdmins(env: NodeJS.ProcessEnv = process.env): ReadonlySet<string> {
  return new Set((env['CHAT_ADMINS'] ?? 'admin').split(',').map((name) => name.trim()).filter((name) => name !== ''))
}

/** The example's moderation store: banned users, and muted users with when their mute ends. */
export class ModerationStore {
  readonly #banned = new Set<string>()
  readonly #mutedUntil = new Map<string, number>()

  isBanned(user: string): boolean {
    return this.#banned.has(user)
  }

  ban(user: string): void {
    this.#banned.add(user)
  }

  unban(user: string): boolean {
    return this.#banned.delete(user)
  }

  mute(user: string, seconds: number, now = Date.now()): void {
    this.#mutedUntil.set(user, now + seconds * 1_000)
  }

  /** Seconds of mute left (0 when not muted). */
  mutedFor(user: string, now = Date.now()): number {
    const until = this.#mutedUntil.get(user)
    if (until === undefined || until <= now) {
      this.#mutedUntil.delete(user)
      return 0
    }
    return Math.ceil((until - now) / 1_000)
  }
}

/** The answer to a command, for the admin's page. */
export interface CommandResult {
  readonly ok: boolean
  readonly message: string
}

const USAGE = 'Commands: /kick <user>, /mute <user> [seconds], /ban <user>, /unban <user>'

/**
 * Runs one admin command typed in `room` by `admin`. Throws FORBIDDEN for a non-admin; answers `ok: false` with a
 * reason for a malformed command. What happened is published to the room as a system line (`from: null`).
 */
export async function runCommand(parley: Parley, store: ModerationStore, admins: ReadonlySet<string>, admin: string, room: string, text: string): Promise<CommandResult> {
  if (!admins.has(admin)) throw new ParleyServerError('FORBIDDEN', 'Only admins can use commands')
  const [command, target, arg, ...rest] = text.trim().split(/\s+/)
  if (rest.length > 0 || target === undefined || !isUsername(target)) return { ok: false, message: USAGE }
  if (target === admin) return { ok: false, message: 'Not on yourself' }
  const system = (line: string): Promise<unknown> => parley.room(room).publish({ text: line, system: true })
  switch (command) {
    case '/kick': {
      if (arg !== undefined) return { ok: false, message: USAGE }
      const report = await parley.room(room).remove(target, { reason: 'kicked' })
      if (report.sessions === 0) return { ok: false, message: `${target} is not in #${room}` }
      await system(`${target} was removed from the room by ${admin}`)
      return { ok: true, message: `Kicked ${target}` }
    }
    case '/mute': {
      const seconds = arg === undefined ? 60 : Number(arg)
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 86_400) return { ok: false, message: 'Mute for 1-86400 seconds' }
      store.mute(target, seconds)
      await system(`${target} was muted for ${seconds} s by ${admin}`)
      return { ok: true, message: `Muted ${target} for ${seconds} s` }
    }
    case '/ban': {
      if (arg !== undefined) return { ok: false, message: USAGE }
      store.ban(target)
      // 4403 is final for clients: the banned user's pages stop reconnecting (and would be refused anyway).
      await parley.user(target).disconnect({ code: 4403, reason: 'banned' })
      await system(`${target} was banned by ${admin}`)
      return { ok: true, message: `Banned ${target}` }
    }
    case '/unban': {
      if (arg !== undefined) return { ok: false, message: USAGE }
      if (!store.unban(target)) return { ok: false, message: `${target} is not banned` }
      await system(`${target} was unbanned by ${admin}`)
      return { ok: true, message: `Unbanned ${target}` }
    }
    default:
      return { ok: false, message: USAGE }
  }
}
