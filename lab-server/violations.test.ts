import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrashWatch } from './test-support/crashes.ts';
import { EventLog } from './test-support/events.ts';
import { clientClose, clientFrame, closeOf, OP, type WireFrame } from './test-support/frames.ts';
import { liveHeap } from './test-support/heap.ts';
import { delay, startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient, upgradeRequest } from './test-support/raw-client.ts';

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t.close();
});

async function upgraded(lab: TestLab = t): Promise<RawClient> {
  const client = await RawClient.connect(lab.port);
  expect((await client.upgrade({ host: lab.host })).status).toBe(101);
  return client;
}

/** Waits for the server's close frame and its FIN; returns the close frame. */
async function closedBy(client: RawClient, timeoutMs = 2000): Promise<WireFrame> {
  const close = await client.frame((f) => f.opcode === OP.close, 'a close frame', timeoutMs);
  await client.fin(timeoutMs);
  // Nothing follows the close frame (RFC 6455 §5.5.1).
  expect(client.frames().at(-1)).toEqual(close);
  return close;
}

const data = (client: RawClient) => client.frames().filter((f) => f.opcode < 8);

describe('a frame that breaks RFC 6455 fails the connection with the prescribed close code', () => {
  it('rejects an unmasked client frame with 1002, then FIN, and does not echo it (RFC 6455 §5.1)', async () => {
    const log = new EventLog(t.lab.registry);
    const client = await upgraded();
    client.write(clientFrame(OP.text, 'secret', { mask: false }));
    const close = await closedBy(client);
    expect(closeOf(close).code).toBe(1002);
    expect(data(client)).toEqual([]);
    expect(client.received.includes('secret')).toBe(false);
    const problem = log
      .of('frame')
      .flatMap((e) => e.frame.problems)
      .find((p) => p.rule === 'client-frame-unmasked');
    expect(problem).toMatchObject({ closeCode: 1002, section: 'RFC 6455 §5.1', fatal: true });
    log.dispose();
    client.destroy();
  });

  it('rejects RSV1 when no extension was negotiated with 1002 (RFC 6455 §5.2)', async () => {
    const client = await upgraded();
    client.write(clientFrame(OP.text, 'squeezed?', { rsv1: true }));
    expect(closeOf(await closedBy(client)).code).toBe(1002);
    expect(data(client)).toEqual([]);
    client.destroy();
  });

  it.each([3, 7, 0xb, 0xf])(
    'rejects reserved opcode %i with 1002 (RFC 6455 §5.2)',
    async (opcode) => {
      const client = await upgraded();
      client.write(clientFrame(opcode, 'x'));
      expect(closeOf(await closedBy(client)).code).toBe(1002);
      client.destroy();
    },
  );

  it('rejects a ping of 126 bytes with 1002: control frames carry at most 125 (RFC 6455 §5.5)', async () => {
    const client = await upgraded();
    client.write(clientFrame(OP.ping, Buffer.alloc(126, 0x70)));
    expect(closeOf(await closedBy(client)).code).toBe(1002);
    expect(client.frames().some((f) => f.opcode === OP.pong)).toBe(false);
    client.destroy();
  });

  it('rejects a fragmented ping with 1002 (RFC 6455 §5.5)', async () => {
    const client = await upgraded();
    client.write(clientFrame(OP.ping, 'p', { fin: false }));
    expect(closeOf(await closedBy(client)).code).toBe(1002);
    client.destroy();
  });

  it('rejects a continuation frame with no message to continue with 1002 (RFC 6455 §5.4)', async () => {
    const client = await upgraded();
    client.write(clientFrame(OP.continuation, 'orphan'));
    expect(closeOf(await closedBy(client)).code).toBe(1002);
    client.destroy();
  });

  it('rejects invalid UTF-8 in a text message with 1007 and does not echo it (RFC 6455 §8.1)', async () => {
    const client = await upgraded();
    client.write(clientFrame(OP.text, Buffer.from([0x68, 0x69, 0xff, 0xfe])));
    expect(closeOf(await closedBy(client)).code).toBe(1007);
    expect(data(client)).toEqual([]);
    client.destroy();
  });

  it('rejects invalid UTF-8 split across fragments with 1007 (RFC 6455 §8.1)', async () => {
    const client = await upgraded();
    // An overlong encoding of '/' (c0 af), its two bytes in two fragments.
    client.write(clientFrame(OP.text, Buffer.from([0x61, 0xc0]), { fin: false }));
    client.write(clientFrame(OP.continuation, Buffer.from([0xaf])));
    expect(closeOf(await closedBy(client)).code).toBe(1007);
    expect(data(client)).toEqual([]);
    client.destroy();
  });

  it('rejects a close frame with an invalid code (1005) with 1002 (RFC 6455 §7.4.1)', async () => {
    const client = await upgraded();
    client.write(clientClose(1005));
    expect(closeOf(await closedBy(client)).code).toBe(1002);
    client.destroy();
  });

  it.each([
    ['RSV1 set, no extension', [0xc1, 0x85]],
    ['RSV2 set', [0xa2, 0x85]],
    ['reserved opcode 0x3', [0x83, 0x85]],
    ['a ping announcing 126 bytes', [0x89, 0xfe]],
    ['a fragmented close', [0x08, 0x82]],
    ['a continuation with nothing to continue', [0x80, 0x81]],
  ])(
    'fails with 1002, without crashing the server, on %s seen in the first two bytes alone',
    async (_, first) => {
      const crashes = new CrashWatch();
      try {
        const client = await upgraded();
        // The rest of the header (length, masking key) has not arrived yet: the server must still
        // judge what the first two bytes already say, and must not die of it.
        client.write(Buffer.from(first));
        await delay(50);
        expect(crashes.messages).toEqual([]);
        expect(closeOf(await closedBy(client)).code).toBe(1002);
        client.destroy();
        // And everyone else is still served.
        const other = await upgraded();
        other.write(clientFrame(OP.text, 'alive'));
        expect(
          (await other.frame((f) => f.opcode === OP.text, 'the echo')).payload.toString(),
        ).toBe('alive');
        other.destroy();
      } finally {
        crashes.stop();
      }
    },
  );

  it('fails with 1002 on a header that arrives one byte at a time, without crashing the server', async () => {
    const crashes = new CrashWatch();
    try {
      const client = await upgraded();
      for (const byte of clientFrame(OP.text, 'x', { rsv3: true })) {
        if (client.ended) break;
        client.write(Buffer.from([byte]));
        await delay(5);
      }
      expect(crashes.messages).toEqual([]);
      expect(closeOf(await closedBy(client)).code).toBe(1002);
      client.destroy();
    } finally {
      crashes.stop();
    }
  });

  it('echoes the valid frames sent before an invalid one in the same TCP write', async () => {
    const client = await upgraded();
    client.write(
      Buffer.concat([
        clientFrame(OP.text, 'one'),
        clientFrame(OP.binary, Buffer.from([2, 2])),
        clientFrame(OP.text, 'three'),
        clientFrame(OP.text, 'unmasked', { mask: false }),
        clientFrame(OP.text, 'after'),
      ]),
    );
    expect(closeOf(await closedBy(client)).code).toBe(1002);
    expect(data(client).map((f) => f.payload.toString('latin1'))).toEqual([
      'one',
      '\x02\x02',
      'three',
    ]);
    client.destroy();
  });

  it('fails the connection even when the bad frame arrives with the handshake, in one write', async () => {
    const client = await RawClient.connect(t.port);
    client.write(
      Buffer.concat([
        Buffer.from(upgradeRequest({ host: t.host }), 'latin1'),
        clientFrame(OP.text, 'ok'),
        clientFrame(OP.text, 'bad', { rsv2: true }),
      ]),
    );
    expect((await client.head()).status).toBe(101);
    expect(closeOf(await closedBy(client)).code).toBe(1002);
    expect(data(client).map((f) => f.payload.toString())).toEqual(['ok']);
    client.destroy();
  });

  it('closes with 1002 for a 64-bit length with its top bit set, before allocating anything (RFC 6455 §5.2)', async () => {
    const client = await upgraded();
    const before = liveHeap();
    const header = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    client.write(header);
    expect(closeOf(await closedBy(client)).code).toBe(1002);
    expect(liveHeap() - before).toBeLessThan(1024 * 1024);
    client.destroy();
  });

  it('closes with 1009 for a length claim of 2^62 before allocating anything (RFC 6455 §7.4.1)', async () => {
    const client = await upgraded();
    const before = liveHeap();
    const header = Buffer.from([0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    client.write(header);
    expect(closeOf(await closedBy(client)).code).toBe(1009);
    expect(liveHeap() - before).toBeLessThan(1024 * 1024);
    client.destroy();
  });

  it('after failing a connection, still counts every byte the client sent in socket-closed', async () => {
    const log = new EventLog(t.lab.registry);
    const client = await upgraded();
    client.write(clientFrame(OP.text, 'x', { mask: false }));
    await closedBy(client);
    // The client answers the close frame, as RFC 6455 §5.5.1 asks, then sends its FIN.
    client.write(clientClose(1002));
    client.end();
    await client.whenClosed();
    const conn = await log.connOf(client.localPort);
    const closed = await log.waitFor('socket-closed', (e) => e.conn === conn);
    log.dispose();
    expect(closed).toMatchObject({ bytesIn: client.sentLength, bytesOut: client.receivedLength });
  });
});

describe('limits on message size and fragments', () => {
  let small: TestLab;
  beforeAll(async () => {
    small = await startTestLab({ limits: { maxPayload: 1000 } });
  });
  afterAll(async () => {
    await small.close();
  });

  it('closes with 1009 for a frame over maxPayload as soon as its header arrives (RFC 6455 §7.4.1)', async () => {
    const client = await upgraded(small);
    // Only the header of a 1001-byte binary frame: the close must not wait for the payload.
    const frame = clientFrame(OP.binary, Buffer.alloc(1001));
    client.write(frame.subarray(0, 8));
    expect(closeOf(await closedBy(client)).code).toBe(1009);
    client.destroy();
  });

  it('closes with 1009 when fragments together pass maxPayload (RFC 6455 §7.4.1)', async () => {
    const client = await upgraded(small);
    client.write(clientFrame(OP.binary, Buffer.alloc(600), { fin: false }));
    client.write(clientFrame(OP.continuation, Buffer.alloc(600)));
    expect(closeOf(await closedBy(client)).code).toBe(1009);
    expect(data(client)).toEqual([]);
    client.destroy();
  });

  it('echoes a message of exactly maxPayload bytes', async () => {
    const client = await upgraded(small);
    client.write(clientFrame(OP.binary, Buffer.alloc(1000, 7)));
    const echoed = await client.frame((f) => f.opcode === OP.binary, 'the echo');
    expect(echoed.payload.equals(Buffer.alloc(1000, 7))).toBe(true);
    client.destroy();
  });

  it('closes with 1008 once a message passes maxFragments, and memory stays flat, under 100,000 one-byte fragments', async () => {
    const client = await upgraded();
    const before = liveHeap();
    const one = clientFrame(OP.continuation, Buffer.from([0x61]), { fin: false });
    const chunk = Buffer.concat(Array.from({ length: 1000 }, () => one));
    client.write(clientFrame(OP.text, 'a', { fin: false }));
    for (let i = 0; i < 100; i++) {
      if (client.closed) break;
      client.write(chunk);
    }
    const close = await closedBy(client, 5000);
    expect(closeOf(close).code).toBe(1008);
    expect(data(client)).toEqual([]);
    client.destroy();
    await client.whenClosed();
    expect(liveHeap() - before).toBeLessThan(2 * 1024 * 1024);
  }, 15_000);

  it('echoes a message of exactly maxFragments (1024) fragments', async () => {
    const client = await upgraded();
    const frames = [clientFrame(OP.binary, Buffer.from([0]), { fin: false })];
    for (let i = 1; i < 1023; i++) {
      frames.push(clientFrame(OP.continuation, Buffer.from([i & 0xff]), { fin: false }));
    }
    frames.push(clientFrame(OP.continuation, Buffer.from([1023 & 0xff])));
    client.write(Buffer.concat(frames));
    const echoed = await client.frame((f) => f.opcode === OP.binary, 'the echo');
    expect(echoed.payload.length).toBe(1024);
    client.destroy();
  });

  it('keeps serving other clients while one is failed', async () => {
    const good = await upgraded();
    const bad = await upgraded();
    bad.write(clientFrame(OP.text, 'x', { mask: false }));
    await closedBy(bad);
    good.write(clientFrame(OP.text, 'still here'));
    const echoed = await good.frame((f) => f.opcode === OP.text, 'the echo');
    expect(echoed.payload.toString()).toBe('still here');
    good.destroy();
    bad.destroy();
  });
});
