import { Buffer } from 'node:buffer'
import { SUBPROTOCOL_V1_JSON, type JsonValue } from '@parley/protocol'
import { ContractFailure, eventually, expectEqual, expectTrue, rejection, sleep } from './check.js'
import type { ClientOptions, ContractError, MessageInfo, Peer, ServerSetup, WelcomeInfo } from './types.js'

/** What a scenario gets: fresh servers on demand, and the time any single expectation may take. */
export interface ScenarioContext {
  /** How long one expectation (an answer, a delivery) may take before it counts as missing. */
  readonly timeoutMs: number
  /** Starts a fresh server side with these setup overrides; stopped by the runner after the scenario. */
  start(setup?: Partial<ServerSetup>): Promise<ScenarioSession>
}

/** One server side of a scenario: make clients, shut nodes down. */
export interface ScenarioSession {
  connect(options?: ClientOptions): Promise<Peer>
  shutdown(node: number): Promise<void>
}

/** One scenario of the suite: a function over a pairing's session, nothing specific to any implementation. */
export interface Scenario {
  /** Stable kebab-case id, the row label in the matrix and the key of `notApplicable`. */
  readonly id: string
  /** What it shows, in a sentence. */
  readonly title: string
  run(t: ScenarioContext): Promise<void>
}

const ROOM = 'general'

// ------------------------------------------------------------------ helpers shared by the scenarios

function describeFailure(peer: Peer): string {
  return peer.failure === undefined ? '' : ` (the client gave up: ${peer.failure.code}: ${peer.failure.message})`
}

async function welcomed(t: ScenarioContext, peer: Peer, count = 1): Promise<WelcomeInfo> {
  await eventually(
    () => peer.welcomes.length >= count || peer.failure !== undefined,
    `welcome #${count}`,
    t.timeoutMs,
  )
  const welcome = peer.welcomes[count - 1]
  if (welcome === undefined) throw new ContractFailure(`no welcome #${count}${describeFailure(peer)}`)
  return welcome
}

async function failed(t: ScenarioContext, peer: Peer): Promise<ContractError> {
  await eventually(() => peer.failure !== undefined, 'the client gives up', t.timeoutMs, () => ({ welcomes: peer.welcomes.length, closes: peer.closes }))
  return peer.failure as ContractError
}

async function messages(t: ScenarioContext, peer: Peer, count: number, room = ROOM): Promise<readonly MessageInfo[]> {
  const view = peer.room(room)
  await eventually(() => view.messages.length >= count, `${count} message(s) in ${room}${describeFailure(peer)}`, t.timeoutMs, () => view.messages.map((m) => m.seq))
  return view.messages
}

const seqs = (peer: Peer, room = ROOM): number[] => peer.room(room).messages.map((message) => message.seq)
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const users = (members: ReadonlyArray<{ user: string }>): string[] => members.map((member) => member.user).sort()
const asError = (error: unknown): ContractError =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
    ? (error as ContractError)
    : { code: 'UNKNOWN', message: String(error) }

/** Connects and waits for the welcome. */
async function online(t: ScenarioContext, session: ScenarioSession, options: ClientOptions = {}): Promise<Peer> {
  const peer = await session.connect(options)
  await welcomed(t, peer)
  return peer
}

/** Publishes `count` messages one after another (each acked before the next), `data(i)` for i = from…from+count-1. */
async function publishEach(peer: Peer, count: number, from: number, data: (i: number) => JsonValue = (i) => ({ i })): Promise<void> {
  for (let i = from; i < from + count; i++) await peer.publish(ROOM, data(i))
}

// ------------------------------------------------------------------ the scenarios

const connectAndNegotiate: Scenario = {
  id: 'connect-and-negotiate',
  title: 'welcome comes first and names the newest common version (an unknown newer offer is skipped) and the limits in force',
  async run(t) {
    const s = await t.start({ maxPayload: 32_768, rate: { messages: 40, perMs: 1_000 } })
    const a = await s.connect({ protocols: ['parley.v9.json', SUBPROTOCOL_V1_JSON] })
    const welcome = await welcomed(t, a)
    expectEqual(welcome.protocol, SUBPROTOCOL_V1_JSON, 'negotiated subprotocol')
    expectEqual(welcome.version, 1, 'negotiated version')
    expectEqual(welcome.limits.maxPayload, 32_768, 'announced maxPayload')
    expectEqual(welcome.limits.rate, { messages: 40, perMs: 1_000 }, 'announced publish rate')
    expectTrue(welcome.session.length > 0, 'a session id')
    expectTrue(typeof welcome.user === 'string' && welcome.user.length > 0, 'welcome names the user (anonymous users too)', welcome.user)
    for (const capability of ['presence', 'signals', 'recovery', 'dedup']) {
      expectTrue(welcome.capabilities.includes(capability), `capability ${capability} announced`, welcome.capabilities)
    }
    expectTrue(welcome.heartbeat.intervalMs > 0 && welcome.heartbeat.timeoutMs > 0, 'heartbeat settings', welcome.heartbeat)
    const joined = await a.join(ROOM)
    expectEqual(joined.seq, 0, 'a new room starts at seq 0')
    expectEqual(joined.recovery, null, 'no recovery without resume')
    expectEqual(users(joined.members), [welcome.user], 'the snapshot holds the joining user')
    expectEqual(a.welcomes.length, 1, 'one connection')
  },
}

