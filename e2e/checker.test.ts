/**
 * The checker page of chapter 12 against the real lab server (e2e/serve.ts) and real broken and
 * correct servers on 127.0.0.1, in Debian's Chromium: the learner types a URL, the lab server's
 * /check endpoint runs the checks, and the page shows each stage and the annotated failure.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type FixtureServer,
  startMinimalServer,
} from '../lab-server/check/fixtures/minimal-server.ts';
import { launchChromium, type OpenOptions, type Session, Sessions } from './browser.ts';
import { type StaticServer, serveDist } from './serve.ts';

const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));

let server: StaticServer;
let browser: Browser;
const sessions = new Sessions();

function open(options: OpenOptions = {}): Promise<Session> {
  return sessions.open(browser, `${server.url}/build-your-own/`, {
    viewport: { width: 1280, height: 1000 },
    ...options,
  });
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.locator('.ck').screenshot({
    path: `${screenshots}/${name}.png`,
    style: 'header.header { visibility: hidden !important; }',
  });
}

async function runChecks(page: Page, url: string, stage?: number): Promise<void> {
  const field = page.getByLabel('Your server’s WebSocket URL');
  await field.fill(url);
  if (stage !== undefined) await page.getByLabel('Start at stage').selectOption(String(stage));
  await page.getByRole('button', { name: 'Run the checks' }).click();
}

const stageStatuses = (page: Page) =>
  page
    .locator('.ck-stage')
    .evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.status));

beforeAll(async () => {
  server = await serveDist();
  browser = await launchChromium();
  mkdirSync(screenshots, { recursive: true });
});

afterEach(() => sessions.check());

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the checker page (chapter 12)', () => {
  let masked: FixtureServer;
  let good: FixtureServer;
  beforeAll(async () => {
    masked = await startMinimalServer({ maskFrames: true });
    good = await startMinimalServer();
  });
  afterAll(async () => {
    await masked.close();
    await good.close();
  });

  it('shows a server that masks its frames failing stage 2, with the caret under the MASK bit', async () => {
    const { page } = await open();
    await runChecks(page, masked.url);
    await page.locator('.ck-failure').waitFor({ timeout: 20_000 });
    expect(await stageStatuses(page)).toEqual(['pass', 'fail', ...Array(8).fill('not-run')]);
    await expect
      .poll(() => page.locator('.ck-status').textContent())
      .toBe('Failed at stage 2: echoes "Hello, checker!" as text.');
    const failure = page.locator('.ck-failure');
    expect(await failure.getByRole('heading').textContent()).toBe(
      'Stage 2 failed: echoes "Hello, checker!" as text',
    );
    expect(await failure.locator('dd').first().textContent()).toBe(
      'server-frame-masked · RFC 6455 §5.1',
    );
    expect(await failure.locator('dd').nth(2).textContent()).toContain(
      'Send server frames unmasked',
    );
    const wire = (await page.locator('.ck-wire').textContent()) ?? '';
    expect(wire).toContain('S→C text frame FIN=1 MASK=1 len=15');
    expect(wire).toMatch(/0000 {2}81 8f\n {8,}\^\^ byte 1 of this frame/);
    // The wire dump scrolls by keyboard.
    await page.locator('.ck-wire').focus();
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('ck-wire');
    await screenshot(page, 'checker-light');
    await page.screenshot({ path: `${screenshots}/checker-chapter.png`, fullPage: true });
  });

  it('passes a correct server from a chosen stage, in dark mode', async () => {
    const { page } = await open({ colorScheme: 'dark' });
    await runChecks(page, good.url, 6);
    await expect
      .poll(() => page.locator('.ck-status').textContent(), { timeout: 20_000 })
      .toBe('All 5 stages that ran passed.');
    expect(await stageStatuses(page)).toEqual([
      ...Array(5).fill('skipped'),
      ...Array(5).fill('pass'),
    ]);
    expect(await page.locator('.ck-failure').isHidden()).toBe(true);
    await screenshot(page, 'checker-pass-dark');
  });

  it('shows a failure in dark mode, readable', async () => {
    const { page } = await open({ colorScheme: 'dark' });
    await runChecks(page, masked.url);
    await page.locator('.ck-failure').waitFor({ timeout: 20_000 });
    await screenshot(page, 'checker-dark');
  });

  it('explains a URL it will not check, in the page and from the lab server', async () => {
    const { page } = await open();
    await runChecks(page, 'ws://example.com/');
    const error = page.locator('.ck-error');
    await expect.poll(() => error.textContent()).toContain('pnpm lab check ws://example.com/');
    expect(await page.getByLabel('Your server’s WebSocket URL').getAttribute('aria-invalid')).toBe(
      'true',
    );
    await runChecks(page, 'http://127.0.0.1:8080/');
    await expect.poll(() => error.textContent()).toContain('Use ws://127.0.0.1:8080/');
  });

  it('works on a phone-sized screen, with the keyboard alone', async () => {
    const { page } = await open({ viewport: { width: 390, height: 844 }, isMobile: true });
    await page.getByLabel('Your server’s WebSocket URL').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(masked.url);
    await page.keyboard.press('Enter');
    await page.locator('.ck-failure').waitFor({ timeout: 20_000 });
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'checker-phone');
  });
});
