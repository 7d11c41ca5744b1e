import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { computeAccept } from '../../protocol/accept.ts';
import { startTestLab, type TestLab } from '../test-support/lab.ts';
import { checkCommand } from './cli.ts';
import { BROKEN_SERVERS } from './fixtures/broken.ts';
import { startMinimalServer } from './fixtures/minimal-server.ts';
import { reportLines } from './report.ts';
import { type Report, runChecks } from './run.ts';
import { STAGES } from './stages.ts';
import { parseTarget } from './target.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function check(
  url: string,
  options: { fromStage?: number; timeoutMs?: number; deadlineMs?: number } = {},
) {
  return runChecks({ target: parseTarget(url), ...options });
}

/** A `ws` echo server: the reference implementation most Node servers are built on. */
async function startWsEcho(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    close: () => new Promise((resolve) => wss.close(() => resolve())),
  };
}

/** A raw TCP server whose behaviour a test writes by hand. */
async function startRaw(
  onSocket: (socket: Socket) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Answers the opening handshake correctly, then calls `after` with the socket. */
function upgradeThen(after: (socket: Socket) => void) {
  return (socket: Socket) => {
    socket.once('data', async (chunk) => {
      const key = /Sec-WebSocket-Key: (\S+)/i.exec(chunk.toString('latin1'))?.[1] ?? '';
      const { accept } = await computeAccept(key);
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      after(socket);
    });
  };
}

function allPassed(report: Report) {
  expect(report.failure).toBeNull();
  expect(report.ok).toBe(true);
  expect(report.stages.map((s) => s.status)).toEqual(STAGES.map(() => 'pass'));
}

describe('the checker passes correct servers', () => {
  let lab: TestLab;
  beforeAll(async () => {
    lab = await startTestLab();
  });
  afterAll(() => lab.close());

  it("passes every stage against the lab server's own /echo", async () => {
    allPassed(await check(`${lab.ws}/echo`));
  });

  it('passes every stage against a plain ws echo server', async () => {
    const server = await startWsEcho();
    try {
      allPassed(await check(server.url));
    } finally {
      await server.close();
    }
  });

  it('passes every stage over wss:// against a loopback server with a self-signed certificate', async () => {
    const fixtures = new URL('./fixtures/', import.meta.url);
    const server = await startMinimalServer({}, '/secure', {
      key: readFileSync(new URL('test-key.pem', fixtures)),
      cert: readFileSync(new URL('test-cert.pem', fixtures)),
    });
    try {
      expect(server.url).toMatch(/^wss:/);
      allPassed(await check(server.url));
    } finally {
      await server.close();
    }
  });

  it('passes every stage against the minimal reference server of chapter 12', async () => {
    const server = await startMinimalServer();
    try {
      allPassed(await check(server.url));
    } finally {
      await server.close();
    }
  });
});

describe('the checker fails each broken server at the right stage, with the right explanation', () => {
  it('keeps at least 12 broken servers as fixtures', () => {
    expect(BROKEN_SERVERS.length).toBeGreaterThanOrEqual(12);
  });

  for (const broken of BROKEN_SERVERS) {
    it.concurrent(`fails a server that ${broken.name} at stage ${broken.stage} (${broken.check}: ${broken.rule})`, async () => {
      const server = await startMinimalServer(broken.defect);
      try {
        const report = await check(server.url);
        expect(report.ok).toBe(false);
        const failure = report.failure;
        expect(failure?.stage).toBe(broken.stage);
        expect(failure?.check).toBe(broken.check);
        expect(failure?.rule).toBe(broken.rule);
        expect(failure?.explanation).toMatch(broken.says);
        expect(failure?.section).toMatch(/^RFC \d+ §/);
        expect(failure?.hint.length).toBeGreaterThan(20);
        // Every stage before it passed; none after it ran.
        expect(report.stages.slice(0, broken.stage - 1).every((s) => s.status === 'pass')).toBe(
          true,
        );
        expect(report.stages[broken.stage - 1]?.status).toBe('fail');
        expect(report.stages.slice(broken.stage).every((s) => s.status === 'not-run')).toBe(true);
        // The bytes of the failing check are in the report, the handshake first.
        expect(failure?.wire[0]?.label).toMatch(/^handshake request/);
      } finally {
        await server.close();
      }
    });
  }

  it('puts a caret under the MASK bit of a masked server frame (RFC 6455 §5.1)', async () => {
    const server = await startMinimalServer({ maskFrames: true });
    try {
      const report = await check(server.url);
      const blamed = report.failure?.wire.find((record) => record.caret !== undefined);
      expect(blamed?.direction).toBe('server-to-client');
      expect(blamed?.caret).toBe(1);
      expect(blamed?.hex.slice(0, 4)).toBe('818f');
      const text = reportLines(report, { color: false }).join('\n');
      expect(text).toContain('0000  81 8f\n');
      expect(text).toMatch(/\n {12,}\^\^ byte 1 of this frame/);
      expect(text).toContain('server-frame-masked · RFC 6455 §5.1');
      expect(text).toContain('fix    Send server frames unmasked');
      expect(text).toContain('--stage 2');
    } finally {
      await server.close();
    }
  });

  it('puts a caret under the 16-bit length that is one short (RFC 6455 §5.2)', async () => {
    const server = await startMinimalServer({ length16OffByOne: true });
    try {
      const report = await check(server.url);
      const blamed = report.failure?.wire.find((record) => record.caret !== undefined);
      expect(blamed?.hex).toBe('817e007d');
      expect(blamed?.caret).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('points at the Sec-WebSocket-Accept value of a wrong accept hash (RFC 6455 §4.2.2)', async () => {
    const server = await startMinimalServer({ guid: 'not-the-guid' });
    try {
      const report = await check(server.url);
      const text = reportLines(report, { color: false }).join('\n');
      expect(text).toMatch(/Sec-WebSocket-Accept: \S+=\n {30}\^{28}\n/);
      expect(report.failure?.hint).toContain('258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    } finally {
      await server.close();
    }
  });
});

describe('a crashing or hanging server never hangs the checker', () => {
  it('reports a server that drops the connection during the handshake', async () => {
    const server = await startRaw((socket) => socket.once('data', () => socket.destroy()));
    try {
      const report = await check(server.url);
      expect(report.failure?.rule).toBe('handshake-closed');
      expect(report.failure?.explanation).toMatch(/without answering the opening handshake/);
    } finally {
      await server.close();
    }
  });

  it('explains a refused connection, without waiting', async () => {
    const server = await startRaw(() => {});
    const url = server.url;
    await server.close();
    const started = Date.now();
    const report = await check(url);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(report.failure?.rule).toBe('connect-failed');
    expect(report.failure?.explanation).toMatch(
      /Nothing is listening on 127\.0\.0\.1:\d+ \(connection refused\)/,
    );
  });

  it('says the server went away when it stops listening halfway through a run', async () => {
    // Like a server process that dies after its first connection: the first check passes on it,
    // the next finds nothing listening.
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
    wss.on('connection', (ws) => {
      http.close();
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const report = await check(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`, {
      fromStage: 2,
    });
    for (const client of wss.clients) client.terminate();
    expect(report.stages[1]?.checks[0]?.status).toBe('pass');
    expect(report.failure).toMatchObject({ stage: 2, rule: 'server-gone' });
    expect(report.failure?.explanation).toMatch(
      /connection refused.*Earlier checks in this run did connect/,
    );
  });

  it('caps a check that a server keeps busy with pings forever', async () => {
    const server = await startRaw(
      upgradeThen((socket) => {
        const timer = setInterval(() => socket.write(Buffer.from([0x89, 0x00])), 50);
        socket.on('close', () => clearInterval(timer));
      }),
    );
    try {
      const started = Date.now();
      const report = await check(server.url, { fromStage: 2, timeoutMs: 300 });
      expect(report.failure?.rule).toBe('check-timeout');
      expect(report.failure?.explanation).toMatch(/did not finish within 4 s/);
      expect(Date.now() - started).toBeLessThan(6000);
    } finally {
      await server.close();
    }
  });

  it('stops before the next check once the run is cancelled', async () => {
    const server = await startMinimalServer();
    const abort = new AbortController();
    try {
      const report = await runChecks({
        target: parseTarget(server.url),
        signal: abort.signal,
        onProgress: (event) => {
          if (event.type === 'check' && event.n === 1) abort.abort();
        },
      });
      expect(report.ok).toBe(false);
      expect(report.failure).toMatchObject({ rule: 'cancelled', stage: 1, check: 'bad-version' });
      expect(report.stages[0]?.checks.map((c) => c.status)).toEqual([
        'pass',
        'not-run',
        'not-run',
        'not-run',
        'not-run',
      ]);
      expect(report.stages.every((s) => s.status === 'not-run')).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('stops at the overall deadline', async () => {
    const server = await startRaw(() => {});
    try {
      const started = Date.now();
      const report = await check(server.url, { deadlineMs: 400 });
      expect(report.failure?.rule).toBe('deadline');
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await server.close();
    }
  });
});

interface Captured {
  out: string;
  err: string;
}

async function runCommand(argv: string[]): Promise<Captured & { code: number }> {
  const captured: Captured = { out: '', err: '' };
  const code = await checkCommand(argv, {
    stdout: { write: (text: string) => (captured.out += text) },
    stderr: { write: (text: string) => (captured.err += text) },
    env: {},
  });
  return { ...captured, code };
}

describe('pnpm lab check <url>', () => {
  it('prints one JSON report with --json and exits 0 when all stages pass', async () => {
    const server = await startWsEcho();
    try {
      const { out, code } = await runCommand([server.url, '--json']);
      expect(code).toBe(0);
      const report = JSON.parse(out) as Report;
      expect(report).toMatchObject({ v: 1, ok: true, url: server.url, failure: null });
      expect(report.stages).toHaveLength(STAGES.length);
    } finally {
      await server.close();
    }
  });

  it('exits 1 and reports the failure in JSON with the annotated bytes', async () => {
    const server = await startMinimalServer({ textAsBinary: true });
    try {
      const { out, code } = await runCommand([server.url, '--json']);
      expect(code).toBe(1);
      const report = JSON.parse(out) as Report;
      expect(report.failure).toMatchObject({
        stage: 2,
        check: 'short-text',
        rule: 'echo-wrong-opcode',
      });
      const echoed = report.failure?.wire.find(
        (r) => r.direction === 'server-to-client' && r.frame,
      );
      expect(echoed?.frame?.opcode).toBe(2);
      expect(echoed?.caret).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('reruns from a stage with --stage: earlier stages are skipped, later ones run', async () => {
    const server = await startMinimalServer({ guid: 'wrong' });
    try {
      // Stage 1 would fail (wrong accept), but stage 10 does not look at the accept... it does
      // upgrade first, so it fails there: --stage skips stages, never the handshake itself.
      const { out, code } = await runCommand([server.url, '--stage', '10', '--no-color']);
      expect(code).toBe(1);
      expect(out).toMatch(/- {2}1\. Opening handshake {2}skipped \(--stage\)/);
      expect(out).toContain('Stage 10 (closing)');
    } finally {
      await server.close();
    }
    const good = await startMinimalServer();
    try {
      const { out, code } = await runCommand([good.url, '--stage', '9']);
      expect(code).toBe(0);
      expect(out).toMatch(/✓ {2}9\. Invalid UTF-8/);
      expect(out).toContain('PASS: 2 stages passed (from stage 9)');
      expect(out).not.toContain('\x1b[');
    } finally {
      await good.close();
    }
  });

  it('exits 2 with an explanation for a URL it cannot use, and 0 for --help', async () => {
    expect(await runCommand([])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/Give the URL/),
    });
    expect(await runCommand(['http://127.0.0.1:8080/chat'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('Use ws://127.0.0.1:8080/chat instead'),
    });
    expect(await runCommand(['ws://127.0.0.1:1/', '--stage', '11'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('--stage must be a stage number from 1 to 10'),
    });
    expect(await runCommand(['ws://127.0.0.1:1/', '--bogus'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('Unknown option --bogus'),
    });
    const help = await runCommand(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: pnpm lab check');
    for (const flag of ['--stage', '--json', '--timeout', '--deadline', '--no-color']) {
      expect(help.out).toContain(flag);
    }
  });

  it('runs as a subcommand of pnpm lab, with exit code 1 for a broken server', async () => {
    const server = await startMinimalServer({ ignorePing: true });
    try {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'lab-server/main.ts',
          'check',
          server.url,
          '--json',
          '--timeout',
          '0.5',
        ],
        {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(1);
      const report = JSON.parse(out) as Report;
      expect(report.failure?.explanation).toContain(
        'No answer to a ping with the payload "are you there?" within 0.5 s',
      );
    } finally {
      await server.close();
    }
  }, 20_000);
});

describe('the target URL', () => {
  it('takes ws and wss URLs with their default ports and the path as sent', () => {
    expect(parseTarget('ws://example.test/chat?room=1')).toMatchObject({
      host: 'example.test',
      port: 80,
      path: '/chat?room=1',
      hostHeader: 'example.test',
      secure: false,
    });
    expect(parseTarget('wss://[::1]:8443')).toMatchObject({
      host: '::1',
      port: 8443,
      path: '/',
      hostHeader: '[::1]:8443',
      secure: true,
    });
  });

  it('refuses a fragment and credentials (RFC 6455 §3)', () => {
    expect(() => parseTarget('ws://127.0.0.1/#x')).toThrow(/no #fragment/);
    expect(() => parseTarget('ws://me:pw@127.0.0.1/')).toThrow(/credentials/);
    expect(() => parseTarget('not a url')).toThrow(/is not a URL/);
  });
});
