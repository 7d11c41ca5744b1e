/**
 * The frame builder's logic, free of the DOM: header controls and a payload in, the frame's
 * bytes out, built by `protocol/frame-encoder.ts` (which writes invalid frames when told to) and
 * read back by the same decoder the decoder lab uses, so every meaning and every problem comes
 * from `protocol/`.
 */
import { encodeFrame, minimalLengthForm } from '../../protocol/frame-encoder.ts';
import type { FieldName, LengthForm } from '../../protocol/types.ts';
import { decode, type FrameView, type XorStep } from '../frame-decoder/model.ts';
import { formatHex, parseHex } from '../shared/hex.ts';

export type PayloadFormat = 'text' | 'hex';
/** `minimal` lets the encoder choose the shortest form, as RFC 6455 §5.2 requires. */
export type LengthChoice = 'minimal' | LengthForm;

export interface BuilderInput {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  /** 0-15, reserved values included. */
  readonly opcode: number;
  readonly mask: boolean;
  /** Hex text; 4 bytes when `mask` is on. */
  readonly maskingKey: string;
  readonly payloadFormat: PayloadFormat;
  readonly payload: string;
  readonly lengthForm: LengthChoice;
  /** A length to announce instead of the real one; empty means the real one. */
  readonly declaredLength: string;
}

export type InputName = 'maskingKey' | 'payload' | 'declaredLength' | 'lengthForm';

export interface InputError {
  readonly input: InputName;
  readonly message: string;
}

/** A run of the frame's bytes that belong to one field, for the coloured byte view. */
export interface ByteGroup {
  readonly name: FieldName;
  readonly label: string;
  readonly hex: string;
}

export interface BuiltFrame {
  readonly bytes: Uint8Array;
  readonly hex: string;
  readonly groups: readonly ByteGroup[];
  readonly payloadLength: number;
  readonly declaredLength: bigint;
  readonly lengthForm: LengthForm;
  /** What a receiver makes of these bytes as a client frame (RFC 6455 §5.1: clients mask). */
  readonly frame: FrameView | null;
  /** Problems of the stream that belong to no complete frame (e.g. the bytes end early). */
  readonly streamProblems: readonly { readonly rule: string; readonly explanation: string }[];
  /** Every payload byte's XOR with its key byte, for the masking table. */
  readonly xor: readonly XorStep[];
  /** Short sentences about what was forced on purpose. */
  readonly notes: readonly string[];
}

export type BuildResult =
  | { readonly ok: true; readonly built: BuiltFrame }
  | { readonly ok: false; readonly errors: readonly InputError[] };

/** Payload bytes the builder accepts; the lab server's own limit is 1 MiB. */
export const MAX_PAYLOAD = 64 * 1024;
const MAX_64 = (1n << 64n) - 1n;
const XOR_LIMIT = 64;

export const OPCODE_CHOICES: readonly { readonly value: number; readonly label: string }[] =
  Array.from({ length: 16 }, (_, value) => {
    const names: Record<number, string> = {
      0: 'continuation',
      1: 'text',
      2: 'binary',
      8: 'close',
      9: 'ping',
      10: 'pong',
    };
    const name = names[value] ?? `reserved (${value < 8 ? 'data' : 'control'})`;
    return { value, label: `0x${value.toString(16).toUpperCase()} ${name}` };
  });

/** Reads a length typed in decimal or 0x hex, up to 2^64 - 1. */
export function readLength(text: string): bigint | string {
  const compact = text.trim().replace(/[_,\s]/g, '');
  if (!/^(\d+|0x[0-9a-f]+)$/i.test(compact)) {
    return `"${text.trim()}" is not a whole number of bytes (decimal, or hex with 0x).`;
  }
  const value = BigInt(compact);
  if (value > MAX_64) return 'A length has at most 64 bits: 18446744073709551615 is the largest.';
  return value;
}

export function payloadBytes(
  format: PayloadFormat,
  text: string,
): { bytes: Uint8Array } | { error: string } {
  if (format === 'text') return { bytes: new TextEncoder().encode(text) };
  const parsed = parseHex(text);
  const first = parsed.errors[0];
  if (first !== undefined) return { error: first.message };
  return { bytes: parsed.bytes };
}

const FORM_LIMIT: Record<LengthForm, bigint> = {
  '7-bit': 127n,
  '16-bit': 0xffffn,
  '64-bit': MAX_64,
};

