import './msw-listener-limit.js'
import { contractTests } from '@parley/contract'
import { setupServer } from 'msw/node'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { mswVectorPairing } from './msw-vector-server.js'

// The consumer side: the client SDK on its default transport (the global WebSocket, intercepted by msw) against a mock
// whose every frame is made from the protocol's server test vectors. Its own file: msw patches this worker's globals.
const mock = setupServer()
beforeAll(() => mock.listen({ onUnhandledRequest: 'error' }))
afterAll(() => mock.close())

contractTests(mswVectorPairing(mock), { describe, it })
