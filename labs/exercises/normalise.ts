/**
 * Reading what learners type, sensibly: hex with or without spaces, `0x` prefixes or colons;
 * base64 with stray whitespace; numbers in decimal or hex; header values with any case and
 * surrounding spaces. Each reader returns the value or a sentence saying why it could not read it,
 * so a checker can tell "not hex" apart from "wrong bytes".
 */
import { parseHex } from '../shared/hex.ts';

export type Read<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly why: string };

export function readHex(text: string): Read<Uint8Array> {
  if (text.trim() === '')
    return { ok: false, why: 'The answer is empty: type the bytes in hex, like 81 05.' };
  const parsed = parseHex(text);
  const first = parsed.errors[0];
  if (first !== undefined) return { ok: false, why: first.message };
  return { ok: true, value: parsed.bytes };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 (RFC 4648 §4), whitespace ignored; padding required as in the handshake. */
export function readBase64(text: string): Read<string> {
  const compact = text.replace(/\s+/g, '');
  if (compact === '') return { ok: false, why: 'The answer is empty: type a base64 value.' };
  if (!BASE64.test(compact)) {
    const bad = [...compact].find((c) => !/[A-Za-z0-9+/=]/.test(c));
    return {
      ok: false,
      why:
        bad === undefined
          ? 'Padding (=) may only come at the end, at most twice.'
          : `"${bad}" is not a base64 character (RFC 4648 §4 uses A-Z, a-z, 0-9, + and /).`,
    };
  }
  if (compact.length % 4 !== 0) {
    return {
      ok: false,
      why: `Base64 comes in groups of 4 characters; this has ${compact.length}.`,
    };
  }
  return { ok: true, value: compact };
}

/** A non-negative integer: `300`, `0x12c`, `1_000` and `1,000` are all read. */
export function readInteger(text: string): Read<number> {
  const compact = text.trim().replace(/[_,\s]/g, '');
  if (compact === '') return { ok: false, why: 'The answer is empty: type a number.' };
  const value = /^0x[0-9a-f]+$/i.test(compact)
    ? Number.parseInt(compact.slice(2), 16)
    : /^\d+$/.test(compact)
      ? Number(compact)
      : Number.NaN;
  if (!Number.isSafeInteger(value))
    return { ok: false, why: `"${text.trim()}" is not a whole number.` };
  return { ok: true, value };
}

/** A bit: 0/1, also true/false, yes/no, set/clear. */
export function readBit(text: string): Read<0 | 1> {
  const word = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'set', 'on'].includes(word)) return { ok: true, value: 1 };
  if (['0', 'false', 'no', 'clear', 'unset', 'off'].includes(word)) return { ok: true, value: 0 };
  return { ok: false, why: `"${text.trim()}" is not a bit: type 0 or 1.` };
}

/** For tokens and header values: case-insensitive, surrounding whitespace ignored. */
export function sameToken(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The index of the first byte where two byte strings differ, or -1 when they are equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}
