import { ParleyClientError } from './client-error.js'
import type { ResolvedOptions, TokenResult } from './options.js'

/** The token of one connection, and when it expires (ms since the Unix epoch), when known. */
export interface TokenState {
  readonly token: string | undefined
  readonly expiresAt: number | undefined
}

/** Checks and normalises what `getToken` returned. */
export function normalizeToken(result: TokenResult): TokenState {
  const token = typeof result === 'string' ? result : result?.token
  if (typeof token !== 'string' || token === '') {
    throw new ParleyClientError('INVALID_OPTION', 'getToken must return a non-empty string or { token, expiresAt }')
  }
  const expiresAt = typeof result === 'string' ? undefined : result.expiresAt
  return { token, expiresAt: typeof expiresAt === 'number' ? expiresAt : undefined }
}

/**
 * The token for each connection attempt: the static `token` first, then `getToken()` on every reconnect (or the
 * static token again when there is no `getToken`).
 */
export function createTokenSource(options: ResolvedOptions): TokenSource {
  return new TokenSource(options)
}

/** The token source of one client: a class, so a client pays for a flag, not a closure and its context. */
export class TokenSource {
  readonly #options: ResolvedOptions
  #usedStatic = false

  constructor(options: ResolvedOptions) {
    this.#options = options
  }

  async next(): Promise<TokenState> {
    const options = this.#options
    if (options.token !== undefined && (!this.#usedStatic || options.getToken === undefined)) {
      this.#usedStatic = true
      return { token: options.token, expiresAt: options.tokenExpiresAt }
    }
    if (options.getToken !== undefined) return normalizeToken(await options.getToken())
    return { token: undefined, expiresAt: undefined }
  }
}

/**
 * When to refresh a token in band: `refreshBeforeMs` ahead of its expiry; a token with less life left than that is
 * refreshed at half its remaining life (at once, its replacement, issued in the same second, would expire no later);
 * never in the past.
 */
export function refreshDelayMs(expiresAt: number, refreshBeforeMs: number, now: number): number {
  const remaining = expiresAt - now
  return Math.max(0, remaining >= refreshBeforeMs ? remaining - refreshBeforeMs : remaining / 2)
}
