import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabEvent, wirePayloadHex } from '../protocol/annotations.ts';
import { CrashWatch } from './test-support/crashes.ts';
import { EventLog } from './test-support/events.ts';
import {
  clientClose,
  clientFrame,
  closeOf,
  hex,
  OP,
  parseWireFrames,
} from './test-support/frames.ts';
import { liveHeap } from './test-support/heap.ts';
import { delay, eventually, startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient, upgradeRequest } from './test-support/raw-client.ts';
import { expectStillEchoes, WsClient } from './test-support/ws-client.ts';

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t.close();
});

interface Relay {
  readonly client: WsClient;
  readonly conn: number;
  readonly localPort: number;
  /** Every binary message so far, concatenated: the raw bytes the lab server sent. */
  bytes(): Buffer;
  /** The text (status) messages so far, parsed. */
  statuses(): Record<string, unknown>[];
}

async function openRelay(query = ''): Promise<Relay> {
  const client = await WsClient.open(`${t.ws}/raw${query}`, { origin: t.origin });
  const first = await client.next();
  expect(first.isBinary).toBe(false);
  const connected = JSON.parse(first.data.toString()) as {
    type: string;
    conn: number;
    localPort: number;
  };
  expect(connected.type).toBe('connected');
  return {
    client,
    conn: connected.conn,
    localPort: connected.localPort,
    bytes: () => Buffer.concat(client.messages.filter((m) => m.isBinary).map((m) => m.data)),
    statuses: () =>
      client.messages
        .filter((m) => !m.isBinary)
        .map((m) => JSON.parse(m.data.toString()) as Record<string, unknown>),
  };
}

