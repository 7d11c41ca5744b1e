/**
 * The handshake lab against the real lab server (e2e/serve.ts), in Debian's Chromium: a request
 * typed key by key into the terminal, the 101 and the annotations of that very connection, the
 * same client port before and after the 101, a broken request and its explanation, and what the
 * page says without a lab server.
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

/** A terminal's visible rows, as text. */
function rows(page: Page, which: 'wire' | 'notes'): Promise<string> {
  return page.locator(`.hs-${which} .xterm-rows`).evaluate((element) =>
    Array.from(element.children, (row) => (row.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd())
      .filter((line) => line !== '')
      .join('\n'),
  );
}

/** Everything in a terminal, scrollback included: made tall for a moment, read, put back. */
async function everything(page: Page, which: 'wire' | 'notes'): Promise<string> {
  const style = await page.addStyleTag({
    content: `.hs-${which} { height: 400rem !important; }`,
  });
  await page.waitForFunction(
    (w) => (document.querySelector(`.hs-${w} .xterm-rows`)?.children.length ?? 0) > 200,
    which,
  );
  const text = await rows(page, which);
  await style.evaluate((element) => element.parentNode?.removeChild(element));
  return text;
}

async function waitFor(page: Page, which: 'wire' | 'notes', pattern: RegExp): Promise<string> {
  await expect.poll(() => everything(page, which), { timeout: 10_000 }).toMatch(pattern);
  return everything(page, which);
}

async function ready(page: Page): Promise<string> {
  await page.locator('.hs-status[data-state="ready"]').waitFor({ timeout: 10_000 });
  return new URL(page.url()).host;
}

/**
 * The lab alone. The viewport is first made tall enough for the whole lab: an element taller than
 * the viewport is captured by resizing it, and xterm caught mid-refit looks cut off.
 */
async function screenshot(page: Page, name: string): Promise<void> {
  const viewport = page.viewportSize() ?? { width: 1280, height: 1000 };
  const box = await page.locator('.hs').boundingBox();
  const height = Math.ceil((box?.height ?? 0) + 200);
  if (height > viewport.height) {
    await page.setViewportSize({ width: viewport.width, height });
    await page.waitForTimeout(300);
  }
  await page.locator('.hs').screenshot({
    path: `${screenshots}/${name}.png`,
    style: 'header.header { visibility: hidden !important; }',
  });
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

describe('handshake lab with the lab server', () => {
  it('takes a request typed by hand, shows the 101, the annotations and the same port', async () => {
    const { page } = await open(`${server.url}/handshake/`);
    const host = await ready(page);
    await page.locator('.hs-wire .xterm-helper-textarea').focus();
    const lines = [
      'GET /echo HTTP/1.1',
      `Host: ${host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      '',
    ];
    for (const line of lines) {
      await page.keyboard.type(line);
      await page.keyboard.press('Enter');
    }
    const wire = await waitFor(page, 'wire', /HTTP\/1\.1 101 Switching Protocols/);
    const opened = wire.match(/» TCP connection #(\d+) opened from 127\.0\.0\.1:(\d+)/);
    expect(opened, wire).not.toBeNull();
    const [, conn = '', port = ''] = opened ?? [];
    expect(wire).toContain('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
    expect(wire).toMatch(/» sent 158 bytes/);
    expect(wire).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');

    // The annotations of that very connection, header by header.
    const notes = await waitFor(page, 'notes', /S→C handshake response {2}101 Switching Protocols/);
    expect(notes).toContain(`[${conn}] connection opened  127.0.0.1:${port} →`);
    expect(notes).toMatch(
      new RegExp(
        `\\[${conn}\\] C→S handshake request {2}GET /echo HTTP/1\\.1 {2}\\(echo, 158 bytes\\)`,
      ),
    );
    expect(notes).toContain('A fresh nonce: 16 random bytes, base64-encoded.');
    expect(notes).toContain('✓ 10 of 10 rules hold (RFC 6455 §4.2.1)');

    await expect
      .poll(() => page.locator('.hs-answer .hs-answer-title').textContent())
      .toBe('101 Switching Protocols: the server accepted the handshake.');
    // Same client port before (connection-opened) and after the 101 (/observe's snapshot).
    const verdict = page.locator('.hs-verdict');
    await verdict.waitFor({ timeout: 10_000 });
    expect(await verdict.getAttribute('data-same')).toBe('true');
    expect(await verdict.textContent()).toContain(`Same client port, ${port}, before and after`);
    expect(await page.locator('.hs-terms').textContent()).toContain(
      `lists connection #${conn} as a WebSocket (/echo) from port ${port}`,
    );
    await expect.poll(() => page.locator('.hs-status').textContent()).toContain('WebSocket now');

    // Frames on the same connection: the RFC's masked "Hello", typed as hex, comes back unmasked.
    await page.locator('.hs-wire .xterm-helper-textarea').focus();
    await page.keyboard.type('81 85 37 fa 21 3d 7f 9f 4d 51 58');
    await page.keyboard.press('Enter');
    await waitFor(page, 'wire', /« 7 bytes of WebSocket frames: 81 05 48 65 6c 6c 6f/);
    const framed = await waitFor(page, 'notes', /S→C text frame FIN=1 MASK=0 len=5/);
    expect(framed).toMatch(new RegExp(`\\[${conn}\\] C→S text frame FIN=1 MASK=1 len=5`));
    await screenshot(page, 'handshake-light');
  });

  it('explains a broken request (wrong version), then upgrades a kept-open connection', async () => {
    const { page } = await open(`${server.url}/handshake/`);
    await ready(page);
    await page.getByRole('button', { name: 'Wrong version' }).click();
    const wire = await waitFor(page, 'wire', /HTTP\/1\.1 426 Upgrade Required/);
    expect(wire).toContain('Sec-WebSocket-Version: 8');
    expect(wire).toMatch(/Sec-WebSocket-Version: 13\n/);
    const answer = page.locator('.hs-answer');
    await expect.poll(() => answer.textContent()).toContain('server closed its side');
    const text = (await answer.textContent()) ?? '';
    expect(text).toContain('The server answered 426 Upgrade Required.');
    expect(text).toContain('(RFC 6455 §4.2.2, §4.4)');
    expect(text).toContain("Sec-WebSocket-Version is '8', but this server speaks only version 13");
    expect(await page.locator('.hs-verdict').count()).toBe(0);
    await screenshot(page, 'handshake-broken');

    // No Upgrade: a plain GET, answered 426 on a connection the server keeps open...
    await page.getByRole('button', { name: 'No Upgrade' }).click();
    await expect
      .poll(() => answer.textContent(), { timeout: 10_000 })
      .toContain('still speaks HTTP');
    const first = (await everything(page, 'wire')).match(/» TCP connection #(\d+) opened/g)?.at(-1);
    // ...so a valid request typed next goes over that same connection and upgrades it.
    await page.getByRole('button', { name: 'Paste a valid request' }).click();
    await page.keyboard.press('Enter');
    const after = await waitFor(page, 'wire', /kept open by the server\)[\s\S]*101 Switching/);
    expect(after.match(/» TCP connection #(\d+) opened/g)?.at(-1)).toBe(first);
    await page.locator('.hs-verdict[data-same="true"]').waitFor({ timeout: 10_000 });
  });

  it('can be used with the keyboard: Tab reaches the terminal and leaves it', async () => {
    const { page } = await open(`${server.url}/handshake/`);
    await ready(page);
    await page.getByRole('radio', { name: 'HTTP lines (Enter = CRLF)' }).focus();
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      order.push(
        await page.evaluate(() => {
          const e = document.activeElement as HTMLElement;
          return `${e.tagName.toLowerCase()}: ${(e.getAttribute('aria-label') ?? e.textContent ?? '').trim()}`;
        }),
      );
    }
    expect(order).toEqual([
      'button: Paste a valid request',
      'button: Masked "Hello" frame',
      'button: Close frame (1000)',
      'button: New connection',
      'textarea: Your TCP connection: type the request here',
      'button: No Upgrade',
      'button: Wrong version',
      'button: Missing key',
    ]);
  });
});

describe('handshake lab in the dark theme and on a phone', () => {
  it('follows the dark theme', async () => {
    const { page } = await open(`${server.url}/handshake/`, { colorScheme: 'dark' });
    await ready(page);
    await page.getByRole('button', { name: 'Paste a valid request' }).click();
    await page.keyboard.press('Enter');
    await waitFor(page, 'notes', /101 Switching Protocols/);
    await page.locator('.hs-verdict').waitFor({ timeout: 10_000 });
    const luminance = (css: string) => {
      const [r = 0, g = 0, b = 0] = (css.match(/[\d.]+/g) ?? []).map(Number);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    };
    const background = await page
      .locator('.hs-wire .xterm-scrollable-element')
      .evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(luminance(background)).toBeLessThan(0.2);
    await screenshot(page, 'handshake-dark');
    await page
      .locator('figure.hs-diagram')
      .first()
      .screenshot({
        path: `${screenshots}/handshake-diagram-dark.png`,
        style: 'header.header { visibility: hidden !important; }',
      });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${screenshots}/handshake-dark-page.png`, fullPage: true });
  });

  it('fits a phone’s width, diagrams included', async () => {
    const { page } = await open(`${server.url}/handshake/`, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await ready(page);
    await page.getByRole('button', { name: 'Short key' }).press('Enter'); // not a tap: the sticky mobile bar
    await expect
      .poll(() => page.locator('.hs-answer').textContent(), { timeout: 10_000 })
      .toContain('decodes to 8 bytes');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await screenshot(page, 'handshake-phone');
    const figures = page.locator('figure.hs-diagram');
    expect(await figures.count()).toBe(2);
    for (const [i, name] of ['connection', 'port'].entries()) {
      const figure = figures.nth(i);
      // Drawn to the column's width, never wider than the phone.
      expect((await figure.locator('svg').boundingBox())?.width).toBeLessThanOrEqual(390);
      await figure.screenshot({
        path: `${screenshots}/handshake-diagram-${name}-phone.png`,
        style: 'header.header { visibility: hidden !important; }',
      });
    }
  });
});

describe('handshake lab without the lab server', () => {
  let plain: StaticServer;
  let url: string;

  beforeAll(async () => {
    // The built site on a plain static server: no /echo, no /observe.
    plain = await serveSiteOnly();
    url = plain.url;
  });

  afterAll(() => plain.close());

  it('says plainly that the lab server is not running, and how to start it', async () => {
    const { page } = await open(`${url}/handshake/`, {
      expectErrors: [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/observe' failed/],
    });
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.lab-server-missing-title').textContent()).toBe(
      'The lab server is not running. Start it with pnpm install && pnpm lab and reload.',
    );
    expect(await page.locator('.hs-status').textContent()).toBe('The lab server is not running.');
    expect(await page.getByRole('button', { name: 'Paste a valid request' }).isDisabled()).toBe(
      true,
    );
    await screenshot(page, 'handshake-no-server');
  });
});
