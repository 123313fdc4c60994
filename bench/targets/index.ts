import type { Target } from './target.js'

/**
 * Every target by name; loaded only in the process that runs it. Add a target: one file in this folder and one line
 * here. `parley-sdk` is the same Parley server with the client SDK in the load generator instead of raw frames.
 */
export const TARGETS: Readonly<Record<string, () => Promise<Target>>> = {
  parley: () => import('./parley.js').then((module) => module.parley),
  'parley-sdk': () => import('./parley.js').then((module) => module.parleySdk),
  'parley-ws': () => import('./parley.js').then((module) => module.parleyWs),
  'parley-http': () => import('./parley-http.js').then((module) => module.parleyHttp),
  'parley-redis': () => import('./parley-redis.js').then((module) => module.parleyRedis),
  'parley-pg': () => import('./parley-pg.js').then((module) => module.parleyPg),
  'parley-zod': () => import('./parley-validated.js').then((module) => module.parleyZod),
  'parley-valibot': () => import('./parley-validated.js').then((module) => module.parleyValibot),
  'parley-quiet': () => import('./parley-quiet.js').then((module) => module.parleyQuiet),
  'parley-deflate': () => import('./parley-deflate.js').then((module) => module.parleyDeflate),
  'parley-bytes': () => import('./parley-bytes.js').then((module) => module.parleyBytes),
  'parley-metrics': () => import('./parley-metrics.js').then((module) => module.parleyMetricsTarget),
  ws: () => import('./ws.js').then((module) => module.default),
  'socket.io': () => import('./socketio.js').then((module) => module.default),
}

export async function loadTarget(name: string): Promise<Target> {
  const load = TARGETS[name]
  if (load === undefined) throw new Error(`Unknown target ${name}; known: ${Object.keys(TARGETS).join(', ')}`)
  return load()
}
