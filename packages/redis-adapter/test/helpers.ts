import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { PresenceMember, RoomMessage } from '@parley/protocol'
import { createRedisAdapter } from '@parley/redis-adapter'
import type { AdapterHooks, AdapterNode } from '@parley/server-sdk'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/node-server.ts', import.meta.url))

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

/** A Parley node in its own process (tsx, sources through the tsconfig paths), on a given port. */
export interface NodeProcess {
  readonly port: number
  readonly url: string
  readonly child: ChildProcess
  /** SIGKILL: the node dies without saying goodbye. */
  kill9(): Promise<void>
  stop(): Promise<void>
}

export async function startNode(options: { redisUrl: string; keyPrefix: string; nodeTimeoutMs: number; port?: number }): Promise<NodeProcess> {
  const port = options.port ?? (await freePort())
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(port), options.redisUrl, options.keyPrefix, String(options.nodeTimeoutMs)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node on ${port} did not start: ${output}`)), 20_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`node on ${port} exited with ${String(code)}: ${output}`))
    })
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    port,
    url: `ws://127.0.0.1:${port}/parley`,
    child,
    async kill9() {
      child.kill('SIGKILL')
      await exited
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** A private redis-server on a free port (for restart tests that must not disturb the shared one). */
export interface RedisProcess {
  readonly port: number
  readonly url: string
  stop(): Promise<void>
  restart(): Promise<void>
}

export async function startRedis(port?: number): Promise<RedisProcess> {
  const actual = port ?? (await freePort())
  let child: ChildProcess | undefined
  const launch = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(actual), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000)
      child?.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child?.once('exit', (code) => reject(new Error(`redis-server exited ${String(code)}: ${output}`)))
    })
  }
  const stop = async (): Promise<void> => {
    const current = child
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()))
    current.kill('SIGKILL')
    await exited
  }
  await launch()
  return {
    port: actual,
    url: `redis://127.0.0.1:${actual}`,
    stop,
    async restart() {
      await stop()
      await launch()
    },
  }
}

/** Polls until `check` holds, or fails after `timeoutMs` naming what it waited for. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A Redis adapter node of its own (no Parley around it), recording the room messages and presence changes it is handed. */
export interface RecordingNode {
  readonly node: AdapterNode
  readonly messages: RoomMessage[]
  readonly changes: Array<{ event: string; member: PresenceMember }>
}

/** Connects a {@link RecordingNode} on `keyPrefix`; `cleanups` gets its disconnect. */
export async function recordingNode(keyPrefix: string, cleanups: Array<() => Promise<void>>): Promise<RecordingNode> {
  const messages: RoomMessage[] = []
  const changes: Array<{ event: string; member: PresenceMember }> = []
  const hooks: AdapterHooks = {
    message: (message) => void messages.push(message),
    presence: (_room, event, member) => void changes.push({ event, member }),
    signal: () => undefined,
    direct: () => undefined,
    control: async () => 0,
    forwarded: async () => ({ status: 404 }),
  }
  const node = await createRedisAdapter({ keyPrefix }).connect(hooks, { history: { size: 10, ttlMs: 60_000 }, dedupWindowMs: 1_000 })
  cleanups.push(() => node.disconnect())
  return { node, messages, changes }
}
