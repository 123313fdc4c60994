/**
 * What a log line carries besides its text: `event`, a stable dotted name (`auth.failed`, `client.reconnecting`,
 * ...: docs/operations.md lists them with their fields), and the event's fields. Never a token, a cookie or a header.
 */
export interface LogFields {
  readonly event: string
  readonly [field: string]: unknown
}

/**
 * The logger Parley's server and client SDKs take; both are silent unless given one. Each call is
 * `(fields, message)`, the order `pino` takes (the fields merged into the JSON line, the text as `msg`), so a pino
 * logger fits as it is, and so does `console`.
 */
export interface Logger {
  debug(fields: LogFields, message: string): void
  info(fields: LogFields, message: string): void
  warn(fields: LogFields, message: string): void
  error(fields: LogFields, message: string): void
}
