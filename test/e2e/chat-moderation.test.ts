/**
 * The chat example's admin commands, against a real Parley instance over the loopback transport: /mute makes the
 * server refuse a user's messages for a while, /ban disconnects every tab and refuses sign-in, /kick removes from
 * the room; non-admins are refused. (The browser side of /kick is in chat-browser.test.ts.)
 */
import { createLoopback, createParley, type Parley } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { ModerationStore, runCommand } from '../../examples/shared/chat-moderation.js'
import { LoopbackClient, openLoopback } from '../../packages/server-sdk/test/helpers/loopback-client.js'

const parleys: Parley[] = []
afterEach(async () => {
  await Promise.all(parleys.splice(0).map((parley) => parley.close()))
})

describe('chat admin commands', () => {
  it('mute, ban, unban and kick do what they say, announce it to the room, and are for admins only', async () => {
    const store = new ModerationStore()
    const admins = new Set(['admin'])
    const parley = createParley({
      authenticate: ({ token }) => (token === undefined || store.isBanned(token) ? null : { id: token }),
      presence: { graceMs: 0 },
    })
    parleys.push(parley)
    parley.use(async ({ message, session }, next) => {
      if (message.type === 'publish' && store.mutedFor(session.user.id) > 0) {
        const { ParleyServerError } = await import('@parley/server-sdk')
        throw new ParleyServerError('REJECTED', 'muted')
      }
      await next()
    })
    await parley.ready
    const tab = (user: string): Promise<LoopbackClient> => openLoopback(parley, { token: user }, ['general'])
    const watcher = await tab('alice')
    const eve = await tab('eve')

    await expect(runCommand(parley, store, admins, 'eve', 'general', '/kick alice')).rejects.toMatchObject({ code: 'FORBIDDEN' })
    expect(await runCommand(parley, store, admins, 'admin', 'general', '/mute eve 30')).toEqual({ ok: true, message: 'Muted eve for 30 s' })
    expect(await watcher.next('message')).toMatchObject({ from: null, data: { text: 'eve was muted for 30 s by admin', system: true } })
    eve.send({ type: 'publish', room: 'general', id: 'p1', data: { text: 'hello?' } })
    expect(await eve.next('error')).toMatchObject({ code: 'REJECTED', id: 'p1' })

    expect(await runCommand(parley, store, admins, 'admin', 'general', '/kick eve')).toMatchObject({ ok: true })
    expect(await eve.next('left')).toMatchObject({ room: 'general', reason: 'kicked' })
    expect(await runCommand(parley, store, admins, 'admin', 'general', '/kick eve')).toEqual({ ok: false, message: 'eve is not in #general' })

    expect(await runCommand(parley, store, admins, 'admin', 'general', '/ban eve')).toMatchObject({ ok: true })
    expect((await eve.closed).code).toBe(4403)
    const { connection, peer } = createLoopback()
    const refused = new LoopbackClient(peer)
    await parley.accept(connection, { token: 'eve' })
    expect((await refused.closed).code).toBe(4401)
    expect(await runCommand(parley, store, admins, 'admin', 'general', '/unban eve')).toMatchObject({ ok: true })
    expect(store.isBanned('eve')).toBe(false)

    for (const text of ['/kick', '/mute eve forever', '/dance eve', '/kick admin', '/kick eve extra words']) {
      expect((await runCommand(parley, store, admins, 'admin', 'general', text)).ok, text).toBe(false)
    }
  })
})
