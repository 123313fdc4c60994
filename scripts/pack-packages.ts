/**
 * Builds every public package with the repository's own tsup config and `npm pack`s each one: what `npm run pack`
 * does (into `packs/`), and what test/packaging/packed-install.test.ts installs. The build never writes to the
 * packages' own `dist/` folders (which packages/protocol/test/dist.test.ts deletes and rebuilds): the sources are
 * copied to a staging folder and built there, so a pack can run beside the tests.
 */
import { spawn } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../', import.meta.url))

/** The public packages, in dependency order (a user installs all of their tarballs together). */
export const PUBLIC_PACKAGES = ['protocol', 'server-sdk', 'client-sdk', 'redis-adapter', 'postgres-history', 'contract', 'inspector'] as const
export type PublicPackage = (typeof PUBLIC_PACKAGES)[number]

/** Environment for the child processes: no loader hooks or lookup paths from the caller, no npm workspace context. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0', npm_config_update_notifier: 'false' }
  delete env['NODE_OPTIONS']
  delete env['NODE_PATH']
  for (const key of Object.keys(env)) if (key.startsWith('npm_package_') || key === 'npm_config_workspace' || key === 'npm_lifecycle_event') delete env[key]
  return env
}

/** Runs a command to completion; rejects with its output when it fails or outlives `timeoutMs`. */
export function runCommand(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
    }, timeoutMs)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(output)
      else reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) ended with ${code ?? signal}:\n${output}`))
    })
  })
}

/**
 * Builds and packs every public package into `destination` (created if missing), through a staging folder inside
 * it that is removed afterwards, unless `keepBuild`: then the build stays in `destination/packages/<name>/dist`
 * (the packed-install test reads its source maps). Resolves with each package's tarball file name (in `destination`).
 */
export async function packPackages(destination: string, options: { readonly keepBuild?: boolean } = {}): Promise<Record<PublicPackage, string>> {
  mkdirSync(destination, { recursive: true })
  const staging = options.keepBuild === true ? destination : mkdtempSync(join(destination, '.staging-'))
  try {
    for (const name of PUBLIC_PACKAGES) {
      cpSync(join(ROOT, 'packages', name), join(staging, 'packages', name), {
        recursive: true,
        filter: (source) => !/[/\\](node_modules|dist|test)$/.test(source),
      })
    }
    // The declaration build sees the sources only, never another build's dist/.
    writeFileSync(join(staging, 'tsconfig.json'), JSON.stringify({ extends: join(ROOT, 'tsconfig.base.json'), include: [join(ROOT, 'packages/*/src/**/*.ts')] }))
    // The repository's own tsup config, unchanged but for where it writes: each package's staged copy.
    writeFileSync(
      join(staging, 'tsup.config.ts'),
      [
        `import configs from ${JSON.stringify(join(ROOT, 'tsup.config.ts'))}`,
        `export default (configs as Array<Record<string, unknown>>).map((config) => ({`,
        `  ...config,`,
        `  outDir: ${JSON.stringify(`${staging}/`)} + String(config['outDir']),`,
        `  tsconfig: ${JSON.stringify(join(staging, 'tsconfig.json'))},`,
        `}))`,
      ].join('\n'),
    )
    await runCommand(process.execPath, [join(ROOT, 'node_modules/tsup/dist/cli-default.js'), '--config', join(staging, 'tsup.config.ts')], ROOT, 240_000)
    const tarballs: Partial<Record<PublicPackage, string>> = {}
    for (const name of PUBLIC_PACKAGES) {
      const out = await runCommand('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', destination], join(staging, 'packages', name), 60_000)
      const [entry] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string }>
      if (entry === undefined) throw new Error(`npm pack printed nothing for ${name}`)
      tarballs[name] = entry.filename
    }
    return tarballs as Record<PublicPackage, string>
  } finally {
    if (staging !== destination) rmSync(staging, { recursive: true, force: true })
  }
}
