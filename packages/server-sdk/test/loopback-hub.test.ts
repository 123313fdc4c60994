import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CloseCode, type ServerMessage } from '@parley/protocol'
import { createLoopback, createParley, type Parley, type ServerOptions } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { Resources, until } from './helpers/fixtures.js'
import { LoopbackClient } from './helpers/loopback-client.js'

const resources = new Resources()
afterEach(() => resources.dispose())

async function hub(options: ServerOptions = {}): Promise<Parley> {
  const parley = resources.add(createParley(options), (p) => p.close())
  await parley.ready
  return parley
}

/** A loopback connection accepted by `parley`; resolves once `accept()` has decided. */
async function peer(parley: Parley, handshake: Parameters<Parley['accept']>[1] = {}, protocol?: string): Promise<LoopbackClient> {
  const { connection, peer: end } = protocol === undefined ? createLoopback() : createLoopback(protocol)
  const client = new LoopbackClient(end)
  resources.add(end, (p) => p.close())
  await parley.accept(connection, handshake)
  return client
}

const byToken: NonNullable<ServerOptions['authenticate']> = ({ token }) => (token === 'nope' || token === undefined ? null : { id: token })

describe('the hub over the in-memory loopback transport (no sockets)', () => {
  it('welcomes an accepted connection with the user its token authenticates', async () => {
    const parley = await hub({ authenticate: byToken })
    const sessions: string[] = []
    parley.on('connection', (session) => sessions.push(session.user.id))
    const client = await peer(parley, { token: 'lena' })
    const welcome = await client.next('welcome')
    expect(welcome).toMatchObject({ protocol: 'parley.v1.json', version: 1, user: 'lena' })
    expect(sessions).toEqual(['lena'])
    expect(parley.stats().connections).toBe(1)
    expect(client.invalid).toEqual([])
  })

  it('joins, publishes with acks and fans out between two loopback peers, in order', async () => {
    const parley = await hub({ authenticate: byToken })
    const a = await peer(parley, { token: 'mia' })
    const b = await peer(parley, { token: 'ned' })
    await a.next('welcome')
    await b.next('welcome')

    a.send({ type: 'join', room: 'loop', id: 'ja' })
    expect(await a.next('joined')).toMatchObject({ room: 'loop', id: 'ja', seq: 0, members: [{ user: 'mia' }] })
    b.send({ type: 'join', room: 'loop', id: 'jb' })
    const joined = await b.next('joined')
    expect(joined.members.map((m) => m.user).sort()).toEqual(['mia', 'ned'])
    expect(await a.next('presence')).toMatchObject({ room: 'loop', event: 'join', member: { user: 'ned' } })

    a.send({ type: 'publish', room: 'loop', id: 'p1', data: { n: 1 } })
    b.send({ type: 'publish', room: 'loop', id: 'p2', data: { n: 2 } })
    a.send({ type: 'publish', room: 'loop', id: 'p3', data: { n: 3 }, echo: false })
    const of = <T extends ServerMessage['type']>(client: LoopbackClient, type: T) =>
      client.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type)
    await until(() => of(a, 'ack').length === 2 && of(b, 'ack').length === 1 && of(b, 'message').length === 3, 2_000, 'acks and fan-out')
    const acks = [...of(a, 'ack'), ...of(b, 'ack')]
    expect(acks.map((ack) => ack.id).sort()).toEqual(['p1', 'p2', 'p3'])
    expect(acks.map((ack) => ack.seq).sort()).toEqual([1, 2, 3])
    expect(acks.every((ack) => ack.room === 'loop' && ack.epoch === joined.epoch)).toBe(true)

    // B sees every message once, in seq order, each from its sender and matching the ack's seq.
    const seenByB = of(b, 'message')
    expect(seenByB.map((m) => m.seq)).toEqual([1, 2, 3])
    for (const ack of acks) {
      const message = seenByB.find((m) => m.seq === ack.seq)
      expect(message?.from).toBe(ack.id === 'p2' ? 'ned' : 'mia')
      expect(message?.data).toEqual({ n: Number(ack.id.slice(1)) })
    }
    // A saw its own echo and B's, but not its echo:false publish.
    await new Promise((resolve) => setTimeout(resolve, 20))
    const seenByA = of(a, 'message')
    expect(seenByA.map((m) => m.seq)).toEqual(acks.filter((ack) => ack.id !== 'p3').map((ack) => ack.seq).sort())
    expect(seenByA.map((m) => (m.data as { n: number }).n).sort()).toEqual([1, 2])
    expect(a.invalid).toEqual([])
    expect(b.invalid).toEqual([])
  })

  it('acks a retried publish id as a duplicate without delivering it again', async () => {
    const parley = await hub()
    const a = await peer(parley)
    const b = await peer(parley)
    for (const client of [a, b]) {
      await client.next('welcome')
      client.send({ type: 'join', room: 'r', id: 'j' })
      await client.next('joined')
    }
    a.send({ type: 'publish', room: 'r', id: 'same', data: 'once' })
    const first = await a.next('ack')
    a.send({ type: 'publish', room: 'r', id: 'same', data: 'once' })
    const second = await a.next('ack')
    expect(second).toMatchObject({ id: 'same', seq: first.seq, duplicate: true })
    await b.next('message')
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(b.received.filter((m) => m.type === 'message')).toHaveLength(1)
  })

  it('closes with 4406 when the offered protocols have no common version', async () => {
    const parley = await hub()
    const listed = await peer(parley, { protocols: ['parley.v9.json', 'parley.v9.json'] })
    expect((await listed.closed).code).toBe(CloseCode.UnsupportedVersion)
    // The connection's own protocol counts as the offer when none is listed.
    const own = await peer(parley, {}, 'parley.v9.json')
    expect((await own.closed).code).toBe(CloseCode.UnsupportedVersion)
    expect(listed.received).toEqual([])
    expect(parley.stats().connections).toBe(0)
  })

  it('closes with 4401 when authenticate refuses, 1013 (retryable) when it throws, and never welcomes', async () => {
    const parley = await hub({
      authenticate: ({ token }) => {
        if (token === 'boom') throw new Error('auth backend down')
        return byToken({ token, request: undefined })
      },
    })
    for (const [token, code] of [['nope', CloseCode.Unauthorized], ['boom', CloseCode.TryAgainLater]] as const) {
      const client = await peer(parley, { token })
      expect((await client.closed).code).toBe(code)
      expect(client.received).toEqual([])
    }
    expect(parley.stats().connections).toBe(0)
  })

  it('first-message mode: a throwing authenticate answers TRY_AGAIN_LATER and closes 1013; a refresh keeps the session', async () => {
    let down = true
    const parley = await hub({
      authMode: 'first-message',
      authenticate: ({ token }) => {
        if (down) throw new Error('auth backend down')
        return byToken({ token, request: undefined })
      },
    })
    const first = await peer(parley)
    await first.next('welcome')
    first.send({ type: 'authenticate', token: 'olga', id: 'a1' })
    expect(await first.next('error')).toMatchObject({ code: 'TRY_AGAIN_LATER', id: 'a1' })
    expect((await first.closed).code).toBe(CloseCode.TryAgainLater)
    // Back up: the client's next attempt gets in; an outage during a later refresh leaves it signed in.
    down = false
    const second = await peer(parley)
    await second.next('welcome')
    second.send({ type: 'authenticate', token: 'olga', id: 'a2' })
    expect(await second.next('ack')).toMatchObject({ id: 'a2' })
    down = true
    second.send({ type: 'authenticate', token: 'olga', id: 'a3' })
    expect(await second.next('error')).toMatchObject({ code: 'TRY_AGAIN_LATER', id: 'a3' })
    second.send({ type: 'join', room: 'still-in', id: 'j' })
    expect(await second.next('joined')).toMatchObject({ room: 'still-in', id: 'j' })
    expect(parley.sessions().map((session) => session.user.id)).toEqual(['olga'])
  })

  it('closes every loopback session with 1001 on close()', async () => {
    const parley = await hub()
    const a = await peer(parley)
    await a.next('welcome')
    await parley.close()
    expect((await a.closed).code).toBe(CloseCode.GoingAway)
  })
})

