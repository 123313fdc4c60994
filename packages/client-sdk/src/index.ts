export { createClient, type Client, type ClientEvents, type JoinOptions, type ReconnectEvent, type RequestOptions } from './create-client.js'
export { DEFAULTS, type ClientOptions, type ReconnectOptions, type TokenResult } from './options.js'
export { STATE_TRANSITIONS, canTransition, type ClientState } from './state.js'
export { backoffDelayMs, decideReconnect, shouldReconnect, type ReconnectDecision } from './reconnect.js'
export {
  AuthError,
  ParleyClientError,
  UnsupportedProtocolError,
  toParleyClientError,
  type ClientErrorCode,
  type ParleyClientErrorDetails,
} from './client-error.js'
export type {
  CountEvent,
  HistoryOptions,
  HistoryPage,
  JoinedEvent,
  LeftEvent,
  Member,
  PresenceEvent,
  PublishAck,
  PublishOptions,
  Room,
  RoomEvents,
  RoomMessageEvent,
  RoomState,
  SignalEvent,
  SignalOptions,
  TypingEvent,
} from './room.js'
export type { ClientTransport, TransportFactory, TransportRequest } from './transports/transport.js'
export { websocketTransport, type WebSocketConstructor, type WebSocketLike, type WebSocketTransportOptions } from './transports/websocket.js'
export { createLoopbackTransport, type LoopbackClientEnd } from './transports/loopback.js'
export { httpStreamTransport, type HttpStreamTransportOptions } from './transports/http-stream.js'
export { autoTransport, forgetTransportChoice, type AutoTransportOptions, type TransportName } from './transports/auto.js'
export type { Logger, LogFields } from '@parley/protocol'
