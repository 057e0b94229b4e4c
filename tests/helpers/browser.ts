/**
 * Headless Chromium for page tests (web chat demo, agent console), through playwright-core with the
 * system's Chromium (`CHROMIUM_PATH`, default /usr/bin/chromium, read in src/config.ts).
 *
 * Where no Chromium is installed the calling suite is skipped with a visible notice, unless
 * `REQUIRE_BROWSER=1` (CI), which turns a missing browser into a failure.
 *
 * @example
 *   let browser: Browser | undefined;
 *   before(async function () { browser = await launchBrowser(this); });
 *   after(async () => browser?.close());
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { testSettings } from '../../src/config.js';

/** Flags that keep Chromium quiet, offline except for the test server, and usable as root in containers. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A missing browser where one is required (REQUIRE_BROWSER=1). */
export class BrowserMissingError extends Error {
  override name = 'BrowserMissingError';
}

/**
 * Launches Chromium for the suite running `ctx` (call it from a `before` hook with `this`). Playwright
 * gives every launch a fresh temporary `--user-data-dir` and removes it on `browser.close()`.
 * Skips the suite (with a console notice) when Chromium is missing, or throws under REQUIRE_BROWSER=1.
 */
export async function launchBrowser(ctx: Mocha.Context): Promise<Browser> {
  const { chromiumPath, requireBrowser } = testSettings();
  if (!existsSync(chromiumPath)) {
    const why = `Chromium not found at ${chromiumPath} (set CHROMIUM_PATH or install Debian's chromium)`;
    if (requireBrowser) throw new BrowserMissingError(`launchBrowser: ${why}; REQUIRE_BROWSER=1 makes this a failure`);
    console.warn(`\n  ⚠ SKIPPING browser tests: ${why}. Set REQUIRE_BROWSER=1 to make this a failure.\n`);
    ctx.skip();
  }
  ctx.timeout(Math.max(ctx.timeout(), 60_000));
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}