const versionMismatch: Scenario = {
  id: 'version-mismatch',
  title: 'no common version fails fast with a typed error naming both sides, and is not retried',
  async run(t) {
    const s = await t.start()
    const a = await s.connect({ protocols: ['parley.v9.json'] })
    const error = await failed(t, a)
    expectEqual(error.code, 'UNSUPPORTED_VERSION', 'error code')
    expectTrue(error.status === 426 || error.closeCode === 4406, 'refused with HTTP 426 or close 4406', error)
    expectEqual(error.offered, ['parley.v9.json'], 'the error names what the client offered')
    expectTrue(
      (error.supported ?? []).includes(SUBPROTOCOL_V1_JSON) || error.message.includes(SUBPROTOCOL_V1_JSON),
      'the error names what the server speaks',
      error,
    )
    expectEqual(a.welcomes.length, 0, 'never welcomed')
    await sleep(300)
    expectEqual(a.attempts, 1, 'connection attempts (a version refusal is final)')
  },
}

const authAccepted: Scenario = {
  id: 'auth-accepted',
  title: 'a good token at the handshake is accepted and names the user',
  async run(t) {
    const s = await t.start({ auth: true })
    const a = await online(t, s, { token: 'alice' })
    expectEqual(a.welcomes[0]?.user, 'alice', 'welcome.user')
    const b = await online(t, s, { token: 'alice.laptop' })
    expectEqual(b.welcomes[0]?.user, 'alice', 'welcome.user of a second token of the same user')
    const joined = await a.join(ROOM)
    expectEqual(users(joined.members), ['alice'], 'presence is keyed by the authenticated user')
  },
}

const authRejected: Scenario = {
  id: 'auth-rejected',
  title: 'a bad or missing token is refused before any welcome, as UNAUTHORIZED, and not retried',
  async run(t) {
    const s = await t.start({ auth: true })
    for (const token of ['bad-token', undefined]) {
      const a = await s.connect(token === undefined ? {} : { token })
      const error = await failed(t, a)
      expectEqual(error.code, 'UNAUTHORIZED', `error code (token ${String(token)})`)
      expectTrue(error.status === 401 || error.closeCode === 4401, 'refused with HTTP 401 or close 4401', error)
      expectEqual(a.welcomes.length, 0, 'never welcomed')
      await sleep(200)
      expectEqual(a.attempts, 1, 'connection attempts (an auth refusal is final)')
    }
  },
}

const authRefreshed: Scenario = {
  id: 'auth-refreshed-in-band',
  title: 'a token refreshed in band (authenticate) is acked and the session goes on; a rejected refresh ends it with 4401',
  async run(t) {
    const s = await t.start({ auth: true })
    const a = await online(t, s, { token: 'alice', refreshTo: 'alice.v2' })
    const outcome = await a.refreshed()
    expectEqual(outcome, undefined, 'the refresh is acked')
    await a.join(ROOM)
    const ack = await a.publish(ROOM, { after: 'refresh' })
    expectEqual(ack.seq, 1, 'the session is usable after the refresh')
    expectEqual(a.welcomes.length, 1, 'same connection: no reconnect')
    expectEqual(a.closes, [], 'no close')

    const b = await online(t, s, { token: 'bob', refreshTo: 'bad.v2' })
    const refused = await b.refreshed()
    expectEqual(refused?.code, 'UNAUTHORIZED', 'the rejected refresh answers UNAUTHORIZED')
    const error = await failed(t, b)
    expectEqual(error.code, 'UNAUTHORIZED', 'the client ends with UNAUTHORIZED')
    expectEqual(b.closes.map((close) => close.code), [4401], 'close codes after the rejected refresh')
    await sleep(200)
    expectEqual(b.attempts, 1, 'connection attempts (4401 is final)')
  },
}

