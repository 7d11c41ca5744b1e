/**
 * Differential tests: the frame parser against ws@8.18.3, the engine the lab server runs.
 *
 * ws's Sender writes frames our parser must read field for field; ws's Receiver judges byte
 * streams (valid, then mutated) and our parser must reach the same verdict: accepted, or the
 * close code of the first failure. Where RFC 6455 and ws differ the parser follows the RFC; each
 * such case is a named test below, and the random comparison admits the difference only where an
 * independent check of the bytes proves that case applies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// biome-ignore lint/style/noRestrictedImports: ws is the oracle of this test, not a dependency of protocol/.
import * as wsModule from 'ws';
import { closePayload, encodeFrame, type FrameSpec, minimalLengthForm } from './frame-encoder.ts';
import { FrameParser, type FrameParserOptions } from './frame-parser.ts';
import type { AnnotatedFrame, Direction, LengthForm, ParserEvent, Problem } from './types.ts';

// ---------------------------------------------------------------------------------------------
// The oracle: ws's Receiver and Sender. @types/ws declares neither, so their shapes are here.

interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  /** Writable#errored: set synchronously when `_write` fails, before 'error' is emitted. */
  readonly errored: Error | null;
}
interface WsSenderFrameOptions {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly rsv1: boolean;
  readonly readOnly: boolean;
  readonly generateMask?: (mask: Buffer) => void;
}
interface WsInternals {
  readonly Receiver: new (options: { isServer: boolean; maxPayload: number }) => WsReceiver;
  readonly Sender: { frame(data: Buffer, options: WsSenderFrameOptions): Buffer[] };
}
const { Receiver, Sender } = wsModule as unknown as WsInternals;

const MAX_PAYLOAD = 64 * 1024;

/** The close code ws would send, for the error codes ws 8.18.3's receiver creates. */
const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNEXPECTED_RSV_2_3: 1002,
  WS_ERR_UNEXPECTED_RSV_1: 1002,
  WS_ERR_INVALID_OPCODE: 1002,
  WS_ERR_EXPECTED_FIN: 1002,
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 1002,
  WS_ERR_EXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_MASK: 1002,
  WS_ERR_INVALID_CLOSE_CODE: 1002,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
};

/**
 * ws stores the close code under `kStatusCode = Symbol('status-code')` from lib/constants.js, a
 * private symbol (not Symbol.for) in a file its `exports` map does not expose; it is found by
 * its description and cross-checked against the public `code` string, so a ws upgrade that
 * changes either fails loudly here instead of silently comparing nothing.
 */
function wsCloseCode(error: Error): number {
  const symbol = Object.getOwnPropertySymbols(error).find((s) => s.description === 'status-code');
  const stored =
    symbol === undefined ? undefined : (error as unknown as Record<symbol, unknown>)[symbol];
  const code = (error as Error & { code?: unknown }).code;
  const mapped = typeof code === 'string' ? WS_ERROR_CLOSE_CODES[code] : undefined;
  if (typeof stored !== 'number' || stored !== mapped) {
    throw new Error(
      `ws error "${error.message}" (${String(code)}) has close code ${String(stored)}, expected ${String(mapped)}`,
    );
  }
  return stored;
}

/** Accepted (no failure, whether or not the stream ended mid-frame), or the failure's close code. */
type Verdict = 'accepted' | number;

interface WsRun {
  readonly verdict: Verdict;
  readonly error: Error | null;
  readonly messages: { readonly data: Buffer; readonly binary: boolean }[];
  readonly controls: { readonly opcode: number; readonly data: Buffer }[];
  readonly close: { readonly code: number; readonly reason: string } | null;
}

/** Feeds `bytes`, cut at `cuts`, to ws's Receiver the way the lab server would for `direction`. */
function runWs(bytes: Uint8Array, direction: Direction, cuts: readonly number[] = []): WsRun {
  const receiver = new Receiver({
    isServer: direction === 'client-to-server',
    maxPayload: MAX_PAYLOAD,
  });
  const messages: WsRun['messages'] = [];
  const controls: WsRun['controls'] = [];
  let close: WsRun['close'] = null;
  receiver.on('message', (data, binary) => messages.push({ data: Buffer.from(data), binary }));
  receiver.on('ping', (data) => controls.push({ opcode: 0x9, data: Buffer.from(data) }));
  receiver.on('pong', (data) => controls.push({ opcode: 0xa, data: Buffer.from(data) }));
  receiver.on('conclude', (code, reason) => {
    close = { code, reason: reason.toString() };
  });
  // The error is also emitted on the next tick; `errored` already holds it.
  receiver.on('error', () => {});
  // A copy: ws unmasks payloads in place, inside the chunks it was given.
  const copy = Buffer.from(bytes);
  for (const [start, end] of pieces(copy.length, cuts)) {
    // After a Close frame ws has ended the stream; it reads nothing more (a real socket stops).
    if (close !== null || receiver.errored !== null) break;
    receiver.write(copy.subarray(start, end));
  }
  const error = receiver.errored;
  return {
    verdict: error === null ? 'accepted' : wsCloseCode(error),
    error,
    messages,
    controls,
    close,
  };
}

// ---------------------------------------------------------------------------------------------
// Our parser, fed the same way.

interface OurRun {
  readonly verdict: Verdict;
  readonly failure: Problem | null;
  readonly events: ParserEvent[];
}

function runOurs(
  bytes: Uint8Array,
  direction: Direction,
  cuts: readonly number[] = [],
  options: Partial<FrameParserOptions> = {},
): OurRun {
  const parser = new FrameParser({ direction, maxPayload: MAX_PAYLOAD, ...options });
  const events: ParserEvent[] = [];
  for (const [start, end] of pieces(bytes.length, cuts)) {
    events.push(...parser.push(bytes.subarray(start, end)));
  }
  events.push(...parser.end());
  const failure = parser.failure;
  // A problem without a close code (a stream that ended inside a frame) fails nothing: ws just
  // waits for more bytes. Only failures that close the connection are compared.
  const verdict = failure !== null && failure.closeCode !== null ? failure.closeCode : 'accepted';
  return { verdict, failure, events };
}

