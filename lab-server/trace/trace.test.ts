import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  phaseRank,
  TRACE_PHASES,
  type Trace,
  type TracePhaseName,
  type TraceServerMessage,
} from '../../protocol/trace.ts';
import { eventually, startTestLab, type TestLab } from '../test-support/lab.ts';
import { traceCommand } from './cli.ts';
import { type ProxySpec, runTrace } from './client.ts';
import { traceEndpoint } from './endpoint.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = fileURLToPath(new URL('../check/fixtures/', import.meta.url));
const cert = readFileSync(`${fixtures}test-cert.pem`, 'utf8');
const key = readFileSync(`${fixtures}test-key.pem`, 'utf8');

let t: TestLab;
let proxies: { connect: number; aware: number; naive: number };
let wss: string;

beforeAll(async () => {
  t = await startTestLab({ tls: { port: 0, key, cert }, proxies: 0 });
  proxies = t.lab.context.ports.proxies as typeof proxies;
  wss = `wss://127.0.0.1:${t.lab.context.ports.https}`;
});
afterAll(() => t.close());

const proxy = (port: number): ProxySpec => ({
  host: '127.0.0.1',
  port,
  url: `http://127.0.0.1:${port}`,
});

const names = (trace: Trace) => trace.phases.map((p) => p.name);

/** Every phase in the order of TRACE_PHASES (FINs in either order), times monotonic, none negative. */
function expectWellFormed(trace: Trace, expected: readonly TracePhaseName[]) {
  expect(
    names(trace)
      .slice()
      .sort((a, b) => phaseRank(a) - phaseRank(b)),
  ).toEqual([...expected].sort((a, b) => phaseRank(a) - phaseRank(b)));
  let last = 0;
  for (const phase of trace.phases) {
    expect(phase.end).toBeGreaterThanOrEqual(phase.start);
    expect(phase.start).toBeGreaterThanOrEqual(last);
    expect(phase.detail.length).toBeGreaterThan(0);
    last = phase.end;
  }
  const order = names(trace).filter((n) => n !== 'fin-sent' && n !== 'fin-received');
  expect(order).toEqual([...order].sort((a, b) => phaseRank(a) - phaseRank(b)));
}

const ALL_WS: TracePhaseName[] = TRACE_PHASES.filter((n) => n !== 'proxy' && n !== 'tls');
const ALL_WSS: TracePhaseName[] = TRACE_PHASES.filter((n) => n !== 'proxy');

