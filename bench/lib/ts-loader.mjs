// Node module hooks that run the bench's children from TypeScript sources the way the built packages run: esbuild
// strips the types with keepNames off. tsx (which the runner itself still uses) keeps function names by wrapping every
// function in `__name(fn, "name")`, which gives each closure its own property store: 320 bytes a closure instead of
// 64 in a measurement (docs/benchmarks.md), and a defineProperty call each time one is made. The published packages
// (tsup) have no such wrapper, so measuring through tsx overstated Parley's memory and CPU against ws and Socket.IO,
// which run as plain JavaScript. Plain JS: this file is what loads the TypeScript.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve as resolvePath } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { transform } from 'esbuild'

const ROOT = resolvePath(dirname(fileURLToPath(import.meta.url)), '../..')

/** `compilerOptions.paths` of a tsconfig and the ones it extends, as absolute file paths (baseUrl applied). */
function pathsOf(tsconfig) {
  const config = JSON.parse(readFileSync(tsconfig, 'utf8'))
  const inherited = typeof config.extends === 'string' ? pathsOf(resolvePath(dirname(tsconfig), config.extends)) : new Map()
  const options = config.compilerOptions ?? {}
  const base = resolvePath(dirname(tsconfig), options.baseUrl ?? '.')
  for (const [key, [target]] of Object.entries(options.paths ?? {})) inherited.set(key, resolvePath(base, target))
  return inherited
}

// `--baseline` points a server child at another copy of the sources through this variable (bench/README.md).
const PATHS = pathsOf(process.env.TSX_TSCONFIG_PATH ?? resolvePath(ROOT, 'tsconfig.json'))

export async function resolve(specifier, context, next) {
  const mapped = PATHS.get(specifier)
  if (mapped !== undefined) return { url: pathToFileURL(mapped).href, shortCircuit: true }
  if ((specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')) && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    // TypeScript sources import each other as `./x.js`: the file on disk is `./x.ts`.
    const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL)
    if (existsSync(candidate)) return { url: candidate.href, shortCircuit: true }
  }
  return next(specifier, context)
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !/\.(ts|mts)$/.test(url)) return next(url, context)
  const path = fileURLToPath(url)
  const { code } = await transform(readFileSync(path, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: path,
    keepNames: false,
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: true } },
  })
  return { format: 'module', source: code, shortCircuit: true }
}
