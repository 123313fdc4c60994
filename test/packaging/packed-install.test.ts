/**
 * The packages as a new user gets them: built by the real tsup config, `npm pack`ed, and installed from the tarballs
 * (offline, from npm's cache, like any registry install) into a fresh Express 5 app and a fresh Koa 3 app in the
 * system's temp folder, outside the workspace. Each app starts; a client from an ES module and one from a CommonJS
 * script (the packed client SDK under plain `node`, no flags, so it loads `ws` itself) exchange messages through it;
 * the packed contract package runs scenarios against the packed server SDK; `tsc` resolves every package's types
 * through both the `import` and the `require` condition. A broken `exports` map, a file left out of `files` or a
 * dependency used but not declared fails here, and nowhere else: every other test runs on the sources.
 *
 * The build (scripts/pack-packages.ts, as `npm run pack` runs it) goes to a cache folder of its own under node_modules/.cache (keyed by a hash of everything that goes into
 * it), never to the packages' dist/ folders, which packages/protocol/test/dist.test.ts deletes and rebuilds: the two
 * can run at the same time without touching each other's files. A later run with unchanged sources reuses the
 * tarballs; two runs building at once each build in a private folder and the first to finish moves its result in.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanEnv, packPackages, PUBLIC_PACKAGES } from '../../scripts/pack-packages.js'
import { browserTestsEnabled, launchChromium } from '../e2e/helpers/browser.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PACKAGES = PUBLIC_PACKAGES
const CACHE = join(ROOT, 'node_modules', '.cache', 'parley-packed')
/** Bump to invalidate cached builds when this file changes how it builds. */
const RECIPE = 1

// Child processes must find packages through the temp apps only: cleanEnv() drops loader hooks (NODE_OPTIONS)
// and extra lookup paths (NODE_PATH) that could reach the workspace.

/** Every child still running, killed (as a process group) if the test ends early. */
const running = new Set<ChildProcess>()

