import { createConnection } from 'node:net'

/**
 * Whether Redis answers on 127.0.0.1:6379. Tests that need it skip with a printed reason when it is missing, and
 * fail instead when PARLEY_REQUIRE_REDIS=1 (CI), so a missing install step cannot pass unnoticed.
 */
export async function redisAvailable(port = 6379): Promise<boolean> {
  const up = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => {
      socket.write('PING\r\n')
      socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
    })
  })
  if (!up && process.env['PARLEY_REQUIRE_REDIS'] === '1') {
    throw new Error(`Redis is required (PARLEY_REQUIRE_REDIS=1) but does not answer on 127.0.0.1:${port}`)
  }
  if (!up) console.warn(`[parley] skipping Redis tests: no Redis answers on 127.0.0.1:${port} (start one, or set PARLEY_REQUIRE_REDIS=1 to make this an error)`)
  return up
}