function pieces(length: number, cuts: readonly number[]): [number, number][] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < length))].sort((a, b) => a - b);
  const out: [number, number][] = [];
  let last = 0;
  for (const point of [...points, length]) {
    out.push([last, point]);
    last = point;
  }
  return out;
}

const framesOf = (events: readonly ParserEvent[]): AnnotatedFrame[] =>
  events.flatMap((e) => (e.kind === 'frame' ? [e.frame] : []));

// ---------------------------------------------------------------------------------------------
// An independent reading of the framing (RFC 6455 §5.2 lengths only, no rules), used to decide
// which documented divergence, if any, a mutated stream falls under.

interface WireFrame {
  readonly start: number;
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly length7: number;
  /** The claimed length; null when the header is cut short. */
  readonly length: bigint | null;
  readonly headerComplete: boolean;
  readonly payloadStart: number;
  /** May lie past the end of the bytes. */
  readonly payloadEnd: number;
  readonly maskingKey: Uint8Array | null;
}

function walk(bytes: Uint8Array): WireFrame[] {
  const frames: WireFrame[] = [];
  let at = 0;
  while (at < bytes.length) {
    const b0 = bytes[at] as number;
    const b1 = bytes[at + 1];
    const mask = b1 !== undefined && (b1 & 0x80) !== 0;
    const length7 = b1 === undefined ? 0 : b1 & 0x7f;
    const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const headerLength = 2 + extended + (mask ? 4 : 0);
    const base = {
      start: at,
      fin: (b0 & 0x80) !== 0,
      opcode: b0 & 0x0f,
      mask,
      length7,
      payloadStart: at + headerLength,
    };
    if (b1 === undefined || at + headerLength > bytes.length) {
      frames.push({
        ...base,
        length: null,
        headerComplete: false,
        payloadEnd: Number.POSITIVE_INFINITY,
        maskingKey: null,
      });
      break;
    }
    let length = BigInt(length7);
    if (extended > 0) {
      length = 0n;
      for (let i = 0; i < extended; i++) length = (length << 8n) | BigInt(bytes[at + 2 + i] ?? 0);
    }
    const payloadEnd = base.payloadStart + Number(length);
    frames.push({
      ...base,
      length,
      headerComplete: true,
      payloadEnd,
      maskingKey: mask ? bytes.slice(at + headerLength - 4, at + headerLength) : null,
    });
    if (payloadEnd > bytes.length) break;
    at = payloadEnd;
  }
  return frames;
}

/** RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length". */
const lengthNotMinimal = (f: WireFrame) =>
  f.length !== null &&
  ((f.length7 === 126 && f.length < 126n) || (f.length7 === 127 && f.length < 0x10000n));
/** RFC 6455 §5.2: "the most significant bit MUST be 0". */
const lengthMsbSet = (f: WireFrame) =>
  f.length7 === 127 && f.length !== null && f.length >= 2n ** 63n;

function unmasked(bytes: Uint8Array, frame: WireFrame, end: number): Uint8Array {
  const out = bytes.slice(frame.payloadStart, Math.min(end, bytes.length));
  const key = frame.maskingKey;
  if (key !== null) {
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) ^ (key[i & 3] as number);
  }
  return out;
}

/**
 * True when the text message in progress at `offset` is already not UTF-8 by the byte at
 * `offset`: no continuation could make it valid. Decided by TextDecoder (WHATWG Encoding), not
 * by protocol/utf8.ts, so the parser is not its own judge.
 */
function textInvalidBy(bytes: Uint8Array, offset: number): boolean {
  let decoder: TextDecoder | null = null;
  for (const frame of walk(bytes)) {
    if (frame.payloadStart > offset) return false;
    const holdsOffset = offset < frame.payloadEnd;
    if (frame.opcode === 0x1) decoder = new TextDecoder('utf-8', { fatal: true });
    else if (frame.opcode === 0x2) decoder = null;
    else if (frame.opcode !== 0x0) continue;
    if (decoder === null) {
      if (holdsOffset) return false;
      continue;
    }
    try {
      decoder.decode(unmasked(bytes, frame, holdsOffset ? offset + 1 : frame.payloadEnd), {
        stream: true,
      });
    } catch {
      return holdsOffset;
    }
    if (holdsOffset) return false;
  }
  return false;
}

/**
 * The part of a stream both sides can be held to. ws stops reading after a Close frame, as RFC
 * 6455 §1.4 says ("after receiving a control frame indicating the connection should be closed, a
 * peer discards any further data"), while our parser goes on annotating (see the named test), so
 * the comparison ends with the first Close frame. ws judges a header by its first two bytes while
 * our parser waits for the whole header (see the named test), so a header cut short at the end of
 * the stream is left out on both sides.
 */
function comparable(bytes: Uint8Array): Uint8Array {
  const frames = walk(bytes);
  const close = frames.find((f) => f.opcode === 0x8 && f.payloadEnd <= bytes.length);
  if (close !== undefined) return bytes.subarray(0, close.payloadEnd);
  const last = frames.at(-1);
  if (last !== undefined && !last.headerComplete) return bytes.subarray(0, last.start);
  return bytes;
}

/**
 * Compares verdicts on `stream`. A difference is admitted only for a divergence documented by a
 * named test below, and only after checking that the bytes really are such a case and that ws
 * had found nothing wrong before it. Returns which case applied, for the statistics.
 */
