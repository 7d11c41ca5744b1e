/**
 * axe-core on every page the site builds, in light and dark mode, with the real lab server
 * running (so the live labs show their connected state): no serious or critical violations of
 * the WCAG 2 A and AA rules. Pages are found in dist/, so a new chapter is checked without being
 * listed here.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, launchChromium, Sessions } from './browser.ts';
import { type StaticServer, serveDist } from './serve.ts';

const dist = fileURLToPath(new URL('../dist', import.meta.url));

/** Site paths of every built page: `/`, `/frames/`, ... (the 404 page included). */
function pages(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== '_astro' && name !== 'pagefind') walk(path);
      } else if (name === 'index.html') {
        const folder = relative(dist, dir).split(sep).join('/');
        found.push(folder === '' ? '/' : `/${folder}/`);
      }
    }
  };
  walk(dist);
  return found.sort();
}

let server: StaticServer;
let browser: Browser;
const sessions = new Sessions();

beforeAll(async () => {
  server = await serveDist();
  browser = await launchChromium();
});

afterEach(async () => {
  await sessions.check();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('accessibility', () => {
  it('finds the chapters in the build', () => {
    expect(pages()).toEqual(
      expect.arrayContaining(['/', '/frames/', '/handshake/', '/messages/', '/console/']),
    );
  });

  for (const path of pages()) {
    it(`${path} has no serious accessibility problems, in light and dark`, async () => {
      for (const colorScheme of ['light', 'dark'] as const) {
        const { page } = await sessions.open(browser, `${server.url}${path}`, {
          colorScheme,
          waitUntil: 'networkidle',
        });
        expect(await axeViolations(page), `${path} ${colorScheme}`).toEqual([]);
      }
    }, 60_000);
  }
});
