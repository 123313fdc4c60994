import { startFaultProxy, type FaultProxy } from './fault-proxy.js'
import type { ClientFactory, ContractClient, Network, Pairing, PairingSession, Peer, WsServer } from './types.js'

/** Options of {@link wsPairing}. */
export interface WsPairingOptions {
  /** The name shown in the matrix. */
  readonly name: string
  readonly server: WsServer
  readonly client: ClientFactory
  /** Scenarios this pairing cannot run, with the reason (shown as n/a). */
  readonly notApplicable?: Readonly<Record<string, string>> | undefined
}

/**
 * A pairing over real WebSocket connections on 127.0.0.1: any {@link WsServer} (yours, or `parleyServer()`) with any
 * client kind (`rawClient()`, `parleyClient()`, or yours). Each client reaches each node through a TCP fault proxy of
 * its own, which gives scenarios the {@link Network} controls without either side's cooperation.
 */
export function wsPairing(options: WsPairingOptions): Pairing {
  return {
    name: options.name,
    notApplicable: options.notApplicable,
    async start(setup, { timeoutMs }): Promise<PairingSession> {
      const running = await options.server.start(setup)
      const proxies: FaultProxy[] = []
      const clients: ContractClient[] = []
      return {
        async connect(clientOptions = {}) {
          const mine = await Promise.all(
            (clientOptions.nodes ?? [0]).map((node) => {
              const url = running.urls[node]
              if (url === undefined) throw new Error(`the server has no node ${node}`)
              return startFaultProxy(url)
            }),
          )
          proxies.push(...mine)
          const urls = mine.map((proxy) => proxy.url)
          const client = options.client({ urls, options: clientOptions, timeoutMs })
          clients.push(client)
          const network: Network = {
            drop: () => mine.forEach((proxy) => proxy.drop()),
            offline: () => mine.forEach((proxy) => proxy.offline()),
            online: () => mine.forEach((proxy) => proxy.online()),
            stall: () => mine.forEach((proxy) => proxy.stall()),
            resume: () => mine.forEach((proxy) => proxy.resume()),
          }
          return asPeer(client, network, urls)
        },
        shutdown: (node) => running.shutdown(node),
        async close() {
          await Promise.allSettled(clients.map((client) => client.close()))
          await Promise.allSettled(proxies.map((proxy) => proxy.close()))
          await running.close()
        },
      }
    },
  }
}

/** A client with its network and URLs: the object scenarios drive. */
export function asPeer(client: ContractClient, network: Network, urls: readonly string[]): Peer {
  return {
    network,
    urls,
    get welcomes() {
      return client.welcomes
    },
    get closes() {
      return client.closes
    },
    get attempts() {
      return client.attempts
    },
    get failure() {
      return client.failure
    },
    get violations() {
      return client.violations
    },
    join: (room, joinOptions) => client.join(room, joinOptions),
    leave: (room) => client.leave(room),
    publish: (room, data, publishOptions) => client.publish(room, data, publishOptions),
    signal: (room, key, value, ttlMs) => client.signal(room, key, value, ttlMs),
    setPresence: (room, presence) => client.setPresence(room, presence),
    request: (name, input) => client.request(name, input),
    refreshed: () => client.refreshed(),
    room: (name) => client.room(name),
    close: () => client.close(),
  }
}
