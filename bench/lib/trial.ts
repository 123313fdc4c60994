import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startChild, stopChild, type Child } from './child.js'
import type { Job, JobResult } from './jobs.js'
import type { ServerSettings } from '../targets/target.js'

/**
 * One trial: a fresh server child for the target, a fresh load-generator child, one job, then both stopped. The
 * runner (this process) only relays the load generator's requests to the server and keeps time: a trial that overruns
 * `timeoutMs` is killed and reported as failed, so a run always ends by itself.
 */

export interface TrialOptions {
  readonly target: string
  readonly server: ServerSettings
  readonly job: Job
  readonly timeoutMs: number
  /**
   * Profile the server child during each measured window (V8's sampling profiler through `node:inspector`, the same
   * profile `node --cpu-prof` writes, but only of the window): `<dir>/<name>-<window>.cpuprofile`.
   */
  readonly profile?: { readonly dir: string; readonly name: string } | undefined
  /** Extra environment of the server child, e.g. `TSX_TSCONFIG_PATH` to run another copy of the sources. */
  readonly serverEnv?: Readonly<Record<string, string>> | undefined
  /** Extra environment of the load generator child (the client SDK's sources, for `parley-sdk`). */
  readonly loadgenEnv?: Readonly<Record<string, string>> | undefined
  readonly log: (line: string) => void
}

export type TrialOutcome<R extends JobResult = JobResult> =
  | { readonly ok: true; readonly target: string; readonly result: R }
  | { readonly ok: false; readonly target: string; readonly error: string }

const SERVER_ENTRY = new URL('./server-child.ts', import.meta.url)
const LOADGEN_ENTRY = new URL('./loadgen-child.ts', import.meta.url)

export async function runTrial<R extends JobResult>(options: TrialOptions): Promise<TrialOutcome<R>> {
  const { target, log } = options
  let server: Child | undefined
  let loadgen: Child | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`trial did not finish within ${options.timeoutMs} ms`)), options.timeoutMs)
  })
  try {
    const env: Record<string, string> = { ...options.serverEnv }
    if (options.profile !== undefined) {
      mkdirSync(options.profile.dir, { recursive: true })
      env['BENCH_PROFILE'] = `${options.profile.dir}/${options.profile.name}`
    }
    server = startChild(`${target} server`, SERVER_ENTRY, [target, JSON.stringify(options.server)], { env, nodeFlags: (process.env['BENCH_SERVER_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '') })
    const { port, module } = await Promise.race([server.ready<{ port: number; module?: string }>(30_000), timeout])
    if (module !== undefined) log(`    ${target}: server runs ${module}`)
    loadgen = startChild(`${target} load generator`, LOADGEN_ENTRY, [target, String(port)], {
      env: { ...options.loadgenEnv },
      nodeFlags: (process.env['BENCH_LOADGEN_FLAGS'] ?? '').split(' ').filter((flag) => flag !== ''),
    })
    await Promise.race([loadgen.ready(30_000), timeout])
    const toServer = server
    loadgen.channel.handle((body) => {
      const request = body as { type: 'server'; body: unknown }
      return toServer.channel.request(request.body)
    })
    const result = await Promise.race([loadgen.channel.request<R>({ type: 'run', job: options.job }), timeout])
    return { ok: true, target, result }
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error)
    log(`    ${target}: FAILED: ${message}`)
    return { ok: false, target, error: message }
  } finally {
    clearTimeout(timer)
    if (loadgen !== undefined) await stopChild(loadgen, 3_000)
    if (server !== undefined) await stopChild(server, 5_000)
  }
}

/** Where `--profile` puts server CPU profiles. */
export const PROFILE_DIR = fileURLToPath(new URL('../results/profiles/', import.meta.url))
