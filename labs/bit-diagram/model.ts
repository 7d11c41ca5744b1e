/**
 * The bit diagram's logic, free of the DOM: a frame's bytes in, every header bit placed in RFC
 * 6455 §5.2's rows and tied to its field out. The fields, their values and meanings come from
 * the frame parser through the decoder's view model, so the diagram says what the parser, the
 * decoder lab and the lab server's annotations say.
 */
import type { Direction, FieldName } from '../../protocol/types.ts';
import {
  decode,
  type FieldView,
  type FrameView,
  type ProblemView,
} from '../frame-decoder/model.ts';
import { formatHex } from '../shared/hex.ts';

export interface DiagramExample {
  readonly id: string;
  readonly label: string;
  readonly direction: Direction;
  readonly bytes: Uint8Array;
}

const zeros = (header: readonly number[], payload: number) => {
  const bytes = new Uint8Array(header.length + payload);
  bytes.set(header);
  return bytes;
};

/** Frames of RFC 6455 §5.7, one per length form (their long payloads are left as zeros). */
export const DIAGRAM_EXAMPLES: readonly DiagramExample[] = [
  {
    id: 'masked-hello',
    label: 'Masked "Hello" (client)',
    direction: 'client-to-server',
    bytes: Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
  },
  {
    id: 'unmasked-hello',
    label: 'Unmasked "Hello" (server)',
    direction: 'server-to-client',
    bytes: Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
  },
  {
    id: 'binary-256',
    label: '256 bytes, 16-bit length',
    direction: 'server-to-client',
    bytes: zeros([0x82, 0x7e, 0x01, 0x00], 256),
  },
  {
    id: 'binary-64k',
    label: '64 KiB, 64-bit length',
    direction: 'server-to-client',
    bytes: zeros([0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0, 0], 65536),
  },
];

/** Payload bytes drawn bit by bit after the header: enough to see that the payload follows. */
export const PAYLOAD_BYTES_DRAWN = 4;

export interface BitCell {
  /** Bit number counted from the frame's first bit (RFC 6455 §5.2 numbers them from 0). */
  readonly bit: number;
  readonly byte: number;
  /** 0 = most significant bit of its byte. */
  readonly bitInByte: number;
  readonly value: 0 | 1;
  readonly field: FieldName;
  /** Index into `fields`. */
  readonly fieldIndex: number;
  /** Position of this bit inside its field (0 = the field's most significant bit). */
  readonly bitInField: number;
}

export interface DiagramView {
  readonly bytes: Uint8Array;
  readonly hex: string;
  readonly direction: Direction;
  readonly frame: FrameView;
  readonly fields: readonly FieldView[];
  readonly cells: readonly BitCell[];
  /** Payload bytes not drawn. */
  readonly payloadNotDrawn: number;
  /** Fields of RFC 6455 §5.2's layout that this frame does not carry, and why. */
  readonly absent: readonly string[];
  readonly problems: readonly ProblemView[];
}

export function diagram(bytes: Uint8Array, direction: Direction): DiagramView | null {
  const decoded = decode({ text: formatHex(bytes, 'compact'), direction, previewLimit: 64 });
  const frame = decoded.frames[0];
  if (frame === undefined) return null;
  const fields = frame.fields;
  const drawnPayload = Math.min(PAYLOAD_BYTES_DRAWN, frame.payload.received);
  const totalBits = (frame.headerLength + drawnPayload) * 8;
  const cells: BitCell[] = [];
  for (let bit = 0; bit < totalBits; bit++) {
    const fieldIndex = fields.findIndex((f) =>
      f.name === 'payload'
        ? bit >= frame.headerLength * 8
        : bit >= f.frameBit && bit < f.frameBit + f.bitWidth,
    );
    const field = fields[fieldIndex];
    if (field === undefined) continue;
    const byte = bit >> 3;
    const bitInByte = bit & 7;
    cells.push({
      bit,
      byte,
      bitInByte,
      value: (((bytes[byte] ?? 0) >> (7 - bitInByte)) & 1) as 0 | 1,
      field: field.name,
      fieldIndex,
      bitInField: bit - field.frameBit,
    });
  }
  const absent: string[] = [];
  if (!fields.some((f) => f.name === 'extendedPayloadLength')) {
    absent.push(
      `Extended payload length: Payload len is ${frame.payloadLength}, at most 125, so no more length bytes follow (RFC 6455 §5.2).`,
    );
  }
  if (!fields.some((f) => f.name === 'maskingKey')) {
    absent.push('Masking-key: MASK is 0, so no key follows the length (RFC 6455 §5.2).');
  }
  return {
    bytes,
    hex: formatHex(bytes.subarray(0, frame.headerLength + drawnPayload)),
    direction,
    frame,
    fields,
    cells,
    payloadNotDrawn: Math.max(0, frame.payload.received - drawnPayload),
    absent,
    problems: [...frame.problems, ...decoded.streamProblems],
  };
}

/** The same frame with one bit flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice();
  const byte = bit >> 3;
  if (byte < copy.length) copy[byte] = (copy[byte] as number) ^ (0x80 >> (bit & 7));
  return copy;
}

/** What one bit is, in words: its place in the frame, in its byte and in its field. */
export function describeBit(view: DiagramView, bit: number): string {
  const cell = view.cells.find((c) => c.bit === bit);
  if (cell === undefined) return '';
  const field = view.fields[cell.fieldIndex];
  if (field === undefined) return '';
  const where = `Bit ${bit} of the frame: byte ${cell.byte}, bit ${cell.bitInByte} (worth 0x${(0x80 >> cell.bitInByte).toString(16).padStart(2, '0')} in that byte). It is ${cell.value}.`;
  if (field.name === 'payload') {
    return `${where} It belongs to the payload, byte ${Math.floor((bit - view.frame.headerLength * 8) / 8)}${view.frame.payload.masked ? ', as masked on the wire' : ''}.`;
  }
  if (field.bitWidth === 1) return `${where} It is the whole ${field.label} field.`;
  const place = field.bitWidth - 1 - cell.bitInField;
  const weight = place < 53 ? String(2 ** place) : `2^${place}`;
  return `${where} It is bit ${cell.bitInField + 1} of the ${field.bitWidth} bits of ${field.label}, worth ${weight} in it.`;
}
