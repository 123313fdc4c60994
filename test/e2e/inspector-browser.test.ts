/**
 * The inspector in Chromium, on a cluster of two nodes sharing Redis: it lists both rooms with their members and the
 * sessions of both nodes, and a kick from the page disconnects a user connected to the other node.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient, type Client } from '@parley/client-sdk'
import { attachInspector, type Inspector } from '@parley/inspector'
import { createRedisAdapter } from '@parley/redis-adapter'
import { attach, type Parley } from '@parley/server-sdk'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisAvailable } from '../../packages/redis-adapter/test/redis-available.js'
import { browserTestsEnabled, launchChromium, screenshot } from './helpers/browser.js'

const KEY = 'e2e-inspector-key-0123456789'
const haveRedis = await redisAvailable()

interface Node {
  readonly server: Server
  readonly parley: Parley
  readonly inspector: Inspector
  readonly port: number
}

async function startNode(keyPrefix: string): Promise<Node> {
  const server = createServer((_request, response) => response.end('chat app'))
  const parley = attach(server, {
    authenticate: ({ token }) => (token === undefined ? null : { id: token }),
    adapter: createRedisAdapter({ url: 'redis://127.0.0.1:6379', keyPrefix, nodeTimeoutMs: 1_500 }),
  })
  const inspector = attachInspector(server, parley, { key: KEY, intervalMs: 300 })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await parley.ready
  return { server, parley, inspector, port: (server.address() as AddressInfo).port }
}

describe.runIf(browserTestsEnabled() && haveRedis)('the inspector page, on two nodes sharing Redis', () => {
  const nodes: Node[] = []
  const clients: Client[] = []
  const got: unknown[] = []
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    const keyPrefix = `inspector-e2e-${Date.now()}`
    nodes.push(await startNode(keyPrefix), await startNode(keyPrefix))
    const [a, b] = nodes as [Node, Node]
    const join = (node: Node, user: string, rooms: string[]): void => {
      const client = createClient(`ws://127.0.0.1:${node.port}/parley`, { token: user })
      for (const room of rooms) {
        const handle = client.join(room)
        if (user === 'margaret') handle.on('message', (message) => got.push(message.data))
      }
      clients.push(client)
    }
    join(a, 'ada', ['general', 'support'])
    join(a, 'grace', ['general'])
    join(b, 'linus', ['general'])
    join(b, 'margaret', ['support'])
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  }, 30_000)

  afterAll(async () => {
    await browser?.close()
    for (const client of clients) await client.close()
    for (const node of nodes) {
      await node.inspector.close()
      await node.parley.close()
      node.server.closeAllConnections()
      await new Promise<void>((resolve) => node.server.close(() => resolve()))
    }
  })

  it('asks for the key, then lists both rooms with their members and the sessions of both nodes', async () => {
    const [a] = nodes as [Node]
    await page.goto(`http://127.0.0.1:${a.port}/parley-inspector`)
    await page.locator('#key').fill('not-the-key-at-all-000')
    await page.locator('#login-form button').click()
    await page.locator('#login-error').waitFor({ state: 'visible' })
    expect(await page.locator('#login-error').textContent()).toContain('refused')
    await page.locator('#key').fill(KEY)
    await page.locator('#login-form button').click()
    await page.locator('#status[data-state="open"]').waitFor()
    // Both rooms, cluster-wide member counts; the other node's sessions arrive with its next heartbeat.
    await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 4, undefined, { timeout: 10_000 })
    const rooms = await page.locator('#rooms tbody tr').evaluateAll((rows) => rows.map((row) => Array.from(row.querySelectorAll('td')).slice(0, 2).map((cell) => cell.textContent)))
    expect(rooms).toEqual([['general', '3'], ['support', '2']])
    expect(await page.locator('#t-connections').textContent()).toBe('4')
    expect(await page.locator('#nodes').textContent()).toBe('2 nodes')
    const users = await page.locator('#sessions tbody tr').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset['user']).sort())
    expect(users).toEqual(['ada', 'grace', 'linus', 'margaret'])
    await page.locator('#rooms tbody tr[data-room="general"]').click()
    await page.waitForFunction(() => document.querySelectorAll('#detail-members li').length === 3)
    await screenshot(page, 'inspector-1280')
    await page.setViewportSize({ width: 390, height: 900 })
    await screenshot(page, 'inspector-390')
    await page.setViewportSize({ width: 1280, height: 900 })
  })

  it('a kick from the page disconnects a user on the other node, and a system message reaches the room', async () => {
    const linus = clients[2] as Client
    await page.locator('#sessions tbody tr[data-user="linus"] button').click()
    await page.locator('#toast').waitFor({ state: 'visible' })
    expect(await page.locator('#toast').textContent()).toBe('Disconnected linus (1 session)')
    await expect.poll(() => linus.state, { timeout: 5_000 }).toBe('closed')
    await page.waitForFunction(() => !document.querySelector('#sessions tbody tr[data-user="linus"]'), undefined, { timeout: 10_000 })

    await page.locator('#rooms tbody tr[data-room="support"]').click()
    await page.locator('#publish-text').fill('Support closes at 18:00')
    await page.locator('#publish-form button').click()
    await expect.poll(() => got, { timeout: 5_000 }).toEqual([{ text: 'Support closes at 18:00', system: true }])
    await page.waitForFunction(() => document.querySelector('#detail-messages')?.textContent?.includes('Support closes at 18:00') === true, undefined, { timeout: 5_000 })
    await screenshot(page, 'inspector-after-kick')
  })
})
