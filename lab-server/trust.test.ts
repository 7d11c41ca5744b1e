import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient, upgradeRequest } from './test-support/raw-client.ts';
import { Trust } from './trust.ts';

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab({ origins: ['http://192.168.1.20:6455', 'HTTPS://Lab.Example.test/'] });
});
afterAll(async () => {
  await t.close();
});

const ROUTES = ['/echo', '/observe', '/raw'] as const;

/** Opens an upgrade on a fresh connection; returns the status line and what followed. */
async function upgradeWith(
  path: string,
  headers: { host?: string | null; origin?: string },
): Promise<{ status: number; text: string }> {
  const client = await RawClient.connect(t.port);
  try {
    const head = await client.upgrade({
      path,
      host: headers.host === undefined ? t.host : headers.host,
      ...(headers.origin === undefined ? {} : { origin: headers.origin }),
    });
    if (head.status !== 101) {
      await client.until(() => client.ended || client.closed, 'the refusal to end', 1000);
    }
    return { status: head.status, text: client.received.toString('utf8') };
  } finally {
    client.destroy();
  }
}

async function getWithHost(host: string): Promise<{ status: number; text: string }> {
  const client = await RawClient.connect(t.port);
  try {
    client.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    await client.until(() => client.ended || client.closed, 'the answer', 1000);
    const text = client.received.toString('utf8');
    return { status: Number(text.split(' ')[1]), text };
  } finally {
    client.destroy();
  }
}

describe('Origin: only the lab and the origins it was told about may open a WebSocket (RFC 6455 §10.2)', () => {
  const allowed = () => [
    ['none (a client that is not a browser)', undefined],
    ['the lab itself, by address', `http://127.0.0.1:${t.port}`],
    ['the lab itself, by name', `http://localhost:${t.port}`],
    ['the lab itself, by name in capitals', `http://LOCALHOST:${t.port}`],
    ['the lab itself, by IPv6 loopback', `http://[::1]:${t.port}`],
    ['the Astro dev server', 'http://localhost:4321'],
    ['an --origin addition', 'http://192.168.1.20:6455'],
    ['an --origin addition given with a trailing slash and capitals', 'https://lab.example.test'],
  ];
  const refused = () => [
    ['null (a sandboxed frame or file: page)', 'null'],
    ['a look-alike name', 'http://localhost.evil.example'],
    ['a look-alike with the right port', `http://localhost.evil.example:${t.port}`],
    ['the right address on another port', 'http://127.0.0.1:1'],
    ['a foreign site', 'http://evil.example'],
    ['the right host and port over https', `https://127.0.0.1:${t.port}`],
    ['the right origin with a path', `http://127.0.0.1:${t.port}/`],
    ['the dev server port on a foreign name', 'http://evil.example:4321'],
    ['an --origin addition on another port', 'http://192.168.1.20:6456'],
  ];

  for (const path of ROUTES) {
    it(`${path} accepts every allowed origin with 101`, async () => {
      for (const [what, origin] of allowed()) {
        const answer = await upgradeWith(path, origin === undefined ? {} : { origin });
        expect(answer.status, `${what}: ${origin}`).toBe(101);
      }
    });

    it(`${path} refuses every other origin with 403 before the upgrade`, async () => {
      for (const [what, origin] of refused()) {
        const answer = await upgradeWith(path, { origin: origin as string });
        expect(answer.status, `${what}: ${origin}`).toBe(403);
        expect(answer.text, what).not.toMatch(/\b101\b|Sec-WebSocket-Accept/i);
        expect(answer.text, what).toMatch(/Origin .* is not allowed/);
      }
    });
  }

  it('refuses two Origin headers with 403, even when the first is allowed', async () => {
    const client = await RawClient.connect(t.port);
    client.write(
      upgradeRequest({
        host: t.host,
        origin: `http://127.0.0.1:${t.port}`,
        extra: [['Origin', 'http://evil.example']],
      }),
    );
    expect((await client.head()).status).toBe(403);
    client.destroy();
  });

  it('never lets a refused origin reach /echo: nothing is echoed to it', async () => {
    const client = await RawClient.connect(t.port);
    client.write(upgradeRequest({ host: t.host, origin: 'http://evil.example' }));
    // A frame right behind the request, as a hijacking page cannot send, but a raw client can.
    client.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x69 ^ 1, 0x69 ^ 2]));
    await client.until(() => client.ended || client.closed, 'the refusal');
    expect(client.received.toString('latin1')).toMatch(/^HTTP\/1\.1 403 /);
    expect(client.received.includes(Buffer.from([0x81, 0x02]))).toBe(false);
    client.destroy();
  });
});