function compareVerdicts(
  stream: Uint8Array,
  direction: Direction,
  cuts: readonly number[],
): 'same' | 'rfc-length' | 'utf8-fail-fast' {
  const bytes = comparable(stream);
  const ws = runWs(bytes, direction, cuts);
  const ours = runOurs(bytes, direction, cuts);
  // Chunking never changes our verdict.
  expect(runOurs(bytes, direction).verdict).toBe(ours.verdict);
  if (ours.verdict === ws.verdict) return 'same';

  const failure = ours.failure;
  const context = `ours ${ours.verdict} (${failure?.rule} at ${failure?.byteOffset}), ws ${ws.verdict} (${ws.error?.message}), ${direction}, bytes ${Buffer.from(bytes).toString('hex')}`;
  if (failure === null) throw new Error(`ws fails where our parser accepts: ${context}`);

  if (failure.rule === 'length-not-minimal' || failure.rule === 'length-msb-set') {
    // RFC 6455 §5.2 length rules that ws does not enforce.
    const frame = walk(bytes).find((f) => f.start + 2 === failure.byteOffset);
    expect(frame, context).toBeDefined();
    const wire = frame as WireFrame;
    expect(
      failure.rule === 'length-msb-set' ? lengthMsbSet(wire) : lengthNotMinimal(wire),
      context,
    ).toBe(true);
    expect(runWs(bytes.subarray(0, wire.start + 2), direction).verdict, context).toBe('accepted');
    expect(ours.verdict, context).toBe(1002);
    return 'rfc-length';
  }

  if (failure.rule === 'invalid-utf8') {
    // RFC 6455 §8.1 fail fast: ws validates a text message only once its last fragment arrived.
    const end = Math.min(failure.byteOffset + 1, bytes.length);
    expect(runWs(bytes.subarray(0, end), direction).verdict, context).toBe('accepted');
    expect(textInvalidBy(bytes, failure.byteOffset), context).toBe(true);
    return 'utf8-fail-fast';
  }

  throw new Error(`verdicts differ: ${context}`);
}

// ---------------------------------------------------------------------------------------------
// Generators.

const hex = (text: string) =>
  Uint8Array.from(
    (text.replace(/\s+/g, '').match(/../g) ?? []).map((pair) => Number.parseInt(pair, 16)),
  );
const utf8 = (text: string) => new TextEncoder().encode(text);
const serverSide: Direction = 'client-to-server';
const clientSide: Direction = 'server-to-client';

const direction = fc.constantFrom<Direction>('client-to-server', 'server-to-client');
const maskingKey = fc.uint8Array({ minLength: 4, maxLength: 4 });

/** Large payloads are filled from a seed: generating 64 KiB byte by byte would dominate the run. */
const filled = (length: number, seed: number) =>
  Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
const sizeAround = fc.constantFrom(0, 1, 124, 125, 126, 127, 65535, 65536, 65537);
const binaryPayload = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 10 },
  { arbitrary: fc.tuple(sizeAround, fc.nat(255)).map(([n, seed]) => filled(n, seed)), weight: 1 },
  {
    arbitrary: fc
      .tuple(fc.integer({ min: 60000, max: 70000 }), fc.nat(255))
      .map(([n, seed]) => filled(n, seed)),
    weight: 1,
  },
);
/** Any Unicode scalar values, so 1- to 4-byte sequences. */
const textPayload = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).map(utf8),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map(utf8),
  fc.tuple(fc.integer({ min: 100, max: 20000 }), fc.nat(3)).map(([n, pick]) =>
    // Long text crosses ws's 24-byte switch from its JS validator to Node's buffer.isUtf8.
    utf8(['é', '€', '😀', 'a'][pick]?.repeat(n) ?? ''),
  ),
);
const controlPayload = fc.uint8Array({ maxLength: 125 });
const validCloseCode = fc.oneof(
  fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
  fc.integer({ min: 3000, max: 4999 }),
);
const closeBody = fc.oneof(
  { arbitrary: fc.constant(new Uint8Array(0)), weight: 1 },
  {
    arbitrary: fc
      .tuple(validCloseCode, fc.string({ unit: 'binary', maxLength: 30 }))
      .map(([code, reason]) => closePayload(code, reason)),
    weight: 4,
  },
);

type Item =
  | {
      readonly kind: 'data';
      readonly opcode: 1 | 2;
      readonly payload: Uint8Array;
      /** Fragment boundaries, as arbitrary naturals reduced modulo the payload length. */
      readonly cuts: number[];
      /** A ping or pong after fragment i, where present. */
      readonly between: (Uint8Array | null)[];
    }
  | { readonly kind: 'control'; readonly opcode: 0x8 | 0x9 | 0xa; readonly payload: Uint8Array };

const item: fc.Arbitrary<Item> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('data' as const),
      opcode: fc.constant(1 as const),
      payload: textPayload,
      cuts: fc.array(fc.nat(), { maxLength: 3 }),
      between: fc.array(fc.option(controlPayload), { maxLength: 3 }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('data' as const),
      opcode: fc.constant(2 as const),
      payload: binaryPayload,
      cuts: fc.array(fc.nat(), { maxLength: 3 }),
      between: fc.array(fc.option(controlPayload), { maxLength: 3 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('control' as const),
      opcode: fc.constantFrom(0x9 as const, 0xa as const),
      payload: controlPayload,
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('control' as const),
      opcode: fc.constant(0x8 as const),
      payload: closeBody,
    }),
    weight: 1,
  },
);

/** Valid frames for `items`, in order: data messages split into fragments, pings in between. */
function specsFor(items: readonly Item[], dir: Direction, key: Uint8Array): FrameSpec[] {
  const specs: FrameSpec[] = [];
  const push = (spec: FrameSpec) => {
    const index = specs.length;
    const frameKey = key.map((b, i) => b ^ ((index * 37 + i) & 0xff));
    specs.push(dir === 'client-to-server' ? { ...spec, maskingKey: frameKey } : spec);
  };
  for (const it of items) {
    if (it.kind === 'control') {
      push({ opcode: it.opcode, payload: it.payload });
      continue;
    }
    const bounds =
      it.payload.length < 2
        ? []
        : [...new Set(it.cuts.map((c) => 1 + (c % (it.payload.length - 1))))].sort((a, b) => a - b);
    const edges = [0, ...bounds, it.payload.length];
    for (let i = 0; i + 1 < edges.length; i++) {
      push({
        opcode: i === 0 ? it.opcode : 0x0,
        fin: i + 2 === edges.length,
        payload: it.payload.subarray(edges[i], edges[i + 1]),
      });
      const control = it.between[i];
      if (i + 2 < edges.length && control) push({ opcode: 0x9 + (i % 2), payload: control });
    }
  }
  return specs;
}