const joinLeave: Scenario = {
  id: 'join-leave',
  title: 'join answers the position and snapshot; after leave nothing of the room arrives and publishing is NOT_JOINED',
  async run(t) {
    const s = await t.start({ auth: true })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    const ja = await a.join(ROOM)
    expectEqual(ja.seq, 0, 'joined.seq of a new room')
    expectEqual(ja.recovery, null, 'joined.recovery without resume')
    expectEqual(users(ja.members), ['alice'], 'first snapshot')
    const jb = await b.join(ROOM)
    expectEqual(jb.epoch, ja.epoch, 'one epoch for both members')
    expectEqual(users(jb.members), ['alice', 'bob'], 'second snapshot')
    await b.publish(ROOM, { n: 1 })
    await messages(t, a, 1)
    await a.leave(ROOM)
    const refused = asError(await rejection(a.publish(ROOM, { n: 'after leave' }), 'publish after leave'))
    expectEqual(refused.code, 'NOT_JOINED', 'publish after leave')
    await b.publish(ROOM, { n: 2 })
    await messages(t, b, 2)
    await sleep(50)
    expectEqual(seqs(a), [1], 'nothing of the room arrives after leave')
    const again = await a.join(ROOM, { resume: false })
    expectEqual(again.seq, 2, 'joined.seq is the room head')
    expectEqual(again.recovery, null, 'no recovery when joining without resume')
    await b.publish(ROOM, { n: 3 })
    await messages(t, a, 2)
    expectEqual(seqs(a), [1, 3], 'live messages after joining again')
    expectEqual(users(b.room(ROOM).members()), ['alice', 'bob'], 'bob sees alice back')
  },
}

const publishAck: Scenario = {
  id: 'publish-ack',
  title: 'a publish is acked with its seq and epoch and fanned out in order, to the sender too unless echo is false',
  async run(t) {
    const s = await t.start({ auth: true })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    const joined = await a.join(ROOM)
    await b.join(ROOM)
    const first = await a.publish(ROOM, { text: 'hi' }, { id: 'm-1' })
    expectEqual(first, { seq: 1, epoch: joined.epoch, duplicate: false }, 'ack of the first publish')
    const [delivered] = await messages(t, b, 1)
    expectEqual({ ...delivered, ts: 0 }, { seq: 1, epoch: joined.epoch, from: 'alice', ts: 0, data: { text: 'hi' } }, 'the message as bob got it')
    expectTrue(typeof delivered?.ts === 'number' && delivered.ts > 0, 'a server timestamp', delivered?.ts)
    await messages(t, a, 1)
    const quiet = await a.publish(ROOM, { text: 'not to me' }, { echo: false })
    expectEqual(quiet.seq, 2, 'seq of the publish without echo')
    const third = await a.publish(ROOM, { text: 'to everyone' })
    expectEqual(third.seq, 3, 'seq of the next publish')
    await messages(t, b, 3)
    await messages(t, a, 2)
    expectEqual(seqs(b), [1, 2, 3], 'bob gets every message, in order')
    expectEqual(seqs(a), [1, 3], 'alice does not get her echo: false publish')
    expectEqual(b.room(ROOM).messages.map((m) => m.data), [{ text: 'hi' }, { text: 'not to me' }, { text: 'to everyone' }], 'payloads')
  },
}

/** Bytes for the v2 scenarios: 3 000 of them, every value 0-255 present. */
const IMAGE = Uint8Array.from({ length: 3_000 }, (_, i) => (i * 31 + 7) % 256)
const V2 = 'parley.v2.json'
const list = (bytes: Uint8Array | undefined): number[] | undefined => (bytes === undefined ? undefined : Array.from(bytes))

const bytesV2: Scenario = {
  id: 'bytes-v2',
  title: 'protocol v2: bytes published with data reach every member whole, acked, in order with plain messages, zero bytes as zero bytes, and again in a replay',
  async run(t) {
    const s = await t.start({ auth: true })
    const a = await online(t, s, { token: 'alice', protocols: [V2, SUBPROTOCOL_V1_JSON] })
    const b = await online(t, s, { token: 'bob', protocols: [V2, SUBPROTOCOL_V1_JSON] })
    expectEqual([a.welcomes[0]?.protocol, a.welcomes[0]?.version], [V2, 2], 'the newest common version')
    const joined = await a.join(ROOM)
    await b.join(ROOM)
    expectEqual(await a.publish(ROOM, { name: 'cat.png' }, { id: 'img-1', bytes: IMAGE }), { seq: 1, epoch: joined.epoch, duplicate: false }, 'the ack')
    await a.publish(ROOM, 'caption')
    await a.publish(ROOM, null, { bytes: new Uint8Array(0) })
    const got = await messages(t, b, 3)
    expectEqual(seqs(b), [1, 2, 3], 'in order')
    expectEqual(got[0]?.data, { name: 'cat.png' }, 'data beside the bytes')
    expectEqual(list(got[0]?.bytes), list(IMAGE), 'the bytes, whole')
    expectEqual(got[1]?.bytes, undefined, 'a plain message has no bytes')
    expectEqual([got[2]?.data, list(got[2]?.bytes)], [null, []], 'zero bytes arrive as zero bytes, not as none')
    await messages(t, a, 3)
    expectEqual(list(a.room(ROOM).messages[0]?.bytes), list(IMAGE), 'the sender gets its own bytes back')
    b.network.drop()
    await a.publish(ROOM, { name: 'dog.png' }, { bytes: IMAGE.subarray(0, 100) })
    await messages(t, b, 4)
    await sleep(50)
    expectEqual(seqs(b), [1, 2, 3, 4], 'the missed one once, after the reconnect')
    expectEqual(list(b.room(ROOM).messages[3]?.bytes), list(IMAGE.subarray(0, 100)), 'bytes of a replayed message')
  },
}

