import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { INSPECTOR_CSS, inspectorHtml } from './page-markup.js'

/** One file of the page. */
export interface PageAsset {
  readonly type: string
  readonly body: string
}

/** The page's script, once read or bundled. */
let script: Promise<string> | undefined

/**
 * The page's script: the published package ships it built (`dist-page/inspector-page.js`, the client SDK inside);
 * run from the repository's sources (tests, `tsx`), it is bundled from `src/page` on first use with esbuild, a
 * development dependency there.
 */
function pageScript(): Promise<string> {
  script ??= (async () => {
    const here = import.meta.url
    if (!here.endsWith('.ts')) return readFile(fileURLToPath(new URL('../dist-page/inspector-page.js', here)), 'utf8')
    // Not a literal specifier: a bundler building this package must not try to pull esbuild in.
    const bundler = 'esbuild'
    const { build } = (await import(bundler)) as typeof import('esbuild')
    const result = await build({
      entryPoints: [fileURLToPath(new URL('./page/inspector-page.ts', here))],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      minify: true,
      external: ['ws'],
    })
    return result.outputFiles[0]?.text ?? ''
  })()
  script.catch(() => (script = undefined))
  return script
}

/** A file of the page by its name under the inspector's `path`, or undefined for any other name. */
export async function pageAsset(name: string, path: string): Promise<PageAsset | undefined> {
  switch (name) {
    case 'index.html':
      return { type: 'text/html; charset=utf-8', body: inspectorHtml(path) }
    case 'inspector.css':
      return { type: 'text/css; charset=utf-8', body: INSPECTOR_CSS }
    case 'inspector.js':
      return { type: 'text/javascript; charset=utf-8', body: await pageScript() }
    default:
      return undefined
  }
}
