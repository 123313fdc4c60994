/**
 * `npm run pack`: builds every public package and packs it into `packs/` at the repository root, one tarball per
 * package, ready for `npm install <this folder>/packs/*.tgz` in an app of yours (docs/getting-started.md, "Install
 * from a clone"). Older tarballs in `packs/` are removed first, so the folder holds one version of each package.
 */
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { packPackages, ROOT } from './pack-packages.js'

const destination = join(ROOT, 'packs')
for (const name of (() => {
  try {
    return readdirSync(destination)
  } catch {
    return []
  }
})()) {
  if (name.endsWith('.tgz')) rmSync(join(destination, name))
}
const started = Date.now()
const tarballs = await packPackages(destination)
console.log(`Packed ${Object.keys(tarballs).length} packages into ${destination} in ${((Date.now() - started) / 1000).toFixed(1)} s:`)
for (const file of Object.values(tarballs)) console.log(`  ${file}`)
console.log('\nIn your app:')
console.log(`  npm install ${destination}/*.tgz`)
