/**
 * Headless Chromium through playwright-core and Debian's `chromium` package (never a downloaded browser).
 * Without Chromium the browser tests skip with a printed reason, except in CI (`CI=true`), where they fail.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { ROOT } from './processes.js'

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
export const IN_CI = process.env['CI'] === 'true' || process.env['CI'] === '1'
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH)

/** Screenshots go here (gitignored). */
export const SCREENSHOT_DIR = `${ROOT}test-results/e2e`

/**
 * Whether to run the browser tests: false (after saying why) when Chromium is missing outside CI. In CI a missing
 * Chromium is an error: the suite must not pass by skipping.
 */
export function browserTestsEnabled(): boolean {
  if (HAVE_CHROMIUM) return true
  if (IN_CI) return true // the suite runs and launchChromium() fails loudly
  console.warn(`[e2e] skipping browser tests: no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`)
  return false
}

export async function launchChromium(): Promise<Browser> {
  if (!HAVE_CHROMIUM) {
    throw new Error(`CI=true but Chromium is missing at ${CHROMIUM_PATH}: .ci/run installs it with apt-get install -y chromium`)
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

/** Saves a full-page screenshot as test-results/e2e/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  const path = `${SCREENSHOT_DIR}/${name}.png`
  await page.screenshot({ path })
  return path
}
