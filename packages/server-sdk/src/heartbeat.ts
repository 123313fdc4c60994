import type { Session } from './session.js'

/**
 * One timer for every session (not one per session): pings a session that has been silent for `intervalMs` and
 * terminates one silent for `intervalMs + timeoutMs`. Any inbound frame or pong counts as life. The tick is a
 * quarter of the shorter setting, so detection lands within the bound plus that tick.
 */
export class HeartbeatMonitor {
  readonly #intervalMs: number
  readonly #timeoutMs: number
  readonly #sessions: () => Iterable<Session>
  readonly #onDead: (session: Session) => void
  readonly #now: () => number
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(
    settings: { intervalMs: number; timeoutMs: number },
    sessions: () => Iterable<Session>,
    onDead: (session: Session) => void,
    now: () => number = Date.now,
  ) {
    this.#intervalMs = settings.intervalMs
    this.#timeoutMs = settings.timeoutMs
    this.#sessions = sessions
    this.#onDead = onDead
    this.#now = now
  }

  get tickMs(): number {
    return Math.max(10, Math.floor(Math.min(this.#intervalMs, this.#timeoutMs) / 4))
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.tick(), this.tickMs)
    // The server's own listener keeps the process alive; this timer must not.
    this.#timer.unref?.()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  tick(): void {
    const now = this.#now()
    for (const session of this.#sessions()) {
      const silent = now - session.lastSeenAt
      if (silent >= this.#intervalMs + this.#timeoutMs) {
        this.#onDead(session)
      } else if (silent >= this.#intervalMs && now - session.lastPingAt >= this.#intervalMs) {
        session.lastPingAt = now
        session.connection.ping()
      }
    }
  }
}
