/**
 * The Express chat example driven in headless Chromium: two people (two browser contexts, so two separate
 * sessions) chat, see each other's presence and typing, send markup that must stay text, use two rooms (the list
 * of active rooms comes from the contract's `rooms.list` request), see nothing of what a raw client sends against
 * the chat's contract, and live through the server being killed and started again on the same port.
 *
 * The server runs as a child process (examples/express-chat/server.ts via tsx) so it can really be killed.
 * Screenshots land in test-results/e2e/ (gitignored).
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserTestsEnabled, launchChromium, screenshot } from './helpers/browser.js'
import { login } from './helpers/chat-sign-in.js'
import { startChatServer, type ChatServer } from './helpers/processes.js'
import { startHttpProxy } from '../../packages/client-sdk/test/helpers/http-proxy.js'
import { crc32, deflateSync } from 'node:zlib'
import { encodeBinary } from '@parley/protocol'
import { connect, type RawClient } from '../../packages/server-sdk/test/helpers/raw-client.js'

/** A real PNG of `size` × `size` pixels, a diagonal gradient, made here (signature, IHDR, IDAT, IEND). */
function pngImage(size: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(data.length, 0)
    head.write(type, 4, 'latin1')
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
    return Buffer.concat([head, data, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8-bit RGB
  const rows = Buffer.alloc(size * (1 + size * 3))
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) rows.set([40 + ((x * 200) / size) | 0, 90, 200 - ((y * 150) / size) | 0], y * (1 + size * 3) + 1 + x * 3)
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))])
}

const SCRIPT = 'examples/express-chat/server.ts'

declare global {
  interface Window {
    __xss?: unknown
  }
}

