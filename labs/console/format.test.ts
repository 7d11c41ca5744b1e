import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_SCHEMA_VERSION,
  frameRecord,
  type LabEvent,
} from '../../protocol/annotations.ts';
import { encodeFrame } from '../../protocol/frame-encoder.ts';
import { parseFrames } from '../../protocol/frame-parser.ts';
import { frameRow, spacedHex } from './format.ts';

function frameEvent(
  bytes: Uint8Array,
  direction: 'client-to-server' | 'server-to-client',
): LabEvent {
  const frame = parseFrames(bytes, { direction }).frames[0];
  if (frame === undefined) throw new Error('no frame');
  return {
    v: ANNOTATION_SCHEMA_VERSION,
    seq: 1,
    t: 0,
    conn: 1,
    type: 'frame',
    direction,
    frame: frameRecord(frame),
  };
}

describe('frameRow', () => {
  it('shows a masked client frame with its key, the bytes as sent and the text (RFC 6455 §5.7)', () => {
    const masked = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
    expect(frameRow(frameEvent(masked, 'client-to-server'))).toEqual({
      seq: 1,
      direction: 'client-to-server',
      opcode: 'text (0x1)',
      fin: '1',
      mask: '1',
      maskingKey: '37 fa 21 3d',
      length: '5 (7-bit)',
      wire: '7f 9f 4d 51 58',
      payload: '"Hello"',
    });
  });

  it('escapes control characters from the wire and shows a close code', () => {
    const row = frameRow(
      frameEvent(encodeFrame({ opcode: 1, payload: 'a\x1b[2Jb' }), 'server-to-client'),
    );
    expect(row?.payload).toBe('"a\\x1b[2Jb"');
    expect(row?.maskingKey).toBe('—');
    const close = frameRow(
      frameEvent(
        encodeFrame({ opcode: 8, payload: Uint8Array.of(0x0f, 0xa0, 0x62, 0x79, 0x65) }),
        'server-to-client',
      ),
    );
    expect(close?.payload).toBe('4000 "bye"');
  });

  it('is null for events that are not frames', () => {
    expect(
      frameRow({
        v: ANNOTATION_SCHEMA_VERSION,
        seq: 2,
        t: 0,
        conn: 1,
        type: 'fin',
        direction: 'client-to-server',
      }),
    ).toBeNull();
  });
});

describe('spacedHex', () => {
  it('spaces the bytes and counts what it leaves out', () => {
    expect(spacedHex('48656c6c6f')).toBe('48 65 6c 6c 6f');
    expect(spacedHex('0001020304', 2)).toBe('00 01 … (3 more)');
    // A preview of a longer payload counts the bytes it does not hold too.
    expect(spacedHex('0001020304', 2, 300)).toBe('00 01 … (298 more)');
  });
});
