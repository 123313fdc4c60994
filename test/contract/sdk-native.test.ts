import { contractTests, wsPairing } from '@parley/contract'
import { NATIVE_WEBSOCKET_NOT_APPLICABLE, parleyClient, parleyServer } from '@parley/contract/parley'
import { describe, it } from 'vitest'

// The client SDK on the runtime's WHATWG WebSocket (Node 20 with --experimental-websocket, as vitest's workers run):
// the browser path, with the token as a `parley.token.*` subprotocol entry. Such a socket cannot read an HTTP 401, so
// auth-rejected does not apply (protocol §2.4: it retries with backoff instead).
contractTests(
  wsPairing({
    name: 'sdk native WebSocket ↔ server',
    server: parleyServer(),
    client: parleyClient({ transport: 'native' }),
    notApplicable: NATIVE_WEBSOCKET_NOT_APPLICABLE,
  }),
  { describe, it },
)
