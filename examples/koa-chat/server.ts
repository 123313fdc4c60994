/**
 * Parley on Koa 3: the same chat as examples/express-chat (the same page and rules), served by Koa.
 *
 *   npx tsx examples/koa-chat/server.ts      # from the repository root; PORT=4000 for another port
 */
import { createServer } from 'node:http'
import { attach } from '@parley/server-sdk'
import Koa from 'koa'
import {
  SECURITY_HEADERS,
  buildPage,
  chatApi,
  chatHistory,
  chatParleyOptions,
  handleChatRequests,
  installChatRules,
  listen,
  logSessions,
  pageAssets,
  stopOnSignals,
} from '../shared/chat-server.js'
import { chatOperations } from '../shared/chat-operations.js'

const assets = await pageAssets(await buildPage())
// Room history (the last messages on join, older ones on scroll, search): in memory, or PostgreSQL with DATABASE_URL.
const history = await chatHistory()

const app = new Koa()

app.use(async (ctx, next) => {
  ctx.set(SECURITY_HEADERS)
  await next()
})

// The JSON POSTs: sign-in (a short-lived JWT for the page to connect with, and to ask for again before it expires)
// and admin commands (the caller named by that JWT).
const POSTS: Record<string, (ctx: Koa.Context, body: unknown) => Promise<{ status: number; body: unknown }>> = {
  '/api/login': (ctx, body) => {
    ctx.set('Cache-Control', 'no-store')
    return api.login(body)
  },
  '/api/admin': (ctx, body) => api.admin(ctx.get('authorization') || undefined, body),
}

app.use(async (ctx, next) => {
  const handle = ctx.method === 'POST' ? POSTS[ctx.path] : undefined
  if (handle === undefined) return next()
  // A small JSON body, read by hand: the example adds no body-parser dependency for two endpoints.
  let text = ''
  for await (const chunk of ctx.req) {
    text += String(chunk)
    if (text.length > 4_096) ctx.throw(413)
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    ctx.throw(400, 'Expected JSON')
  }
  const result = await handle(ctx, body)
  ctx.status = result.status
  ctx.body = result.body
})

app.use(async (ctx, next) => {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next()
  switch (ctx.path) {
    case '/api/rooms':
      ctx.body = await api.rooms()
      return
    case '/api/stats':
      ctx.body = api.stats()
      return
    case '/healthz':
      ctx.body = 'ok'
      return
    case '/metrics':
      // The handler writes the Node response itself.
      ctx.respond = false
      operations.metrics.handler(ctx.req, ctx.res)
      return
  }
  const asset = assets.get(ctx.path)
  if (asset === undefined) return next()
  ctx.type = asset.type
  ctx.body = asset.body
})

// Koa's app.listen() would hide the http.Server; create it here so Parley can attach to its upgrades. After the
// app.use() calls: app.callback() composes the middleware registered so far.
const server = createServer(app.callback())
const parley = attach(server, chatParleyOptions({ history: history.store }))
installChatRules(parley)
handleChatRequests(parley)
logSessions(parley)
const api = chatApi(parley)
// Prometheus metrics at /metrics and the inspector page at /parley-inspector (docs/operations.md).
const operations = chatOperations(server, parley)

await listen(server, 'Koa', parley.options.path, history.description, operations.banner)
stopOnSignals(parley, server, history.store, operations.inspector)
