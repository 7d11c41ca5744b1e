import { closePayload, encodeFrame, type FrameSpec } from '../../protocol/frame-encoder.ts';

/** A frame as the client read it from the server's bytes, parsed independently of protocol/. */
export interface WireFrame {
  /** Offset of the frame's first byte in the bytes parsed. */
  readonly offset: number;
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
  /** The frame's bytes exactly as received. */
  readonly raw: Buffer;
}

/** Splits bytes into whole frames; a trailing partial frame is left in `rest`. */
export function parseWireFrames(
  bytes: Buffer,
  startOffset = 0,
): { frames: WireFrame[]; rest: Buffer } {
  const frames: WireFrame[] = [];
  let at = 0;
  while (bytes.length - at >= 2) {
    const b0 = bytes[at] as number;
    const b1 = bytes[at + 1] as number;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      if (bytes.length - at < 4) break;
      length = bytes.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      if (bytes.length - at < 10) break;
      length = Number(bytes.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (masked) header += 4;
    if (bytes.length - at < header + length) break;
    let payload = Buffer.from(bytes.subarray(at + header, at + header + length));
    if (masked) {
      const key = bytes.subarray(at + header - 4, at + header);
      payload = Buffer.from(payload.map((b, i) => b ^ (key[i & 3] as number)));
    }
    frames.push({
      offset: startOffset + at,
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 0x7,
      opcode: b0 & 0x0f,
      masked,
      payload,
      raw: Buffer.from(bytes.subarray(at, at + header + length)),
    });
    at += header + length;
  }
  return { frames, rest: Buffer.from(bytes.subarray(at)) };
}

/** The status code and reason of a close frame's payload. */
export function closeOf(frame: WireFrame): { code: number | null; reason: string } {
  if (frame.payload.length < 2) return { code: null, reason: '' };
  return {
    code: frame.payload.readUInt16BE(0),
    reason: frame.payload.subarray(2).toString('utf8'),
  };
}

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A client frame, masked with a fixed key unless another is given or `mask` is false. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  spec: Partial<FrameSpec> = {},
): Buffer {
  const key = spec.mask === false ? {} : { maskingKey: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]) };
  return Buffer.from(encodeFrame({ opcode, payload, ...key, ...spec }));
}

export function clientClose(code: number, reason = '', spec: Partial<FrameSpec> = {}): Buffer {
  return clientFrame(OP.close, closePayload(code, reason), spec);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
