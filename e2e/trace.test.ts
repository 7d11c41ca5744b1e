/**
 * /trace from a real browser page (Debian's Chromium) on the real lab server (e2e/serve.ts):
 * the page learns the proxies from /lab.json, asks for traces of the lab server itself, gets the
 * phases streamed then the trace, sees ws:// fail through the naive proxy with the reason, and is
 * refused when it names another host. The chapter pages that draw it are tested by their own lab.
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Trace, TraceServerMessage } from '../protocol/trace.ts';
import { launchChromium, Sessions } from './browser.ts';
import { type StaticServer, serveDist } from './serve.ts';

let server: StaticServer;
let browser: Browser;
const sessions = new Sessions();

beforeAll(async () => {
  server = await serveDist();
  browser = await launchChromium();
});
afterEach(() => sessions.check());
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('/trace from a browser page', () => {
  it('streams a ws:// trace of the lab server, and the naive proxy breaking it, with the reason', async () => {
    const { page } = await sessions.open(browser, `${server.url}/`);
    const result = await page.evaluate(async () => {
      const info = (await (await fetch('/lab.json')).json()) as {
        ports: { proxies: { connect: number; aware: number; naive: number } | null };
      };
      const ask = (request: object) =>
        new Promise<unknown[]>((resolve, reject) => {
          const ws = new WebSocket(`ws://${location.host}/trace`);
          const messages: unknown[] = [];
          ws.onopen = () => ws.send(JSON.stringify(request));
          ws.onerror = () => reject(new Error('socket error'));
          ws.onmessage = (event) => {
            const message = JSON.parse(event.data as string) as { type: string };
            messages.push(message);
            if (message.type !== 'phase') {
              ws.close();
              resolve(messages);
            }
          };
        });
      return {
        proxies: info.ports.proxies,
        direct: await ask({ type: 'trace', scheme: 'ws', via: 'direct', message: 'from chromium' }),
        naive: await ask({ type: 'trace', scheme: 'ws', via: 'naive' }),
        aware: await ask({ type: 'trace', scheme: 'ws', via: 'aware' }),
        foreign: await ask({ type: 'trace', scheme: 'ws', via: 'direct', host: 'example.com' }),
      };
    });
    expect(result.proxies).not.toBeNull();
    const direct = result.direct as TraceServerMessage[];
    const done = direct.at(-1) as { type: 'done'; trace: Trace };
    expect(done.type).toBe('done');
    expect(done.trace.ok).toBe(true);
    expect(direct.slice(0, -1).map((m) => (m.type === 'phase' ? m.phase.name : m.type))).toEqual([
      'dns',
      'tcp',
      'request',
      'response',
      'message-sent',
      'message-echoed',
      'close-sent',
      'close-received',
      'fin-received',
      'fin-sent',
    ]);
    const naive = (result.naive as TraceServerMessage[]).at(-1) as { type: 'done'; trace: Trace };
    expect(naive.trace.ok).toBe(false);
    expect(naive.trace.failure?.explanation).toContain('The proxy removed Connection and Upgrade');
    const aware = (result.aware as TraceServerMessage[]).at(-1) as { type: 'done'; trace: Trace };
    expect(aware.trace.ok).toBe(true);
    const [foreign] = result.foreign as TraceServerMessage[];
    expect(foreign?.type).toBe('refused');
  });
});
