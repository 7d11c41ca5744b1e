/**
 * Random and mutated bytes at every door of the lab server: the raw TCP port and the /raw relay.
 * Inputs come from fast-check with a fixed seed, so a failure names a case that can be replayed;
 * cases run concurrently in batches to keep the whole file to a few seconds.
 */
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, type FrameSpec } from '../protocol/frame-encoder.ts';
import { CrashWatch } from './test-support/crashes.ts';
import { clientClose, clientFrame, OP } from './test-support/frames.ts';
import { liveHeap } from './test-support/heap.ts';
import { delay, eventually, startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient, upgradeRequest } from './test-support/raw-client.ts';
import { WsClient } from './test-support/ws-client.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 6455);
const CASES = Number(process.env.FUZZ_CASES ?? 300);

let t: TestLab;
let crashes: CrashWatch;
let heapAtStart = 0;
let socketsAtStart = 0;

const tcpSockets = () =>
  process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;

beforeAll(async () => {
  crashes = new CrashWatch();
  // deflate: true, so permessage-deflate (RSV1, compressed payloads) is fuzzed too when offered.
  t = await startTestLab({
    deflate: true,
    limits: { handshakeTimeoutMs: 1000, maxPayload: 64 * 1024 },
  });
  // Warm up (JIT, lazy modules) before the baseline.
  const warm = await WsClient.open(`${t.ws}/echo`);
  warm.ws.send('warm');
  await warm.next();
  await warm.close();
  await delay(50);
  heapAtStart = liveHeap();
  socketsAtStart = tcpSockets();
});

afterAll(async () => {
  crashes.stop();
  await t.close();
});

// ---- inputs ---------------------------------------------------------------------------------

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({
    op: fc.constant('delete' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(input);
  for (const m of mutations) {
    if (bytes.length === 0) break;
    const at = m.at % bytes.length;
    switch (m.op) {
      case 'flip':
        bytes[at] = (bytes[at] as number) ^ (1 << m.bit);
        break;
      case 'set':
        bytes[at] = m.byte;
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
    }
  }
  return bytes;
}

/** Any frame the encoder can write, valid or not: every field drawn at random. */
const frameSpec: fc.Arbitrary<FrameSpec> = fc
  .record({
    fin: fc.boolean(),
    rsv1: fc.constantFrom(false, false, false, false, false, false, false, true),
    rsv2: fc.constantFrom(false, false, false, true),
    rsv3: fc.constantFrom(false, false, false, true),
    opcode: fc.constantFrom(0, 1, 1, 2, 2, 8, 9, 10, 3, 11, 15),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.string({ maxLength: 60 }).map((s) => new TextEncoder().encode(s)),
    ),
    mask: fc.constantFrom(true, true, true, true, false),
    maskingKey: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    lengthForm: fc.constantFrom(undefined, undefined, undefined, '7-bit', '16-bit', '64-bit'),
    declaredLength: fc.constantFrom(
      undefined,
      undefined,
      undefined,
      undefined,
      0,
      126,
      65536,
      2 ** 53,
      2n ** 63n,
      2n ** 64n - 1n,
    ),
  })
  .map((spec) => {
    const clean: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(spec)) if (value !== undefined) clean[key] = value;
    if (spec.mask === false) delete clean.maskingKey;
    return clean as unknown as FrameSpec;
  });

function encodeOrSkip(spec: FrameSpec): Uint8Array {
  try {
    return encodeFrame(spec);
  } catch {
    return new Uint8Array(0);
  }
}

const frames = fc
  .array(frameSpec, { minLength: 1, maxLength: 6 })
  .map((specs) => Buffer.concat(specs.map(encodeOrSkip)));

/** How the bytes are cut into TCP writes. */
const cuts = fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 6 });

function handshake(lab: TestLab, path = '/echo', deflate = false): Buffer {
  const extra: [string, string][] = deflate
    ? [['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits']]
    : [];
  return Buffer.from(upgradeRequest({ host: lab.host, path, extra }), 'latin1');
}