describe('trace client, direct', () => {
  it('records every phase of ws:// in order, the server sending the first FIN (RFC 6455 §7.1.1)', async () => {
    const seen: string[] = [];
    const trace = await runTrace({ url: `${t.ws}/echo`, onPhase: (p) => seen.push(p.name) });
    expect(trace.ok, trace.failure?.explanation).toBe(true);
    expectWellFormed(trace, ALL_WS);
    expect(seen).toEqual(names(trace));
    expect(trace.phases[0]?.detail).toContain('no lookup needed');
    expect(trace.phases.find((p) => p.name === 'fin-received')?.data?.first).toBe('server');
    expect(trace.phases.find((p) => p.name === 'response')?.detail).toContain('101');
    expect(trace.dns?.addresses).toEqual(['127.0.0.1']);
  });

  it('looks up a name with the OS resolver', async () => {
    const trace = await runTrace({ url: `ws://localhost:${t.port}/echo` });
    expect(trace.phases[0]?.detail).toMatch(/^localhost → .*from the OS resolver/);
    expect(trace.dns?.addresses.length).toBeGreaterThan(0);
  });

  it('traces wss:// through the lab server TLS listener, with the certificate trusted by --ca', async () => {
    const trace = await runTrace({ url: `${wss}/echo`, ca: cert, message: 'héllo' });
    expect(trace.ok, trace.failure?.explanation).toBe(true);
    expectWellFormed(trace, ALL_WSS);
    expect(trace.tls?.version).toMatch(/^TLSv1\.[23]$/);
    expect(trace.tls?.certificate?.subject).toBe('localhost');
    expect(trace.tls?.certificate?.altNames).toContain('IP Address:127.0.0.1');
    expect(trace.tls?.certificate?.verified).toBe(true);
    expect(trace.phases.find((p) => p.name === 'tls')?.detail).toMatch(/TLSv1\.\d \S+, ALPN/);
  });

  it('explains a self-signed certificate that nothing vouches for, and how to trust it', async () => {
    const trace = await runTrace({ url: `${wss}/echo` });
    expect(trace.ok).toBe(false);
    expect(trace.failure?.phase).toBe('tls');
    expect(trace.failure?.explanation).toMatch(/self-signed|authority/);
    expect(trace.failure?.explanation).toContain('--ca');
    const insecure = await runTrace({ url: `${wss}/echo`, insecure: true });
    expect(insecure.ok).toBe(true);
    expect(insecure.tls?.certificate?.verified).toBe(false);
  });

  it('explains TLS spoken to a plain port, and a refused connection', async () => {
    const tlsToPlain = await runTrace({
      url: `wss://127.0.0.1:${t.port}/echo`,
      insecure: true,
      timeoutMs: 2000,
    });
    expect(tlsToPlain.failure?.phase).toBe('tls');
    const closed = await runTrace({ url: 'ws://127.0.0.1:1/echo' });
    expect(closed.failure?.phase).toBe('tcp');
    expect(closed.failure?.explanation).toContain('connection refused');
  });

  it('explains a non-101 answer with its status and bytes', async () => {
    const trace = await runTrace({ url: `${t.ws}/nowhere` });
    expect(trace.failure?.phase).toBe('response');
    expect(trace.failure?.status).toBe(404);
    expect(trace.failure?.explanation).toContain('instead of 101');
    expect(Buffer.from(trace.failure?.bytesHex ?? '', 'hex').toString()).toMatch(/^HTTP\/1\.1 404/);
  });
});

describe('trace through the lab proxies', () => {
  it('CONNECT tunnel: wss:// passes and the proxy phase says so (RFC 9110 §9.3.6)', async () => {
    const trace = await runTrace({ url: `${wss}/echo`, ca: cert, proxy: proxy(proxies.connect) });
    expect(trace.ok, trace.failure?.explanation).toBe(true);
    expect(trace.via).toBe('connect');
    expectWellFormed(trace, TRACE_PHASES);
    expect(trace.phases.find((p) => p.name === 'proxy')?.detail).toContain(
      '200 Connection Established',
    );
  });

  it('CONNECT tunnel: ws:// passes with --proxy-tunnel', async () => {
    const trace = await runTrace({
      url: `${t.ws}/echo`,
      proxy: proxy(proxies.connect),
      proxyTunnel: true,
    });
    expect(trace.ok, trace.failure?.explanation).toBe(true);
    expectWellFormed(trace, ALL_WS.concat('proxy'));
  });

  it('the CONNECT-only proxy refuses a forwarded request with 405 and says why', async () => {
    const trace = await runTrace({ url: `${t.ws}/echo`, proxy: proxy(proxies.connect) });
    expect(trace.failure?.status).toBe(405);
    expect(trace.failure?.explanation).toContain('CONNECT');
  });

  it('aware forwarder: ws:// passes, the upgrade re-added hop by hop', async () => {
    const trace = await runTrace({
      url: `${t.ws}/echo`,
      proxy: proxy(proxies.aware),
      via: 'aware',
    });
    expect(trace.ok, trace.failure?.explanation).toBe(true);
    expectWellFormed(trace, ALL_WS.concat('proxy'));
    expect(trace.phases.find((p) => p.name === 'proxy')?.detail).toContain('absolute form');
    expect(trace.phases.find((p) => p.name === 'response')?.detail).toContain(
      'Via: 1.1 wslab-aware',
    );
  });

  it('naive forwarder: ws:// really fails, and the trace says the proxy removed Upgrade and Connection (RFC 9110 §7.6.1)', async () => {
    const trace = await runTrace({ url: `${t.ws}/echo`, proxy: proxy(proxies.naive) });
    expect(trace.ok).toBe(false);
    expect(trace.via).toBe('naive');
    expect(names(trace)).toEqual(['dns', 'tcp', 'proxy', 'request']);
    expect(trace.failure?.phase).toBe('response');
    expect([400, 426]).toContain(trace.failure?.status);
    expect(trace.failure?.explanation).toContain('The proxy removed Connection and Upgrade');
    expect(trace.failure?.explanation).toContain('RFC 9110 §7.6.1');
    expect(trace.failure?.explanation).toContain('so the server saw a plain GET /echo');
  });

  it('naive forwarder: wss:// passes, since the tunnel hides the upgrade inside TLS', async () => {
    const trace = await runTrace({
      url: `${wss}/echo`,
      ca: cert,
      proxy: proxy(proxies.naive),
      via: 'naive',
    });
    expect(trace.ok, trace.failure?.explanation).toBe(true);
    expectWellFormed(trace, TRACE_PHASES);
  });
});

