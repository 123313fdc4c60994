/**
 * The server side both chat examples share: Parley options (authentication, authorization, the chat's contract),
 * the publish rules and requests, the JSON endpoints (sign-in, rooms, stats, admin commands), the browser bundle,
 * and start-up and shutdown. The Express and Koa servers only wire these into their framework, which is the part
 * each example exists to show.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { createMemoryHistory, ParleyServerError, type HistoryStore, type Parley, type ServerOptions } from '@parley/server-sdk'
import { build } from 'esbuild'
import { createChatAuth, type IssuedToken } from './chat-auth.js'
import { chatContract, isChatImage } from './chat-contract.js'
import { CHAT_MAX_PAYLOAD, CHAT_ROOM_PATTERN, imageTypeOf, isUsername } from './chat-rules.js'
import { chatAdmins, ModerationStore, runCommand, type CommandResult } from './chat-moderation.js'

/** Bans and mutes of this chat (the example's own store). */
export const moderation = new ModerationStore()
/** Usernames with the admin role. */
export const admins = chatAdmins()
/** The chat's sign-in tokens: short-lived JWTs (`CHAT_JWT_SECRET`, `CHAT_TOKEN_TTL_SECONDS`; see ./chat-auth.ts). */
export const chatAuth = createChatAuth()

/** The page's static files: index.html, styles.css, the icon. Its script is in ./page and bundled at start-up. */
export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url))
/** Where the page's script is bundled at start-up (gitignored). */
export const BUNDLE_DIR = fileURLToPath(new URL('./dist/', import.meta.url))

/**
 * Headers for every page response: the page never needs inline script, and user content never becomes markup. Images
 * load from `blob:` URLs the page makes from a message's bytes (never from a URL a message names).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
})

/** Where to listen: `PORT` (default 3000) on `HOST` (default loopback; set `HOST=0.0.0.0` to share on a network). */
export function listenAddress(env: NodeJS.ProcessEnv = process.env): { port: number; host: string } {
  const port = env['PORT'] === undefined || env['PORT'] === '' ? 3000 : Number(env['PORT'])
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be a port number (0-65535), got ${JSON.stringify(env['PORT'])}`)
  }
  return { port, host: env['HOST'] || '127.0.0.1' }
}

/** Messages per room the in-memory history keeps; the oldest go first. */
export const MEMORY_HISTORY_PER_ROOM = 10_000

/** The chat's history store, and where it keeps messages, for the start-up lines. */
export interface ChatHistory {
  readonly store: HistoryStore
  readonly description: string
}

/**
 * Where the chat keeps its history: in PostgreSQL when `DATABASE_URL` is set, else in this process's memory (the
 * newest {@link MEMORY_HISTORY_PER_ROOM} messages of each room, gone on restart), so `npm start` needs no database.
 * Whoever calls this closes the store, after `parley.close()` (see {@link stopOnSignals}).
 */
export async function chatHistory(env: NodeJS.ProcessEnv = process.env): Promise<ChatHistory> {
  const url = env['DATABASE_URL']
  if (url === undefined || url === '') {
    return {
      store: createMemoryHistory({ maxPerRoom: MEMORY_HISTORY_PER_ROOM }),
      description: `in memory, the last ${MEMORY_HISTORY_PER_ROOM.toLocaleString('en-US')} messages per room (set DATABASE_URL to keep it in PostgreSQL)`,
    }
  }
  // Imported only when asked for, so the default start-up never loads the PostgreSQL driver.
  const { createPostgresHistory, migrate } = await import('@parley/postgres-history')
  const where = databaseName(url)
  try {
    // A deployed app migrates once per deploy (`npx parley-postgres-history migrate`); the example does it at
    // start-up so that one command runs it. Migrating is idempotent, so a restart finds nothing to do.
    await migrate({ url })
  } catch (error) {
    console.error(`Cannot prepare the history tables in PostgreSQL (${where}): ${(error as Error).message}`)
    process.exit(1)
  }
  return { store: createPostgresHistory({ url }), description: `PostgreSQL (${where})` }
}

/** `host:port/database` of a connection string, never its user or password. */
function databaseName(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.host}${parsed.pathname}`
  } catch {
    return 'DATABASE_URL'
  }
}

/** What the chat's Parley options can be given. */
export interface ChatParleyOptions {
  /** Where room history is kept (the last messages on join, older ones on scroll, search). @default in memory ({@link MEMORY_HISTORY_PER_ROOM} per room) */
  readonly history?: HistoryStore | undefined
}

/**
 * Parley options for the chat. `authenticate` takes the JWT `POST /api/login` issued: at the handshake, and again
 * at each in-band refresh. `expiresAt` is the token's `exp`, so Parley closes a session with 4419 when its token
 * runs out unless the client has sent a fresh one in band by then. A banned user's token, however fresh, is
 * refused (a ban also disconnects them at once: see ./chat-moderation.ts). `contract` is the chat's
 * (./chat-contract.ts): a publish, presence or signal that breaks it is answered `VALIDATION_FAILED`, with the
 * issues, and reaches nobody.
 */
