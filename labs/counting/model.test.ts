import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type LabCertificate, loadCertificate } from '../../lab-server/certificate.ts';
import { startTestLab, type TestLab } from '../../lab-server/test-support/lab.ts';
import {
  compare,
  discover,
  echoUrl,
  httpsVersion,
  MAX_COUNT,
  parseCount,
  RunError,
  readCounts,
  runId,
  runStrategy,
  type StrategyResult,
  summary,
  type Transport,
} from './model.ts';

describe('parseCount', () => {
  it('accepts whole numbers from 1 to 50, spaces around allowed', () => {
    expect(parseCount('1')).toEqual({ ok: true, n: 1 });
    expect(parseCount(' 50 ')).toEqual({ ok: true, n: 50 });
  });

  it('refuses empty, non-numbers, fractions, 0 and 51 with the reason', () => {
    expect(parseCount('')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/from 1 to 50/),
    });
    expect(parseCount('ten')).toMatchObject({
      error: expect.stringMatching(/"ten" is not a whole number/),
    });
    expect(parseCount('2.5')).toMatchObject({ error: expect.stringMatching(/not a whole number/) });
    expect(parseCount('-3')).toMatchObject({ error: expect.stringMatching(/not a whole number/) });
    expect(parseCount('0')).toMatchObject({ error: expect.stringMatching(/outside 1 to 50/) });
    expect(parseCount(String(MAX_COUNT + 1))).toMatchObject({
      error: expect.stringMatching(/outside/),
    });
  });
});

describe('run ids and URLs', () => {
  it('makes ids the server accepts, different each time', () => {
    const a = runId('fresh');
    expect(a).toMatch(/^fresh-[a-z0-9]{12}$/);
    expect(runId('fresh')).not.toBe(a);
    expect(runId('kept', () => 0)).toBe('kept-000000000000');
  });

  it('maps http to ws and https to wss for /echo', () => {
    expect(echoUrl('http://127.0.0.1:6455', 'x')).toBe('ws://127.0.0.1:6455/echo?run=x');
    expect(echoUrl('https://localhost:6456', 'x')).toBe('wss://localhost:6456/echo?run=x');
  });

  it('offers the https:// version of an http:// page when the lab server has a TLS port', () => {
    const page = { protocol: 'http:', hostname: '127.0.0.1', pathname: '/connection-path/' };
    expect(httpsVersion(page, { http: 6455, https: 6456 })).toBe(
      'https://127.0.0.1:6456/connection-path/',
    );
    expect(httpsVersion(page, { http: 6455, https: null })).toBeNull();
    expect(httpsVersion({ ...page, protocol: 'https:' }, { http: 6455, https: 6456 })).toBeNull();
  });
});

describe('readCounts', () => {
  it('refuses counts that are missing, negative or not numbers', () => {
    expect(() => readCounts(null)).toThrow(RunError);
    expect(() => readCounts({ tcpConnections: '1' })).toThrow(/"tcpConnections"/);
    expect(() => readCounts({ tcpConnections: -1 })).toThrow(/"tcpConnections"/);
  });
});

// ---- against a real lab server --------------------------------------------------------------

let certDir: string;
let certificate: LabCertificate;
let t: TestLab;

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'wslab-cert-'));
  certificate = await loadCertificate(certDir);
  t = await startTestLab({ tls: { port: 0, key: certificate.key, cert: certificate.cert } });
});
afterAll(async () => {
  await t.close();
  rmSync(certDir, { recursive: true, force: true });
});

/**
 * undici's fetch (what Node's global fetch is) and ws. One connection per origin, as a browser
 * reuses its most recent idle connection: undici's pool would otherwise open a second connection
 * while the first is still finishing its answer, and alternate between them.
 */
function transport(origin: string): Transport & { close(): Promise<void> } {
  const dispatcher = new Agent({ connect: { ca: certificate.cert }, connections: 1 });
  return {
    origin,
    fetch: (url, init) => undiciFetch(url, { ...init, dispatcher }),
    openWebSocket: (url) =>
      new WebSocket(url, { ca: certificate.cert }) as unknown as ReturnType<
        Transport['openWebSocket']
      >,
    now: () => performance.now(),
    close: () => dispatcher.close(),
  };
}