describe('Host: only names the lab answers to, for pages and upgrades alike (DNS rebinding)', () => {
  const good = () => [`127.0.0.1:${t.port}`, `localhost:${t.port}`, `LocalHost:${t.port}`];
  const bad = () => [
    `evil.example:${t.port}`,
    '127.0.0.1',
    'localhost',
    '127.0.0.1:1',
    `localhost.evil.example:${t.port}`,
    `127.0.0.1:${t.port}.evil.example`,
  ];

  it('serves the site to every good Host', async () => {
    for (const host of good()) expect((await getWithHost(host)).status, host).toBe(200);
  });

  it('refuses the site with 403 to every other Host', async () => {
    for (const host of bad()) {
      const answer = await getWithHost(host);
      expect(answer.status, host).toBe(403);
      expect(answer.text, host).not.toContain('<h1>home</h1>');
    }
  });

  for (const path of ROUTES) {
    it(`${path} upgrades for every good Host`, async () => {
      for (const host of good()) expect((await upgradeWith(path, { host })).status, host).toBe(101);
    });

    it(`${path} refuses every other Host with 403, and a missing one with 400 (RFC 9112 §3.2)`, async () => {
      for (const host of bad()) {
        const answer = await upgradeWith(path, { host });
        expect(answer.status, String(host)).toBe(403);
      }
      expect((await upgradeWith(path, { host: null })).status).toBe(400);
    });
  }

  it('refuses two Host headers with 400 (RFC 9112 §3.2), even when the first is good', async () => {
    const client = await RawClient.connect(t.port);
    client.write(upgradeRequest({ host: t.host, extra: [['Host', 'evil.example']] }));
    const head = await client.head();
    expect(head.status).toBe(400);
    client.destroy();
  });

  it('refuses a plain GET of a WebSocket endpoint with a foreign Host with 403, not 426', async () => {
    const client = await RawClient.connect(t.port);
    client.write(`GET /echo HTTP/1.1\r\nHost: evil.example:${t.port}\r\nConnection: close\r\n\r\n`);
    await client.until(() => client.ended || client.closed, 'the answer');
    expect(client.received.toString('latin1')).toMatch(/^HTTP\/1\.1 403 /);
    client.destroy();
  });
});

describe('Trust with a TLS listener', () => {
  it('allows the https origins and Host names of the TLS port, and nothing more (RFC 6454 §6.2)', () => {
    const trust = new Trust({ host: '127.0.0.1', port: 6455, tlsPort: 6456 });
    for (const origin of [
      'https://localhost:6456',
      'https://127.0.0.1:6456',
      'https://[::1]:6456',
    ]) {
      expect(trust.checkOrigin(origin).ok, origin).toBe(true);
    }
    for (const origin of ['https://localhost:6455', 'http://localhost:6456', 'https://localhost']) {
      expect(trust.checkOrigin(origin).ok, origin).toBe(false);
    }
    expect(trust.checkHost('localhost:6456').ok).toBe(true);
    expect(trust.checkHost('localhost').ok).toBe(false);
    // On 443 an origin and a Host leave the port out.
    const standard = new Trust({ host: '127.0.0.1', port: 8080, tlsPort: 443 });
    expect(standard.checkOrigin('https://localhost').ok).toBe(true);
    expect(standard.checkHost('localhost').ok).toBe(true);
  });
});
