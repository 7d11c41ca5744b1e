import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFields, frameRecord, wirePayloadHex } from './annotations.ts';
import { encodeFrame } from './frame-encoder.ts';
import { FrameParser } from './frame-parser.ts';
import type { Direction } from './types.ts';

describe('frameFields', () => {
  it("derives from a frame event's header bytes exactly the fields the parser annotated", () => {
    fc.assert(
      fc.property(
        fc.record({
          fin: fc.boolean(),
          rsv1: fc.boolean(),
          opcode: fc.constantFrom(0, 1, 2, 3, 8, 9, 10, 11),
          payload: fc.uint8Array({ maxLength: 300 }),
          mask: fc.boolean(),
          offset: fc.nat({ max: 1_000_000 }),
        }),
        ({ fin, rsv1, opcode, payload, mask, offset }) => {
          const direction: Direction = mask ? 'client-to-server' : 'server-to-client';
          const parser = new FrameParser({
            direction,
            startOffset: offset,
            extensions: { rsv1: true },
            continueAfterFailure: true,
          });
          const events = parser.push(encodeFrame({ fin, rsv1, opcode, payload, mask }));
          const frame = events.find((e) => e.kind === 'frame');
          if (frame?.kind !== 'frame') throw new Error('no frame');
          const record = frameRecord(frame.frame);
          expect(frameFields(record, direction)).toEqual(
            frame.frame.fields.filter((f) => f.name !== 'payload'),
          );
        },
      ),
    );
  });
});

describe('wirePayloadHex', () => {
  it('gives back the payload bytes exactly as they crossed the wire, masked or not (RFC 6455 §5.3)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined }),
        fc.integer({ min: 1, max: 300 }),
        (payload, maskingKey, previewLimit) => {
          const direction: Direction = maskingKey ? 'client-to-server' : 'server-to-client';
          const bytes = encodeFrame({ opcode: 2, payload, ...(maskingKey ? { maskingKey } : {}) });
          const parser = new FrameParser({ direction, previewLimit });
          const frame = parser.push(bytes).find((e) => e.kind === 'frame');
          if (frame?.kind !== 'frame') throw new Error('no frame');
          const record = frameRecord(frame.frame);
          const shown = Math.min(payload.length, previewLimit);
          const wire = Buffer.from(
            bytes.subarray(record.headerLength, record.headerLength + shown),
          );
          expect(wirePayloadHex(record)).toBe(wire.toString('hex'));
        },
      ),
    );
  });
});
