/**
 * The chat page from a phone up: at 360 px and 1280 px wide the header's parts do not overlap, Send is always on
 * screen, the people list opens as a drawer on a phone, and one's own messages are set apart from everyone else's.
 * Screenshots land in test-results/e2e/.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserTestsEnabled, launchChromium, screenshot } from './helpers/browser.js'
import { startChatServer, type ChatServer } from './helpers/processes.js'

interface Box {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

const overlap = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height

describe.runIf(browserTestsEnabled())('the chat page at 360 px and 1280 px', () => {
  let server: ChatServer
  let browser: Browser

  beforeAll(async () => {
    browser = await launchChromium()
    server = await startChatServer('examples/express-chat/server.ts')
  }, 45_000)

  afterAll(async () => {
    await browser?.close()
    await server?.kill()
  }, 20_000)

  async function signIn(name: string, width: number, height: number): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width, height } })).newPage()
    await page.goto(server.httpUrl)
    await page.fill('#username', name)
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#status[data-state="open"]')
    await page.locator('.log[data-room="general"] .notice', { hasText: 'You joined #general' }).waitFor()
    return page
  }

  async function visibleBoxes(page: Page, selectors: readonly string[]): Promise<Array<[string, Box]>> {
    const out: Array<[string, Box]> = []
    for (const selector of selectors) {
      const locator = page.locator(selector)
      if (!(await locator.isVisible())) continue
      const box = await locator.boundingBox()
      if (box !== null && box.width > 0) out.push([selector, box])
    }
    return out
  }

  it.each([
    [360, 740],
    [1280, 760],
  ])('at %i × %i: nothing in the header overlaps, Send is on screen, and own messages stand out', async (width, height) => {
    const other = await signIn(`peer${width}`, 1280, 760)
    const page = await signIn(`me${width}`, width, height)
    await page.fill('#message-input', `hello from ${width} px`)
    await page.press('#message-input', 'Enter')
    await other.fill('#message-input', `reply to ${width} px`)
    await other.press('#message-input', 'Enter')
    await page.locator('.log[data-room="general"] .msg .text', { hasText: `reply to ${width} px` }).waitFor()

    // The header's parts, as far as they are shown, sit side by side inside the viewport.
    const header = await visibleBoxes(page, ['#toggle-rooms', '.topbar .brand', '.room-heading', '#status', '#toggle-people', '.me'])
    expect(header.length).toBeGreaterThanOrEqual(3)
    for (const [name, box] of header) {
      expect(box.x, name).toBeGreaterThanOrEqual(0)
      expect(box.x + box.width, name).toBeLessThanOrEqual(width + 0.5)
    }
    for (let i = 0; i < header.length; i++) {
      for (let j = i + 1; j < header.length; j++) {
        const [a, boxA] = header[i] as [string, Box]
        const [b, boxB] = header[j] as [string, Box]
        expect(overlap(boxA, boxB), `${a} overlaps ${b}`).toBe(false)
      }
    }
    // Send is on screen, beside the input, not under it.
    const send = await page.locator('#composer button[type=submit]').boundingBox()
    const input = await page.locator('#message-input').boundingBox()
    expect(send).not.toBeNull()
    expect(input).not.toBeNull()
    if (send !== null && input !== null) {
      expect(send.x + send.width).toBeLessThanOrEqual(width + 0.5)
      expect(send.y + send.height).toBeLessThanOrEqual(height + 0.5)
      expect(send.width).toBeGreaterThan(30)
      expect(overlap(send, input)).toBe(false)
    }
    // One's own message is set apart from a peer's.
    const backgrounds = await page.$$eval('.log[data-room="general"] .msg', (nodes) =>
      nodes.map((node) => ({ mine: node.classList.contains('mine'), background: getComputedStyle(node).backgroundColor })),
    )
    const mine = backgrounds.find((entry) => entry.mine)
    const theirs = backgrounds.find((entry) => !entry.mine)
    expect(mine).toBeDefined()
    expect(theirs).toBeDefined()
    expect(mine?.background).not.toBe(theirs?.background)
    await screenshot(page, `chat-${width}px`)

    if (width < 640) {
      // The people list is a drawer: off screen until opened, then it shows the peer.
      const peer = page.locator(`#people li[data-user="peer${width}"]`)
      const closed = await peer.boundingBox()
      expect(closed === null || closed.x >= width - 1).toBe(true)
      await page.click('#toggle-people')
      await page.waitForTimeout(300)
      const opened = await peer.boundingBox()
      expect(opened).not.toBeNull()
      if (opened !== null) {
        expect(opened.x).toBeGreaterThanOrEqual(0)
        expect(opened.x + opened.width).toBeLessThanOrEqual(width + 0.5)
      }
      await screenshot(page, `chat-${width}px-people`)
      await page.click('#toggle-people')
      // Sign out lives in the rooms drawer on a phone.
      await page.click('#toggle-rooms')
      await page.locator('#sign-out-drawer').waitFor({ state: 'visible' })
      await page.waitForTimeout(300)
      await screenshot(page, `chat-${width}px-rooms`)
      await page.click('#sign-out-drawer')
      await page.locator('#login').waitFor({ state: 'visible' })
    }
    await page.context().close()
    await other.context().close()
  }, 45_000)
})
