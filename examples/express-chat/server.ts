/**
 * Parley on Express 5: the chat page, its JSON endpoints (sign-in, rooms, stats, admin), and realtime rooms on the
 * same port.
 *
 *   npm start                  # from the repository root; PORT=4000 npm start for another port
 *   DATABASE_URL=postgres://localhost/parley npm start    # keep room history in PostgreSQL
 */
import { createServer } from 'node:http'
import { attach } from '@parley/server-sdk'
import express from 'express'
import {
  PUBLIC_DIR,
  SECURITY_HEADERS,
  buildPage,
  chatApi,
  chatHistory,
  chatParleyOptions,
  handleChatRequests,
  installChatRules,
  listen,
  logSessions,
  stopOnSignals,
} from '../shared/chat-server.js'
import { chatOperations } from '../shared/chat-operations.js'

const bundleDir = await buildPage()
// Room history (the last messages on join, older ones on scroll, search): in memory, or PostgreSQL with DATABASE_URL.
const history = await chatHistory()

const app = express()
app.disable('x-powered-by')
const server = createServer(app)

// attach() takes the http.Server, not the app: Parley answers WebSocket upgrades on /parley and leaves every
// plain HTTP request to Express.
const parley = attach(server, chatParleyOptions({ history: history.store }))
installChatRules(parley)
handleChatRequests(parley)
logSessions(parley)
const api = chatApi(parley)
// Prometheus metrics at /metrics and the inspector page at /parley-inspector (docs/operations.md).
const operations = chatOperations(server, parley)

app.use((_request, response, next) => {
  response.set(SECURITY_HEADERS)
  next()
})
// Sign-in: a short-lived JWT for the page to connect with (and to ask for again before it expires).
app.post('/api/login', express.json({ limit: '1kb' }), async (request, response) => {
  const result = await api.login(request.body)
  response.status(result.status).set('Cache-Control', 'no-store').json(result.body)
})
app.get('/api/rooms', async (_request, response) => {
  response.json(await api.rooms())
})
app.get('/api/stats', (_request, response) => {
  response.json(api.stats())
})
app.post('/api/admin', express.json({ limit: '4kb' }), async (request, response) => {
  const result = await api.admin(request.get('authorization'), request.body)
  response.status(result.status).json(result.body)
})
app.get('/metrics', operations.metrics.handler)
app.get('/healthz', (_request, response) => {
  response.type('text/plain').send('ok')
})
app.use(express.static(PUBLIC_DIR))
app.use(express.static(bundleDir))

await listen(server, 'Express', parley.options.path, history.description, operations.banner)
stopOnSignals(parley, server, history.store, operations.inspector)
