import { parseSubprotocolHeader, TOKEN_SUBPROTOCOL_PREFIX } from '@parley/protocol'
import type { HandshakeHeaders } from './connection.js'

function header(headers: HandshakeHeaders, name: string): string | undefined {
  const value = headers[name]
  return typeof value === 'string' ? value : value?.join(', ')
}

/**
 * Finds the token of an HTTP request, for the transports that read HTTP headers: `Authorization: Bearer`, the token
 * cookie (unless `cookieName` is false), `?token=`, or a `parley.token.<t>` entry of `Sec-WebSocket-Protocol`.
 */
export function findToken(headers: HandshakeHeaders, url: string | undefined, cookieName: string | false): string | undefined {
  const authorization = header(headers, 'authorization')
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match !== null) return match[1]
  }
  const cookie = cookieName === false ? undefined : header(headers, 'cookie')
  if (cookie !== undefined) {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=')
      if (eq > 0 && part.slice(0, eq).trim() === cookieName) {
        const raw = part.slice(eq + 1).trim()
        try {
          return decodeURIComponent(raw)
        } catch {
          return raw
        }
      }
    }
  }
  // A target without a query has no `?token=`: the URL parser runs only for one that has.
  const query = url?.includes('?') === true ? new URL(url, 'http://localhost').searchParams.get('token') : null
  if (query !== null && query !== '') return query
  for (const entry of parseSubprotocolHeader(header(headers, 'sec-websocket-protocol'))) {
    if (entry.startsWith(TOKEN_SUBPROTOCOL_PREFIX) && entry.length > TOKEN_SUBPROTOCOL_PREFIX.length) {
      return entry.slice(TOKEN_SUBPROTOCOL_PREFIX.length)
    }
  }
  return undefined
}
