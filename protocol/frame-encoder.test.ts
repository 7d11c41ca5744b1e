import { describe, expect, it } from 'vitest';
import { closePayload, encodeFrame, minimalLengthForm } from './frame-encoder.ts';
import { parseFrames } from './frame-parser.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('frame encoder', () => {
  it('writes RFC 6455 §5.7 frames byte for byte', () => {
    expect(hex(encodeFrame({ opcode: 1, payload: 'Hello' }))).toBe('810548656c6c6f');
    const key = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);
    expect(hex(encodeFrame({ opcode: 1, payload: 'Hello', maskingKey: key }))).toBe(
      '818537fa213d7f9f4d5158',
    );
    expect(hex(encodeFrame({ opcode: 1, fin: false, payload: 'Hel' }))).toBe('010348656c');
    expect(hex(encodeFrame({ opcode: 0, payload: 'lo' }))).toBe('80026c6f');
    expect(hex(encodeFrame({ opcode: 2, payload: new Uint8Array(256) }).subarray(0, 4))).toBe(
      '827e0100',
    );
    expect(hex(encodeFrame({ opcode: 2, payload: new Uint8Array(65536) }).subarray(0, 10))).toBe(
      '827f0000000000010000',
    );
  });

  it('uses the minimal length form unless told otherwise (RFC 6455 §5.2)', () => {
    expect([0, 125, 126, 65535, 65536].map(minimalLengthForm)).toEqual([
      '7-bit',
      '7-bit',
      '16-bit',
      '16-bit',
      '64-bit',
    ]);
  });

  it('draws a fresh masking key when masking without one', () => {
    const frame = encodeFrame({ opcode: 2, payload: new Uint8Array(8), mask: true });
    expect(frame[1]).toBe(0x88);
    expect(parseFrames(frame, { direction: 'client-to-server' }).failure).toBeNull();
  });

  it('builds deliberately invalid frames that the parser then rejects', () => {
    const cases = [
      [{ opcode: 3 }, 'reserved-opcode'],
      [{ opcode: 1, rsv2: true, mask: true }, 'rsv2-without-extension'],
      [{ opcode: 9, fin: false, mask: true }, 'control-frame-fragmented'],
      [{ opcode: 2, payload: 'abc', lengthForm: '16-bit', mask: true }, 'length-not-minimal'],
      [
        { opcode: 2, payload: 'abc', lengthForm: '64-bit', declaredLength: 2n ** 63n, mask: true },
        'length-msb-set',
      ],
      [{ opcode: 1, payload: 'abc' }, 'client-frame-unmasked'],
      [{ opcode: 8, payload: closePayload(1005), mask: true }, 'invalid-close-code'],
    ] as const;
    for (const [spec, rule] of cases) {
      expect(parseFrames(encodeFrame(spec), { direction: 'client-to-server' }).failure?.rule).toBe(
        rule,
      );
    }
  });

  it('can announce a length other than the payload it carries', () => {
    const frame = encodeFrame({ opcode: 2, payload: 'ab', declaredLength: 10 });
    expect(hex(frame)).toBe('820a6162');
  });

  it('throws for programmer errors: opcode out of range, length too big for the form, a 3-byte key', () => {
    expect(() => encodeFrame({ opcode: 16 })).toThrow(RangeError);
    expect(() =>
      encodeFrame({ opcode: 2, payload: new Uint8Array(200), lengthForm: '7-bit' }),
    ).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 2, maskingKey: new Uint8Array(3) })).toThrow(RangeError);
  });
});
