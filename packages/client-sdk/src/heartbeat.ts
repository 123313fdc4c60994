import type { HeartbeatSettings } from '@parley/protocol'

/** The client side of the heartbeat: feed it every inbound frame; it pings when idle and reports a dead peer. */
export interface Heartbeat {
  /** Any inbound frame: proof of life. */
  received(): void
  stop(): void
}

/**
 * Starts the client heartbeat of protocol v1 (see `HEARTBEAT_RULES`): after `intervalMs` without an inbound frame it
 * sends a ping, and declares the peer dead when nothing arrived within `timeoutMs` after that ping actually left.
 * Browsers throttle timers in background tabs (to once a minute) and freeze whole pages, so a deadline timer that
 * fires more than `timeoutMs` late pings once more instead of judging: the silence may be the tab's, not the peer's.
 * Only once per silence, though: inbound frames are not throttled, so if even that second ping gets no answer by the
 * next check (however late), the peer is dead — a tab throttled for good still detects a half-open connection, by
 * its second check. One timer, re-armed lazily, so a busy stream costs no timer churn.
 */
export function startHeartbeat(settings: HeartbeatSettings, sendPing: () => void, onDead: () => void): Heartbeat {
  return new IdleTimer(settings, sendPing, onDead)
}

/** The heartbeat `startHeartbeat` hands out: a class, so a client pays for its fields and one timer callback. */
class IdleTimer implements Heartbeat {
  readonly #intervalMs: number
  readonly #timeoutMs: number
  readonly #sendPing: () => void
  readonly #onDead: () => void
  readonly #onTimer = (): void => this.#tick()
  #lastReceived = Date.now()
  #pingSentAt: number | undefined = undefined
  /** A late deadline already earned this silence its second ping. */
  #graced = false
  #timer: ReturnType<typeof setTimeout> | undefined = undefined
  #stopped = false

  constructor(settings: HeartbeatSettings, sendPing: () => void, onDead: () => void) {
    this.#intervalMs = settings.intervalMs
    this.#timeoutMs = settings.timeoutMs
    this.#sendPing = sendPing
    this.#onDead = onDead
    this.#arm(this.#intervalMs)
  }

  received(): void {
    if (this.#stopped) return
    this.#lastReceived = Date.now()
    this.#graced = false
    if (this.#pingSentAt !== undefined) {
      this.#pingSentAt = undefined
      this.#arm(this.#intervalMs)
    }
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  #arm(delayMs: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(this.#onTimer, delayMs)
  }

  #ping(): void {
    this.#sendPing()
    this.#pingSentAt = Date.now()
    this.#arm(this.#timeoutMs)
  }

  #tick(): void {
    const now = Date.now()
    const timeoutMs = this.#timeoutMs
    if (this.#pingSentAt === undefined) {
      const idle = now - this.#lastReceived
      if (idle < this.#intervalMs) this.#arm(this.#intervalMs - idle)
      else this.#ping()
    } else if (now - (this.#pingSentAt + timeoutMs) > timeoutMs && !this.#graced) {
      this.#graced = true
      this.#ping()
    } else {
      this.#stopped = true
      this.#onDead()
    }
  }
}
