import { describe, expect, it } from 'vitest';
import { DIAGRAM_EXAMPLES, describeBit, diagram, flipBit } from './model.ts';

const example = (id: string) => {
  const found = DIAGRAM_EXAMPLES.find((e) => e.id === id);
  if (found === undefined) throw new Error(id);
  return found;
};
const view = (id: string) => {
  const e = example(id);
  const v = diagram(e.bytes, e.direction);
  if (v === null) throw new Error('no frame');
  return v;
};

describe('bit diagram', () => {
  it('places every header bit of the masked "Hello" in its RFC 6455 §5.2 field', () => {
    const v = view('masked-hello');
    // 2 fixed bytes + 4 key bytes + 4 drawn payload bytes.
    expect(v.cells).toHaveLength(80);
    expect(v.cells.slice(0, 16).map((c) => c.field)).toEqual([
      'fin',
      'rsv1',
      'rsv2',
      'rsv3',
      ...Array(4).fill('opcode'),
      'mask',
      ...Array(7).fill('payloadLength'),
    ]);
    expect(
      v.cells
        .slice(0, 16)
        .map((c) => c.value)
        .join(''),
    ).toBe('1000000110000101');
    expect(v.cells[16]?.field).toBe('maskingKey');
    expect(v.cells[48]?.field).toBe('payload');
    expect(v.payloadNotDrawn).toBe(1);
    expect(v.absent).toHaveLength(1);
    expect(v.absent[0]).toContain('Extended payload length');
    expect(v.problems).toEqual([]);
  });

  it('takes meanings from the parser: FIN and the opcode of the example', () => {
    const v = view('masked-hello');
    const fin = v.fields[v.cells[0]?.fieldIndex ?? -1];
    expect(fin?.meaning).toBe('Final fragment: this frame ends its message (RFC 6455 §5.2).');
    const opcode = v.fields[v.cells[4]?.fieldIndex ?? -1];
    expect(opcode?.meaning).toContain('Text frame');
  });

  it('draws the 16-bit and 64-bit length forms and says which fields are absent', () => {
    const v16 = view('binary-256');
    expect(v16.cells.filter((c) => c.field === 'extendedPayloadLength')).toHaveLength(16);
    expect(v16.absent).toEqual([
      'Masking-key: MASK is 0, so no key follows the length (RFC 6455 §5.2).',
    ]);
    const v64 = view('binary-64k');
    expect(v64.cells.filter((c) => c.field === 'extendedPayloadLength')).toHaveLength(64);
    expect(v64.hex.startsWith('82 7f 00 00 00 00 00 01 00 00')).toBe(true);
  });

  it('describes a bit by its place in the frame, its byte and its field', () => {
    const v = view('masked-hello');
    expect(describeBit(v, 0)).toBe(
      'Bit 0 of the frame: byte 0, bit 0 (worth 0x80 in that byte). It is 1. It is the whole FIN field.',
    );
    expect(describeBit(v, 13)).toContain('bit 5 of the 7 bits of Payload len, worth 4 in it');
    expect(describeBit(v, 48)).toContain('payload, byte 0, as masked on the wire');
  });

  it('flipping RSV1 on a client frame makes the parser report it (RFC 6455 §5.2)', () => {
    const e = example('masked-hello');
    const flipped = flipBit(e.bytes, 1);
    expect(flipped[0]).toBe(0xc1);
    expect(e.bytes[0]).toBe(0x81);
    const v = diagram(flipped, e.direction);
    expect(v?.problems.map((p) => p.rule)).toContain('rsv1-without-extension');
    expect(v?.problems[0]?.closeCode).toBe(1002);
  });

  it('flipping MASK off a client frame is a 1002 (RFC 6455 §5.1) and the key disappears', () => {
    const e = example('masked-hello');
    const v = diagram(flipBit(e.bytes, 8), e.direction);
    expect(v?.problems.map((p) => p.rule)).toContain('client-frame-unmasked');
    expect(v?.cells.some((c) => c.field === 'maskingKey')).toBe(false);
  });
});
