import { createLoopbackTransport, type LoopbackClientEnd } from '@parley/client-sdk'
import { negotiate, SUBPROTOCOL_V1_JSON } from '@parley/protocol'
import { createLoopback, createMemoryAdapter, createParley, Frame, type Connection, type LoopbackPeer, type Parley } from '@parley/server-sdk'
import { referenceServerOptions, serveContractRequests } from './parley-server.js'
import { sdkClient, type FrameTransform } from './sdk-client.js'
import type { ContractClient, Network, Pairing, PairingSession } from './types.js'
import { asPeer } from './ws-pairing.js'

/** A deliberate fault in what the server sends, for negative tests that prove the suite notices a broken encoder. */
export interface ServerFault {
  /** Rewrites every frame the server sends. */
  readonly frame?: FrameTransform | undefined
  /** Changes the close codes the server sends. */
  readonly closeCode?: ((code: number) => number) | undefined
}

/** Options of {@link parleyLoopbackPairing}. */
export interface LoopbackPairingOptions {
  /** @default 'sdk ↔ server (loopback)' */
  readonly name?: string | undefined
  /** Breaks the server's side of the wire (negative tests only). */
  readonly serverFault?: ServerFault | undefined
  /** Rewrites every frame the client sends (negative tests only). */
  readonly clientOutgoing?: FrameTransform | undefined
  readonly notApplicable?: Readonly<Record<string, string>> | undefined
}

const LOOPBACK_URL = (node: number): string => `loopback://node-${node}/parley`

/** A server Connection whose outgoing frames and close codes go through a fault. */
function faulty(connection: Connection, fault: ServerFault): Connection {
  return {
    get protocol() {
      return connection.protocol
    },
    get bufferedAmount() {
      return connection.bufferedAmount
    },
    send: (frame) => connection.send(fault.frame === undefined ? frame : new Frame(fault.frame(frame.text))),
    close: (code, reason) => connection.close(fault.closeCode === undefined ? code : fault.closeCode(code), reason),
    terminate: () => connection.terminate(),
    ping: () => connection.ping(),
    onMessage: (listener) => connection.onMessage(listener),
    onPong: (listener) => connection.onPong(listener),
    onClose: (listener) => connection.onClose(listener),
  }
}

/**
 * The client SDK and the server SDK with no sockets at all: the client's `createLoopbackTransport` is bridged to the
 * server's `createLoopback()` and handed to `parley.accept()`. Refusals take the in-band path here (close 4401 /
 * 4406 after the connection opened), where the WebSocket transport answers in HTTP (401 / 426).
 */
export function parleyLoopbackPairing(options: LoopbackPairingOptions = {}): Pairing {
  return {
    name: options.name ?? 'sdk ↔ server (loopback)',
    notApplicable: options.notApplicable,
    async start(setup, { timeoutMs }): Promise<PairingSession> {
      const adapter = createMemoryAdapter()
      const nodes: Parley[] = Array.from({ length: setup.nodes }, () => {
        const node = createParley(referenceServerOptions(setup, adapter))
        serveContractRequests(node, setup)
        return node
      })
      await Promise.all(nodes.map((node) => node.ready))
      const clients: ContractClient[] = []
      return {
        async connect(clientOptions = {}) {
          let offline = false
          let current: { end: LoopbackClientEnd; peer: LoopbackPeer } | undefined
          const transport = createLoopbackTransport((end) => {
            const node = nodes[Number(/node-(\d+)/.exec(end.request.url)?.[1])]
            if (offline || node === undefined) {
              end.close(1006, 'offline')
              return
            }
            // The subprotocol the handshake would select; on no common version the server refuses in band (4406).
            const negotiated = negotiate(end.request.protocols, setup.protocols)
            const protocol = negotiated.ok ? negotiated.protocol : (end.request.protocols[0] ?? SUBPROTOCOL_V1_JSON)
            const { connection, peer } = createLoopback(protocol)
            peer.onMessage((frame) => end.send(frame))
            peer.onClose((code, reason) => end.close(code, reason))
            end.onMessage((frame) => peer.send(frame))
            end.onClose((code, reason) => peer.close(code, reason))
            end.accept(protocol)
            current = { end, peer }
            const served = options.serverFault === undefined ? connection : faulty(connection, options.serverFault)
            void node.accept(served, { protocols: end.request.protocols, token: end.request.token })
          })
          const urls = (clientOptions.nodes ?? [0]).map(LOOPBACK_URL)
          const client = sdkClient(urls, clientOptions, { transport, timeoutMs, outgoing: options.clientOutgoing })
          clients.push(client)
          const drop = (): void => current?.end.close(1006, '')
          const network: Network = {
            drop,
            offline() {
              offline = true
              drop()
            },
            online() {
              offline = false
            },
            stall: () => current?.peer.pause(),
            resume: () => current?.peer.resume(),
          }
          return asPeer(client, network, urls)
        },
        shutdown: async (index) => {
          const node = nodes[index]
          if (node === undefined) throw new Error(`no node ${index}`)
          await node.close()
        },
        async close() {
          await Promise.allSettled(clients.map((client) => client.close()))
          await Promise.allSettled(nodes.map((node) => node.close()))
        },
      }
    },
  }
}
