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
  const { intervalMs, timeoutMs } = settings
  let lastReceived = Date.now()
  let pingSentAt: number | undefined
  /** A late deadline already earned this silence its second ping. */
  let graced = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  const arm = (delayMs: number): void => {
    clearTimeout(timer)
    timer = setTimeout(tick, delayMs)
  }
  const ping = (): void => {
    sendPing()
    pingSentAt = Date.now()
    arm(timeoutMs)
  }
  function tick(): void {
    const now = Date.now()
    if (pingSentAt === undefined) {
      const idle = now - lastReceived
      if (idle < intervalMs) arm(intervalMs - idle)
      else ping()
    } else if (now - (pingSentAt + timeoutMs) > timeoutMs && !graced) {
      graced = true
      ping()
    } else {
      stopped = true
      onDead()
    }
  }

  arm(intervalMs)
  return {
    received() {
      if (stopped) return
      lastReceived = Date.now()
      graced = false
      if (pingSentAt !== undefined) {
        pingSentAt = undefined
        arm(intervalMs)
      }
    },
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}
