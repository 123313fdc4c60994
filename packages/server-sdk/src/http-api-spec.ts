/**
 * The OpenAPI 3.1 document of the HTTP API (`parleyApi()`), served at `GET /openapi.json` and checked in as
 * docs/openapi.json (a test keeps the two equal and validates the document), so users can generate clients.
 */

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` })
const body = (schema: object, example: object): object => ({ required: true, content: { 'application/json': { schema, example } } })
const ok = (schema: object, description: string): object => ({ description, content: { 'application/json': { schema } } })
const errors = (...statuses: number[]): Record<string, object> =>
  Object.fromEntries(statuses.map((status) => [String(status), { $ref: `#/components/responses/E${status}` }]))
const pathParam = (name: string, description: string): object => ({ name, in: 'path', required: true, description, schema: { type: 'string', minLength: 1 } })
const roomParam = pathParam('room', 'Room name, percent-encoded (`team%3A42%2Fgeneral` for `team:42/general`).')
const userParam = pathParam('user', 'User id, as `authenticate` returned it.')
const post = (operationId: string, summary: string, parameters: object[], request: object, response: object): object => ({
  post: { operationId, summary, parameters, requestBody: request, responses: { '200': response, ...errors(400, 401, 413, 415, 503) } },
})
const get = (operationId: string, summary: string, parameters: object[], response: object): object => ({
  get: { operationId, summary, parameters, responses: { '200': response, ...errors(400, 401, 503) } },
})

