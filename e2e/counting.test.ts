/**
 * The connection-counting lab (chapter 2) in Debian's Chromium against the real lab server, on
 * its plain port and on its TLS port (the context ignores the self-signed certificate, as a
 * learner who clicked through the warning would): the numbers in the table are the ones the
 * server counted.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadCertificate } from '../lab-server/certificate.ts';
import { type LabServer, startLabServer } from '../lab-server/server.ts';
import {
  axeViolations,
  launchChromium,
  type OpenOptions,
  type Session,
  Sessions,
} from './browser.ts';
import { type StaticServer, serveSiteOnly } from './serve.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));
const PATH = '/connection-path/';
const IDLE_MS = 1000;

/** Until the lab server has closed the page's idle connections. */
const idle = () => new Promise((resolve) => setTimeout(resolve, IDLE_MS * 2));

let certDir: string;
let lab: LabServer;
let browser: Browser;
const sessions = new Sessions();

beforeAll(async () => {
  // A certificate of the test's own, never the one in the user's config folder.
  certDir = mkdtempSync(join(tmpdir(), 'wslab-e2e-cert-'));
  const certificate = await loadCertificate(certDir);
  lab = await startLabServer({
    host: '127.0.0.1',
    port: 0,
    root,
    tls: { port: 0, key: certificate.key, cert: certificate.cert },
    // The server ends idle keep-alive connections after this long (10 s by default): the
    // connections Chromium opened to load the page are gone before a run, as they are for a
    // learner who reads the page before pressing the button.
    limits: { handshakeTimeoutMs: IDLE_MS },
  });
  browser = await launchChromium();
  mkdirSync(screenshots, { recursive: true });
});

afterEach(() => sessions.check());

afterAll(async () => {
  await browser?.close();
  await lab?.close();
  rmSync(certDir, { recursive: true, force: true });
});

const httpUrl = () => `http://127.0.0.1:${lab.port}${PATH}`;
const httpsUrl = () => `https://127.0.0.1:${lab.tlsPort}${PATH}`;

function open(url: string, options: OpenOptions = {}): Promise<Session> {
  return sessions.open(browser, url, { viewport: { width: 1100, height: 900 }, ...options });
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.locator('.cnt').screenshot({
    path: `${screenshots}/${name}.png`,
    style: 'header.header { visibility: hidden !important; }',
  });
}

/** Types N with the keyboard and presses Enter, then waits for the three runs. */
async function runWithKeyboard(page: Page, n: number): Promise<void> {
  const field = page.getByLabel('N, the number of requests or messages');
  await field.focus();
  await field.press('ControlOrMeta+a');
  await page.keyboard.type(String(n));
  // The button is the next stop of Tab.
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Run all three');
  await page.keyboard.press('Enter');
  await expect
    .poll(() => page.locator('.cnt-status').textContent(), { timeout: 30_000 })
    .toBe(`Done: ${n} of each, as the lab server counted them.`);
}

/** The table's cell for a quantity and a strategy. */
function cell(page: Page, row: string, strategy: 'fresh' | 'kept' | 'websocket') {
  return page
    .locator(`tr[data-row="${row}"] td[data-strategy="${strategy}"] .cnt-value`)
    .textContent();
}

