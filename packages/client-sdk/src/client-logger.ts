import type { Logger } from '@parley/protocol'
import type { ClientEvents } from './create-client.js'
import type { Emitter } from './emitter.js'

/** Text with every URL's query string and fragment cut, where a token may ride (a connection error names its URL). */
const withoutQueries = (text: string): string => text.replace(/(\w+:\/\/[^\s?#]*)[?#]\S*/g, '$1')

/**
 * Logs a client's life from its own events: `client.connected` (info), `client.reconnecting` (warn),
 * `client.transport` (info), `client.error` (error) and `client.closed` (info). docs/operations.md lists the fields.
 */
export function logClientEvents(events: Emitter<ClientEvents>, logger: Logger, url: () => string): void {
  const where = (): string => withoutQueries(url())
  events.on('welcome', ({ session, user, protocol }) => logger.info({ event: 'client.connected', url: where(), session, user, protocol }, 'parley: connected'))
  events.on('reconnect', ({ attempt, delayMs, code, reason, error }) =>
    logger.warn({ event: 'client.reconnecting', url: where(), attempt, delayMs, code, reason, error: error && withoutQueries(error.message) }, 'parley: reconnecting'),
  )
  events.on('transport', (transport) => logger.info({ event: 'client.transport', transport }, 'parley: transport'))
  events.on('error', ({ code, closeCode, room, message }) => logger.error({ event: 'client.error', code, closeCode, room, message: withoutQueries(message) }, 'parley: error'))
  events.on('state', (state) => state === 'closed' && logger.info({ event: 'client.closed', url: where() }, 'parley: closed'))
}
