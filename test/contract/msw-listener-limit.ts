import { setMaxListeners } from 'node:events'

// msw keeps one listener per intercepted WebSocket on a module-level BroadcastChannel, created when msw loads, and
// a scenario's connections (some closed by the mock itself) add up past Node's default warning threshold of 10.
// Imported before msw, so the channel is created with this limit.
setMaxListeners(200)
