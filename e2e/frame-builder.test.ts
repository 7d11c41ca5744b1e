/**
 * The frame builder and the bit diagram of "Frames, bit by bit", in a real browser (Debian's
 * Chromium driven by playwright-core) against the real lab server on an ephemeral port: frames
 * built in the page go through /raw and the server's reaction comes back.
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
  return sessions.open(browser, url, { waitUntil: 'networkidle', ...options });
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

const HIDE_HEADER = 'header.header, mobile-starlight-toc { visibility: hidden !important; }';

const builtBytes = (page: Page) =>
  page.locator('.fb-summary').evaluate((e) => (e as HTMLElement).dataset.bytes ?? '');

/** Sets the builder to the RFC's masking key, so the bytes are those of RFC 6455 §5.7. */
async function useRfcKey(page: Page): Promise<void> {
  await page.locator('.fb').getByLabel('Masking key (4 bytes, hex)').fill('37 fa 21 3d');
}

async function sendAndWait(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Send to the lab server' }).click();
  await page.waitForFunction(
    () => document.querySelector('.fb-status')?.textContent?.startsWith('Done') === true,
    null,
    { timeout: 15_000 },
  );
}

describe('frame builder', () => {
  it('shows the bytes live as the header and payload change', async () => {
    const { page } = await open(`${server.url}/frames/`);
    await page.locator('.fb-editor .cm-content').waitFor();
    await useRfcKey(page);
    expect(await builtBytes(page)).toBe('81 85 37 fa 21 3d 7f 9f 4d 51 58');
    expect(await page.locator('.fb-xor-table tbody tr').count()).toBe(5);
    expect(await page.locator('.fb-xor-table tbody tr').first().textContent()).toBe(
      '048 (H)37 (key[0])7f',
    );

    // The payload editor is CodeMirror; typing changes the bytes at once.
    await page.locator('.fb-editor .cm-content').fill('Hi');
    expect(await builtBytes(page)).toBe('81 82 37 fa 21 3d 7f 93');

    // Force the 16-bit form: a non-minimal length, which a receiver rejects with 1002.
    await page.locator('.fb').getByLabel('Length form', { exact: true }).selectOption('16-bit');
    expect(await builtBytes(page)).toBe('81 fe 00 02 37 fa 21 3d 7f 93');
    const problem = page.locator('.fb-problems li[data-rule="length-not-minimal"]');
    expect(await problem.textContent()).toContain('Close 1002 Protocol Error');

    // A lying length, and a masking key of the wrong size.
    await page.locator('.fb').getByLabel('Length form', { exact: true }).selectOption('minimal');
    await page.locator('.fb').getByLabel('Declared payload length').fill('9');
    expect(await builtBytes(page)).toBe('81 89 37 fa 21 3d 7f 93');
    expect(await page.locator('.fb-forced').first().textContent()).toContain(
      'only 2 follow: a receiver waits for the other 7',
    );
    await page.locator('.fb').getByLabel('Masking key (4 bytes, hex)').fill('37 fa 21');
    expect(await page.locator('.fb-error').first().textContent()).toContain('exactly 4 bytes');
    expect(await page.getByRole('button', { name: 'Send to the lab server' }).isDisabled()).toBe(
      true,
    );

    // Hex payloads, binary opcode.
    await useRfcKey(page);
    await page.locator('.fb').getByLabel('Declared payload length').fill('');
    await page.locator('.fb').getByLabel('Hex bytes').check();
    expect(await page.locator('.fb-editor .cm-content').textContent()).toBe('48 69');
    await page.locator('.fb').getByLabel('Opcode', { exact: true }).selectOption('2');
    await page.locator('.fb-editor .cm-content').fill('de ad be ef');
    expect(await builtBytes(page)).toBe('82 84 37 fa 21 3d e9 57 9f d2');
  });

  it('sends a valid frame through /raw and shows the echo', async () => {
    const { page } = await open(`${server.url}/frames/`);
    await page.locator('.fb-editor .cm-content').waitFor();
    await useRfcKey(page);
    await sendAndWait(page);
    expect(await page.locator('.fb-outcome').textContent()).toContain(
      'The server echoed your message back as one text frame of 5 bytes',
    );
    const replies = page.locator('.fb-replies > li');
    expect(await replies.first().textContent()).toContain('0x1 text, 5 bytes: "Hello"');
    expect(await replies.first().locator('code').textContent()).toBe('81 05 48 65 6c 6c 6f');
    // The page then closed politely, and the server echoed the code.
    expect(await replies.nth(1).getAttribute('data-close-code')).toBe('1000');
    expect(await page.locator('.fb-annotations').textContent()).toContain(
      'Frame from you: 81 85 37 fa 21 3d text, 5 bytes, no problems.',
    );
    await page.locator('.fb-reaction').scrollIntoViewIfNeeded();
    await page
      .locator('.fb')
      .screenshot({ path: `${screenshots}/frame-builder-echo.png`, style: HIDE_HEADER });
  });

  it('sends a reserved opcode: the server closes with 1002, explained (RFC 6455 §5.2)', async () => {
    const { page } = await open(`${server.url}/frames/`, { colorScheme: 'dark' });
    await page.locator('.fb-editor .cm-content').waitFor();
    await useRfcKey(page);
    await page.locator('.fb').getByLabel('Opcode', { exact: true }).selectOption('3');
    expect(await builtBytes(page)).toBe('83 85 37 fa 21 3d 7f 9f 4d 51 58');
    expect(
      await page.locator('.fb-problems li[data-rule="reserved-opcode"]').textContent(),
    ).toContain('Close 1002 Protocol Error');
    await sendAndWait(page);
    const outcome = await page.locator('.fb-outcome').textContent();
    expect(outcome).toContain('The server closed the connection: close code 1002 Protocol Error');
    expect(outcome).toContain('"reserved-opcode"');
    const close = page.locator('.fb-replies > li').first();
    expect(await close.getAttribute('data-close-code')).toBe('1002');
    expect(await close.locator('code').textContent()).toBe(
      '88 11 03 ea 72 65 73 65 72 76 65 64 2d 6f 70 63 6f 64 65',
    );
    expect(await page.locator('.fb-annotations').textContent()).toContain(
      'Reserved non-control opcode 0x3: no meaning is defined, so it must not be used (RFC 6455 §5.2).',
    );
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.locator('.fb-reaction').scrollIntoViewIfNeeded();
    await page
      .locator('.fb')
      .screenshot({ path: `${screenshots}/frame-builder-1002-dark.png`, style: HIDE_HEADER });
  });

  it('is reachable and usable with the keyboard', async () => {
    const { page } = await open(`${server.url}/frames/`);
    await page.locator('.fb-editor .cm-content').waitFor();
    await page.locator('.fb input[id$="-fin"]').focus();
    await page.keyboard.press('Space');
    expect((await builtBytes(page)).startsWith('01')).toBe(true);
    // From the checkboxes, Tab reaches the opcode, MASK, the key and on to the editor.
    const reached: string[] = [];
    for (let i = 0; i < 14; i++) {
      await page.keyboard.press('Tab');
      reached.push(
        await page.evaluate(() => {
          const e = document.activeElement as HTMLElement;
          return e.id || e.className || e.tagName;
        }),
      );
    }
    expect(reached.some((r) => r.endsWith('-opcode'))).toBe(true);
    expect(reached.some((r) => r.endsWith('-mask'))).toBe(true);
    expect(reached.some((r) => r.includes('cm-content'))).toBe(true);
  });

  it('fits a phone without sideways scrolling', async () => {
    const { page } = await open(`${server.url}/frames/`, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await page.locator('.fb-editor .cm-content').waitFor();
    // Polled: the page's other labs and exercises are still mounting when the editor appears.
    await expect
      .poll(() => page.evaluate(() => document.documentElement.scrollWidth))
      .toBeLessThanOrEqual(390);
    // No control sticks out of its panel (a long <option> once widened the rows).
    await expect
      .poll(() =>
        page
          .locator('.fb-panel')
          .evaluateAll((panels) => panels.filter((p) => p.scrollWidth > p.clientWidth).length),
      )
      .toBe(0);
    await page
      .locator('.fb')
      .screenshot({ path: `${screenshots}/frame-builder-phone.png`, style: HIDE_HEADER });
  });
});

describe('bit diagram', () => {
  const details = (page: Page) => page.locator('.bd-details');

  it('moves bit by bit with the arrow keys and field by field with Tab', async () => {
    const { page } = await open(`${server.url}/frames/`);
    const first = page.locator('.bd-bit[data-bit="0"]');
    await first.focus();
    expect(await details(page).locator('.bd-details-heading').textContent()).toBe('FIN: 1');
    expect(await details(page).textContent()).toContain(
      'Final fragment: this frame ends its message (RFC 6455 §5.2).',
    );
    // Only one bit of the grid is a tab stop; arrows move between bits.
    expect(await page.locator('.bd-bit[tabindex="0"]').count()).toBe(1);
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.bit)).toBe(
      '4',
    );
    expect(await details(page).locator('.bd-details-heading').textContent()).toBe(
      'opcode: 0x1 text',
    );
    expect(await details(page).textContent()).toContain('bit 1 of the 4 bits of opcode, worth 8');
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.bit)).toBe(
      '36',
    );
    expect(await details(page).locator('.bd-details-heading').textContent()).toBe(
      'Masking-key: 37 fa 21 3d',
    );
    await page.keyboard.press('Home');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.bit)).toBe(
      '32',
    );

    // Tab leaves the grid for the field buttons, one per field.
    await page.keyboard.press('Tab');
    const fields: string[] = [];
    for (let i = 0; i < 9; i++) {
      fields.push(
        await page.evaluate(() => (document.activeElement as HTMLElement).dataset.field ?? ''),
      );
      await page.keyboard.press('Tab');
    }
    expect(fields).toEqual([
      'fin',
      'rsv1',
      'rsv2',
      'rsv3',
      'opcode',
      'mask',
      'payloadLength',
      'maskingKey',
      'payload',
    ]);
    await page.locator('.bd-field[data-field="mask"]').focus();
    await page.keyboard.press('Enter');
    expect(await details(page).locator('.bd-details-heading').textContent()).toBe('MASK: 1');
    // Flip the MASK bit: the parser now finds an unmasked client frame.
    await details(page).getByRole('button', { name: 'Flip bit 8' }).click();
    expect(await page.locator('.bd-hex code').textContent()).toMatch(/^81 05 37 fa/);
    expect(
      await details(page).locator('[data-rule="client-frame-unmasked"]').textContent(),
    ).toContain('1002 Protocol Error');
    await page.getByRole('button', { name: 'Undo all flips' }).click();
    expect(await page.locator('.bd-hex code').textContent()).toMatch(/^81 85 37 fa/);
    await page
      .locator('.bd')
      .screenshot({ path: `${screenshots}/bit-diagram-light.png`, style: HIDE_HEADER });
  });

  it('draws the 16-bit form and reads in dark mode and on a phone', async () => {
    const { page } = await open(`${server.url}/frames/`, {
      colorScheme: 'dark',
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await page.getByRole('button', { name: '256 bytes, 16-bit length' }).press('Enter'); // not a tap: the sticky mobile bar
    expect(await page.locator('.bd-bit[data-field="extendedPayloadLength"]').count()).toBe(16);
    expect(
      await page.locator('.bd-grid').evaluate((e) => e.style.getPropertyValue('--bd-row-bits')),
    ).toBe('16');
    const luminance = (css: string) => {
      const [r = 0, g = 0, b = 0] = (css.match(/[\d.]+/g) ?? []).map(Number);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    };
    const colors = await page
      .locator('.bd-bit[data-field="opcode"]')
      .first()
      .evaluate((e) => ({
        bg: getComputedStyle(e).backgroundColor,
        fg: getComputedStyle(e).color,
      }));
    expect(luminance(colors.bg)).toBeLessThan(0.3);
    expect(luminance(colors.fg)).toBeGreaterThan(0.6);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await page
      .locator('.bd')
      .screenshot({ path: `${screenshots}/bit-diagram-dark-phone.png`, style: HIDE_HEADER });
  });
});

describe('frame builder without the lab server', () => {
  let plain: StaticServer;
  let url: string;

  beforeAll(async () => {
    // The built site on a plain static server: no /echo, no /observe.
    plain = await serveSiteOnly();
    url = plain.url;
  });

  afterAll(() => plain.close());

  it('still builds frames, and says plainly how to start the lab server to send them', async () => {
    const { page } = await open(`${url}/frames/`, {
      expectErrors: [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/observe' failed/],
    });
    await page.locator('.fb-editor .cm-content').waitFor();
    await useRfcKey(page);
    expect(await builtBytes(page)).toBe('81 85 37 fa 21 3d 7f 9f 4d 51 58');
    await page.getByRole('button', { name: 'Send to the lab server' }).click();
    const alert = page.locator('.fb').getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.lab-server-missing-title').textContent()).toBe(
      'The lab server is not running. Start it with pnpm install && pnpm lab and reload.',
    );
    await page
      .locator('.fb')
      .screenshot({ path: `${screenshots}/frame-builder-no-server.png`, style: HIDE_HEADER });
  });
});
