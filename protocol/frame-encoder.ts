/**
 * The frame encoder. By default it writes frames exactly as RFC 6455 §5.2 requires; every
 * field can also be forced, so the labs can build the invalid frames a learner wants to see
 * rejected (a wrong length form, a lying length, reserved opcodes, an unmasked client frame).
 */
import type { LengthForm } from './types.ts';

export interface FrameSpec {
  readonly fin?: boolean;
  readonly rsv1?: boolean;
  readonly rsv2?: boolean;
  readonly rsv3?: boolean;
  /** 0-15; reserved values are written as given. */
  readonly opcode: number;
  readonly payload?: Uint8Array | string;
  /** Mask the payload. A key may be given; otherwise a random one is drawn (RFC 6455 §5.3). */
  readonly mask?: boolean;
  readonly maskingKey?: Uint8Array;
  /** Force a length form; a larger one than needed makes a non-minimal encoding on purpose. */
  readonly lengthForm?: LengthForm;
  /** Announce this length instead of the payload's real one (a lying header, for labs). */
  readonly declaredLength?: number | bigint;
}

/** The smallest length form that holds `length` (RFC 6455 §5.2: the minimal one must be used). */
export function minimalLengthForm(length: number | bigint): LengthForm {
  if (length <= 125) return '7-bit';
  if (length <= 0xffff) return '16-bit';
  return '64-bit';
}

const MAX_64 = (1n << 64n) - 1n;

export function encodeFrame(spec: FrameSpec): Uint8Array {
  const payload =
    typeof spec.payload === 'string'
      ? new TextEncoder().encode(spec.payload)
      : (spec.payload ?? new Uint8Array(0));
  const length = spec.declaredLength ?? payload.length;
  const form = spec.lengthForm ?? minimalLengthForm(length);
  if (spec.opcode < 0 || spec.opcode > 15 || !Number.isInteger(spec.opcode)) {
    throw new RangeError(`opcode must be an integer 0-15, got ${spec.opcode}`);
  }
  if (length < 0 || BigInt(length) > MAX_64)
    throw new RangeError(`length ${length} does not fit in 64 bits`);
  if ((form === '7-bit' && length > 127) || (form === '16-bit' && length > 0xffff)) {
    throw new RangeError(`length ${length} does not fit in the ${form} form`);
  }
  const mask = spec.mask === true || spec.maskingKey !== undefined;
  const key = mask ? (spec.maskingKey ?? crypto.getRandomValues(new Uint8Array(4))) : null;
  if (key !== null && key.length !== 4) throw new RangeError('a masking key is 4 bytes');

  const extended = form === '7-bit' ? 0 : form === '16-bit' ? 2 : 8;
  const headerLength = 2 + extended + (key === null ? 0 : 4);
  const out = new Uint8Array(headerLength + payload.length);
  out[0] =
    (spec.fin === false ? 0 : 0x80) |
    (spec.rsv1 ? 0x40 : 0) |
    (spec.rsv2 ? 0x20 : 0) |
    (spec.rsv3 ? 0x10 : 0) |
    spec.opcode;
  const length7 = form === '7-bit' ? Number(length) : form === '16-bit' ? 126 : 127;
  out[1] = (key === null ? 0 : 0x80) | length7;
  let value = BigInt(length);
  for (let i = extended - 1; i >= 0; i--) {
    out[2 + i] = Number(value & 0xffn);
    value >>= 8n;
  }
  if (key === null) {
    out.set(payload, headerLength);
  } else {
    out.set(key, 2 + extended);
    for (let i = 0; i < payload.length; i++) {
      out[headerLength + i] = (payload[i] as number) ^ (key[i & 3] as number);
    }
  }
  return out;
}

/** A close frame body: the status code in network byte order, then the UTF-8 reason (RFC 6455 §5.5.1). */
export function closePayload(code: number, reason = ''): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const out = new Uint8Array(2 + text.length);
  out[0] = (code >> 8) & 0xff;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}
