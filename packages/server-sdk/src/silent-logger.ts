import type { Logger } from './options.js'

const noop = (): void => {}

/** The default logger of Parley and of its adapters: says nothing. Exported so adapter authors share it. */
export const SILENT_LOGGER: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop })
