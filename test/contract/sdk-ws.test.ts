import { contractTests, wsPairing } from '@parley/contract'
import { parleyClient, parleyServer } from '@parley/contract/parley'
import { describe, it } from 'vitest'

// The client SDK (its `ws` transport) and the server SDK over WebSocket on 127.0.0.1, through a fault proxy.
contractTests(
  wsPairing({ name: 'sdk ↔ server (ws)', server: parleyServer(), client: parleyClient() }),
  { describe, it },
)