/** Runs a command to completion; rejects with its output when it fails or outlives `timeoutMs`. */
function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    running.add(child)
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    const timer = setTimeout(() => kill(child), timeoutMs)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      if (code === 0) resolve(output)
      else reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) ended with ${code ?? signal}:\n${output}`))
    })
  })
}

function kill(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

/** A long-running child (a server): its output so far, a wait for a line, and a stop. */
function start(command: string, args: readonly string[], cwd: string) {
  const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  running.add(child)
  let output = ''
  const listeners = new Set<() => void>()
  const onData = (chunk: Buffer): void => {
    output += chunk.toString('utf8')
    for (const listener of listeners) listener()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child)
      for (const listener of listeners) listener()
      resolve()
    }),
  )
  return {
    output: () => output,
    waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output)
          if (match !== null) return finish(() => resolve(match))
          if (child.exitCode !== null || child.signalCode !== null) finish(() => reject(new Error(`exited before printing ${pattern}:\n${output}`)))
        }
        const timer = setTimeout(() => finish(() => reject(new Error(`did not print ${pattern} within ${timeoutMs} ms:\n${output}`))), timeoutMs)
        const finish = (settle: () => void): void => {
          clearTimeout(timer)
          listeners.delete(check)
          settle()
        }
        listeners.add(check)
        check()
      })
    },
    async stop(): Promise<void> {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGTERM')
        } catch {
          // Already gone.
        }
        const timer = setTimeout(() => kill(child), 3_000)
        await exited
        clearTimeout(timer)
      }
    },
  }
}

/** Every file under `dir`, relative to ROOT, skipping node_modules and dist. */
function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sourceFiles(path))
    else out.push(relative(ROOT, path))
  }
  return out
}

/** A hash of everything the tarballs are made from. */
function inputsHash(): string {
  const hash = createHash('sha256').update(`recipe ${RECIPE}\n`)
  const files = [
    'tsup.config.ts',
    'tsconfig.base.json',
    ...PACKAGES.flatMap((name) => sourceFiles(join(ROOT, 'packages', name)).filter((file) => !/[/\\]test[/\\]/.test(file))),
    ...sourceFiles(join(ROOT, 'packages', 'protocol', 'test-vectors')),
  ].sort()
  for (const file of [...new Set(files)]) hash.update(`${file}\n`).update(readFileSync(join(ROOT, file))).update('\n')
  return hash.digest('hex').slice(0, 16)
}

/**
 * The packed tarballs of every package, built from the current sources (or from the cache when nothing changed),
 * keyed by package name.
 */
async function packedTarballs(): Promise<Record<(typeof PACKAGES)[number], string>> {
  mkdirSync(CACHE, { recursive: true })
  const key = inputsHash()
  const ready = join(CACHE, key)
  if (!existsSync(join(ready, 'tarballs.json'))) {
    const staging = mkdtempSync(join(CACHE, `${key}.building-`))
    try {
      // The same build and pack as `npm run pack` (scripts/pack-packages.ts).
      const tarballs = await packPackages(staging, { keepBuild: true })
      writeFileSync(join(staging, 'tarballs.json'), JSON.stringify(tarballs))
      try {
        renameSync(staging, ready)
      } catch {
        // Another run finished the same build first: use its result.
        rmSync(staging, { recursive: true, force: true })
      }
    } catch (error) {
      rmSync(staging, { recursive: true, force: true })
      throw error
    }
    // Older builds are of no use any more.
    for (const entry of readdirSync(CACHE)) {
      const path = join(CACHE, entry)
      if (entry !== key && !entry.includes('.building-') && statSync(path).isDirectory()) rmSync(path, { recursive: true, force: true })
    }
  }
  const names = JSON.parse(readFileSync(join(ready, 'tarballs.json'), 'utf8')) as Record<string, string>
  return Object.fromEntries(PACKAGES.map((name) => [name, join(ready, names[name] as string)])) as Record<(typeof PACKAGES)[number], string>
}

// ------------------------------------------------------------------ the apps a new user would write

const AUTH = `({ token }) => (token ? { id: token } : null)`

const EXPRESS_SERVER = `'use strict'
// An Express 5 app in CommonJS, with Parley attached to the server app.listen() returns.
const express = require('express')
const { attach } = require('@parley/server-sdk')
const { createRedisAdapter } = require('@parley/redis-adapter')
const app = express()
app.get('/health', (_request, response) => response.json({ ok: true, framework: 'express' }))
// The prebuilt browser module, served as a CDN would, and a page that imports it with <script type="module">.
app.use('/cdn', express.static(require('node:path').dirname(require.resolve('@parley/client-sdk/browser'))))
app.get('/page', (_request, response) => response.type('html').send('<!doctype html><title>loading</title><script type="module">' +
  "import { createClient } from '/cdn/parley-client.js';" +
  "const client = createClient('ws://' + location.host + '/parley', { token: 'browser-user' });" +
  "const room = client.join('cdn');" +
  "room.on('message', (m) => { document.title = 'got ' + JSON.stringify(m.data) + ' via ' + client.transport });" +
  '</script>'))
