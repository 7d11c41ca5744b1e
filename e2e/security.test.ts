/**
 * The "Security" chapter and its Origin lab against the real lab server (e2e/serve.ts), in
 * Debian's Chromium: a foreign Origin sent through /raw gets the lab server's 403 and its reason,
 * with the annotations of that connection; the page's own origin gets 101; a message over
 * --max-payload from the page's own WebSocket gets 1009. And what the lab says without the server.
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

const HIDE = 'header.header, mobile-starlight-toc { visibility: hidden !important; }';

async function screenshot(page: Page, name: string, index = 0): Promise<void> {
  await page
    .locator('.ol-panel')
    .nth(index)
    .screenshot({
      path: `${screenshots}/${name}.png`,
      style: HIDE,
    });
}

const answer = (page: Page) => page.locator('.ol-answer');
/** The lab itself: the chapter's exercises have choices with the same labels. */
const lab = (page: Page) => page.locator('.ol');

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

describe('Origin lab with the lab server', () => {
  it('sends a foreign Origin through /raw and shows the 403, the server’s reason and its annotations', async () => {
    const { page } = await open(`${server.url}/security/`);
    await lab(page).getByLabel('http://evil.example', { exact: true }).check();
    await expect
      .poll(() => page.locator('.ol-request').textContent())
      .toContain('Origin: http://evil.example');
    await lab(page).getByRole('button', { name: 'Send through /raw' }).click();
    await expect.poll(() => answer(page).textContent(), { timeout: 10_000 }).toBe('403 Forbidden');
    expect(await page.locator('.ol-summary').textContent()).toMatch(
      /^403 Forbidden, before any WebSocket existed: Origin "http:\/\/evil\.example" is not on the allow list/,
    );
    expect(await page.locator('.ol-explanation').textContent()).toContain(
      'Origin "http://evil.example" is not allowed: only the lab\'s own pages may use this server from a browser, so that no other web page can drive it (RFC 6455 §10.2). Start the lab with --origin http://evil.example to allow it.',
    );
    // The lab server's own annotations of the relay's connection: the request and the refusal.
    await expect
      .poll(() => page.locator('.ol-log').textContent(), { timeout: 5000 })
      .toMatch(
        /handshake response {2}403 Forbidden[\s\S]*body Origin "http:\/\/evil\.example" is not allowed/,
      );
    expect(await page.locator('.ol-log').textContent()).toMatch(
      /C→S handshake request {2}GET \/echo HTTP\/1\.1[\s\S]*Origin: http:\/\/evil\.example/,
    );
    await screenshot(page, 'security-origin-403-light');
  });

  it('sends the page’s own origin to /observe and gets 101', async () => {
    const { page } = await open(`${server.url}/security/`);
    await lab(page).getByLabel('This page’s own origin', { exact: true }).check();
    await lab(page).getByLabel('/observe').check();
    const request = await page.locator('.ol-request').textContent();
    expect(request).toMatch(/^GET \/observe HTTP\/1\.1/);
    expect(request).toContain(`Origin: ${server.url}`);
    await lab(page).getByRole('button', { name: 'Send through /raw' }).click();
    await expect
      .poll(() => answer(page).textContent(), { timeout: 10_000 })
      .toBe('101 Switching Protocols');
    expect(await page.locator('.ol-summary').textContent()).toContain(
      'is on the lab server’s allow list, so the upgrade to /observe went ahead',
    );
    await expect
      .poll(() => page.locator('.ol-log').textContent(), { timeout: 5000 })
      .toContain('handshake response  101 Switching Protocols');
    expect(await page.locator('.ol-explanation').isHidden()).toBe(true);
  });

  it('refuses a typed Origin with a line break before sending, and sends a typed look-alike', async () => {
    const { page } = await open(`${server.url}/security/`);
    const field = lab(page).getByLabel('Your own Origin value');
    await field.fill('http://a.example\nX-Evil: 1');
    // A text input drops the line break itself; a control character is refused with its position.
    await field.fill('http://a\u0007b.example');
    await expect
      .poll(() => page.locator('.ol-error').first().textContent())
      .toMatch(/Character 9 \(U\+0007\) cannot travel in a header value/);
    expect(await lab(page).getByRole('button', { name: 'Send through /raw' }).isDisabled()).toBe(
      true,
    );
    const lookalike = `http://127.0.0.1.evil.example:${new URL(server.url).port}`;
    await field.fill(lookalike);
    await lab(page).getByRole('button', { name: 'Send through /raw' }).click();
    await expect.poll(() => answer(page).textContent(), { timeout: 10_000 }).toBe('403 Forbidden');
    expect(await page.locator('.ol-explanation').textContent()).toContain(
      `Origin "${lookalike}" is not allowed`,
    );
  });

  it('works from the keyboard alone, with a visible focus', async () => {
    const { page } = await open(`${server.url}/security/`);
    await lab(page).getByLabel('null', { exact: true }).focus();
    await page.keyboard.press('Space');
    expect(await lab(page).getByLabel('null', { exact: true }).isChecked()).toBe(true);
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement as Element).outlineStyle,
    );
    expect(outline).not.toBe('none');
    await lab(page).getByRole('button', { name: 'Send through /raw' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => answer(page).textContent(), { timeout: 10_000 }).toBe('403 Forbidden');
    expect(await page.locator('.ol-explanation').textContent()).toContain('No flag allows "null"');
  });

  it('sends 1 MiB + 1 byte from the page’s own WebSocket and gets 1009; 1 KiB is echoed', async () => {
    const { page } = await open(`${server.url}/security/`);
    const status = page.locator('.ol-panel').nth(1).getByRole('status');
    await lab(page).getByLabel('Message size').fill('1 MiB + 1');
    await lab(page).getByRole('button', { name: 'Send it to /echo' }).click();
    await expect
      .poll(() => status.textContent(), { timeout: 10_000 })
      .toMatch(/^Closed with 1009\./);
    expect(await status.textContent()).toContain(
      'A message of 1,048,577 bytes is more than the lab server’s --max-payload',
    );
    expect(await status.getAttribute('data-code')).toBe('1009');
    await screenshot(page, 'security-1009-light', 1);
    await lab(page).getByRole('button', { name: '1 KiB' }).click();
    await lab(page).getByRole('button', { name: 'Send it to /echo' }).click();
    await expect
      .poll(() => status.textContent(), { timeout: 10_000 })
      .toMatch(/^Echoed: 1,024 bytes/);
    await lab(page).getByLabel('Message size').fill('2 GiB');
    expect(await page.locator('.ol-panel').nth(1).locator('.ol-error').textContent()).toMatch(
      /Unknown unit “gib”/,
    );
    expect(await lab(page).getByRole('button', { name: 'Send it to /echo' }).isDisabled()).toBe(
      true,
    );
  });
});

