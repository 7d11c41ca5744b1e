import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestLab, type TestLab } from '../../lab-server/test-support/lab.ts';
import { generateKey } from '../../protocol/accept.ts';
import type { LabEvent } from '../../protocol/annotations.ts';
import { HttpHeadParser } from '../../protocol/http-head.ts';
import { parseObserverMessage } from '../shared/connection-events.ts';
import {
  DEFAULT_MAX_PAYLOAD,
  MAX_ORIGIN,
  MAX_SEND,
  OriginRun,
  originPresets,
  type RunAction,
  readOriginInput,
  readSize,
  requestFor,
  sizeOutcome,
  type Target,
} from './model.ts';

describe('the Origin presets', () => {
  it('offer the page’s own origin, a foreign site, null, a look-alike, a raw address, another scheme and none', () => {
    const presets = originPresets('http://127.0.0.1:6455');
    expect(presets.map((p) => p.origin)).toEqual([
      'http://127.0.0.1:6455',
      'http://evil.example',
      'null',
      'http://localhost.evil.example:6455',
      'http://192.168.1.20:6455',
      'https://127.0.0.1:6455',
      null,
    ]);
    expect(new Set(presets.map((p) => p.id)).size).toBe(presets.length);
  });

  it('leave out the port for a page on the default port', () => {
    expect(originPresets('http://localhost').map((p) => p.origin)).toContain(
      'http://localhost.evil.example',
    );
  });
});

describe('reading a typed Origin as a header value (RFC 9110 §5.5)', () => {
  it('takes any one-line visible ASCII value, trimmed', () => {
    expect(readOriginInput('  http://attacker.example:8080 ')).toEqual({
      ok: true,
      origin: 'http://attacker.example:8080',
    });
    expect(readOriginInput('not even a URL')).toEqual({ ok: true, origin: 'not even a URL' });
  });

  it('refuses an empty value and says how to send none', () => {
    expect(readOriginInput('   ')).toMatchObject({ ok: false, error: /No Origin header/ });
  });

  it('refuses a line break, which would start a new header (RFC 9112 §5), naming its position', () => {
    expect(readOriginInput('http://a.example\r\nX-Evil: 1')).toMatchObject({
      ok: false,
      error: /Character 17 is a line break/,
    });
  });

  it('refuses control characters and non-ASCII, pointing to punycode', () => {
    expect(readOriginInput('http://a\u0000b')).toMatchObject({ error: /U\+0000/ });
    expect(readOriginInput('http://bücher.example')).toMatchObject({
      error: /Character 10 \(ü\).*punycode/,
    });
  });

  it(`refuses more than ${MAX_ORIGIN} characters`, () => {
    expect(readOriginInput(`http://${'a'.repeat(MAX_ORIGIN)}`)).toMatchObject({
      error: /at most 200/,
    });
  });

  it('whatever is typed, accepts it or explains why not; an accepted one makes a request that parses', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 260 }), (text) => {
        const read = readOriginInput(text);
        if (!read.ok) {
          expect(read.error.length).toBeGreaterThan(10);
          return;
        }
        const request = requestFor({
          host: '127.0.0.1:6455',
          target: '/echo',
          origin: read.origin,
          key: generateKey(),
        });
        const parsed = new HttpHeadParser({ kind: 'request' }).push(request.bytes);
        expect(parsed.state).toBe('complete');
        if (parsed.state !== 'complete') return;
        const origins = parsed.head.headers.filter((h) => h.lowerName === 'origin');
        expect(origins.map((h) => h.value)).toEqual([read.origin]);
      }),
    );
  });
});

describe('reading a message size', () => {
  it('reads bytes, units and "+ n"', () => {
    expect(readSize('1048577')).toEqual({ ok: true, bytes: 1_048_577 });
    expect(readSize('1,048,577')).toEqual({ ok: true, bytes: 1_048_577 });
    expect(readSize('1 MiB + 1')).toEqual({ ok: true, bytes: DEFAULT_MAX_PAYLOAD + 1 });
    expect(readSize('64 KiB')).toEqual({ ok: true, bytes: 65_536 });
    expect(readSize('2 MB')).toEqual({ ok: true, bytes: 2_000_000 });
  });

  it('explains what is wrong with anything else', () => {
    expect(readSize('lots')).toMatchObject({ ok: false, error: /not a size/ });
    expect(readSize('3 parsecs')).toMatchObject({ ok: false, error: /not a size|Unknown unit/ });
    expect(readSize('2 GiB')).toMatchObject({ ok: false, error: /Unknown unit “gib”/ });
    expect(readSize('0')).toMatchObject({ ok: false, error: /at least 1 byte/ });
    expect(readSize('65 MiB')).toMatchObject({ ok: false, error: /more than this lab builds/ });
    expect(readSize(String(MAX_SEND))).toEqual({ ok: true, bytes: MAX_SEND });
  });

  it('never throws, and an accepted size is an integer from 1 to the cap', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const size = readSize(text);
        if (size.ok) {
          expect(Number.isSafeInteger(size.bytes)).toBe(true);
          expect(size.bytes).toBeGreaterThanOrEqual(1);
          expect(size.bytes).toBeLessThanOrEqual(MAX_SEND);
        }
      }),
    );
  });
});

