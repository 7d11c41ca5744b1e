import { mkdtempSync, rmSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabCertificate, loadCertificate } from './certificate.ts';
import { MAX_RUNS, RUN_TTL_MS, RunCounter, type RunStats } from './count.ts';
import { startTestLab, type TestLab } from './test-support/lab.ts';
import { WsClient } from './test-support/ws-client.ts';

let certDir: string;
let certificate: LabCertificate;
let t: TestLab;
let tlsPort: number;
let runs = 0;

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'wslab-cert-'));
  certificate = await loadCertificate(certDir);
  t = await startTestLab({ tls: { port: 0, key: certificate.key, cert: certificate.cert } });
  tlsPort = t.lab.tlsPort as number;
});
afterAll(async () => {
  await t.close();
  rmSync(certDir, { recursive: true, force: true });
});

const N = 7;

function newRun(): string {
  return `test-${++runs}-${Date.now()}`;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function get(
  path: string,
  options: {
    agent?: HttpAgent | HttpsAgent | false;
    tls?: boolean;
    headers?: Record<string, string>;
    method?: string;
  } = {},
): Promise<Answer> {
  const tls = options.tls === true;
  const make = tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = make(
      {
        host: '127.0.0.1',
        port: tls ? tlsPort : t.port,
        path,
        method: options.method ?? 'GET',
        agent: options.agent ?? false,
        headers: options.headers ?? {},
        ...(tls ? { ca: certificate.cert } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function stats(run: string): Promise<RunStats> {
  const answer = await get(`/count/stats?run=${run}`);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.body) as RunStats;
}

describe('connection counting (/count)', () => {
  it(`counts N=${N} fetches answered with Connection: close as N requests on N new TCP connections (RFC 9112 §9.6)`, async () => {
    const run = newRun();
    const agent = new HttpAgent({ keepAlive: true });
    for (let i = 0; i < N; i++) {
      const answer = await get(`/count/fetch?run=${run}&close=1`, { agent });
      expect(answer.status).toBe(200);
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body)).toMatchObject({ run, opened: true, close: true });
    }
    agent.destroy();
    expect(await stats(run)).toMatchObject({
      run,
      tcpConnections: N,
      newTcpConnections: N,
      tlsHandshakes: 0,
      httpRequests: N,
      closeAnswers: N,
      webSocketConnections: 0,
      webSocketMessages: 0,
      overTls: false,
    });
  });

  it(`counts N=${N} fetches on a kept-alive connection as N requests on one connection (RFC 9112 §9.3)`, async () => {
    const run = newRun();
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const connections = new Set<number>();
    for (let i = 0; i < N; i++) {
      const answer = await get(`/count/fetch?run=${run}`, { agent });
      expect(answer.headers.connection).toBe('keep-alive');
      connections.add((JSON.parse(answer.body) as { connection: number }).connection);
    }
    agent.destroy();
    expect(connections.size).toBe(1);
    expect(await stats(run)).toMatchObject({
      tcpConnections: 1,
      newTcpConnections: 1,
      httpRequests: N,
      closeAnswers: 0,
    });
  });

  it('does not charge a run for a kept-alive connection that carried earlier requests (the page’s own)', async () => {
    const run = newRun();
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    expect((await get('/', { agent })).status).toBe(200);
    for (let i = 0; i < N; i++) await get(`/count/fetch?run=${run}`, { agent });
    agent.destroy();
    expect(await stats(run)).toMatchObject({
      tcpConnections: 1,
      newTcpConnections: 0,
      httpRequests: N,
    });
  });

  it(`counts N=${N} messages on one WebSocket to /echo?run= as one connection, one HTTP request and N messages`, async () => {
    const run = newRun();
    const client = await WsClient.open(`${t.ws}/echo?run=${run}`);
    for (let i = 0; i < N; i++) {
      client.ws.send(`message ${i}`);
      expect((await client.next()).data.toString()).toBe(`message ${i}`);
    }
    const open = await stats(run);
    expect(open).toMatchObject({
      tcpConnections: 1,
      newTcpConnections: 1,
      httpRequests: 1,
      webSocketConnections: 1,
      webSocketMessages: N,
    });
    const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
    await client.close();
    const closed = await stats(run);
    expect(closed.webSocketMessages).toBe(N);
    // Every byte of the connection both ways: upgrade request, 101, frames, close frames.
    expect(closed.bytesIn).toBe(socket.bytesWritten);
    expect(closed.bytesOut).toBe(socket.bytesRead);
    expect(closed.bytesIn).toBeGreaterThan(open.bytesIn);
  });

  it(`counts N=${N} fresh fetches over HTTPS as N TLS handshakes, and kept-alive ones as one`, async () => {
    const fresh = newRun();
    const agent = new HttpsAgent({ keepAlive: true, ca: certificate.cert });
    for (let i = 0; i < N; i++) {
      await get(`/count/fetch?run=${fresh}&close=1`, { agent, tls: true });
    }
    agent.destroy();
    const freshStats = await stats(fresh);
    expect(freshStats).toMatchObject({
      tcpConnections: N,
      newTcpConnections: N,
      tlsHandshakes: N,
      httpRequests: N,
      overTls: true,
    });
    // Node's agent offers the session ticket it got from the previous connection.
    expect(freshStats.tlsResumed).toBeLessThanOrEqual(N - 1);

    const kept = newRun();
    const keptAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: certificate.cert });
    for (let i = 0; i < N; i++)
      await get(`/count/fetch?run=${kept}`, { agent: keptAgent, tls: true });
    keptAgent.destroy();
    expect(await stats(kept)).toMatchObject({
      tcpConnections: 1,
      newTcpConnections: 1,
      tlsHandshakes: 1,
      httpRequests: N,
      overTls: true,
    });
  });

  it('counts a wss:// echo run with its TLS handshake', async () => {
    const run = newRun();
    const client = await WsClient.open(`wss://127.0.0.1:${tlsPort}/echo?run=${run}`, {
      ca: certificate.cert,
    });
    for (let i = 0; i < 3; i++) {
      client.ws.send('x');
      await client.next();
    }
    await client.close();
    expect(await stats(run)).toMatchObject({
      tcpConnections: 1,
      tlsHandshakes: 1,
      httpRequests: 1,
      webSocketConnections: 1,
      webSocketMessages: 3,
      overTls: true,
    });
  });

  it('counts the exact bytes of each request and answer on a kept-alive connection', async () => {
    const run = newRun();
    const requests = [0, 1, 2].map(
      (i) => `GET /count/fetch?run=${run}&i=${i} HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n`,
    );
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const socket = netConnect(t.port, '127.0.0.1');
      let answers = 0;
      let buffered = '';
      socket.setEncoding('latin1');
      socket.on('connect', () => socket.write(requests[0] as string));
      socket.on('data', (chunk: string) => {
        received += Buffer.byteLength(chunk, 'latin1');
        buffered += chunk;
        // Each answer is a head plus a Content-Length body; send the next once one is complete.
        for (;;) {
          const end = buffered.indexOf('\r\n\r\n');
          const length = /content-length: (\d+)/i.exec(buffered)?.[1];
          if (end < 0 || length === undefined || buffered.length < end + 4 + Number(length)) break;
          buffered = buffered.slice(end + 4 + Number(length));
          answers++;
          if (answers < requests.length) socket.write(requests[answers] as string);
          else socket.end();
        }
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const counted = await stats(run);
    expect(counted.httpRequests).toBe(3);
    expect(counted.bytesIn).toBe(requests.reduce((sum, r) => sum + Buffer.byteLength(r), 0));
    expect(counted.bytesOut).toBe(received);
  });

  it('refuses a missing or malformed run id with 400, saying what an id may hold', async () => {
    const missing = await get('/count/fetch');
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).error).toMatch(/needs run=ID/);
    const bad = await get('/count/fetch?run=%3Cscript%3E');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toContain('not "<script>"');
    expect((await get(`/count/fetch?run=${'a'.repeat(65)}`)).status).toBe(400);
    expect((await get('/count/fetch?run=ok&close=yes')).status).toBe(400);
  });

  it('answers the counts with Connection: close when asked, so the next run starts on a new connection', async () => {
    const run = newRun();
    await get(`/count/fetch?run=${run}`);
    const answer = await get(`/count/stats?run=${run}&close=1`);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body).httpRequests).toBe(1);
  });

  it('answers 404 for a run it never saw, and for an unknown /count path', async () => {
    const unknown = await get('/count/stats?run=never-seen');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error).toMatch(/No run "never-seen"/);
    expect((await get('/count/nothing?run=x')).status).toBe(404);
  });

  it('refuses other methods with 405, foreign origins and cross-site requests with 403 (RFC 6455 §10.2)', async () => {
    const post = await get('/count/fetch?run=x', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const foreign = await get('/count/fetch?run=x', {
      headers: { Origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    const crossSite = await get('/count/fetch?run=x', {
      headers: { 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    const own = await get('/count/fetch?run=own-origin', { headers: { Origin: t.origin } });
    expect(own.status).toBe(200);
    const ownTls = await get('/count/fetch?run=own-origin', {
      headers: { Origin: `https://localhost:${tlsPort}` },
    });
    expect(ownTls.status).toBe(200);
  });
});

describe('RunCounter memory bounds', () => {
  it(`keeps at most ${MAX_RUNS} runs, dropping the least recently used`, () => {
    let now = 0;
    const counter = new RunCounter(() => now);
    const fake = { tap: { requestHeads: 1, tls: undefined, bytesIn: 0, bytesOut: 0 } };
    for (let i = 0; i < MAX_RUNS + 5; i++) {
      now++;
      counter.request(`run-${i}`, { ...fake } as never);
      if (i === 10) counter.request('run-0', { ...fake } as never); // used again: kept longer
    }
    expect(counter.size).toBe(MAX_RUNS);
    expect(counter.stats('run-0')?.httpRequests).toBe(2);
    expect(counter.stats('run-1')).toBeUndefined();
    expect(counter.stats('run-5')).toBeUndefined();
    expect(counter.stats('run-6')).toBeDefined();
    expect(counter.stats(`run-${MAX_RUNS + 4}`)).toBeDefined();
  });

  it(`forgets runs unused for ${RUN_TTL_MS / 60000} minutes`, () => {
    let now = 0;
    const counter = new RunCounter(() => now);
    const fake = { tap: { requestHeads: 1, tls: undefined, bytesIn: 0, bytesOut: 0 } };
    counter.request('old', fake as never);
    now += RUN_TTL_MS;
    counter.request('new', { ...fake } as never);
    expect(counter.stats('old')).toBeUndefined();
    expect(counter.stats('new')?.httpRequests).toBe(1);
  });
});