describe('the counting lab', () => {
  it('over http://: N fresh fetches use N connections, kept-alive ones one, a WebSocket one connection and one request', async () => {
    const { page } = await open(httpUrl());
    await page
      .locator('.cnt-where')
      .getByRole('link', { name: 'Open this page over https://' })
      .waitFor();
    const n = 5;
    await idle();
    await runWithKeyboard(page, n);
    expect(await cell(page, 'tcp', 'fresh')).toBe(String(n));
    expect(await cell(page, 'new-tcp', 'fresh')).toBe(String(n));
    expect(await cell(page, 'http', 'fresh')).toBe(String(n));
    expect(await cell(page, 'tcp', 'kept')).toBe('1');
    expect(await cell(page, 'new-tcp', 'kept')).toBe('1');
    expect(await cell(page, 'http', 'kept')).toBe(String(n));
    expect(await cell(page, 'tcp', 'websocket')).toBe('1');
    expect(await cell(page, 'new-tcp', 'websocket')).toBe('1');
    expect(await cell(page, 'http', 'websocket')).toBe('1');
    expect(await cell(page, 'messages', 'websocket')).toBe(String(n));
    expect(await cell(page, 'tls', 'fresh')).toBe('none (http)');
    await expect.poll(() => page.locator('.cnt-summary li').count()).toBe(3);
    await screenshot(page, 'counting-light');
  });

  it('over https://: every new connection made a TLS handshake, as the server counted', async () => {
    const { page } = await open(httpsUrl(), { ignoreHTTPSErrors: true });
    await expect
      .poll(() => page.locator('.cnt-where').textContent())
      .toMatch(/This page came over https:\/\//);
    const n = 5;
    await idle();
    await runWithKeyboard(page, n);
    expect(await cell(page, 'new-tcp', 'fresh')).toBe(String(n));
    // A resumed handshake (RFC 8446 §2.2) is still a handshake: "5" or "5 (4 resumed)".
    expect(await cell(page, 'tls', 'fresh')).toMatch(new RegExp(`^${n}( \\(\\d resumed\\))?$`));
    expect(await cell(page, 'tcp', 'kept')).toBe('1');
    expect(await cell(page, 'tls', 'kept')).toMatch(/^1( \(1 resumed\))?$/);
    expect(await cell(page, 'tls', 'websocket')).toMatch(/^1( \(1 resumed\))?$/);
    expect(await cell(page, 'messages', 'websocket')).toBe(String(n));
    await screenshot(page, 'counting-https');
  });

  it('reads well in dark mode, with no serious accessibility problems', async () => {
    const { page } = await open(httpUrl(), { colorScheme: 'dark' });
    await runWithKeyboard(page, 3);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'counting-dark');
  });

  it('fits a phone: each quantity with its three values under it', async () => {
    const { page } = await open(httpUrl(), { viewport: { width: 390, height: 844 } });
    await runWithKeyboard(page, 4);
    const width = await page.locator('.cnt').evaluate((el) => el.scrollWidth <= el.clientWidth);
    expect(width).toBe(true);
    await screenshot(page, 'counting-phone');
    // What the phone shows at once, at its own size.
    await page.locator('.cnt-table').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${screenshots}/counting-phone-view.png` });
  });

  it('refuses N outside 1 to 50, saying why, and sends nothing', async () => {
    const { page, requests } = await open(httpUrl());
    const field = page.getByLabel('N, the number of requests or messages');
    await field.fill('51');
    const before = requests.length;
    await page.getByRole('button', { name: 'Run all three' }).click();
    await expect
      .poll(() => page.locator('.cnt-error').textContent())
      .toMatch(/51 is outside 1 to 50/);
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    expect(requests.slice(before).filter((u) => u.includes('/count/'))).toEqual([]);
  });
});

describe('the counting lab without the lab server', () => {
  let site: StaticServer;
  beforeAll(async () => {
    site = await serveSiteOnly();
  });
  afterAll(async () => {
    await site.close();
  });

  it('says the lab server is not running and how to start it', async () => {
    const session = await open(`${site.url}${PATH}`, {
      expectErrors: [/status of 404/],
    });
    const { page } = session;
    const alert = page.locator('.cnt .lab-server-missing');
    await alert.waitFor();
    // The static server answers /lab.json with 404: that answer is how the page knows.
    const expected = `404 ${site.url}/lab.json`;
    expect(session.errors).toContain(expected);
    session.errors.splice(
      0,
      session.errors.length,
      ...session.errors.filter((e) => e !== expected),
    );
    expect(await alert.textContent()).toMatch(
      /The lab server is not running\. Start it with pnpm install && pnpm lab/,
    );
    await screenshot(page, 'counting-missing');
  });
});
