/**
 * The bench children's TypeScript loader (bench/lib/ts-loader.mjs): path aliases and `.js` → `.ts` resolve, types are
 * stripped, and functions are not wrapped to keep their names (tsx's `__name`, which gave every closure its own
 * property store and made Parley's memory figures larger than the published packages').
 */
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const REGISTER = fileURLToPath(new URL('../../bench/lib/ts-register.mjs', import.meta.url))
const ENTRY = fileURLToPath(new URL('./fixtures/loader-entry.ts', import.meta.url))

describe('the bench TypeScript loader', () => {
  it('runs TypeScript with the tsconfig paths, without wrapping functions for their names', () => {
    const out = JSON.parse(execFileSync(process.execPath, ['--import', REGISTER, ENTRY], { encoding: 'utf8' })) as { subprotocols: string[]; count: number; factory: string }
    expect(out.subprotocols).toContain('parley.v1.json')
    expect(out.count).toBe(2)
    expect(out.factory).not.toContain('__name')
    expect(out.factory).toContain('++count')
  })

  it('would have caught tsx: the same file through tsx does wrap', () => {
    const tsx = createRequire(import.meta.url).resolve('tsx')
    const out = JSON.parse(execFileSync(process.execPath, ['--import', tsx, ENTRY], { encoding: 'utf8' })) as { factory: string }
    expect(out.factory).toContain('__name')
  })
})