describe('what a size outcome says', () => {
  it('names 1009 and the payload limit (RFC 6455 §7.4.1, §10.4)', () => {
    const outcome = sizeOutcome(DEFAULT_MAX_PAYLOAD + 1, { code: 1009, reason: 'too big' });
    expect(outcome).toMatchObject({ kind: 'closed', code: 1009 });
    expect(outcome.text).toMatch(
      /1,048,577 bytes is more than.*--max-payload.*RFC 6455 §7.4.1, §10.4/,
    );
    expect(outcome.text).toContain('“too big”');
  });

  it('says an echo was within the limit, and 1006 means no closing handshake', () => {
    expect(sizeOutcome(10, { echoed: 10 })).toMatchObject({ kind: 'echoed' });
    expect(sizeOutcome(10, { code: 1006, reason: '' }).text).toMatch(/RFC 6455 §7.1.5/);
  });
});

// ---- against a real lab server -------------------------------------------------------------------

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab({ limits: { maxPayload: 4096 } });
});
afterAll(async () => {
  await t.close();
});

/** Drives an OriginRun exactly as the view does, with `ws` as the browser's WebSocket. */
function runOrigin(target: Target, origin: string | null): Promise<OriginRun> {
  const page = `http://127.0.0.1:${t.port}`;
  const run = new OriginRun({
    host: `127.0.0.1:${t.port}`,
    target,
    origin,
    key: generateKey(),
  });
  const relay = new WebSocket(`ws://127.0.0.1:${t.port}/raw`, { origin: page });
  let observer: WebSocket | null = null;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out in phase ${run.phase}`));
    }, 4000);
    const finish = () => {
      clearTimeout(timer);
      relay.close();
      // Annotations trail the bytes a little, as in the page.
      setTimeout(() => observer?.close(), 200);
    };
    const perform = (actions: readonly RunAction[]) => {
      for (const action of actions) {
        if (action.type === 'send') relay.send(action.bytes);
        else if (action.type === 'end') relay.send('end');
        else if (action.type === 'observe') {
          observer = new WebSocket(`ws://127.0.0.1:${t.port}/observe?id=${action.conn}`, {
            origin: page,
          });
          observer.on('message', (data) => {
            const parsed = parseObserverMessage(data.toString());
            if (parsed === null) return;
            if (parsed.type === 'snapshot') perform(run.observerReady());
            else run.event(parsed);
          });
        } else if (action.phase === 'closed') {
          setTimeout(() => {
            finish();
            resolve(run);
          }, 300);
        }
      }
    };
    relay.on('message', (data, isBinary) => {
      if (isBinary) perform(run.received(new Uint8Array(data as Buffer)));
      else perform(run.relayStatus(data.toString()));
    });
    relay.on('error', (error) => {
      finish();
      reject(error);
    });
  });
}

const typesOf = (events: readonly LabEvent[]) => events.map((e) => e.type);

describe('the Origin lab against the real lab server (RFC 6455 §10.2)', () => {
  for (const target of ['/echo', '/observe'] as const) {
    it(`${target}: a foreign origin gets 403 with the server’s reason, annotated on the relay’s connection`, async () => {
      const run = await runOrigin(target, 'http://evil.example');
      expect(run.answer).toMatchObject({ status: 403, verdict: 'refused-origin' });
      expect(run.answer?.body).toBe(t.lab.trust.checkOrigin('http://evil.example').reason);
      expect(typesOf(run.events)).toEqual(
        expect.arrayContaining(['handshake-request', 'handshake-response', 'socket-closed']),
      );
      const response = run.events.find((e) => e.type === 'handshake-response');
      expect(response).toMatchObject({ status: 403, body: run.answer?.body });
      const request = run.events.find((e) => e.type === 'handshake-request');
      expect(request?.type === 'handshake-request' && request.target).toBe(target);
      expect(
        request?.type === 'handshake-request' &&
          request.findings.every((f) => f.ok || f.informational),
      ).toBe(true);
    });

    it(`${target}: the page’s own origin gets 101, and the lab closes politely`, async () => {
      const run = await runOrigin(target, `http://127.0.0.1:${t.port}`);
      expect(run.answer).toMatchObject({ status: 101, verdict: 'accepted', body: '' });
      expect(run.events.find((e) => e.type === 'handshake-response')).toMatchObject({
        status: 101,
      });
    });
  }

  it('null, a look-alike and another scheme are refused; no Origin is let in', async () => {
    for (const origin of [
      'null',
      `http://localhost.evil.example:${t.port}`,
      `https://127.0.0.1:${t.port}`,
    ]) {
      const run = await runOrigin('/echo', origin);
      expect(run.answer?.verdict, origin).toBe('refused-origin');
      expect(run.answer?.body).toContain(`Origin "${origin}" is not allowed`);
    }
    const none = await runOrigin('/echo', null);
    expect(none.answer).toMatchObject({ status: 101, verdict: 'accepted' });
    expect(none.answer?.summary).toMatch(/no Origin header/);
  });
});

describe('the payload limit against the real lab server (RFC 6455 §7.4.1, §10.4)', () => {
  const sendOfSize = (size: number) =>
    new Promise<{ echoed: number } | { code: number; reason: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${t.port}/echo?limits`, {
        origin: `http://127.0.0.1:${t.port}`,
      });
      ws.on('open', () => ws.send('a'.repeat(size)));
      ws.on('message', (data) => {
        resolve({ echoed: (data as Buffer).length });
        ws.close(1000);
      });
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.on('error', () => {});
      setTimeout(() => reject(new Error('no answer')), 3000);
    });

  it('a message at the limit is echoed; one byte more closes with 1009', async () => {
    expect(sizeOutcome(4096, await sendOfSize(4096))).toMatchObject({ kind: 'echoed' });
    const over = sizeOutcome(4097, await sendOfSize(4097));
    expect(over).toMatchObject({ kind: 'closed', code: 1009 });
  });
});
