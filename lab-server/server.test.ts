import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabServer, startLabServer } from './server.ts';
import { siteIsStale } from './site-build.ts';

describe('lab server: the built site on one port', () => {
  let root: string;
  let lab: LabServer;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'wslab-'));
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'dist', 'index.html'), '<h1>home</h1>');
    writeFileSync(join(root, 'dist', '404.html'), '<h1>not here</h1>');
    lab = await startLabServer({ host: '127.0.0.1', port: 0, root });
  });
  afterAll(async () => {
    await lab.close();
    rmSync(root, { recursive: true });
  });

  it('serves the site over real HTTP on loopback', async () => {
    expect(lab.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(lab.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toBe('<h1>home</h1>');
  });

  it("answers unknown paths with the site's own 404 page", async () => {
    const res = await fetch(new URL('/no/such/page', lab.url));
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('<h1>not here</h1>');
  });

  it('refuses to start on a busy port with EADDRINUSE, which main.ts explains', async () => {
    const port = Number(new URL(lab.url).port);
    await expect(startLabServer({ host: '127.0.0.1', port, root })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });

  it('knows when dist/ is older than its sources', () => {
    expect(siteIsStale(root)).toBe(false);
    mkdirSync(join(root, 'content'));
    const later = new Date(Date.now() + 60_000);
    writeFileSync(join(root, 'content', 'new.mdx'), '# new');
    utimesSync(join(root, 'content', 'new.mdx'), later, later);
    expect(siteIsStale(root)).toBe(true);
  });
});