const bytesToV1Member: Scenario = {
  id: 'bytes-to-v1-member',
  title: 'a v1 member gets a message with bytes in the v1 form (its data, the bytes as base64 in `bytes`), so its seq stream has no gap',
  async run(t) {
    const s = await t.start()
    const a = await online(t, s, { protocols: [V2, SUBPROTOCOL_V1_JSON] })
    const old = await online(t, s, { protocols: [SUBPROTOCOL_V1_JSON] })
    expectEqual(old.welcomes[0]?.version, 1, 'the v1 client is on v1')
    await a.join(ROOM)
    await old.join(ROOM)
    await a.publish(ROOM, { name: 'cat.png' }, { bytes: IMAGE })
    await a.publish(ROOM, 'after')
    const got = await messages(t, old, 2)
    expectEqual(seqs(old), [1, 2], 'every message, no gap')
    expectEqual(got[0]?.data, { name: 'cat.png' }, 'the data')
    expectEqual(list(got[0]?.bytes), list(IMAGE), 'the bytes, read from base64')
    expectEqual(old.violations, [], 'nothing a v1 client cannot decode')
  },
}

const bytesOnV1Server: Scenario = {
  id: 'bytes-v1-server',
  title: 'a v2 client on a v1-only server agrees on v1; a publish with bytes is refused by the client with UNSUPPORTED_DATA, nothing is sent, plain ones go on',
  async run(t) {
    const s = await t.start({ protocols: [SUBPROTOCOL_V1_JSON] })
    const a = await online(t, s, { protocols: [V2, SUBPROTOCOL_V1_JSON] })
    const b = await online(t, s, { protocols: [V2, SUBPROTOCOL_V1_JSON] })
    expectEqual([a.welcomes[0]?.protocol, a.welcomes[0]?.version], [SUBPROTOCOL_V1_JSON, 1], 'agreed on v1')
    await a.join(ROOM)
    await b.join(ROOM)
    const error = asError(await rejection(a.publish(ROOM, 'with bytes', { bytes: IMAGE }), 'a publish with bytes on v1'))
    expectEqual(error.code, 'UNSUPPORTED_DATA', 'error code')
    const ack = await a.publish(ROOM, 'plain')
    expectEqual(ack.seq, 1, 'the refused publish took no seq')
    await messages(t, b, 1)
    await sleep(50)
    expectEqual(b.room(ROOM).messages.map((m) => m.data), ['plain'], 'only the plain message arrived')
    expectEqual(a.closes.length, 0, 'the connection stayed up')
  },
}

const publishRetry: Scenario = {
  id: 'publish-retry-deduplicated',
  title: "a publish retried with the same id (same or another connection of the user) is acked as duplicate, delivered once",
  async run(t) {
    const s = await t.start({ auth: true })
    const a = await online(t, s, { token: 'alice' })
    const a2 = await online(t, s, { token: 'alice.phone' })
    const b = await online(t, s, { token: 'bob' })
    const joined = await a.join(ROOM)
    await a2.join(ROOM)
    await b.join(ROOM)
    const original = await a.publish(ROOM, { text: 'once' }, { id: 'retry-1' })
    expectEqual(original, { seq: 1, epoch: joined.epoch, duplicate: false }, 'ack of the original')
    const retried = await a.publish(ROOM, { text: 'once' }, { id: 'retry-1' })
    expectEqual(retried, { seq: 1, epoch: joined.epoch, duplicate: true }, 'ack of the retry on the same connection')
    const fromPhone = await a2.publish(ROOM, { text: 'once' }, { id: 'retry-1' })
    expectEqual(fromPhone, { seq: 1, epoch: joined.epoch, duplicate: true }, "ack of the retry on the user's other connection")
    const bobs = await b.publish(ROOM, { text: 'mine' }, { id: 'retry-1' })
    expectEqual(bobs, { seq: 2, epoch: joined.epoch, duplicate: false }, "another user's publish with the same id is not a duplicate")
    await messages(t, b, 2)
    await sleep(50)
    expectEqual(seqs(b), [1, 2], 'the retried message is delivered once')
    expectEqual(seqs(a), [1, 2], 'to every member')
  },
}

