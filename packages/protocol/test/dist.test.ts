import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * The built package as a consumer sees it. Every other test imports `src` through the vitest alias, so this is the
 * one place that proves `npm run build` output installs and runs: the real tsup build, the files `npm pack` would
 * publish copied into a throwaway `node_modules`, then plain `node` (ESM and CommonJS) and `tsc` (both type entry
 * points) against it.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const PKG_DIR = join(ROOT, 'packages/protocol')
const BUILD_TIMEOUT_MS = 120_000

interface PackageJson {
  readonly name: string
  readonly type?: string
  readonly main?: string
  readonly module?: string
  readonly types?: string
  readonly files?: readonly string[]
  readonly sideEffects?: boolean
  readonly exports?: Record<string, unknown>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
}

// A consumer process must find the package through the temp node_modules only: no inherited loader hooks
// (NODE_OPTIONS) and no extra lookup paths (NODE_PATH) that could reach the workspace.
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env['NODE_OPTIONS']
  delete env['NODE_PATH']
  return env
}

const run = (file: string, args: readonly string[], cwd: string): string =>
  execFileSync(file, args, { cwd, env: cleanEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/** What `npm pack` would put in the tarball, as paths relative to the package folder. */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: PKG_DIR,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
  })
  const [entry] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>
  if (entry === undefined) throw new Error(`npm pack --dry-run printed no package: ${out}`)
  return entry.files.map((file) => file.path)
}

/** The part both consumer scripts share, after each has bound the imports in its own module system. */
const CONSUMER_BODY = `
const publish = decode(
  '{"type":"publish","room":"general","id":"m-000123","data":{"text":"hello","mentions":["alice"]},"extra":true}',
  { from: 'client' },
)
const invalid = decode('{"type":"publish","room":"general"}', { from: 'client' })
const tooBig = decode('x'.repeat(100), { from: 'client', limits: { maxPayload: 10 } })
const frame = encode({
  type: 'message', room: 'general', seq: 7, epoch: 'e-1', from: 'alice', ts: 1700000000000, data: { text: 'hi' },
})
let thrown = null
try {
  encode({ type: 'message', room: 'general' })
} catch (error) {
  thrown = { name: error.name, code: error.code, isError: error instanceof Error }
}
console.log(JSON.stringify({
  resolved,
  publish,
  invalid: { ok: invalid.ok, code: invalid.error.code, field: invalid.error.details.field },
  tooBig: { ok: tooBig.ok, code: tooBig.error.code, closeCode: tooBig.error.closeCode },
  frame,
  thrown,
  negotiated: negotiate(['parley.token.abc', 'parley.v1.json']),
  closeCodes: { normal: CloseCode.Normal, tooBig: CloseCode.MessageTooBig, name: CloseCode[4509] },
}))
`

const ESM_CONSUMER = `import { decode, encode, negotiate, CloseCode } from '@parley/protocol'
const resolved = import.meta.resolve('@parley/protocol')
${CONSUMER_BODY}`

const CJS_CONSUMER = `'use strict'
const { decode, encode, negotiate, CloseCode } = require('@parley/protocol')
const resolved = require('node:url').pathToFileURL(require.resolve('@parley/protocol')).href
${CONSUMER_BODY}`

// Type-level consumers under `module: nodenext`: the .mts resolves through the `import` condition
// (index.d.ts), the .cts through `require` (index.d.cts). The @ts-expect-error lines prove the types are real
// declarations and not `any`.
const TYPES_CONSUMER = `import { decode, encode, CloseCode, type DecodeResult, type ClientMessage } from '@parley/protocol'
const result: DecodeResult<ClientMessage> = decode('{}', { from: 'client' })
if (result.ok) {
  const type: ClientMessage['type'] = result.message.type
  void type
} else {
  const code: string = result.error.code
  void code
}
const frame: string = encode({ type: 'ping' })
const tooBig: number = CloseCode.MessageTooBig
// @ts-expect-error 'nobody' is not a direction
decode('{}', { from: 'nobody' })
// @ts-expect-error a message needs a known type
encode({ type: 'nope' })
void frame
void tooBig
`

const EXPECTED_OUTPUT = {
  publish: {
    ok: true,
    message: { type: 'publish', room: 'general', data: { text: 'hello', mentions: ['alice'] }, id: 'm-000123' },
  },
  invalid: { ok: false, code: 'MISSING_FIELD', field: 'data' },
  tooBig: { ok: false, code: 'PAYLOAD_TOO_LARGE', closeCode: 1009 },
  frame: '{"type":"message","room":"general","seq":7,"epoch":"e-1","from":"alice","ts":1700000000000,"data":{"text":"hi"}}',
  thrown: { name: 'ProtocolError', code: 'MISSING_FIELD', isError: true },
  negotiated: { ok: true, protocol: 'parley.v1.json', version: 1, encoding: 'json' },
  closeCodes: { normal: 1000, tooBig: 1009, name: 'SlowConsumer' },
}

