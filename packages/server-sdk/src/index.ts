export { attach } from './attach.js'
export { Parley, createParley, type RoomHandle, type UserHandle } from './parley.js'
export type { ParleyEvents } from './hub.js'
export type {
  AuthenticateContext,
  AuthorizeContext,
  Logger,
  RateLimit,
  ResolvedOptions,
  RoomAction,
  ServerOptions,
  ServerUser,
} from './options.js'
export type { Middleware, MiddlewareContext } from './pipeline.js'
export type { ParleySession } from './session.js'
export type { ParleyStats } from './stats.js'
export { ParleyServerError, toParleyError } from './server-error.js'
export type { Admission } from './handshake.js'
export { Frame, type Connection, type Handshake } from './transports/connection.js'
export { createLoopback, type LoopbackPeer } from './transports/loopback.js'
export { createMemoryAdapter, type MemoryAdapterOptions } from './adapters/memory.js'
export type {
  Adapter,
  AdapterHooks,
  AdapterNode,
  AdapterNodeConfig,
  ClusterStats,
  NodeStats,
  PresenceEntry,
  PublishRequest,
  PublishResult,
  ResumeResult,
} from './adapters/adapter.js'
