import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { Test } from 'tap'

/** Debian's Chromium; .ci/run installs it (`chromium` and `chromium-driver`) when missing. */
export const chromiumPath = '/usr/bin/chromium'

/*
 * Without the background-networking flags Chromium reaches for Google's
 * hosts (updates, sync, field trials) at start, which this machine
 * refuses; the page itself must reach nothing but the admin listener.
 */
const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

export interface Browser {
  context: BrowserContext
  /** Requests the page tried to make anywhere but the allowed origin (refused). */
  elsewhere: string[]
  /** Uncaught page errors and Content-Security-Policy violations. */
  problems: string[]
  newPage: () => Promise<Page>
}

/** Fails, never skips, when Chromium is not there: the test would prove nothing. */
export function requireChromium (): void {
  if (existsSync(chromiumPath)) return

  throw new Error(`Chromium is missing at ${chromiumPath}: the browser test of the web UI needs it. ` +
    'Install it with `sudo apt-get install chromium chromium-driver` (.ci/run does this on CI).')
}

/**
 * Chromium with a fresh profile of its own, closed and removed when the
 * test ends. Every request to another origin than `origin` is refused and
 * recorded, so a page that reached for a CDN or a web font fails the test.
 */
export async function launchBrowser (t: Test, origin: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'sr-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1440, height: 900 },
    timeout: 30_000
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })

  const elsewhere: string[] = []
  const problems: string[] = []
  await context.route('**/*', async (route) => {
    const url = route.request().url()
    if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return await route.continue()

    elsewhere.push(url)
    return await route.abort('blockedbyclient')
  })
  context.setDefaultTimeout(15_000)

  const newPage = async (): Promise<Page> => {
    const page = await context.newPage()
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`)
    })
    return page
  }

  return { context, elsewhere, problems, newPage }
}
