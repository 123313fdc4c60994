/**
 * Runs the Parley contract suite against "your server" (my-server.ts) with two clients: the raw scripted client
 * (frames straight from the protocol's test vectors) and the Parley client SDK. Prints the matrix; exits 1 when a
 * scenario fails.
 *
 *   npx tsx examples/contract-testing/run.ts                                  # every scenario
 *   npx tsx examples/contract-testing/run.ts --scenarios publish-ack,join-leave
 */
import { formatMatrix, rawClient, runContract, wsPairing } from '@parley/contract'
import { parleyClient } from '@parley/contract/parley'
import { myServer } from './my-server.js'

const flag = process.argv.indexOf('--scenarios')
const scenarios = flag === -1 ? undefined : (process.argv[flag + 1] ?? '').split(',').filter((id) => id !== '')

const started = Date.now()
const results = await runContract(
  [
    wsPairing({ name: 'raw client ↔ my server', server: myServer, client: rawClient() }),
    wsPairing({ name: 'parley client ↔ my server', server: myServer, client: parleyClient() }),
  ],
  { scenarios },
)
console.log(formatMatrix(results))
console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`)
process.exitCode = results.some((result) => result.status === 'fail') ? 1 : 0
