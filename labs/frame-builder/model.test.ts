import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFrames } from '../../protocol/frame-parser.ts';
import { type BuilderInput, build, DEFAULT_INPUT, randomKeyHex, readLength } from './model.ts';

const with_ = (patch: Partial<BuilderInput>): BuilderInput => ({ ...DEFAULT_INPUT, ...patch });

function built(patch: Partial<BuilderInput>) {
  const result = build(with_(patch));
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('; '));
  return result.built;
}

describe('frame builder', () => {
  it('builds RFC 6455 §5.7 masked "Hello" byte for byte by default', () => {
    const frame = built({});
    expect(frame.hex).toBe('81 85 37 fa 21 3d 7f 9f 4d 51 58');
    expect(frame.groups.map((g) => g.hex)).toEqual(['81', '85', '37 fa 21 3d', '7f 9f 4d 51 58']);
    expect(frame.frame?.problems).toEqual([]);
    expect(frame.xor.map((s) => `${s.wire}^${s.key}=${s.plain}`)).toEqual([
      '7f^37=48',
      '9f^fa=65',
      '4d^21=6c',
      '51^3d=6c',
      '58^37=6f',
    ]);
  });

  it('forces a non-minimal 16-bit length, which a receiver rejects with 1002 (RFC 6455 §5.2)', () => {
    const frame = built({ payload: 'Hi', lengthForm: '16-bit' });
    expect(frame.hex.startsWith('81 fe 00 02 37 fa 21 3d')).toBe(true);
    expect(frame.notes.join(' ')).toContain('minimal form is 7-bit');
    const problem = frame.frame?.problems.find((p) => p.rule === 'length-not-minimal');
    expect(problem?.closeCode).toBe(1002);
  });

  it('writes reserved opcodes as given and reports them (RFC 6455 §5.2)', () => {
    const frame = built({ opcode: 0xb });
    expect(frame.hex.startsWith('8b')).toBe(true);
    expect(frame.frame?.problems.map((p) => p.rule)).toContain('reserved-opcode');
  });

  it('builds unmasked client frames, which a server rejects with 1002 (RFC 6455 §5.1)', () => {
    const frame = built({ mask: false });
    expect(frame.hex).toBe('81 05 48 65 6c 6c 6f');
    expect(frame.frame?.problems.find((p) => p.rule === 'client-frame-unmasked')?.closeCode).toBe(
      1002,
    );
  });

  it('announces a lying length and says the receiver waits for the rest', () => {
    const frame = built({ declaredLength: '9' });
    expect(frame.hex.startsWith('81 89')).toBe(true);
    expect(frame.notes[0]).toContain('waits for the other 4');
    expect(frame.frame?.complete).toBe(false);
  });

  it('a shorter declared length leaves bytes that start the next frame', () => {
    const frame = built({ declaredLength: '2' });
    expect(frame.notes[0]).toContain('3 extra bytes');
  });

  it('reads a hex payload and the 64-bit form of a huge claim without allocating it', () => {
    const frame = built({
      opcode: 2,
      payloadFormat: 'hex',
      payload: 'de ad be ef',
      declaredLength: '0x7fffffffffffffff',
    });
    expect(frame.hex.startsWith('82 ff 7f ff ff ff ff ff ff ff')).toBe(true);
    expect(frame.lengthForm).toBe('64-bit');
  });

  it('explains input it cannot build from', () => {
    const bad = (patch: Partial<BuilderInput>) => {
      const result = build(with_(patch));
      expect(result.ok).toBe(false);
      return result.ok ? [] : result.errors;
    };
    expect(bad({ maskingKey: '37 fa 21' })[0]).toMatchObject({ input: 'maskingKey' });
    expect(bad({ maskingKey: '37 fa 21' })[0]?.message).toContain('exactly 4 bytes');
    expect(bad({ payloadFormat: 'hex', payload: '48 6g' })[0]).toMatchObject({ input: 'payload' });
    expect(bad({ payload: 'x'.repeat(300), lengthForm: '7-bit' })[0]?.message).toBe(
      '300 does not fit the 7-bit form, which holds at most 127.',
    );
    expect(bad({ declaredLength: 'lots' })[0]).toMatchObject({ input: 'declaredLength' });
    expect(readLength('18446744073709551616')).toContain('at most 64 bits');
  });

  it('draws a fresh 4-byte key', () => {
    expect(randomKeyHex(() => Uint8Array.of(1, 2, 3, 4))).toBe('01 02 03 04');
    expect(randomKeyHex()).toMatch(/^[0-9a-f]{2}( [0-9a-f]{2}){3}$/);
  });

  it('what it builds parses back to the fields that were chosen (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          fin: fc.boolean(),
          rsv1: fc.boolean(),
          rsv2: fc.boolean(),
          rsv3: fc.boolean(),
          opcode: fc.integer({ min: 0, max: 15 }),
          mask: fc.boolean(),
          key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
          payload: fc.uint8Array({ maxLength: 300 }),
          form: fc.constantFrom('minimal', '16-bit', '64-bit'),
        }),
        (r) => {
          const result = build({
            fin: r.fin,
            rsv1: r.rsv1,
            rsv2: r.rsv2,
            rsv3: r.rsv3,
            opcode: r.opcode,
            mask: r.mask,
            maskingKey: Buffer.from(r.key).toString('hex'),
            payloadFormat: 'hex',
            payload: Buffer.from(r.payload).toString('hex'),
            lengthForm: r.form as BuilderInput['lengthForm'],
            declaredLength: '',
          });
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          const [frame] = parseFrames(result.built.bytes, {
            direction: 'client-to-server',
            continueAfterFailure: true,
            previewLimit: Infinity,
          }).frames;
          expect(frame?.fin).toBe(r.fin);
          expect([frame?.rsv1, frame?.rsv2, frame?.rsv3]).toEqual([r.rsv1, r.rsv2, r.rsv3]);
          expect(frame?.opcode).toBe(r.opcode);
          expect(frame?.mask).toBe(r.mask);
          expect(frame?.payloadLength).toBe(r.payload.length);
          expect(Buffer.from(frame?.unmaskedPreview ?? []).equals(Buffer.from(r.payload))).toBe(
            true,
          );
          expect(result.built.groups.map((g) => g.hex).join(' ')).toBe(result.built.hex);
        },
      ),
      { numRuns: 300 },
    );
  });
});