const server = app.listen(0, '127.0.0.1', () => {
  console.log('LISTENING ' + server.address().port + ' redis-adapter:' + typeof createRedisAdapter)
})
const parley = attach(server, { authenticate: ${AUTH} })
parley.on('join', (session, room) => void parley.room(room).publish({ welcome: session.user.id }))
process.on('SIGTERM', () => parley.close().then(() => server.close(() => process.exit(0))))
`

const KOA_SERVER = `// A Koa 3 app as an ES module, with Parley attached to http.createServer(app.callback()).
import { createServer } from 'node:http'
import Koa from 'koa'
import { attach } from '@parley/server-sdk'
const app = new Koa()
app.use((ctx) => {
  if (ctx.path === '/health') ctx.body = { ok: true, framework: 'koa' }
})
const server = createServer(app.callback())
const parley = attach(server, { authenticate: ${AUTH} })
parley.on('join', (session, room) => void parley.room(room).publish({ welcome: session.user.id }))
server.listen(0, '127.0.0.1', () => console.log('LISTENING ' + server.address().port))
process.on('SIGTERM', () => parley.close().then(() => server.close(() => process.exit(0))))
`

/** Both clients share this: join, say hello, wait for the other's hello, report, close. */
const CLIENT_BODY = `
const [url, me, other] = process.argv.slice(2)
const client = createClient(url, { token: me, reconnect: false })
const room = client.join('lobby')
const seen = []
let ack
const check = () => {
  const hello = seen.find((m) => m.from === other && m.data.text === 'hi from ' + other)
  if (hello === undefined || ack === undefined) return
  clearTimeout(timer)
  console.log(JSON.stringify({ ok: true, me, heard: hello.data.text, ack: { seq: ack.seq, duplicate: ack.duplicate }, protocol: client.protocol, resolved }))
  client.close().then(() => process.exit(0))
}
room.on('message', (message) => {
  seen.push(message)
  check()
})
// Say hello once the other client is in the room too (in the join snapshot, or as it joins after).
let said = false
const hello = () => {
  if (said || !room.members().some((member) => member.user === other)) return
  said = true
  room.publish({ text: 'hi from ' + me }).then((value) => {
    ack = value
    check()
  }, (error) => {
    console.log(JSON.stringify({ ok: false, error: String(error) }))
    process.exit(1)
  })
}
room.on('joined', hello)
room.on('presence', hello)
client.on('error', (error) => console.error('client error', error.code, error.message))
const timer = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, me, seen }))
  process.exit(1)
}, 10000)
`

const ESM_CLIENT = `import { createClient } from '@parley/client-sdk'
const resolved = import.meta.resolve('@parley/client-sdk')
${CLIENT_BODY}`

const CJS_CLIENT = `'use strict'
const { createClient } = require('@parley/client-sdk')
const resolved = require('node:url').pathToFileURL(require.resolve('@parley/client-sdk')).href
${CLIENT_BODY}`

/** The packed contract package, used as a user would: scenarios against the packed server SDK. */
const CONTRACT_RUN = `import { formatMatrix, rawClient, runContract, wsPairing } from '@parley/contract'
import { parleyClient, parleyServer } from '@parley/contract/parley'
const results = await runContract(
  [
    wsPairing({ name: 'raw ws ↔ packed server', server: parleyServer(), client: rawClient() }),
    wsPairing({ name: 'packed sdk ↔ packed server', server: parleyServer(), client: parleyClient() }),
  ],
  { scenarios: ['connect-and-negotiate', 'auth-rejected', 'publish-ack', 'recovery-exact-replay'] },
)
console.log(formatMatrix(results))
process.exit(results.every((result) => result.status === 'pass') ? 0 : 1)
`

const CONTRACT_REQUIRE = `'use strict'
const contract = require('@parley/contract')
const parley = require('@parley/contract/parley')
console.log(JSON.stringify({ scenarios: contract.SCENARIOS.length, runContract: typeof contract.runContract, parleyServer: typeof parley.parleyServer }))
`

/** Every package's types through both conditions; `tsc --listFiles` says which declaration files answered. */
const TYPES_CONSUMER = `import { decode, type ServerMessage } from '@parley/protocol'
import { attach, type Parley, type ServerOptions } from '@parley/server-sdk'
import { createClient, type Client } from '@parley/client-sdk'
import { createRedisAdapter } from '@parley/redis-adapter'
import { createPostgresHistory, migrate, type PostgresHistoryStore } from '@parley/postgres-history'
import { SCENARIOS, type Pairing } from '@parley/contract'
import { parleyServer } from '@parley/contract/parley'
import { attachInspector, type InspectorOptions } from '@parley/inspector'
const options: ServerOptions = { path: '/parley' }
// @ts-expect-error an option typo is a type error
const open: InspectorOptions = { path: '/x', intervalMs: 1_000, keys: 'x' }
const client: Client = createClient('ws://127.0.0.1:1/parley', { reconnect: false })
const decoded = decode('{}', { from: 'server' })
const message: ServerMessage | undefined = decoded.ok ? decoded.message : undefined
const pairing: Pairing | undefined = undefined
// @ts-expect-error the types are real declarations, not any
const wrong: number = SCENARIOS
// @ts-expect-error an option typo is a type error
const store: PostgresHistoryStore = createPostgresHistory({ url: 'postgres://127.0.0.1/x', shcema: 'x' })
void [attach, createRedisAdapter, parleyServer, options, client, message, pairing, wrong, store, migrate, attachInspector, open] as unknown as Parley
`

describe('the packed packages in fresh Express 5 and Koa 3 apps', () => {
  let temp = ''
  let tarballs: Record<(typeof PACKAGES)[number], string>
  const servers: Array<ReturnType<typeof start>> = []
  const timings: string[] = []

  beforeAll(async () => {
    let at = Date.now()
    tarballs = await packedTarballs()
    timings.push(`build + pack ${((Date.now() - at) / 1000).toFixed(1)} s`)
    temp = realpathSync(mkdtempSync(join(tmpdir(), 'parley-packed-apps-')))
    at = Date.now()
    const install = async (name: string, framework: string): Promise<void> => {
      const dir = join(temp, name)
      mkdirSync(dir)
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2))
      const args = ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', ...Object.values(tarballs), framework]
      try {
        await run('npm', args, dir, 90_000)
      } catch {
        // A cache that lacks something the tarballs need: fetch only what is missing.
        await run('npm', args.map((arg) => (arg === '--offline' ? '--prefer-offline' : arg)), dir, 90_000)
      }
    }
    await Promise.all([install('express-app', 'express@^5'), install('koa-app', 'koa@^3')])
    timings.push(`2 installs ${((Date.now() - at) / 1000).toFixed(1)} s`)
  }, 240_000)

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    for (const child of running) kill(child)
    if (temp !== '') rmSync(temp, { recursive: true, force: true })
    console.info(`[packed-install] ${timings.join(', ')}`)
  })

  it('installed exactly the published files: dist and package.json, and every exports target exists', () => {
    for (const name of PACKAGES) {
      const installed = join(temp, 'express-app', 'node_modules', '@parley', name)
      const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
      const stray = readdirSync(installed).filter(
        (entry) => !['dist', 'package.json', 'README.md', 'LICENSE', ...(name === 'client-sdk' ? ['dist-browser'] : name === 'inspector' ? ['dist-page'] : [])].includes(entry),
      )
      expect(stray, `${name} ships more than dist`).toEqual([])
      for (const required of ['README.md', 'LICENSE']) expect(existsSync(join(installed, required)), `${name} ships ${required}`).toBe(true)
      const targets = (value: unknown): string[] =>
        typeof value === 'string' ? [value] : typeof value === 'object' && value !== null ? Object.values(value).flatMap(targets) : []
      const all = targets(pkg.exports)
      expect(all.length, `${name} has an exports map`).toBeGreaterThan(0)
      for (const target of all) expect(existsSync(join(installed, target)), `${name}: ${target}`).toBe(true)
    }
    // The inspector's page script, built with the client SDK inside, which attachInspector() serves from the package.
    const page = join(temp, 'express-app', 'node_modules', '@parley', 'inspector', 'dist-page', 'inspector-page.js')
    expect(readFileSync(page, 'utf8')).toContain('parley-inspector-path')
  })

  it('passes publint (every level, suggestions included) and Are the Types Wrong (every resolution, node10 included)', async () => {
    const { publint } = await import('publint')
    const { formatMessage } = await import('publint/utils')
    const { checkPackage, createPackageFromTarballData } = await import('@arethetypeswrong/core')
    for (const name of PACKAGES) {
      const pkgDir = join(dirname(tarballs[name]), 'packages', name)
      const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>
      const { messages } = await publint({ pkgDir, level: 'suggestion' })
      expect(messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`), `publint ${name}`).toEqual([])
      // @parley/client-sdk/browser is one ES module for <script type="module"> (CDN use, no bundler): CommonJS and node10
      // resolution do not apply to it, so it is checked by the browser test below instead.
      const result = await checkPackage(createPackageFromTarballData(new Uint8Array(readFileSync(tarballs[name]))), {
        excludeEntrypoints: name === 'client-sdk' ? ['./browser'] : [],
      })
      expect(result.types, `${name} has types`).not.toBe(false)
      const problems = result.types === false ? [] : result.problems.map((problem) => JSON.stringify(problem))
      expect(problems, `attw ${name}`).toEqual([])
    }
  })

  it('imports nothing at run time that its package.json does not declare, and bundles no third-party code', async () => {
    // npm hoists, so an undeclared dependency that another package happens to bring would still load in the apps:
    // esbuild lists every import and require() of the shipped files instead, and each must be declared or built in.
    // tsup leaves only declared dependencies external, so an undeclared one ends up bundled instead: the source maps
    // must name no file from node_modules.
    const builtins = new Set(builtinModules)
    for (const name of PACKAGES) {
      const installed = join(temp, 'express-app', 'node_modules', '@parley', name)
      const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>
        peerDependencies?: Record<string, string>
      }
      const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})])
      const files = readdirSync(join(installed, 'dist')).filter((entry) => /\.c?js$/.test(entry))
      const result = await build({
        entryPoints: Object.fromEntries(files.map((file) => [file.replace('.', '-'), join(installed, 'dist', file)])),
        bundle: true,
        write: false,
        metafile: true,
        platform: 'node',
        format: 'esm',
        outdir: join(temp, 'esbuild-out'),
        external: ['*'],
        logLevel: 'silent',
      })
      const used = new Set<string>()
      for (const input of Object.values(result.metafile.inputs)) {
        for (const { path } of input.imports) {
          if (path.startsWith('<')) continue
          const specifier = path.replace(/^node:/, '')
          const bare = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string)
          if (!builtins.has(bare)) used.add(bare)
        }
      }
      expect([...used].filter((dependency) => !declared.has(dependency)), `${name} uses undeclared packages`).toEqual([])
      if (name !== 'protocol') expect(used.size, `${name}: esbuild saw its imports`).toBeGreaterThan(0)
      // The maps of the build in the cache folder, where their relative paths still resolve.
      const built = join(dirname(tarballs[name]), 'packages', name, 'dist')
      const bundled = readdirSync(built)
        .filter((entry) => entry.endsWith('.map'))
        .flatMap((map) => (JSON.parse(readFileSync(join(built, map), 'utf8')) as { sources: string[] }).sources)
        .map((source) => resolve(built, source))
        .filter((source) => !source.startsWith(join(ROOT, 'packages')))
        // tsup's own shim of import.meta.url for the CommonJS build (the inspector finds its page script with it).
        .filter((source) => relative(ROOT, source) !== join('node_modules', 'tsup', 'assets', 'cjs_shims.js'))
      expect([...new Set(bundled)].map((source) => relative(ROOT, source)), `${name} bundles code from outside the packages (a dependency it does not declare?)`).toEqual([])
    }
  })

  it.each([
    ['express-app', 'server.cjs', EXPRESS_SERVER],
    ['koa-app', 'server.mjs', KOA_SERVER],
  ])('%s starts and its ESM and CommonJS clients exchange messages through it', async (app, file, source) => {
    const dir = join(temp, app)
    writeFileSync(join(dir, file), source)
    writeFileSync(join(dir, 'client.mjs'), ESM_CLIENT)
    writeFileSync(join(dir, 'client.cjs'), CJS_CLIENT)
    const server = start(process.execPath, [file], dir)
    servers.push(server)
    const port = (await server.waitFor(/LISTENING (\d+)/))[1] as string
    if (app === 'express-app') {
      expect(server.output()).toContain('redis-adapter:function')
      if (browserTestsEnabled()) {
        // The prebuilt browser module works from a plain <script type="module">: Chromium loads it, connects and
        // receives the welcome the app publishes on join.
        const browser = await launchChromium()
        try {
          const page = await browser.newPage()
          await page.goto(`http://127.0.0.1:${port}/page`)
          await page.waitForFunction(() => document.title.startsWith('got '), undefined, { timeout: 10_000 })
          expect(await page.title()).toBe('got {"welcome":"browser-user"} via websocket')
        } finally {
          await browser.close()
        }
      }
    }
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { ok: boolean; framework: string }
    expect(health).toEqual({ ok: true, framework: app.replace('-app', '') })
    const url = `ws://127.0.0.1:${port}/parley`
    const [esm, cjs] = await Promise.all([
      run(process.execPath, ['client.mjs', url, 'esm-user', 'cjs-user'], dir, 20_000),
      run(process.execPath, ['client.cjs', url, 'cjs-user', 'esm-user'], dir, 20_000),
    ])
    const outcome = (text: string): { ok: boolean; heard: string; protocol: string; resolved: string; ack: { duplicate: boolean } } =>
      JSON.parse(text.trim().split('\n').at(-1) as string)
    for (const [result, entry, heard] of [
      [outcome(esm), 'dist/index.js', 'hi from cjs-user'],
      [outcome(cjs), 'dist/index.cjs', 'hi from esm-user'],
    ] as const) {
      expect(result).toMatchObject({ ok: true, heard, protocol: 'parley.v2.json', ack: { duplicate: false } })
      // The packed copy in this app answered, through the right condition of its exports map.
      expect(fileURLToPath(result.resolved)).toBe(join(dir, 'node_modules', '@parley', 'client-sdk', entry))
    }
  }, 60_000)

  it('the packed contract package runs its scenarios against the packed server SDK, and loads from CommonJS', async () => {
    const dir = join(temp, 'koa-app')
    writeFileSync(join(dir, 'contract.mjs'), CONTRACT_RUN)
    writeFileSync(join(dir, 'contract.cjs'), CONTRACT_REQUIRE)
    const matrix = await run(process.execPath, ['contract.mjs'], dir, 60_000)
    expect(matrix).toContain('8 passed, 0 failed, 0 not applicable (of 8)')
    expect(JSON.parse(await run(process.execPath, ['contract.cjs'], dir, 20_000))).toMatchObject({ runContract: 'function', parleyServer: 'function' })
  }, 90_000)

  it("every package's types resolve through both the import and the require condition", async () => {
    const dir = join(temp, 'express-app')
    writeFileSync(join(dir, 'types.mts'), TYPES_CONSUMER)
    writeFileSync(join(dir, 'types.cts'), TYPES_CONSUMER)
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          // The workspace's @types/node (the app itself installs none).
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['types.mts', 'types.cts'],
      }),
    )
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    let listed: string
    try {
      listed = await run(process.execPath, [tsc, '-p', dir, '--listFiles'], dir, 60_000)
    } catch (error) {
      throw new Error(`tsc failed on the consumer: ${String(error)}`)
    }
    const declarations = listed
      .split(/\r?\n/)
      .map((line) => line.trim().replaceAll('\\', '/'))
      .filter((line) => line.includes('/node_modules/@parley/') && /\/dist\/(index|parley)\.d\.c?ts$/.test(line))
      .map((line) => line.slice(line.lastIndexOf('@parley/')))
      .sort()
    expect(declarations).toEqual(
      PACKAGES.flatMap((name) => {
        const entries = name === 'contract' ? ['index', 'parley'] : ['index']
        return entries.flatMap((entry) => [`@parley/${name}/dist/${entry}.d.cts`, `@parley/${name}/dist/${entry}.d.ts`])
      }).sort(),
    )
  }, 60_000)
})
