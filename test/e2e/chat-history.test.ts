/**
 * The chat page's history in headless Chromium, against the Express example (its in-memory history store): a room
 * opens with its last 50 messages; scrolling to the top loads older ones, each shown once and in order, without
 * moving what the reader looks at, until "This is the start of the conversation."; a reload shows the conversation
 * again; the search box finds messages, at 1280 px and at 360 px; gaps and an unavailable store are shown as text;
 * a live message that breaks the chat's contract on its way is not shown, and the page says why.
 * With PostgreSQL at hand (as packages/postgres-history's tests find it), the example started with `DATABASE_URL`
 * keeps the conversation across a server restart. Screenshots land in test-results/e2e/.
 */
import { createClient, type Client, type Room } from '@parley/client-sdk'
import pg from 'pg'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserTestsEnabled, launchChromium, screenshot } from './helpers/browser.js'
import { signedIn } from './helpers/chat-sign-in.js'
import { startChatServer, type ChatServer } from './helpers/processes.js'

interface Chat {
  readonly text: string
  readonly mid?: string
}

interface Box {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

const ROOM = 'history'
const TOTAL = 120
const KEYWORD = 'pineapple'
/** The messages that mention the keyword, and only they. */
const WITH_KEYWORD = [7, 64, 111]
const AUTHORS = ['carol', 'dave', 'erin'] as const
const authorOf = (n: number): string => AUTHORS[Math.floor((n - 1) / 4) % AUTHORS.length] as string
const textOf = (n: number): string => (WITH_KEYWORD.includes(n) ? `Message ${n}: who ordered the ${KEYWORD} pizza?` : `Message ${n}`)
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

const LOG = `.log[data-room="${ROOM}"]`
const SCRIPT = 'examples/express-chat/server.ts'
const overlap = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height

interface Seeders {
  readonly rooms: ReadonlyMap<string, Room<Chat>>
  close(): Promise<void>
}

/**
 * The authors sign in (`POST /api/login`), join the room and publish messages `numbers` in order, four in a row each
 * (so the page groups them).
 */
async function seed(server: ChatServer, numbers: readonly number[]): Promise<Seeders> {
  const clients: Client[] = []
  const rooms = new Map<string, Room<Chat>>()
  for (const user of AUTHORS) {
    const client = createClient(server.wsUrl, { ...(await signedIn(server, user)), reconnect: false })
    clients.push(client)
    const room = client.join<Chat>(ROOM)
    await new Promise<void>((resolve, reject) => {
      room.on('joined', () => resolve())
      room.on('error', reject)
    })
    rooms.set(user, room)
  }
  for (const n of numbers) await rooms.get(authorOf(n))?.publish({ text: textOf(n), mid: `seed-${n}` })
  return { rooms, close: async () => void (await Promise.all(clients.map((client) => client.close()))) }
}

const texts = (page: Page): Promise<string[]> => page.$$eval(`${LOG} .msg .text`, (nodes) => nodes.map((node) => node.textContent ?? ''))
const count = (page: Page): Promise<number> => page.locator(`${LOG} .msg`).count()
const waitForCount = (page: Page, n: number): Promise<unknown> =>
  page.waitForFunction(([selector, wanted]) => document.querySelectorAll(`${selector} .msg`).length >= (wanted as number), [LOG, n] as const)
const startShown = (page: Page): Promise<boolean> => page.locator(`${LOG} .intro`, { hasText: 'This is the start of the conversation.' }).isVisible()

/** Signs in on the page with the room in the URL, as a shared link would give it. */
async function signIn(page: Page, httpUrl: string, user: string): Promise<void> {
  await page.goto(`${httpUrl}/#${ROOM}`)
  await page.fill('#username', user)
  expect(await page.inputValue('#login-room')).toBe(ROOM)
  await page.click('#login-form button[type=submit]')
  await page.waitForSelector('#status[data-state="open"]')
}

/** Scrolls the list to the top and waits for the next older page; returns how far the first message moved on screen. */
async function scrollToTop(page: Page): Promise<number> {
  const before = await count(page)
  const first = (await texts(page))[0] as string
  const top = await page.$eval(
    '#logs',
    (logs, selector) => {
      logs.scrollTop = 0
      return (document.querySelector(selector) as HTMLElement).getBoundingClientRect().top
    },
    `${LOG} .msg`,
  )
  await waitForCount(page, before + 1)
  await page.waitForFunction((selector) => document.querySelector(`${selector} .history-row`)?.getAttribute('data-state') !== 'loading', LOG)
  const after = await page
    .locator(`${LOG} .msg .text`)
    .getByText(first, { exact: true })
    .evaluate((node) => (node.closest('.msg') as HTMLElement).getBoundingClientRect().top)
  return Math.abs(after - top)
}

/** Scrolls back until nothing older is left; returns how far the first message moved each time. */
async function scrollToStart(page: Page, total: number): Promise<number[]> {
  const moved: number[] = []
  while ((await count(page)) < total) {
    expect(moved.length, 'pages loaded').toBeLessThan(Math.ceil(total / 50))
    moved.push(await scrollToTop(page))
    if ((await count(page)) < total) expect(await startShown(page)).toBe(false)
  }
  await page.locator(`${LOG} .intro`).waitFor({ state: 'visible' })
  return moved
}

describe.runIf(browserTestsEnabled())('the chat page keeps the conversation: history, scrolling back, reload, search', () => {
  let server: ChatServer
  let browser: Browser
  let seeders: Seeders | undefined
  /** Uncaught exceptions and dialogs from every page: there must be none. */
  const problems: string[] = []

  beforeAll(async () => {
    browser = await launchChromium()
    server = await startChatServer(SCRIPT)
    // Three people wrote 120 messages before anyone opens the page.
    seeders = await seed(server, range(1, TOTAL))
  }, 60_000)

  afterAll(async () => {
    await seeders?.close()
    await browser?.close()
    await server?.kill()
  }, 20_000)

  async function openPage(user: string, width: number, height: number): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width, height } })).newPage()
    page.on('pageerror', (error) => problems.push(`${user}: page error: ${error.message}`))
    page.on('dialog', (dialog) => {
      problems.push(`${user}: dialog: ${dialog.message()}`)
      void dialog.dismiss()
    })
    return page
  }


  it('opens the room with its last 50 messages, loads older ones at the top, each once, until the start', async () => {
    const page = await openPage('reader', 1280, 760)
    await signIn(page, server.httpUrl, 'reader')
    await waitForCount(page, 50)
    expect(await texts(page)).toEqual(range(TOTAL - 49, TOTAL).map(textOf))
    expect(await startShown(page)).toBe(false)
    // The list opens at its end, on the newest message.
    expect(await page.$eval('#logs', (logs) => logs.scrollHeight - logs.scrollTop - logs.clientHeight)).toBeLessThan(2)
    // Consecutive messages of one author within minutes are grouped under one name.
    expect(await page.locator(`${LOG} .msg.continued`).count()).toBeGreaterThan(30)
    await screenshot(page, 'history-1280px')

    // Scrolling to the top loads the previous 50, then the last 20; what the reader looked at stays put.
    const moved = await scrollToStart(page, TOTAL)
    expect(moved).toHaveLength(2)
    for (const distance of moved) expect(distance).toBeLessThan(2)
    expect(await startShown(page)).toBe(true)
    expect(await texts(page)).toEqual(range(1, TOTAL).map(textOf))
    expect(await page.locator(`${LOG} .history-row`).isVisible()).toBe(false)
    await page.$eval('#logs', (logs) => (logs.scrollTop = 0))
    await screenshot(page, 'history-start-1280px')

    // A live message after the history: shown once, at the end.
    await seeders?.rooms.get('carol')?.publish({ text: 'Live, after the history', mid: 'live-1' })
    await page.locator(`${LOG} .msg .text`).getByText('Live, after the history', { exact: true }).waitFor()
    expect((await texts(page)).slice(-2)).toEqual([textOf(TOTAL), 'Live, after the history'])

    // The reader writes, reloads: the conversation is there, their own message included (once, marked as theirs).
    await page.fill('#message-input', 'Read them all, thanks')
    await page.press('#message-input', 'Enter')
    await page.locator(`${LOG} .msg.mine:not(.pending) .text`, { hasText: 'Read them all, thanks' }).waitFor()
    await page.reload()
    await page.waitForSelector('#status[data-state="open"]')
    expect(await page.textContent('#room-title')).toBe(ROOM)
    await waitForCount(page, 50)
    expect(await texts(page)).toEqual([...range(TOTAL - 47, TOTAL).map(textOf), 'Live, after the history', 'Read them all, thanks'])
    expect(await page.locator(`${LOG} .msg.mine .text`).allTextContents()).toEqual(['Read them all, thanks'])
    expect(await startShown(page)).toBe(false)
    await page.context().close()
    expect(problems).toEqual([])
  }, 60_000)

  it('searches the room from the header at 1280 px: matches, no matches, Escape', async () => {
    const page = await openPage('searcher', 1280, 760)
    await signIn(page, server.httpUrl, 'searcher')
    await waitForCount(page, 50)

    // The header's parts do not overlap, the search field among them.
    const header: Array<[string, Box]> = []
    for (const selector of ['.topbar .brand', '.room-heading', '#status', '#search-form', '.me']) {
      const box = await page.locator(selector).boundingBox()
      expect(box, selector).not.toBeNull()
      header.push([selector, box as Box])
    }
    for (const [i, [a, boxA]] of header.entries()) {
      for (const [b, boxB] of header.slice(i + 1)) expect(overlap(boxA, boxB), `${a} overlaps ${b}`).toBe(false)
    }

    await page.fill('#search-input', KEYWORD)
    await page.press('#search-input', 'Enter')
    await page.locator('#search-summary', { hasText: '3 messages' }).waitFor()
    const results = page.locator('#search-results .result')
    // Newest first, each with its author and time; the word is marked, as text.
    expect(await results.locator('.text').allTextContents()).toEqual([...WITH_KEYWORD].reverse().map(textOf))
    expect(await results.locator('.author').allTextContents()).toEqual([...WITH_KEYWORD].reverse().map(authorOf))
    for (const time of await results.locator('.time').allTextContents()) expect(time).toMatch(/\d/)
    expect(await results.locator('mark').allTextContents()).toEqual([KEYWORD, KEYWORD, KEYWORD])
    expect(await page.locator('#search-summary').textContent()).toBe(`3 messages in #${ROOM} match “${KEYWORD}”`)
    expect(await page.locator('#logs').isVisible()).toBe(false)
    await screenshot(page, 'history-search-1280px')

    await page.fill('#search-input', 'zebra')
    await page.press('#search-input', 'Enter')
    await page.locator('#search-summary', { hasText: `No messages in #${ROOM} match “zebra”.` }).waitFor()
    expect(await results.count()).toBe(0)

    await page.press('#search-input', 'Escape')
    await page.locator('#search-panel').waitFor({ state: 'hidden' })
    expect(await page.locator('#logs').isVisible()).toBe(true)
    expect(await page.inputValue('#search-input')).toBe('')
    // Back where the reader was: at the newest message.
    expect(await page.$eval('#logs', (logs) => logs.scrollHeight - logs.scrollTop - logs.clientHeight)).toBeLessThan(2)
    expect(await count(page)).toBe(50)
    await page.context().close()
    expect(problems).toEqual([])
  }, 45_000)

  it('at 360 px: the conversation, and search behind an icon that opens over the header', async () => {
    const width = 360
    const page = await openPage('phone', width, 740)
    await signIn(page, server.httpUrl, 'phone')
    await waitForCount(page, 50)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width)
    const toggle = await page.locator('#search-toggle').boundingBox()
    expect(toggle).not.toBeNull()
    for (const selector of ['#toggle-rooms', '.room-heading', '#status', '#toggle-people', '.me']) {
      const box = await page.locator(selector).boundingBox()
      if (box === null || toggle === null) continue
      expect(overlap(toggle, box), `#search-toggle overlaps ${selector}`).toBe(false)
      expect(box.x + box.width, selector).toBeLessThanOrEqual(width + 0.5)
    }
    expect(await page.locator('#search-input').isVisible()).toBe(false)
    await screenshot(page, 'history-360px')

    await page.click('#search-toggle')
    await page.locator('#search-input').waitFor({ state: 'visible' })
    const field = await page.locator('#search-form').boundingBox()
    expect(field).not.toBeNull()
    if (field !== null) {
      expect(field.x).toBeGreaterThanOrEqual(0)
      expect(field.x + field.width).toBeLessThanOrEqual(width + 0.5)
    }
    await page.fill('#search-input', KEYWORD)
    await page.press('#search-input', 'Enter')
    await page.locator('#search-summary', { hasText: '3 messages' }).waitFor()
    expect(await page.locator('#search-results .result .text').allTextContents()).toEqual([...WITH_KEYWORD].reverse().map(textOf))
    for (const box of await page.locator('#search-results .result').evaluateAll((nodes) => nodes.map((node) => node.getBoundingClientRect().right))) {
      expect(box).toBeLessThanOrEqual(width + 0.5)
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width)
    await screenshot(page, 'history-search-360px')

    await page.click('#search-close')
    await page.locator('#search-panel').waitFor({ state: 'hidden' })
    expect(await page.locator('#search-input').isVisible()).toBe(false)
    expect(await page.locator('#composer button[type=submit]').isVisible()).toBe(true)
    await page.context().close()
    expect(problems).toEqual([])
  }, 45_000)

  it('shows a gap in the history as a line, an unavailable history or search as text, and no message that breaks the contract', async () => {
    const page = await openPage('skeptic', 1280, 760)
    // What the server sends when its store lacks messages (a gap) or cannot be read: the page's frames are rewritten
    // on their way, as a server with a broken store would answer.
    await page.routeWebSocket(/\/parley/, (socket) => {
      const upstream = socket.connectToServer()
      socket.onMessage((frame) => {
        const message = JSON.parse(String(frame)) as { type: string; id?: string; room?: string; before?: unknown }
        if (message.type === 'search' || (message.type === 'history' && message.before !== undefined)) {
          socket.send(JSON.stringify({ type: 'error', code: 'HISTORY_UNAVAILABLE', message: `History of ${ROOM} cannot be read now; try again later`, id: message.id, room: message.room }))
          return
        }
        upstream.send(frame)
      })
      upstream.onMessage((frame) => {
        const message = JSON.parse(String(frame)) as { type: string; messages?: Array<{ epoch: string; seq: number }>; gaps?: unknown[]; data?: { text?: string } }
        // A live message whose data no longer fits the contract once it arrives, as from a server without the contract.
        if (message.type === 'message' && message.data?.text === 'Broken on its way') {
          socket.send(JSON.stringify({ ...message, data: { txt: 'Broken on its way' } }))
          return
        }
        if (message.type === 'history' && message.messages !== undefined) {
          const epoch = (message.messages[0] as { epoch: string }).epoch
          message.messages = message.messages.filter((entry) => entry.seq < 95 || entry.seq > 97)
          message.gaps = [{ epoch, from: 95, to: 97 }]
          socket.send(JSON.stringify(message))
          return
        }
        socket.send(frame)
      })
    })
    await signIn(page, server.httpUrl, 'skeptic')
    await waitForCount(page, 47)
    const gap = page.locator(`${LOG} .notice[data-kind="gap"]`)
    expect(await gap.textContent()).toBe('3 messages could not be stored')
    // In its place: between the messages before and after the missing ones.
    expect(await gap.evaluate((node) => node.previousElementSibling?.querySelector('.text')?.textContent)).toBe(textOf(94))
    expect(await gap.evaluate((node) => node.nextElementSibling?.querySelector('.text')?.textContent)).toBe(textOf(98))
    await gap.evaluate((node) => node.scrollIntoView({ block: 'center' }))
    await screenshot(page, 'history-gap-1280px')

    // Older messages cannot be read: the top of the list says so and offers a retry; nothing is thrown.
    await page.$eval('#logs', (logs) => (logs.scrollTop = 0))
    const row = page.locator(`${LOG} .history-row[data-state="failed"]`)
    await row.waitFor()
    expect(await row.textContent()).toContain('Older messages could not be loaded: History of history cannot be read now; try again later')
    expect(await row.locator('button', { hasText: 'Try again' }).isVisible()).toBe(true)
    expect(await startShown(page)).toBe(false)
    await screenshot(page, 'history-unavailable-1280px')

    await page.fill('#search-input', KEYWORD)
    await page.press('#search-input', 'Enter')
    await page.locator('#search-summary[data-tone="bad"]').waitFor()
    expect(await page.textContent('#search-summary')).toBe('History of history cannot be read now; try again later.')
    expect(await page.locator('#search-results .result').count()).toBe(0)
    await page.keyboard.press('Escape')
    await page.locator('#search-panel').waitFor({ state: 'hidden' })

    // The page's client checks what arrives against the chat's contract: a message that breaks it is reported as
    // the room's error (a toast), never shown, and the conversation goes on.
    const shown = await count(page)
    await seeders?.rooms.get('dave')?.publish({ text: 'Broken on its way', mid: 'broken-1' })
    await seeders?.rooms.get('dave')?.publish({ text: 'Fine after it', mid: 'fine-1' })
    await page.locator(`${LOG} .msg .text`).getByText('Fine after it', { exact: true }).waitFor()
    expect(await count(page)).toBe(shown + 1)
    expect((await texts(page)).filter((text) => text.includes('Broken on its way') || text.includes('cannot show'))).toEqual([])
    expect(await page.locator('.toast').allTextContents()).toContainEqual(expect.stringMatching(new RegExp(`^#${ROOM}: message data in ${ROOM}: text: `)))
    await page.context().close()
    expect(problems).toEqual([])
  }, 45_000)
})