const presenceThreeClients: Scenario = {
  id: 'presence-three-clients',
  title: 'presence: join on a first connection, update on new metadata, leave on the last connection (at once when clean, after the grace period when abrupt, not at all on a quick reconnect)',
  async run(t) {
    const graceMs = 400
    const s = await t.start({ auth: true, presenceGraceMs: graceMs })
    const b = await online(t, s, { token: 'bob' })
    const a1 = await online(t, s, { token: 'alice' })
    const a2 = await online(t, s, { token: 'alice.phone' })
    const c = await online(t, s, { token: 'carol' })
    const events = (peer: Peer, event: string, user: string) =>
      peer.room(ROOM).presence.filter((p) => p.event === event && p.member.user === user)

    await b.join(ROOM, { presence: { name: 'Bob' } })
    await a1.join(ROOM, { presence: { name: 'Alice' } })
    await eventually(() => events(b, 'join', 'alice').length === 1, 'bob sees alice join', t.timeoutMs, () => b.room(ROOM).presence)
    expectEqual(events(b, 'join', 'alice')[0]?.member, { user: 'alice', presence: { name: 'Alice' }, connections: 1 }, 'the join event')
    const second = await a2.join(ROOM, { presence: { name: 'Alice' } })
    expectEqual(second.members.find((m) => m.user === 'alice')?.connections, 2, "alice's second connection counts in the snapshot")
    await c.join(ROOM, { presence: { name: 'Carol' } })
    await eventually(() => events(b, 'join', 'carol').length === 1, 'bob sees carol join', t.timeoutMs)
    expectEqual(events(b, 'join', 'alice').length, 1, "alice's second connection is no new join")
    expectEqual(users(b.room(ROOM).members()), ['alice', 'bob', 'carol'], "bob's member list")

    a1.setPresence(ROOM, { name: 'Alice', status: 'away' })
    for (const peer of [b, c]) {
      await eventually(() => events(peer, 'update', 'alice').length === 1, 'the update reaches every member', t.timeoutMs)
    }
    expectEqual(events(c, 'update', 'alice')[0]?.member.presence, { name: 'Alice', status: 'away' }, 'the updated metadata')
    expectEqual(b.room(ROOM).members().find((m) => m.user === 'alice')?.presence, { name: 'Alice', status: 'away' }, "bob's member list after the update")

    // A quick reconnect (inside the grace period) is neither a leave nor a join.
    c.network.drop()
    await eventually(() => c.room(ROOM).joins.length === 2, 'carol reconnects and re-joins', t.timeoutMs)
    await sleep(graceMs + 150)
    expectEqual(events(b, 'leave', 'carol').length, 0, 'no leave for a quick reconnect')
    expectEqual(events(b, 'join', 'carol').length, 1, 'no second join for a quick reconnect')

    // Leaving on one of two connections says nothing; leaving on the last says leave at once.
    await a1.leave(ROOM)
    await sleep(50)
    expectEqual(events(b, 'leave', 'alice').length, 0, 'no leave while alice has another connection in the room')
    const leftAt = Date.now()
    await a2.leave(ROOM)
    await eventually(() => events(b, 'leave', 'alice').length === 1, 'bob sees alice leave', t.timeoutMs)
    expectTrue(Date.now() - leftAt < graceMs, 'a clean leave is announced at once, not after the grace period', Date.now() - leftAt)

    // An abrupt disconnect is announced after the grace period.
    const droppedAt = Date.now()
    c.network.offline()
    await eventually(() => events(b, 'leave', 'carol').length === 1, 'bob sees carol leave', graceMs + t.timeoutMs)
    const waited = Date.now() - droppedAt
    expectTrue(waited >= graceMs - 20, `the leave waits out the grace period (${graceMs} ms)`, waited)
    expectEqual(users(b.room(ROOM).members()), ['bob'], "bob's member list at the end")
  },
}

const signalExpiry: Scenario = {
  id: 'signal-expiry',
  title: 'a signal reaches the other members with its ttl, expires as value null / ttl 0 after it, and a null clears it at once',
  async run(t) {
    const s = await t.start({ auth: true })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    await a.join(ROOM)
    await b.join(ROOM)
    const ttlMs = 400
    const sentAt = Date.now()
    a.signal(ROOM, 'cursor', { x: 1, y: 2 }, ttlMs)
    const signals = b.room(ROOM).signals
    await eventually(() => signals.length >= 1, 'bob gets the signal', t.timeoutMs)
    expectEqual({ ...signals[0], at: 0 }, { from: 'alice', key: 'cursor', value: { x: 1, y: 2 }, ttlMs, at: 0 }, 'the signal')
    await eventually(() => signals.length >= 2, 'the signal expires', ttlMs + t.timeoutMs)
    expectEqual({ ...signals[1], at: 0 }, { from: 'alice', key: 'cursor', value: null, ttlMs: 0, at: 0 }, 'the expiry notice')
    const expiredAfter = (signals[1]?.at ?? 0) - sentAt
    expectTrue(expiredAfter >= ttlMs - 20, `expiry not before the ttl (${ttlMs} ms)`, expiredAfter)

    a.signal(ROOM, 'cursor', { x: 3, y: 4 }, 60_000)
    await eventually(() => signals.length >= 3, 'bob gets the second signal', t.timeoutMs)
    const clearedAt = Date.now()
    a.signal(ROOM, 'cursor', null)
    await eventually(() => signals.length >= 4, 'bob gets the clear', t.timeoutMs)
    expectEqual({ ...signals[3], at: 0 }, { from: 'alice', key: 'cursor', value: null, ttlMs: 0, at: 0 }, 'the clear notice')
    expectTrue((signals[3]?.at ?? 0) - clearedAt < 5_000, 'a clear is forwarded at once, not at expiry')
    expectEqual(a.room(ROOM).signals.length, 0, 'the sender does not get its own signals')
  },
}

