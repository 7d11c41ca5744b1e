import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeAccept } from '../protocol/accept.ts';
import {
  ANNOTATION_SCHEMA_VERSION,
  type LabEvent,
  wirePayloadHex,
} from '../protocol/annotations.ts';
import { PREVIEW_LIMIT } from './tap.ts';
import { EventLog } from './test-support/events.ts';
import { clientClose, clientFrame, hex, OP, parseWireFrames } from './test-support/frames.ts';
import { startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient, SAMPLE_KEY, upgradeRequest } from './test-support/raw-client.ts';

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t.close();
});

/** The stream's global rules: seq goes up by one, t never goes back. */
function expectOrdered(events: readonly LabEvent[]) {
  for (let i = 1; i < events.length; i++) {
    const previous = events[i - 1] as LabEvent;
    const event = events[i] as LabEvent;
    expect(event.seq, `seq after ${previous.type} #${previous.seq}`).toBe(previous.seq + 1);
    expect(event.t, `t of ${event.type} #${event.seq}`).toBeGreaterThanOrEqual(previous.t);
  }
}

describe('annotations agree with the bytes on the wire, byte for byte', () => {
  it('annotates a whole /echo conversation exactly as the bytes crossed the wire', async () => {
    const log = new EventLog(t.lab.registry);
    const client = await RawClient.connect(t.port);
    const request = upgradeRequest({
      host: t.host,
      extra: [['User-Agent', 'annotations-test']],
    });
    client.write(request);
    const response = await client.head();
    expect(response.status).toBe(101);

    // Frames in every length form, a ping and a close, each with its own masking key.
    const sentFrames = [
      clientFrame(OP.text, 'Hello', { maskingKey: new Uint8Array([1, 2, 3, 4]) }),
      clientFrame(OP.binary, Buffer.alloc(200, 0xab), {
        maskingKey: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      }),
      clientFrame(OP.text, 'frag-', { fin: false, maskingKey: new Uint8Array([9, 9, 9, 9]) }),
      clientFrame(OP.continuation, 'ment', { maskingKey: new Uint8Array([0, 0, 0, 0]) }),
      clientFrame(OP.ping, 'ping!', { maskingKey: new Uint8Array([5, 6, 7, 8]) }),
    ];
    const offsets = sentFrames.map((frame) => client.write(frame));
    await client.until(
      () => client.frames().filter((f) => f.opcode === OP.pong).length === 1,
      'the echoes and the pong',
    );
    const closeFrame = clientClose(1000, 'done', { maskingKey: new Uint8Array([7, 7, 7, 7]) });
    offsets.push(client.write(closeFrame));
    sentFrames.push(closeFrame);
    await client.fin();
    client.end();
    await client.whenClosed();
    const conn = await log.connOf(client.localPort);
    await log.waitFor('socket-closed', (e) => e.conn === conn);
    log.dispose();

    // This is the only connection the log saw.
    const opened = log.of('connection-opened');
    expect(opened).toHaveLength(1);
    const events = log.forConn(conn);
    expect(log.events.every((e) => e.conn === conn)).toBe(true);
    expectOrdered(events);
    expect(events.every((e) => e.v === ANNOTATION_SCHEMA_VERSION)).toBe(true);

    // connection-opened: the client's own address and port, the server's listening port.
    expect(opened[0]?.client).toEqual({ address: '127.0.0.1', port: client.localPort });
    expect(opened[0]?.server).toEqual({ address: '127.0.0.1', port: t.port });
    expect(opened[0]?.tls).toBe(false);
    expect(events[0]?.type).toBe('connection-opened');

    // handshake-request: every header with the offset of its line, every rule holds, and the
    // accept computation is the one protocol/ does.
    const [req] = log.of('handshake-request');
    expect(req).toBeDefined();
    if (req === undefined) return;
    expect(req).toMatchObject({
      route: 'echo',
      streamOffset: 0,
      length: Buffer.byteLength(request, 'latin1'),
      method: 'GET',
      target: '/echo',
      version: 'HTTP/1.1',
    });
    const lines = request.split('\r\n').slice(1, -2);
    expect(req.headers.map(({ name, value, byteOffset }) => ({ name, value, byteOffset }))).toEqual(
      lines.map((line) => {
        const colon = line.indexOf(':');
        return {
          name: line.slice(0, colon),
          value: line.slice(colon + 1).trim(),
          byteOffset: request.indexOf(`${line}\r\n`),
        };
      }),
    );
    expect(req.findings.filter((f) => !f.ok)).toEqual([]);
    const steps = await computeAccept(SAMPLE_KEY);
    const { bytes, ...rest } = steps;
    expect(req.accept).toEqual({ ...rest, bytesHex: hex(bytes) });
    expect(req.accept?.accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');

    // handshake-response: 101 with the headers the client actually read.
    const [res] = log.of('handshake-response');
    expect(res).toMatchObject({ status: 101, streamOffset: 0, length: response.length });
    expect(
      res?.headers.map(({ name, value, byteOffset }) => ({ name, value, byteOffset })),
    ).toEqual(response.headers);

    // Client frames: header + payload preview are exactly the bytes sent, at the offset they
    // were sent; the preview stops at PREVIEW_LIMIT bytes, the length does not.
    const clientFrames = log.of('frame').filter((e) => e.direction === 'client-to-server');
    expect(clientFrames).toHaveLength(sentFrames.length);
    clientFrames.forEach((event, i) => {
      const sent = sentFrames[i] as Buffer;
      const payloadLength = sent.length - event.frame.headerLength;
      expect(event.frame.payloadLength, `client frame ${i}`).toBe(payloadLength);
      expect(event.frame.headerHex + wirePayloadHex(event.frame), `client frame ${i}`).toBe(
        hex(sent.subarray(0, event.frame.headerLength + Math.min(payloadLength, PREVIEW_LIMIT))),
      );
      expect(event.frame.streamOffset, `client frame ${i}`).toBe(offsets[i]);
      expect(event.frame.index).toBe(i);
      expect(event.frame.complete).toBe(true);
      expect(event.frame.problems).toEqual([]);
    });

    // Server frames: exactly the bytes the client received, at the offset it received them.
    const received = parseWireFrames(client.received.subarray(response.length), response.length);
    expect(received.rest.length).toBe(0);
    const serverFrames = log.of('frame').filter((e) => e.direction === 'server-to-client');
    expect(serverFrames.map((e) => e.frame.headerHex + wirePayloadHex(e.frame))).toEqual(
      received.frames.map((f) =>
        hex(
          f.raw.subarray(
            0,
            f.raw.length - f.payload.length + Math.min(f.payload.length, PREVIEW_LIMIT),
          ),
        ),
      ),
    );
    expect(serverFrames.map((e) => e.frame.streamOffset)).toEqual(
      received.frames.map((f) => f.offset),
    );
    expect(received.frames.map((f) => f.opcode)).toEqual([
      OP.text,
      OP.binary,
      OP.text,
      OP.pong,
      OP.close,
    ]);

    // Messages both ways.
    const messages = log.of('message');
    expect(
      messages.filter((m) => m.direction === 'client-to-server').map((m) => m.message.type),
    ).toEqual(['text', 'binary', 'text']);
    expect(messages.find((m) => m.message.text === 'frag-ment')?.message.frameIndices).toEqual([
      2, 3,
    ]);

    // The closing handshake: the client initiated it, the server answered with the same code.
    expect(
      log.of('close-frame').map(({ direction, code, reason, initiated }) => ({
        direction,
        code,
        reason,
        initiated,
      })),
    ).toEqual([
      { direction: 'client-to-server', code: 1000, reason: 'done', initiated: true },
      { direction: 'server-to-client', code: 1000, reason: 'done', initiated: false },
    ]);

    // Both FINs, the server's first (it closes TCP first, RFC 6455 §7.1.1), then the socket.
    expect(log.of('fin').map((e) => e.direction)).toEqual(['server-to-client', 'client-to-server']);
    const closed = log.of('socket-closed');
    expect(closed).toHaveLength(1);
    expect(closed[0]).toMatchObject({
      bytesIn: client.sentLength,
      bytesOut: client.receivedLength,
      error: null,
    });
    expect(events.at(-1)?.type).toBe('socket-closed');
    expect(t.lab.registry.get(conn)).toBeUndefined();
  });

  it('annotates a close frame the server initiates (idle timeout) with initiated: true', async () => {
    const lab = await startTestLab({ limits: { idleTimeoutMs: 200 } });
    const log = new EventLog(lab.lab.registry);
    try {
      const client = await RawClient.connect(lab.port);
      expect((await client.upgrade({ host: lab.host })).status).toBe(101);
      const close = await client.frame((f) => f.opcode === OP.close, 'the idle close', 2000);
      client.write(clientClose(close.payload.readUInt16BE(0)));
      await client.fin();
      client.end();
      await log.waitFor('socket-closed');
      expect(
        log.of('close-frame').map(({ direction, code, initiated }) => ({
          direction,
          code,
          initiated,
        })),
      ).toEqual([
        { direction: 'server-to-client', code: 1001, initiated: true },
        { direction: 'client-to-server', code: 1001, initiated: false },
      ]);
    } finally {
      log.dispose();
      await lab.close();
    }
  });

  it('keeps offsets right when the handshake and the first frames arrive in one TCP write', async () => {
    const log = new EventLog(t.lab.registry);
    const client = await RawClient.connect(t.port);
    const request = upgradeRequest({ host: t.host });
    const first = clientFrame(OP.text, 'early');
    const second = clientFrame(OP.binary, Buffer.from([1, 2, 3]));
    client.write(Buffer.concat([Buffer.from(request, 'latin1'), first, second]));
    await client.until(() => client.frames().length === 2, 'two echoes');
    client.destroy();
    const conn = await log.connOf(client.localPort);
    await log.waitFor('socket-closed', (e) => e.conn === conn);
    log.dispose();
    const frames = log.of('frame', conn).filter((e) => e.direction === 'client-to-server');
    expect(frames.map((e) => e.frame.streamOffset)).toEqual([
      request.length,
      request.length + first.length,
    ]);
    expect(frames.map((e) => e.frame.headerHex + wirePayloadHex(e.frame))).toEqual([
      hex(first),
      hex(second),
    ]);
  });

  it('keeps one global order across interleaved connections: seq up by one, t never back', async () => {
    const log = new EventLog(t.lab.registry);
    // A opens TCP first but sends its handshake last; B and C talk in between.
    const a = await RawClient.connect(t.port);
    const b = await RawClient.connect(t.port);
    const c = await RawClient.connect(t.port);
    await new Promise((resolve) => setTimeout(resolve, 20));
    b.write(upgradeRequest({ host: t.host }));
    c.write(upgradeRequest({ host: t.host }));
    await b.head();
    await c.head();
    b.write(clientFrame(OP.text, 'from b'));
    c.write(clientFrame(OP.text, 'from c'));
    a.write(upgradeRequest({ host: t.host }));
    await a.head();
    a.write(clientFrame(OP.text, 'from a'));
    await Promise.all([a, b, c].map((x) => x.until(() => x.frames().length === 1, 'an echo')));
    for (const x of [a, b, c]) {
      x.write(clientClose(1000));
      await x.fin();
      x.end();
    }
    await Promise.all([a, b, c].map((x) => x.whenClosed()));
    await new Promise((resolve) => setTimeout(resolve, 50));
    log.dispose();
    expect(log.of('connection-opened')).toHaveLength(3);
    expect(log.of('socket-closed')).toHaveLength(3);
    expectOrdered(log.events);
  });
});
