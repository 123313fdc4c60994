/**
 * Why a call to the PostgreSQL history store failed:
 * - `NOT_MIGRATED`: the schema lacks the store's tables (or an older version of them); run the migration.
 * - `SCHEMA_MISMATCH`: the schema was migrated with other settings (its text search configuration).
 * - `UNAVAILABLE`: the database could not be reached, or did not answer in time. The caller may retry later.
 * - `QUERY_FAILED`: the database answered with an error.
 * - `CLOSED`: `close()` was called.
 */
export type PostgresHistoryErrorCode = 'NOT_MIGRATED' | 'SCHEMA_MISMATCH' | 'UNAVAILABLE' | 'QUERY_FAILED' | 'CLOSED'

/** The package's one error class: what rejected calls of the store and of `migrate` reject with. */
export class PostgresHistoryError extends Error {
  override readonly name = 'PostgresHistoryError'
  readonly code: PostgresHistoryErrorCode

  constructor(code: PostgresHistoryErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}

// SQLSTATE classes that say "the database is not there (right now)", not "your query is wrong": 08 connection
// exception, 53 insufficient resources, 57P01-57P03 shutdown / cannot connect now (PostgreSQL Appendix A).
const UNAVAILABLE_STATES = /^(08|53|57P0[123])/
// Node's socket errors, and pg's own messages for a lost or timed-out connection.
const UNAVAILABLE_SYSCALLS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
const UNAVAILABLE_MESSAGES = /timeout|terminated|Connection terminated|not queryable|ended unexpectedly/i

/** Whether a driver error means the database could not be reached or did not answer in time. */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && (UNAVAILABLE_SYSCALLS.has(code) || UNAVAILABLE_STATES.test(code))) return true
  if (error instanceof AggregateError) return error.errors.some(isUnavailable)
  return error instanceof Error && typeof code !== 'string' && UNAVAILABLE_MESSAGES.test(error.message)
}

/**
 * `text` with the password of every connection URL in it, and every secret listed, replaced by `***`: messages
 * and logs may quote a URL, never a password.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@\s/]*@/gi, '$1***@')
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('***')
  return out
}

/** The password in a connection URL, if it has one (also percent-decoded, as the driver would use it). */
export function passwordsOf(url: string | undefined): string[] {
  if (url === undefined) return []
  try {
    const password = new URL(url).password
    if (password === '') return []
    let decoded = password
    try {
      decoded = decodeURIComponent(password)
    } catch {
      // Not valid percent-encoding: the raw form is all there is.
    }
    return decoded === password ? [password] : [password, decoded]
  } catch {
    return []
  }
}

/** Wraps a driver error as a {@link PostgresHistoryError}, with a message that names what was being done. */
export function databaseError(doing: string, error: unknown, secrets: readonly string[]): PostgresHistoryError {
  if (error instanceof PostgresHistoryError) return error
  const detail = error instanceof Error ? error.message || String((error as { code?: unknown }).code ?? error.name) : String(error)
  const code = isUnavailable(error) ? 'UNAVAILABLE' : 'QUERY_FAILED'
  const what = code === 'UNAVAILABLE' ? 'the database is unavailable' : 'the database refused it'
  return new PostgresHistoryError(code, redact(`Parley postgres history: ${doing} failed, ${what}: ${detail}`, secrets), { cause: error })
}