export function chatParleyOptions(options: ChatParleyOptions = {}): ServerOptions {
  return {
    contract: chatContract,
    authenticate: async ({ token }) => {
      const verified = await chatAuth.verifyToken(token)
      if (verified === null || moderation.isBanned(verified.user)) return null
      return { id: verified.user, expiresAt: verified.expiresAt, admin: admins.has(verified.user) }
    },
    // Room names the page can produce; anything else is refused (FORBIDDEN) rather than created. History reads
    // (action 'history') pass the same check: anyone signed in may read a room's past, as anyone may join it.
    authorize: ({ room }) => CHAT_ROOM_PATTERN.test(room),
    history: { store: options.history ?? createMemoryHistory({ maxPerRoom: MEMORY_HISTORY_PER_ROOM }) },
    // Room for an image of MAX_IMAGE_BYTES as base64 (chat-rules.ts).
    limits: { maxPayload: CHAT_MAX_PAYLOAD },
    development: process.env['NODE_ENV'] !== 'production',
  }
}

/**
 * Refuses publishes from muted users. What a message holds is checked before this runs, by the contract (see
 * {@link chatParleyOptions}); whether its author may speak now is the app's own state, so it is middleware.
 */
export function installChatRules(parley: Parley): void {
  parley.use(async ({ message, session }, next) => {
    if (message.type === 'publish') {
      const muted = moderation.mutedFor(session.user.id)
      if (muted > 0) throw new ParleyServerError('REJECTED', `You are muted for ${muted} more seconds`)
      checkImage(message.data, message.bytes)
    }
    await next()
  })
}

/**
 * Bytes ride only with an image's description, and must be what it says: as many bytes as `size`, and an image of
 * `type` by its signature (a renamed file or a claimed type changes nothing). Anything else is `REJECTED` and
 * reaches nobody. The description itself was checked by the contract before this runs.
 */
export function checkImage(data: unknown, bytes: Uint8Array | undefined): void {
  if (!isChatImage(data)) {
    if (bytes !== undefined) throw new ParleyServerError('REJECTED', 'Only an image carries bytes in the chat')
    return
  }
  if (bytes === undefined) throw new ParleyServerError('REJECTED', 'An image message needs its image as bytes')
  if (bytes.byteLength !== data.image.size) throw new ParleyServerError('REJECTED', `The image is ${bytes.byteLength} bytes, not ${data.image.size}`)
  const actual = imageTypeOf(bytes)
  if (actual === undefined) throw new ParleyServerError('REJECTED', 'The bytes are not a PNG, JPEG, GIF or WebP image')
  if (actual !== data.image.type) throw new ParleyServerError('REJECTED', `The image is ${actual}, not ${data.image.type}`)
}

/** The active rooms with their member counts, busiest first (then by name). */
export async function activeRooms(parley: Parley): Promise<{ rooms: Array<{ room: string; members: number }> }> {
  const rooms = await parley.rooms()
  rooms.sort((a, b) => b.members - a.members || a.room.localeCompare(b.room))
  return { rooms }
}

/**
 * Answers the chat's requests (`client.request()`), typed by the contract: `rooms.list`, the page's rooms list.
 * The server checks what the handler returns against the contract, and the client checks it again on arrival.
 */
export function handleChatRequests(parley: Parley): void {
  parley.handle(chatContract, 'rooms.list', () => activeRooms(parley))
}

/** What `POST /api/login` answers: a token, or why not. */
export type LoginAnswer = { status: 200; body: IssuedToken } | { status: 400 | 403; body: { message: string } }

/**
 * The JSON endpoints: sign-in (`POST /api/login`), active rooms with member counts (what the page asks with the
 * `rooms.list` request, for scripts and `curl`), the server counters the page polls, and admin commands.
 */
export function chatApi(parley: Parley, startedAt = Date.now()) {
  return {
    /**
     * Signs a user in (`POST /api/login { username }`) with a fresh short-lived token. A demo sign-in: any username
     * that is not banned, and no password; a real app checks a password, or its own session (docs/server.md §4.6),
     * first. Clients also call it for each refresh. The answer must not be cached (`Cache-Control: no-store`).
     */
    async login(body: unknown): Promise<LoginAnswer> {
      const { username } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
      if (!isUsername(username)) return { status: 400, body: { message: 'Use 1-32 letters, digits or _ - . ~ (no spaces).' } }
      if (moderation.isBanned(username)) return { status: 403, body: { message: `${username} is banned from this chat.` } }
      return { status: 200, body: await chatAuth.issueToken(username) }
    },
    rooms: () => activeRooms(parley),
    stats() {
      return { ...parley.stats(), uptimeMs: Date.now() - startedAt }
    },
    /**
     * An admin command typed in the page (`POST /api/admin { room, command }`). The caller is named by the same
     * token as the WebSocket (`Authorization: Bearer <jwt>`); a missing, bad or expired one answers 401.
     */
    async admin(authorization: string | undefined, body: unknown): Promise<{ status: number; body: CommandResult }> {
      const verified = await chatAuth.verifyToken(/^Bearer (\S+)$/i.exec(authorization ?? '')?.[1])
      if (verified === null || moderation.isBanned(verified.user)) return { status: 401, body: { ok: false, message: 'Sign in first' } }
      const name = verified.user
      const { room, command } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
      if (typeof room !== 'string' || !CHAT_ROOM_PATTERN.test(room) || typeof command !== 'string' || command.length > 200) {
        return { status: 400, body: { ok: false, message: 'Expected { room, command }' } }
      }
      try {
        return { status: 200, body: await runCommand(parley, moderation, admins, name, room, command) }
      } catch (error) {
        if (error instanceof ParleyServerError && error.code === 'FORBIDDEN') return { status: 403, body: { ok: false, message: error.message } }
        throw error
      }
    },
  }
}

