/**
 * Classroom mode in Debian's Chromium against the real lab server in classroom mode (a class in
 * a temporary data folder): a teacher page and two students, each in their own browser context.
 * Both join; one answers an exercise wrong, then right, and the teacher's table and wrong-answer
 * list follow live; the teacher locks the chapter and the student's exercise locks; the export
 * downloads. Screenshots in light and dark mode and at phone width.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, Sessions } from './browser.ts';
import { type ClassServer, type StaticServer, serveClass, serveDist } from './serve.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const screenshots = fileURLToPath(new URL('./screenshots', import.meta.url));
const PHONE = { width: 375, height: 740 };

let server: ClassServer;
let browser: Browser;
const sessions = new Sessions();

function accept(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

function exercise(page: Page, id: string): Locator {
  return page.locator(`[data-exercise="${id}"]`);
}

async function join(page: Page, name: string): Promise<void> {
  const code = page.locator('#cls-code');
  await code.waitFor();
  // The code came from the link's #code= fragment.
  expect(await code.inputValue()).toBe(server.code);
  await page.locator('#cls-name').fill(name);
  await page.getByRole('button', { name: 'Join the class' }).press('Enter');
  await page.locator('.cls-joined').waitFor();
}

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  server = await serveClass('Networks, 3rd period');
  browser = await launchChromium();
});

afterEach(() => sessions.check());

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('classroom mode', () => {
  it('a teacher follows two students live, locks a chapter, and exports the results', async () => {
    const teacher = await sessions.open(browser, server.teacherUrl);
    const dash = teacher.page;
    // The token leaves the address bar at once and lives on in this tab's sessionStorage.
    await dash.locator('.dash-code').waitFor();
    expect(dash.url()).not.toContain('token=');
    expect(dash.url()).toBe(`${server.url}/teacher/`);
    expect(await dash.locator('.dash-code').textContent()).toBe(server.code);
    expect(await dash.locator('.dash-class').textContent()).toBe('Networks, 3rd period');
    // The QR code came from the server as SVG text, was checked, and is drawn.
    expect(await dash.locator('.dash-qr svg path').count()).toBeGreaterThan(0);
    expect(await dash.locator('.dash-qr-missing').count()).toBe(0);
    expect(await dash.locator('.dash-empty').first().textContent()).toMatch(/No student/);

    // Two students, each in a browser of their own; a name that looks like HTML stays text.
    const ana = await sessions.open(browser, server.studentUrl);
    await join(ana.page, 'Ana <b>bold</b>');
    expect(await ana.page.locator('.cls-name').textContent()).toBe('Ana <b>bold</b>');
    expect(await ana.page.locator('.cls-joined b').count()).toBe(0);
    const ben = await sessions.open(browser, server.studentUrl, { colorScheme: 'dark' });
    await join(ben.page, 'Ben');

    const rows = dash.locator('.dash-table tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await dash.locator('.dash-name').allTextContents()).toEqual(['Ana <b>bold</b>', 'Ben']);
    expect(await dash.locator('.dash-summary').textContent()).toBe('2 students joined, 2 online.');

    // Ana answers chapter 4's exercise: wrong, then right. Her values come from the server.
    await ana.page.goto(`${server.url}/accept/#exercise-accept-compute`);
    const section = exercise(ana.page, 'accept-compute');
    await section.locator('.ex-code').waitFor();
    expect(await section.locator('.ex-class-note').textContent()).toBe(
      'In class “Networks, 3rd period” as Ana <b>bold</b>.',
    );
    // No "New values" in class: everyone keeps the values the server gave them.
    expect(await section.locator('.ex-new').count()).toBe(0);
    const code = (await section.locator('.ex-code').textContent()) ?? '';
    const key = /Sec-WebSocket-Key: (\S+)/.exec(code)?.[1];
    expect(key).toBeDefined();
    const input = section.locator('input.ex-input');
    await input.fill('dGhpcyBpcyB3cm9uZw==');
    await section.getByRole('button', { name: 'Check' }).press('Enter');
    await expect.poll(() => section.locator('.ex-verdict').textContent()).toBe('Not yet.');
    expect(await section.locator('.ex-meta').textContent()).toMatch(/^1 wrong try\./);
    expect(await section.locator('.ex-hints li').count()).toBe(1);

    const cell = dash.locator(
      '.dash-table tbody tr:first-child td[data-exercise="accept-compute"]',
    );
    await expect.poll(() => cell.getAttribute('data-status')).toBe('trying');
    expect(await cell.textContent()).toMatch(/^1 ✗/);
    const wrong = dash.locator('.dash-wrong-exercise[data-exercise="accept-compute"]');
    await expect
      .poll(() => wrong.locator('.dash-wrong-answer').first().textContent())
      .toBe('dGhpcyBpcyB3cm9uZw==');

    await input.fill(accept(key as string));
    await section.getByRole('button', { name: 'Check' }).press('Enter');
    await expect.poll(() => section.locator('.ex-verdict').textContent()).toBe('Correct.');
    expect(await section.locator('.ex-badge').textContent()).toBe('Solved');
    await expect.poll(() => cell.getAttribute('data-status')).toBe('solved');
    expect(await cell.textContent()).toMatch(/^✓ 1/);
    const header = dash.locator('th[data-exercise="accept-compute"] .dash-counts');
    expect(await header.textContent()).toBe('1/2 ✓');
    await section.screenshot({ path: `${screenshots}/classroom-exercise-light.png` });

    // After a reload the server gives back the same values, state and last answer.
    await ana.page.reload();
    await exercise(ana.page, 'accept-compute').locator('.ex-badge').waitFor();
    expect(await exercise(ana.page, 'accept-compute').locator('.ex-code').textContent()).toBe(code);
    expect(await exercise(ana.page, 'accept-compute').locator('.ex-badge').textContent()).toBe(
      'Solved',
    );

    await dash.screenshot({ path: `${screenshots}/classroom-teacher-light.png`, fullPage: true });

    // The teacher locks chapter 4: Ana's exercise locks without a reload.
    await dash.getByRole('button', { name: /^Lock .*Accept/ }).press('Enter');
    await expect
      .poll(() => exercise(ana.page, 'accept-compute').locator('.ex-badge').textContent())
      .toBe('Locked');
    expect(await exercise(ana.page, 'accept-compute').locator('.ex-code').count()).toBe(0);
    await exercise(ana.page, 'accept-compute').screenshot({
      path: `${screenshots}/classroom-exercise-locked-light.png`,
    });
    await expect
      .poll(() => dash.locator('.dash-chapter-list li[data-state="locked"]').count())
      .toBe(1);
    // Ben's classroom page shows it locked too.
    await expect
      .poll(() => ben.page.locator('.cls-chapters li[data-state="locked"]').count())
      .toBe(1);
    await ben.page.screenshot({
      path: `${screenshots}/classroom-student-dark.png`,
      fullPage: true,
    });
    // Opened again, the exercise comes back.
    await dash.getByRole('button', { name: /^Open .*Accept/ }).press('Enter');
    await exercise(ana.page, 'accept-compute').locator('.ex-code').waitFor();
    // Ben (dark mode) gets values of his own, drawn by the server from his id.
    await ben.page.goto(`${server.url}/accept/#exercise-accept-compute`);
    const bens = exercise(ben.page, 'accept-compute');
    await bens.locator('.ex-code').waitFor();
    expect(await bens.locator('.ex-code').textContent()).not.toBe(code);
    await bens.screenshot({ path: `${screenshots}/classroom-exercise-dark.png` });

    // Export: fetched with the token in the Authorization header, saved as a file.
    const download = dash.waitForEvent('download');
    await dash.getByRole('button', { name: 'Export CSV' }).press('Enter');
    const file = await (await download).path();
    const csv = readFileSync(file, 'utf8');
    expect(csv).toContain('accept-compute');
    expect(csv).toContain('Ana <b>bold</b>');
    expect(await dash.locator('.dash-export-status').textContent()).toMatch(/^Saved class-/);
    const json = dash.waitForEvent('download');
    await dash.getByRole('button', { name: 'Export JSON' }).press('Enter');
    expect(readFileSync(await (await json).path(), 'utf8')).toContain('Ben');
    // Three browser contexts and a dozen round trips: more than the default minute on a busy
    // two-core machine.
  }, 180_000);

  it('checks a live task on the server from the student’s own tagged console connection', async () => {
    const { page } = await sessions.open(browser, server.studentUrl);
    await join(page, 'Dee');
    await page.goto(`${server.url}/big-picture/#exercise-big-picture-one-connection`);
    const section = exercise(page, 'big-picture-one-connection');
    await section.locator('.ex-prompt').waitFor();
    const prompt = (await section.locator('.ex-prompt p').textContent()) ?? '';
    const task = /send the text message "([^"]+)" (\d+) times/.exec(prompt);
    expect(task, prompt).not.toBeNull();
    const [, word, count] = task as RegExpExecArray;
    const check = section.getByRole('button', { name: 'Check my attempt' });
    await check.press('Enter');
    await expect
      .poll(() => section.locator('.ex-live-status').textContent())
      .toMatch(/^No attempt seen yet: no \/echo connection carrying your tag/);

    // The live console, in a class, opens /echo and /observe with the student's tag.
    await page.goto(`${server.url}/console/`);
    await page.locator('.lc-status[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.locator('.lc-editor .cm-content').fill(word as string);
    for (let i = 0; i < Number(count); i++) {
      await page.getByRole('button', { name: 'Send text' }).click();
    }
    // Wait for the echoes (the console's frame table: one row each way per message), so every
    // message reached the server before the page moves on.
    await expect
      .poll(() =>
        page
          .locator('.lc-table tbody tr')
          .evaluateAll(
            (rows) => rows.filter((row) => row.textContent?.includes('server to client')).length,
          ),
      )
      .toBe(Number(count));

    await page.goto(`${server.url}/big-picture/#exercise-big-picture-one-connection`);
    const again = exercise(page, 'big-picture-one-connection');
    await again.getByRole('button', { name: 'Check my attempt' }).press('Enter');
    // Only connections carrying this student's tag count, so this proves the console tagged it.
    await expect.poll(() => again.locator('.ex-verdict').textContent()).toBe('Correct.');
    expect(await again.locator('.ex-badge').textContent()).toBe('Solved');
  });

  it('the dashboard and the join page read well in dark mode and at phone width', async () => {
    const dark = await sessions.open(browser, server.teacherUrl, { colorScheme: 'dark' });
    await dark.page.locator('.dash-table').waitFor();
    await dark.page.screenshot({
      path: `${screenshots}/classroom-teacher-dark.png`,
      fullPage: true,
    });
    const phone = await sessions.open(browser, server.teacherUrl, {
      viewport: PHONE,
      isMobile: true,
      hasTouch: true,
    });
    await phone.page.locator('.dash-table').waitFor();
    // The table scrolls inside its own box; the page itself never gets wider than the phone.
    expect(
      await phone.page.evaluate(() => document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(PHONE.width);
    await phone.page.screenshot({
      path: `${screenshots}/classroom-teacher-phone.png`,
      fullPage: true,
    });

    const student = await sessions.open(browser, server.studentUrl, {
      viewport: PHONE,
      isMobile: true,
      hasTouch: true,
    });
    await student.page.locator('#cls-code').waitFor();
    expect(
      await student.page.evaluate(() => document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(PHONE.width);
    await student.page.screenshot({
      path: `${screenshots}/classroom-join-phone.png`,
      fullPage: true,
    });
    const light = await sessions.open(browser, server.studentUrl);
    await light.page.locator('#cls-code').waitFor();
    await light.page.screenshot({ path: `${screenshots}/classroom-join-light.png` });
  });

  it('refuses a wrong join code with the server’s reason, and a bad teacher token', async () => {
    const { page } = await sessions.open(browser, `${server.url}/classroom/#code=ABCDEF`);
    await page.locator('#cls-name').fill('Cleo');
    await page.getByRole('button', { name: 'Join the class' }).press('Enter');
    await expect.poll(() => page.locator('.cls-refused').textContent()).toMatch(/code/i);
    // A code with a letter codes never use is explained before anything is sent.
    await page.locator('#cls-code').fill('K7QX0M');
    await page.getByRole('button', { name: 'Join the class' }).press('Enter');
    expect(await page.locator('#cls-code-error').textContent()).toMatch(/never contains "0"/);
    expect(await page.locator('#cls-code').getAttribute('aria-invalid')).toBe('true');

    const teacher = await sessions.open(browser, `${server.url}/teacher/#token=${'A'.repeat(43)}`);
    await expect
      .poll(() => teacher.page.locator('.cls-off-title').textContent())
      .toMatch(/refused the teacher token/);
    expect(teacher.page.url()).not.toContain('token=');
  });
});

describe('without a class', () => {
  let plain: StaticServer;
  beforeAll(async () => {
    plain = await serveDist();
  });
  afterAll(async () => {
    await plain?.close();
  });

  it('both pages say that classroom mode is off', async () => {
    const { page } = await sessions.open(browser, `${plain.url}/classroom/`);
    await expect
      .poll(() => page.locator('.cls-off-title').textContent())
      .toBe('Classroom mode is off.');
    const teacher = await sessions.open(browser, `${plain.url}/teacher/#token=${'B'.repeat(43)}`);
    await expect
      .poll(() => teacher.page.locator('.cls-off-title').textContent())
      .toBe('Classroom mode is off.');
  });
});
