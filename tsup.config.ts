import { readFileSync } from 'node:fs'
import { defineConfig, type Options } from 'tsup'

/** Every published package and its entry points; each builds to ESM + CJS + `.d.ts` in its own `dist/`. */
const PACKAGES: ReadonlyArray<{ dir: string; entry: Record<string, string>; platform?: Options['platform']; shims?: boolean }> = [
  { dir: 'packages/protocol', entry: { index: 'src/index.ts' }, platform: 'neutral' },
  { dir: 'packages/server-sdk', entry: { index: 'src/index.ts', metrics: 'src/metrics.ts' } },
  { dir: 'packages/client-sdk', entry: { index: 'src/index.ts' }, platform: 'neutral' },
  { dir: 'packages/redis-adapter', entry: { index: 'src/index.ts' } },
  { dir: 'packages/postgres-history', entry: { index: 'src/index.ts', cli: 'src/cli.ts' } },
  { dir: 'packages/contract', entry: { index: 'src/index.ts', parley: 'src/parley.ts' } },
  // `import.meta.url` (where the built page script is) in the CommonJS build too.
  { dir: 'packages/inspector', entry: { index: 'src/index.ts' }, shims: true },
]

function externalsOf(dir: string): Array<string | RegExp> {
  const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as {
    dependencies?: Record<string, string>
    peerDependencies?: Record<string, string>
  }
  return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}), /^node:/]
}

/**
 * The client as one browser ES module with its dependencies inside (protocol), for a `<script type="module">`
 * from a CDN or a static folder: `@parley/client-sdk/browser`. Its own folder, so the main build's `clean` of `dist/`
 * cannot remove it.
 */
const BROWSER_BUNDLE: Options = {
  entry: { 'parley-client': 'packages/client-sdk/src/index.ts' },
  outDir: 'packages/client-sdk/dist-browser',
  format: ['esm'],
  dts: false,
  tsconfig: 'tsconfig.build.json',
  platform: 'browser',
  // ES2022 keeps `#private` fields and methods native: an ES2020 build turns each into a WeakMap or WeakSet entry
  // per object, slower and heavier, and the client's per-connection objects are classes with many of them.
  target: 'es2022',
  minify: true,
  sourcemap: true,
  clean: true,
  splitting: false,
  treeshake: true,
  noExternal: ['@parley/protocol'],
  // Loaded by a dynamic import whose specifier is not a literal, in Node only; never in a browser.
  external: ['ws'],
}

/**
 * The inspector's page script, with the client SDK inside, for the browser: served by `attachInspector()` from
 * `dist-page/` (its own folder, for the same reason as the client's browser bundle).
 */
const INSPECTOR_PAGE: Options = {
  ...BROWSER_BUNDLE,
  entry: { 'inspector-page': 'packages/inspector/src/page/inspector-page.ts' },
  outDir: 'packages/inspector/dist-page',
  sourcemap: false,
  noExternal: ['@parley/client-sdk', '@parley/protocol'],
}

export default defineConfig([
  ...PACKAGES.map(({ dir, entry, platform, shims }): Options => ({
    entry: Object.fromEntries(Object.entries(entry).map(([name, file]) => [name, `${dir}/${file}`])),
    outDir: `${dir}/dist`,
    format: ['esm', 'cjs'],
    dts: true,
    // Sources only: never other packages' dist/*.d.ts, which a parallel build may be cleaning.
    tsconfig: 'tsconfig.build.json',
    platform: platform ?? 'node',
    target: 'es2022',
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    external: externalsOf(dir),
    shims: shims ?? false,
  })),
  INSPECTOR_PAGE,
  BROWSER_BUNDLE,
])
