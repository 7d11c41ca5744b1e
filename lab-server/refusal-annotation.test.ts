import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabEvent } from '../protocol/annotations.ts';
import { renderEvent } from '../protocol/render-text.ts';
import { EventLog } from './test-support/events.ts';
import { eventually, startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient, upgradeRequest } from './test-support/raw-client.ts';
import { WsClient } from './test-support/ws-client.ts';

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t.close();
});

type Response = Extract<LabEvent, { type: 'handshake-response' }>;

/** Sends `request` on a fresh TCP connection; returns the events of that connection. */
async function exchange(request: string): Promise<{ events: LabEvent[]; text: string }> {
  const log = new EventLog(t.lab.registry);
  const client = await RawClient.connect(t.port);
  try {
    client.write(request);
    const conn = await log.connOf(client.localPort);
    // The server ends a refusal with its FIN; the client then closes its side too.
    await client.until(() => client.ended || client.closed, 'the refusal to end', 2000);
    client.socket.end();
    await log.waitFor('socket-closed', (e) => e.conn === conn);
    return { events: log.forConn(conn), text: client.received.toString('utf8') };
  } finally {
    client.destroy();
    log.dispose();
  }
}

const responseOf = (events: readonly LabEvent[]) =>
  events.find((e): e is Response => e.type === 'handshake-response');

describe('a refused upgrade is annotated with the explanation its body carries', () => {
  it('a foreign Origin on /echo: 403 whose body is the Origin check’s reason (RFC 6455 §10.2)', async () => {
    const origin = 'http://evil.example';
    const { events, text } = await exchange(
      upgradeRequest({ host: t.host, path: '/echo', origin }),
    );
    const response = responseOf(events);
    const reason = t.lab.trust.checkOrigin(origin).reason;
    expect(reason).not.toBe('');
    expect(response).toMatchObject({ status: 403, body: reason });
    expect(text.endsWith(reason)).toBe(true);
    // The event keeps its place: after the request, before the server's FIN and the close.
    const types = events.map((e) => e.type);
    expect(types.indexOf('handshake-request')).toBeLessThan(types.indexOf('handshake-response'));
    expect(types.indexOf('handshake-response')).toBeLessThan(types.indexOf('socket-closed'));
    const fin = events.findIndex((e) => e.type === 'fin' && e.direction === 'server-to-client');
    if (fin >= 0) expect(types.indexOf('handshake-response')).toBeLessThan(fin);
  });

  it('a foreign Host: 403 whose body names the DNS rebinding defence', async () => {
    const { events } = await exchange(upgradeRequest({ host: 'evil.example:80', path: '/echo' }));
    expect(responseOf(events)).toMatchObject({
      status: 403,
      body: t.lab.trust.checkHost('evil.example:80').reason,
    });
  });

  it('a broken handshake: 400 whose body lists the rule it broke (RFC 6455 §4.2.1)', async () => {
    const request = upgradeRequest({ host: t.host, path: '/echo', key: 'c2hvcnQ=' });
    const { events } = await exchange(request);
    const response = responseOf(events);
    expect(response?.status).toBe(400);
    expect(response?.body).toMatch(/Sec-WebSocket-Key/);
  });

  it('a 101 carries no body', async () => {
    const log = new EventLog(t.lab.registry);
    const client = await RawClient.connect(t.port);
    try {
      client.write(upgradeRequest({ host: t.host, path: '/echo', origin: t.origin }));
      const conn = await log.connOf(client.localPort);
      const response = await log.waitFor('handshake-response', (e) => e.conn === conn);
      expect(response.status).toBe(101);
      expect('body' in response).toBe(false);
    } finally {
      client.destroy();
      log.dispose();
    }
  });

  it('through the /raw relay, a refused upgrade to /observe is annotated with its reason too', async () => {
    const log = new EventLog(t.lab.registry);
    const relay = await WsClient.open(`${t.ws}/raw`, { origin: t.origin });
    try {
      const connected = JSON.parse((await relay.next()).data.toString()) as { conn: number };
      relay.ws.send(
        Buffer.from(upgradeRequest({ host: t.host, path: '/observe', origin: 'null' }), 'latin1'),
      );
      const response = await log.waitFor(
        'handshake-response',
        (e) => e.conn === connected.conn,
        3000,
      );
      expect(response).toMatchObject({
        status: 403,
        body: t.lab.trust.checkOrigin('null').reason,
      });
      const request = log.of('handshake-request', connected.conn)[0];
      expect(request?.route).toBe('observe');
      // The terminal shows the explanation under the status line.
      const lines = renderEvent(response, { color: false }).join('\n');
      expect(lines).toContain('403 Forbidden');
      expect(lines).toContain('Origin "null" is not allowed');
      await eventually(
        () => Buffer.concat(relay.messages.filter((m) => m.isBinary).map((m) => m.data)).length > 0,
        'the refusal through the relay',
      );
    } finally {
      await relay.close().catch(() => {});
      log.dispose();
    }
  });
});

describe('a refused Origin is told how to allow it only when a flag can', () => {
  it('suggests --origin for an http(s) origin, exactly as --origin accepts it', async () => {
    const { parseOrigin } = await import('./options.ts');
    for (const origin of ['http://evil.example', `http://localhost.evil.example:${t.port}`]) {
      const reason = t.lab.trust.checkOrigin(origin).reason;
      expect(reason).toContain(`Start the lab with --origin ${origin} to allow it.`);
      expect(parseOrigin(origin)).toBe(origin);
    }
  });

  it('never suggests --origin null, which the option refuses: null is any page’s opaque origin', () => {
    const reason = t.lab.trust.checkOrigin('null').reason;
    expect(reason).not.toContain('--origin null');
    expect(reason).toMatch(/No flag allows "null".*RFC 6454/);
  });

  it('says no flag helps for values that are not origins as browsers send them', () => {
    for (const origin of [`http://127.0.0.1:${t.port}/`, 'file://', 'ws://127.0.0.1', 'evil']) {
      const reason = t.lab.trust.checkOrigin(origin).reason;
      expect(reason, origin).toMatch(/no --origin can allow it/);
    }
  });
});
