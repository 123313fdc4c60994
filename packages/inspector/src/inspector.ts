import type { Server as HttpServer } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { JsonValue } from '@parley/protocol'
import { attach, optionError, RequestError, sameSecret, takeRequests, type AuthenticateContext, type Logger, type Parley } from '@parley/server-sdk'
import { pageAsset } from './page-assets.js'
import { SnapshotBuilder, type InspectorSnapshot } from './snapshot.js'

/** What the app's own check of an operator gets: the request's headers (cookies), URL and remote address. */
export type InspectorRequest = NonNullable<AuthenticateContext['request']>

/** Options of {@link attachInspector}. Give `key` or `authenticate` (or both: either admits). */
export interface InspectorOptions {
  /** Where the page is served; its live channel is `${path}/live`. @default '/parley-inspector' */
  readonly path?: string
  /** A shared secret (at least 16 characters) operators type into the page. Compared in constant time. */
  readonly key?: string
  /**
   * The app's own check, from the request that opens the live channel (its cookies: the app's session): an operator
   * name (for the logs), `true`, or `false` / `null` to refuse.
   */
  readonly authenticate?: (request: InspectorRequest) => string | boolean | null | Promise<string | boolean | null>
  /** How often the page gets a snapshot, in ms (≥ 250). @default 1000 */
  readonly intervalMs?: number
  /** What "publish a system message" publishes in a room, from the text typed. @default (text) => ({ text, system: true }) */
  readonly systemMessage?: (text: string) => JsonValue
  /** Where operator actions (kick, remove, publish) are logged, as `inspector.action`. @default the instance's logger */
  readonly logger?: Logger
}

/** What {@link attachInspector} gives back. */
export interface Inspector {
  /** The page's URL path. */
  readonly path: string
  /** The last snapshot sent (undefined before the first, or while no page is open). */
  readonly snapshot: InspectorSnapshot | undefined
  /** Stops the snapshots, closes the live channel and gives the page's requests back to the app. */
  close(): Promise<void>
}

/** Longest text a system message may have. */
export const MAX_SYSTEM_TEXT = 2_000
/** Messages the page shows of a room. */
export const RECENT_MESSAGES = 20

const PATH = /^\/[A-Za-z0-9_\-./]*[A-Za-z0-9_-]$/


function text(input: unknown, field: string, max: number): string {
  if (typeof input !== 'string' || input.length === 0 || input.length > max) throw new RequestError('INVALID_FIELD', `${field}: expected 1-${max} characters`)
  return input
}

function field(input: unknown, name: string): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new RequestError('INVALID_FIELD', 'expected an object')
  return (input as Record<string, unknown>)[name]
}

/**
 * Mounts the inspector on the app's server, next to `parley`: the page at `path` (HTML, CSS and its script, with a
 * strict Content-Security-Policy), and its live channel at `${path}/live`, a Parley instance of its own that admits
 * operators only (`key` or the app's `authenticate`). While a page is open, a snapshot of the whole cluster (every
 * node that runs an inspector shares its sessions and errors through the adapter) goes out every `intervalMs`;
 * the page's actions are Parley requests that call the server control API (`user(id).disconnect()`,
 * `room(name).remove()`, `room(name).publish()`), cluster-wide. Every other request is left to the app.
 */
