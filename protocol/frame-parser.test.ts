import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closePayload, encodeFrame, type FrameSpec } from './frame-encoder.ts';
import { FrameParser, type FrameParserOptions, parseFrames } from './frame-parser.ts';
import type { AnnotatedFrame, Direction, ParserEvent } from './types.ts';

const hex = (text: string) =>
  Uint8Array.from(
    (text.replace(/\s+/g, '').match(/../g) ?? []).map((pair) => Number.parseInt(pair, 16)),
  );
const client: FrameParserOptions = { direction: 'client-to-server' };
const server: FrameParserOptions = { direction: 'server-to-client' };
const only = (bytes: Uint8Array, options: FrameParserOptions): AnnotatedFrame => {
  const { frames } = parseFrames(bytes, options);
  expect(frames).toHaveLength(1);
  return frames[0] as AnnotatedFrame;
};
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const field = (frame: AnnotatedFrame, name: string) => frame.fields.find((f) => f.name === name);

/** Events as a string, byte arrays in hex: a fast exact comparison for large payloads. */
const canonical = (events: ParserEvent[]) =>
  JSON.stringify(events, (_, value) =>
    value instanceof Uint8Array
      ? Buffer.from(value).toString('hex')
      : typeof value === 'bigint'
        ? `${value}n`
        : value,
  );

/** Feeds `bytes` to a fresh parser cut at the given positions. */
function feed(bytes: Uint8Array, cuts: number[], options: FrameParserOptions): ParserEvent[] {
  const parser = new FrameParser(options);
  const events: ParserEvent[] = [];
  let last = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    events.push(...parser.push(bytes.subarray(last, cut)));
    last = cut;
  }
  events.push(...parser.push(bytes.subarray(last)), ...parser.end());
  return events;
}

describe('RFC 6455 §5.7 examples decode exactly', () => {
  it('a single-frame unmasked text message "Hello"', () => {
    const frame = only(hex('81 05 48 65 6c 6c 6f'), server);
    expect(frame).toMatchObject({
      fin: true,
      opcode: 1,
      opcodeName: 'text',
      mask: false,
      payloadLength: 5,
      lengthForm: '7-bit',
      complete: true,
      problems: [],
    });
    expect(text(frame.unmaskedPreview)).toBe('Hello');
  });

  it('a single-frame masked text message "Hello"', () => {
    const frame = only(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), client);
    expect(frame).toMatchObject({
      fin: true,
      opcode: 1,
      mask: true,
      payloadLength: 5,
      headerLength: 6,
      problems: [],
    });
    expect(frame.maskingKey).toEqual(hex('37fa213d'));
    expect(frame.header).toEqual(hex('81 85 37 fa 21 3d'));
    expect(frame.payloadPreview).toEqual(hex('7f 9f 4d 51 58'));
    expect(text(frame.unmaskedPreview)).toBe('Hello');
    expect(field(frame, 'maskingKey')).toMatchObject({
      byteOffset: 2,
      bitWidth: 32,
      value: '37fa213d',
      bits: '00110111111110100010000100111101',
    });
    expect(field(frame, 'payloadLength')).toMatchObject({
      byteOffset: 1,
      bitOffset: 1,
      bitWidth: 7,
      bits: '0000101',
      value: 5,
    });
    expect(field(frame, 'opcode')).toMatchObject({
      byteOffset: 0,
      bitOffset: 4,
      bitWidth: 4,
      bits: '0001',
      value: 1,
    });
  });

  it('a fragmented unmasked text message "Hel" + "lo" assembles into one message', () => {
    const { frames, messages } = parseFrames(hex('01 03 48 65 6c 80 02 6c 6f'), server);
    expect(frames.map((f) => [f.fin, f.opcodeName])).toEqual([
      [false, 'text'],
      [true, 'continuation'],
    ]);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      type: 'text',
      text: 'Hello',
      frameIndices: [0, 1],
      length: 5,
    });
  });

  it('an unmasked ping and a masked pong, both carrying "Hello"', () => {
    expect(only(hex('89 05 48 65 6c 6c 6f'), server)).toMatchObject({
      opcodeName: 'ping',
      problems: [],
    });
    const pong = only(hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'), client);
    expect(pong).toMatchObject({ opcodeName: 'pong', problems: [] });
    expect(text(pong.unmaskedPreview)).toBe('Hello');
  });

  it('256 bytes of binary data use the 16-bit length form', () => {
    const frame = only(new Uint8Array([...hex('82 7e 01 00'), ...new Uint8Array(256)]), server);
    expect(frame).toMatchObject({
      opcodeName: 'binary',
      payloadLength: 256,
      lengthForm: '16-bit',
      headerLength: 4,
      problems: [],
    });
    expect(field(frame, 'extendedPayloadLength')).toMatchObject({
      byteOffset: 2,
      bitWidth: 16,
      bits: '0000000100000000',
      value: 256,
    });
  });

  it('64 KiB of binary data use the 64-bit length form', () => {
    const frame = only(
      new Uint8Array([...hex('82 7f 00 00 00 00 00 01 00 00'), ...new Uint8Array(65536)]),
      server,
    );
    expect(frame).toMatchObject({
      payloadLength: 65536,
      lengthForm: '64-bit',
      headerLength: 10,
      complete: true,
      problems: [],
    });
    expect(frame.payloadPreview.length).toBe(1024);
  });
});

