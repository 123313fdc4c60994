import { createServer } from 'node:http'
import { attach } from '@parley/server-sdk'
const http = createServer()
const parley = attach(http, {})
http.listen(0, '127.0.0.1', async () => {
  await parley.ready
  process.send?.({ port: (http.address() as { port: number }).port })
})