export function attachInspector(server: HttpServer | HttpsServer, parley: Parley, options: InspectorOptions): Inspector {
  const path = options.path ?? '/parley-inspector'
  const intervalMs = options.intervalMs ?? 1_000
  if (typeof options !== 'object' || options === null) throw optionError('attachInspector: options must be an object with key or authenticate')
  if (typeof path !== 'string' || !PATH.test(path) || path.length > 200) throw optionError(`attachInspector: option "path" must be an absolute path like /parley-inspector, got ${JSON.stringify(path)}`)
  if (options.key === undefined && options.authenticate === undefined) throw optionError('attachInspector: give "key" or "authenticate": the inspector is never open to everyone')
  if (options.key !== undefined && (typeof options.key !== 'string' || options.key.length < 16)) throw optionError('attachInspector: option "key" must be a string of at least 16 characters')
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') throw optionError('attachInspector: option "authenticate" must be a function')
  if (!Number.isInteger(intervalMs) || intervalMs < 250) throw optionError(`attachInspector: option "intervalMs" must be an integer ≥ 250, got ${String(intervalMs)}`)
  const systemMessage = options.systemMessage ?? ((typed: string): JsonValue => ({ text: typed, system: true }))
  const logger = options.logger ?? parley.options.logger
  const { key, authenticate } = options

  // The page's own files: taken before the app sees them, like the HTTP stream transport's requests. Taken before the
  // live channel attaches, so its transport sits in front of this taker.
  const taken = takeRequests(server, (request, response) => {
    const url = request.url ?? '/'
    const pathname = url.split('?')[0] ?? '/'
    const asset = pathname === path || pathname === `${path}/` ? 'index.html' : pathname.startsWith(`${path}/`) ? pathname.slice(path.length + 1) : undefined
    if (asset === undefined || asset.startsWith('live') || (request.method !== 'GET' && request.method !== 'HEAD')) return false
    void pageAsset(asset, path).then(
      (found) => {
        if (found === undefined) {
          response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
          response.end('Not found\n')
          return
        }
        response.writeHead(200, {
          'Content-Type': found.type,
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
          'X-Frame-Options': 'DENY',
          'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        })
        response.end(request.method === 'HEAD' ? undefined : found.body)
      },
      (error: unknown) => {
        logger.error({ event: 'inspector.page-failed', error: error instanceof Error ? error.message : String(error) }, 'parley inspector: page could not be served')
        response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
        response.end('Inspector page unavailable\n')
      },
    )
    return true
  })

  parley.shareInspection()
  let live: Parley
  try {
    live = attachLive()
  } catch (error) {
    taken.release()
    throw error
  }
  function attachLive(): Parley {
    return attach(server, {
      path: `${path}/live`,
      // A snapshot lists up to 200 sessions per node: the live channel's frames may be larger than chat messages.
      limits: { maxPayload: 1_048_576 },
      logger: parley.options.logger,
      authenticate: async ({ token, request }) => {
        if (key !== undefined && token !== undefined && sameSecret(token, key)) return { id: 'key-holder' }
        if (authenticate !== undefined && request !== undefined) {
          const operator = await authenticate(request)
          if (typeof operator === 'string' && operator !== '') return { id: operator.replace(/[^A-Za-z0-9_\-.:~]/g, '_').slice(0, 64) }
          if (operator === true) return { id: 'operator' }
        }
        return null
      },
    })
  }
  const action = (operator: string, name: string, detail: Record<string, unknown>): void =>
    logger.info({ event: 'inspector.action', operator, action: name, ...detail }, `parley inspector: ${operator} ${name}`)

  live.handle('room.detail', async (input) => {
    const room = text(field(input, 'room'), 'room', 128)
    const [members, page] = await Promise.all([parley.room(room).members(), parley.room(room).history({ limit: RECENT_MESSAGES })])
    return { room, members: members as unknown as JsonValue, messages: page.messages.map(({ seq, epoch, from, ts, data }) => ({ seq, epoch, from, ts, data })) as JsonValue }
  })
  live.handle('user.disconnect', async (input, { user }) => {
    const target = text(field(input, 'user'), 'user', 64)
    const report = await parley.user(target).disconnect({ code: 4403, reason: 'disconnected by an operator' })
    action(user.id, 'user.disconnect', { user: target, sessions: report.sessions })
    return report as unknown as JsonValue
  })
  live.handle('room.remove', async (input, { user }) => {
    const room = text(field(input, 'room'), 'room', 128)
    const target = text(field(input, 'user'), 'user', 64)
    const report = await parley.room(room).remove(target, { reason: 'kicked' })
    action(user.id, 'room.remove', { room, user: target, sessions: report.sessions })
    return report as unknown as JsonValue
  })
  live.handle('room.publish', async (input, { user }) => {
    const room = text(field(input, 'room'), 'room', 128)
    const typed = text(field(input, 'text'), 'text', MAX_SYSTEM_TEXT)
    const position = await parley.room(room).publish(systemMessage(typed))
    action(user.id, 'room.publish', { room, seq: position.seq })
    return position
  })

  const builder = new SnapshotBuilder()
  let snapshot: InspectorSnapshot | undefined
  let ticking = false
  const tick = async (): Promise<void> => {
    if (ticking || live.sessions().length === 0) return
    ticking = true
    try {
      const [cluster, rooms] = await Promise.all([parley.clusterInspect(), parley.rooms()])
      snapshot = builder.build(cluster.nodes, rooms, cluster.partial)
      await live.broadcast(snapshot as unknown as JsonValue)
    } catch (error) {
      logger.warn({ event: 'inspector.snapshot-failed', error: error instanceof Error ? error.message : String(error) }, 'parley inspector: snapshot failed')
    } finally {
      ticking = false
    }
  }
  const timer = setInterval(() => void tick(), intervalMs)
  timer.unref()
  // A page that just connected gets a snapshot at once rather than at the next tick.
  live.on('connection', () => setTimeout(() => void tick(), 20))


  let closed: Promise<void> | undefined
  return {
    path,
    get snapshot() {
      return snapshot
    },
    close() {
      closed ??= (async () => {
        clearInterval(timer)
        parley.shareInspection(false)
        await live.close()
        taken.release()
      })()
      return closed
    },
  }
}
