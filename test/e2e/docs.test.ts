/**
 * The docs stay honest: the index links every page, links resolve, and the close-code table in troubleshooting.md
 * says what `CLOSE_CODES` (the protocol package) says.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { CLOSE_CODES } from '@parley/protocol'
import { describe, expect, it } from 'vitest'
import { ROOT } from './helpers/processes.js'

/**
 * Pages other issues write (the SDK references, the guarantees, scaling). The index links them from the start; until
 * they land a missing one is a warning locally, and a failure in CI, where every link must resolve.
 */
const WRITTEN_ELSEWHERE = new Set(['client.md', 'server.md', 'guarantees.md', 'scaling.md'])
const IN_CI = process.env['CI'] === 'true' || process.env['CI'] === '1'

const read = (path: string): string => readFileSync(`${ROOT}${path}`, 'utf8')

/** Relative link targets of a markdown file (no anchors, no URLs). */
function relativeLinks(path: string): string[] {
  const links: string[] = []
  for (const match of read(path).matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = (match[1] as string).split('#')[0] as string
    if (target !== '' && !/^[a-z]+:/i.test(target)) links.push(target)
  }
  return links
}

describe('docs', () => {
  it('index.md links every page in docs/', () => {
    const linked = new Set(relativeLinks('docs/index.md'))
    const pages = readdirSync(`${ROOT}docs`).filter((name) => name.endsWith('.md') && name !== 'index.md')
    for (const page of pages) expect(linked.has(page), `docs/index.md does not link ${page}`).toBe(true)
  })

  it.each(['docs/index.md', 'docs/getting-started.md', 'docs/troubleshooting.md', 'README.md', 'examples/README.md'])('links in %s resolve', (path) => {
    for (const target of relativeLinks(path)) {
      const file = resolve(ROOT, dirname(path), target)
      const message = `${path} links ${target}, which does not exist`
      if (!existsSync(file) && !IN_CI && WRITTEN_ELSEWHERE.has(basename(file))) {
        console.warn(`[docs] ${message} yet (written in another issue; CI=true fails on this)`)
        continue
      }
      expect(existsSync(file), message).toBe(true)
    }
  })

  it('README shows the two commands and links the docs', () => {
    const readme = read('README.md')
    expect(readme).toContain('npm start')
    expect(readme).toContain('npm run load-test')
    expect(readme).toContain('](docs/index.md)')
  })

  it('every example has a README', () => {
    for (const example of ['express-chat', 'koa-chat', 'node-bot', 'load-test']) {
      expect(existsSync(`${ROOT}examples/${example}/README.md`), example).toBe(true)
    }
  })

  it("troubleshooting.md's close-code table matches CLOSE_CODES", () => {
    const rows = new Map<number, { name: string; retryable: boolean }>()
    for (const match of read('docs/troubleshooting.md').matchAll(/^\| (\d{4}) \| (\w+) \| (yes|no) \|/gm)) {
      rows.set(Number(match[1]), { name: match[2] as string, retryable: match[3] === 'yes' })
    }
    expect([...rows.keys()].sort()).toEqual(CLOSE_CODES.map((entry) => entry.code).sort())
    for (const entry of CLOSE_CODES) expect(rows.get(entry.code), String(entry.code)).toEqual({ name: entry.name, retryable: entry.retryable })
  })
})