describe('@parley/protocol build output', () => {
  let temp = ''
  let installed = ''
  let pkg: PackageJson
  let packed: string[] = []

  beforeAll(() => {
    // Start from no dist at all, as a clean clone does. Stale ones are not only misleading: each package's .d.ts
    // build lists every .d.ts in the repository, other packages' old dist included, and fails (TS6053) when the
    // parallel build of that package cleans its dist meanwhile.
    for (const entry of readdirSync(join(ROOT, 'packages'), { withFileTypes: true })) {
      if (entry.isDirectory()) rmSync(join(ROOT, 'packages', entry.name, 'dist'), { recursive: true, force: true })
    }
    // The real build, as `npm run build` runs it: every package in tsup.config.ts.
    execFileSync('npx', ['tsup'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: BUILD_TIMEOUT_MS - 5_000,
      shell: process.platform === 'win32',
    })
    pkg = JSON.parse(readFileSync(join(PKG_DIR, 'package.json'), 'utf8')) as PackageJson
    packed = packedFiles()

    // Install by copying exactly the files npm would publish, so a file missing from `files` fails here.
    temp = realpathSync(mkdtempSync(join(tmpdir(), 'parley-protocol-dist-')))
    installed = join(temp, 'node_modules', '@parley', 'protocol')
    for (const file of packed) {
      mkdirSync(dirname(join(installed, file)), { recursive: true })
      cpSync(join(PKG_DIR, file), join(installed, file))
    }
    writeFileSync(join(temp, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  }, BUILD_TIMEOUT_MS)

  afterAll(() => {
    if (temp !== '') rmSync(temp, { recursive: true, force: true })
  })

  it('publishes only dist and package.json, declares no dependencies and no side effects', () => {
    expect(pkg.files).toEqual(['dist'])
    expect(pkg.sideEffects).toBe(false)
    expect(pkg.type).toBe('module')
    expect(pkg.dependencies ?? {}).toEqual({})
    expect(pkg.peerDependencies ?? {}).toEqual({})
    expect(pkg.optionalDependencies ?? {}).toEqual({})
    expect(packed).toContain('package.json')
    const stray = packed.filter((file) => file !== 'package.json' && !file.startsWith('dist/') && !/^(README|LICENSE)/i.test(file))
    expect(stray).toEqual([])
  })

  it('has an exports map whose every target exists, with types first in each condition', () => {
    const root = pkg.exports?.['.'] as Record<string, Record<string, string>>
    expect(Object.keys(root)).toEqual(['import', 'require'])
    expect(root['import']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' })
    expect(root['require']).toEqual({ types: './dist/index.d.cts', default: './dist/index.cjs' })
    // TypeScript takes the first matching condition, so `types` must precede `default`.
    for (const condition of Object.values(root)) expect(Object.keys(condition)[0]).toBe('types')
    expect(pkg.exports?.['./package.json']).toBe('./package.json')

    const targets = [
      ...Object.values(root).flatMap((condition) => Object.values(condition)),
      pkg.main,
      pkg.module,
      pkg.types,
    ]
    for (const target of targets) {
      expect(target, 'a legacy entry field is missing').toBeTypeOf('string')
      expect(existsSync(join(installed, target as string)), `${target as string} is not in the installed package`).toBe(true)
    }
  })

  it.each(['index.js', 'index.cjs'])('dist/%s imports and requires nothing at run time', async (file) => {
    const path = join(installed, 'dist', file)
    // esbuild parses the file as a bundler would; with everything external, each import statement, require() and
    // import() is listed in the metafile, so a failure names what was imported.
    const result = await build({
      entryPoints: [path],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'neutral',
      format: 'esm',
      external: ['*'],
      logLevel: 'silent',
    })
    const inputs = Object.values(result.metafile.inputs)
    expect(inputs).toHaveLength(1)
    expect(inputs[0]?.imports.map((entry) => `${entry.kind} ${entry.path}`)).toEqual([])
    // A require() with a computed argument is not recorded by esbuild; no such call may exist either.
    const code = readFileSync(path, 'utf8')
    expect(code).not.toMatch(/\brequire\s*\(/)
    expect(code).not.toMatch(/\bimport\s*\(/)
    expect(code).not.toMatch(/^\s*import[\s{*]/m)
  })

  it.each([
    ['ESM', 'consumer.mjs', ESM_CONSUMER, 'dist/index.js'],
    ['CommonJS', 'consumer.cjs', CJS_CONSUMER, 'dist/index.cjs'],
  ])('runs under plain node as %s', (_kind, name, source, entry) => {
    writeFileSync(join(temp, name), source)
    const output = run(process.execPath, [join(temp, name)], temp)
    const { resolved, ...rest } = JSON.parse(output) as { resolved: string }
    // The copy in the temp node_modules answered, not the workspace.
    expect(fileURLToPath(resolved)).toBe(join(installed, ...entry.split('/')))
    expect(rest).toEqual(EXPECTED_OUTPUT)
  })

  it('type-checks for consumers through both the import and the require entry', () => {
    writeFileSync(join(temp, 'consumer-types.mts'), TYPES_CONSUMER)
    writeFileSync(join(temp, 'consumer-types.cts'), TYPES_CONSUMER)
    writeFileSync(
      join(temp, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022'],
          types: [],
          strict: true,
          noEmit: true,
          // Check the shipped declarations themselves, not only their use.
          skipLibCheck: false,
        },
        files: ['consumer-types.mts', 'consumer-types.cts'],
      }),
    )
    const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc')
    let listed: string
    try {
      listed = run(process.execPath, [tsc, '-p', temp, '--listFiles'], temp)
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string }
      throw new Error(`tsc failed on the consumer:\n${stdout ?? ''}${stderr ?? ''}`)
    }
    const declarations = listed
      .split(/\r?\n/)
      .map((line) => line.trim())
      .map((line) => line.replaceAll('\\', '/'))
      .filter((line) => line.includes('/node_modules/@parley/'))
      .map((line) => line.slice(line.lastIndexOf('@parley/')))
      .sort()
    expect(declarations).toEqual(['@parley/protocol/dist/index.d.cts', '@parley/protocol/dist/index.d.ts'])
  }, 60_000)
})