const requestResponse: Scenario = {
  id: 'request-response',
  title: "a request is answered under its own id, with the handler's output or its error: the app's own code, UNKNOWN_REQUEST, VALIDATION_FAILED with the issue path",
  async run(t) {
    const s = await t.start({ auth: true, requests: true })
    const a = await online(t, s, { token: 'alice' })
    expectTrue(a.welcomes[0]?.capabilities.includes('requests') === true, 'capability requests announced', a.welcomes[0]?.capabilities)

    // Multi-byte characters (a surrogate pair, combining marks), escapes and every JSON type, nested: back unchanged.
    const input = {
      text: 'héllo wörld ✓ 你好 👋🏽 e\u0301 "quoted" \\ tab\t line\u2028',
      nested: { list: [1, -2.5, 0, true, false, null, 'ß'], empty: {}, none: null, 'ключ': ['значение', { deep: { '🎉': [[], {}] } }] },
    }
    expectEqual(await a.request('echo', input), input, 'echo answers its input unchanged')
    expectEqual(await a.request('whoami', null), 'alice', 'whoami answers the authenticated user')

    const refused = asError(await rejection(a.request('refuse', null), 'refuse'))
    expectEqual(refused.code, 'TEAPOT', "refuse answers the handler's own code")
    expectTrue(refused.message.length > 0, 'with a message', refused)
    const unknown = asError(await rejection(a.request('no-such-request', { text: 'hi' }), 'a request nobody handles'))
    expectEqual(unknown.code, 'UNKNOWN_REQUEST', 'a name with no handler')
    const invalid = asError(await rejection(a.request('echo', { text: 3 }), 'echo with a number for text'))
    expectEqual(invalid.code, 'VALIDATION_FAILED', 'an input that breaks the contract')
    expectTrue(invalid.issues?.some((issue) => issue.path === 'text') === true, 'an issue at path text', invalid)

    // Two (and a third) in flight at once: answers may come in any order, each settles with its own.
    const [one, two, me] = await Promise.all([
      a.request('echo', { text: 'one', n: 1 }),
      a.request('echo', { text: 'two', n: 2 }),
      a.request('whoami', { text: 'ignored' }),
    ])
    expectEqual([one, two, me], [{ text: 'one', n: 1 }, { text: 'two', n: 2 }, 'alice'], 'concurrent requests, each with its own answer')
    const mixed = await Promise.allSettled([a.request('refuse', null), a.request('echo', { text: 'three' })])
    expectEqual(
      mixed.map((settled) => (settled.status === 'fulfilled' ? settled.value : asError(settled.reason).code)),
      ['TEAPOT', { text: 'three' }],
      'a refusal in flight next to an answer',
    )
    expectEqual(a.closes, [], 'refused requests leave the connection open')
    expectEqual(a.welcomes.length, 1, 'one connection')

    const anonymous = await t.start({ requests: true })
    const c = await online(t, anonymous)
    expectEqual(await c.request('whoami', null), null, 'whoami answers null to an anonymous caller')
  },
}

const recoveryExact: Scenario = {
  id: 'recovery-exact-replay',
  title: 'after a dropped connection the client re-joins with resume and gets exactly what it missed, in order, then live ones',
  async run(t) {
    const s = await t.start({ auth: true })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    const first = await a.join(ROOM)
    await b.join(ROOM)
    await publishEach(b, 3, 1)
    await messages(t, a, 3)
    a.network.offline()
    await eventually(() => a.closes.length >= 1, 'alice notices the drop', t.timeoutMs)
    await publishEach(b, 5, 4)
    a.network.online()
    await eventually(() => a.room(ROOM).joins.length >= 2, 'alice re-joins', t.timeoutMs * 2)
    const rejoined = a.room(ROOM).joins[1]
    expectEqual(rejoined?.recovery, { recovered: true, replayed: 5, gap: null }, 'recovery result')
    expectEqual(rejoined?.epoch, first.epoch, 'same epoch')
    expectEqual(rejoined?.seq, 8, 'joined.seq is the head')
    await publishEach(b, 2, 9)
    await messages(t, a, 10)
    await sleep(50)
    expectEqual(seqs(a), range(1, 10), 'every message exactly once, in order')
    expectEqual(a.room(ROOM).messages.map((m) => m.data), range(1, 10).map((i) => ({ i })), 'payloads')
    expectTrue(a.closes.every((close) => close.code === 1006), 'the drop was seen as abnormal (1006)', a.closes)
  },
}

