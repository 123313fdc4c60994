/** A WebSocket opening handshake by hand: what a server answers before any socket opens. */
import { request } from 'node:http'

/**
 * Sends an upgrade request to `/parley` with `token` in the query (`via: 'query'`, the default) or as
 * `Authorization: Bearer` (`via: 'header'`), and resolves with the status: 101 when the server upgrades (the socket
 * is dropped at once), else its refusal and JSON body.
 */
export function upgradeStatus(port: number, token: string, via: 'query' | 'header' = 'query'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: via === 'query' ? `/parley?token=${encodeURIComponent(token)}` : '/parley',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol': 'parley.v1.json',
        ...(via === 'header' ? { Authorization: `Bearer ${token}` } : {}),
      },
    })
    req.on('response', (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    req.on('upgrade', (_response, socket) => {
      socket.destroy()
      resolve({ status: 101, body: '' })
    })
    req.on('error', reject)
    req.end()
  })
}