describe('/raw relays hand-made bytes to the lab server and back', () => {
  it('says which annotated connection it opened, as its first (text) message', async () => {
    const log = new EventLog(t.lab.registry);
    const relay = await openRelay();
    expect(relay.conn).toBeGreaterThan(0);
    expect(relay.localPort).toBeGreaterThan(0);
    const opened = await log.waitFor('connection-opened', (e) => e.conn === relay.conn);
    expect(opened.client.port).toBe(relay.localPort);
    expect(opened.server.port).toBe(t.port);
    log.dispose();
    await relay.client.close();
  });

  it('carries a typed handshake, then frames, both ways, byte for byte, and annotates them', async () => {
    const log = new EventLog(t.lab.registry);
    const relay = await openRelay();
    const request = upgradeRequest({ host: t.host });
    relay.client.ws.send(Buffer.from(request, 'latin1'));
    await eventually(() => relay.bytes().includes('\r\n\r\n'), 'the 101 through the relay');
    const head = relay.bytes().toString('latin1');
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n');
    const headLength = relay.bytes().indexOf('\r\n\r\n') + 4;

    const frame = clientFrame(OP.text, 'typed by hand');
    relay.client.ws.send(frame);
    const echoed = () => parseWireFrames(relay.bytes().subarray(headLength), headLength).frames;
    await eventually(() => echoed().length === 1, 'the echo frame through the relay');
    expect(hex(echoed()[0]?.raw ?? Buffer.alloc(0))).toBe(
      hex(Buffer.concat([Buffer.from([0x81, 13]), Buffer.from('typed by hand')])),
    );

    // The annotations for conn N show exactly that exchange.
    const mine = () => log.forConn(relay.conn);
    await eventually(() => mine().filter((e) => e.type === 'frame').length === 2, 'two frames');
    const request$ = mine().find((e) => e.type === 'handshake-request');
    expect(request$).toMatchObject({ route: 'echo', target: '/echo', streamOffset: 0 });
    expect(request$?.type === 'handshake-request' && request$.length).toBe(request.length);
    expect(mine().find((e) => e.type === 'handshake-response')).toMatchObject({ status: 101 });
    const frames = mine().filter(
      (e): e is Extract<LabEvent, { type: 'frame' }> => e.type === 'frame',
    );
    expect(
      frames.map((e) => [
        e.direction,
        e.frame.streamOffset,
        e.frame.headerHex + wirePayloadHex(e.frame),
      ]),
    ).toEqual([
      ['client-to-server', request.length, hex(frame)],
      ['server-to-client', headLength, hex(echoed()[0]?.raw ?? Buffer.alloc(0))],
    ]);

    // The same events reach /observe?id=N.
    const observer = await WsClient.open(`${t.ws}/observe?id=${relay.conn}`);
    const snapshot = await observer.nextJson();
    expect(snapshot).toMatchObject({ type: 'snapshot', connections: [{ conn: relay.conn }] });
    relay.client.ws.send(clientFrame(OP.binary, Buffer.from([1, 2, 3])));
    const seen: Record<string, unknown>[] = [];
    while (!seen.some((e) => e.type === 'message' && e.direction === 'server-to-client')) {
      seen.push(await observer.nextJson());
    }
    expect(seen.every((e) => e.conn === relay.conn)).toBe(true);
    await observer.close();
    log.dispose();
    await relay.client.close();
  });

  it('reports the server closing: close frame, then {"type":"fin"}, then {"type":"closed"}', async () => {
    const relay = await openRelay();
    relay.client.ws.send(Buffer.from(upgradeRequest({ host: t.host }), 'latin1'));
    await eventually(() => relay.bytes().includes('\r\n\r\n'), 'the 101');
    relay.client.ws.send(clientClose(1000, 'bye'));
    const closed = await relay.client.closed;
    expect(closed.code).toBe(1000);
    const headLength = relay.bytes().indexOf('\r\n\r\n') + 4;
    const frames = parseWireFrames(relay.bytes().subarray(headLength)).frames;
    expect(frames.map((f) => [f.opcode, closeOf(f).code])).toEqual([[OP.close, 1000]]);
    expect(relay.statuses().map((s) => s.type)).toEqual(['connected', 'fin', 'closed']);
    expect(relay.statuses().at(-1)).toEqual({ type: 'closed', error: null });
  });

  it('shows a bad handshake answered as it is: garbage gets 400, nothing crashes', async () => {
    const relay = await openRelay();
    relay.client.ws.send(Buffer.from('HELLO?\r\n\r\n'));
    await eventually(() => relay.bytes().length > 0, 'an answer');
    expect(relay.bytes().toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    await relay.client.closed;
  });

  it('sends FIN when told "end" as a text message', async () => {
    const relay = await openRelay();
    relay.client.ws.send('end');
    // The server answers a request-less FIN by closing its side too.
    const closed = await relay.client.closed;
    expect(closed.code).toBe(1000);
    expect(relay.statuses().map((s) => s.type)).toContain('closed');
  });

  it('has no way to name a destination: ?host=10.0.0.1&port=22 is ignored, the lab answers', async () => {
    const log = new EventLog(t.lab.registry);
    const relay = await openRelay('?host=10.0.0.1&port=22&target=ssh://10.0.0.1:22');
    const opened = await log.waitFor('connection-opened', (e) => e.conn === relay.conn);
    expect(opened.server).toEqual({ address: '127.0.0.1', port: t.port });
    relay.client.ws.send(Buffer.from(upgradeRequest({ host: t.host }), 'latin1'));
    await eventually(() => relay.bytes().includes('\r\n\r\n'), 'the 101 from the lab server');
    expect(relay.bytes().toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    log.dispose();
    await relay.client.close();
  });

  it('closes the TCP connection when the browser side leaves', async () => {
    const log = new EventLog(t.lab.registry);
    const relay = await openRelay();
    relay.client.ws.terminate();
    await log.waitFor('socket-closed', (e) => e.conn === relay.conn);
    log.dispose();
  });

  it('closes a /raw client that sends an unmasked frame with 1002, and the server survives', async () => {
    const crashes = new CrashWatch();
    try {
      const client = await RawClient.connect(t.port);
      expect((await client.upgrade({ host: t.host, path: '/raw', origin: t.origin })).status).toBe(
        101,
      );
      client.write(clientFrame(OP.binary, Buffer.from('GET /'), { mask: false }));
      await delay(50);
      expect(crashes.messages).toEqual([]);
      const close = await client.frame((f) => f.opcode === OP.close, 'a close frame');
      expect(closeOf(close).code).toBe(1002);
      client.destroy();
      await expectStillEchoes(t.ws);
    } finally {
      crashes.stop();
    }
  });

  it('closes a relay the lab refuses (connection cap reached) and keeps nothing of it', async () => {
    // The relay's own WebSocket takes the only place, so its TCP connection is answered 503.
    const lab = await startTestLab({ limits: { maxConnections: 1 } });
    const refusedRelay = async () => {
      const client = new WsClient(`${lab.ws}/raw`, { origin: lab.origin });
      await client.opened;
      const closed = await Promise.race([client.closed, delay(3000).then(() => null)]);
      expect(closed, 'the relay to close').not.toBeNull();
      return client;
    };
    try {
      const first = await refusedRelay();
      const texts = first.messages.filter((m) => !m.isBinary).map((m) => m.data.toString());
      expect(texts.at(-1)).toMatch(/"type":"closed"/);
      for (let i = 0; i < 20; i++) await refusedRelay();
      const before = liveHeap();
      for (let i = 0; i < 150; i++) await refusedRelay();
      await delay(50);
      // A relay kept alive by a claim that is never settled costs about 15 kB.
      expect(liveHeap() - before).toBeLessThan(1024 * 1024);
    } finally {
      await lab.close();
    }
  }, 15_000);

  it('numbers every relayed connection, even under a burst of relays', async () => {
    const relays = await Promise.all(Array.from({ length: 20 }, () => openRelay()));
    const conns = relays.map((r) => r.conn);
    expect(conns.every((c) => c > 0)).toBe(true);
    expect(new Set(conns).size).toBe(conns.length);
    await Promise.all(relays.map((r) => r.client.close()));
  });
});
