import { parseSubprotocol, parseSubprotocolHeader, TOKEN_SUBPROTOCOL_PREFIX } from '@parley/protocol'

/**
 * The Parley subprotocols a `Sec-WebSocket-Protocol` header offers, read once per distinct header. Clients of one SDK
 * send the same header, so the last one read is kept with its answer (frozen: every handshake that sent it shares
 * it). A header with a token entry is read afresh and never kept: it differs per client, and its token would
 * outlive the connection here.
 */
export class OfferedVersions {
  #lastHeader: string | undefined
  #lastVersions: readonly string[] = Object.freeze([])

  read(header: string | undefined): readonly string[] {
    if (header === this.#lastHeader) return this.#lastVersions
    const versions = Object.freeze(parseSubprotocolHeader(header).filter((entry) => parseSubprotocol(entry) !== undefined))
    if (header?.includes(TOKEN_SUBPROTOCOL_PREFIX) === true) return versions
    this.#lastHeader = header
    this.#lastVersions = versions
    return versions
  }
}
