/**
 * Follows docs/getting-started.md as a new user would, in a new folder outside the repository: `npm run pack` in
 * this clone, `npm install <clone>/packs/*.tgz express ws` in the app folder (with npm's cache preferred, as after
 * any install), then every file the page shows, run with plain `node` (and `npx tsc` / `npx tsx` for the TypeScript
 * step) against the installed packages, never the workspace's sources. Every code block is either a file (its first
 * line `// <name>.mjs` or `.mts`) or shell commands this test knows; anything else fails, so the page cannot grow an
 * untested step. The registry command (`npm install @parley/...`) cannot run before the packages are published: it
 * is checked to name the same packages as the clone path instead.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanEnv, PUBLIC_PACKAGES, ROOT, runCommand } from '../../scripts/pack-packages.js'
import { freePort, runProcess, type ExampleProcess } from '../e2e/helpers/processes.js'

interface Block {
  readonly lang: string
  readonly code: string
  readonly line: number
}

function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = []
  const pattern = /^```(\w*)\n([\s\S]*?)^```$/gm
  for (let match = pattern.exec(markdown); match !== null; match = pattern.exec(markdown)) {
    blocks.push({ lang: match[1] ?? '', code: match[2] ?? '', line: markdown.slice(0, match.index).split('\n').length })
  }
  return blocks
}

function commands(block: Block): string[] {
  return block.code
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

const DOC = readFileSync(`${ROOT}docs/getting-started.md`, 'utf8')
const BLOCKS = codeBlocks(DOC)
const FILE_HEADER = /^\/\/ ([\w-]+\.m[jt]s)\n/

/** Every shell command the page may use, and what this test does with it. */
const COMMANDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^npm install$/, 'install the clone (already installed: the tests run in it)'],
  [/^npm run pack$/, 'npm run pack in the clone'],
  [/^npm install (@parley\/[\w-]+ )+[\w ]+$/, 'the registry install: checked, not run'],
  [/^npm install \/path\/to\/parley\/packs\/\*\.tgz [\w ]+$/, 'the tarballs, in the app folder'],
  [/^npm install -D [@\w/ -]+$/, 'dev dependencies, in the app folder'],
  [/^npm install [\w -]+$/, 'more dependencies, in the app folder'],
  [/^(PORT=\d+ |PARLEY_URL=ws:\/\/127\.0\.0\.1:\d+\/parley )?node [\w-]+\.mjs$/, 'a server or a client'],
  [/^npx tsc [-\w. ]+\.mts$/, 'type-check'],
  [/^npx tsx [\w-]+\.mts$/, 'a TypeScript client'],
  [/^curl http:\/\/127\.0\.0\.1:\d+\/\S*$/, 'an HTTP request'],
]

/** What each client file must print, from the page's own words. */
const EXPECTED_OUTPUT: Readonly<Record<string, readonly string[]>> = {
  'client.mjs': ['bob sees alice join (online)', 'alice is in general with alice and bob', 'bob sees alice typing', 'alice said "hello, world" (seq 1 in general, acked as 1)'],
  'typed-client.mts': ['carol heard "typed hello" among 1 member(s)', "carol's client refused dave's message: VALIDATION_FAILED at text"],
}