export function build(input: BuilderInput): BuildResult {
  const errors: InputError[] = [];
  const payload = payloadBytes(input.payloadFormat, input.payload);
  if ('error' in payload) errors.push({ input: 'payload', message: payload.error });
  else if (payload.bytes.length > MAX_PAYLOAD) {
    errors.push({
      input: 'payload',
      message: `${payload.bytes.length} bytes is more than this builder sends (${MAX_PAYLOAD}); use the declared length to claim a bigger frame.`,
    });
  }

  let key: Uint8Array | undefined;
  if (input.mask) {
    const parsed = parseHex(input.maskingKey);
    const first = parsed.errors[0];
    if (first !== undefined) errors.push({ input: 'maskingKey', message: first.message });
    else if (parsed.bytes.length !== 4) {
      errors.push({
        input: 'maskingKey',
        message: `A masking key is exactly 4 bytes (RFC 6455 §5.2); this is ${parsed.bytes.length}.`,
      });
    } else key = parsed.bytes;
  }

  let declared: bigint | undefined;
  if (input.declaredLength.trim() !== '') {
    const read = readLength(input.declaredLength);
    if (typeof read === 'string') errors.push({ input: 'declaredLength', message: read });
    else declared = read;
  }
  if ('error' in payload || errors.length > 0) return { ok: false, errors };

  const real = BigInt(payload.bytes.length);
  const length = declared ?? real;
  const form = input.lengthForm === 'minimal' ? minimalLengthForm(length) : input.lengthForm;
  if (length > FORM_LIMIT[form]) {
    return {
      ok: false,
      errors: [
        {
          input: input.lengthForm === 'minimal' ? 'declaredLength' : 'lengthForm',
          message: `${length} does not fit the ${form} form, which holds at most ${FORM_LIMIT[form]}.`,
        },
      ],
    };
  }

  const bytes = encodeFrame({
    fin: input.fin,
    rsv1: input.rsv1,
    rsv2: input.rsv2,
    rsv3: input.rsv3,
    opcode: input.opcode,
    payload: payload.bytes,
    ...(key === undefined ? {} : { maskingKey: key }),
    lengthForm: form,
    ...(declared === undefined
      ? {}
      : {
          declaredLength: declared <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(declared) : declared,
        }),
  });

  const view = decode({
    text: formatHex(bytes, 'compact'),
    direction: 'client-to-server',
    previewLimit: XOR_LIMIT,
  });
  const frame = view.frames[0] ?? null;
  const notes: string[] = [];
  if (declared !== undefined && declared !== real) {
    notes.push(
      declared > real
        ? `The header announces ${declared} payload bytes but only ${real} follow: a receiver waits for the other ${declared - real}.`
        : `The header announces ${declared} payload bytes but ${real} follow: the ${real - declared} extra bytes are read as the start of the next frame.`,
    );
  }
  if (form !== minimalLengthForm(length)) {
    notes.push(
      `The ${form} form was forced for a length of ${length}; the minimal form is ${minimalLengthForm(length)} (RFC 6455 §5.2).`,
    );
  }
  if (form === '7-bit' && (length === 126n || length === 127n)) {
    notes.push(
      `${length} in the 7-bit field is not a length but the marker for the ${length === 126n ? '16' : '64'}-bit form, so a receiver reads the next bytes as the length.`,
    );
  }

  return {
    ok: true,
    built: {
      bytes,
      hex: formatHex(bytes),
      groups: byteGroups(bytes, form, key !== undefined),
      payloadLength: payload.bytes.length,
      declaredLength: length,
      lengthForm: form,
      frame,
      streamProblems: view.streamProblems.map((p) => ({
        rule: p.rule,
        explanation: p.explanation,
      })),
      xor: frame?.payload.xor ?? [],
      notes,
    },
  };
}

/** The bytes cut where the fields are, from the encoder's layout (RFC 6455 §5.2). */
function byteGroups(bytes: Uint8Array, form: LengthForm, masked: boolean): ByteGroup[] {
  const extended = form === '7-bit' ? 0 : form === '16-bit' ? 2 : 8;
  const groups: ByteGroup[] = [
    { name: 'opcode', label: 'FIN, RSV1-3, opcode', hex: formatHex(bytes.subarray(0, 1)) },
    { name: 'payloadLength', label: 'MASK, Payload len', hex: formatHex(bytes.subarray(1, 2)) },
  ];
  let at = 2;
  if (extended > 0) {
    groups.push({
      name: 'extendedPayloadLength',
      label: 'Extended payload length',
      hex: formatHex(bytes.subarray(at, at + extended)),
    });
    at += extended;
  }
  if (masked) {
    groups.push({
      name: 'maskingKey',
      label: 'Masking-key',
      hex: formatHex(bytes.subarray(at, at + 4)),
    });
    at += 4;
  }
  if (at < bytes.length) {
    groups.push({
      name: 'payload',
      label: masked ? 'Payload data (masked)' : 'Payload data',
      hex: formatHex(bytes.subarray(at)),
    });
  }
  return groups;
}

/** A fresh masking key as hex, from the browser's strong random source (RFC 6455 §5.3). */
export function randomKeyHex(
  random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  return formatHex(random(new Uint8Array(4)));
}

export const DEFAULT_INPUT: BuilderInput = {
  fin: true,
  rsv1: false,
  rsv2: false,
  rsv3: false,
  opcode: 1,
  mask: true,
  maskingKey: '37 fa 21 3d',
  payloadFormat: 'text',
  payload: 'Hello',
  lengthForm: 'minimal',
  declaredLength: '',
};
