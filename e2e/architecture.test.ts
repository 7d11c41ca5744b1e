/**
 * Chapter 8's router lab against the real lab server (e2e/serve.ts), in Debian's Chromium: real
 * requests through /raw, and the step that answered named from the real answer. Also chapter 11's
 * build-time HTTP/2 and SSE recordings, light, dark and on a phone; and what the lab says with no
 * lab server.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type OpenOptions, type Session, Sessions } from './browser.ts';
import { type StaticServer, serveDist, serveSiteOnly } from './serve.ts';

const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));
const HIDE = 'header.header, mobile-starlight-toc { visibility: hidden !important; }';

let server: StaticServer;
let browser: Browser;
const sessions = new Sessions();

function open(url: string, options: OpenOptions = {}): Promise<Session> {
  return sessions.open(browser, url, { viewport: { width: 1280, height: 1000 }, ...options });
}

/** The verdict once the lab server's connection is closed and judged. */
async function verdict(page: Page): Promise<{ step: string; status: string; text: string }> {
  await expect
    .poll(() => page.locator('.rt-status').textContent(), { timeout: 10_000 })
    .toMatch(/Connection \d+ is closed\./);
  const answered = page.locator('.rt-answered');
  return {
    step: (await answered.getAttribute('data-step')) ?? '',
    status: (await answered.getAttribute('data-status')) ?? '',
    text: (await answered.textContent()) ?? '',
  };
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

describe('router lab with the lab server', () => {
  it('an upgrade to /echo gets 101 from ws, and the annotations show the echo route', async () => {
    const { page } = await open(`${server.url}/architecture/`);
    await page.getByRole('button', { name: 'Upgrade to /echo' }).click();
    const v = await verdict(page);
    expect(v).toMatchObject({ step: 'websocket', status: '101' });
    expect(v.text).toMatch(/Sec-WebSocket-Accept [A-Za-z0-9+/]{27}=/);
    // The steps before it passed; the answering one is marked for assistive technology too.
    expect(await page.locator('.rt-step[data-state="passed"]').count()).toBe(5);
    expect(await page.locator('.rt-step[aria-current="step"]').getAttribute('data-step')).toBe(
      'websocket',
    );
    expect(await page.locator('.rt-response').textContent()).toMatch(
      /^HTTP\/1\.1 101 Switching Protocols\n/,
    );
    // The lab server's own annotations of this connection: the request (route echo), the 101,
    // the close frame the lab sent after it, and the socket closing.
    const notes = (await page.locator('.rt-notes').textContent()) ?? '';
    expect(notes).toMatch(/handshake request/);
    expect(notes).toMatch(/101 Switching Protocols/);
    expect(notes).toMatch(/close/i);
    await page
      .locator('.rt')
      .screenshot({ path: `${screenshots}/architecture-router-light.png`, style: HIDE });
  });

  it('the same path without Upgrade is answered 426 by the HTTP path, and a page by the static site', async () => {
    const { page } = await open(`${server.url}/architecture/`);
    await page.getByRole('button', { name: 'GET /echo without Upgrade' }).click();
    expect(await verdict(page)).toMatchObject({ step: 'ws-path', status: '426' });
    expect(await page.locator('.rt-response').textContent()).toMatch(/\nUpgrade: websocket\n/);
    await page.getByRole('button', { name: 'GET / (a page)' }).click();
    expect(await verdict(page)).toMatchObject({ step: 'static', status: '200' });
    expect(await page.locator('.rt-response').textContent()).toMatch(/<!DOCTYPE html>/i);
  });

  it('tells the Host check from the Origin check: two different 403s', async () => {
    const { page } = await open(`${server.url}/architecture/`);
    await page.getByRole('button', { name: 'GET / with a foreign Host' }).click();
    const host = await verdict(page);
    expect(host).toMatchObject({ step: 'host', status: '403' });
    expect(host.text).toMatch(/Host "evil\.example" is not a name this lab server answers to/);
    await page.getByRole('button', { name: 'Upgrade from another origin' }).click();
    const origin = await verdict(page);
    expect(origin).toMatchObject({ step: 'origin', status: '403' });
    expect(origin.text).toMatch(/Origin "http:\/\/evil\.example" is not allowed/);
  });

  it('sends a request composed with the keyboard alone, and refuses a broken path with the rule', async () => {
    const { page } = await open(`${server.url}/architecture/`);
    const path = page.getByRole('textbox', { name: 'Path', exact: true });
    await path.focus();
    await path.fill('/no such');
    expect(await page.locator('.rt-problem').first().textContent()).toMatch(
      /may not contain a space.*RFC 9112 §3\.2/,
    );
    expect(await page.getByRole('button', { name: 'Send on a new connection' }).isDisabled()).toBe(
      true,
    );
    await path.fill('/chat');
    // Tab through the form to the Send button, checking focus is visible on the way.
    await page.getByRole('combobox', { name: 'Host', exact: true }).focus();
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.textContent),
    ).toBe('Send on a new connection');
    expect(
      await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle),
    ).not.toBe('none');
    await page.keyboard.press('Enter');
    expect(await verdict(page)).toMatchObject({ step: 'endpoint', status: '404' });
  });
});