const reason = { type: 'string', minLength: 1, maxLength: 1024 }

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Parley HTTP API',
    version: '1.0.0',
    description:
      'Control a Parley cluster from any backend: publish, broadcast, direct messages, disconnect users, remove them from rooms, server-side join and leave, members, history and stats. Every call but this document needs `Authorization: Bearer <key>`. Cluster-wide calls answer once every node has acted, or after the cluster timeout with the silent nodes in `missing`.',
  },
  security: [{ bearer: [] }],
  paths: {
    '/stats': get('getStats', 'Stats of every node and their sum', [], ok(ref('ClusterStats'), 'The cluster stats')),
    '/rooms': get('listRooms', 'Rooms with members anywhere in the cluster', [], ok({ type: 'object', required: ['rooms'], properties: { rooms: { type: 'array', items: ref('RoomCount') } } }, 'The rooms')),
    '/broadcast': post('broadcast', 'A direct message to every connected session', [], body(ref('DataBody'), { data: { notice: 'maintenance at 22:00' } }), ok(ref('ControlReport'), 'What every node did')),
    '/rooms/{room}/publish': post('publish', 'Publish to a room as the server (from: null), with bytes (protocol v2) as base64 if any', [roomParam], body(ref('PublishBody'), { data: { text: 'hello from the backend' } }), ok(ref('Position'), 'The message position')),
    '/rooms/{room}/members': get('listMembers', "The room's members (presence), one entry per user", [roomParam], ok({ type: 'object', required: ['members'], properties: { members: { type: 'array', items: ref('Member') } } }, 'The members; empty for an unknown room')),
    '/rooms/{room}/history': get(
      'getHistory',
      "A page of the room's history, oldest first: from the history store when the server has one (across epochs), else the recovery window",
      [
        { name: 'before', in: 'query', required: false, description: 'Only messages older than this seq (of the current epoch, or of `epoch`)', schema: { type: 'integer', minimum: 1 } },
        { name: 'epoch', in: 'query', required: false, description: 'The epoch of `before` (a message position); 400 HISTORY_CURSOR_INVALID when the room has no such epoch', schema: { type: 'string' } },
        { name: 'limit', in: 'query', required: false, description: 'Page size', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
      ],
      ok(
        {
          type: 'object',
          required: ['messages', 'more', 'gaps'],
          properties: {
            messages: { type: 'array', items: ref('RoomMessage') },
            more: { type: 'boolean', description: 'Older messages exist: page back with before/epoch of the first message' },
            gaps: {
              type: 'array',
              description: 'Messages of the span that history lacks (never stored)',
              items: { type: 'object', required: ['epoch', 'from', 'to'], properties: { epoch: { type: 'string' }, from: { type: 'integer' }, to: { type: 'integer' } } },
            },
          },
        },
        'The page; empty for an unknown room. 503 HISTORY_UNAVAILABLE while the history store cannot be read',
      ),
    ),
    '/rooms/{room}/remove': post('removeFromRoom', "Take a user's connections out of the room (they get `left` with the reason)", [roomParam], body({ type: 'object', additionalProperties: false, required: ['user'], properties: { user: { type: 'string' }, reason } }, { user: 'bob', reason: 'kicked' }), ok(ref('ControlReport'), 'What every node did; sessions: 0 for a user not in the room')),
    '/users/{user}/send': post('sendToUser', 'A direct message to every connection of the user', [userParam], body(ref('DataBody'), { data: { text: 'your export is ready' } }), ok({ type: 'object', required: ['sent'], properties: { sent: { const: true } } }, 'Sent')),
    '/users/{user}/disconnect': post('disconnectUser', 'Close every connection of the user, on every node', [userParam], body({ type: 'object', additionalProperties: false, properties: { code: { type: 'integer', description: '1000, or 4000-4999 (default 4403)' }, reason: { type: 'string' } } }, { code: 4403, reason: 'account suspended' }), ok(ref('ControlReport'), 'What every node did; sessions: 0 for a user with none')),
    '/users/{user}/join': post('joinUser', 'Server-side subscription: join every connection of the user to a room', [userParam], body({ type: 'object', additionalProperties: false, required: ['room'], properties: { room: { type: 'string' } } }, { room: 'announcements' }), ok(ref('ControlReport'), 'What every node did')),
    '/users/{user}/leave': post('leaveUser', 'Take every connection of the user out of a room', [userParam], body({ type: 'object', additionalProperties: false, required: ['room'], properties: { room: { type: 'string' }, reason } }, { room: 'announcements' }), ok(ref('ControlReport'), 'What every node did')),
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'One of the keys given to parleyApi()' } },
    schemas: {
      DataBody: { type: 'object', additionalProperties: false, required: ['data'], properties: { data: { description: 'Any JSON value' } } },
      PublishBody: {
        type: 'object',
        additionalProperties: false,
        required: ['data'],
        properties: { data: { description: 'Any JSON value' }, bytes: { type: 'string', contentEncoding: 'base64', description: 'Bytes published with data (protocol v2), padded base64; they count against maxPayload as base64' } },
      },
      Position: { type: 'object', required: ['seq', 'epoch'], properties: { seq: { type: 'integer', minimum: 1 }, epoch: { type: 'string' } } },
      ControlReport: {
        type: 'object',
        required: ['sessions', 'nodes', 'missing'],
        properties: {
          sessions: { type: 'integer', minimum: 0, description: 'Sessions acted on, over the nodes that answered' },
          nodes: { type: 'array', items: { type: 'string' }, description: 'Nodes that answered' },
          missing: { type: 'array', items: { type: 'string' }, description: 'Nodes that did not answer in time' },
        },
      },
      RoomCount: { type: 'object', required: ['room', 'members'], properties: { room: { type: 'string' }, members: { type: 'integer', minimum: 0 } } },
      Member: { type: 'object', required: ['user', 'presence', 'connections'], properties: { user: { type: 'string' }, presence: {}, connections: { type: 'integer', minimum: 1 } } },
      RoomMessage: {
        type: 'object',
        required: ['type', 'room', 'seq', 'epoch', 'from', 'ts', 'data'],
        properties: { type: { const: 'message' }, room: { type: 'string' }, seq: { type: 'integer' }, epoch: { type: 'string' }, from: { type: ['string', 'null'] }, ts: { type: 'integer' }, bytes: { type: 'string', contentEncoding: 'base64', description: 'Bytes published with the message (protocol v2), base64' }, data: {} },
      },
      Stats: { type: 'object', additionalProperties: true, required: ['connections', 'rooms', 'members'], properties: { connections: { type: 'integer' }, rooms: { type: 'integer' }, members: { type: 'integer' } } },
      ClusterStats: {
        type: 'object',
        required: ['total', 'nodes', 'partial'],
        properties: {
          total: ref('Stats'),
          nodes: { type: 'array', items: { type: 'object', required: ['node', 'stats'], properties: { node: { type: 'string' }, stats: ref('Stats') } } },
          partial: { type: 'boolean' },
        },
      },
      Error: {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } } },
      },
    },
    responses: {
      E400: { description: 'Malformed: INVALID_JSON, INVALID_FIELD (with `field`), ROOM_NAME_INVALID, ...', content: { 'application/json': { schema: ref('Error') } } },
      E401: { description: 'UNAUTHORIZED: missing or wrong key; nothing was done', content: { 'application/json': { schema: ref('Error') } } },
      E413: { description: 'PAYLOAD_TOO_LARGE: the body, or data once encoded, is too large', content: { 'application/json': { schema: ref('Error') } } },
      E415: { description: 'UNSUPPORTED_MEDIA_TYPE: send application/json', content: { 'application/json': { schema: ref('Error') } } },
      E503: { description: 'CLOSED or TRY_AGAIN_LATER: the server is shutting down, or its adapter is unreachable', content: { 'application/json': { schema: ref('Error') } } },
    },
  },
} as const

export type OpenApiDocument = typeof OPENAPI_DOCUMENT
