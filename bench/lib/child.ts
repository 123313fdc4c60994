import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { channel, type Channel } from './ipc.js'

/**
 * A benchmark child process: a TypeScript entry run by Node through tsx, with an IPC channel to the runner. It is
 * started through `sh` so that its open-file limit can be raised to the hard limit first (5000 connections need
 * 5000 descriptors on each side); its stdout and stderr go to the runner's stderr, so the report on stdout stays clean.
 * A child exits when the runner's channel closes, so nothing outlives the runner.
 */
export interface Child {
  readonly name: string
  readonly pid: number | undefined
  readonly channel: Channel
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string | null>
  /** Resolves with the first event the child emits (its `ready`), rejects if it exits first or takes too long. */
  ready<T>(timeoutMs: number): Promise<T>
  kill(): void
}

/** Strips types with esbuild, keepNames off, as the published packages are built (see ts-loader.mjs). */
const TS_LOADER = fileURLToPath(new URL('./ts-register.mjs', import.meta.url))
const live = new Set<ChildProcess>()
let exitHookInstalled = false

export interface ChildOptions {
  /** Extra Node flags. */
  readonly nodeFlags?: readonly string[]
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>
}

export function startChild(name: string, entry: URL, args: readonly string[], options: ChildOptions = {}): Child {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // Only the processes this runner started, by their own handle.
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL')
    })
  }
  const node = [process.execPath, '--expose-gc', '--import', TS_LOADER, ...(options.nodeFlags ?? []), fileURLToPath(entry), ...args]
  const child = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...node], {
    stdio: ['ignore', 2, 2, 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', ...options.env },
  })
  live.add(child)
  const ch = channel(child)
  // A relay to a child that has just died fails with ERR_IPC_CHANNEL_CLOSED as an 'error' event: the trial is then
  // reported FAILED through `exited`, not the whole run brought down by an unhandled event.
  child.on('error', (error) => ch.fail(`${name}: ${error.message}`))
  let firstEvent: ((body: unknown) => void) | undefined
  const early: unknown[] = []
  ch.onEvent((body) => {
    if (firstEvent !== undefined) firstEvent(body)
    else early.push(body)
  })
  const exited = new Promise<number | string | null>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child)
      ch.fail(`${name} exited (${code ?? signal})`)
      resolve(code ?? signal)
    })
  })
  return {
    name,
    pid: child.pid,
    channel: ch,
    exited,
    ready<T>(timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} not ready within ${timeoutMs} ms`)), timeoutMs)
        const done = (body: unknown): void => {
          clearTimeout(timer)
          resolve(body as T)
        }
        if (early.length > 0) done(early.shift())
        else firstEvent = done
        void exited.then((code) => {
          clearTimeout(timer)
          reject(new Error(`${name} exited (${String(code)}) before it was ready`))
        })
      })
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
  }
}

/** Asks a child to stop, and kills it if it has not exited within `graceMs`. */
export async function stopChild(child: Child, graceMs: number): Promise<void> {
  const timer = setTimeout(() => child.kill(), graceMs)
  try {
    await child.channel.request({ type: 'stop' }).catch(() => undefined)
    await child.exited
  } finally {
    clearTimeout(timer)
  }
}
