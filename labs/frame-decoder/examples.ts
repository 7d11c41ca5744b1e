import { formatHex } from '../shared/hex.ts';

export interface DecoderExample {
  readonly id: string;
  /** Button text. */
  readonly label: string;
  /** What the example shows, for the button's accessible description. */
  readonly description: string;
  readonly hex: string;
}

/**
 * A frame with `payload` zero bytes after `header`, written as `hexdump -C` would print it, so
 * its repeated lines fold into `*`. RFC 6455 §5.7 leaves the payload bytes of its two long
 * examples unspecified; zeros keep them short and show the `*` notation the decoder reads.
 */
function zeroPayload(header: readonly number[], payload: number): string {
  const bytes = new Uint8Array(header.length + payload);
  bytes.set(header);
  return formatHex(bytes, 'hexdump-C');
}

/** The example frames of RFC 6455 §5.7, byte for byte. */
export const EXAMPLES: readonly DecoderExample[] = [
  {
    id: 'unmasked-hello',
    label: 'Unmasked "Hello"',
    description: 'A single unmasked text frame, as a server sends it.',
    hex: '81 05 48 65 6c 6c 6f',
  },
  {
    id: 'masked-hello',
    label: 'Masked "Hello"',
    description: 'A single masked text frame, as a client sends it.',
    hex: '81 85 37 fa 21 3d 7f 9f 4d 51 58',
  },
  {
    id: 'fragmented-hello',
    label: 'Fragmented "Hel" + "lo"',
    description: 'One text message split over two unmasked frames.',
    hex: '01 03 48 65 6c\n80 02 6c 6f',
  },
  {
    id: 'ping',
    label: 'Ping',
    description: 'An unmasked ping carrying "Hello".',
    hex: '89 05 48 65 6c 6c 6f',
  },
  {
    id: 'masked-pong',
    label: 'Masked pong',
    description: 'The masked pong a client sends back, with the same body.',
    hex: '8a 85 37 fa 21 3d 7f 9f 4d 51 58',
  },
  {
    id: 'binary-256',
    label: '256-byte binary',
    description: 'An unmasked binary frame whose length uses the 16-bit form.',
    hex: zeroPayload([0x82, 0x7e, 0x01, 0x00], 256),
  },
  {
    id: 'binary-64k',
    label: '64 KiB binary',
    description: 'An unmasked binary frame whose length uses the 64-bit form.',
    hex: zeroPayload([0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0, 0], 65536),
  },
];
