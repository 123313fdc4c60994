import type { ServerSetup } from './types.js'

/** The setup every scenario starts from; each scenario overrides only what it depends on. */
export const DEFAULT_SETUP: ServerSetup = Object.freeze({
  auth: false,
  nodes: 1,
  maxPayload: 65_536,
  rate: Object.freeze({ messages: 10_000, perMs: 1_000 }),
  historySize: 100,
  presenceGraceMs: 5_000,
  maxBufferedBytes: 1_048_576,
  requests: false,
  protocols: Object.freeze(['parley.v2.json', 'parley.v1.json']),
})

/** A full {@link ServerSetup} from a scenario's overrides. */
export function resolveSetup(overrides: Partial<ServerSetup> = {}): ServerSetup {
  return { ...DEFAULT_SETUP, ...overrides }
}

/**
 * The contract's token rule, for servers under test with `setup.auth`: the user id is the token up to its first `.`
 * (so `alice` and `alice.v2` are one user, which an in-band refresh needs), and a token that is missing or starts with
 * `bad` is refused. Returns the user id, or `null` to refuse.
 */
export function userOfToken(token: string | undefined): string | null {
  if (token === undefined || token === '' || token.startsWith('bad')) return null
  return token.split('.')[0] || null
}
