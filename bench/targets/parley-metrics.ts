import { parley, startParleyServer } from './parley.js'
import type { RunningServer, ServerSettings, Target } from './target.js'

/** How often the bench scrapes, as a Prometheus server would (15 s is the usual interval; 1 s is the harsh case). */
const SCRAPE_EVERY_MS = 1_000

/**
 * Parley with its Prometheus metrics on (`@parley/server-sdk/metrics`, prom-client): the `parley` target's server
 * and client, plus `parleyMetrics()` on a registry scraped every second. Run beside `parley` in one run
 * (`--targets parley,parley-metrics chat`) to see what counting and the timing histograms cost per delivery.
 */
export const parleyMetricsTarget: Target = {
  ...parley,
  name: 'parley-metrics',
  description: `${parley.description}; Prometheus metrics on (prom-client), scraped every ${SCRAPE_EVERY_MS} ms`,
  async startServer(_settings: ServerSettings): Promise<RunningServer> {
    const { parleyMetrics } = await import('@parley/server-sdk/metrics')
    return startParleyServer({}, undefined, (instance) => {
      const metrics = parleyMetrics(instance)
      let scrapes = 0
      const timer = setInterval(() => {
        void metrics.registry.metrics().then(() => scrapes++)
      }, SCRAPE_EVERY_MS)
      return () => {
        clearInterval(timer)
        metrics.stop()
        if (scrapes === 0) throw new Error('parley-metrics: the registry was never scraped')
      }
    })
  },
}