describe('the transport seam is enforced', () => {
  const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src')

  function sourceFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
    )
  }

  /** Module specifiers of every static or dynamic import / re-export of a file. */
  function importsOf(file: string): string[] {
    const text = readFileSync(file, 'utf8')
    const specifiers: string[] = []
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) specifiers.push(match[1] as string)
    for (const match of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) specifiers.push(match[1] as string)
    for (const match of text.matchAll(/(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) specifiers.push(match[1] as string)
    return specifiers
  }

  /** Every file reachable from `entry` through relative imports, and the packages they import. */
  function closure(entry: string): { files: Set<string>; packages: Map<string, string> } {
    const files = new Set<string>()
    const packages = new Map<string, string>()
    const visit = (file: string): void => {
      if (files.has(file)) return
      files.add(file)
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')))
        else packages.set(specifier, relative(src, file))
      }
    }
    visit(entry)
    return { files, packages }
  }

  const isWs = (name: string): boolean => name === 'ws' || name.startsWith('ws/')
  const coreEntries = ['hub.ts', 'room.ts', 'session.ts', 'parley.ts', 'pipeline.ts', 'authentication.ts', 'signals.ts', 'history.ts', 'handshake.ts', 'adapters/memory.ts', 'adapters/kit.ts']

  it.each(coreEntries)('%s imports neither ws nor the WebSocket transport, directly or through its imports', (entry) => {
    const { files, packages } = closure(join(src, entry))
    expect(files.size).toBeGreaterThan(0)
    expect([...packages.keys()].filter(isWs)).toEqual([])
    expect([...files].map((f) => relative(src, f))).not.toContain(join('transports', 'ws.ts'))
  })

  it('only transports/ws.ts imports ws, and the checker does see it there (and through attach.ts)', () => {
    const importers = sourceFiles(src)
      .filter((file) => importsOf(file).some(isWs))
      .map((file) => relative(src, file))
    expect(importers).toEqual([join('transports', 'ws.ts')])
    // The same closure walk finds ws from attach(): the check above is able to fail.
    expect([...closure(join(src, 'attach.ts')).packages.keys()].some(isWs)).toBe(true)
  })
})