const windowExceeded: Scenario = {
  id: 'history-window-exceeded',
  title: 'a client away longer than the history window is told recovered: false with the gap, gets what is kept, then live ones',
  async run(t) {
    const s = await t.start({ auth: true, historySize: 5 })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    await a.join(ROOM)
    await b.join(ROOM)
    await publishEach(b, 2, 1)
    await messages(t, a, 2)
    a.network.offline()
    await eventually(() => a.closes.length >= 1, 'alice notices the drop', t.timeoutMs)
    await publishEach(b, 10, 3)
    a.network.online()
    await eventually(() => a.room(ROOM).joins.length >= 2, 'alice re-joins', t.timeoutMs * 2)
    expectEqual(
      a.room(ROOM).joins[1]?.recovery,
      { recovered: false, replayed: 5, gap: { reason: 'window-exceeded', from: 3, to: 7 } },
      'recovery result',
    )
    await messages(t, a, 7)
    await publishEach(b, 1, 13)
    await messages(t, a, 8)
    await sleep(50)
    expectEqual(seqs(a), [1, 2, 8, 9, 10, 11, 12, 13], 'what alice got: before, the kept tail, live')
  },
}

const rateLimited: Scenario = {
  id: 'rate-limited',
  title: 'publishes over the announced rate are refused with RATE_LIMITED (not delivered) and the connection stays usable',
  async run(t) {
    const s = await t.start({ auth: true, rate: { messages: 5, perMs: 60_000 } })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    expectEqual(a.welcomes[0]?.limits.rate, { messages: 5, perMs: 60_000 }, 'announced rate')
    await a.join(ROOM)
    await b.join(ROOM)
    for (let i = 1; i <= 5; i++) expectEqual((await a.publish(ROOM, { i })).seq, i, `publish ${i} of 5 allowed`)
    for (let i = 6; i <= 8; i++) {
      const refused = asError(await rejection(a.publish(ROOM, { i }), `publish ${i}, over the rate`))
      expectEqual(refused.code, 'RATE_LIMITED', `refusal of publish ${i}`)
    }
    await messages(t, b, 5)
    await b.publish(ROOM, { from: 'bob' })
    await messages(t, a, 6)
    expectEqual(seqs(b), [1, 2, 3, 4, 5, 6], 'refused publishes are not delivered')
    expectEqual(a.closes, [], 'a rate-limited client stays connected')
  },
}

/** A publish frame of exactly `bytes` UTF-8 bytes, in the protocol's field order, with 3-byte characters in the data. */
function publishOfSize(bytes: number, id: string): { data: string; id: string } {
  const base = Buffer.byteLength(JSON.stringify({ type: 'publish', room: ROOM, data: '', id }))
  const room = bytes - base
  const euros = Math.floor(room / 3) - 2
  const data = '€'.repeat(euros) + 'x'.repeat(room - euros * 3)
  if (Buffer.byteLength(JSON.stringify({ type: 'publish', room: ROOM, data, id })) !== bytes) throw new Error('publishOfSize: arithmetic')
  return { data, id }
}

const payloadTooLarge: Scenario = {
  id: 'payload-too-large',
  title: 'a frame of exactly maxPayload bytes is accepted; one byte more is refused as PAYLOAD_TOO_LARGE and never delivered',
  async run(t) {
    const maxPayload = 1_024
    const s = await t.start({ auth: true, maxPayload })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    expectEqual(a.welcomes[0]?.limits.maxPayload, maxPayload, 'announced maxPayload')
    await a.join(ROOM)
    await b.join(ROOM)
    const fits = publishOfSize(maxPayload, 'at-limit')
    const ack = await a.publish(ROOM, fits.data, { id: fits.id })
    expectEqual(ack.seq, 1, 'a frame of exactly maxPayload bytes is accepted')
    const [delivered] = await messages(t, b, 1)
    expectEqual(delivered?.data, fits.data, 'delivered intact (multi-byte characters included)')
    const over = publishOfSize(maxPayload + 1, 'over-limit')
    const refused = asError(await rejection(a.publish(ROOM, over.data, { id: over.id }), 'an oversized publish'))
    expectEqual(refused.code, 'PAYLOAD_TOO_LARGE', 'refusal code')
    await sleep(100)
    expectEqual(seqs(b), [1], 'the oversized message is not delivered')
    // A client that checks locally stays connected; one that sent the frame is closed with 1009.
    expectTrue(a.closes.every((close) => close.code === 1009), 'a close over an oversized frame is 1009', a.closes)
  },
}

