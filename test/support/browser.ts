// Test support: a real Chromium for a test file (Debian's chromium-headless-shell, driven by playwright-core;
// nothing downloaded), launched once per file and closed when the file ends, even on failure. Without the
// browser the file's tests skip with a message naming the package; on CI, which installs it, that fails.
import { accessSync, constants } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import type { Test } from 'tap';
import { onCi } from './tools.js';

const CHROME = process.env.ROUTEMESH_CHROME ?? '/usr/bin/chromium-headless-shell';

export interface TestBrowser {
  /** tap's options for a test that needs the browser: `{ skip: why }` when there is none. */
  readonly options: { skip?: string };
  /** A fresh page, closed when `t` ends; if `t` failed, its screenshot is saved first and its path commented. */
  page(t: Test): Promise<Page>;
}

export async function testBrowser(t: Test): Promise<TestBrowser> {
  const skip = missingBrowser();
  if (skip) return { options: { skip }, page: () => Promise.reject(new Error(skip)) };
  const browser = await chromium.launch({ executablePath: CHROME });
  t.teardown(() => browser.close());
  return { options: {}, page: (test) => freshPage(browser, test) };
}

function missingBrowser(): string | undefined {
  try {
    accessSync(CHROME, constants.X_OK);
    return undefined;
  } catch {
    const why = `no browser at ${CHROME}: apt-get install chromium-headless-shell (or set ROUTEMESH_CHROME to a Chromium)`;
    if (onCi()) throw new Error(`${why}: CI installs it, so a missing one is a failure`);
    return why;
  }
}

async function freshPage(browser: Browser, t: Test): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  t.teardown(async () => {
    if (!t.passing()) {
      const saved = await screenshot(page, 'failed').catch((error: Error) => `none (${error.message})`);
      t.comment(`screenshot of the failed test's page: ${saved}`);
    }
    await page.close();
  });
  return page;
}

/** Saves the page as PNG in a new temp directory (kept, for a person to look at) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'routemesh-browser-')), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * A passing test's picture of the page, for a person to look at, when ROUTEMESH_SCREENSHOTS=1 asks for it
 * (a failed test's is always kept): every run would otherwise leave its PNGs behind. Says where, or how.
 */
export async function screenshotIfAsked(page: Page, name: string): Promise<string> {
  if (!process.env.ROUTEMESH_SCREENSHOTS) return 'not taken (ROUTEMESH_SCREENSHOTS=1 keeps them)';
  return screenshot(page, name);
}