describe('violations become problems with their close code and section', () => {
  const failure = (bytes: Uint8Array, options: FrameParserOptions) =>
    parseFrames(bytes, options).failure;

  it('rejects an unmasked client frame with 1002 (RFC 6455 §5.1)', () => {
    expect(failure(hex('81 05 48 65 6c 6c 6f'), client)).toMatchObject({
      rule: 'client-frame-unmasked',
      closeCode: 1002,
      section: 'RFC 6455 §5.1',
      byteOffset: 1,
      field: 'mask',
    });
  });

  it('rejects a masked server frame with 1002 (RFC 6455 §5.1)', () => {
    expect(failure(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), server)).toMatchObject({
      rule: 'server-frame-masked',
      closeCode: 1002,
    });
  });

  it('rejects RSV1, RSV2 and RSV3 without a negotiated extension with 1002 (RFC 6455 §5.2)', () => {
    for (const [bit, rule] of [
      [0x40, 'rsv1'],
      [0x20, 'rsv2'],
      [0x10, 'rsv3'],
    ] as const) {
      expect(failure(new Uint8Array([0x81 | bit, 0x00]), server)).toMatchObject({
        rule: `${rule}-without-extension`,
        closeCode: 1002,
      });
    }
  });

  it('accepts RSV1 on the first frame of a message when permessage-deflate was negotiated (RFC 7692 §6)', () => {
    const options = { ...server, extensions: { rsv1: true } };
    const { failure: none, messages } = parseFrames(hex('c1 02 ff ff'), options);
    expect(none).toBeNull();
    expect(messages[0]).toMatchObject({ compressed: true });
    expect(failure(hex('41 01 00 c0 01 00'), options)).toMatchObject({
      rule: 'rsv1-on-wrong-frame',
      section: 'RFC 7692 §6.1',
    });
  });

  it('rejects reserved opcodes 0x3-0x7 and 0xB-0xF with 1002 (RFC 6455 §5.2)', () => {
    for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      expect(failure(new Uint8Array([0x80 | opcode, 0]), server)).toMatchObject({
        rule: 'reserved-opcode',
        closeCode: 1002,
      });
    }
  });

  it('rejects a fragmented control frame with 1002 (RFC 6455 §5.5)', () => {
    expect(failure(hex('09 00'), server)).toMatchObject({
      rule: 'control-frame-fragmented',
      closeCode: 1002,
    });
  });

  it('rejects a control frame over 125 bytes with 1002 (RFC 6455 §5.5)', () => {
    expect(
      failure(new Uint8Array([0x89, 126, 0, 126, ...new Uint8Array(126)]), server),
    ).toMatchObject({ rule: 'control-frame-too-long', closeCode: 1002 });
  });

  it('rejects a continuation frame with no message to continue with 1002 (RFC 6455 §5.4)', () => {
    expect(failure(hex('80 00'), server)).toMatchObject({
      rule: 'continuation-without-start',
      closeCode: 1002,
    });
  });

  it('rejects a new data frame inside a fragmented message with 1002 (RFC 6455 §5.4)', () => {
    expect(failure(hex('01 01 61 82 00'), server)).toMatchObject({
      rule: 'data-frame-inside-fragmented-message',
      closeCode: 1002,
      byteOffset: 3,
    });
  });

  it('allows control frames between fragments (RFC 6455 §5.4)', () => {
    const { failure: none, messages } = parseFrames(hex('01 01 61 89 00 8a 00 80 01 62'), server);
    expect(none).toBeNull();
    expect(messages[0]).toMatchObject({ text: 'ab', frameIndices: [0, 3] });
  });

  it('rejects a 64-bit length with its most significant bit set with 1002 (RFC 6455 §5.2)', () => {
    const found = failure(hex('82 7f 80 00 00 00 00 00 00 00'), server);
    expect(found).toMatchObject({ rule: 'length-msb-set', closeCode: 1002, byteOffset: 2 });
  });

  it('rejects non-minimal length encodings with 1002 (RFC 6455 §5.2)', () => {
    expect(failure(new Uint8Array([0x82, 126, 0, 5, 1, 2, 3, 4, 5]), server)).toMatchObject({
      rule: 'length-not-minimal',
      closeCode: 1002,
    });
    expect(
      failure(
        new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 0, 0x01, 0x00, ...new Uint8Array(256)]),
        server,
      ),
    ).toMatchObject({ rule: 'length-not-minimal' });
  });

  it('rejects invalid UTF-8 in a text message with 1007 at the offending byte (RFC 6455 §8.1)', () => {
    expect(failure(hex('81 03 61 c0 80'), server)).toMatchObject({
      rule: 'invalid-utf8',
      closeCode: 1007,
      byteOffset: 3,
    });
  });

  it('accepts a code point split across fragments (RFC 6455 §5.6)', () => {
    // U+20AC EURO SIGN is E2 82 AC; the first fragment ends inside it.
    const { failure: none, messages } = parseFrames(hex('01 02 e2 82 80 01 ac'), server);
    expect(none).toBeNull();
    expect(messages[0]?.text).toBe('\u20ac');
  });

  it('rejects invalid UTF-8 split across fragments, inside a code point, with 1007', () => {
    expect(failure(hex('01 02 e2 82 80 01 41'), server)).toMatchObject({
      rule: 'invalid-utf8',
      closeCode: 1007,
      byteOffset: 6,
    });
  });

  it('rejects a text message that ends inside a code point with 1007', () => {
    expect(failure(hex('81 02 e2 82'), server)).toMatchObject({
      rule: 'invalid-utf8',
      closeCode: 1007,
    });
  });

  it('rejects a close frame with a 1-byte body with 1002 (RFC 6455 §5.5.1)', () => {
    expect(failure(hex('88 01 03'), server)).toMatchObject({
      rule: 'close-payload-one-byte',
      closeCode: 1002,
    });
  });

  it('rejects close codes that may not be sent, with 1002 (RFC 6455 §7.4)', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
      expect(
        failure(encodeFrame({ opcode: 8, payload: closePayload(code) }), server),
        `code ${code}`,
      ).toMatchObject({ rule: 'invalid-close-code', closeCode: 1002 });
    }
  });

  it('accepts close codes 1000-1003, 1007-1014, 3000-4999 (RFC 6455 §7.4, IANA registry)', () => {
    for (const code of [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ]) {
      const frame = only(encodeFrame({ opcode: 8, payload: closePayload(code, 'bye') }), server);
      expect(frame.problems, `code ${code}`).toEqual([]);
      expect(frame.close).toEqual({ code, reason: 'bye' });
    }
  });

  it('rejects invalid UTF-8 in the close reason with 1007 (RFC 6455 §5.5.1)', () => {
    expect(failure(hex('88 04 03 e8 ff 61'), server)).toMatchObject({
      rule: 'invalid-close-reason',
      closeCode: 1007,
      byteOffset: 4,
    });
  });

  it('rejects a message over the configured maximum with 1009 before reading its payload', () => {
    const options = { ...server, maxPayload: 100 };
    const parser = new FrameParser(options);
    const events = parser.push(new Uint8Array([0x82, 126, 0, 200]));
    expect(parser.failure).toMatchObject({ rule: 'message-too-big', closeCode: 1009 });
    expect(events).toHaveLength(1);
    // The limit counts the whole message, across fragments.
    expect(
      parseFrames(
        new Uint8Array([0x02, 60, ...new Uint8Array(60), 0x80, 60, ...new Uint8Array(60)]),
        options,
      ).failure,
    ).toMatchObject({ rule: 'message-too-big', byteOffset: 62 });
  });

  it('closes with 1008 when a message spans more fragments than allowed', () => {
    const bytes = new Uint8Array([
      0x02,
      1,
      0,
      ...Array.from({ length: 10 }, () => [0x00, 1, 0]).flat(),
    ]);
    expect(parseFrames(bytes, { ...server, maxFragments: 5 }).failure).toMatchObject({
      rule: 'too-many-fragments',
      closeCode: 1008,
    });
  });

  it('stops at the first fatal problem, as a real endpoint would (RFC 6455 §7.1.7)', () => {
    const bytes = hex('81 05 48 65 6c 6c 6f 81 05 48 65 6c 6c 6f');
    const parser = new FrameParser(client);
    expect(parser.push(bytes).filter((e) => e.kind === 'frame')).toHaveLength(1);
    expect(parser.offset).toBe(2);
  });

  it('names the field each problem is about, so views can highlight it', () => {
    const { frames } = parseFrames(hex('f3 05 48 65 6c 6c 6f'), {
      ...client,
      continueAfterFailure: true,
    });
    expect(frames[0]?.problems.map((p) => p.field)).toEqual([
      'rsv1',
      'rsv2',
      'rsv3',
      'opcode',
      'mask',
    ]);
  });

  it('keeps annotating after a failure when asked to, and finds every problem of a frame', () => {
    const { frames, failure: first } = parseFrames(
      hex('f3 05 48 65 6c 6c 6f 81 05 48 65 6c 6c 6f'),
      { ...client, continueAfterFailure: true },
    );
    expect(frames).toHaveLength(2);
    expect(first?.rule).toBe('rsv1-without-extension');
    expect(frames[0]?.problems.map((p) => p.rule)).toEqual([
      'rsv1-without-extension',
      'rsv2-without-extension',
      'rsv3-without-extension',
      'reserved-opcode',
      'client-frame-unmasked',
    ]);
  });

  it('reports a stream that ends inside a header or a payload, with no close code', () => {
    const header = parseFrames(hex('82 7e 01'), server);
    expect(header.events).toMatchObject([
      { kind: 'problem', problem: { rule: 'header-cut-short', closeCode: null } },
    ]);
    expect(header.failure).toBeNull();
    const payload = parseFrames(hex('82 05 01 02'), server);
    expect(payload.frames[0]).toMatchObject({
      complete: false,
      payloadReceived: 2,
      problems: [{ rule: 'frame-cut-short', closeCode: null }],
    });
  });
});