describe.runIf(browserTestsEnabled())('express-chat in headless Chromium', () => {
  let server: ChatServer
  let browser: Browser
  let alice: Page
  let bob: Page
  /** Uncaught exceptions and dialogs (alert/confirm) from every page: there must be none. */
  const problems: string[] = []
  /** How each tab asked for the active rooms: `rooms.list` requests on its WebSocket, and `GET /api/rooms`. */
  const roomsAsked = new Map<Page, { request: number; http: number }>()

  beforeAll(async () => {
    // Chromium first: when it is missing (a failure in CI) no server is left running.
    browser = await launchChromium()
    server = await startChatServer(SCRIPT)
  }, 45_000)

  afterAll(async () => {
    await browser?.close()
    await server?.kill()
  }, 20_000)

  async function signIn(name: string, page?: Page): Promise<Page> {
    const tab = page ?? (await (await browser.newContext({ viewport: { width: 1280, height: 760 } })).newPage())
    tab.on('pageerror', (error) => problems.push(`${name}: page error: ${error.message}`))
    tab.on('dialog', (dialog) => {
      problems.push(`${name}: dialog: ${dialog.message()}`)
      void dialog.dismiss()
    })
    const asked = { request: 0, http: 0 }
    roomsAsked.set(tab, asked)
    tab.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/rooms') asked.http++
    })
    tab.on('websocket', (socket) =>
      socket.on('framesent', ({ payload }) => {
        // A binary frame (an image, protocol v2) is no request.
        if (typeof payload !== 'string') return
        const frame = JSON.parse(payload) as { type?: string; name?: string }
        if (frame.type === 'request' && frame.name === 'rooms.list') asked.request++
      }),
    )
    await tab.goto(server.httpUrl)
    // A tab of a browser where this user is signed in already goes straight to the conversation.
    await tab.waitForSelector('#login:not([hidden]), #app:not([hidden])')
    if (await tab.locator('#login').isVisible()) {
      await tab.fill('#username', name)
      if (name === 'alice' && page === undefined) await screenshot(tab, 'sign-in')
      await tab.click('#login-form button[type=submit]')
    }
    await tab.waitForSelector('#status[data-state="open"]')
    await tab.locator('.log[data-room="general"] .notice', { hasText: 'You joined #general' }).waitFor()
    return tab
  }

  const log = (room: string): string => `.log[data-room="${room}"]`
  const messageTexts = (page: Page, room: string): Promise<string[]> =>
    page.$$eval(`${log(room)} .msg .text`, (nodes) => nodes.map((node) => node.textContent ?? ''))
  const countText = async (page: Page, room: string, text: string): Promise<number> =>
    (await messageTexts(page, room)).filter((t) => t === text).length
  const waitForMessage = (page: Page, room: string, text: string): Promise<void> =>
    page.locator(`${log(room)} .msg .text`).getByText(text, { exact: true }).waitFor({ state: 'attached' })
  async function send(page: Page, text: string): Promise<void> {
    await page.fill('#message-input', text)
    await page.press('#message-input', 'Enter')
  }

  it('two people chat in one room', async () => {
    ;[alice, bob] = await Promise.all([signIn('alice'), signIn('bob')])
    await send(alice, 'Hi Bob! Is the release on track?')
    await waitForMessage(bob, 'general', 'Hi Bob! Is the release on track?')
    await send(bob, 'Yes, shipping this afternoon.')
    await waitForMessage(alice, 'general', 'Yes, shipping this afternoon.')
    expect(await messageTexts(alice, 'general')).toEqual(['Hi Bob! Is the release on track?', 'Yes, shipping this afternoon.'])
    expect(await messageTexts(bob, 'general')).toEqual(['Hi Bob! Is the release on track?', 'Yes, shipping this afternoon.'])
    // Authors come from the server (the authenticated user id), not from anything the sender wrote.
    expect(await bob.locator(`${log('general')} .msg`).first().getAttribute('data-author')).toBe('alice')
  }, 30_000)

  it('shows presence (one entry per user, however many tabs) and the typing indicator', async () => {
    await bob.locator('#people li[data-user="alice"][data-online="true"]').waitFor()
    await alice.locator('#people li[data-user="bob"][data-online="true"]').waitFor()

    // A second tab for alice: still one alice in bob's list, and closing that tab does not make her offline.
    const aliceTab2 = await signIn('alice', await alice.context().newPage())
    await aliceTab2.locator('#people li[data-user="bob"]').waitFor()
    expect(await bob.locator('#people li[data-user="alice"]').count()).toBe(1)
    await aliceTab2.close({ runBeforeUnload: true })
    await bob.waitForTimeout(400)
    expect(await bob.locator('#people li[data-user="alice"][data-online="true"]').count()).toBe(1)

    // Typing: appears on the other page while alice types, goes away when she clears the field.
    await alice.click('#message-input')
    await alice.keyboard.type('Let me check the', { delay: 20 })
    await bob.locator('#typing', { hasText: 'alice is typing…' }).waitFor()
    await bob.locator('#people li[data-user="alice"] .typing-dots').waitFor()
    expect(await alice.textContent('#typing')).toBe('')
    await screenshot(bob, 'typing-indicator')
    await alice.fill('#message-input', '')
    await alice.dispatchEvent('#message-input', 'input')
    await bob.waitForFunction(() => document.getElementById('typing')?.textContent === '')

    // A third user comes and goes: online, then offline (signing out closes the connection at once).
    const carol = await signIn('carol')
    await bob.locator('#people li[data-user="carol"][data-online="true"]').waitFor()
    await carol.click('#sign-out')
    await bob.locator('#people li[data-user="carol"][data-online="false"]').waitFor()
    await carol.context().close()
    await screenshot(bob, 'presence')
  }, 30_000)

  it('shows markup in messages as text and runs nothing', async () => {
    const attacks = [
      `<img src=x onerror="window.__xss='img'">`,
      `<script>window.__xss='script'</script>`,
      `<b onmouseover="window.__xss='b'">bold?</b> & "quotes" 'too'`,
    ]
    for (const text of attacks) await send(bob, text)
    for (const text of attacks) await waitForMessage(alice, 'general', text)
    // Give a broken image time to fire its onerror, were one ever created.
    await alice.waitForTimeout(300)
    for (const page of [alice, bob]) {
      for (const text of attacks) expect(await countText(page, 'general', text)).toBe(1)
      expect(await page.evaluate(() => window.__xss)).toBeUndefined()
      expect(await page.evaluate(() => document.querySelectorAll('img').length)).toBe(0)
      expect(await page.evaluate(() => document.querySelectorAll('#logs script, #logs b').length)).toBe(0)
    }
    await screenshot(alice, 'chat-with-markup-as-text')
  }, 30_000)

  it('keeps two rooms apart', async () => {
    await alice.fill('#new-room-name', 'random')
    await alice.press('#new-room-name', 'Enter')
    await alice.locator(`${log('random')} .notice`, { hasText: 'You joined #random' }).waitFor()
    expect(await alice.textContent('#room-title')).toBe('random')
    await send(alice, 'Only for #random')
    await waitForMessage(alice, 'random', 'Only for #random')

    // Bob sees the new room in the list of active rooms (with its member count), but not its messages. The list is
    // the answer to the contract's `rooms.list` request, on the page's connection; the page never asks /api/rooms.
    await bob.locator('#rooms li[data-room="random"][data-joined="false"] .count', { hasText: '1' }).waitFor({ timeout: 8_000 })
    expect(roomsAsked.get(bob)?.request).toBeGreaterThan(0)
    expect(roomsAsked.get(bob)?.http).toBe(0)
    await send(bob, 'Only for #general')
    await waitForMessage(alice, 'general', 'Only for #general')
    expect(await alice.locator('#rooms li[data-room="general"] .unread').textContent()).toBe('1')
    expect(await messageTexts(alice, 'random')).toEqual(['Only for #random'])
    expect(await countText(bob, 'general', 'Only for #random')).toBe(0)
    await screenshot(alice, 'two-rooms')

    // Bob joins #random too: he sees alice there and what she wrote before he came (the room's history), and
    // #general's messages stay in #general.
    await bob.click('#rooms li[data-room="random"]')
    await bob.locator(`${log('random')} .notice`, { hasText: 'You joined #random' }).waitFor()
    await bob.locator('#people li[data-user="alice"][data-online="true"]').waitFor()
    await waitForMessage(bob, 'random', 'Only for #random')
    await send(bob, 'Hello #random')
    await waitForMessage(alice, 'random', 'Hello #random')
    expect(await messageTexts(bob, 'random')).toEqual(['Only for #random', 'Hello #random'])
    expect(await messageTexts(alice, 'random')).toEqual(['Only for #random', 'Hello #random'])
    expect(await countText(alice, 'general', 'Hello #random')).toBe(0)

    // Back to #general for the rest.
    await alice.click('#rooms li[data-room="general"]')
    await bob.click('#rooms li[data-room="general"]')
    expect(await alice.locator('#rooms li[data-room="general"] .unread').count()).toBe(0)
  }, 30_000)

  it('a raw client breaking the chat contract is told VALIDATION_FAILED with the path, and the pages see nothing of it', async () => {
    const before = { alice: await messageTexts(alice, 'general'), bob: await messageTexts(bob, 'general') }
    const raw = await connect(server.wsUrl, { headers: { Authorization: `Bearer ${(await login(server, 'raw-sender')).token}` } })
    try {
      await raw.next('welcome')
      raw.send({ type: 'join', room: 'general', id: 'join', presence: { client: 'web' } })
      await raw.next('joined')
      await alice.locator('#people li[data-user="raw-sender"][data-online="true"]').waitFor()
      for (const [id, data, path] of [
        ['no-text', { txt: 'x' }, 'text'],
        ['empty', { text: '' }, 'text'],
        ['too-long', { text: 'x'.repeat(2_001) }, 'text'],
      ] as const) {
        raw.send({ type: 'publish', room: 'general', id, data })
        expect(await raw.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', id, room: 'general', issues: [{ path }] })
      }
      raw.send({ type: 'signal', room: 'general', key: 'typing', value: 'yes' })
      expect(await raw.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', room: 'general', issues: [{ path: '' }] })
      // Then one that keeps to the contract: the pages show it, and only it.
      raw.send({ type: 'publish', room: 'general', id: 'fine', data: { text: 'From a raw client, within the contract' } })
      await raw.next('ack')
      for (const [name, page] of [['alice', alice], ['bob', bob]] as const) {
        await waitForMessage(page, 'general', 'From a raw client, within the contract')
        expect(await messageTexts(page, 'general')).toEqual([...before[name], 'From a raw client, within the contract'])
        expect(await page.textContent('#typing')).toBe('')
        // The refusals went to the raw client alone: no page was told anything (a room's error would be a toast).
        expect(await page.locator('.toast').allTextContents()).toEqual([])
      }
    } finally {
      raw.close()
    }
    await alice.locator('#people li[data-user="raw-sender"][data-online="false"]').waitFor()
    expect(problems).toEqual([])
  }, 30_000)

  it('reacts to messages: a chip per emoji counts each user once, toggles off, comes back from history after a reload, and a bad reaction is refused', async () => {
    await send(alice, 'React to this one')
    await waitForMessage(bob, 'general', 'React to this one')
    const message = (page: Page) => page.locator(`${log('general')} .msg`, { has: page.locator('.text', { hasText: /^React to this one$/ }) })
    const chip = (page: Page, emoji: string) => message(page).locator(`.chip[data-emoji="${emoji}"]`)
    const pick = async (page: Page, emoji: string): Promise<void> => {
      await message(page).hover()
      await message(page).locator('.react-add').click()
      await message(page).locator(`.pick[data-emoji="${emoji}"]`).click()
    }
    // Alice's own message is confirmed (it has a seq) before anyone can react to it.
    await message(alice).and(alice.locator('.msg[data-seq]')).waitFor()

    await pick(bob, '👍')
    await expect.poll(() => chip(alice, '👍').textContent()).toBe('👍 1')
    await expect.poll(() => chip(bob, '👍').getAttribute('aria-pressed')).toBe('true')
    expect(await chip(alice, '👍').getAttribute('aria-pressed')).toBe('false')
    expect(await chip(alice, '👍').getAttribute('title')).toBe('bob')

    // Alice adds hers by clicking the chip; Bob adds a second emoji; then takes his 👍 off again.
    await chip(alice, '👍').click()
    await expect.poll(() => chip(bob, '👍').textContent()).toBe('👍 2')
    await pick(bob, '🎉')
    await expect.poll(() => chip(alice, '🎉').textContent()).toBe('🎉 1')
    await chip(bob, '👍').click()
    await expect.poll(() => chip(alice, '👍').textContent()).toBe('👍 1')
    await expect.poll(() => chip(bob, '👍').getAttribute('aria-pressed')).toBe('false')
    expect(await chip(alice, '👍').getAttribute('aria-pressed')).toBe('true')
    // Reactions are not messages on the page.
    expect(await countText(alice, 'general', 'React to this one')).toBe(1)
    // The picker open (the screenshot), then closed with Escape.
    await message(alice).hover()
    await message(alice).locator('.react-add').click()
    await expect.poll(() => message(alice).locator('.picker').isVisible()).toBe(true)
    await screenshot(alice, 'reactions')
    await alice.keyboard.press('Escape')
    await expect.poll(() => message(alice).locator('.picker').isVisible()).toBe(false)

    // A reload rebuilds the counts from the room's history, toggles and all.
    await alice.reload()
    await alice.waitForSelector('#status[data-state="open"]')
    await expect.poll(() => chip(alice, '👍').textContent(), { timeout: 10_000 }).toBe('👍 1')
    expect(await chip(alice, '👍').getAttribute('aria-pressed')).toBe('true')
    expect(await chip(alice, '🎉').textContent()).toBe('🎉 1')
    expect(await message(alice).locator('.chip').count()).toBe(2)

    // The contract decides what a reaction is: a raw client gets VALIDATION_FAILED with the path, the pages nothing.
    const raw = await connect(server.wsUrl, { headers: { Authorization: `Bearer ${(await login(server, 'raw-reactor')).token}` } })
    try {
      await raw.next('welcome')
      raw.send({ type: 'join', room: 'general', id: 'join' })
      await raw.next('joined')
      for (const [id, reaction, path] of [
        ['emoji', { epoch: 'e', seq: 1, emoji: '💩', on: true }, 'reaction.emoji'],
        ['seq', { epoch: 'e', seq: 0, emoji: '👍', on: true }, 'reaction.seq'],
        ['extra', { epoch: 'e', seq: 1, emoji: '👍', on: true, weight: 100 }, 'reaction.weight'],
      ] as const) {
        raw.send({ type: 'publish', room: 'general', id, data: { reaction } })
        expect(await raw.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', id, room: 'general', issues: [{ path }] })
      }
    } finally {
      raw.close()
    }
    // Nothing the raw client sent reached a page: Bob still sees 👍 (Alice) and 🎉 (his own).
    expect(await message(bob).locator('.chip').count()).toBe(2)
    expect(problems).toEqual([])
  }, 45_000)

  it('shares an image: shown inline to everyone from its bytes, back from history after a reload; too large, not an image, or bytes that lie are refused', async () => {
    const png = pngImage(64)
    const figure = (page: Page) => page.locator(`${log('general')} .msg figure.image`, { has: page.locator('figcaption', { hasText: 'square.png' }) })
    const loaded = (page: Page) => figure(page).locator('img').evaluate((img: HTMLImageElement) => (img.complete ? img.naturalWidth : 0))
    await alice.setInputFiles('#image-input', { name: 'square.png', mimeType: 'image/png', buffer: png })
    await expect.poll(() => loaded(bob), { timeout: 10_000 }).toBe(64)
    await expect.poll(() => loaded(alice), { timeout: 10_000 }).toBe(64)
    expect(await figure(bob).locator('img').getAttribute('alt')).toBe('square.png')
    expect(await figure(bob).locator('img').getAttribute('src')).toMatch(/^blob:/)
    await screenshot(bob, 'image')

    // The page says no before sending: too large, or not an image whatever its name says.
    await alice.setInputFiles('#image-input', { name: 'huge.png', mimeType: 'image/png', buffer: Buffer.concat([png, Buffer.alloc(100 * 1024)]) })
    await alice.locator('.toast', { hasText: 'Images are at most 96 KB' }).waitFor()
    await alice.setInputFiles('#image-input', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('just some text, not a picture') })
    await alice.locator('.toast', { hasText: 'notes.png is not a' }).waitFor()

    // The server checks the bytes against the description, whoever sends them: a raw v2 client is refused.
    const raw = await connect(server.wsUrl, { protocols: ['parley.v2.json'], headers: { Authorization: `Bearer ${(await login(server, 'raw-imager')).token}` } })
    try {
      await raw.next('welcome')
      raw.send({ type: 'join', room: 'general', id: 'join' })
      await raw.next('joined')
      const publish = (id: string, data: unknown, bytes: Uint8Array) => raw.send(encodeBinary({ type: 'publish', room: 'general', id, data, bytes } as never))
      publish('lying-type', { image: { type: 'image/jpeg', name: 'x.jpg', size: png.length } }, png)
      expect(await raw.next('error')).toMatchObject({ code: 'REJECTED', id: 'lying-type', message: 'The image is image/png, not image/jpeg' })
      publish('lying-size', { image: { type: 'image/png', name: 'x.png', size: 10 } }, png)
      expect(await raw.next('error')).toMatchObject({ code: 'REJECTED', id: 'lying-size' })
      publish('stowaway', { text: 'hello' }, png)
      expect(await raw.next('error')).toMatchObject({ code: 'REJECTED', id: 'stowaway', message: 'Only an image carries bytes in the chat' })
      publish('too-big', { image: { type: 'image/png', name: 'x.png', size: 200_000 } }, png)
      expect(await raw.next('error')).toMatchObject({ code: 'VALIDATION_FAILED', id: 'too-big', issues: [{ path: 'image.size' }] })
    } finally {
      raw.close()
    }

    // A reload draws it again from the room's history (bytes as base64 in the page of history).
    await bob.reload()
    await bob.waitForSelector('#status[data-state="open"]')
    await expect.poll(() => loaded(bob), { timeout: 10_000 }).toBe(64)
    expect(await figure(bob).count()).toBe(1)
    expect(problems).toEqual([])
  }, 45_000)

  it('a room of 120: the header counts everyone, the people list shows the first ones and how many more, and counts follow joins and leaves', async () => {
    const crowd: RawClient[] = []
    try {
      // 119 raw members, each its own user, join #crowd before Alice opens it; the server's join answer then lists
      // the first 100 (presence.snapshotLimit) with the count, and tells the room's changes as counts.
      const tokens = await Promise.all(Array.from({ length: 119 }, (_, i) => login(server, `fan-${String(i).padStart(3, '0')}`)))
      for (const { token } of tokens) {
        const raw = await connect(server.wsUrl, { headers: { Authorization: `Bearer ${token}` } })
        crowd.push(raw)
        await raw.next('welcome')
        raw.send({ type: 'join', room: 'crowd', id: 'join', presence: null })
        await raw.next('joined')
      }
      await alice.fill('#new-room-name', 'crowd')
      await alice.press('#new-room-name', 'Enter')
      await alice.locator(`${log('crowd')} .notice`, { hasText: 'You joined #crowd' }).waitFor()
      await expect.poll(() => alice.textContent('#room-members')).toBe('120 online')
      const more = alice.locator('#people li.more')
      await expect.poll(() => more.textContent()).toMatch(/^and \d+ more online$/)
      const listed = await alice.locator('#people li[data-online="true"]').count()
      expect(Number(/\d+/.exec((await more.textContent()) ?? '')?.[0]) + listed).toBe(120)
      await screenshot(alice, 'crowd')

      // Five leave: the count follows within the server's count window (1 s), names or not.
      for (const raw of crowd.splice(0, 5)) raw.close()
      await expect.poll(() => alice.textContent('#room-members'), { timeout: 5_000 }).toBe('115 online')
    } finally {
      for (const raw of crowd) raw.close()
    }
    // Back to #general for the rest.
    await alice.click('#rooms li[data-room="general"]')
    expect(problems).toEqual([])
  }, 45_000)

  /**
   * What "nothing lost" means across a process restart with the memory adapter: the history and the room's epoch
   * live in the server's memory and die with it. After the restart each page re-joins with its resume point, the
   * new server answers `recovered: false` with gap reason `epoch-changed`, and the page says so in the log. What
   * the page already shows stays (nothing disappears, nothing is shown twice), messages sent after the restart
   * arrive once, and a message typed while the server was down waits in the client's queue and is delivered once
   * when the connection is back. Messages that went to the old server after a page lost its connection would be
   * gone, and the page tells the user exactly that; a Redis adapter keeps history across restarts instead.
   * Sign-in survives too: the new process signs tokens with a new random key (no CHAT_JWT_SECRET here), so the old
   * ones mean nothing to it, and each page's `getToken` signs in again (`POST /api/login`) before it reconnects.
   */
  it('survives a server kill and restart: shows reconnecting, then the conversation continues', async () => {
    const before = { alice: await messageTexts(alice, 'general'), bob: await messageTexts(bob, 'general') }
    expect(before.alice.length).toBeGreaterThan(3)

    await server.kill('SIGKILL')
    await Promise.all([alice, bob].map((page) => page.waitForSelector('#status[data-state="reconnecting"]')))
    expect(await alice.textContent('#status')).toContain('Reconnecting')
    await send(alice, 'Typed while the server was down')
    await alice.locator(`${log('general')} .msg.pending .text`, { hasText: 'Typed while the server was down' }).waitFor()
    await screenshot(alice, 'reconnecting')

    server = await startChatServer(SCRIPT, server.port)
    for (const page of [alice, bob]) {
      await page.waitForSelector('#status[data-state="open"]', { timeout: 15_000 })
      await page
        .locator(`${log('general')} .notice[data-kind="recovery"][data-recovered="false"][data-reason="epoch-changed"]`)
        .waitFor({ state: 'attached', timeout: 15_000 })
    }

    // The notice says what was lost (others' messages from the gap) and that alice's own queued one is on its way;
    // bob had nothing queued, so his does not mention it.
    const notices = async (page: Page): Promise<string> =>
      (await page.locator(`${log('general')} .notice[data-kind="recovery"][data-reason="epoch-changed"]`).last().textContent()) ?? ''
    expect(await notices(alice)).toContain('messages others sent while you were away are gone')
    expect(await notices(alice)).toContain('Your message written meanwhile is being sent')
    expect(await notices(bob)).not.toContain('written meanwhile')

    // The queued message went out once, to the new server, and is confirmed on alice's page.
    await alice.locator(`${log('general')} .msg:not(.pending):not(.failed) .text`, { hasText: 'Typed while the server was down' }).waitFor()
    expect(await countText(alice, 'general', 'Typed while the server was down')).toBe(1)
    // Bob gets it once if he had re-joined before it was published, not at all otherwise (told by the notice).
    expect(await countText(bob, 'general', 'Typed while the server was down')).toBeLessThanOrEqual(1)

    await bob.locator('#people li[data-user="alice"][data-online="true"]').waitFor()
    await send(bob, 'Back after the restart')
    await waitForMessage(alice, 'general', 'Back after the restart')
    await send(alice, 'Welcome back')
    await waitForMessage(bob, 'general', 'Welcome back')

    for (const [name, page] of [['alice', alice], ['bob', bob]] as const) {
      const after = await messageTexts(page, 'general')
      // Everything shown before the restart is still there, in the same order, and nothing is doubled.
      expect(after.slice(0, before[name].length)).toEqual(before[name])
      for (const text of ['Back after the restart', 'Welcome back']) expect(after.filter((t) => t === text)).toHaveLength(1)
      expect(new Set(after).size).toBe(after.length)
    }
    await screenshot(alice, 'after-restart')
    await screenshot(bob, 'after-restart-bob')
    expect(problems).toEqual([])
  }, 45_000)

  it('an admin kicks a user with /kick: the kicked page says so, and the room sees a system line', async () => {
    const [admin, mallory] = await Promise.all([signIn('admin'), signIn('mallory')])
    await admin.locator('#people li[data-user="mallory"]').waitFor()
    // A user without the admin role is told no, and nobody is removed.
    await send(mallory, '/kick admin')
    await mallory.locator('.toast', { hasText: 'Only admins can use commands' }).waitFor()
    await send(admin, '/kick mallory')
    await mallory.locator('.toast', { hasText: 'You were removed from #general (kicked)' }).waitFor()
    expect(await mallory.textContent('#banner')).toContain('You were removed from #general (kicked)')
    await admin.locator('.toast', { hasText: 'Kicked mallory' }).waitFor()
    for (const page of [admin, alice]) await waitForMessage(page, 'general', 'mallory was removed from the room by admin')
    expect(await admin.locator(`${log('general')} .msg.system .text`, { hasText: 'mallory was removed' }).count()).toBe(1)
    await admin.locator('#people li[data-user="mallory"][data-online="false"]').waitFor()
    await screenshot(mallory, 'kicked')
    await screenshot(admin, 'admin-after-kick')
    expect(problems).toEqual([])
  }, 45_000)

  it('behind a proxy that refuses WebSocket upgrades, falls back to the HTTP stream within 5 s, says so, and chats with a WebSocket user', async () => {
    const proxy = await startHttpProxy([server.port], { blockUpgrades: true })
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 760 } })
      const sam = await context.newPage()
      sam.on('pageerror', (error) => problems.push(`sam: page error: ${error.message}`))
      await sam.goto(`http://127.0.0.1:${proxy.port}/`)
      await sam.fill('#username', 'sam')
      const started = Date.now()
      await sam.click('#login-form button[type=submit]')
      await sam.waitForSelector('#status[data-state="open"][data-transport="http-stream"]', { timeout: 5_000 })
      console.log(`[e2e] connected over the HTTP stream ${Date.now() - started} ms after sign-in`)
      expect(await sam.textContent('#status')).toContain('HTTP stream')
      await sam.locator('.log[data-room="general"] .notice', { hasText: 'You joined #general' }).waitFor()
      // alice is on WebSocket, straight to the server.
      expect(await alice.getAttribute('#status', 'data-transport')).toBe('websocket')
      await send(sam, 'Hello from behind the proxy')
      await waitForMessage(alice, 'general', 'Hello from behind the proxy')
      await send(alice, 'Hi Sam, loud and clear')
      await waitForMessage(sam, 'general', 'Hi Sam, loud and clear')
      await screenshot(sam, 'http-stream-fallback')
      expect(problems).toEqual([])
      await context.close()
    } finally {
      await proxy.close()
    }
  }, 45_000)

  it('keeps the user signed in across a reload, in the same room, until Sign out', async () => {
    await bob.reload()
    await bob.waitForSelector('#status[data-state="open"]')
    expect(await bob.textContent('#me-name')).toBe('bob')
    expect(await bob.locator('#login').isVisible()).toBe(false)
    await bob.locator('.log[data-room="general"] .notice', { hasText: 'You joined #general' }).waitFor()
    // The conversation is back too: the room's last messages, from its history (chat-history.test.ts has more).
    await waitForMessage(bob, 'general', 'Hi Sam, loud and clear')
    expect(await countText(bob, 'general', 'Hi Sam, loud and clear')).toBe(1)
    await bob.click('#sign-out')
    await bob.locator('#login').waitFor({ state: 'visible' })
    await bob.reload()
    await bob.locator('#login').waitFor({ state: 'visible' })
    expect(await bob.locator('#app').isVisible()).toBe(false)
    expect(problems).toEqual([])
  }, 30_000)
})
