/**
 * Writes docs/openapi.json from the document the HTTP API serves (packages/server-sdk/src/http-api-spec.ts).
 * Run after changing the API: `npm run openapi`. A test fails while the two differ.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { OPENAPI_DOCUMENT } from '@parley/server-sdk'

const target = fileURLToPath(new URL('../docs/openapi.json', import.meta.url))
writeFileSync(target, `${JSON.stringify(OPENAPI_DOCUMENT, null, 2)}\n`)
console.log(`wrote ${target}`)