/**
 * Bundles the page's script (and the client SDK with it) with esbuild into {@link BUNDLE_DIR}. Inside this
 * repository the root tsconfig maps `@parley/*` to each package's source, so no package build is needed. The files
 * are written under a temporary name and renamed, so a second server starting at the same time never serves half
 * a file.
 */
export async function buildPage(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./page/app.ts', import.meta.url))],
    tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: 'linked',
    outdir: BUNDLE_DIR,
    write: false,
    logLevel: 'silent',
  })
  await mkdir(BUNDLE_DIR, { recursive: true })
  const suffix = `.${process.pid}.tmp`
  for (const file of result.outputFiles) await writeFile(file.path + suffix, file.contents)
  for (const file of result.outputFiles) await rename(file.path + suffix, file.path)
  return BUNDLE_DIR
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/**
 * The page's files, read once, by URL path (`/` is index.html), for frameworks without a static middleware at hand
 * (Koa here). Only these names are ever served, so no request path reaches the file system.
 */
export async function pageAssets(bundleDir: string): Promise<Map<string, { body: Buffer; type: string }>> {
  const assets = new Map<string, { body: Buffer; type: string }>()
  for (const dir of [PUBLIC_DIR, bundleDir]) {
    for (const name of await readdir(dir)) {
      const type = CONTENT_TYPES[name.slice(name.lastIndexOf('.'))]
      if (type !== undefined && !name.endsWith('.tmp')) assets.set(`/${name}`, { body: await readFile(dir + name), type })
    }
  }
  const index = assets.get('/index.html')
  if (index !== undefined) assets.set('/', index)
  return assets
}

/** Listens, and explains a busy port instead of printing a stack trace. `history` says where messages are kept. */
export async function listen(server: Server, name: string, path: string, history?: string, extra: readonly string[] = []): Promise<void> {
  const { port, host } = listenAddress()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') {
      console.error(`Port ${port} is already in use. Stop the other server, or pick another port: PORT=${port + 1} npm start`)
    } else {
      console.error(`Cannot listen on ${host}:${port}: ${error.message}`)
    }
    process.exit(1)
  })
  const address = server.address()
  const actual = typeof address === 'object' && address !== null ? address.port : port
  const shown = host === '127.0.0.1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host
  console.log(`Parley chat (${name}) is running.`)
  console.log(`  Open http://${shown}:${actual} in your browser; open it in a second window to chat with yourself.`)
  console.log(`  WebSocket endpoint: ws://${shown}:${actual}${path}   Stats: http://${shown}:${actual}/api/stats`)
  if (history !== undefined) console.log(`  History: ${history}`)
  console.log(`  Sign-in: ${chatAuth.description}`)
  for (const line of extra) console.log(`  ${line}`)
  console.log('  Press Ctrl+C to stop.')
}

/**
 * On Ctrl+C or SIGTERM: tell clients the server is going away (1001, they reconnect), then stop. The history store
 * is closed after `parley.close()`, which first writes the messages still queued for it; Parley never closes a
 * store it was given.
 */
export function stopOnSignals(parley: Parley, server: Server, history?: HistoryStore, inspector?: { close(): Promise<void> }): void {
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) process.exit(1)
    stopping = true
    console.log(`\n${signal}: closing connections...`)
    try {
      await inspector?.close()
      await parley.close()
    } catch (error) {
      console.error(`While closing Parley: ${(error as Error).message}`)
    }
    try {
      await history?.close?.()
    } catch (error) {
      console.error(`While closing the history store: ${(error as Error).message}`)
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    // Keep-alive HTTP connections would hold close() open until they time out.
    server.closeAllConnections()
    await closed
    process.exit(0)
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))
}

/** Logs sessions coming and going, so the terminal shows what the browser does. */
export function logSessions(parley: Parley): void {
  parley.on('connection', (session) => console.log(`+ ${session.user.id} connected (session ${session.id})`))
  parley.on('disconnect', (session, code) => console.log(`- ${session.user.id} disconnected (${code})`))
  parley.on('error', (error) => console.error(`parley: ${error.code}: ${error.message}`))
}
