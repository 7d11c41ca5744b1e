import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from './test-support/events.ts';
import { delay, startTestLab, type TestLab } from './test-support/lab.ts';
import {
  RawClient,
  type UpgradeRequestOptions,
  upgradeRequest,
} from './test-support/raw-client.ts';
import { expectStillEchoes, WsClient } from './test-support/ws-client.ts';

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t.close();
});

/** Sends raw bytes on a fresh connection; returns everything the server sent until it closed. */
async function exchange(
  lab: TestLab,
  bytes: string | Buffer,
  timeoutMs = 2000,
): Promise<{ text: string; status: number; ms: number; client: RawClient }> {
  const client = await RawClient.connect(lab.port);
  const start = Date.now();
  client.write(bytes);
  await client.until(
    () => client.closed || client.ended || client.received.includes('\r\n\r\n'),
    'an answer',
    timeoutMs,
  );
  // Let the body arrive too.
  await client
    .until(() => client.closed || client.ended, 'the end of the answer', 300)
    .catch(() => {});
  const text = client.received.toString('utf8');
  client.destroy();
  return { text, status: Number(text.split(' ')[1]), ms: Date.now() - start, client };
}

async function refusedHandshake(options: UpgradeRequestOptions) {
  const log = new EventLog(t.lab.registry);
  const answer = await exchange(t, upgradeRequest({ host: t.host, ...options }));
  const conn = await log.connOf(answer.client.localPort);
  const request = await log.waitFor('handshake-request', (e) => e.conn === conn);
  log.dispose();
  return { ...answer, findings: request.findings.filter((f) => !f.ok) };
}

describe('the HTTP side of /echo: bad handshakes get the RFC 6455 §4.2.2 answer', () => {
  it.each(['/echo', '/observe', '/raw'])(
    'answers a plain GET %s with 426, Upgrade: websocket and an explanation',
    async (path) => {
      const res = await fetch(`${t.origin}${path}`);
      expect(res.status).toBe(426);
      expect(res.headers.get('upgrade')).toBe('websocket');
      expect(res.headers.get('sec-websocket-version')).toBe('13');
      expect(await res.text()).toMatch(/WebSocket endpoint.*Upgrade: websocket/);
    },
  );

  it('answers an upgrade to an unknown path with 404', async () => {
    const answer = await exchange(t, upgradeRequest({ host: t.host, path: '/nope' }));
    expect(answer.status).toBe(404);
    expect(answer.text).not.toMatch(/^HTTP\/1\.1 101/);
  });

  it('answers a handshake without an Upgrade header with 426, and the annotation says why', async () => {
    const answer = await refusedHandshake({ upgrade: null });
    expect(answer.status).toBe(426);
    expect(answer.text).toMatch(/\r\nupgrade: websocket\r\n/i);
    expect(answer.findings.map((f) => f.rule)).toEqual(['request-upgrade']);
    expect(answer.findings[0]?.explanation).toMatch(/Upgrade/);
  });

  it('answers Sec-WebSocket-Version: 8 with 426 and Sec-WebSocket-Version: 13 (RFC 6455 §4.4)', async () => {
    const answer = await refusedHandshake({ version: '8' });
    expect(answer.status).toBe(426);
    expect(answer.text).toMatch(/\r\nSec-WebSocket-Version: 13\r\n/i);
    expect(answer.findings.map((f) => f.rule)).toEqual(['request-version']);
    expect(answer.findings[0]).toMatchObject({ got: '8', expected: '13', status: 426 });
    expect(answer.text).toContain(answer.findings[0]?.explanation);
  });

  it('answers a handshake without Sec-WebSocket-Key with 400', async () => {
    const answer = await refusedHandshake({ key: null });
    expect(answer.status).toBe(400);
    expect(answer.findings.map((f) => f.rule)).toEqual(['request-key']);
    expect(answer.text).toContain(answer.findings[0]?.explanation);
  });

  it('answers a Sec-WebSocket-Key that is not 16 bytes of base64 with 400', async () => {
    const answer = await refusedHandshake({ key: 'c2hvcnQ=' });
    expect(answer.status).toBe(400);
    expect(answer.findings.map((f) => f.rule)).toEqual(['request-key']);
    expect(answer.findings[0]?.explanation).toMatch(/16/);
  });

  it('answers a POST with upgrade headers with 400', async () => {
    const answer = await refusedHandshake({ method: 'POST' });
    expect(answer.status).toBe(400);
    expect(answer.findings.map((f) => f.rule)).toEqual(['request-method-get']);
    expect(answer.text).toContain(answer.findings[0]?.explanation);
  });
});