/** A compressed message as permessage-deflate sends it: RSV1 set, the deflate tail removed. */
const compressedFrames = fc
  .array(fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 })), {
    minLength: 1,
    maxLength: 3,
  })
  .map((messages) =>
    Buffer.concat(
      messages.map((message) => {
        const deflated = deflateRawSync(
          typeof message === 'string' ? Buffer.from(message) : message,
          { finishFlush: 2 },
        );
        return clientFrame(
          typeof message === 'string' ? OP.text : OP.binary,
          deflated.subarray(0, -4),
          {
            rsv1: true,
          },
        );
      }),
    ),
  );

interface Case {
  readonly name: string;
  readonly bytes: Buffer;
  readonly cuts: readonly number[];
}

function generate(count: number, seed: number): Case[] {
  const hs = handshake(t);
  const kinds = fc.oneof(
    fc
      .record({ bytes: fc.uint8Array({ maxLength: 3000 }), cuts })
      .map(({ bytes, cuts }) => ({ name: 'random bytes', bytes: Buffer.from(bytes), cuts })),
    fc
      .record({ mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }), cuts })
      .map(({ mutations, cuts }) => ({
        name: 'mutated handshake',
        bytes: mutate(hs, mutations),
        cuts,
      })),
    fc.record({ frames, cuts }).map(({ frames, cuts }) => ({
      name: 'handshake + random frames',
      bytes: Buffer.concat([hs, frames]),
      cuts,
    })),
    fc
      .record({ frames, mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }), cuts })
      .map(({ frames, mutations, cuts }) => ({
        name: 'handshake + mutated frames',
        bytes: Buffer.concat([hs, mutate(frames, mutations)]),
        cuts,
      })),
    fc
      .record({ frames, cuts, path: fc.constantFrom('/observe', '/raw') })
      .map(({ frames, cuts, path }) => ({
        name: `${path} handshake + random frames`,
        bytes: Buffer.concat([handshake(t, path), frames]),
        cuts,
      })),
    fc
      .record({
        compressed: compressedFrames,
        frames,
        mutations: fc.array(mutation, { maxLength: 3 }),
        cuts,
      })
      .map(({ compressed, frames, mutations, cuts }) => ({
        name: 'deflate handshake + (mutated) compressed frames',
        bytes: Buffer.concat([
          handshake(t, '/echo', true),
          mutate(Buffer.concat([compressed, frames]), mutations),
        ]),
        cuts,
      })),
    fc.record({ frames, cuts }).map(({ frames, cuts }) => ({
      name: 'mutated valid frames',
      bytes: Buffer.concat([
        hs,
        mutate(
          Buffer.concat([
            clientFrame(OP.text, 'hello', { fin: false }),
            clientFrame(OP.continuation, 'world'),
            clientFrame(OP.ping, 'p'),
            clientClose(1000, 'bye'),
          ]),
          [{ op: 'flip', at: frames.length * 7, bit: frames.length % 8 }],
        ),
      ]),
      cuts,
    })),
  );
  return fc.sample(kinds, { seed, numRuns: count });
}

function pieces(bytes: Buffer, cutsAt: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of cutsAt) {
    if (at >= bytes.length) break;
    out.push(bytes.subarray(at, at + cut));
    at += cut;
  }
  if (at < bytes.length) out.push(bytes.subarray(at));
  return out;
}

/** Names a case for a failure message: the bytes after the head, where the head is intact. */
function describeCase(c: Case, i: number): string {
  const end = c.bytes.indexOf('\r\n\r\n');
  const shown =
    end === -1
      ? c.bytes.subarray(0, 96).toString('hex')
      : `<${end + 4}-byte head ${JSON.stringify(c.bytes.subarray(0, 20).toString('latin1'))}…> ${c.bytes.subarray(end + 4, end + 4 + 64).toString('hex')}`;
  return `case ${i} (${c.name}; cuts ${c.cuts.join(',') || 'none'}): ${shown}`;
}