const concatBytes = (parts: readonly Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

type SpecMutation =
  | { readonly kind: 'form'; readonly form: LengthForm }
  | { readonly kind: 'declared'; readonly delta: number }
  | { readonly kind: 'claim'; readonly length: number | bigint }
  | { readonly kind: 'fin' }
  | { readonly kind: 'rsv'; readonly bit: 1 | 2 | 3 }
  | { readonly kind: 'opcode'; readonly opcode: number }
  | { readonly kind: 'mask' };

const specMutation: fc.Arbitrary<{ frame: number; change: SpecMutation }> = fc.record({
  frame: fc.nat(),
  change: fc.oneof(
    fc.record({
      kind: fc.constant('form' as const),
      form: fc.constantFrom<LengthForm>('16-bit', '64-bit'),
    }),
    fc.record({ kind: fc.constant('declared' as const), delta: fc.integer({ min: -3, max: 3 }) }),
    fc.record({
      kind: fc.constant('claim' as const),
      length: fc.constantFrom<number | bigint>(
        125,
        126,
        65535,
        65536,
        65537,
        2 ** 53 - 1,
        2 ** 53,
        2n ** 63n - 1n,
        2n ** 63n,
        2n ** 64n - 1n,
      ),
    }),
    fc.record({ kind: fc.constant('fin' as const) }),
    fc.record({ kind: fc.constant('rsv' as const), bit: fc.constantFrom(1 as const, 2, 3) }),
    fc.record({ kind: fc.constant('opcode' as const), opcode: fc.integer({ min: 0, max: 15 }) }),
    fc.record({ kind: fc.constant('mask' as const) }),
  ),
});

const FORM_RANK: Readonly<Record<LengthForm, number>> = { '7-bit': 0, '16-bit': 1, '64-bit': 2 };

function mutateSpec(spec: FrameSpec, change: SpecMutation): FrameSpec {
  const changed = applySpecMutation(spec, change);
  // A forced length form narrower than the (declared) length cannot be written; drop it.
  const { lengthForm, ...rest } = changed;
  const length =
    changed.declaredLength ?? (changed.payload instanceof Uint8Array ? changed.payload.length : 0);
  return lengthForm === undefined || FORM_RANK[lengthForm] >= FORM_RANK[minimalLengthForm(length)]
    ? changed
    : rest;
}

function applySpecMutation(spec: FrameSpec, change: SpecMutation): FrameSpec {
  const length = spec.payload instanceof Uint8Array ? spec.payload.length : 0;
  switch (change.kind) {
    case 'form':
      // A form wider than needed is a non-minimal encoding.
      return { ...spec, lengthForm: change.form };
    case 'declared':
      return { ...spec, declaredLength: Math.max(0, length + change.delta) };
    case 'claim':
      return { ...spec, declaredLength: change.length };
    case 'fin':
      return { ...spec, fin: spec.fin === false };
    case 'rsv':
      return { ...spec, [`rsv${change.bit}`]: true };
    case 'opcode':
      return { ...spec, opcode: change.opcode };
    case 'mask': {
      const { maskingKey: key, ...rest } = spec;
      return key === undefined ? { ...rest, maskingKey: Uint8Array.of(1, 2, 3, 4) } : rest;
    }
  }
}

type ByteMutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'truncate'; readonly at: number };

const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutateBytes(bytes: Uint8Array, change: ByteMutation): Uint8Array {
  if (bytes.length === 0) return bytes;
  const at = change.at % bytes.length;
  switch (change.kind) {
    case 'flip': {
      const out = bytes.slice();
      out[at] = (out[at] as number) ^ (1 << change.bit);
      return out;
    }
    case 'set': {
      const out = bytes.slice();
      out[at] = change.value;
      return out;
    }
    case 'insert':
      return concatBytes([bytes.subarray(0, at), change.bytes, bytes.subarray(at)]);
    case 'delete':
      return concatBytes([bytes.subarray(0, at), bytes.subarray(at + change.count)]);
    case 'truncate':
      return bytes.slice(0, at);
  }
}

/** Cut points: a few random ones, or every byte for small streams. */
const chunking = fc.record({ cuts: fc.array(fc.nat(), { maxLength: 6 }), bytewise: fc.boolean() });
const cutsFor = (length: number, { cuts, bytewise }: { cuts: number[]; bytewise: boolean }) =>
  bytewise && length <= 2000
    ? Array.from({ length }, (_, i) => i)
    : cuts.map((c) => c % (length + 1));

// ---------------------------------------------------------------------------------------------

