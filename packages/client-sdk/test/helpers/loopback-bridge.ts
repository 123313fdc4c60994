import { createLoopbackTransport, type TransportFactory, type TransportRequest } from '@parley/client-sdk'
import { negotiate } from '@parley/protocol'
import { createLoopback, type Parley } from '@parley/server-sdk'

/** Options of {@link loopbackTransportFor}. */
export interface LoopbackBridgeOptions {
  /** Awaited before each attempt reaches the server, so a test can hold reconnects while it changes the world. */
  readonly beforeAccept?: ((request: TransportRequest) => void | Promise<void>) | undefined
}

/**
 * The client SDK's loopback transport wired to a server SDK instance with no sockets: every connection attempt
 * makes a server loopback pair, selects the subprotocol the server would (the protocol's `negotiate`), bridges the
 * client end and the server's peer (frames and closes, both ways, in order) and hands the server end to
 * `parley.accept()` with the attempt's subprotocols and token. Refusals therefore arrive as in-band closes (4401,
 * 4406, ...), the way any transport without an HTTP answer reports them.
 */
export function loopbackTransportFor(parley: Parley, options: LoopbackBridgeOptions = {}): TransportFactory {
  return createLoopbackTransport((end) => {
    // The end may be abandoned (client closed, connect timeout) while the attempt is held: remember it, so no
    // server session is opened for a client that is gone.
    let clientClosed: { code: number; reason: string } | undefined
    let toServer: (code: number, reason: string) => void = (code, reason) => void (clientClosed = { code, reason })
    end.onClose((code, reason) => toServer(code, reason))
    void (async () => {
      await options.beforeAccept?.(end.request)
      if (clientClosed !== undefined) return
      const negotiation = negotiate(end.request.protocols)
      // With no common version the client end still opens (as an upgrade without a subprotocol would) and the
      // server's accept() then closes it with 4406.
      const { connection, peer } = createLoopback(negotiation.ok ? negotiation.protocol : '')
      peer.onMessage((frame) => end.send(frame))
      peer.onClose((code, reason) => end.close(code, reason))
      end.onMessage((frame) => peer.send(frame))
      toServer = (code, reason) => peer.close(code, reason)
      end.accept(connection.protocol)
      await parley.accept(connection, { protocols: end.request.protocols, token: end.request.token, remoteAddress: 'loopback' })
    })()
  })
}