/** PostgreSQL as packages/postgres-history's tests find it: PARLEY_POSTGRES_URL, or database `test` as `postgres` on 127.0.0.1. */
const POSTGRES_URL = process.env['PARLEY_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    return true
  } catch (error) {
    const where = new URL(POSTGRES_URL)
    where.password = ''
    console.warn(`[e2e] skipping the chat's PostgreSQL history test: ${where.href} does not answer (${(error as Error).message})`)
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

describe.runIf(browserTestsEnabled() && (await postgresAnswers()))('the chat with DATABASE_URL: history in PostgreSQL, across a restart', () => {
  /** A database of this run's own, dropped afterwards: the example keeps its tables in the `public` schema. */
  const database = `parley_chat_e2e_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const databaseUrl = new URL(POSTGRES_URL)
  databaseUrl.pathname = `/${database}`
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  let server: ChatServer | undefined
  let browser: Browser

  beforeAll(async () => {
    await admin.connect()
    await admin.query(`CREATE DATABASE "${database}"`)
    browser = await launchChromium()
  }, 30_000)

  afterAll(async () => {
    await browser?.close()
    await server?.kill()
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => {})
    await admin.end()
  }, 20_000)

  it('keeps the conversation when the server restarts: the last 50 on open, the rest on scroll, search', async () => {
    const env = { DATABASE_URL: databaseUrl.href }
    server = await startChatServer(SCRIPT, undefined, env)
    // The start-up lines say where history goes, never with the credentials.
    expect(server.output()).toContain(`History: PostgreSQL (${databaseUrl.host}/${database})`)
    const seeders = await seed(server, range(1, 60))
    await seeders.close()
    // A graceful stop: parley.close() writes what is still queued for the store, then the store is closed.
    await server.kill('SIGTERM')
    expect(await server.exited()).toBe(0)

    // The same database after a restart: the migration finds nothing to do, and the room has its history.
    server = await startChatServer(SCRIPT, server.port, env)
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 760 } })).newPage()
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(error.message))
    await signIn(page, server.httpUrl, 'returner')
    await waitForCount(page, 50)
    expect(await texts(page)).toEqual(range(11, 60).map(textOf))
    expect(await startShown(page)).toBe(false)
    expect(await scrollToStart(page, 60)).toHaveLength(1)
    expect(await texts(page)).toEqual(range(1, 60).map(textOf))

    await page.fill('#search-input', KEYWORD)
    await page.press('#search-input', 'Enter')
    await page.locator('#search-summary', { hasText: '1 message' }).waitFor()
    expect(await page.textContent('#search-summary')).toBe(`1 message in #${ROOM} matches “${KEYWORD}”`)
    expect(await page.locator('#search-results .result .text').allTextContents()).toEqual([textOf(7)])
    await screenshot(page, 'history-postgres-search-1280px')
    await page.context().close()
    expect(problems).toEqual([])
  }, 60_000)
})