async function overTcp(c: Case, i: number): Promise<void> {
  const client = await RawClient.connect(t.port);
  for (const piece of pieces(c.bytes, c.cuts)) {
    if (client.closed) break;
    client.write(piece);
    await delay(0);
  }
  client.end();
  // After the client's FIN the server must let go within a moment, whatever came before.
  await client.whenClosed(3000).catch(() => {
    throw new Error(`the server kept the connection open after FIN: ${describeCase(c, i)}`);
  });
}

async function overRelay(c: Case, i: number): Promise<void> {
  const relay = await WsClient.open(`${t.ws}/raw`, { origin: t.origin });
  await relay.next();
  for (const piece of pieces(c.bytes, c.cuts)) relay.ws.send(piece);
  relay.ws.send('end');
  const closed = await Promise.race([relay.closed, delay(3000).then(() => null)]);
  if (closed === null) {
    relay.ws.terminate();
    throw new Error(`the relay stayed open after "end": ${describeCase(c, i)}`);
  }
}

/**
 * Runs the cases one after another, so whatever goes wrong is pinned to one case; returns a
 * line per case that crashed the server or left its connection open.
 */
async function runAll(
  cases: readonly Case[],
  run: (c: Case, i: number) => Promise<void>,
): Promise<string[]> {
  const found: string[] = [];
  for (const [i, c] of cases.entries()) {
    const before = crashes.errors.length;
    try {
      await run(c, i);
    } catch (error) {
      found.push(error instanceof Error ? error.message : String(error));
    }
    await delay(0);
    if (crashes.errors.length > before) {
      found.push(`${describeCase(c, i)} crashed: ${crashes.messages.slice(before).join('; ')}`);
    }
  }
  return found;
}

describe('fuzz: nothing a client sends crashes the lab server or leaks a connection', () => {
  it(`survives ${CASES} random and mutated inputs on fresh TCP connections`, async () => {
    const found = await runAll(generate(CASES, SEED), overTcp);
    expect(found.slice(0, 5), `${found.length} of ${CASES} cases failed`).toEqual([]);
  }, 20_000);

  it(`survives ${Math.round(CASES / 4)} random and mutated inputs through /raw`, async () => {
    const cases = generate(Math.round(CASES / 4), SEED + 1);
    const found = await runAll(cases, overRelay);
    expect(found.slice(0, 5), `${found.length} of ${cases.length} cases failed`).toEqual([]);
  }, 20_000);

  it('afterwards still echoes correctly, holds no connections, and its heap is back where it was', async () => {
    const client = await WsClient.open(`${t.ws}/echo`);
    client.ws.send('still fine ✓');
    const echoed = await client.next();
    expect(echoed).toMatchObject({ isBinary: false });
    expect(echoed.data.toString()).toBe('still fine ✓');
    client.ws.send(Buffer.from([0, 1, 2, 255]));
    expect([...(await client.next()).data]).toEqual([0, 1, 2, 255]);
    await client.close();

    const settled = async () => {
      await eventually(() => t.lab.registry.size === 0, 'the registry to empty', 3000).catch(
        () => {},
      );
      expect(t.lab.registry.snapshot().connections).toEqual([]);
      expect(t.lab.registry.size).toBe(0);
      await eventually(() => tcpSockets() <= socketsAtStart, 'every socket to close', 3000).catch(
        () => {},
      );
      expect(tcpSockets()).toBeLessThanOrEqual(socketsAtStart);
    };
    await settled();
    // The first rounds also compiled every error path the server has; a generous bound here...
    const afterFirst = liveHeap();
    expect(afterFirst - heapAtStart).toBeLessThan(16 * 1024 * 1024);
    // ...and a tighter one for a second round of fresh inputs down the same paths: 375 more
    // connections, so keeping even 5 kB of any one of them would show. (A round still leaves a
    // few hundred kB of warm-up: compiled code and type feedback, less with every round.)
    await runAll(generate(CASES, SEED + 2), overTcp);
    await runAll(generate(Math.round(CASES / 4), SEED + 3), overRelay);
    await settled();
    expect(liveHeap() - afterFirst).toBeLessThan(2.5 * 1024 * 1024);
  }, 20_000);
});
