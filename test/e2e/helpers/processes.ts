/**
 * Example programs as child processes: started with tsx from the repository root (so `@parley/*` resolves to the
 * packages' source through the root tsconfig), on a free loopback port, and killed as a process group.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** Every child still running, so a failing test cannot leave one behind. */
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL')
})

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    // Negative pid: the whole group the child leads (detached), in case the script spawned children of its own.
    process.kill(-child.pid, signal)
  } catch {
    // Already gone.
  }
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

export interface ExampleProcess {
  readonly child: ChildProcess
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  /** Resolves when its output matches, rejects if it exits first or the time runs out. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Resolves with the exit code (or signal) once it has exited. */
  exited(): Promise<number | NodeJS.Signals>
  /** Sends a signal to its process group and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Starts `node --import tsx <script> ...args` from the repository root. */
export function runExample(script: string, args: readonly string[] = [], env: Record<string, string> = {}): ExampleProcess {
  return runProcess(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env: { ...process.env, HOST: '127.0.0.1', NODE_ENV: 'test', FORCE_COLOR: '0', ...env } })
}

/** Starts any command in its own process group, with `env` as its whole environment. */
export function runProcess(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): ExampleProcess {
  const script = [command, ...args].join(' ')
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  running.add(child)
  let output = ''
  const listeners = new Set<() => void>()
  const onData = (chunk: Buffer): void => {
    output += chunk.toString('utf8')
    for (const listener of listeners) listener()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exit = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child)
      resolve(code ?? signal ?? 0)
      for (const listener of listeners) listener()
    })
  })
  return {
    child,
    output: () => output,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output)
          if (match !== null) return done(() => resolve(match))
          if (child.exitCode !== null || child.signalCode !== null) {
            return done(() => reject(new Error(`${script} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${output}`)))
          }
        }
        const timer = setTimeout(() => done(() => reject(new Error(`${script} did not print ${pattern} within ${timeoutMs} ms:\n${output}`))), timeoutMs)
        const done = (settle: () => void): void => {
          clearTimeout(timer)
          listeners.delete(check)
          settle()
        }
        listeners.add(check)
        check()
      })
    },
    exited: () => exit,
    async kill(signal = 'SIGKILL') {
      killGroup(child, signal)
      await exit
    },
  }
}

export interface ChatServer extends ExampleProcess {
  readonly port: number
  readonly httpUrl: string
  readonly wsUrl: string
}

/**
 * Starts a chat example (express-chat or koa-chat) and waits until it serves its page. Its history is in memory
 * (fresh for every start) unless `env` gives a `DATABASE_URL`, and its sign-in tokens are signed with a random key
 * for 15 minutes unless `env` gives `CHAT_JWT_SECRET` or `CHAT_TOKEN_TTL_SECONDS`: those set in the shell running
 * the tests are ignored.
 */
export async function startChatServer(script: string, port?: number, env: Record<string, string> = {}): Promise<ChatServer> {
  const chosen = port ?? (await freePort())
  const process_ = runExample(script, [], { DATABASE_URL: '', CHAT_JWT_SECRET: '', CHAT_TOKEN_TTL_SECONDS: '', ...env, PORT: String(chosen) })
  try {
    await process_.waitForOutput(/Press Ctrl\+C to stop/, 30_000)
  } catch (error) {
    await process_.kill()
    throw error
  }
  return { ...process_, port: chosen, httpUrl: `http://127.0.0.1:${chosen}`, wsUrl: `ws://127.0.0.1:${chosen}/parley` }
}