describe('the chapter’s live exercises, solved with the lab', () => {
  it('“Refused for its Origin” is solved by the Origin lab’s request through /raw', async () => {
    const { page } = await open(`${server.url}/security/`);
    const section = page.locator('[data-exercise="security-origin-refused"]');
    const prompt = (await section.locator('.ex-prompt').textContent()) ?? '';
    const target = /upgrade to (\/echo|\/observe)/.exec(prompt)?.[1] as string;
    expect(target).toBeDefined();
    await section.getByRole('button', { name: 'Start watching' }).click();
    await expect
      .poll(() => section.locator('.ex-live-status').textContent(), { timeout: 10_000 })
      .toMatch(/Watching the lab server/);
    // The look-alike meets every variant of the task: it contains "localhost", and "any" origin.
    const origin = prompt.includes('null')
      ? 'null'
      : `http://localhost.evil.example:${new URL(server.url).port}`;
    await lab(page).getByLabel(origin, { exact: true }).check();
    await lab(page).getByLabel(target, { exact: true }).check();
    await lab(page).getByRole('button', { name: 'Send through /raw' }).click();
    await expect.poll(() => answer(page).textContent(), { timeout: 10_000 }).toBe('403 Forbidden');
    await expect
      .poll(() => section.locator('.ex-feedback').textContent(), { timeout: 10_000 })
      .toContain('Correct.');
    expect(await section.locator('.ex-badge').textContent()).toBe('Solved');
  });

  it('“Too big: 1009” is solved by a 3 MiB message from the lab, which Chromium fragments', async () => {
    const { page } = await open(`${server.url}/security/`);
    const section = page.locator('[data-exercise="security-payload-1009"]');
    await section.getByRole('button', { name: 'Start watching' }).click();
    await expect
      .poll(() => section.locator('.ex-live-status').textContent(), { timeout: 10_000 })
      .toMatch(/Watching the lab server/);
    // Chromium splits a big message into fragments; the server adds their lengths up.
    await lab(page).getByLabel('Message size').fill('3 MiB');
    await lab(page).getByRole('button', { name: 'Send it to /echo' }).click();
    await expect
      .poll(() => section.locator('.ex-feedback').textContent(), { timeout: 10_000 })
      .toContain('Correct.');
  });
});

describe('Origin lab in the dark theme and on a phone', () => {
  it('reads well in the dark theme', async () => {
    const { page } = await open(`${server.url}/security/`, { colorScheme: 'dark' });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await lab(page).getByLabel('http://evil.example', { exact: true }).check();
    await lab(page).getByRole('button', { name: 'Send through /raw' }).click();
    await expect.poll(() => answer(page).textContent(), { timeout: 10_000 }).toBe('403 Forbidden');
    await expect.poll(() => page.locator('.ol-log').textContent()).toContain('body Origin');
    await screenshot(page, 'security-origin-403-dark');
    await page
      .locator('figure.diagram')
      .first()
      .screenshot({ path: `${screenshots}/security-hijack-dark.png` });
  });

  it('fits a phone without sideways scrolling', async () => {
    const { page } = await open(`${server.url}/security/`, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await lab(page).getByLabel('null', { exact: true }).press('Space');
    await lab(page).getByRole('button', { name: 'Send through /raw' }).press('Enter');
    await expect.poll(() => answer(page).textContent(), { timeout: 10_000 }).toBe('403 Forbidden');
    await expect.poll(() => page.locator('.ol-log').textContent()).toContain('body Origin');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await screenshot(page, 'security-origin-phone');
    await page
      .locator('figure.diagram')
      .first()
      .screenshot({ path: `${screenshots}/security-hijack-phone.png` });
  });
});

describe('Origin lab without the lab server', () => {
  let plain: StaticServer;

  beforeAll(async () => {
    plain = await serveSiteOnly();
  });

  afterAll(() => plain.close());

  it('says plainly the server is not running and how to start it', async () => {
    const { page } = await open(`${plain.url}/security/`, {
      expectErrors: [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/raw' failed/],
    });
    await lab(page).getByRole('button', { name: 'Send through /raw' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.lab-server-missing-title').textContent()).toBe(
      'The lab server is not running. Start it with pnpm install && pnpm lab and reload.',
    );
    expect(await page.locator('.ol-panel').first().getByRole('status').textContent()).toBe(
      'The lab server is not running.',
    );
    await screenshot(page, 'security-no-server');
  });
});