/** Sends raw bytes to a port and returns all it answers until it closes. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.setTimeout(5000, () => socket.destroy());
    socket.end(bytes);
  });
}

describe('proxy refusals: only the lab server own ports', () => {
  const foreign = [
    ['127.0.0.1:22', /not port 22/],
    ['example.com:443', /host name other than localhost/],
    ['10.0.0.1:80', /private network/],
    ['169.254.169.254:80', /link-local/],
    ['[fe80::1]:80', /link-local/],
    ['192.0.2.1:80', /another machine/],
  ] as const;

  for (const [authority, why] of foreign) {
    it(`refuses CONNECT ${authority} with 403 and Proxy-Status (RFC 9209)`, async () => {
      for (const port of Object.values(proxies)) {
        const answer = await rawExchange(
          port,
          `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`,
        );
        expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
        expect(answer).toContain('error=destination_ip_prohibited');
        expect(answer).toMatch(why);
      }
    });
  }

  it('refuses a forwarded request to a foreign host', async () => {
    const answer = await rawExchange(
      proxies.aware,
      'GET http://127.0.0.1:22/ HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
  });

  it('answers garbage with 400 and keeps working', async () => {
    for (const garbage of [
      '\x00\x01\x02\r\n\r\n',
      'GET\r\n\r\n',
      'CONNECT nohost HTTP/1.1\r\n\r\n',
      'GET ftp://x/ HTTP/1.1\r\n\r\n',
    ]) {
      for (const port of Object.values(proxies)) {
        expect(await rawExchange(port, garbage), JSON.stringify(garbage)).toMatch(
          /^HTTP\/1\.1 400 /,
        );
      }
    }
    const trace = await runTrace({ url: `${t.ws}/echo`, proxy: proxy(proxies.aware) });
    expect(trace.ok).toBe(true);
  });

  it('answers an oversized head with 431', async () => {
    const answer = await rawExchange(
      proxies.connect,
      `CONNECT 127.0.0.1:1 HTTP/1.1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
  });
});

/** Opens /trace, sends one request, and collects the answers until done or refused. */
async function askTrace(
  request: unknown,
  options: { origin?: string; port?: number } = {},
): Promise<TraceServerMessage[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${options.port ?? t.port}/trace`, {
    origin: options.origin ?? `http://127.0.0.1:${options.port ?? t.port}`,
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const messages: TraceServerMessage[] = [];
  const finished = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as TraceServerMessage;
      messages.push(message);
      if (message.type !== 'phase') resolve();
    });
  });
  ws.send(typeof request === 'string' ? request : JSON.stringify(request));
  await finished;
  ws.close();
  return messages;
}

