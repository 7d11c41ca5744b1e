/**
 * The "Closing" chapter and its close timeline against the real lab server (e2e/serve.ts), in
 * Debian's Chromium: the browser closing first gets the server's FIN first; the server closing
 * first with fin=client makes the browser send the first FIN after its wait; a code the page may
 * not send is refused before anything is opened; and what the lab says without a lab server.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type OpenOptions, type Session, Sessions } from './browser.ts';
import { type StaticServer, serveDist, serveSiteOnly } from './serve.ts';

const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));

let server: StaticServer;
let browser: Browser;
const sessions = new Sessions();

function open(url: string, options: OpenOptions = {}): Promise<Session> {
  return sessions.open(browser, url, { viewport: { width: 1280, height: 1000 }, ...options });
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.locator('.ct').screenshot({
    path: `${screenshots}/${name}.png`,
    style: 'header.header, mobile-starlight-toc { visibility: hidden !important; }',
  });
}

/** Each timeline row as "lane kind [first]". */
async function rows(page: Page): Promise<string[]> {
  return page
    .locator('.ct-row')
    .evaluateAll((trs) =>
      trs.map(
        (tr) =>
          `${(tr as HTMLElement).dataset.lane} ${[...tr.classList].find((c) => c.startsWith('ct-') && c !== 'ct-row' && c !== 'ct-is-first')?.slice(3)}${tr.classList.contains('ct-is-first') ? ' first' : ''}`,
      ),
    );
}

async function waitForSummary(page: Page, timeout = 15_000): Promise<string> {
  const summary = page.locator('.ct-summary');
  await summary.waitFor({ timeout });
  return (await summary.textContent()) ?? '';
}

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

describe('close timeline with the lab server', () => {
  it('browser closes first: the server answers and sends the first FIN (RFC 6455 §7.1.1)', async () => {
    const { page } = await open(`${server.url}/closing/`);
    await page.getByRole('button', { name: 'Open, echo, close' }).click();
    expect(await waitForSummary(page)).toBe(
      'Lab server: client closed first (close frame), server sent the first FIN',
    );
    expect(await rows(page)).toEqual([
      'server open',
      'client message',
      'server message',
      'client close-frame first',
      'server close-frame',
      'server fin first',
      'client fin',
      'server closed',
    ]);
    expect(await page.locator('.ct-row.ct-close-frame').first().textContent()).toContain(
      'close frame 1000 "done": starts the closing handshake',
    );
    expect(await page.locator('.ct-browser').textContent()).toMatch(
      /close event with code 1000 and reason "done", wasClean true, \d+ ms after this page called close\(\)/,
    );
    expect(await page.getByRole('status').textContent()).toBe(
      'Done: the lab server saw the socket close.',
    );
    await screenshot(page, 'closing-client-first');
    await page.locator('figure.diagram').screenshot({ path: `${screenshots}/closing-diagram.png` });
  });

  it('server closes first and waits for the client: the browser sends the first FIN about 2 s later, all by keyboard', async () => {
    const { page } = await open(`${server.url}/closing/`, { colorScheme: 'dark' });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    // Radios: Tab into a group, arrow keys choose within it.
    await page.getByLabel('Your browser (the client)').focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.getByLabel('The lab server', { exact: true }).isChecked()).toBe(true);
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown');
    expect(await page.getByLabel('The client: the server waits for it').isChecked()).toBe(true);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toMatch(/-code$/);
    await page.keyboard.press('Control+A');
    await page.keyboard.type('4000');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('bye');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(
      'Open, echo, close',
    );
    const started = Date.now();
    await page.keyboard.press('Enter');
    expect(await waitForSummary(page)).toBe(
      "Lab server: server closed first (close frame), client sent the first FIN (the client's side waits in TIME_WAIT; RFC 6455 §7.1.1 asks the server to close first)",
    );
    expect(Date.now() - started).toBeGreaterThan(1500);
    expect(await rows(page)).toEqual([
      'server open',
      'client message',
      'server message',
      'server close-frame first',
      'client close-frame',
      'client fin first',
      'server fin',
      'server closed',
    ]);
    // The gap between the handshake and the browser's FIN is its wait for the server's.
    const gap = await page.locator('.ct-gaps li').nth(1).textContent();
    const ms = Number(/: ([\d.]+) ms/.exec(gap ?? '')?.[1]);
    expect(ms).toBeGreaterThan(1500);
    expect(await page.locator('.ct-browser').textContent()).toContain(
      'close event with code 4000 and reason "bye", wasClean true',
    );
    await screenshot(page, 'closing-server-first-dark');
  });

  it('refuses a code the page may not send, names the field, and opens nothing', async () => {
    const { page } = await open(`${server.url}/closing/`);
    await page.getByLabel('Status code of the first close frame').fill('1005');
    await page.getByRole('button', { name: 'Open, echo, close' }).click();
    const error = page.locator('.ct-error');
    expect(await error.textContent()).toContain('the browser refuses 1005');
    expect(await error.textContent()).toContain('RFC 6455 §7.4.1');
    const code = page.getByLabel('Status code of the first close frame');
    expect(await code.getAttribute('aria-invalid')).toBe('true');
    expect(await code.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await page.locator('.ct-row').count()).toBe(0);
  });

  it('fits a phone without sideways scrolling', async () => {
    const { page } = await open(`${server.url}/closing/`, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await page.getByRole('button', { name: 'Open, echo, close' }).press('Enter');
    await waitForSummary(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await screenshot(page, 'closing-phone');
    await page
      .locator('.close-codes')
      .screenshot({ path: `${screenshots}/closing-codes-phone.png` });
  });
});

describe('close timeline without the lab server', () => {
  let plain: StaticServer;

  beforeAll(async () => {
    plain = await serveSiteOnly();
  });

  afterAll(() => plain.close());

  it('says plainly the server is not running and how to start it', async () => {
    const { page } = await open(`${plain.url}/closing/`, {
      expectErrors: [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/observe' failed/],
    });
    await page.getByRole('button', { name: 'Open, echo, close' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.ct-missing-title').textContent()).toBe(
      'The lab server is not running. Start it with pnpm install && pnpm lab and reload.',
    );
    expect(await alert.textContent()).toContain('ws://127.0.0.1:6455/observe');
    expect(await page.getByRole('status').textContent()).toBe('The lab server is not running.');
    await screenshot(page, 'closing-no-server');
  });
});
