/**
 * What an operator of the chat gets (docs/operations.md): Prometheus metrics at /metrics, beside Node's own process
 * metrics on one registry, and the inspector page at /parley-inspector, opened with INSPECTOR_KEY (a random key,
 * printed at start, when it is not set). Shared by the Express and Koa examples.
 */
import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import { attachInspector, type Inspector } from '@parley/inspector'
import type { Parley } from '@parley/server-sdk'
import { parleyMetrics, type ParleyMetrics } from '@parley/server-sdk/metrics'
import { collectDefaultMetrics, Registry } from 'prom-client'

export interface ChatOperations {
  readonly metrics: ParleyMetrics
  readonly inspector: Inspector
  /** Lines for the start-up banner: where the page and the metrics are, and the key. */
  readonly banner: readonly string[]
}

export function chatOperations(server: Server, parley: Parley, env: NodeJS.ProcessEnv = process.env): ChatOperations {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const metrics = parleyMetrics(parley, { registry })
  const given = env['INSPECTOR_KEY']
  const key = given !== undefined && given !== '' ? given : randomBytes(12).toString('base64url')
  const inspector = attachInspector(server, parley, { key })
  return {
    metrics,
    inspector,
    banner: [
      `Inspector: ${inspector.path} (key: ${given !== undefined && given !== '' ? 'INSPECTOR_KEY' : key})   Metrics: /metrics`,
    ],
  }
}
