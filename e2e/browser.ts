/**
 * What every browser test shares: Debian's Chromium driven by playwright-core (it cannot
 * download browsers here), and pages opened in their own contexts whose errors and requests
 * are recorded, so each test can fail on an error in the page or a request to another host.
 */
import { createRequire } from 'node:module';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { expect } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Without the networking flags Chromium reaches for Google's hosts at start.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface Session {
  readonly context: BrowserContext;
  readonly page: Page;
  /** HTTP requests and WebSocket connections the page made. */
  readonly requests: string[];
  readonly errors: string[];
}

export interface OpenOptions extends BrowserContextOptions {
  /** Console errors the test expects (a refused WebSocket), matched and not counted. */
  readonly expectErrors?: readonly RegExp[];
  readonly waitUntil?: 'load' | 'networkidle';
}

/** The pages a test file opened; `check` closes them and fails on what went wrong in them. */
export class Sessions {
  readonly #open: Session[] = [];

  async open(browser: Browser, url: string, options: OpenOptions = {}): Promise<Session> {
    const { expectErrors = [], waitUntil = 'load', ...contextOptions } = options;
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      ...contextOptions,
    });
    const page = await context.newPage();
    const session: Session = { context, page, requests: [], errors: [] };
    context.on('request', (request) => session.requests.push(request.url()));
    page.on('websocket', (ws) => session.requests.push(ws.url()));
    page.on('pageerror', (error) => session.errors.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 400) session.errors.push(`${response.status()} ${response.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      if (!expectErrors.some((pattern) => pattern.test(text))) session.errors.push(text);
    });
    this.#open.push(session);
    await page.goto(url, { waitUntil });
    return session;
  }

  async check(): Promise<void> {
    const done = this.#open.splice(0);
    for (const session of done) await session.context.close();
    for (const session of done) {
      expect(session.errors, 'errors in the page').toEqual([]);
      expect(session.requests.length).toBeGreaterThan(0);
      const foreign = session.requests.filter((url) => {
        const { protocol, hostname } = new URL(url);
        return !(protocol === 'data:' || protocol === 'blob:' || hostname === '127.0.0.1');
      });
      expect(
        foreign,
        'requests to hosts other than 127.0.0.1 (the site must work offline)',
      ).toEqual([]);
    }
  }
}

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Serious and critical axe-core violations on the page (WCAG 2 A and AA rules). */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: axePath });
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            context: Document,
            options: object,
          ): Promise<{
            violations: {
              id: string;
              impact: string;
              help: string;
              nodes: { target: string[] }[];
            }[];
          }>;
        };
      }
    ).axe;
    // Starlight's own search button (its label "Search" differs from its visible "Search Ctrl
    // K") is outside this project's pages; everything else is checked.
    const result = await axe.run(
      { exclude: [['button[data-open-modal]']] } as unknown as Document,
      {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      },
    );
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
      );
  });
}