/**
 * Each run in a pool of its own: once undici's pool has seen a `Connection: close` answer it
 * opens a new connection for every later request to that origin, keep-alive or not (browsers do
 * not; the browser test checks them).
 */
async function inOwnPool<T>(origin: string, run: (tr: Transport) => Promise<T>): Promise<T> {
  const tr = transport(origin);
  try {
    return await run(tr);
  } finally {
    await tr.close();
  }
}

describe('the three runs against a real lab server', () => {
  it('finds the lab server and its TLS port through /lab.json', async () => {
    const tr = transport(t.origin);
    expect(await discover(tr)).toEqual({ http: t.port, https: t.lab.tlsPort });
    await tr.close();
  });

  it('counts N fresh fetches as N new TCP connections, N kept-alive ones as one, N messages as one connection and one request', async () => {
    const n = 6;
    const fresh = await inOwnPool(t.origin, (tr) => runStrategy(tr, 'fresh', n));
    const kept = await inOwnPool(t.origin, (tr) => runStrategy(tr, 'kept', n));
    const ws = await inOwnPool(t.origin, (tr) => runStrategy(tr, 'websocket', n));
    expect(fresh.counts).toMatchObject({
      tcpConnections: n,
      httpRequests: n,
      closeAnswers: n,
      tlsHandshakes: 0,
      overTls: false,
    });
    expect(fresh.counts.newTcpConnections).toBe(n);
    expect(kept.counts).toMatchObject({ tcpConnections: 1, httpRequests: n, closeAnswers: 0 });
    expect(ws.counts).toMatchObject({
      tcpConnections: 1,
      newTcpConnections: 1,
      httpRequests: 1,
      webSocketConnections: 1,
      webSocketMessages: n,
    });
    expect(kept.counts.bytesIn).toBeGreaterThan(ws.counts.bytesIn);

    const rows = compare({ fresh, kept, websocket: ws });
    const row = (key: string) => rows.find((r) => r.key === key);
    expect(row('tcp')?.values).toEqual({ fresh: String(n), kept: '1', websocket: '1' });
    expect(row('http')?.values).toEqual({ fresh: String(n), kept: String(n), websocket: '1' });
    expect(row('messages')?.values.websocket).toBe(String(n));
    expect(row('tls')?.values.fresh).toBe('none (http)');
    expect(row('tls')?.numbers).toBeNull();
    expect(summary(ws)).toBe(
      `${n} messages on one WebSocket used 1 TCP connection and 1 HTTP request (the upgrade); the server received ${n} messages.`,
    );
  });

  it('over https:// and wss:// counts a TLS handshake per new connection', async () => {
    const origin = `https://127.0.0.1:${t.lab.tlsPort}`;
    const n = 5;
    const fresh = await inOwnPool(origin, (tr) => runStrategy(tr, 'fresh', n));
    const kept = await inOwnPool(origin, (tr) => runStrategy(tr, 'kept', n));
    const ws = await inOwnPool(origin, (tr) => runStrategy(tr, 'websocket', n));
    expect(fresh.counts.overTls).toBe(true);
    expect(fresh.counts.tlsHandshakes).toBe(fresh.counts.newTcpConnections);
    expect(fresh.counts.tlsHandshakes).toBe(n);
    expect(kept.counts).toMatchObject({ tcpConnections: 1, tlsHandshakes: 1, overTls: true });
    expect(ws.counts).toMatchObject({ tlsHandshakes: 1, webSocketMessages: n, overTls: true });
    const results: Record<string, StrategyResult> = { fresh, kept, websocket: ws };
    const tls = compare(results).find((r) => r.key === 'tls');
    expect(tls?.values.websocket).toMatch(/^1( \(1 resumed\))?$/);
    expect(tls?.numbers).not.toBeNull();
    expect(summary(fresh)).toContain(`and ${fresh.counts.tlsHandshakes} TLS handshakes`);
  });

  it('reports the server’s refusal in words, not as numbers', async () => {
    const tr = transport(t.origin);
    const broken: Transport = {
      ...tr,
      fetch: (url, init) => tr.fetch(url.replace('/count/stats', '/count/nothing'), init),
    };
    await expect(runStrategy(broken, 'kept', 1)).rejects.toThrow(
      /answered 404 to \/count\/stats: \/count\/nothing: try \/count\/fetch/,
    );
    await tr.close();
  });
});
