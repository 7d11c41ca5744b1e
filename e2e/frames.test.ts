/**
 * The "Frames, bit by bit" chapter and its frame decoder, in a real browser (Debian's Chromium
 * driven by playwright-core), served from the built site on 127.0.0.1.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type OpenOptions, type Session, Sessions } from './browser.ts';
import { type StaticServer, serveDist } from './serve.ts';

const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));

const MASKED_HELLO = '81 85 37 fa 21 3d 7f 9f 4d 51 58';
const UNMASKED_HELLO = '81 05 48 65 6c 6c 6f';

let server: StaticServer;
let browser: Browser;

const sessions = new Sessions();

function open(path: string, options: OpenOptions = {}): Promise<Session> {
  return sessions.open(browser, `${server.url}${path}`, { waitUntil: 'networkidle', ...options });
}

/** Types `hex` into the decoder, as `direction`, and waits for the decoder to show `summary`. */
async function decodeIn(
  page: Page,
  hex: string,
  direction: 'Guess from MASK' | 'Client → server' | 'Server → client',
  summary: string,
): Promise<void> {
  await page.getByRole('radio', { name: direction }).check();
  await page.getByLabel('Bytes in hex').fill(hex);
  await page.waitForFunction(
    (expected) =>
      document.querySelector('.fd-output[aria-busy]') === null &&
      document.querySelector('.fd-status')?.textContent?.startsWith(expected) === true,
    summary,
  );
}

const field = (page: Page, name: string) => page.locator(`.fd-cell[data-field="${name}"]`).first();

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

describe('home page', () => {
  it('says what the project is and links to the frames chapter', async () => {
    const { page } = await open('/');
    expect(await page.locator('h1').first().textContent()).toContain('WebSocket Lab');
    await page.getByRole('link', { name: 'Start with frames' }).click();
    await page.waitForURL('**/frames/');
    expect(await page.locator('h1').first().textContent()).toContain('Frames, bit by bit');
  });
});

