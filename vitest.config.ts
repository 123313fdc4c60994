import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string, entry = 'index'): string => fileURLToPath(new URL(`./packages/${pkg}/src/${entry}.ts`, import.meta.url))

// One configuration for every package: tests import each package's `src` through these aliases, so no build is
// needed to test. Node 20 has no global WebSocket without --experimental-websocket, and msw's WebSocket
// interception needs one, so test workers get the flag.
export default defineConfig({
  resolve: {
    alias: {
      '@parley/protocol': src('protocol'),
      '@parley/server-sdk/metrics': src('server-sdk', 'metrics'),
      '@parley/server-sdk': src('server-sdk'),
      '@parley/client-sdk': src('client-sdk'),
      '@parley/redis-adapter': src('redis-adapter'),
      '@parley/postgres-history': src('postgres-history'),
      '@parley/inspector': src('inspector'),
      // Subpath first: an alias matches by prefix, so '@parley/contract' alone would swallow it.
      '@parley/contract/parley': src('contract', 'parley'),
      '@parley/contract': src('contract'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--experimental-websocket'] } },
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
