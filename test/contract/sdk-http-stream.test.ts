import { contractTests, wsPairing } from '@parley/contract'
import { parleyClient, parleyServer } from '@parley/contract/parley'
import { describe, it } from 'vitest'

// The client SDK over the HTTP stream transport (server-sent events down, POSTs up) and the server SDK's stream
// endpoint on 127.0.0.1, through the same TCP fault proxy as the WebSocket pairings: every scenario, recovery and
// graceful shutdown included.
contractTests(
  wsPairing({ name: 'sdk http-stream ↔ server', server: parleyServer(), client: parleyClient({ transport: 'http-stream' }) }),
  { describe, it },
)
