import { isDeepStrictEqual } from 'node:util'
import { decode, encode, type RoomMessage } from '@parley/protocol'
import { formatCount, formatPercent } from '../lib/format.js'
import type { Row, Scenario } from '../lib/scenario.js'
import { measureThroughput, pairedRatio, throughputSettings, type ThroughputStats } from '../lib/throughput.js'

/**
 * What validation costs on the hot path. Every inbound frame goes through `decode` (size check, JSON.parse, tree
 * check, shape check) and every outbound message through `encode` (tree and shape check, JSON.stringify). Baselines
 * are the bare JSON calls on the same input, so the overhead is what Parley adds. Target (protocol issue):
 * decode + validation adds at most 25 % over JSON.parse.
 */

/** A typical client publish, as it arrives off the wire. */
const PUBLISH_FRAME =
  '{"type":"publish","room":"general","id":"m-000123","data":{"text":"hello everyone, how is it going?","mentions":["alice"]}}'

/** A typical server fan-out message, as the hub builds it before encoding once per room. */
const ROOM_MESSAGE: RoomMessage = {
  type: 'message',
  room: 'general',
  seq: 123,
  epoch: 'e-7f3a9c',
  from: 'alice',
  ts: 1_732_240_000_000,
  data: { text: 'hello everyone, how is it going?', mentions: ['alice'] },
}

/** Limits passed on each call, as the server SDK does: its own `maxPayload`, in an object it froze once. */
const SERVER_LIMITS = Object.freeze({ maxPayload: 64 * 1024 })

const DECODE_TARGET = 0.25

function checkOutputs(): void {
  const decoded = decode(PUBLISH_FRAME, { from: 'client' })
  const expected = { type: 'publish', room: 'general', id: 'm-000123', data: JSON.parse(PUBLISH_FRAME).data as unknown }
  if (!decoded.ok || !isDeepStrictEqual({ ...decoded.message }, expected)) {
    throw new Error(`decode did not return the expected message: ${JSON.stringify(decoded)}`)
  }
  if (encode(ROOM_MESSAGE) !== JSON.stringify(ROOM_MESSAGE)) throw new Error('encode and JSON.stringify disagree')
}

const scenario: Scenario = {
  name: 'protocol-decode',
  title: 'decode + validate vs JSON.parse, encode + validate vs JSON.stringify (one typical frame, one core)',
  async run({ quick, log }) {
    checkOutputs()
    const settings = throughputSettings(quick)
    log(`  ${settings.rounds} rounds × ${settings.roundMs} ms per case after ${settings.warmupMs} ms warm-up`)
    const [parse, decodeDefault, decodeLimits, stringify, encodeDefault] = measureThroughput(
      [
        { name: 'JSON.parse', fn: () => JSON.parse(PUBLISH_FRAME) },
        { name: 'decode', fn: () => decode(PUBLISH_FRAME, { from: 'client' }) },
        { name: 'decode (limits per call)', fn: () => decode(PUBLISH_FRAME, { from: 'client', limits: SERVER_LIMITS }) },
        { name: 'JSON.stringify', fn: () => JSON.stringify(ROOM_MESSAGE) },
        { name: 'encode', fn: () => encode(ROOM_MESSAGE) },
      ],
      settings,
    ) as [ThroughputStats, ThroughputStats, ThroughputStats, ThroughputStats, ThroughputStats]

    // Overhead = extra time per operation relative to the baseline = baseline ops/s ÷ case ops/s − 1.
    const overhead = {
      decode: pairedRatio(parse, decodeDefault) - 1,
      decodeLimitsPerCall: pairedRatio(parse, decodeLimits) - 1,
      encode: pairedRatio(stringify, encodeDefault) - 1,
    }
    const row = (group: string, stats: ThroughputStats, extra: number | undefined): Row => ({
      group,
      case: stats.name,
      'ops/s (median)': formatCount(stats.medianOpsPerSec),
      'ns/op': stats.nsPerOp.toFixed(0),
      'round spread': `±${(((stats.maxOpsPerSec - stats.minOpsPerSec) / 2 / stats.medianOpsPerSec) * 100).toFixed(1)} %`,
      overhead: extra === undefined ? 'baseline' : formatPercent(extra),
    })
    const met = overhead.decode <= DECODE_TARGET
    return {
      table: [
        row('decode', parse, undefined),
        row('decode', decodeDefault, overhead.decode),
        row('decode', decodeLimits, overhead.decodeLimitsPerCall),
        row('encode', stringify, undefined),
        row('encode', encodeDefault, overhead.encode),
      ],
      notes: [
        `decode + validation adds ${formatPercent(overhead.decode)} over JSON.parse ` +
          `(target ≤ ${formatPercent(DECODE_TARGET)}): ${met ? 'met' : 'NOT met'}`,
        `encode + validation adds ${formatPercent(overhead.encode)} over JSON.stringify (no target set)`,
        'overhead = median over rounds of (baseline ops/s ÷ case ops/s) − 1, rounds interleaved',
      ],
      data: {
        protocolModule: import.meta.resolve('@parley/protocol'),
        frame: PUBLISH_FRAME,
        frameBytes: Buffer.byteLength(PUBLISH_FRAME),
        message: ROOM_MESSAGE,
        settings,
        target: { decodeOverheadMax: DECODE_TARGET, met },
        overhead,
        cases: [parse, decodeDefault, decodeLimits, stringify, encodeDefault],
      },
    }
  },
}

export default scenario
