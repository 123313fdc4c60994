/**
 * `npx tsx bench/lib/profile-top.ts <file.cpuprofile> [count]`: the functions with the most self time in a V8 CPU
 * profile (as written by `npm run bench -- --profile`, i.e. `node --cpu-prof` on the server child), with their share
 * of all samples, and the same summed by file (node internals, ws, socket.io, Parley's packages...).
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly hitCount?: number
}
interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export function topFrames(profile: Profile, count: number): { frames: string[]; files: string[] } {
  const selfTime = new Map<number, number>()
  profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  let total = 0
  for (const value of selfTime.values()) total += value
  const byFrame = new Map<string, number>()
  const byFile = new Map<string, number>()
  for (const node of profile.nodes) {
    const time = selfTime.get(node.id) ?? 0
    if (time === 0) continue
    const url = node.callFrame.url.replace(/^file:\/\/.*?node_modules\//, '').replace(/^file:\/\/.*?\/packages\//, 'packages/')
    const name = `${node.callFrame.functionName || '(anonymous)'} ${url}${url === '' ? '' : `:${node.callFrame.lineNumber + 1}`}`
    byFrame.set(name, (byFrame.get(name) ?? 0) + time)
    const file = url === '' ? `(${node.callFrame.functionName})` : url.replace(/:\d+$/, '')
    byFile.set(file, (byFile.get(file) ?? 0) + time)
  }
  const show = (map: Map<string, number>): string[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, time]) => `${((time / total) * 100).toFixed(1).padStart(5)} %  ${(time / 1_000).toFixed(0).padStart(6)} ms  ${name}`)
  return { frames: show(byFrame), files: show(byFile) }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, count = '25'] = process.argv.slice(2)
  if (file === undefined) {
    console.error('Usage: npx tsx bench/lib/profile-top.ts <file.cpuprofile> [count]')
    process.exit(2)
  }
  const { frames, files } = topFrames(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(count))
  console.log(`Self time by function:\n${frames.join('\n')}\n\nSelf time by file:\n${files.join('\n')}`)
}
