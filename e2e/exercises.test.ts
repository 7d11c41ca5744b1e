/**
 * Chapters 1 and 4, their exercises and the progress pages, in Debian's Chromium against the real
 * lab server (e2e/serve.ts): the accept calculator on typed keys and on this browser's own
 * connection, an exercise answered wrong then right and still solved after a reload, ordering with
 * the keyboard, a live exercise checked from what the lab server saw, progress exported and
 * imported, and axe-core on every page in light and dark mode.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { allExercises } from '../labs/exercises/registry.ts';
import {
  axeViolations,
  launchChromium,
  type OpenOptions,
  type Session,
  Sessions,
} from './browser.ts';
import { type StaticServer, serveDist, serveSiteOnly } from './serve.ts';

/** Every exercise on the site, whichever chapters are merged. */
const TOTAL = allExercises().length;

const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

let server: StaticServer;
let browser: Browser;
const sessions = new Sessions();

function open(path: string, options: OpenOptions = {}): Promise<Session> {
  const url = path.startsWith('http') ? path : `${server.url}${path}`;
  return sessions.open(browser, url, options);
}

function accept(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

function exercise(page: Page, id: string): Locator {
  return page.locator(`[data-exercise="${id}"]`);
}

async function promptKey(section: Locator): Promise<string> {
  const code = await section.locator('.ex-code').textContent();
  const key = /Sec-WebSocket-Key: (\S+)/.exec(code ?? '')?.[1];
  if (key === undefined) throw new Error(`no key in ${code}`);
  return key;
}

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  server = await serveDist();
  browser = await launchChromium();
});

afterEach(() => sessions.check());

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the accept calculator (chapter 4)', () => {
  it("reproduces RFC 6455's example and explains a bad key by character and rule", async () => {
    const { page } = await open('/accept/');
    const result = page.locator('.acc-result-value');
    await expect.poll(() => result.textContent()).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(await page.locator('.acc-digest').textContent()).toBe(
      'b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea',
    );
    expect(await page.locator('.acc-byte').count()).toBe(60);
    expect(await page.locator('.acc-result').textContent()).toContain('RFC 6455 §1.3 gives');

    const input = page.getByLabel('Sec-WebSocket-Key', { exact: true });
    await input.fill('dGhlIHNhbXBsZSBub25jZQ-_');
    const validity = page.locator('.acc-validity');
    await expect.poll(() => validity.getAttribute('data-valid')).toBe('false');
    expect(await validity.textContent()).toContain(
      'Character 23: "-" belongs to the URL-safe alphabet (RFC 4648 §5)',
    );
    expect(await validity.textContent()).toContain('400 Bad Request');

    await input.fill('x3JJHMbDL1EzLkh9GBhXDw==');
    await expect.poll(() => result.textContent()).toBe(accept('x3JJHMbDL1EzLkh9GBhXDw=='));
    await page
      .locator('.accept-calculator')
      .screenshot({ path: `${screenshots}/accept-light.png` });
  });

  it("takes the key of this browser's own connection from the lab server and matches its 101", async () => {
    const { page } = await open('/accept/');
    await page.getByRole('button', { name: "My connection's key" }).click();
    const source = page.locator('.acc-source');
    await expect
      .poll(() => source.textContent(), { timeout: 10_000 })
      .toMatch(/connection \d+ on the lab server/);
    const key = await page.getByLabel('Sec-WebSocket-Key', { exact: true }).inputValue();
    expect(key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(key).not.toBe('dGhlIHNhbXBsZSBub25jZQ==');
    await expect.poll(() => page.locator('.acc-result-value').textContent()).toBe(accept(key));
    const match = page.locator('.acc-match');
    expect(await match.getAttribute('data-match')).toBe('true');
    expect(await match.textContent()).toContain(
      'The lab server sent exactly this value in its 101',
    );
  });

  it('follows the dark theme and has no serious accessibility problems', async () => {
    const { page } = await open('/accept/', { colorScheme: 'dark' });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.locator('.acc-result-value').waitFor();
    await page.locator('[data-exercise="accept-compute"] .ex-title').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await page.locator('.accept-calculator').screenshot({ path: `${screenshots}/accept-dark.png` });
    await page.screenshot({ path: `${screenshots}/accept-page-dark.png`, fullPage: true });
  });
});