describe('/trace endpoint', () => {
  it('streams the phases of a ws:// trace of the lab server, then the whole trace', async () => {
    const messages = await askTrace({
      type: 'trace',
      scheme: 'ws',
      via: 'direct',
      message: 'from the page',
    });
    const done = messages.at(-1);
    expect(done?.type).toBe('done');
    if (done?.type !== 'done') return;
    expect(done.trace.ok, done.trace.failure?.explanation).toBe(true);
    expect(done.trace.url).toBe(`ws://127.0.0.1:${t.port}/echo`);
    expect(messages.slice(0, -1).map((m) => (m.type === 'phase' ? m.phase.name : m.type))).toEqual(
      names(done.trace),
    );
  });

  it('traces wss:// of the lab server itself, and through its proxies', async () => {
    for (const via of ['direct', 'connect', 'aware', 'naive'] as const) {
      const done = (await askTrace({ type: 'trace', scheme: 'wss', via })).at(-1);
      expect(done?.type === 'done' && done.trace.ok, via).toBe(true);
    }
    const naive = (await askTrace({ type: 'trace', scheme: 'ws', via: 'naive' })).at(-1);
    expect(naive?.type === 'done' && naive.trace.failure?.explanation).toContain(
      'removed Connection and Upgrade',
    );
  });

  it('refuses a request that names a target: the lab server traces only itself', async () => {
    for (const extra of [{ host: 'example.com' }, { url: 'ws://example.com/' }, { port: 22 }]) {
      const [answer] = await askTrace({ type: 'trace', scheme: 'ws', via: 'direct', ...extra });
      expect(answer?.type).toBe('refused');
      expect(answer?.type === 'refused' && answer.reason).toContain(
        'cannot name a host, port or URL',
      );
    }
    const [bad] = await askTrace('not json');
    expect(bad?.type).toBe('refused');
  });

  it('refuses a page from a foreign Origin at the handshake with 403 (RFC 6455 §10.2)', async () => {
    await expect(
      askTrace({ type: 'trace', scheme: 'ws', via: 'direct' }, { origin: 'http://evil.example' }),
    ).rejects.toThrow(/403/);
  });

  it('refuses wss:// without a TLS listener, proxies that are off, and too many traces at once', async () => {
    const plain = await startTestLab({
      endpoints: { websocket: [traceEndpoint({ maxConcurrent: 1 })] },
    });
    try {
      const [noTls] = await askTrace(
        { type: 'trace', scheme: 'wss', via: 'direct' },
        { port: plain.port },
      );
      expect(noTls?.type === 'refused' && noTls.reason).toContain('no TLS listener');
      const [noProxy] = await askTrace(
        { type: 'trace', scheme: 'ws', via: 'naive' },
        { port: plain.port },
      );
      expect(noProxy?.type === 'refused' && noProxy.reason).toContain('proxies are off');
      // One trace running (its first phase seen), a second one is refused until it is done.
      const ws = new WebSocket(`ws://127.0.0.1:${plain.port}/trace`);
      await new Promise((resolve) => ws.once('open', resolve));
      const answers: TraceServerMessage[] = [];
      const firstPhase = new Promise<void>((resolve) =>
        ws.on('message', (data) => {
          answers.push(JSON.parse(String(data)) as TraceServerMessage);
          resolve();
        }),
      );
      ws.send(JSON.stringify({ type: 'trace', scheme: 'ws', via: 'direct' }));
      await firstPhase;
      ws.send(JSON.stringify({ type: 'trace', scheme: 'ws', via: 'direct' }));
      const [other] = await askTrace(
        { type: 'trace', scheme: 'ws', via: 'direct' },
        { port: plain.port },
      );
      expect(other?.type === 'refused' && other.reason).toContain('already runs 1 trace at once');
      await eventually(() => answers.some((m) => m.type === 'done'), 'the first trace', 10_000);
      expect(answers.find((m) => m.type === 'refused')).toMatchObject({
        reason: expect.stringContaining('already running on this socket'),
      });
      ws.close();
    } finally {
      await plain.close();
    }
  });
});