describe("frames written by ws's Sender parse to the same fields", () => {
  const senderFrame = fc.oneof(
    fc.record({
      opcode: fc.constantFrom(0x1 as const),
      payload: textPayload,
      fin: fc.boolean(),
      rsv1: fc.boolean(),
    }),
    fc.record({
      opcode: fc.constantFrom(0x2 as const),
      payload: binaryPayload,
      fin: fc.boolean(),
      rsv1: fc.boolean(),
    }),
    fc.record({
      opcode: fc.constantFrom(0x9 as const, 0xa as const),
      payload: controlPayload,
      fin: fc.constant(true),
      rsv1: fc.constant(false),
    }),
    fc.record({
      opcode: fc.constant(0x8 as const),
      payload: closeBody,
      fin: fc.constant(true),
      rsv1: fc.constant(false),
    }),
  );

  it('fin, rsv1, opcode, mask, masking key, length and its form, and the unmasked payload', () => {
    fc.assert(
      fc.property(
        senderFrame,
        fc.boolean(),
        fc.oneof(maskingKey, fc.constant(new Uint8Array(4))),
        chunking,
        (spec, mask, key, chunks) => {
          const payload = Buffer.from(spec.payload);
          const bytes = concatBytes(
            Sender.frame(Buffer.from(payload), {
              fin: spec.fin,
              opcode: spec.opcode,
              mask,
              rsv1: spec.rsv1,
              readOnly: true,
              generateMask: (buffer) => buffer.set(key),
            }),
          );
          const dir = mask ? serverSide : clientSide;
          const cuts = cutsFor(bytes.length, chunks);
          const { events, failure } = runOurs(bytes, dir, cuts, {
            previewLimit: Number.POSITIVE_INFINITY,
            maxPayload: 1 << 20,
            extensions: { rsv1: true },
          });
          const frames = framesOf(events);
          expect(frames).toHaveLength(1);
          const frame = frames[0] as AnnotatedFrame;
          // ws always writes the minimal length form.
          const form: LengthForm =
            payload.length >= 65536 ? '64-bit' : payload.length > 125 ? '16-bit' : '7-bit';
          const headerLength =
            2 + (form === '64-bit' ? 8 : form === '16-bit' ? 2 : 0) + (mask ? 4 : 0);
          expect(frame).toMatchObject({
            streamOffset: 0,
            fin: spec.fin,
            rsv1: spec.rsv1,
            rsv2: false,
            rsv3: false,
            opcode: spec.opcode,
            mask,
            payloadLength: payload.length,
            lengthForm: form,
            headerLength,
            payloadReceived: payload.length,
            complete: true,
            problems: [],
          });
          expect(frame.maskingKey).toEqual(mask ? key : null);
          expect(Buffer.from(frame.unmaskedPreview).equals(payload)).toBe(true);
          expect(Buffer.from(frame.payloadPreview).equals(bytes.subarray(headerLength))).toBe(true);
          expect(failure).toBeNull();
          if (spec.opcode === 0x8 && payload.length >= 2) {
            expect(frame.close).toEqual({
              code: payload.readUInt16BE(0),
              reason: payload.subarray(2).toString(),
            });
          }
          if (form !== '7-bit') {
            expect(frame.fields.find((f) => f.name === 'extendedPayloadLength')?.value).toBe(
              payload.length,
            );
          }

          // Default options: the preview stops at 1024 bytes, the fields do not change.
          const preview = framesOf(
            runOurs(bytes, dir, cuts, { maxPayload: 1 << 20, extensions: { rsv1: true } }).events,
          )[0];
          expect(preview?.payloadLength).toBe(payload.length);
          expect(
            Buffer.from(preview?.unmaskedPreview ?? []).equals(payload.subarray(0, 1024)),
          ).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("verdicts agree with ws's Receiver", () => {
  it('valid streams are accepted by both, with the same messages, pings, pongs and close', () => {
    fc.assert(
      fc.property(
        direction,
        fc.array(item, { minLength: 1, maxLength: 5 }),
        maskingKey,
        chunking,
        (dir, items, key, chunks) => {
          // Messages over maxPayload are not valid here; the mutated streams test them.
          fc.pre(items.every((it) => it.payload.length <= MAX_PAYLOAD));
          const stream = concatBytes(specsFor(items, dir, key).map((spec) => encodeFrame(spec)));
          const cuts = cutsFor(stream.length, chunks);
          const ws = runWs(stream, dir, cuts);
          const ours = runOurs(stream, dir, cuts, { previewLimit: Number.POSITIVE_INFINITY });
          expect(ws.error).toBeNull();
          expect(ours.failure).toBeNull();
          // ws stops at the Close frame; compare what both read up to there.
          const frames = framesOf(ours.events);
          const closeAt = frames.findIndex((f) => f.opcode === 0x8);
          const upToClose = closeAt < 0 ? frames : frames.slice(0, closeAt + 1);
          const last = upToClose.at(-1);
          const messages = ours.events.flatMap((e) =>
            e.kind === 'message' &&
            (last === undefined || e.message.frameIndices.every((i) => i <= last.index))
              ? [e.message]
              : [],
          );
          // Compared as base64: deep equality on 64 KiB buffers is slow.
          const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
          expect(messages.map((m) => [m.type === 'binary', b64(m.preview)])).toEqual(
            ws.messages.map((m) => [m.binary, b64(m.data)]),
          );
          expect(
            upToClose
              .filter((f) => f.opcode === 0x9 || f.opcode === 0xa)
              .map((f) => [f.opcode, b64(f.unmaskedPreview)]),
          ).toEqual(ws.controls.map((c) => [c.opcode, b64(c.data)]));
          const close = closeAt < 0 ? undefined : frames[closeAt];
          expect(ws.close).toEqual(
            close === undefined
              ? null
              : { code: close.close?.code ?? 1005, reason: close.close?.reason ?? '' },
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('mutated streams (flipped bits, lying lengths, inserted, deleted and truncated bytes) get the same verdict', () => {
    const seen = { same: 0, 'rfc-length': 0, 'utf8-fail-fast': 0, failures: 0 };
    fc.assert(
      fc.property(
        direction,
        fc.array(item, { minLength: 1, maxLength: 4 }),
        maskingKey,
        fc.array(specMutation, { maxLength: 2 }),
        fc.array(byteMutation, { maxLength: 3 }),
        chunking,
        (dir, items, key, specChanges, byteChanges, chunks) => {
          const specs = specsFor(items, dir, key);
          for (const { frame, change } of specChanges) {
            const index = frame % specs.length;
            specs[index] = mutateSpec(specs[index] as FrameSpec, change);
          }
          let stream: Uint8Array = concatBytes(specs.map((spec) => encodeFrame(spec)));
          for (const change of byteChanges) stream = mutateBytes(stream, change);
          const outcome = compareVerdicts(stream, dir, cutsFor(stream.length, chunks));
          seen[outcome]++;
          if (runWs(comparable(stream), dir).verdict !== 'accepted') seen.failures++;
        },
      ),
      { numRuns: 3000 },
    );
    // The generators must reach failures and both divergences, or the comparison proves little.
    expect(seen.failures).toBeGreaterThan(500);
    expect(seen['rfc-length']).toBeGreaterThan(10);
    expect(seen['utf8-fail-fast']).toBeGreaterThan(10);
  }, 30_000);

  it('random bytes get the same verdict', () => {
    fc.assert(
      fc.property(direction, fc.uint8Array({ maxLength: 200 }), chunking, (dir, bytes, chunks) => {
        compareVerdicts(bytes, dir, cutsFor(bytes.length, chunks));
      }),
      { numRuns: 3000 },
    );
  }, 30_000);
});

describe('where RFC 6455 and ws differ, the parser follows the RFC', () => {
  it('a 64-bit length with its most significant bit set is a protocol error 1002 (RFC 6455 §5.2); ws reports 1009 because it only checks the 2^53 limit', () => {
    const bytes = hex('82 7f 80 00 00 00 00 00 00 01');
    expect(runOurs(bytes, clientSide).failure).toMatchObject({
      rule: 'length-msb-set',
      closeCode: 1002,
    });
    expect(runWs(bytes, clientSide).error).toMatchObject({
      code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
    });
    expect(runWs(bytes, clientSide).verdict).toBe(1009);
  });

  it('a 64-bit length under 2^63 but over 2^53 closes with 1009 on both sides (message too big)', () => {
    const bytes = hex('82 7f 00 20 00 00 00 00 00 00');
    expect(runOurs(bytes, clientSide).verdict).toBe(1009);
    expect(runWs(bytes, clientSide).verdict).toBe(1009);
  });

  it('a non-minimal length encoding is rejected with 1002 (RFC 6455 §5.2); ws accepts it', () => {
    const cases = [
      // 5 bytes in the 16-bit form
      encodeFrame({ opcode: 0x2, payload: hex('0102030405'), lengthForm: '16-bit' }),
      // 5 bytes in the 64-bit form
      encodeFrame({ opcode: 0x1, payload: 'hello', lengthForm: '64-bit' }),
      // 300 bytes in the 64-bit form
      encodeFrame({ opcode: 0x2, payload: new Uint8Array(300), lengthForm: '64-bit' }),
    ];
    for (const bytes of cases) {
      expect(runOurs(bytes, clientSide).failure).toMatchObject({
        rule: 'length-not-minimal',
        closeCode: 1002,
        byteOffset: 2,
      });
      const ws = runWs(bytes, clientSide);
      expect(ws.verdict).toBe('accepted');
      expect(ws.messages).toHaveLength(1);
    }
  });

  it('invalid UTF-8 in a fragmented text message fails with 1007 as soon as the bad byte arrives (RFC 6455 §8.1); ws validates only once the final fragment arrived', () => {
    const start = encodeFrame({ opcode: 0x1, fin: false, payload: hex('61 ff 62') });
    // The stream ends before the final fragment: ws has found nothing wrong.
    expect(runOurs(start, clientSide).failure).toMatchObject({
      rule: 'invalid-utf8',
      closeCode: 1007,
      byteOffset: 3,
    });
    expect(runWs(start, clientSide).verdict).toBe('accepted');
    // A later protocol error decides ws's verdict: 1002 for it, 1007 for the RFC.
    const thenReserved = concatBytes([start, hex('83 00')]);
    expect(runOurs(thenReserved, clientSide).verdict).toBe(1007);
    expect(runWs(thenReserved, clientSide).verdict).toBe(1002);
    // So does a later fragment over the size limit: 1009 for ws.
    const thenTooBig = concatBytes([
      start,
      encodeFrame({ opcode: 0x0, payload: new Uint8Array(MAX_PAYLOAD) }),
    ]);
    expect(runOurs(thenTooBig, clientSide).verdict).toBe(1007);
    expect(runWs(thenTooBig, clientSide).verdict).toBe(1009);
    // With the final fragment both fail with 1007.
    const finished = concatBytes([start, encodeFrame({ opcode: 0x0, payload: 'c' })]);
    expect(runOurs(finished, clientSide).verdict).toBe(1007);
    expect(runWs(finished, clientSide).verdict).toBe(1007);
  });

  it('invalid UTF-8 in an unfinished single text frame fails with 1007 before the frame ends (RFC 6455 §8.1); ws waits for the whole payload', () => {
    const bytes = hex('81 0a 61 c0 80'); // claims 10 bytes, 3 arrived; C0 is never UTF-8
    expect(runOurs(bytes, clientSide).failure).toMatchObject({
      rule: 'invalid-utf8',
      closeCode: 1007,
      byteOffset: 3,
    });
    expect(runWs(bytes, clientSide).verdict).toBe('accepted');
  });
});

describe('where RFC 6455 and ws agree, so does the parser', () => {
  const cases: [name: string, dir: Direction, bytes: Uint8Array, verdict: Verdict][] = [
    [
      'close code 1012 (IANA registry, after RFC 6455) is accepted',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1012) }),
      'accepted',
    ],
    [
      'close code 1013 (IANA registry, after RFC 6455) is accepted',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1013, 'busy') }),
      'accepted',
    ],
    [
      'close code 1014 (IANA registry, after RFC 6455) is accepted',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1014) }),
      'accepted',
    ],
    [
      'close code 3000 (registered range, RFC 6455 §7.4.2) is accepted',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(3000) }),
      'accepted',
    ],
    [
      'close code 4999 (private range, RFC 6455 §7.4.2) is accepted',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(4999) }),
      'accepted',
    ],
    [
      'close code 1010 from a server is accepted: RFC 6455 §7.4.1 says a client sends it but gives the receiver no rule to fail on',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1010) }),
      'accepted',
    ],
    [
      'close code 1012 from a client is accepted: the registry says a server sends it, with no rule for the receiver',
      serverSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1012), mask: true }),
      'accepted',
    ],
    [
      'close code 1004 (reserved) fails with 1002 (RFC 6455 §7.4.1)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1004) }),
      1002,
    ],
    [
      'close code 1005 (never on the wire) fails with 1002 (RFC 6455 §7.4.1)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1005) }),
      1002,
    ],
    [
      'close code 1006 (never on the wire) fails with 1002 (RFC 6455 §7.4.1)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1006) }),
      1002,
    ],
    [
      'close code 1015 (never on the wire) fails with 1002 (RFC 6455 §7.4.1)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1015) }),
      1002,
    ],
    [
      'close code 1016 (unassigned) fails with 1002 (RFC 6455 §7.4.2)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(1016) }),
      1002,
    ],
    [
      'close code 2999 (unassigned) fails with 1002 (RFC 6455 §7.4.2)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(2999) }),
      1002,
    ],
    [
      'close code 999 fails with 1002 (RFC 6455 §7.4.2)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(999) }),
      1002,
    ],
    [
      'close code 5000 fails with 1002 (RFC 6455 §7.4.2)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: closePayload(5000) }),
      1002,
    ],
    [
      'a close frame with a 1-byte body fails with 1002 (RFC 6455 §5.5.1)',
      clientSide,
      hex('88 01 03'),
      1002,
    ],
    ['an empty close frame is accepted (RFC 6455 §5.5.1)', clientSide, hex('88 00'), 'accepted'],
    [
      'invalid UTF-8 in a close reason fails with 1007 (RFC 6455 §5.5.1, §8.1)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: concatBytes([closePayload(1000), hex('ed a0 80')]) }),
      1007,
    ],
    [
      'an invalid close code with an invalid reason fails with 1002: the code is judged first',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: concatBytes([closePayload(1005), hex('ff')]) }),
      1002,
    ],
    [
      'a close frame of 126 bytes fails with 1002 (RFC 6455 §5.5)',
      clientSide,
      encodeFrame({ opcode: 0x8, payload: concatBytes([closePayload(1000), new Uint8Array(124)]) }),
      1002,
    ],
    [
      'a close frame inside a fragmented message is accepted (RFC 6455 §5.4)',
      clientSide,
      concatBytes([
        encodeFrame({ opcode: 0x1, fin: false, payload: 'a' }),
        encodeFrame({ opcode: 0x8, payload: closePayload(1000) }),
      ]),
      'accepted',
    ],
    [
      'a code point split across fragments is accepted (RFC 6455 §5.6)',
      clientSide,
      concatBytes([
        encodeFrame({ opcode: 0x1, fin: false, payload: hex('f0 9f') }),
        encodeFrame({ opcode: 0x9 }),
        encodeFrame({ opcode: 0x0, payload: hex('98 80') }),
      ]),
      'accepted',
    ],
    [
      'a text message ending inside a code point fails with 1007 (RFC 6455 §8.1)',
      clientSide,
      encodeFrame({ opcode: 0x1, payload: hex('61 e2 82') }),
      1007,
    ],
    [
      'noncharacters U+FFFE and U+FFFF are valid UTF-8 (RFC 3629), in a short message',
      clientSide,
      encodeFrame({ opcode: 0x1, payload: hex('ef bf be ef bf bf') }),
      'accepted',
    ],
    [
      'noncharacters U+FFFE and U+FFFF are valid UTF-8, in a message of 24 bytes or more (ws then uses buffer.isUtf8)',
      clientSide,
      encodeFrame({
        opcode: 0x1,
        payload: concatBytes([utf8('x'.repeat(30)), hex('ef bf be ef bf bf')]),
      }),
      'accepted',
    ],
    [
      'UTF-16 surrogates (ED A0 80) are not UTF-8 and fail with 1007 (RFC 3629 §3)',
      clientSide,
      encodeFrame({ opcode: 0x1, payload: hex('ed a0 80') }),
      1007,
    ],
    [
      'an overlong encoding (C0 80) fails with 1007 (RFC 3629 §3)',
      clientSide,
      encodeFrame({ opcode: 0x1, payload: hex('c0 80') }),
      1007,
    ],
    [
      'a code point over U+10FFFF (F4 90 80 80) fails with 1007 (RFC 3629 §3)',
      clientSide,
      encodeFrame({ opcode: 0x1, payload: hex('f4 90 80 80') }),
      1007,
    ],
    [
      'a message of exactly maxPayload bytes is accepted',
      clientSide,
      encodeFrame({ opcode: 0x2, payload: new Uint8Array(MAX_PAYLOAD) }),
      'accepted',
    ],
    [
      'a message one byte over maxPayload, over two fragments, fails with 1009 at the second header (RFC 6455 §7.4.1)',
      clientSide,
      concatBytes([
        encodeFrame({ opcode: 0x2, fin: false, payload: new Uint8Array(MAX_PAYLOAD) }),
        hex('80 01'),
      ]),
      1009,
    ],
    [
      'control frames do not count towards maxPayload',
      clientSide,
      concatBytes([
        encodeFrame({ opcode: 0x2, fin: false, payload: new Uint8Array(MAX_PAYLOAD) }),
        encodeFrame({ opcode: 0x9, payload: new Uint8Array(125) }),
        hex('80 00'),
      ]),
      'accepted',
    ],
    ['an unmasked client frame fails with 1002 (RFC 6455 §5.1)', serverSide, hex('81 00'), 1002],
    [
      'a masked server frame fails with 1002 (RFC 6455 §5.1)',
      clientSide,
      hex('81 80 00 00 00 00'),
      1002,
    ],
    [
      'a masking key of zeros is still masking (RFC 6455 §5.3)',
      serverSide,
      hex('82 81 00 00 00 00 07'),
      'accepted',
    ],
    ['a reserved opcode fails with 1002 (RFC 6455 §5.2)', clientSide, hex('8b 00'), 1002],
    ['RSV2 without an extension fails with 1002 (RFC 6455 §5.2)', clientSide, hex('a2 00'), 1002],
    ['a fragmented ping fails with 1002 (RFC 6455 §5.5)', clientSide, hex('09 00'), 1002],
    [
      'a continuation frame with nothing to continue fails with 1002 (RFC 6455 §5.4)',
      clientSide,
      hex('80 00'),
      1002,
    ],
    [
      'a new text frame inside a fragmented message fails with 1002 (RFC 6455 §5.4)',
      clientSide,
      hex('01 00 81 00'),
      1002,
    ],
  ];

  it.each(cases)('%s', (_name, dir, bytes, verdict) => {
    expect(runWs(bytes, dir).verdict).toBe(verdict);
    expect(runOurs(bytes, dir).verdict).toBe(verdict);
  });

  it('a stream that ends inside a frame is a note, not a failure, as ws just waits for more: frame-cut-short and header-cut-short are not fatal, have no close code and leave failure null', () => {
    expect(runWs(hex('82 05 01 02'), clientSide).verdict).toBe('accepted');
    expect(runWs(hex('82 7e 01'), clientSide).verdict).toBe('accepted');
    const inPayload = runOurs(hex('82 05 01 02'), clientSide);
    const inHeader = runOurs(hex('82 7e 01'), clientSide);
    const problems = [...inPayload.events, ...inHeader.events].flatMap((e) =>
      e.kind === 'problem' ? [e.problem] : e.kind === 'frame' ? e.frame.problems : [],
    );
    expect(problems.map((p) => [p.rule, p.closeCode, p.fatal])).toEqual([
      ['frame-cut-short', null, false],
      ['header-cut-short', null, false],
    ]);
    expect(inPayload.failure).toBeNull();
    expect(inHeader.failure).toBeNull();
  });

  it("ws's errors carry their close code under Symbol('status-code'), matching their code string", () => {
    const error = runWs(hex('83 00'), clientSide).error;
    expect(error).toMatchObject({ code: 'WS_ERR_INVALID_OPCODE' });
    expect(wsCloseCode(error as Error)).toBe(1002);
  });
});

