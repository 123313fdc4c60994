import { contractTests, rawClient, wsPairing } from '@parley/contract'
import { parleyServer } from '@parley/contract/parley'
import { describe, it } from 'vitest'

// The provider side: frames straight from the protocol's client vectors, over plain `ws`, against the server SDK.
contractTests(
  wsPairing({ name: 'raw ws ↔ server', server: parleyServer(), client: rawClient() }),
  { describe, it },
)
