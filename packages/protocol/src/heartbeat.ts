import type { HeartbeatSettings } from './messages.js'

/** Heartbeat defaults, announced by the server in `welcome.heartbeat`. */
export const DEFAULT_HEARTBEAT: HeartbeatSettings = Object.freeze({ intervalMs: 25_000, timeoutMs: 20_000 })

/**
 * The heartbeat rules of protocol v1, as written in docs/protocol.md §12:
 *
 * - The server sends a WebSocket ping frame to a client silent for `intervalMs`; any frame from the client (pong
 *   frame or message) proves it alive. A client silent for `intervalMs + timeoutMs` is terminated (no close
 *   handshake). The reference server checks every `min(intervalMs, timeoutMs) / 4`, which adds to that bound.
 * - The client sends a `ping` message when it has received nothing for `intervalMs` (browsers cannot see ping
 *   frames); the server answers `pong` at once. Any frame from the server resets the client's timer.
 * - The client declares the connection dead when nothing arrived within `timeoutMs` after its ping actually left.
 *   A check that runs more than `timeoutMs` late (a throttled or frozen tab) pings once more instead of judging;
 *   the next check judges, however late, since inbound frames are not throttled.
 */
export const HEARTBEAT_RULES = Object.freeze({
  serverPingsWith: 'websocket-ping-frame',
  clientPingsWith: 'ping-message',
  anyFrameResetsTimer: true,
  deadlineCountsFrom: 'ping-sent',
} as const)

/** The detection bound of the rules, before any check interval or timer lateness is added. */
export function heartbeatDeadlineMs(settings: HeartbeatSettings): number {
  return settings.intervalMs + settings.timeoutMs
}
