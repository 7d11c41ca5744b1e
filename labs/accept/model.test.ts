import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeAccept, isValidKey } from '../../protocol/accept.ts';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../protocol/annotations.ts';
import {
  analyseKey,
  concatenationBytes,
  findOwnHandshake,
  hexPairs,
  keyByteLength,
  RFC_EXAMPLE_ACCEPT,
  RFC_EXAMPLE_KEY,
} from './model.ts';

describe('the accept calculator', () => {
  it("reproduces RFC 6455 §1.3's example, step by step", async () => {
    const steps = await computeAccept(RFC_EXAMPLE_KEY);
    expect(steps.accept).toBe(RFC_EXAMPLE_ACCEPT);
    expect(hexPairs(steps.sha1Hex).join(' ')).toBe(
      'b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea',
    );
    const cells = concatenationBytes(steps.bytes, keyByteLength(steps.key));
    expect(cells).toHaveLength(60);
    expect(cells.filter((c) => c.part === 'key')).toHaveLength(24);
    expect(cells[0]).toEqual({ hex: '64', char: 'd', part: 'key' });
    expect(cells[24]).toEqual({ hex: '32', char: '2', part: 'guid' });
  });

  it('accepts every base64 16-byte key (RFC 6455 §4.1 item 7)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const key = btoa(String.fromCharCode(...bytes));
        expect(analyseKey(key)).toEqual({
          key,
          trimmed: false,
          valid: true,
          problems: [],
          decodedLength: 16,
        });
      }),
    );
  });

  it('agrees with protocol/accept.ts on any string, and never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const analysis = analyseKey(text);
        expect(analysis.valid).toBe(isValidKey(analysis.key));
        expect(analysis.valid || analysis.problems.length > 0).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('names the character, the length or the padding at fault, with the rule', () => {
    expect(analyseKey('').problems[0]?.text).toMatch(/The key is empty/);
    expect(analyseKey('dGhlIHNhbXBsZSBub25jZQ').problems.map((p) => p.text)).toEqual([
      'The key has 22 data characters but no "=": 16 bytes in padded base64 end in "==", 24 characters in all.',
    ]);
    expect(analyseKey('dGhlIHNhbXBsZSBub25j').problems.map((p) => p.text)).toEqual([
      'The key decodes to 15 bytes; it must be exactly 16 random bytes, which base64 writes as 22 characters and "==".',
    ]);
    const urlSafe = analyseKey('dGhlIHNhbXBsZSBub25jZQ-_');
    expect(urlSafe.problems[0]).toMatchObject({ at: 22, section: 'RFC 4648 §4' });
    expect(urlSafe.problems[0]?.text).toMatch(
      /^Character 23: "-" belongs to the URL-safe alphabet/,
    );
    expect(analyseKey('dGhlIHNh=bXBsZSBub25jZQ==').problems[0]?.text).toMatch(
      /^Character 9 is "="/,
    );
    expect(analyseKey('dGhl\u00e9IHNhbXBsZSBub25jZQ==').problems[0]?.text).toMatch(/U\+00E9/);
    expect(analyseKey(`  ${RFC_EXAMPLE_KEY}\t`)).toMatchObject({
      key: RFC_EXAMPLE_KEY,
      trimmed: true,
      valid: true,
    });
  });

  it("finds this browser's /echo handshake and the accept the server sent", () => {
    const common = { v: ANNOTATION_SCHEMA_VERSION, t: 1 };
    const events: LabEvent[] = [
      {
        ...common,
        seq: 1,
        conn: 7,
        type: 'handshake-request',
        route: 'echo',
        streamOffset: 0,
        method: 'GET',
        target: '/echo',
        version: 'HTTP/1.1',
        headers: [
          { name: 'Sec-WebSocket-Key', value: RFC_EXAMPLE_KEY, byteOffset: 30 },
          { name: 'User-Agent', value: 'ua', byteOffset: 70 },
        ],
        length: 200,
        findings: [],
        accept: null,
      },
    ];
    expect(findOwnHandshake(events)).toMatchObject({
      conn: 7,
      key: RFC_EXAMPLE_KEY,
      sentAccept: null,
      status: null,
    });
    events.push({
      ...common,
      seq: 2,
      conn: 7,
      type: 'handshake-response',
      status: 101,
      reason: 'Switching Protocols',
      headers: [{ name: 'Sec-WebSocket-Accept', value: RFC_EXAMPLE_ACCEPT, byteOffset: 60 }],
      streamOffset: 0,
      length: 129,
    });
    expect(findOwnHandshake(events)).toEqual({
      conn: 7,
      key: RFC_EXAMPLE_KEY,
      sentAccept: RFC_EXAMPLE_ACCEPT,
      status: 101,
      userAgent: 'ua',
    });
  });
});
