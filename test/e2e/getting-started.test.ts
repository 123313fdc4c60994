/**
 * Runs docs/getting-started.md: every code block is either a file (its first line is `// <name>.mjs`) written to a
 * temporary folder, or shell commands this test knows how to carry out (`npm install`, `node <file>`, `curl <url>`).
 * A block that is neither fails the test, so the page cannot grow an untested snippet.
 *
 * The folder is inside the repository (test-results/, gitignored), so the snippets' imports resolve to the
 * workspace; they run under tsx, which maps `@parley/*` to the packages' source through the root tsconfig (no
 * build needed). Servers get a free loopback port through PORT; clients get that server's URL through PARLEY_URL.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, freePort, runExample, type ExampleProcess } from './helpers/processes.js'

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

const DOC = readFileSync(`${ROOT}docs/getting-started.md`, 'utf8')
const BLOCKS = codeBlocks(DOC)
const DIR = `${ROOT}test-results/getting-started-${process.pid}`

describe('docs/getting-started.md', () => {
  const servers: ExampleProcess[] = []

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.kill()))
    rmSync(DIR, { recursive: true, force: true })
  })

  it('has only blocks this test can run', () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(6)
    for (const block of BLOCKS) {
      const where = `getting-started.md:${block.line}`
      if (block.lang === 'js') {
        expect(block.code, where).toMatch(/^\/\/ [\w-]+\.mjs\n/)
      } else {
        expect(block.lang, where).toBe('sh')
        for (const command of commands(block)) expect(command, where).toMatch(/^(npm install [@\w/ -]+|node [\w-]+\.mjs|curl http:\/\/127\.0\.0\.1:3000\/\S*)$/)
      }
    }
  })

  it('runs every block in order: servers start, clients connect and exchange a message', async () => {
    mkdirSync(DIR, { recursive: true })
    const files = new Map<string, string>()
    let port: number | undefined
    let ran = 0

    for (const block of BLOCKS) {
      if (block.lang === 'js') {
        const name = (/^\/\/ ([\w-]+\.mjs)\n/.exec(block.code) as RegExpExecArray)[1] as string
        files.set(name, block.code)
        writeFileSync(`${DIR}/${name}`, block.code)
        ran++
        continue
      }
      for (const command of commands(block)) {
        const [program, ...args] = command.split(/\s+/)
        if (program === 'npm') {
          // No registry here: every package the page installs must be one this repository provides.
          for (const name of args.slice(1)) expect(existsSync(`${ROOT}node_modules/${name}/package.json`), `${name} is not installed`).toBe(true)
        } else if (program === 'node') {
          const file = args[0] as string
          const source = files.get(file)
          expect(source, `${file} is run before a block defines it`).toBeDefined()
          if (source?.includes('.listen(')) {
            port = await freePort()
            const server = runIn(file, { PORT: String(port) })
            servers.push(server)
            await server.waitForOutput(new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`), 20_000)
          } else {
            expect(port, `${file} runs before any server`).toBeDefined()
            const client = runIn(file, { PARLEY_URL: `ws://127.0.0.1:${port}/parley` })
            const timer = setTimeout(() => void client.kill(), 15_000)
            const code = await client.exited()
            clearTimeout(timer)
            expect(client.output()).toMatch(/alice said "hello, world" \(seq 1 in general, acked as 1\)/)
            expect(code, client.output()).toBe(0)
            expect((servers.at(-1) as ExampleProcess).output()).not.toMatch(/Error/)
          }
        } else if (program === 'curl') {
          const url = (args[0] as string).replace('127.0.0.1:3000', `127.0.0.1:${port}`)
          const response = await fetch(url)
          expect(response.status).toBe(200)
          expect(await response.json()).toMatchObject({ connections: expect.any(Number), messagesIn: expect.any(Number) })
        }
        ran++
      }
    }
    // Both servers ran, and the Express one saw alice.
    expect(servers).toHaveLength(2)
    expect(servers[0]?.output()).toContain('alice connected')
    expect(ran).toBeGreaterThanOrEqual(9)
  }, 50_000)
})

function commands(block: Block): string[] {
  return block.code
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

function runIn(file: string, env: Record<string, string>): ExampleProcess {
  return runExample(`${DIR}/${file}`, [], env)
}
