import { contractTests } from '@parley/contract'
import { parleyLoopbackPairing } from '@parley/contract/parley'
import { describe, it } from 'vitest'

// The client SDK and the server SDK with no sockets: createLoopbackTransport bridged to createLoopback + accept().
contractTests(
  parleyLoopbackPairing(),
  { describe, it },
)