describe('exercises and progress', () => {
  it('answers wrong, then right, and keeps the progress across a reload', async () => {
    const { page } = await open('/accept/');
    const section = exercise(page, 'accept-compute');
    const key = await promptKey(section);
    const input = section.getByLabel('Sec-WebSocket-Accept');
    const feedback = section.locator('.ex-feedback');

    await section.getByRole('button', { name: 'Check' }).click();
    await expect.poll(() => feedback.textContent()).toContain('Type your answer');
    expect(await section.locator('.ex-meta').textContent()).toMatch(/Each wrong try shows a hint/);

    await input.fill(
      createHash('sha1')
        .update(key + GUID)
        .digest('hex'),
    );
    await section.getByRole('button', { name: 'Check' }).click();
    await expect
      .poll(() => feedback.textContent())
      .toContain('That is the SHA-1 digest written in hex');
    expect(await input.getAttribute('aria-invalid')).toBe('true');
    expect(await section.locator('.ex-hints li').count()).toBe(1);
    expect(await section.locator('.ex-meta').textContent()).toBe(
      '1 wrong try. The answer can be shown after 2 more.',
    );
    await section.screenshot({ path: `${screenshots}/exercise-wrong-light.png` });

    await input.fill(accept(key));
    await section.getByRole('button', { name: 'Check' }).click();
    await expect.poll(() => feedback.textContent()).toBe('Correct.');
    expect(await section.locator('.ex-badge').textContent()).toBe('Solved');
    const chapter = page.locator('[data-chapter-progress="accept"]');
    await expect.poll(() => chapter.locator('.exp-count').textContent()).toBe(' 1 of 5 solved');

    await page.reload();
    const again = exercise(page, 'accept-compute');
    await again.locator('.ex-badge').waitFor();
    expect(await again.locator('.ex-badge').textContent()).toBe('Solved');
    expect(await promptKey(again)).toBe(key);
    expect(await again.getByLabel('Sec-WebSocket-Accept').inputValue()).toBe(accept(key));
    expect(await again.locator('.ex-meta').textContent()).toBe('Solved after 1 wrong try.');
    await expect
      .poll(() => page.locator('[data-chapter-progress="accept"] .exp-count').textContent())
      .toBe(' 1 of 5 solved');
    expect(
      await page
        .locator('[data-chapter-progress="accept"] .exp-item[data-status="solved"] a')
        .textContent(),
    ).toBe('Compute the accept value');

    await page.goto(`${server.url}/progress/`);
    const accepted = page.locator('.exp-chapter', { hasText: 'Sec-WebSocket-Accept' });
    await expect.poll(() => accepted.locator('.exp-count').textContent()).toBe(' 1 of 5 solved');
    expect(await page.locator('.exp-total').textContent()).toBe(`1 of ${TOTAL} exercises solved.`);

    // New values: a different key, the exercise still counted as solved once.
    await page.goto(`${server.url}/accept/#exercise-accept-compute`);
    const fresh = exercise(page, 'accept-compute');
    await fresh.getByRole('button', { name: 'New values' }).click();
    await expect.poll(() => promptKey(fresh)).not.toBe(key);
    expect(await fresh.locator('.ex-badge').textContent()).toBe('Solved before; new values');
    expect(await fresh.getByLabel('Sec-WebSocket-Accept').inputValue()).toBe('');
  });

  it('reveals the answer after three wrong tries, with all hints', async () => {
    const { page } = await open('/accept/');
    const section = exercise(page, 'accept-compute');
    const input = section.getByLabel('Sec-WebSocket-Accept');
    for (const wrong of ['AAAA', 'BBBB', 'CCCC']) {
      await input.fill(wrong);
      await section.getByRole('button', { name: 'Check' }).click();
      await expect.poll(() => section.locator('.ex-feedback').textContent()).toContain('Not yet.');
    }
    await section.getByRole('button', { name: 'Show the answer' }).click();
    const answer = section.locator('.ex-answer');
    await expect.poll(() => answer.textContent()).toContain(accept(await promptKey(section)));
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('ex-answer');
    expect(await section.locator('.ex-hints li').count()).toBe(3);
    expect(await section.locator('.ex-badge').textContent()).toBe('Answer shown');
  });

  it('reorders steps with the keyboard alone and marks the misplaced ones', async () => {
    const { page } = await open('/accept/');
    const section = exercise(page, 'accept-order');
    const right = [
      'Read the value of the Sec-WebSocket-Key header, as text',
      'Append the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11',
      'Take the SHA-1 digest of that text (20 bytes)',
      'Encode the 20 bytes in base64 (28 characters)',
      'Send the result in the Sec-WebSocket-Accept header of the 101 response',
      'The client computes the same value and compares',
    ];
    const labels = () => section.locator('.ex-item-label').allTextContents();
    await section.locator('.ex-item').first().waitFor();

    await section.getByRole('button', { name: 'Check' }).click();
    await expect
      .poll(() => section.locator('.ex-feedback').textContent())
      .toMatch(/steps are out of place/);
    expect(await section.locator('.ex-item.ex-wrong').count()).toBeGreaterThan(0);

    // Selection sort with the ↑ buttons, pressed with Enter on the focused button.
    for (let target = 0; target < right.length; target++) {
      let at = (await labels()).indexOf(right[target] as string);
      while (at > target) {
        await section.getByRole('button', { name: `Move "${right[target]}" up` }).focus();
        await page.keyboard.press('Enter');
        at--;
        await expect.poll(labels).toSatisfy((list: string[]) => list[at] === right[target]);
      }
    }
    expect(await labels()).toEqual(right);
    await section.getByRole('button', { name: 'Check' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => section.locator('.ex-feedback').textContent()).toBe('Correct.');
    expect(await section.locator('.ex-item.ex-wrong').count()).toBe(0);
  });

  it('exports progress to a file and imports it into a fresh browser, refusing a bad file', async () => {
    const first = await open('/accept/');
    const section = exercise(first.page, 'accept-compute');
    const key = await promptKey(section);
    await section.getByLabel('Sec-WebSocket-Accept').fill(accept(key));
    await section.getByRole('button', { name: 'Check' }).click();
    await expect.poll(() => section.locator('.ex-feedback').textContent()).toBe('Correct.');

    await first.page.goto(`${server.url}/progress/`);
    const download = first.page.waitForEvent('download');
    await first.page.getByRole('button', { name: 'Export progress' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^websocket-lab-progress-\d{4}-\d{2}-\d{2}\.json$/);
    const saved = join(tmpdir(), `progress-${process.pid}.json`);
    await file.saveAs(saved);
    const data = JSON.parse(readFileSync(saved, 'utf8'));
    expect(data.format).toBe('websocket-lab-progress');
    expect(data.exercises['accept-compute']).toMatchObject({ solved: true, tries: 0 });

    // A fresh browser (empty localStorage): a bad file first, then the real one.
    const second = await open('/progress/');
    const page = second.page;
    await expect
      .poll(() => page.locator('.exp-total').textContent())
      .toBe(`0 of ${TOTAL} exercises solved.`);
    const bad = join(tmpdir(), `progress-bad-${process.pid}.json`);
    writeFileSync(bad, JSON.stringify({ ...data, version: 7, exercises: 'all of them' }));
    await page.getByLabel('Import progress from a file').setInputFiles(bad);
    const message = page.locator('.exp-message');
    await expect
      .poll(() => message.textContent())
      .toContain('was not imported; your progress is unchanged');
    expect(await message.textContent()).toContain('made by a newer WebSocket Lab');
    writeFileSync(bad, '\u0089PNG\r\n');
    await page.getByLabel('Import progress from a file').setInputFiles(bad);
    await expect.poll(() => message.textContent()).toContain('The file is not JSON');
    await page.screenshot({ path: `${screenshots}/progress-import-error-light.png` });

    await page.getByLabel('Import progress from a file').setInputFiles(saved);
    await expect.poll(() => message.textContent()).toContain('Imported');
    await expect
      .poll(() => page.locator('.exp-total').textContent())
      .toBe(`1 of ${TOTAL} exercises solved.`);

    // Same seed, so the same key; and the exercise is solved here too.
    await page.goto(`${server.url}/accept/`);
    const imported = exercise(page, 'accept-compute');
    await imported.locator('.ex-badge').waitFor();
    expect(await promptKey(imported)).toBe(key);
    expect(await imported.locator('.ex-badge').textContent()).toBe('Solved');
  });
});

describe('chapter 1 and the progress page', () => {
  it('marks the wrong fields of a frame-fields exercise, then accepts the right ones', async () => {
    const { page } = await open('/big-picture/');
    const section = exercise(page, 'big-picture-read-a-frame');
    const bytes = ((await section.locator('.ex-code').textContent()) ?? '').split(' ');
    const length = Number.parseInt(bytes[1] as string, 16) - 0x80;
    await section.getByLabel('FIN').fill('1');
    await section.getByLabel('opcode').fill('0x81');
    await section.getByLabel('MASK', { exact: true }).fill('1');
    await section.getByLabel('Payload length').fill(String(length));
    await section.getByLabel('Masking key').fill(bytes.slice(1, 5).join(' '));
    await section.getByRole('button', { name: 'Check' }).click();
    const feedback = section.locator('.ex-feedback');
    await expect.poll(() => feedback.textContent()).toContain('0x81 is the whole first byte');
    expect(
      await section
        .locator('.ex-frame-field.ex-wrong input')
        .evaluateAll((inputs) => inputs.map((input) => (input as HTMLInputElement).dataset.field)),
    ).toEqual(['opcode', 'maskingKey']);
    await section.screenshot({ path: `${screenshots}/exercise-frame-fields-wrong-light.png` });
    await section.getByLabel('opcode').fill('1');
    await section.getByLabel('Masking key').fill(bytes.slice(2, 6).join(''));
    await section.getByRole('button', { name: 'Check' }).click();
    await expect.poll(() => feedback.textContent()).toBe('Correct.');
    expect(await section.locator('.ex-wrong').count()).toBe(0);
  });

  it('checks a live exercise from what the lab server saw of this browser', async () => {
    const { page } = await open('/big-picture/');
    const section = exercise(page, 'big-picture-one-connection');
    const prompt = (await section.locator('.ex-prompt p').textContent()) ?? '';
    const [, word, count] = /send the text message "(\w+)" (\d) times/.exec(prompt) ?? [];
    expect(word).toBeDefined();
    await section.getByRole('button', { name: 'Start watching' }).click();
    const status = section.locator('.ex-live-status');
    await expect
      .poll(() => status.textContent(), { timeout: 10_000 })
      .toMatch(/Watching the lab server/);

    // Two connections first: the exercise says why that is not what was asked.
    const send = (times: number) =>
      page.evaluate(
        ({ url, word, times }) =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(url);
            let echoed = 0;
            ws.onopen = () => {
              for (let i = 0; i < times; i++) ws.send(word);
            };
            ws.onmessage = () => {
              if (++echoed === times) {
                ws.close(1000);
                resolve();
              }
            };
          }),
        { url: `${server.url.replace('http', 'ws')}/echo`, word: word as string, times },
      );
    await send(1);
    await send(1);
    const feedback = section.locator('.ex-feedback');
    await expect
      .poll(() => feedback.textContent(), { timeout: 10_000 })
      .toMatch(/went over 2 connections/);

    await section.getByRole('button', { name: 'Start over' }).click();
    await expect
      .poll(() => status.textContent(), { timeout: 10_000 })
      .toMatch(/Watching the lab server/);
    await send(Number(count));
    await expect.poll(() => feedback.textContent(), { timeout: 10_000 }).toBe('Correct.');
    expect(await section.locator('.ex-badge').textContent()).toBe('Solved');
    await section.screenshot({ path: `${screenshots}/exercise-live-light.png` });
  });

  it('has no serious accessibility problems, in light and dark, and shows its diagrams', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      for (const path of ['/big-picture/', '/progress/']) {
        const { page } = await open(path, { colorScheme });
        await page.locator('[data-exercise] .ex-title, .exp-total').first().waitFor();
        expect(await axeViolations(page), `${path} ${colorScheme}`).toEqual([]);
        const name = path.replace(/\//g, '') || 'home';
        await page.screenshot({
          path: `${screenshots}/${name}-${colorScheme}.png`,
          fullPage: true,
        });
      }
    }
    const { page } = await open('/big-picture/', { viewport: { width: 390, height: 844 } });
    expect(await page.locator('figure.diagram svg').count()).toBe(2);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth > window.innerWidth,
    );
    expect(overflow).toBe(false);
    await page
      .locator('figure.diagram')
      .first()
      .screenshot({ path: `${screenshots}/big-picture-phone-diagram.png` });
    await exercise(page, 'big-picture-messages').screenshot({
      path: `${screenshots}/exercise-phone.png`,
    });
  });
});

