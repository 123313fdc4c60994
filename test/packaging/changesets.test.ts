/**
 * The release flow's configuration (docs/releasing.md): .changeset/config.json is valid for this workspace, keeps the
 * six public packages on one version, and a changeset for one of them bumps all six (and never the private ones).
 */
import assembleReleasePlan from '@changesets/assemble-release-plan'
import { readConfig } from '@changesets/config'
import { getPackages } from '@manypkg/get-packages'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../e2e/helpers/processes.js'

const PUBLIC = ['@parley/protocol', '@parley/server-sdk', '@parley/client-sdk', '@parley/redis-adapter', '@parley/postgres-history', '@parley/contract', '@parley/inspector']

describe('Changesets', () => {
  it('has a valid configuration that versions the six public packages together', async () => {
    const packages = await getPackages(ROOT)
    const { config, errors, warnings } = await readConfig(ROOT, packages)
    expect(errors).toBeUndefined()
    expect(warnings).toEqual([])
    expect(config?.access).toBe('public')
    expect(config?.fixed.map((group) => [...group].sort())).toEqual([[...PUBLIC].sort()])
    expect(packages.packages.filter((pkg) => pkg.packageJson.private !== true).map((pkg) => pkg.packageJson.name).sort()).toEqual([...PUBLIC].sort())
  })

  it('turns one minor changeset to the protocol into the same new version for all six, and nothing for private packages', async () => {
    const packages = await getPackages(ROOT)
    const { config } = await readConfig(ROOT, packages)
    if (config === undefined) throw new Error('no config')
    const plan = assembleReleasePlan(
      [{ id: 'test-changeset', summary: 'A new protocol message', releases: [{ name: '@parley/protocol', type: 'minor' }] }],
      packages,
      config,
      undefined,
    )
    const released = Object.fromEntries(plan.releases.map((release) => [release.name, release.newVersion]))
    const current = packages.packages.find((pkg) => pkg.packageJson.name === '@parley/protocol')?.packageJson.version as string
    const [major, minor] = current.split('.').map(Number) as [number, number]
    for (const name of PUBLIC) expect(released[name], name).toBe(`${major}.${minor + 1}.0`)
    expect(Object.keys(released).sort()).toEqual([...PUBLIC].sort())
  })
})
