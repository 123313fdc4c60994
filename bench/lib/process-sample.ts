import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

/**
 * A snapshot of one process's counters. Children take them when asked (over IPC), so CPU time and event-loop
 * utilisation are always the process's own: `process.cpuUsage()` (user + system, GC helper threads included) and
 * `performance.eventLoopUtilization()`.
 */
export interface ProcessSample {
  /** Wall clock, ms since the epoch with sub-ms precision (comparable across processes). */
  readonly at: number
  /** CPU time in µs. */
  readonly user: number
  readonly system: number
  /** Cumulative event-loop idle and active time in ms. */
  readonly idle: number
  readonly active: number
  readonly rss: number
  readonly heapUsed: number
  /** V8 heap committed (heap pages RSS counts, used or not). */
  readonly heapTotal: number
  readonly external: number
  /**
   * Bytes the process has read and written through system calls (Linux `/proc/self/io`: `rchar`, `wchar`), 0 where
   * that is not available. In a bench child nearly all of it is its sockets: the bytes on the wire, compressed or not.
   */
  readonly readBytes: number
  readonly writtenBytes: number
}

/** `rchar` and `wchar` of `/proc/self/io`, or zeros. */
function ioBytes(): { readBytes: number; writtenBytes: number } {
  try {
    const io = readFileSync('/proc/self/io', 'utf8')
    return { readBytes: Number(/^rchar: (\d+)/m.exec(io)?.[1] ?? 0), writtenBytes: Number(/^wchar: (\d+)/m.exec(io)?.[1] ?? 0) }
  } catch {
    return { readBytes: 0, writtenBytes: 0 }
  }
}

export function sampleProcess(): ProcessSample {
  const cpu = process.cpuUsage()
  const elu = performance.eventLoopUtilization()
  const memory = process.memoryUsage()
  return {
    at: performance.timeOrigin + performance.now(),
    user: cpu.user,
    system: cpu.system,
    idle: elu.idle,
    active: elu.active,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    ...ioBytes(),
  }
}

/** What a process did between two samples. */
export interface ProcessDelta {
  readonly wallMs: number
  /** CPU time (user + system) in ms; can exceed wall time when helper threads (GC) run in parallel. */
  readonly cpuMs: number
  readonly systemMs: number
  /** CPU time ÷ wall time: 1 = one core busy. */
  readonly cores: number
  /** Event-loop utilisation in [0, 1]. */
  readonly elu: number
  /** Bytes read and written through system calls between the samples (see {@link ProcessSample}). */
  readonly readBytes: number
  readonly writtenBytes: number
}

export function processDelta(from: ProcessSample, to: ProcessSample): ProcessDelta {
  const wallMs = to.at - from.at
  const cpuMs = (to.user - from.user + to.system - from.system) / 1_000
  const active = to.active - from.active
  const idle = to.idle - from.idle
  return {
    wallMs,
    cpuMs,
    systemMs: (to.system - from.system) / 1_000,
    cores: wallMs > 0 ? cpuMs / wallMs : 0,
    elu: active + idle > 0 ? active / (active + idle) : 0,
    readBytes: to.readBytes - from.readBytes,
    writtenBytes: to.writtenBytes - from.writtenBytes,
  }
}
