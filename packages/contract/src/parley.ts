/**
 * `@parley/contract/parley`: the Parley SDKs as contract participants (`parleyServer()` for `wsPairing`'s server side,
 * `parleyClient()` for its client side) and the in-memory pairing of both (`parleyLoopbackPairing()`). Needs
 * `@parley/server-sdk` and/or `@parley/client-sdk` installed (optional peer dependencies).
 */
export { parleyServer, referenceServerOptions, serveContractRequests, type ParleyServerOptions } from './parley-server.js'
export { parleyClient, sdkClient, type FrameTransform, type ParleyClientOptions } from './sdk-client.js'
export { parleyLoopbackPairing, type LoopbackPairingOptions, type ServerFault } from './loopback-pairing.js'

/**
 * The scenarios a client on a WHATWG WebSocket (browsers, Node's global one) cannot run: it cannot read an HTTP
 * refusal such as the 401 of a bad token, sees a 1006 drop instead and retries with backoff, as protocol §2.4
 * requires. (A version mismatch does reach it, through the `parley.negotiate` fallback and close 4406.)
 */
export const NATIVE_WEBSOCKET_NOT_APPLICABLE: Readonly<Record<string, string>> = Object.freeze({
  'auth-rejected': 'a WHATWG WebSocket sees the HTTP 401 as a 1006 drop and retries with backoff (protocol §2.4)',
})
