import type { Logger } from './options.js'

const noop = (): void => {}

/** The default logger of Parley and of its adapters: says nothing. Exported so adapter authors share it. */
export const SILENT_LOGGER: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop })

/**
 * An error as a log field: its name, message and stack, never the object itself (which may hold a request, and so
 * its headers). Exported so adapters log errors the same way.
 */
export function describeError(error: unknown): { readonly name: string; readonly message: string; readonly stack?: string | undefined } {
  return error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { name: typeof error, message: String(error) }
}
