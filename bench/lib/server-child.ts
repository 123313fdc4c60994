/**
 * The server process of one trial: `server-child.ts <target> <settings-json>`. Starts the target's server on
 * 127.0.0.1, says `ready` with its port, then answers the runner: `sample` (its own CPU, event-loop utilisation and
 * memory), `gc` (two full collections, then a sample), `publish` and `drop` (recovery and idle scenarios), `stop`.
 * Exits when told to stop or when the runner's channel closes.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { channel } from './ipc.js'
import { sampleProcess } from './process-sample.js'
import { loadTarget } from '../targets/index.js'
import type { Payload, ServerSettings } from '../targets/target.js'

type Command =
  | { readonly type: 'sample' }
  | { readonly type: 'gc' }
  | { readonly type: 'publish'; readonly rooms: readonly string[]; readonly data: readonly Payload[] }
  | { readonly type: 'drop' }
  | { readonly type: 'profile-start' }
  | { readonly type: 'profile-stop'; readonly window: string }
  | { readonly type: 'stop' }

const [name = '', settingsJson = '{}'] = process.argv.slice(2)
const settings = JSON.parse(settingsJson) as ServerSettings
const ipc = channel(process)
process.on('disconnect', () => process.exit(1))

const target = await loadTarget(name)
const server = await target.startServer(settings)

/** `--profile`: the path prefix for this server's profiles, one per measured window. */
const profilePrefix = process.env['BENCH_PROFILE']
let inspector: Session | undefined
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) => {
    ;(inspector as Session).post(method, params, (error, result) => (error ? reject(error) : resolve(result)))
  })

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
}

ipc.handle(async (body) => {
  const command = body as Command
  switch (command.type) {
    case 'sample':
      return sampleProcess()
    case 'gc':
      collect()
      // Freed pages go back to the OS a moment later; let that happen before RSS is read.
      await new Promise((resolve) => setTimeout(resolve, 200))
      collect()
      return sampleProcess()
    case 'publish':
      for (const room of command.rooms) await server.publish(room, command.data)
      return null
    case 'drop':
      return server.drop()
    case 'profile-start':
      if (profilePrefix === undefined) return null
      if (inspector === undefined) {
        inspector = new Session()
        inspector.connect()
        await post('Profiler.enable')
        await post('Profiler.setSamplingInterval', { interval: 200 })
      }
      await post('Profiler.start')
      return null
    case 'profile-stop': {
      if (profilePrefix === undefined || inspector === undefined) return null
      const { profile } = (await post('Profiler.stop')) as { profile: unknown }
      const file = `${profilePrefix}-${command.window}.cpuprofile`
      writeFileSync(file, JSON.stringify(profile))
      return file
    }
    case 'stop': {
      const timer = setTimeout(() => process.exit(0), 2_000)
      await server.close().catch(() => undefined)
      clearTimeout(timer)
      // Exit after the answer is out; --cpu-prof writes its profile on exit.
      setImmediate(() => process.exit(0))
      return null
    }
  }
})

ipc.emit({ type: 'ready', port: server.port, pid: process.pid, module: server.module })
