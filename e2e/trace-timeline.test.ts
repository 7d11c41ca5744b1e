/**
 * The trace timeline of chapter 2 against the real lab server with its TLS listener (and its
 * proxies, for the proxy lab of chapter 9), in Debian's Chromium: press a button, the lab server
 * traces its own ws:// and wss:// ports, and the page draws each phase on a shared time axis.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type OpenOptions, type Session, Sessions } from './browser.ts';
import { type StaticServer, serveSiteOnly } from './serve.ts';
import { type FullLab, startFullLab } from './serve-full.ts';

const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));

let lab: FullLab;
let browser: Browser;
const sessions = new Sessions();

function open(options: OpenOptions = {}): Promise<Session> {
  return sessions.open(browser, `${lab.url}/connection-path/`, {
    viewport: { width: 1280, height: 1000 },
    ...options,
  });
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.locator('.tt').screenshot({
    path: `${screenshots}/${name}.png`,
    style: 'header.header { visibility: hidden !important; }',
  });
}

const phasesOf = (page: Page, scheme: 'ws' | 'wss') =>
  page
    .locator(`.tt-run[data-scheme="${scheme}"] .tt-phase`)
    .evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.phase));

async function traceBoth(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Trace both' }).click();
  await page.locator('.tt-run[data-scheme="wss"][data-status="done"]').waitFor({ timeout: 20_000 });
}

beforeAll(async () => {
  lab = await startFullLab();
  browser = await launchChromium();
  mkdirSync(screenshots, { recursive: true });
});

afterEach(() => sessions.check());

afterAll(async () => {
  await browser?.close();
  await lab?.close();
});

describe('the trace timeline (chapter 2)', () => {
  it('traces ws:// and wss:// of the lab server, all phases in order, TLS only in wss://', async () => {
    const { page } = await open();
    await traceBoth(page);
    const ws = await phasesOf(page, 'ws');
    const wss = await phasesOf(page, 'wss');
    expect(ws.slice(0, 6)).toEqual([
      'dns',
      'tcp',
      'request',
      'response',
      'message-sent',
      'message-echoed',
    ]);
    expect(wss.slice(0, 7)).toEqual([
      'dns',
      'tcp',
      'tls',
      'request',
      'response',
      'message-sent',
      'message-echoed',
    ]);
    expect(ws).not.toContain('tls');
    for (const phase of ['close-sent', 'close-received', 'fin-received', 'fin-sent']) {
      expect(ws).toContain(phase);
      expect(wss).toContain(phase);
    }
    // The run titles are the URLs the lab server traced: its own ports.
    expect(await page.locator('.tt-run[data-scheme="ws"] .tt-run-title').textContent()).toBe(
      `ws://127.0.0.1:${lab.port}/echo`,
    );
    expect(await page.locator('.tt-run[data-scheme="wss"] .tt-run-title').textContent()).toBe(
      `wss://127.0.0.1:${lab.tlsPort}/echo`,
    );
    // Each phase has its detail; the response is the 101; the TLS facts are shown.
    const response = page.locator('.tt-run[data-scheme="wss"] .tt-phase[data-phase="response"]');
    expect(await response.locator('.tt-detail').textContent()).toContain('101 Switching Protocols');
    const tls = page.locator('.tt-run[data-scheme="wss"] .tt-tls');
    expect(await tls.textContent()).toMatch(/TLSv1\.3/);
    expect(await page.locator('.tt-comparison').textContent()).toMatch(
      /wss:\/\/ spent [\d.]+ ms in its TLS handshake/,
    );
    // Bars share one axis: the TLS bar starts after the TCP bar ends, and widths are percentages.
    const geometry = await page.locator('.tt-run[data-scheme="wss"] .tt-bar').evaluateAll((bars) =>
      bars.map((bar) => ({
        left: Number.parseFloat((bar as HTMLElement).style.left),
        width: Number.parseFloat((bar as HTMLElement).style.width),
      })),
    );
    for (const bar of geometry) {
      expect(bar.left).toBeGreaterThanOrEqual(0);
      expect(bar.left + bar.width).toBeLessThanOrEqual(101);
    }
    const [, tcp, tlsBar] = geometry;
    expect(tlsBar?.left ?? 0).toBeGreaterThanOrEqual((tcp?.left ?? 0) + (tcp?.width ?? 0) - 0.7);
    await page.waitForTimeout(600);
    await screenshot(page, 'trace-light');
    await page.screenshot({ path: `${screenshots}/trace-chapter.png`, fullPage: true });
  });

  it('replays in slow motion: the phases appear one by one', async () => {
    const { page } = await open();
    await traceBoth(page);
    const final = (await phasesOf(page, 'wss')).length;
    // Sample the number of wss:// rows while the replay runs, from inside the page.
    await page.evaluate(() => {
      const samples: number[] = [];
      (window as unknown as { samples: number[] }).samples = samples;
      const timer = setInterval(() => {
        samples.push(document.querySelectorAll('.tt-run[data-scheme="wss"] .tt-phase').length);
        if (document.querySelector('.tt-status')?.textContent === 'Replay finished.') {
          clearInterval(timer);
        }
      }, 40);
    });
    await page.getByRole('button', { name: 'Replay in slow motion' }).click();
    await expect
      .poll(() => page.locator('.tt-status').textContent(), { timeout: 15_000 })
      .toBe('Replay finished.');
    const samples = await page.evaluate(() => (window as unknown as { samples: number[] }).samples);
    const during = samples.slice(1);
    expect(Math.min(...during)).toBeLessThan(final);
    // Once the replay has started over, rows only ever get added, never taken away.
    const restart = during.indexOf(Math.min(...during));
    const after = during.slice(restart);
    expect(after).toEqual([...after].sort((a, b) => a - b));
    expect((await phasesOf(page, 'wss')).length).toBe(final);
  });

  it('shows everything at once when the system asks for reduced motion, in dark mode', async () => {
    const { page } = await open({ colorScheme: 'dark', reducedMotion: 'reduce' });
    await traceBoth(page);
    const animation = await page
      .locator('.tt-bar')
      .first()
      .evaluate((bar) => getComputedStyle(bar).animationName);
    expect(animation).toBe('none');
    await page.getByRole('button', { name: 'Replay in slow motion' }).click();
    expect(await page.locator('.tt-status').textContent()).toMatch(/reduced motion/);
    await screenshot(page, 'trace-dark');
  });

  it('works on a phone with the keyboard alone', async () => {
    const { page } = await open({ viewport: { width: 390, height: 844 }, isMobile: true });
    const button = page.getByRole('button', { name: 'Trace wss://' });
    await button.focus();
    await page.keyboard.press('Enter');
    await page
      .locator('.tt-run[data-scheme="wss"][data-status="done"]')
      .waitFor({ timeout: 20_000 });
    expect(await phasesOf(page, 'wss')).toContain('tls');
    expect(await page.locator('.tt-run[data-scheme="ws"]').getAttribute('data-status')).toBe(
      'idle',
    );
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'trace-phone');
  });
});

describe('without the lab server', () => {
  let site: StaticServer;
  beforeAll(async () => {
    site = await serveSiteOnly();
  });
  afterAll(async () => {
    await site.close();
  });

  it('says the lab server is not running and how to start it', async () => {
    const session = await sessions.open(browser, `${site.url}/connection-path/`, {
      expectErrors: [/WebSocket connection to .* failed/],
    });
    const { page } = session;
    await page.getByRole('button', { name: 'Trace ws://' }).click();
    const alert = page.locator('.tt-unavailable [role="alert"]');
    await alert.waitFor({ timeout: 20_000 });
    expect(await alert.textContent()).toContain('pnpm install && pnpm lab');
    // The counting lab on the same page asks for /lab.json, which a plain static server lacks;
    // that 404 is the point of this test's setting, not an error of the trace timeline.
    const notFound = /lab\.json|status of 404/;
    session.errors.splice(
      0,
      session.errors.length,
      ...session.errors.filter((e) => !notFound.test(e)),
    );
  });
});