describe('live exercises of other chapters', () => {
  it("checks chapter 3's hand-typed handshake from a request with no User-Agent, as /raw relays it", async () => {
    const { page } = await open('/handshake/');
    const section = exercise(page, 'handshake-by-hand');
    const requestLine = ((await section.locator('.ex-code').textContent()) ?? '').trim();
    expect(requestLine).toMatch(/^GET \/echo\?by-hand=\w+ HTTP\/1\.1$/);
    await section.getByRole('button', { name: 'Start watching' }).click();
    const status = section.locator('.ex-live-status');
    await expect
      .poll(() => status.textContent(), { timeout: 10_000 })
      .toMatch(/Watching the lab server/);
    // What the terminal of chapter 3 sends through /raw: typed lines, no User-Agent.
    const host = new URL(server.url).host;
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `${requestLine}\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const feedback = section.locator('.ex-feedback');
    await expect.poll(() => feedback.textContent(), { timeout: 10_000 }).toContain('Correct.');
    expect(await section.locator('.ex-badge').textContent()).toBe('Solved');
    socket.destroy();
  });
});

describe('without the lab server', () => {
  let plain: StaticServer;
  let url: string;

  beforeAll(async () => {
    // The built site on a plain static server: no /echo, no /observe.
    plain = await serveSiteOnly();
    url = plain.url;
  });

  afterAll(() => plain.close());

  it('says plainly how to start the lab server, and the static exercises still work', async () => {
    const { page } = await open(`${url}/big-picture/`, {
      expectErrors: [/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/observe' failed/],
    });
    const section = exercise(page, 'big-picture-one-connection');
    await section.getByRole('button', { name: 'Start watching' }).click();
    const alert = section.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.ex-server-missing-title').textContent()).toBe(
      'The lab server is not running. Start it with pnpm install && pnpm lab and reload.',
    );
    const layer = exercise(page, 'big-picture-layer');
    await layer
      .getByLabel(/An application-layer protocol that runs on top of a TCP connection/)
      .check();
    await layer.getByRole('button', { name: 'Check' }).click();
    await expect.poll(() => layer.locator('.ex-feedback').textContent()).toBe('Correct.');
    await section.screenshot({ path: `${screenshots}/exercise-live-no-server.png` });
  });
});
