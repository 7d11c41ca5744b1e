import { randomBytes } from 'node:crypto';
import { WebSocket as UndiciWebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from './test-support/events.ts';
import { clientClose, clientFrame, OP } from './test-support/frames.ts';
import { eventually, startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient } from './test-support/raw-client.ts';
import { WsClient } from './test-support/ws-client.ts';

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t.close();
});

describe('/echo with a ws client', () => {
  it('echoes a text message as text, exactly', async () => {
    const client = await WsClient.open(`${t.ws}/echo`);
    const text = 'héllo, wörld ✓ 🦊';
    client.ws.send(text);
    const echoed = await client.next();
    expect(echoed.isBinary).toBe(false);
    expect(echoed.data.toString('utf8')).toBe(text);
    await client.close();
  });

  it('echoes an empty text message as an empty text message', async () => {
    const client = await WsClient.open(`${t.ws}/echo`);
    client.ws.send('');
    const echoed = await client.next();
    expect(echoed.isBinary).toBe(false);
    expect(echoed.data.length).toBe(0);
    await client.close();
  });

  it.each([0, 1, 125, 126, 65535, 65536, 1024 * 1024 - 1])(
    'echoes a %i-byte binary message as binary, byte for byte (each length form of RFC 6455 §5.2)',
    async (size) => {
      const client = await WsClient.open(`${t.ws}/echo`);
      const payload = randomBytes(size);
      client.ws.send(payload, { binary: true });
      const echoed = await client.next(5000);
      expect(echoed.isBinary).toBe(true);
      expect(echoed.data.length).toBe(size);
      expect(echoed.data.equals(payload)).toBe(true);
      await client.close();
    },
  );

  it('closes with 1009 a message one byte over maxPayload (1 MiB) instead of echoing it', async () => {
    const client = await WsClient.open(`${t.ws}/echo`);
    client.ws.send(Buffer.alloc(1024 * 1024 + 1), { binary: true });
    const closed = await client.closed;
    expect(closed.code).toBe(1009);
    expect(client.messages).toEqual([]);
  });

  it('echoes messages in the order they were sent', async () => {
    const client = await WsClient.open(`${t.ws}/echo`);
    for (let i = 0; i < 50; i++) client.ws.send(i % 2 === 0 ? `m${i}` : Buffer.from([i]));
    for (let i = 0; i < 50; i++) {
      const echoed = await client.next();
      if (i % 2 === 0) expect(echoed.data.toString()).toBe(`m${i}`);
      else expect([...echoed.data]).toEqual([i]);
      expect(echoed.isBinary).toBe(i % 2 === 1);
    }
    await client.close();
  });

  it('answers a ping with a pong carrying the same payload (RFC 6455 §5.5.2)', async () => {
    const client = await WsClient.open(`${t.ws}/echo`);
    const payload = Buffer.from('are you there? 0123456789');
    const pong = new Promise<Buffer>((resolve) => client.ws.once('pong', resolve));
    client.ws.ping(payload);
    expect((await pong).equals(payload)).toBe(true);
    // A ping is not a message: nothing is echoed for it.
    client.ws.send('after');
    expect((await client.next()).data.toString()).toBe('after');
    await client.close();
  });

  it.each([
    [1000, 'normal, thanks'],
    [4000, 'an application code'],
  ])('echoes close code %i and its reason (RFC 6455 §5.5.1)', async (code, reason) => {
    const client = await WsClient.open(`${t.ws}/echo`);
    const closed = await client.close(code, reason);
    expect(closed).toEqual({ code, reason });
  });
});

describe('/echo with a raw TCP client', () => {
  it('sends a message that arrived as 3 fragments back as one message in one frame (RFC 6455 §5.4)', async () => {
    const client = await RawClient.connect(t.port);
    expect((await client.upgrade({ host: t.host })).status).toBe(101);
    client.write(clientFrame(OP.text, 'Hel', { fin: false }));
    client.write(clientFrame(OP.continuation, 'lo, ', { fin: false }));
    client.write(clientFrame(OP.continuation, 'wörld', { fin: true }));
    const echoed = await client.frame((f) => f.opcode === OP.text, 'the echoed text frame');
    expect(echoed.fin).toBe(true);
    expect(echoed.masked).toBe(false);
    expect(echoed.payload.toString('utf8')).toBe('Hello, wörld');
    // Exactly one data frame came back.
    expect(client.frames().filter((f) => f.opcode < 8)).toHaveLength(1);
    client.write(clientClose(1000));
    await client.fin();
    client.destroy();
  });

  it('reassembles fragments with a ping between them and answers the ping at once (RFC 6455 §5.4)', async () => {
    const client = await RawClient.connect(t.port);
    expect((await client.upgrade({ host: t.host })).status).toBe(101);
    client.write(
      Buffer.concat([
        clientFrame(OP.binary, Buffer.from([1, 2]), { fin: false }),
        clientFrame(OP.ping, 'mid'),
        clientFrame(OP.continuation, Buffer.from([3]), { fin: true }),
      ]),
    );
    await client.frame((f) => f.opcode === OP.binary, 'the echoed binary frame');
    const frames = client.frames();
    expect(frames.map((f) => f.opcode)).toEqual([OP.pong, OP.binary]);
    expect(frames[0]?.payload.toString()).toBe('mid');
    expect([...(frames[1]?.payload ?? [])]).toEqual([1, 2, 3]);
    client.destroy();
  });
});

