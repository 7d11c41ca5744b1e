/**
 * The live console against the real lab server (e2e/serve.ts), in Debian's Chromium: the frames a
 * learner sends, masked on the way out and unmasked on the way back, as the xterm console and the
 * frames table show them. And what the page says when there is no lab server at all.
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

/** The terminal's visible rows, as text. */
function screen(page: Page): Promise<string> {
  return page.locator('.lc-terminal .xterm-rows').evaluate((rows) =>
    Array.from(rows.children, (row) => (row.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd())
      .filter((line) => line !== '')
      .join('\n'),
  );
}

/**
 * Everything in the terminal, scrollback included: the terminal is made tall and wide enough for
 * a moment (it refits to its box), read, and put back.
 */
async function everything(page: Page): Promise<string> {
  const style = await page.addStyleTag({
    content: '.lc-terminal { height: 400rem !important; width: 300rem !important; }',
  });
  await page.waitForFunction(
    () => (document.querySelector('.lc-terminal .xterm-rows')?.children.length ?? 0) > 200,
  );
  const text = await screen(page);
  await style.evaluate((element) => element.parentNode?.removeChild(element));
  await page.waitForFunction(
    () => (document.querySelector('.lc-terminal .xterm-rows')?.children.length ?? 0) < 100,
  );
  return text;
}

/** Waits for `pattern` on the visible rows, then returns the whole terminal's text. */
async function waitForScreen(page: Page, pattern: RegExp): Promise<string> {
  await expect.poll(() => screen(page), { timeout: 10_000 }).toMatch(pattern);
  return everything(page);
}

async function waitForState(page: Page, state: string, text?: RegExp): Promise<void> {
  await page.locator(`.lc-status[data-state="${state}"]`).waitFor({ timeout: 10_000 });
  if (text !== undefined) {
    await expect.poll(() => page.locator('.lc-status').textContent()).toMatch(text);
  }
}

async function clearConsole(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Clear' }).click();
  await expect.poll(() => screen(page)).toBe('');
}

async function setPayload(page: Page, text: string): Promise<void> {
  await page.locator('.lc-editor .cm-content').fill(text);
}

function xor(hex: string, key: string): string {
  const k = key.match(/../g)?.map((b) => Number.parseInt(b, 16)) ?? [];
  return (hex.match(/../g) ?? [])
    .map((b, i) => (Number.parseInt(b, 16) ^ (k[i % 4] ?? 0)).toString(16).padStart(2, '0'))
    .join(' ');
}

/** A screenshot of the whole page, and one of the lab alone, without the sticky header over it. */
async function screenshot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${screenshots}/${name}-page.png`, fullPage: true });
  // An element screenshot, not a full-page one: a full-page capture resizes the viewport, and
  // xterm caught mid-refit looks cut off. The sticky header would cover the element; hide it.
  await page.locator('.lc').screenshot({
    path: `${screenshots}/${name}.png`,
    style: 'header.header { visibility: hidden !important; }',
  });
}

const tableRows = (page: Page) =>
  page
    .locator('.lc-table tbody tr')
    .evaluateAll((rows) =>
      rows.map((row) => Array.from(row.children, (cell) => cell.textContent ?? '')),
    );

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

describe('live console with the browser’s WebSocket', () => {
  it('shows a text message go out masked and come back unmasked', async () => {
    const { page } = await open(`${server.url}/console/`);
    await waitForState(page, 'open', /connection #\d+ on the lab server/);
    // The handshake of this very connection, from the bytes the lab server read.
    const handshake = await waitForScreen(page, /Sec-WebSocket-Accept/);
    expect(handshake).toMatch(
      /\[\d+\] C→S handshake request {2}GET \/echo\?console=[0-9a-f]{12} HTTP\/1\.1 {2}\(echo, \d+ bytes\)/,
    );
    expect(handshake).toMatch(/S→C handshake response {2}101 Switching Protocols/);

    await clearConsole(page);
    await page.getByRole('button', { name: 'Send text' }).click();
    const text = await waitForScreen(page, /S→C text message/);
    const out = text.match(
      /C→S text frame FIN=1 MASK=1 len=5 \(7-bit\) key=([0-9a-f]{8}) {2}"Hello" \(masked on the wire\)/,
    );
    expect(out, text).not.toBeNull();
    const key = out?.[1] ?? '';
    // The payload as sent is "Hello" XORed with the key (RFC 6455 §5.3).
    const wire = text.match(/payload\s+((?:[0-9a-f]{2} ){4}[0-9a-f]{2}) → "Hello"/)?.[1] ?? '';
    expect(xor(wire.replace(/ /g, ''), key)).toBe('48 65 6c 6c 6f');
    expect(text).toMatch(/S→C text frame FIN=1 MASK=0 len=5 \(7-bit\) {2}"Hello"/);
    expect(text).toMatch(/payload\s+48 65 6c 6c 6f = "Hello"/);
    expect(text).not.toMatch(/S→C text frame[^\n]*key=/);

    const rows = await tableRows(page);
    expect(rows.map((r) => [r[0], r[1], r[3], r[7]])).toEqual([
      ['→ client to server', 'text (0x1)', '1', '"Hello"'],
      ['← server to client', 'text (0x1)', '0', '"Hello"'],
    ]);
    expect(rows[0]?.[4]).toBe(key.match(/../g)?.join(' '));
    expect(rows[1]?.[4]).toBe('—');

    // Ctrl+Enter in the editor sends too, and every frame gets a new masking key.
    await page.locator('.lc-editor .cm-content').focus();
    await page.keyboard.press('Control+Enter');
    await expect.poll(async () => (await tableRows(page)).length).toBe(4);
    const again = await tableRows(page);
    expect(again[2]?.[3]).toBe('1');
    expect(again[2]?.[4]).not.toBe(rows[0]?.[4]);
    await screenshot(page, 'console-light');
  });

  it('sends 300 bytes of binary with the 16-bit length, and explains bad hex', async () => {
    const { page } = await open(`${server.url}/console/`);
    await waitForState(page, 'open', /connection #/);
    await clearConsole(page);
    await page.getByRole('button', { name: '300 bytes of hex' }).click();
    expect(await page.locator('.lc-feedback').first().textContent()).toContain(
      'binary frame (opcode 0x2) with 300 bytes of payload, which needs the 16-bit extended length (Payload len 126)',
    );
    await page.getByRole('button', { name: 'Send binary' }).click();
    const text = await waitForScreen(page, /S→C binary message/);
    expect(text).toMatch(/C→S binary frame FIN=1 MASK=1 len=300 \(16-bit\) key=[0-9a-f]{8}/);
    expect(text).toMatch(/byte 1\s+1 1111110\s+MASK=1 len=126 \(16-bit length follows\)/);
    expect(text).toMatch(/bytes 2-3\s+00000001 00101100\s+len=300/);
    expect(text).toMatch(/S→C binary frame FIN=1 MASK=0 len=300 \(16-bit\)/);
    expect(text).toMatch(/byte 1\s+0 1111110\s+MASK=0 len=126/);
    const rows = await tableRows(page);
    expect(rows.map((r) => [r[1], r[3], r[5]])).toEqual([
      ['binary (0x2)', '1', '300 (16-bit)'],
      ['binary (0x2)', '0', '300 (16-bit)'],
    ]);
    expect(rows[1]?.[7]).toBe('00 01 02 03 04 05 06 07 … (292 more)');
    await screenshot(page, 'console-binary');

    await setPayload(page, '48 zz 6c');
    const feedback = page.locator('.lc-feedback').first();
    await expect
      .poll(() => feedback.textContent())
      .toContain("'z' at line 1, column 4 is not a hex digit (0-9, a-f).");
    expect(await page.locator('.lc-editor .cm-content').getAttribute('aria-invalid')).toBe('true');
    await page.getByRole('button', { name: 'Send binary' }).click();
    await page.waitForTimeout(300);
    expect((await tableRows(page)).length).toBe(2);
  });

  it('explains that the browser cannot ping or close with 1001, and closes with 4000', async () => {
    const { page } = await open(`${server.url}/console/`);
    await waitForState(page, 'open', /connection #/);
    await page.getByRole('button', { name: 'Send ping' }).click();
    expect(await page.locator('.lc-feedback').first().textContent()).toContain(
      "A browser's WebSocket object cannot send a ping",
    );

    const code = page.getByLabel('Status code');
    await code.fill('1001');
    const closeFeedback = page.locator('.lc-close .lc-feedback');
    expect(await closeFeedback.textContent()).toContain(
      "Your browser's close() accepts only 1000 or 3000-4999",
    );
    expect(await code.getAttribute('aria-invalid')).toBe('true');

    await code.fill('4000');
    await page.getByLabel('Reason').fill('bye');
    expect(await closeFeedback.textContent()).toContain('code 4000 (private use)');
    await clearConsole(page);
    await page.getByRole('button', { name: 'Close connection' }).click();
    await waitForState(page, 'closed', /Closed with code 4000, reason "bye"\./);
    const text = await waitForScreen(page, /socket closed/);
    expect(text).toMatch(
      /C→S close frame FIN=1 MASK=1 len=5 \(7-bit\) key=[0-9a-f]{8} {2}code 4000 "bye"/,
    );
    expect(text).toMatch(/C→S close 4000\s+reason "bye"/);
    expect(text).toMatch(/The client starts the closing handshake/);
    expect(text).toMatch(/S→C close frame FIN=1 MASK=0 len=5 \(7-bit\) {2}code 4000 "bye"/);
    expect(text).toMatch(/The server answers the client's close frame/);
    expect(text).toMatch(/FIN sent/);
    const rows = await tableRows(page);
    expect(rows.map((r) => [r[0], r[1], r[3], r[7]])).toEqual([
      ['→ client to server', 'close (0x8)', '1', '4000 "bye"'],
      ['← server to client', 'close (0x8)', '0', '4000 "bye"'],
    ]);

    await page.getByRole('button', { name: 'Reconnect' }).click();
    await waitForState(page, 'open', /connection #/);
    expect(await tableRows(page)).toEqual([]);
  });

  it('can be used with the keyboard, and Tab leaves the terminal', async () => {
    const { page } = await open(`${server.url}/console/`);
    await waitForState(page, 'open', /connection #/);
    await page.getByRole('radio', { name: "Your browser's WebSocket" }).focus();
    const order: string[] = [];
    for (let i = 0; i < 13; i++) {
      await page.keyboard.press('Tab');
      order.push(
        await page.evaluate(() => {
          const e = document.activeElement as HTMLElement;
          const label =
            e.getAttribute('aria-label') ??
            (e instanceof HTMLInputElement ? e.labels?.[0]?.textContent : null) ??
            e.textContent ??
            '';
          return `${e.getAttribute('role') ?? e.tagName.toLowerCase()}: ${label.trim()}`;
        }),
      );
    }
    expect(order).toEqual([
      'input: Headers bit by bit',
      'button: Clear',
      'textarea: Console output, read-only',
      'input: Text (UTF-8)',
      'textbox: Hello',
      'button: Hello',
      'button: Text with non-ASCII',
      'button: 300 bytes of hex',
      'button: Send text',
      'button: Send ping',
      'input: Status code',
      'input: Reason',
      'button: Close connection',
    ]);
  });
});

describe('live console with frames built by the page', () => {
  it('sends a ping and gets the pong, refuses a 126-byte ping, closes with 1000', async () => {
    const { page } = await open(`${server.url}/console/`);
    await waitForState(page, 'open', /connection #/);
    await page.getByRole('radio', { name: 'Frames built by this page' }).check();
    await waitForState(page, 'open', /connection #/);
    await waitForScreen(page, /handshake response\s+101 Switching Protocols/);
    await clearConsole(page);

    await setPayload(page, 'are you there?');
    await page.getByRole('button', { name: 'Send ping' }).click();
    const text = await waitForScreen(page, /S→C pong frame/);
    expect(text).toMatch(
      /C→S ping frame FIN=1 MASK=1 len=14 \(7-bit\) key=[0-9a-f]{8} {2}"are you there\?"/,
    );
    expect(text).toMatch(/S→C pong frame FIN=1 MASK=0 len=14 \(7-bit\) {2}"are you there\?"/);

    await screenshot(page, 'console-ping');
    await setPayload(page, 'x'.repeat(126));
    await page.getByRole('button', { name: 'Send ping' }).click();
    expect(await page.locator('.lc-feedback').first().textContent()).toContain(
      "A ping's payload may be at most 125 bytes, like every control frame's (RFC 6455 §5.5); this one is 126.",
    );

    await page.getByLabel('Status code').fill('1000');
    await page.getByLabel('Reason').fill('');
    await clearConsole(page);
    await page.getByRole('button', { name: 'Close connection' }).click();
    await waitForState(page, 'closed', /Closed with code 1000\./);
    const closing = await waitForScreen(page, /socket closed/);
    expect(closing).toMatch(
      /C→S close frame FIN=1 MASK=1 len=2 \(7-bit\) key=[0-9a-f]{8} {2}code 1000/,
    );
    expect(closing).toMatch(/S→C close frame FIN=1 MASK=0 len=2 \(7-bit\) {2}code 1000/);
  });
});

describe('live console in the dark theme', () => {
  it('follows Starlight’s theme, also when it changes', async () => {
    const { page } = await open(`${server.url}/console/`, { colorScheme: 'dark' });
    await waitForState(page, 'open', /connection #/);
    await page.getByRole('button', { name: 'Send text' }).click();
    await waitForScreen(page, /S→C text message/);
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    const luminance = (css: string) => {
      const [r = 0, g = 0, b = 0] = (css.match(/[\d.]+/g) ?? []).map(Number);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    };
    const background = () =>
      page
        .locator('.lc-terminal .xterm-scrollable-element')
        .evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(luminance(await background())).toBeLessThan(0.2);
    await screenshot(page, 'console-dark');

    await page.evaluate(() => {
      document.documentElement.dataset.theme = 'light';
    });
    await expect.poll(async () => luminance(await background())).toBeGreaterThan(0.8);
  });
});

describe('live console on a phone', () => {
  it('fits the width without sideways scrolling of the page', async () => {
    const { page } = await open(`${server.url}/console/`, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await waitForState(page, 'open', /connection #/);
    await page.getByRole('button', { name: 'Send text' }).press('Enter'); // a tap could land on Starlight's sticky mobile bar
    await expect.poll(async () => (await tableRows(page)).length).toBe(2);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await screenshot(page, 'console-phone');
  });
});

describe('live console without the lab server', () => {
  let plain: StaticServer;
  let url: string;

  beforeAll(async () => {
    // The built site on a plain static server: no /echo, no /observe.
    plain = await serveSiteOnly();
    url = plain.url;
  });

  afterAll(() => plain.close());

  it('says plainly that the lab server is not running, and how to start it', async () => {
    const { page } = await open(`${url}/console/`, {
      expectErrors: [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/observe' failed/],
    });
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.lab-server-missing-title').textContent()).toBe(
      'The lab server is not running. Start it with pnpm install && pnpm lab and reload.',
    );
    expect(await alert.textContent()).toContain('ws://127.0.0.1:6455/observe');
    expect(await page.locator('.lc-status').textContent()).toBe('The lab server is not running.');
    expect(await page.getByRole('button', { name: 'Send text' }).isDisabled()).toBe(true);
    await screenshot(page, 'console-no-server');
    await page.getByRole('button', { name: 'Try again' }).click();
    await alert.waitFor({ timeout: 15_000 });
  });
});