describe('docs/getting-started.md, followed in a new folder with the packed packages', () => {
  const APP = mkdtempSync(join(tmpdir(), 'parley-getting-started-'))
  const running: ExampleProcess[] = []
  // npm in the app folder: no workspace context, and the cache first (every package was installed here before).
  const env = { ...cleanEnv(), npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', HOST: '127.0.0.1' }

  afterAll(async () => {
    await Promise.all(running.map((process) => process.kill()))
    rmSync(APP, { recursive: true, force: true })
  })

  it('has only blocks this test can run, and every line the page promises is checked', () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(12)
    for (const block of BLOCKS) {
      const where = `getting-started.md:${block.line}`
      if (block.lang === 'js' || block.lang === 'ts') {
        expect(block.code, where).toMatch(FILE_HEADER)
      } else {
        expect(block.lang, where).toBe('sh')
        for (const command of commands(block)) expect(COMMANDS.some(([pattern]) => pattern.test(command)), `${where}: ${command}`).toBe(true)
      }
    }
    for (const lines of Object.values(EXPECTED_OUTPUT)) for (const line of lines) expect(DOC).toContain(`\`${line}\``)
  })

  it('the registry command names the packages the clone path installs, and every public package is packed', () => {
    const registry = BLOCKS.flatMap(commands).find((command) => command.startsWith('npm install @parley/'))
    const fromClone = BLOCKS.flatMap(commands).find((command) => command.includes('/packs/*.tgz'))
    expect(registry?.split(' ').filter((word) => !word.startsWith('@parley/')).slice(2)).toEqual(fromClone?.split(' ').slice(3))
    expect(PUBLIC_PACKAGES).toEqual(expect.arrayContaining(['protocol', 'server-sdk', 'client-sdk']))
  })

  it('runs every command and file in order', async () => {
    await runCommand('npm', ['init', '-y'], APP, 30_000)
    const files = new Map<string, string>()
    /** The page's ports (3000, 3001) mapped to free ones. */
    const ports = new Map<number, number>()
    const portFor = async (documented: number): Promise<number> => {
      if (!ports.has(documented)) ports.set(documented, await freePort())
      return ports.get(documented) as number
    }
    const urlFor = async (documented: number): Promise<string> => `ws://127.0.0.1:${await portFor(documented)}/parley`
    const clients: string[] = []
    let servers = 0

    const runClient = async (program: string, args: string[], documentedPort: number, file: string): Promise<void> => {
      const client = runProcess(program, args, { cwd: APP, env: { ...env, PARLEY_URL: await urlFor(documentedPort) } })
      running.push(client)
      const timer = setTimeout(() => void client.kill(), 20_000)
      const code = await client.exited()
      clearTimeout(timer)
      expect(code, client.output()).toBe(0)
      for (const line of EXPECTED_OUTPUT[file] ?? []) expect(client.output(), `${file} against port ${documentedPort}`).toContain(line)
      clients.push(`${file}@${documentedPort}`)
    }

    for (const block of BLOCKS) {
      const header = FILE_HEADER.exec(block.code)
      if (header !== null) {
        const name = header[1] as string
        files.set(name, block.code)
        writeFileSync(join(APP, name), block.code)
        continue
      }
      for (const command of commands(block)) {
        if (command === 'npm install' || command.startsWith('npm install @parley/')) continue
        if (command === 'npm run pack') {
          const output = await runCommand('npm', ['run', 'pack'], ROOT, 240_000)
          expect(output).toContain(`Packed ${PUBLIC_PACKAGES.length} packages`)
          continue
        }
        if (command.startsWith('npm install ')) {
          // Through a shell, as the page's user types it, so the glob expands.
          await runCommand('sh', ['-c', command.replace('/path/to/parley/', ROOT)], APP, 180_000)
          continue
        }
        const env_ = /^(?:PORT=(\d+) |PARLEY_URL=ws:\/\/127\.0\.0\.1:(\d+)\/parley )?node ([\w-]+\.mjs)$/.exec(command)
        if (env_ !== null) {
          const [, serverPort, clientPort, file] = env_ as unknown as [string, string | undefined, string | undefined, string]
          const source = files.get(file)
          expect(source, `${file} is run before a block defines it`).toBeDefined()
          if (source?.includes('.listen(')) {
            const port = await portFor(Number(serverPort ?? 3000))
            const server = runProcess(process.execPath, [file], { cwd: APP, env: { ...env, PORT: String(port) } })
            running.push(server)
            await server.waitForOutput(new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`), 20_000)
            servers++
          } else {
            await runClient(process.execPath, [file], Number(clientPort ?? 3000), file)
          }
          continue
        }
        if (command.startsWith('npx tsc ')) {
          await runCommand('npx', command.split(' ').slice(1), APP, 120_000)
          continue
        }
        if (command.startsWith('npx tsx ')) {
          const file = command.split(' ')[2] as string
          await runClient('npx', ['tsx', file], 3000, file)
          continue
        }
        if (command.startsWith('curl ')) {
          const url = new URL(command.slice(5))
          url.port = String(await portFor(Number(url.port)))
          const response = await fetch(url)
          expect(response.status).toBe(200)
          expect(await response.json()).toMatchObject({ connections: expect.any(Number), messagesIn: expect.any(Number) })
          continue
        }
        throw new Error(`no way to run ${command}`)
      }
    }
    // Both servers ran, and each client ran against the server it was meant for.
    expect(servers).toBe(2)
    expect(clients).toEqual(['client.mjs@3000', 'typed-client.mts@3000', 'client.mjs@3001'])
    for (const server of running.slice(0, 1)) expect(server.output()).toContain('alice connected')
    // The installed packages are the packed ones, in the app's own node_modules, not the workspace's.
    const installed = JSON.parse(readFileSync(join(APP, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    expect(installed.dependencies['@parley/server-sdk']).toMatch(/^file:.*packs\/parley-server-sdk-.*\.tgz$/)
  }, 480_000)
})