const slowConsumer: Scenario = {
  id: 'slow-consumer-cut-off',
  title: "a client that stops reading is cut off before the server's buffer for it passes the cap, then reconnects and recovers every message",
  async run(t) {
    const s = await t.start({ auth: true, maxBufferedBytes: 64 * 1024, historySize: 5_000, presenceGraceMs: 0 })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    await a.join(ROOM)
    await b.join(ROOM)
    a.network.stall()
    // Bob floods until the server gives up on alice, which everyone sees as her presence leave. Loopback kernel
    // buffers take a few MB before the server's own buffer grows, so the flood is sized by what happens, not fixed.
    const pad = 'x'.repeat(16 * 1024)
    const gone = () => b.room(ROOM).presence.some((p) => p.event === 'leave' && p.member.user === 'alice')
    // The pace bounds what is published between the cut and the leave (a server may take a while to drop the socket).
    let published = 0
    const deadline = Date.now() + 3 * t.timeoutMs
    while (!gone() && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => b.publish(ROOM, { i: published + i + 1, pad }, { echo: false })))
      published += 8
      await sleep(10)
    }
    await eventually(gone, `alice is cut off (after ${published} messages of 16 KB)`, t.timeoutMs)
    a.network.resume()
    await eventually(() => a.closes.length >= 1, 'alice sees her connection end', t.timeoutMs)
    const code = a.closes[0]?.code
    expectTrue(code === 4509 || code === 1006, 'the cut is a 4509 close (or 1006 when the close frame was stuck behind the data)', a.closes)
    await eventually(() => a.room(ROOM).joins.length >= 2, 'alice reconnects and re-joins', t.timeoutMs)
    expectEqual(a.room(ROOM).joins[1]?.recovery?.recovered, true, 'the recovery after the cut is complete')
    await messages(t, a, published)
    await sleep(50)
    expectEqual(seqs(a), range(1, published), 'alice ends with every message exactly once, in order')
  },
}

const backlogOverCap: Scenario = {
  id: 'recovery-backlog-over-buffer-cap',
  title: "a client that reads at full speed recovers a backlog bigger than the server's per-connection buffer cap in one go, without being cut off as a slow consumer",
  async run(t) {
    // 200 × 32 KB = 6.4 MB of backlog against a 256 KB cap: more than a loopback socket's kernel buffers take at once.
    const s = await t.start({ auth: true, historySize: 300, maxBufferedBytes: 256 * 1024 })
    const a = await online(t, s, { token: 'alice' })
    const b = await online(t, s, { token: 'bob' })
    await a.join(ROOM)
    await b.join(ROOM)
    a.network.offline()
    await eventually(() => a.closes.length >= 1, 'alice notices the drop', t.timeoutMs)
    const pad = 'x'.repeat(32 * 1024)
    for (let i = 1; i <= 200; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => b.publish(ROOM, { i: i + k, pad }, { echo: false })))
    }
    a.network.online()
    await eventually(() => a.room(ROOM).joins.length >= 2, 'alice re-joins', t.timeoutMs * 2)
    await messages(t, a, 200)
    expectEqual(a.room(ROOM).joins[1]?.recovery, { recovered: true, replayed: 200, gap: null }, 'one re-join recovers the whole backlog')
    expectEqual(a.closes.map((close) => close.code), [1006], 'the only close is the drop: the replay did not cut alice off')
    expectEqual(seqs(a), range(1, 200), 'every message exactly once, in order')
  },
}

const shutdownElsewhere: Scenario = {
  id: 'shutdown-reconnect-elsewhere',
  title: 'a graceful shutdown closes with 1001; the client reconnects to another node and recovers without a gap',
  async run(t) {
    const s = await t.start({ auth: true, nodes: 2 })
    const a = await online(t, s, { token: 'alice', nodes: [0, 1] })
    const b = await online(t, s, { token: 'bob', nodes: [1] })
    const joined = await a.join(ROOM)
    await b.join(ROOM)
    await b.publish(ROOM, { i: 1 })
    await messages(t, a, 1)
    await s.shutdown(0)
    await eventually(() => a.closes.length >= 1, 'alice is told to go', t.timeoutMs)
    expectEqual(a.closes[0]?.code, 1001, 'close code of a graceful shutdown')
    await b.publish(ROOM, { i: 2 })
    const back = await welcomed(t, a, 2)
    expectEqual(back.url, a.urls[1], 'reconnected to the other node')
    expectTrue(back.session !== a.welcomes[0]?.session, 'a new session')
    await eventually(() => a.room(ROOM).joins.length >= 2, 'alice re-joins on the other node', t.timeoutMs)
    const rejoined = a.room(ROOM).joins[1]
    expectEqual(rejoined?.epoch, joined.epoch, 'the room keeps its epoch across nodes')
    expectEqual(rejoined?.recovery?.recovered, true, 'recovery across nodes is complete')
    await b.publish(ROOM, { i: 3 })
    await messages(t, a, 3)
    await sleep(50)
    expectEqual(seqs(a), [1, 2, 3], 'every message exactly once')
    expectEqual(a.room(ROOM).messages.map((m) => m.data), [{ i: 1 }, { i: 2 }, { i: 3 }], 'payloads')
  },
}

/** The contract, in the order the matrix lists it. */
export const SCENARIOS: readonly Scenario[] = Object.freeze([
  connectAndNegotiate,
  versionMismatch,
  authAccepted,
  authRejected,
  authRefreshed,
  joinLeave,
  publishAck,
  publishRetry,
  bytesV2,
  bytesToV1Member,
  bytesOnV1Server,
  presenceThreeClients,
  signalExpiry,
  requestResponse,
  recoveryExact,
  windowExceeded,
  rateLimited,
  payloadTooLarge,
  slowConsumer,
  backlogOverCap,
  shutdownElsewhere,
])
