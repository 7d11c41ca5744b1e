/**
 * The proxy lab of chapter 9 against the real lab server, its TLS listener and its three loopback
 * proxies, in Debian's Chromium: run the same trace through every proxy mode for ws:// and
 * wss://, and see ws:// fail through the naive forwarder, with the reason, while the rest pass.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type OpenOptions, type Session, Sessions } from './browser.ts';
import { type FullLab, startFullLab } from './serve-full.ts';

const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));

let lab: FullLab;
let browser: Browser;
const sessions = new Sessions();

function open(options: OpenOptions = {}): Promise<Session> {
  return sessions.open(browser, `${lab.url}/proxies/`, {
    viewport: { width: 1280, height: 1000 },
    ...options,
  });
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.locator('.px').screenshot({
    path: `${screenshots}/${name}.png`,
    style: 'header.header { visibility: hidden !important; }',
  });
}

const verdicts = (page: Page) =>
  page
    .locator('.px-cell')
    .evaluateAll((cells) =>
      Object.fromEntries(
        cells.map((cell) => [
          (cell as HTMLElement).dataset.cell,
          (cell as HTMLElement).dataset.verdict,
        ]),
      ),
    );

async function runAll(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Run all eight' }).click();
  await expect
    .poll(
      async () =>
        Object.values(await verdicts(page)).filter((v) => v === 'pass' || v === 'fail').length,
      {
        timeout: 40_000,
      },
    )
    .toBe(8);
}

beforeAll(async () => {
  lab = await startFullLab();
  browser = await launchChromium();
  mkdirSync(screenshots, { recursive: true });
});

afterEach(() => sessions.check());

afterAll(async () => {
  await browser?.close();
  await lab?.close();
});

describe('the proxy lab (chapter 9)', () => {
  it('passes every path but ws:// through the naive forwarder, and says why that one fails', async () => {
    const { page } = await open();
    await runAll(page);
    expect(await verdicts(page)).toEqual({
      'direct/ws': 'pass',
      'direct/wss': 'pass',
      'connect/ws': 'pass',
      'connect/wss': 'pass',
      'aware/ws': 'pass',
      'aware/wss': 'pass',
      'naive/ws': 'fail',
      'naive/wss': 'pass',
    });
    expect(await page.locator('.tt-status').textContent()).toBe('7 passed, 1 failed.');
    // "Run all" opens the failing cell: what the proxy did, what the server answered.
    const detail = page.locator('.px-detail');
    expect(await detail.getByRole('heading').first().textContent()).toBe('Naive forwarder, ws://');
    const reason = (await detail.locator('.px-reason').textContent()) ?? '';
    expect(reason).toContain('absolute form');
    expect(reason).toMatch(/removed Connection and Upgrade/);
    expect(reason).toMatch(/400 Bad Request/);
    expect(await page.locator('[data-cell="naive/ws"]').textContent()).toMatch(
      /fails at response received \(400\)/,
    );
    // The failed phase is marked in the timeline.
    expect(await detail.locator('.tt-phase[data-failed="true"]').getAttribute('data-phase')).toBe(
      'response',
    );
    await page.waitForTimeout(500);
    await screenshot(page, 'proxy-light');
  });

  it('shows wss:// through the naive forwarder going through a CONNECT tunnel, in dark mode', async () => {
    const { page } = await open({ colorScheme: 'dark' });
    await page.locator('[data-cell="naive/wss"]').click();
    await expect
      .poll(() => page.locator('[data-cell="naive/wss"]').getAttribute('data-verdict'), {
        timeout: 20_000,
      })
      .toBe('pass');
    const detail = page.locator('.px-detail');
    expect(await detail.locator('.px-reason').textContent()).toMatch(
      /CONNECT 127\.0\.0\.1:\d+ answered 200/,
    );
    expect(
      await detail
        .locator('.tt-phase')
        .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.phase)),
    ).toEqual(expect.arrayContaining(['proxy', 'tls', 'response', 'message-echoed']));
    expect(await page.locator('[data-cell="naive/wss"]').getAttribute('aria-pressed')).toBe('true');
    await page.waitForTimeout(500);
    await screenshot(page, 'proxy-dark');
  });

  it('works on a phone with the keyboard alone', async () => {
    const { page } = await open({ viewport: { width: 390, height: 844 }, isMobile: true });
    await page.locator('[data-cell="aware/ws"]').focus();
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('[data-cell="aware/ws"]').getAttribute('data-verdict'), {
        timeout: 20_000,
      })
      .toBe('pass');
    expect(await page.locator('.px-detail .px-reason').textContent()).toMatch(
      /101 Switching Protocols/,
    );
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'proxy-phone');
  });
});