describe('defects found against ws (these fail until frame-parser.ts is fixed)', () => {
  it('judges FIN, RSV, opcode and MASK as soon as the first two header bytes arrive, as ws does: an unmasked client frame announcing a 16-bit length already fails with 1002 (RFC 6455 §5.1)', () => {
    // The lab server's tap sees what ws saw: ws closes with 1002 after these two bytes, and
    // nothing more arrives, so the annotation has to explain the close from them.
    const bytes = hex('81 7e');
    expect(runWs(bytes, serverSide).verdict).toBe(1002);
    const parser = new FrameParser({ direction: serverSide, maxPayload: MAX_PAYLOAD });
    parser.push(bytes);
    expect(parser.failure).toMatchObject({ rule: 'client-frame-unmasked', closeCode: 1002 });
  });

  it('judges a data frame over maxPayload as soon as its extended length arrives, before the masking key, as ws does (1009)', () => {
    const bytes = hex('82 ff 00 00 00 00 00 01 00 01'); // 65537 bytes, masking key not yet sent
    expect(runWs(bytes, serverSide).verdict).toBe(1009);
    const parser = new FrameParser({ direction: serverSide, maxPayload: MAX_PAYLOAD });
    parser.push(bytes);
    expect(parser.failure).toMatchObject({ rule: 'message-too-big', closeCode: 1009 });
  });

  it('discards what follows a Close frame, as ws does (RFC 6455 §1.4: after receiving a Close a peer discards any further data): a reserved opcode after it is no failure', () => {
    const bytes = concatBytes([
      encodeFrame({ opcode: 0x8, payload: closePayload(1000) }),
      hex('83 00'),
    ]);
    expect(runWs(bytes, clientSide).verdict).toBe('accepted');
    expect(runOurs(bytes, clientSide).failure).toBeNull();
  });

  it('keeps its own copy of the bytes it shows when pushed a Node Buffer: ws unmasks the same socket Buffer in place, and payloadPreview must still hold the masked bytes that crossed the wire', () => {
    // Buffer#slice returns a view, not a copy, so `chunk.slice()` keeps the caller's memory.
    const wire = Buffer.from(
      encodeFrame({ opcode: 0x2, payload: hex('010203'), maskingKey: hex('10203040') }),
    );
    const masked = hex('112233');
    const parser = new FrameParser({ direction: serverSide });
    const frame = framesOf(parser.push(wire))[0] as AnnotatedFrame;
    expect(Uint8Array.from(frame.payloadPreview)).toEqual(masked);
    // What the lab server's Receiver then does to the socket's Buffer (runWs would copy it):
    new Receiver({ isServer: true, maxPayload: MAX_PAYLOAD }).write(wire);
    expect(Uint8Array.from(frame.payloadPreview)).toEqual(masked);
  });

  it('keeps its own copy of an unmasked payload when pushed a Node Buffer that the caller then reuses', () => {
    const chunk = Buffer.from(encodeFrame({ opcode: 0x2, payload: hex('010203') }));
    const events = new FrameParser({ direction: clientSide }).push(chunk);
    chunk.fill(0xee);
    const frame = framesOf(events)[0] as AnnotatedFrame;
    const message = events.find((e) => e.kind === 'message');
    expect(Uint8Array.from(frame.unmaskedPreview)).toEqual(hex('010203'));
    expect(message?.kind === 'message' && Uint8Array.from(message.message.preview)).toEqual(
      hex('010203'),
    );
  });
});
