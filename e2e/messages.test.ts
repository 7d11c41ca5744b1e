/**
 * The "Messages" chapter and its lab against the real lab server (e2e/serve.ts), in Debian's
 * Chromium: a fragmented message with a ping between its fragments goes out through /raw and
 * comes back as one message and a pong; an invalid UTF-8 sequence gets 1007, explained. And what
 * the lab says when there is no lab server.
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
  await page.locator('.ml').screenshot({
    path: `${screenshots}/${name}.png`,
    style: 'header.header { visibility: hidden !important; }',
  });
}

const answers = (page: Page) => page.locator('.ml-answers li').allTextContents();

async function waitForAnswers(page: Page, count: number): Promise<string[]> {
  await expect
    .poll(async () => (await answers(page)).length, { timeout: 10_000 })
    .toBeGreaterThanOrEqual(count);
  return answers(page);
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

describe('messages lab with the lab server', () => {
  it('sends a fragmented message with a ping between and gets one echoed message and a pong', async () => {
    const { page } = await open(`${server.url}/messages/`);
    await page.getByRole('button', { name: 'Fragments with a ping between' }).click();
    // Build the last fragment by hand: "Hello, " + "there".
    await page.getByLabel('Payload of frame 4').fill('there');
    const steps = page.locator('.ml-step');
    await expect.poll(() => steps.count()).toBe(4);
    expect(await steps.nth(1).textContent()).toContain(
      'Control frames may come between the fragments of a message (RFC 6455 §5.4)',
    );
    expect(await steps.nth(3).textContent()).toContain(
      'The message is complete: text, 12 bytes from 3 frames, "Hello, there"',
    );
    expect(await page.locator('.ml-wire li').first().textContent()).toMatch(
      /^Frame 1, 9 bytes: 01 83 /,
    );

    await page.getByRole('button', { name: 'Send to the lab server' }).click();
    const got = await waitForAnswers(page, 2);
    expect(got).toEqual([
      'Pong: "are you there?"',
      'Echoed one text message, 12 bytes in 1 frame: "Hello, there"',
    ]);
    // The lab server's own annotation of the client's message names its three frames.
    await expect
      .poll(() => page.locator('.ml-log').textContent())
      .toMatch(/C→S text message {2}12 bytes in 3 frames \(frames 0, 2, 3\) {2}"Hello, there"/);
    expect(await page.getByRole('status').textContent()).toMatch(
      /101 Switching Protocols; 4 frames sent on connection \d+/,
    );
    await expect
      .poll(() => page.locator('.ml-agreement').textContent())
      .toBe('✓ The lab server answered as the step-by-step assembly predicted (pong, echo).');
    await screenshot(page, 'messages-light');
  });

  it('gets 1007 for invalid UTF-8 and explains it with the close code and the broken byte', async () => {
    const { page } = await open(`${server.url}/messages/`);
    await page.getByRole('button', { name: 'Invalid UTF-8' }).click();
    expect(await page.locator('.ml-step').nth(1).textContent()).toContain(
      'Byte 0xC0 can never appear in UTF-8',
    );
    await page.getByRole('button', { name: 'Send to the lab server' }).click();
    const got = await waitForAnswers(page, 2);
    expect(got[0]).toMatch(
      /^Found in your frames: A text message must be valid UTF-8\. Byte 0xC0 .*RFC 6455 §8\.1, close code 1007/,
    );
    expect(got[1]).toBe(
      'Close frame, code 1007 (reason "invalid-utf8"). 1007 Invalid Frame Payload Data: The data in a message did not match its type, typically a text message that is not valid UTF-8 (RFC 6455 §8.1).',
    );
    await expect
      .poll(() => page.getByRole('status').textContent())
      .toMatch(/Connection \d+ is closed\./);
    expect(await page.locator('.ml-agreement').textContent()).toBe(
      '✓ The lab server answered as the step-by-step assembly predicted (close 1007).',
    );
  });

  it('is usable with the keyboard alone: add a frame, type its payload, move it, remove it', async () => {
    const { page } = await open(`${server.url}/messages/`);
    await page.getByRole('button', { name: 'Add frame' }).focus();
    await page.keyboard.press('Enter');
    // The new frame (a text frame: the last one ended its message) has its payload focused.
    await page.keyboard.type('fifth');
    expect(await page.getByLabel('Payload of frame 5').inputValue()).toBe('fifth');
    await page.getByRole('button', { name: 'Move frame 5 up' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.getByLabel('Payload of frame 4').inputValue()).toBe('fifth');
    // Focus stayed on the moved frame's button, now "Move frame 4 up".
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(
      'Move frame 4 up',
    );
    // A text frame after the unfinished message: the assembler names the broken rule.
    expect(await page.locator('.ml-step').nth(3).textContent()).toContain(
      'RFC 6455 §5.4; close code 1002',
    );
    await page.getByRole('button', { name: 'Remove frame 4' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('.ml-row').count()).toBe(4);
    // Focus is visible on every control.
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement as Element).outlineStyle,
    );
    expect(outline).not.toBe('none');
  });
});

describe('messages lab in the dark theme and on a phone', () => {
  it('reads well in the dark theme', async () => {
    const { page } = await open(`${server.url}/messages/`, { colorScheme: 'dark' });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.getByRole('button', { name: 'Invalid UTF-8' }).click();
    await page.getByRole('button', { name: 'Send to the lab server' }).click();
    await waitForAnswers(page, 2);
    await screenshot(page, 'messages-dark');
    await page
      .locator('figure.diagram')
      .first()
      .screenshot({ path: `${screenshots}/messages-diagram-dark.png` });
  });

  it('fits a phone without sideways scrolling', async () => {
    const { page } = await open(`${server.url}/messages/`, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    // On a phone Starlight's sticky "On this page" bar can sit over a button that was just
    // scrolled into view and take the tap: press the buttons from the keyboard instead.
    await page.getByRole('button', { name: 'Fragments with a ping between' }).press('Enter');
    await page.getByRole('button', { name: 'Send to the lab server' }).press('Enter');
    await waitForAnswers(page, 2);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    const panels = page.locator('.ml-panel');
    await panels.first().screenshot({
      path: `${screenshots}/messages-phone-compose.png`,
      style: 'header.header, mobile-starlight-toc { visibility: hidden !important; }',
    });
    await panels.last().screenshot({
      path: `${screenshots}/messages-phone-answer.png`,
      style: 'header.header, mobile-starlight-toc { visibility: hidden !important; }',
    });
    await page
      .locator('figure.diagram')
      .first()
      .screenshot({ path: `${screenshots}/messages-diagram-phone.png` });
    await page
      .locator('figure.diagram')
      .nth(1)
      .screenshot({ path: `${screenshots}/messages-split-phone.png` });
  });
});

describe('messages lab without the lab server', () => {
  let plain: StaticServer;
  let url: string;

  beforeAll(async () => {
    // The built site on a plain static server: no /echo, no /observe.
    plain = await serveSiteOnly();
    url = plain.url;
  });

  afterAll(() => plain.close());

  it('still assembles the frames, and says plainly the server is not running and how to start it', async () => {
    const { page } = await open(`${url}/messages/`, {
      expectErrors: [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/raw' failed/],
    });
    expect(await page.locator('.ml-step').count()).toBe(4);
    await page.getByRole('button', { name: 'Send to the lab server' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.lab-server-missing-title').textContent()).toBe(
      'The lab server is not running. Start it with pnpm install && pnpm lab and reload.',
    );
    expect(await alert.textContent()).toContain('ws://127.0.0.1:6455/raw');
    expect(await page.getByRole('status').textContent()).toBe('The lab server is not running.');
    await screenshot(page, 'messages-no-server');
  });
});
