import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatHex } from '../shared/hex.ts';
import { EXAMPLES } from './examples.ts';
import { type DecoderView, decode, type FrameView, layoutDiagram } from './model.ts';

const field = (frame: FrameView | undefined, name: string) =>
  frame?.fields.find((f) => f.name === name);

function firstFrame(view: DecoderView): FrameView {
  const frame = view.frames[0];
  if (frame === undefined) throw new Error('no frame decoded');
  return frame;
}

describe('decode', () => {
  it('decodes the RFC 6455 §5.7 masked "Hello" field by field', () => {
    const view = decode({ text: '81 85 37 fa 21 3d 7f 9f 4d 51 58', direction: 'auto' });
    expect(view.state).toBe('decoded');
    expect(view.direction).toBe('client-to-server');
    expect(view.directionGuessed).toBe(true);
    const frame = firstFrame(view);
    expect(field(frame, 'fin')?.valueText).toBe('1');
    expect(field(frame, 'opcode')?.valueText).toBe('0x1 text');
    expect(field(frame, 'mask')?.valueText).toBe('1');
    expect(field(frame, 'payloadLength')?.valueText).toBe('5');
    expect(field(frame, 'maskingKey')?.valueText).toBe('37 fa 21 3d');
    expect(frame.facts).toContainEqual({
      term: 'Payload length',
      description: '5 bytes (7-bit form)',
    });
    expect(frame.payload.unmaskedText).toBe('Hello');
    expect(frame.payload.wireHex).toBe('7f 9f 4d 51 58');
    expect(frame.problems).toEqual([]);
    expect(view.failure).toBeNull();
    expect(view.messages).toMatchObject([{ type: 'text', content: 'Hello', frames: 'frame 1' }]);
    expect(view.summary).toBe('11 bytes: 1 frame, 1 message, no problems.');
  });

  it('shows the XOR of every masked payload byte with key byte i mod 4 (RFC 6455 §5.3)', () => {
    const frame = firstFrame(
      decode({ text: '81 85 37 fa 21 3d 7f 9f 4d 51 58', direction: 'auto' }),
    );
    expect(frame.payload.xor.map((s) => [s.wire, s.key, s.keyIndex, s.plain, s.char])).toEqual([
      ['7f', '37', 0, '48', 'H'],
      ['9f', 'fa', 1, '65', 'e'],
      ['4d', '21', 2, '6c', 'l'],
      ['51', '3d', 3, '6c', 'l'],
      ['58', '37', 0, '6f', 'o'],
    ]);
  });

  it('gives every field its byte offset, bit offset and width', () => {
    const frame = firstFrame(
      decode({ text: '81 85 37 fa 21 3d 7f 9f 4d 51 58', direction: 'auto' }),
    );
    const opcode = field(frame, 'opcode');
    expect(opcode).toMatchObject({ byteOffset: 0, bitOffset: 4, bitWidth: 4, bits: '0001' });
    expect(opcode?.details.map((d) => d.term)).toEqual([
      'Meaning',
      'Value',
      'Bits',
      'Byte offset',
      'Bit offset',
      'Width',
    ]);
    expect(field(frame, 'maskingKey')).toMatchObject({ byteOffset: 2, frameBit: 16 });
  });

  it('reports an unmasked client frame with 1002 and RFC 6455 §5.1', () => {
    const view = decode({ text: '81 05 48 65 6c 6c 6f', direction: 'client-to-server' });
    expect(view.directionGuessed).toBe(false);
    const frame = firstFrame(view);
    expect(frame.problems).toMatchObject([
      {
        rule: 'client-frame-unmasked',
        closeCode: 1002,
        closeCodeText: '1002 Protocol Error',
        section: 'RFC 6455 §5.1',
        sectionUrl: 'https://www.rfc-editor.org/rfc/rfc6455#section-5.1',
      },
    ]);
    expect(frame.failsHere).toBe(true);
    expect(view.failureNote).toContain('1002');
  });

  it('marks the frames a real endpoint would never have read', () => {
    const view = decode({
      text: '81 05 48 65 6c 6c 6f 81 85 37 fa 21 3d 7f 9f 4d 51 58',
      direction: 'client-to-server',
    });
    expect(view.frames.map((f) => [f.failsHere, f.afterFailure])).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('guesses server-to-client from a clear MASK bit', () => {
    const view = decode({ text: '81 05 48 65 6c 6c 6f', direction: 'auto' });
    expect(view.direction).toBe('server-to-client');
    expect(view.directionNote).toContain('MASK = 0');
    expect(firstFrame(view).problems).toEqual([]);
  });

  it('assembles the fragmented "Hel" + "lo" into one message', () => {
    const view = decode({ text: '01 03 48 65 6c 80 02 6c 6f', direction: 'auto' });
    expect(view.frames.map((f) => f.heading)).toEqual(['Frame 1: text', 'Frame 2: continuation']);
    expect(view.messages).toMatchObject([
      { type: 'text', content: 'Hello', frames: 'frames 1 and 2' },
    ]);
  });

  it('decodes the 256-byte example with the 16-bit length form', () => {
    const example = EXAMPLES.find((e) => e.id === 'binary-256');
    const frame = firstFrame(decode({ text: example?.hex ?? '', direction: 'auto' }));
    expect(field(frame, 'payloadLength')?.valueText).toBe('126');
    expect(field(frame, 'extendedPayloadLength')).toMatchObject({ valueText: '256', bitWidth: 16 });
    expect(frame.facts).toContainEqual({
      term: 'Payload length',
      description: '256 bytes (16-bit form)',
    });
  });

  it('decodes the 64 KiB example with the 64-bit length form and keeps a 256-byte preview', () => {
    const example = EXAMPLES.find((e) => e.id === 'binary-64k');
    const view = decode({ text: example?.hex ?? '', direction: 'auto' });
    const frame = firstFrame(view);
    expect(field(frame, 'extendedPayloadLength')).toMatchObject({
      valueText: '65536',
      bitWidth: 64,
    });
    expect(frame.payload).toMatchObject({ length: '65536', received: 65536, shown: 256 });
    expect(frame.problems).toEqual([]);
  });

  it('decodes every RFC 6455 §5.7 example without a problem', () => {
    for (const example of EXAMPLES) {
      const view = decode({ text: example.hex, direction: 'auto' });
      expect(view.state, example.id).toBe('decoded');
      expect(
        view.frames.flatMap((f) => f.problems),
        example.id,
      ).toEqual([]);
      expect(view.streamProblems, example.id).toEqual([]);
    }
  });

  it('decodes nothing when the input has characters that are not hex', () => {
    const view = decode({ text: '81 05 4g', direction: 'auto' });
    expect(view.state).toBe('hex-errors');
    expect(view.frames).toEqual([]);
    expect(view.hexErrors[0]?.character).toBe('g');
  });

  it('shows the status code of a close frame', () => {
    const frame = firstFrame(decode({ text: '88 02 03 e8', direction: 'server-to-client' }));
    expect(frame.close?.description).toMatch(/^1000 Normal Closure/);
    expect(field(frame, 'opcode')?.valueText).toBe('0x8 close');
  });

  it('reports a header cut short as a stream problem', () => {
    const view = decode({ text: '81', direction: 'auto' });
    expect(view.frames).toEqual([]);
    expect(view.streamProblems.map((p) => p.rule)).toEqual(['header-cut-short']);
  });

  it('shows a frame cut short inside its payload', () => {
    const frame = firstFrame(decode({ text: '81 05 48 65', direction: 'auto' }));
    expect(frame.complete).toBe(false);
    expect(frame.heading).toBe('Frame 1: text (cut short)');
    expect(frame.problems.map((p) => p.rule)).toContain('frame-cut-short');
  });
});

describe('layoutDiagram', () => {
  const cells = (text: string, rowBits: number) => {
    const frame = firstFrame(decode({ text, direction: 'auto' }));
    return layoutDiagram(frame, rowBits).map((row) =>
      row.cells.map((c) => `${c.name}@${c.column}+${c.width}${c.continued ? '~' : ''}`),
    );
  };

  it('lays the masked "Hello" out in 32-bit rows as RFC 6455 §5.2 draws them', () => {
    expect(cells('81 85 37 fa 21 3d 7f 9f 4d 51 58', 32)).toEqual([
      [
        'fin@0+1',
        'rsv1@1+1',
        'rsv2@2+1',
        'rsv3@3+1',
        'opcode@4+4',
        'mask@8+1',
        'payloadLength@9+7',
        'maskingKey@16+16',
      ],
      ['maskingKey@0+16~', 'payload@16+16'],
      ['payload@0+24~'],
    ]);
  });

  it('splits a 64-bit extended length over three rows, as in the RFC', () => {
    const example = EXAMPLES.find((e) => e.id === 'binary-64k');
    expect(cells(example?.hex ?? '', 32)).toEqual([
      [
        'fin@0+1',
        'rsv1@1+1',
        'rsv2@2+1',
        'rsv3@3+1',
        'opcode@4+4',
        'mask@8+1',
        'payloadLength@9+7',
        'extendedPayloadLength@16+16',
      ],
      ['extendedPayloadLength@0+32~'],
      ['extendedPayloadLength@0+16~', 'payload@16+16'],
      ['payload@0+32~'],
      ['payload@0+32~'],
      ['payload@0+32~'],
    ]);
  });

  it('puts the payload bytes as hex in the payload cells', () => {
    const frame = firstFrame(decode({ text: '81 05 48 65 6c 6c 6f', direction: 'auto' }));
    const payloadCells = layoutDiagram(frame, 32)
      .flatMap((r) => r.cells)
      .filter((c) => c.name === 'payload');
    expect(payloadCells.map((c) => c.content)).toEqual(['48 65', '6c 6c 6f']);
  });

  it('keeps every cell inside its row, without overlaps, for any bytes and row width', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 2, maxLength: 40 }),
        fc.constantFrom(16, 32),
        fc.constantFrom('auto', 'client-to-server', 'server-to-client' as const),
        (bytes, rowBits, direction) => {
          const view = decode({ text: formatHex(bytes), direction });
          for (const frame of view.frames) {
            for (const row of layoutDiagram(frame, rowBits)) {
              let next = 0;
              for (const cell of row.cells) {
                expect(cell.column).toBeGreaterThanOrEqual(next);
                expect(cell.width).toBeGreaterThan(0);
                next = cell.column + cell.width;
              }
              expect(next).toBeLessThanOrEqual(rowBits);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
