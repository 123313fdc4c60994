import { isRetryableClose } from '@parley/protocol'
import type { ReconnectOptions } from './options.js'

/**
 * Should the client reconnect after a close with this code? The protocol's table decides: retry after transient
 * closes (1001 going away, 1006 dropped, 1011-1013, 4408, 4419, 4429, 4500, 4509, unknown codes), never after a client
 * bug (1002/1003/1007/1008/1009, 4400), a refusal (4401, 4403, 4406, 4409) or a normal 1000. A close the client
 * started itself never reaches this function: `close()` is final.
 */
export function shouldReconnect(closeCode: number): boolean {
  return isRetryableClose(closeCode)
}

/**
 * The delay before retry number `attempt` (1-based): full jitter, uniform in
 * `[0, min(maxDelayMs, initialDelayMs × factor^(attempt-1)))`, so a crowd of clients dropped together spreads out.
 */
export function backoffDelayMs(attempt: number, options: ReconnectOptions, random: () => number = Math.random): number {
  const bound = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** Math.max(0, attempt - 1))
  return Math.floor(Math.min(Math.max(random(), 0), 1) * bound)
}

/** What to do after a close: retry after a delay, or stop and why. */
export type ReconnectDecision =
  | { readonly retry: true; readonly attempt: number; readonly delayMs: number }
  | { readonly retry: false; readonly reason: 'fatal-close' | 'attempts-exhausted' }

/**
 * The whole retry policy as one pure function: `attempt` is the retry about to be made (1 after the first failure
 * since the last `welcome`).
 */
export function decideReconnect(
  closeCode: number,
  attempt: number,
  options: ReconnectOptions,
  random: () => number = Math.random,
): ReconnectDecision {
  if (!shouldReconnect(closeCode)) return { retry: false, reason: 'fatal-close' }
  if (attempt > options.maxAttempts) return { retry: false, reason: 'attempts-exhausted' }
  return { retry: true, attempt, delayMs: backoffDelayMs(attempt, options, random) }
}
