export { attach } from './attach.js'
export { Parley, createParley, MAX_HISTORY_PAGE, type RequestContext, type RequestHandler, type RoomHandle, type UserHandle } from './parley.js'
export { checkControl, isAppCloseCode, type ControlCommand, type ControlReport } from './control.js'
export type { ParleyEvents } from './hub.js'
export { INSPECTED_ROOMS_PER_SESSION, INSPECTED_SESSIONS, MAX_INSPECTED_ROOMS, type NodeInspection, type SessionInfo } from './inspection.js'
export type { LocalRoomInfo } from './room.js'
export type {
  AuthenticateContext,
  AuthorizeContext,
  CompressionOptions,
  HandshakeRequest,
  Logger,
  LogFields,
  PresenceAnnouncements,
  RateLimit,
  ResolvedOptions,
  RoomAction,
  ServerOptions,
  ServerUser,
} from './options.js'
export type { Middleware, MiddlewareContext } from './pipeline.js'
export type { ParleySession } from './session.js'
export { recoveryOutcome, RECENT_ERRORS, type CompressionStats, type ParleyStats, type RecentError, type RecoveryOutcome, type TimingObserver } from './stats.js'
export { optionError, ParleyServerError, RequestError, toParleyError, type ParleyOptionError, type ServerErrorCode } from './server-error.js'
export { sameSecret } from './same-secret.js'
export { Frame, type Connection, type Handshake, type HandshakeHeaders, type Refusal } from './transports/connection.js'
export { createLoopback, type LoopbackPeer } from './transports/loopback.js'
export { createMemoryAdapter, type MemoryAdapterOptions } from './adapters/memory.js'
export type { HistoryQuery, HistoryRows, HistorySearch, HistoryStore, StoredMessage } from './history-store.js'
export { createMemoryHistory, type MemoryHistoryOptions } from './memory-history.js'
export { MAX_SEARCH_TEXT, searchTextOf, searchTerms } from './search-text.js'
export type { HistoryPageResult } from './room-history.js'
export type { HistoryWriterStats } from './history-writer.js'
export type { MembersPage } from './members-page.js'
export type {
  Adapter,
  AdapterHooks,
  AdapterNode,
  AdapterNodeConfig,
  ClusterStats,
  HistoryPage,
  MemberSnapshot,
  NodeStats,
  PresenceEntry,
  PublishRequest,
  PublishResult,
  ResumeResult,
} from './adapters/adapter.js'
// The adapter kit: what every adapter needs, written once (docs/adapters.md, "Writing an adapter").
export { gapAfter, replayStart, resumeResult, type RoomHead } from './adapters/kit.js'
export { describeError, SILENT_LOGGER } from './logging.js'
export { limitCloseReason, randomId } from '@parley/protocol'
export { parleyApi, type HttpApiError, type HttpApiHandler, type HttpApiOptions } from './http-api.js'
export { OPENAPI_DOCUMENT } from './http-api-spec.js'
export { checkForward, nodeOfStream, type ForwardAnswer, type ForwardRequest } from './transports/forwarding.js'
export { takeRequests } from './transports/request-takeover.js'