describe('stream offsets', () => {
  it('count from startOffset, so offsets match the whole connection after the handshake', () => {
    const { frames } = parseFrames(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), {
      ...client,
      startOffset: 129,
    });
    expect(frames[0]?.streamOffset).toBe(129);
    expect(frames[0]?.fields.find((f) => f.name === 'maskingKey')?.byteOffset).toBe(131);
  });
});

describe('bounded memory', () => {
  it('never allocates what a claimed length says before the bytes arrive', () => {
    const parser = new FrameParser({ ...server, maxPayload: 2 ** 53 - 1 });
    const before = process.memoryUsage().arrayBuffers;
    // A header claiming 2^50 bytes, then 64 KiB of them.
    parser.push(hex('82 7f 00 04 00 00 00 00 00 00'));
    parser.push(new Uint8Array(65536));
    expect(parser.failure).toBeNull();
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });
});

describe('property: any chunking gives the same frames', () => {
  const direction = fc.constantFrom<Direction>('client-to-server', 'server-to-client');
  // Lengths around each form's limits (125/126, 65535/65536); large payloads are filled from a
  // seed because generating 64 KiB byte by byte would dominate the run.
  const large = fc
    .tuple(fc.integer({ min: 65530, max: 65540 }), fc.integer({ min: 0, max: 255 }))
    .map(([length, seed]) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff));
  const payload = fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 130 }), weight: 9 },
    { arbitrary: large, weight: 1 },
  );
  const dataSpec = fc.record({
    opcode: fc.constantFrom(0x2, 0x9, 0xa),
    payload,
    fin: fc.constant(true),
  });

  it('encode -> parse round-trips every field, whatever the chunk splits', () => {
    fc.assert(
      fc.property(
        direction,
        fc.array(dataSpec, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (dir, specs, rawCuts) => {
          const valid: FrameSpec[] = specs.map((spec) => ({
            ...spec,
            payload: spec.opcode >= 8 ? spec.payload.subarray(0, 125) : spec.payload,
            mask: dir === 'client-to-server',
          }));
          const frames = valid.map((spec) => encodeFrame(spec));
          const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          let at = 0;
          for (const f of frames) {
            stream.set(f, at);
            at += f.length;
          }
          const options = { direction: dir, previewLimit: Number.POSITIVE_INFINITY };
          const whole = parseFrames(stream, options).events;
          const cut = feed(
            stream,
            rawCuts.map((c) => c % (stream.length + 1)),
            options,
          );
          expect(canonical(cut)).toBe(canonical(whole));
          const parsed = whole.flatMap((e) => (e.kind === 'frame' ? [e.frame] : []));
          expect(parsed).toHaveLength(valid.length);
          parsed.forEach((frame, i) => {
            const spec = valid[i] as FrameSpec;
            expect(frame.problems).toEqual([]);
            expect(frame.opcode).toBe(spec.opcode);
            expect(frame.mask).toBe(dir === 'client-to-server');
            expect(Buffer.from(frame.unmaskedPreview).equals(spec.payload as Uint8Array)).toBe(
              true,
            );
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives the same events fed one byte at a time', () => {
    const stream = new Uint8Array([
      ...encodeFrame({ opcode: 1, fin: false, payload: 'h\u00e9', mask: true }),
      ...encodeFrame({ opcode: 9, payload: 'ping', mask: true }),
      ...encodeFrame({ opcode: 0, payload: '\u20ac!', mask: true }),
      ...encodeFrame({ opcode: 8, payload: closePayload(1000, 'done'), mask: true }),
    ]);
    const whole = parseFrames(stream, client).events;
    const cuts = Array.from({ length: stream.length }, (_, i) => i);
    expect(feed(stream, cuts, client)).toEqual(whole);
    expect(whole.filter((e) => e.kind === 'message')).toMatchObject([
      { message: { text: 'h\u00e9\u20ac!' } },
    ]);
  });

  it('never throws on random bytes, in either direction, under any option', () => {
    fc.assert(
      fc.property(
        direction,
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (dir, bytes, cuts, keepGoing) => {
          const events = feed(
            bytes,
            cuts.map((c) => c % (bytes.length + 1)),
            { direction: dir, maxPayload: 200, maxFragments: 4, continueAfterFailure: keepGoing },
          );
          for (const event of events) {
            if (event.kind === 'frame') {
              for (const p of event.frame.problems) {
                expect(p.byteOffset).toBeGreaterThanOrEqual(0);
                expect(p.byteOffset).toBeLessThanOrEqual(bytes.length);
                expect(p.explanation.length).toBeGreaterThan(10);
              }
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
