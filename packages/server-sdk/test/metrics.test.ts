import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Registry } from 'prom-client'
import { parleyMetrics } from '@parley/server-sdk/metrics'
import { BucketHistogram } from '../src/bucket-histogram.js'
import { createMemoryAdapter } from '@parley/server-sdk'
import { describe, expect, it } from 'vitest'
import { tryHandshake } from './helpers/fixtures.js'
import { connectAs, join, tokenAuth, useServers, waitUntil } from './helpers/harness.js'
import { parsePrometheusText, prometheusParserMissing, sampleOf } from './helpers/prometheus-text.js'

const missing = prometheusParserMissing()
if (missing !== undefined && process.env['CI'] === 'true') throw new Error(`metrics tests: ${missing}; .ci/run installs it`)
if (missing !== undefined) console.warn(`skipping the Prometheus exposition tests: ${missing}`)

const servers = useServers()

/** Serves `handler` on 127.0.0.1 and returns a scrape function. */
async function serve(handler: Parameters<typeof createServer>[1], defer: (cleanup: () => Promise<void>) => void): Promise<() => Promise<{ status: number; type: string; text: string }>> {
  const server: Server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  defer(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`
  return async () => {
    const response = await fetch(url)
    return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() }
  }
}

/** The value of one sample of an exposition (labels matched exactly), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return sampleOf(parsePrometheusText(text), name, labels)
}

describe.skipIf(missing !== undefined)('parleyMetrics (prom-client)', () => {
  it('a scrape during a scripted load parses as Prometheus text, and its counters match what was sent', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth, limits: { rate: { messages: 10_000, perMs: 1_000 } } })
    const registry = new Registry()
    // The app's own metric, on the same registry.
    new Counter({ name: 'app_requests_total', help: 'The app\'s own.', registers: [registry] }).inc(3)
    const metrics = parleyMetrics(parley, { registry })
    servers.defer(async () => metrics.stop())
    const scrape = await serve(metrics.handler, servers.defer)

    const members = await Promise.all(['ann', 'ben', 'cat'].map((user) => connectAs(url, user)))
    for (const member of members) await join(member, 'load')
    const [ann] = members as [(typeof members)[number]]
    const published = 200
    // The load runs while the scrapes do: each scrape must parse, whatever moment it catches.
    let sent = 0
    const load = (async () => {
      for (; sent < published; sent++) {
        ann.send({ type: 'publish', room: 'load', data: { n: sent }, id: `p${sent}` })
        if (sent % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
      }
    })()
    const during: string[] = []
    while (sent < published) during.push((await scrape()).text)
    await load
    await waitUntil(() => members.every((m) => m.received.filter((f) => f.type === 'message').length === published), 'every delivery')
    await waitUntil(() => ann.received.filter((f) => f.type === 'ack').length === published, 'every ack')
    expect(during.length).toBeGreaterThan(0)
    for (const text of during) expect(parsePrometheusText(text).length).toBeGreaterThan(20)

    // A refused handshake and a close with a code of the app's.
    expect(await tryHandshake(url, {})).toMatchObject({ kind: 'http', status: 401 })
    members[2]!.close(4000, 'bye')
    await waitUntil(() => parley.stats().connections === 2, 'cat gone')

    const { status, type, text } = await scrape()
    expect(status).toBe(200)
    expect(type).toBe(registry.contentType)
    expect(sample(text, 'app_requests_total')).toBe(3)
    expect(sample(text, 'parley_connections', { transport: 'websocket', protocol: 'parley.v1.json' })).toBe(2)
    expect(sample(text, 'parley_connections_opened_total')).toBe(3)
    expect(sample(text, 'parley_deliveries_total')).toBe(published * 3)
    expect(sample(text, 'parley_handshakes_refused_total', { code: 'UNAUTHORIZED' })).toBe(1)
    expect(sample(text, 'parley_closes_total', { code: 'other' })).toBe(1)
    expect(sample(text, 'parley_rooms')).toBe(1)
    expect(sample(text, 'parley_members')).toBe(2)
    expect(sample(text, 'parley_slow_consumers_total')).toBe(0)
    // In: 3 joins and 200 publishes. Out: 3 welcomes, 3 joined, 2 presence joins seen by those already in, 200 acks, 600 deliveries.
    expect(sample(text, 'parley_messages_received_total')).toBe(3 + published)
    expect(sample(text, 'parley_messages_sent_total')).toBe(parley.stats().messagesOut)
    expect(sample(text, 'parley_sent_bytes_total')).toBe(parley.stats().bytesOut)
    const families = parsePrometheusText(text)
    expect(families.find((f) => f.name === 'parley_publish_ack_seconds')?.type).toBe('histogram')
    expect(sampleOf(families, 'parley_publish_ack_seconds_count')).toBe(published)
    expect(sampleOf(families, 'parley_publish_ack_seconds_bucket', { le: '+Inf' })).toBe(published)
    expect(sampleOf(families, 'parley_adapter_seconds_count', { operation: 'publish' })).toBe(published)
    // The three joins came after the metrics were registered: each read the room's position once.
    expect(sampleOf(families, 'parley_adapter_seconds_count', { operation: 'resume' })).toBe(3)
    expect(families.find((f) => f.name === 'parley_deliveries')?.type).toBe('counter')
  })

  it('exposes what compression did: frames compressed and their bytes before and after, as stats() counts them', async () => {
    const { url, parley } = await servers.start({ authenticate: tokenAuth, compression: { threshold: 512 } })
    const members = await Promise.all(['ann', 'ben'].map((user) => connectAs(url, user)))
    for (const member of members) await join(member, 'zip')
    await parley.room('zip').publish({ text: 'compress me '.repeat(200) })
    for (const member of members) await member.next('message')
    const registry = new Registry()
    const metrics = parleyMetrics(parley, { registry })
    servers.defer(async () => metrics.stop())
    const text = await registry.metrics()
    const { frames, bytesBefore, bytesAfter } = parley.stats().compression
    expect(frames).toBeGreaterThanOrEqual(1)
    expect(bytesAfter).toBeLessThan(bytesBefore / 5)
    expect(sample(text, 'parley_compressed_frames_total')).toBe(frames)
    expect(sample(text, 'parley_compression_in_bytes_total')).toBe(bytesBefore)
    expect(sample(text, 'parley_compression_out_bytes_total')).toBe(bytesAfter)
  })

  it('scope cluster sums the nodes sharing an adapter; stop() takes the metrics off the registry', async () => {
    const adapter = createMemoryAdapter()
    const a = await servers.start({ adapter })
    const b = await servers.start({ adapter })
    await Promise.all([connectAs(a.url, 'x'), connectAs(b.url, 'y'), connectAs(b.url, 'z')])
    const registry = new Registry()
    const metrics = parleyMetrics(a.parley, { registry, scope: 'cluster', prefix: 'chat_' })
    const text = await registry.metrics()
    expect(sample(text, 'chat_connections_opened_total')).toBe(3)
    metrics.stop()
    expect(await registry.metrics()).toBe('\n')
  })

  it('the message-path histogram exposes cumulative buckets, sum and count as a Prometheus histogram, and resets', async () => {
    const registry = new Registry()
    const histogram = new BucketHistogram('t_seconds', 'test', [0.0005, 0.001])
    registry.registerMetric(histogram as unknown as Parameters<Registry['registerMetric']>[0])
    const fast = histogram.series({ operation: 'publish' })
    for (const value of [0.0002, 0.0005, 0.0007, 5]) fast(value)
    const families = parsePrometheusText(await registry.metrics())
    expect(families.find((f) => f.name === 't_seconds')?.type).toBe('histogram')
    const bucket = (le: string): number | undefined => sampleOf(families, 't_seconds_bucket', { le, operation: 'publish' })
    expect([bucket('0.0005'), bucket('0.001'), bucket('+Inf')]).toEqual([2, 3, 4])
    expect(sampleOf(families, 't_seconds_count', { operation: 'publish' })).toBe(4)
    expect(sampleOf(families, 't_seconds_sum', { operation: 'publish' })).toBeCloseTo(5.0014, 6)
    registry.resetMetrics()
    expect(sampleOf(parsePrometheusText(await registry.metrics()), 't_seconds_count', { operation: 'publish' })).toBe(0)
  })

  it('with scope cluster, a scrape some node did not answer is a 500, not sums that read as a counter reset', async () => {
    const { parley: real } = await servers.start()
    const stats = real.stats()
    const parley = {
      ready: Promise.resolve(),
      observeTimings: () => () => undefined,
      clusterStats: async () => ({ total: stats, nodes: [], partial: true }),
    } as unknown as Parameters<typeof parleyMetrics>[0]
    const metrics = parleyMetrics(parley, { scope: 'cluster' })
    const scrape = await serve(metrics.handler, servers.defer)
    const answer = await scrape()
    expect(answer.status).toBe(500)
    expect(answer.text).toContain('did not answer')
  })

  it('refuses bad options with INVALID_OPTION', () => {
    const parley = { ready: Promise.resolve() } as unknown as Parameters<typeof parleyMetrics>[0]
    expect(() => parleyMetrics(parley, { prefix: 'bad prefix' })).toThrow(/prefix/)
    expect(() => parleyMetrics(parley, { scope: 'planet' as 'node' })).toThrow(/scope/)
    expect(() => parleyMetrics(parley, { ackBuckets: [0.1, 0.05] })).toThrow(/ackBuckets/)
  })
})