class Capture {
  text = '';
  write(chunk: string) {
    this.text += chunk;
  }
}

describe('pnpm lab trace', () => {
  it('prints a curl -w style timeline and exits 0', async () => {
    const out = new Capture();
    const err = new Capture();
    const code = await traceCommand([`${t.ws}/echo`, '--message', 'hi'], {
      stdout: out,
      stderr: err,
    });
    expect(code, out.text + err.text).toBe(0);
    const lines = out.text.split('\n');
    expect(lines[0]).toBe(`Tracing ${t.ws}/echo directly; each step awaited 5 s.`);
    expect(out.text).toMatch(/phase\s+start\s+duration\s+cumulative\s+what happened/);
    expect(out.text).toMatch(
      /\n {2}DNS lookup\s+\d+\.\d+ ms\s+\d+\.\d+ ms\s+\d+\.\d+ ms {2}127\.0\.0\.1 is an IPv4/,
    );
    for (const label of [
      'TCP connect',
      'upgrade request sent',
      'message echoed',
      'FIN received',
      'FIN sent',
    ]) {
      expect(out.text).toContain(`  ${label}`);
    }
    expect(out.text).toMatch(/OK: 10 phases in \d+\.\d+ ms\.\n$/);
  });

  it('exits 1 with the explanation when the naive proxy breaks the upgrade', async () => {
    const out = new Capture();
    const code = await traceCommand(
      [`${t.ws}/echo`, '--proxy', `http://127.0.0.1:${proxies.naive}`],
      {
        stdout: out,
        stderr: new Capture(),
      },
    );
    expect(code).toBe(1);
    expect(out.text).toContain('(forwarded request)');
    expect(out.text).toMatch(
      /FAILED at response received after .* \(HTTP 4\d\d\):\n {2}The proxy removed Connection and Upgrade/,
    );
  });

  it('prints the trace as JSON with --json', async () => {
    const out = new Capture();
    const code = await traceCommand(
      [
        `${wss}/echo`,
        '--json',
        '--ca',
        `${fixtures}test-cert.pem`,
        '--proxy',
        `http://127.0.0.1:${proxies.connect}`,
      ],
      { stdout: out, stderr: new Capture() },
    );
    expect(code).toBe(0);
    const trace = JSON.parse(out.text) as Trace;
    expect(trace).toMatchObject({
      v: 1,
      via: 'connect',
      ok: true,
      proxy: `http://127.0.0.1:${proxies.connect}`,
    });
  });

  it('exits 2 for a command line it cannot use, saying why', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Give the URL/],
      [['http://127.0.0.1/'], /not a WebSocket URL/],
      [['ws://a/', 'ws://b/'], /Give one URL/],
      [['ws://a/', '--proxy', 'https://p:1'], /must be an http:\/\/ URL/],
      [['ws://a/', '--proxy-tunnel'], /needs --proxy/],
      [['wss://a/', '--insecure', '--ca', 'x'], /cannot be used together/],
      [['ws://a/', '--ca', '/nonexistent/file.pem'], /Cannot read --ca/],
      [['ws://a/', '--timeout', '0'], /--timeout must be/],
      [['ws://a/', '--bogus'], /Unknown option --bogus/],
    ];
    for (const [argv, message] of cases) {
      const err = new Capture();
      expect(await traceCommand(argv, { stdout: new Capture(), stderr: err }), argv.join(' ')).toBe(
        2,
      );
      expect(err.text).toMatch(message);
    }
    const help = new Capture();
    expect(await traceCommand(['--help'], { stdout: help, stderr: new Capture() })).toBe(0);
    expect(help.text).toContain('Usage: pnpm lab trace');
  });

  it('is dispatched by pnpm lab trace (lab-server/main.ts)', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'lab-server/main.ts', 'trace', `${t.ws}/echo`, '--json'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as Trace).ok).toBe(true);
  }, 30_000);
});