describe('header floods and pathological values are answered 4xx quickly', () => {
  it('answers 40 KB of headers with 431 within a second (RFC 6585 §5)', async () => {
    const extra: [string, string][] = [['X-Big', 'a'.repeat(40 * 1024)]];
    const answer = await exchange(t, upgradeRequest({ host: t.host, extra }));
    expect(answer.status).toBe(431);
    expect(answer.ms).toBeLessThan(1000);
  });

  it('answers 5,000 headers with 431 within a second', async () => {
    const extra = Array.from({ length: 5000 }, (_, i): [string, string] => [`X-H${i}`, 'v']);
    const answer = await exchange(t, upgradeRequest({ host: t.host, extra }));
    expect(answer.status).toBe(431);
    expect(answer.ms).toBeLessThan(1000);
  });

  it('answers an upgrade with more header lines than maxHeaders (100), all within 8 KB, with 431', async () => {
    const extra = Array.from({ length: 150 }, (_, i): [string, string] => [`X${i}`, 'v']);
    const request = upgradeRequest({ host: t.host, extra });
    expect(request.length).toBeLessThan(8192);
    const answer = await exchange(t, request);
    expect(answer.status).toBe(431);
  });

  it('answers a Sec-WebSocket-Protocol of 32,000 spaces within a second, and keeps serving', async () => {
    const extra: [string, string][] = [['Sec-WebSocket-Protocol', ' '.repeat(32_000)]];
    const answer = await exchange(t, upgradeRequest({ host: t.host, extra }));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.ms).toBeLessThan(1000);
    await expectStillEchoes(t.ws);
  });

  it.each([
    ['7,000 spaces', ' '.repeat(7000)],
    ['a, then 7,000 spaces, then b', `a${' '.repeat(7000)}b`],
    ['2,000 empty list elements', ','.repeat(2000)],
    ['1,000 copies of one token', Array.from({ length: 1000 }, () => 'chat').join(',')],
  ])(
    'answers a Sec-WebSocket-Protocol of %s (within the head limit) with 400 within a second',
    async (_, value) => {
      const log = new EventLog(t.lab.registry);
      const extra: [string, string][] = [['Sec-WebSocket-Protocol', value]];
      const answer = await exchange(t, upgradeRequest({ host: t.host, extra }));
      expect(answer.status).toBe(400);
      expect(answer.ms).toBeLessThan(1000);
      const conn = await log.connOf(answer.client.localPort);
      const request = await log.waitFor('handshake-request', (e) => e.conn === conn);
      log.dispose();
      expect(request.findings.filter((f) => !f.ok).map((f) => f.rule)).toEqual([
        'request-protocols',
      ]);
    },
  );
});