describe('chapters 8 and 11 in the dark theme and on a phone', () => {
  it('reads well in the dark theme', async () => {
    const { page } = await open(`${server.url}/architecture/`, { colorScheme: 'dark' });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.getByRole('button', { name: 'Version 8' }).click();
    expect(await verdict(page)).toMatchObject({ step: 'rules', status: '426' });
    await page
      .locator('.rt')
      .screenshot({ path: `${screenshots}/architecture-router-dark.png`, style: HIDE });
    await page
      .locator('figure.diagram')
      .first()
      .screenshot({ path: `${screenshots}/architecture-parts-dark.png` });
    await page
      .locator('figure.diagram')
      .nth(1)
      .screenshot({ path: `${screenshots}/architecture-proxy-dark.png` });
    const beyond = await open(`${server.url}/beyond-http1/`, { colorScheme: 'dark' });
    await beyond.page
      .locator('.h2-trace')
      .screenshot({ path: `${screenshots}/beyond-http1-trace-dark.png`, style: HIDE });
  });

  it('fits a phone without sideways scrolling', async () => {
    const phone = {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    };
    const { page } = await open(`${server.url}/architecture/`, phone);
    await page.getByRole('button', { name: 'Upgrade without Connection' }).press('Enter');
    expect(await verdict(page)).toMatchObject({ step: 'rules', status: '400' });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await page
      .locator('.rt-panel')
      .nth(1)
      .screenshot({ path: `${screenshots}/architecture-phone-compose.png`, style: HIDE });
    await page
      .locator('.rt-panel')
      .nth(3)
      .screenshot({ path: `${screenshots}/architecture-phone-verdict.png`, style: HIDE });
    const beyond = await open(`${server.url}/beyond-http1/`, phone);
    expect(
      await beyond.page.evaluate(() => document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(390);
  });
});

describe('chapter 11: the recordings made at build time', () => {
  it('shows the HTTP/2 frames of a real extended CONNECT, and SSE bytes with Last-Event-ID', async () => {
    const { page } = await open(`${server.url}/beyond-http1/`);
    const rows = page.locator('.h2-trace tbody tr');
    const texts = await rows.allTextContents();
    expect(texts.some((t) => /SETTINGS_ENABLE_CONNECT_PROTOCOL \(0x8\) = 1/.test(t))).toBe(true);
    expect(
      texts.some((t) => /WebSocket text frame, header 81 85 .* \(masked\): "Hello"/.test(t)),
    ).toBe(true);
    expect(texts.some((t) => /WebSocket text frame, header 81 05: "Hello"/.test(t))).toBe(true);
    const headers = (await page.locator('.h2-headers').textContent()) ?? '';
    expect(headers).toContain(':protocol: websocket');
    expect(headers).toContain(':status: 200');
    expect(headers).not.toMatch(/sec-websocket-(key|accept)/i);
    const sse = await page.locator('.sse-trace').allTextContents();
    expect(sse[0]).toContain('Content-Type: text/event-stream');
    expect(sse[1]).toContain('Last-Event-ID: 2');
    await page
      .locator('.h2-trace')
      .screenshot({ path: `${screenshots}/beyond-http1-trace-light.png`, style: HIDE });
  });
});

describe('router lab without the lab server', () => {
  let plain: StaticServer;

  beforeAll(async () => {
    plain = await serveSiteOnly();
  });

  afterAll(() => plain.close());

  it('says plainly the lab server is not running and how to start it', async () => {
    const { page } = await open(`${plain.url}/architecture/`, {
      expectErrors: [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/raw' failed/],
    });
    await page.getByRole('button', { name: 'Upgrade to /echo' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'not running' });
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.lab-server-missing-title').textContent()).toBe(
      'The lab server is not running. Start it with pnpm install && pnpm lab and reload.',
    );
  });
});