describe('frame decoder', () => {
  it('decodes the RFC 6455 §5.7 masked "Hello" field by field', async () => {
    const { page } = await open('/frames/');
    await page.getByLabel('Bytes in hex').fill('');
    await decodeIn(
      page,
      MASKED_HELLO,
      'Client → server',
      '11 bytes: 1 frame, 1 message, no problems.',
    );

    // Each field's button is named by what it shows: its label, its bits, its value.
    const named = async (name: string) =>
      (await field(page, name).textContent())?.replace(/\s+/g, ' ').trim();
    expect(await named('fin')).toBe('FIN 1');
    expect(await named('opcode')).toBe('opcode 0 0 0 1 text');
    expect(await named('mask')).toBe('MASK 1');
    expect(await named('payloadLength')).toBe('Payload len 0 0 0 0 1 0 1 5');
    expect(await named('maskingKey')).toMatch(/^Masking-key [01 ]+ 37fa213d$/);
    const facts = await page.locator('.fd-facts').first().textContent();
    expect(facts).toMatch(/Payload length\s*5 bytes \(7-bit form\)/i);
    expect(await page.locator('[data-part="unmasked-text"]').first().textContent()).toBe('Hello');
    expect(await page.locator('[data-part="masked-hex"]').first().textContent()).toBe(
      '7f 9f 4d 51 58',
    );
    expect(await page.locator('.fd-xor tbody tr').count()).toBe(5);
    expect(await page.locator('.fd-problem').count()).toBe(0);
    expect(await page.locator('.fd-messages').textContent()).toContain('Hello');

    await page.locator('.fd').screenshot({ path: `${screenshots}/decoder-light.png` });
    await page.locator('.fd-frame').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${screenshots}/frames-light.png` });
  });

  it('explains an unmasked client frame: close code 1002, RFC 6455 §5.1', async () => {
    const { page } = await open('/frames/');
    await decodeIn(
      page,
      UNMASKED_HELLO,
      'Client → server',
      '7 bytes: 1 frame, 1 message, 1 problem.',
    );
    const problem = page.locator('.fd-problem[data-rule="client-frame-unmasked"]');
    expect(await problem.count()).toBe(1);
    const text = await problem.textContent();
    expect(text).toContain('must mask');
    expect(text).toContain('1002');
    expect(text).toContain('RFC 6455 §5.1');
    expect(await page.locator('.fd-stop').textContent()).toContain('1002');
    // The MASK field itself is marked, and says which rule it breaks.
    const marked = page.locator('.fd-cell--problem');
    expect(await marked.count()).toBe(1);
    expect(await marked.getAttribute('data-field')).toBe('mask');
    expect(await marked.textContent()).toContain('breaks client-frame-unmasked');
    await page.locator('.fd-output').screenshot({ path: `${screenshots}/decoder-problem.png` });

    // Frames after the failure are still decoded, below a marker where a real endpoint stops.
    await decodeIn(
      page,
      `${UNMASKED_HELLO} ${MASKED_HELLO}`,
      'Client → server',
      '18 bytes: 2 frames, 2 messages, 1 problem.',
    );
    expect(await page.locator('.fd-stop-marker').count()).toBe(1);
    expect(await page.locator('.fd-frame--after-failure').getAttribute('data-frame')).toBe('1');

    // The same bytes from a server are fine.
    await decodeIn(
      page,
      UNMASKED_HELLO,
      'Server → client',
      '7 bytes: 1 frame, 1 message, no problems.',
    );
    expect(await page.locator('.fd-problem').count()).toBe(0);
  });

  it('reads a Wireshark hex dump, skipping its offset and ASCII columns', async () => {
    const { page } = await open('/frames/');
    await decodeIn(
      page,
      '0000   81 85 37 fa 21 3d 7f 9f 4d 51 58            ..7.!=..MQX',
      'Guess from MASK',
      '11 bytes: 1 frame, 1 message, no problems.',
    );
    expect(await page.locator('[data-part="unmasked-text"]').first().textContent()).toBe('Hello');
  });

  it('shows pasted text as text, never as HTML, and says which character is not hex', async () => {
    const { page } = await open('/frames/');
    await page.getByLabel('Bytes in hex').fill('<img src=x onerror="window.__pwned=1">');
    await page.locator('.fd-errors li').first().waitFor();
    expect(await page.locator('.fd-errors li').first().textContent()).toContain(
      "'<' at line 1, column 1 is not a hex digit",
    );
    expect(await page.locator('.fd img').count()).toBe(0);
    expect(await page.evaluate(() => 'pwned' in window || '__pwned' in window)).toBe(false);
    expect(await page.getByLabel('Bytes in hex').getAttribute('aria-invalid')).toBe('true');
  });

  it('can be used with the keyboard: Tab reaches the fields, Enter and Space show details', async () => {
    const { page } = await open('/frames/');
    await decodeIn(page, MASKED_HELLO, 'Guess from MASK', '11 bytes');
    await page.getByLabel('Bytes in hex').focus();
    let focused: string | null = null;
    for (let i = 0; i < 40 && focused === null; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() =>
        document.activeElement instanceof HTMLElement
          ? (document.activeElement.dataset.field ?? null)
          : null,
      );
    }
    expect(focused).toBe('fin');
    const details = page.locator('.fd-details').first();
    expect(await details.textContent()).toContain('Select a field');

    await page.keyboard.press('Enter');
    expect(await details.locator('.fd-details-heading').textContent()).toBe('FIN');
    const text = await details.textContent();
    expect(text).toMatch(/Byte offset\s*0 in the stream/);
    expect(text).toMatch(/Bit offset\s*0 within/);
    expect(text).toMatch(/Width\s*1 bit/);
    expect(await field(page, 'fin').getAttribute('aria-pressed')).toBe('true');

    for (const next of ['rsv1', 'rsv2', 'rsv3', 'opcode']) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.field)).toBe(
        next,
      );
    }
    await page.keyboard.press('Space');
    expect(await details.locator('.fd-details-heading').textContent()).toBe('opcode');
    expect(await details.textContent()).toMatch(/Bit offset\s*4 within/);
    expect(await field(page, 'fin').getAttribute('aria-pressed')).toBe('false');
  });

  it('follows the dark theme', async () => {
    const { page } = await open('/frames/', { colorScheme: 'dark' });
    await decodeIn(page, MASKED_HELLO, 'Guess from MASK', '11 bytes');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    // Starlight's dark palette: light text on a dark background, in the page and in the lab.
    const luminance = (css: string) => {
      const [r = 0, g = 0, b = 0] = (css.match(/[\d.]+/g) ?? []).map(Number);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    };
    const colors = await page.evaluate(() => {
      const style = (selector: string) => {
        const element = document.querySelector(selector);
        if (element === null) throw new Error(`${selector} not found`);
        return getComputedStyle(element);
      };
      return {
        body: style('body').backgroundColor,
        panel: style('.fd-panel').backgroundColor,
        cellBackground: style('.fd-cell[data-field="opcode"]').backgroundColor,
        cellText: style('.fd-cell[data-field="opcode"]').color,
      };
    });
    expect(luminance(colors.body)).toBeLessThan(0.2);
    expect(luminance(colors.panel)).toBeLessThan(0.25);
    expect(luminance(colors.cellBackground)).toBeLessThan(0.3);
    expect(luminance(colors.cellText)).toBeGreaterThan(0.6);

    await page.locator('.fd').screenshot({ path: `${screenshots}/decoder-dark.png` });
    await page.locator('.fd-frame').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${screenshots}/frames-dark.png` });
  });

  it('fits a phone: 16-bit rows and no sideways scrolling of the page', async () => {
    const { page } = await open('/frames/', {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await decodeIn(page, MASKED_HELLO, 'Guess from MASK', '11 bytes');
    expect(
      await page
        .locator('.fd-diagram')
        .first()
        .evaluate((e) => e.style.getPropertyValue('--fd-row-bits')),
    ).toBe('16');
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      diagram: document.querySelector('.fd-diagram')?.scrollWidth ?? 0,
      scroller: document.querySelector('.fd-diagram-scroll')?.clientWidth ?? 0,
    }));
    expect(widths.page).toBeLessThanOrEqual(390);
    expect(widths.diagram).toBeLessThanOrEqual(widths.scroller);
    await page.locator('.fd-diagram').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${screenshots}/decoder-phone.png` });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${screenshots}/frames-phone.png`, fullPage: true });
  });
});
