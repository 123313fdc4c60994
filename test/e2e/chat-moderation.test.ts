/**
 * The chat example's admin commands, against a real Parley instance with the chat's own options, contract and
 * rules (examples/shared/chat-server.ts) over the loopback transport: /mute makes the server refuse a user's
 * messages for a while, /ban disconnects every tab and refuses sign-in, /kick removes from the room; non-admins are
 * refused. The contract is checked before the mute: a message that breaks it is VALIDATION_FAILED, muted or not.
 * (The browser side of /kick is in chat-browser.test.ts.)
 */
import { createLoopback, createParley, type Parley } from '@parley/server-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { runCommand } from '../../examples/shared/chat-moderation.js'
import { chatAuth, chatParleyOptions, installChatRules, moderation } from '../../examples/shared/chat-server.js'
import { LoopbackClient, openLoopback } from '../../packages/server-sdk/test/helpers/loopback-client.js'

const parleys: Parley[] = []
afterEach(async () => {
  await Promise.all(parleys.splice(0).map((parley) => parley.close()))
})

describe('chat admin commands', () => {
  it('mute, ban, unban and kick do what they say, announce it to the room, and are for admins only', async () => {
    // The chat's store of bans and mutes, which its `authenticate` and publish rule read.
    const store = moderation
    const admins = new Set(['admin'])
    const parley = createParley({ ...chatParleyOptions(), presence: { graceMs: 0 } })
    parleys.push(parley)
    installChatRules(parley)
    await parley.ready
    // Signed in as the chat signs in: a token from its own issuer (what POST /api/login answers).
    const tokenOf = async (user: string): Promise<string> => (await chatAuth.issueToken(user)).token
    const tab = async (user: string): Promise<LoopbackClient> => openLoopback(parley, { token: await tokenOf(user) }, ['general'])
    const watcher = await tab('alice')
    const eve = await tab('eve')

    await expect(runCommand(parley, store, admins, 'eve', 'general', '/kick alice')).rejects.toMatchObject({ code: 'FORBIDDEN' })
    expect(await runCommand(parley, store, admins, 'admin', 'general', '/mute eve 30')).toEqual({ ok: true, message: 'Muted eve for 30 s' })
    expect(await watcher.next('message')).toMatchObject({ from: null, data: { text: 'eve was muted for 30 s by admin', system: true } })
    eve.send({ type: 'publish', room: 'general', id: 'p1', data: { text: 'hello?' } })
    expect(await eve.next('error')).toMatchObject({ code: 'REJECTED', id: 'p1', message: expect.stringMatching(/^You are muted for (29|30) more seconds$/) })
    // The contract comes first: a message that is no chat message is refused as such, muted or not.
    eve.send({ type: 'publish', room: 'general', id: 'p2', data: { txt: 'hello?' } })
    expect(await eve.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', id: 'p2', issues: [{ path: 'text' }] })

    expect(await runCommand(parley, store, admins, 'admin', 'general', '/kick eve')).toMatchObject({ ok: true })
    expect(await eve.next('left')).toMatchObject({ room: 'general', reason: 'kicked' })
    // Nobody got either of eve's messages: the watcher's next message is the next system line.
    expect(await watcher.next('message')).toMatchObject({ from: null, data: { text: 'eve was removed from the room by admin', system: true } })
    expect(await runCommand(parley, store, admins, 'admin', 'general', '/kick eve')).toEqual({ ok: false, message: 'eve is not in #general' })

    expect(await runCommand(parley, store, admins, 'admin', 'general', '/ban eve')).toMatchObject({ ok: true })
    expect((await eve.closed).code).toBe(4403)
    const { connection, peer } = createLoopback()
    const refused = new LoopbackClient(peer)
    // A fresh token, however valid, is refused while the ban lasts.
    await parley.accept(connection, { token: await tokenOf('eve') })
    expect((await refused.closed).code).toBe(4401)
    expect(await runCommand(parley, store, admins, 'admin', 'general', '/unban eve')).toMatchObject({ ok: true })
    expect(store.isBanned('eve')).toBe(false)

    for (const text of ['/kick', '/mute eve forever', '/dance eve', '/kick admin', '/kick eve extra words']) {
      expect((await runCommand(parley, store, admins, 'admin', 'general', text)).ok, text).toBe(false)
    }
  })
})
