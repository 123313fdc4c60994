/**
 * permessage-deflate with a real browser: Chromium offers the extension itself, accepts the server's terms (no
 * server context takeover), and inflates the frame the server compressed once for everyone.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { attach, type Parley } from '@parley/server-sdk'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserTestsEnabled, launchChromium } from './helpers/browser.js'

describe.runIf(browserTestsEnabled())('compression in Chromium', () => {
  let server: Server
  let parley: Parley
  let browser: Browser
  let port = 0

  beforeAll(async () => {
    server = createServer((_request, response) => response.end('<!doctype html><title>compression</title>'))
    parley = attach(server, { compression: { threshold: 512 } })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    await parley.ready
    port = (server.address() as AddressInfo).port
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await parley?.close()
    server?.closeAllConnections()
    await new Promise<void>((resolve) => server?.close(() => resolve()))
  })

  it('negotiates the extension and reads compressed room messages, sent and received', async () => {
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${port}/`)
    const text = 'the quick brown fox jumps over the lazy dog '.repeat(100)
    const result = await page.evaluate(async (text: string) => {
      const ws = new WebSocket(`ws://${location.host}/parley`, ['parley.v1.json'])
      const frames: Array<{ type: string; data?: unknown }> = []
      const waitFor = (type: string): Promise<{ type: string; data?: unknown }> =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${type}: ${JSON.stringify(frames)}`)), 5_000)
          const check = (): void => {
            const found = frames.find((frame) => frame.type === type)
            if (found === undefined) return void setTimeout(check, 10)
            clearTimeout(timer)
            resolve(found)
          }
          check()
        })
      ws.onmessage = (event) => frames.push(JSON.parse(String(event.data)) as { type: string })
      await waitFor('welcome')
      ws.send(JSON.stringify({ type: 'join', room: 'r' }))
      await waitFor('joined')
      // Chromium compresses what it sends too; the server inflates it and broadcasts its own compressed frame.
      ws.send(JSON.stringify({ type: 'publish', room: 'r', id: 'p1', data: { text } }))
      const message = await waitFor('message')
      await waitFor('ack')
      return { extensions: ws.extensions, data: message.data }
    }, text)
    expect(result.extensions).toMatch(/^permessage-deflate/)
    expect(result.extensions).toContain('server_no_context_takeover')
    expect(result.data).toEqual({ text })
    const compression = parley.stats().compression
    expect(compression.frames).toBe(1)
    expect(compression.bytesAfter).toBeLessThan(compression.bytesBefore / 10)
    await page.close()
  })
})