describe('/echo with an independent client (undici WebSocket)', () => {
  function open(): Promise<UndiciWebSocket> {
    const socket = new UndiciWebSocket(`${t.ws}/echo`);
    socket.binaryType = 'arraybuffer';
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(socket);
      socket.onerror = (event) => reject(new Error(`undici could not connect: ${event.type}`));
    });
  }
  function next(socket: UndiciWebSocket): Promise<string | ArrayBuffer> {
    return new Promise((resolve) => {
      socket.onmessage = (event) => resolve(event.data as string | ArrayBuffer);
    });
  }

  it('gets text back as text', async () => {
    const socket = await open();
    const echoed = next(socket);
    socket.send('from undici ✓');
    expect(await echoed).toBe('from undici ✓');
    socket.close();
  });

  it('gets binary back as binary, byte for byte', async () => {
    const socket = await open();
    const payload = randomBytes(70_000);
    const echoed = next(socket);
    socket.send(payload);
    const data = await echoed;
    expect(data).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(data as ArrayBuffer).equals(payload)).toBe(true);
    socket.close();
  });

  it('gets its close code and reason back', async () => {
    const socket = await open();
    const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
      socket.onclose = (event) =>
        resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    });
    socket.close(4000, 'undici says bye');
    expect(await closed).toEqual({ code: 4000, reason: 'undici says bye', wasClean: true });
  });
});

describe('/echo with permessage-deflate (the lab started with deflate: true, RFC 7692)', () => {
  let d: TestLab;
  beforeAll(async () => {
    d = await startTestLab({ deflate: true });
  });
  afterAll(async () => {
    await d.close();
  });

  it('negotiates permessage-deflate and echoes compressed messages exactly', async () => {
    const client = await WsClient.open(`${d.ws}/echo`, { perMessageDeflate: { threshold: 0 } });
    expect(client.ws.extensions).toMatch(/permessage-deflate/);
    const text = 'compress me, compress me, compress me ✓';
    client.ws.send(text);
    const echoedText = await client.next();
    expect(echoedText).toMatchObject({ isBinary: false });
    expect(echoedText.data.toString()).toBe(text);
    const payload = Buffer.concat([Buffer.alloc(5000, 1), randomBytes(5000)]);
    client.ws.send(payload);
    expect((await client.next()).data.equals(payload)).toBe(true);
    await client.close();
  });

  it('annotates compressed frames as RSV1 and compressed, both ways', async () => {
    const log = new EventLog(d.lab.registry);
    const client = await WsClient.open(`${d.ws}/echo`, { perMessageDeflate: { threshold: 0 } });
    client.ws.send('squeeze squeeze squeeze');
    await client.next();
    const conn = await log.connOf(client.localPort);
    await eventually(() => log.of('message', conn).length === 2, 'both messages annotated');
    expect(log.of('frame', conn).map((e) => [e.direction, e.frame.rsv1, e.frame.problems])).toEqual(
      [
        ['client-to-server', true, []],
        ['server-to-client', true, []],
      ],
    );
    expect(log.of('message', conn).map((e) => e.message.compressed)).toEqual([true, true]);
    log.dispose();
    await client.close();
  });

  it('still refuses RSV1 with 1002 when the client did not offer permessage-deflate', async () => {
    const client = await RawClient.connect(d.port);
    const head = await client.upgrade({ host: d.host });
    expect(head.headers.some((h) => /sec-websocket-extensions/i.test(h.name))).toBe(false);
    client.write(clientFrame(OP.text, 'x', { rsv1: true }));
    const close = await client.frame((f) => f.opcode === 8, 'a close frame');
    expect(close.payload.readUInt16BE(0)).toBe(1002);
    client.destroy();
  });
});