/** Closes the lab, failing if that takes longer than `ms` (a socket the server never let go). */
async function closeWithin(lab: TestLab, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`lab.close() still waiting after ${ms} ms: a socket is still open`)),
      ms,
    );
  });
  try {
    await Promise.race([lab.close(), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('timeouts and caps', () => {
  it('closes a connection whose headers trickle in past handshakeTimeoutMs (408 or reset)', async () => {
    const lab = await startTestLab({ limits: { handshakeTimeoutMs: 500 } });
    try {
      const client = await RawClient.connect(lab.port);
      const request = upgradeRequest({ host: lab.host });
      const start = Date.now();
      const trickle = (async () => {
        for (const byte of request) {
          if (client.closed || client.ended) return;
          client.write(byte);
          await delay(50);
        }
      })();
      await client.until(() => client.closed || client.ended, 'the server to give up', 2500);
      const elapsed = Date.now() - start;
      expect(elapsed).toBeLessThan(2500);
      expect(client.received.toString('latin1')).toMatch(/^(HTTP\/1\.1 408 |$)/);
      client.destroy();
      await trickle;
    } finally {
      await closeWithin(lab, 2000);
    }
  }, 10_000);

  it('closes a connection that sends nothing within handshakeTimeoutMs', async () => {
    const lab = await startTestLab({ limits: { handshakeTimeoutMs: 500 } });
    try {
      const client = await RawClient.connect(lab.port);
      await client.until(() => client.closed || client.ended, 'the server to give up', 2500);
      client.destroy();
    } finally {
      await closeWithin(lab, 2000);
    }
  }, 10_000);

  it('times out a keep-alive connection whose second request head trickles in', async () => {
    const lab = await startTestLab({ limits: { handshakeTimeoutMs: 500 } });
    try {
      const client = await RawClient.connect(lab.port);
      client.write(`GET / HTTP/1.1\r\nHost: ${lab.host}\r\n\r\n`);
      await client.until(() => client.received.includes('<h1>home</h1>'), 'the page');
      const start = Date.now();
      const trickle = (async () => {
        for (const byte of upgradeRequest({ host: lab.host })) {
          if (client.closed || client.ended) return;
          client.write(byte);
          await delay(50);
        }
      })();
      await client.until(() => client.closed || client.ended, 'the server to give up', 2500);
      expect(Date.now() - start).toBeLessThan(2500);
      client.destroy();
      await trickle;
    } finally {
      await closeWithin(lab, 2000);
    }
  }, 10_000);

  it('closes a keep-alive connection that sends no further request (idle timeout)', async () => {
    const lab = await startTestLab({ limits: { handshakeTimeoutMs: 500 } });
    try {
      const client = await RawClient.connect(lab.port);
      client.write(`GET / HTTP/1.1\r\nHost: ${lab.host}\r\n\r\n`);
      await client.until(() => client.received.includes('<h1>home</h1>'), 'the page');
      // Within handshakeTimeoutMs, or at worst Node's default keepAliveTimeout of 5 s: an idle
      // connection must not hold one of the maxConnections places for ever.
      await client.until(() => client.closed || client.ended, 'the server to let go', 6000);
      client.destroy();
    } finally {
      await closeWithin(lab, 2000);
    }
  }, 10_000);

  it('answers an upgrade sent on a connection that was just answered 426', async () => {
    const client = await RawClient.connect(t.port);
    client.write(upgradeRequest({ host: t.host, upgrade: null }));
    await client.until(() => client.received.includes('\r\n\r\n'), 'the 426');
    await delay(50);
    expect(client.received.toString('latin1')).toMatch(/^HTTP\/1\.1 426 /);
    if (!client.ended && !client.closed) {
      const before = client.receivedLength;
      client.write(upgradeRequest({ host: t.host }));
      await client.until(
        () => client.received.subarray(before).includes('\r\n\r\n') || client.ended,
        'an answer to the second request',
      );
      expect(client.received.subarray(before).toString('latin1')).toMatch(/^HTTP\/1\.1 \d{3} /);
    }
    client.destroy();
  });

  it('upgrades a keep-alive connection after serving a page on it', async () => {
    const client = await RawClient.connect(t.port);
    client.write(`GET / HTTP/1.1\r\nHost: ${t.host}\r\n\r\n`);
    await client.until(() => client.received.includes('<h1>home</h1>'), 'the page');
    const before = client.receivedLength;
    client.write(upgradeRequest({ host: t.host }));
    await client.until(() => client.received.subarray(before).includes('\r\n\r\n'), 'the 101');
    expect(client.received.subarray(before).toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    client.destroy();
  });

  it('answers the connection past maxConnections with 503, and the first five keep working', async () => {
    const lab = await startTestLab({ limits: { maxConnections: 5 } });
    const clients: WsClient[] = [];
    try {
      for (let i = 0; i < 5; i++) clients.push(await WsClient.open(`${lab.ws}/echo`));
      const sixth = await RawClient.connect(lab.port);
      sixth.write(upgradeRequest({ host: lab.host }));
      await sixth.until(() => sixth.ended || sixth.closed, 'the refusal');
      expect(sixth.received.toString('latin1')).toMatch(/^HTTP\/1\.1 503 /);
      sixth.destroy();
      for (const client of clients) client.ws.send('ok');
      for (const client of clients) expect((await client.next()).data.toString()).toBe('ok');
      // Once one leaves, a new connection is taken again.
      await clients.pop()?.close();
      await delay(50);
      clients.push(await WsClient.open(`${lab.ws}/echo`));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      await closeWithin(lab, 500).catch(() => {});
    }
  });

  it('lets go of a connection refused with 503 once its client leaves (no leaked sockets)', async () => {
    const lab = await startTestLab({ limits: { maxConnections: 1 } });
    const first = await WsClient.open(`${lab.ws}/echo`);
    const refused = await RawClient.connect(lab.port);
    refused.write(upgradeRequest({ host: lab.host }));
    await refused.until(() => refused.ended || refused.closed, 'the refusal');
    expect(refused.received.toString('latin1')).toMatch(/^HTTP\/1\.1 503 /);
    refused.end();
    await refused.whenClosed();
    await first.close();
    // net.Server#close waits for every socket: it completes only if the refused one was released.
    await closeWithin(lab, 2000);
  });

  it('closes an /echo connection idle for idleTimeoutMs with 1001 (RFC 6455 §7.4.1)', async () => {
    const lab = await startTestLab({ limits: { idleTimeoutMs: 300 } });
    try {
      const client = await WsClient.open(`${lab.ws}/echo`);
      const start = Date.now();
      const closed = await client.closed;
      expect(closed.code).toBe(1001);
      expect(Date.now() - start).toBeGreaterThanOrEqual(250);
      expect(Date.now() - start).toBeLessThan(1500);
    } finally {
      await lab.close();
    }
  });

  it('does not close an /echo connection that keeps talking within idleTimeoutMs', async () => {
    const lab = await startTestLab({ limits: { idleTimeoutMs: 300 } });
    try {
      const client = await WsClient.open(`${lab.ws}/echo`);
      for (let i = 0; i < 6; i++) {
        await delay(100);
        client.ws.send(`tick ${i}`);
        expect((await client.next()).data.toString()).toBe(`tick ${i}`);
      }
      expect(client.ws.readyState).toBe(client.ws.OPEN);
      await client.close();
    } finally {
      await lab.close();
    }
  });
});
