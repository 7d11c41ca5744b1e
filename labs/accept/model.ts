/**
 * The accept calculator's logic, without a DOM: what is wrong with a key (which character, which
 * rule), the bytes of the concatenation split into key and GUID, the digest as bytes, and finding
 * the learner's own handshake in the lab server's annotations.
 */
import { WEBSOCKET_GUID } from '../../protocol/accept.ts';
import type { HeaderRecord, LabEvent } from '../../protocol/annotations.ts';

/** RFC 6455's own example (§1.3 and §4.2.2): this key must give s3pPLMBiTxaQ9kYGzzhZRbK+xOo=. */
export const RFC_EXAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const RFC_EXAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const KEY_RULE = 'RFC 6455 §4.1 item 7; a server refuses it, §4.2.1 item 5';

export interface KeyProblem {
  readonly text: string;
  readonly section: string;
  /** Index of the offending character in the key, when one character is at fault. */
  readonly at?: number;
}

export interface KeyAnalysis {
  /** The key the server would hash: the header value without surrounding whitespace. */
  readonly key: string;
  /** True when surrounding whitespace was removed (HTTP drops it from a field value). */
  readonly trimmed: boolean;
  readonly valid: boolean;
  readonly problems: readonly KeyProblem[];
  /** How many bytes the key decodes to, when it is base64 at all. */
  readonly decodedLength: number | null;
}

const ALPHABET = /[A-Za-z0-9+/]/;

/**
 * Every way a Sec-WebSocket-Key can break RFC 6455 §4.1 item 7 ("a randomly selected 16-byte
 * value that has been base64-encoded"), each said once, with the character at fault.
 */
export function analyseKey(raw: string): KeyAnalysis {
  const key = raw.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  const trimmed = key !== raw;
  const problems: KeyProblem[] = [];
  if (key === '') {
    return {
      key,
      trimmed,
      valid: false,
      problems: [
        {
          text: 'The key is empty. A client sends 16 random bytes in base64, 24 characters such as dGhlIHNhbXBsZSBub25jZQ==.',
          section: KEY_RULE,
        },
      ],
      decodedLength: null,
    };
  }
  const firstPad = key.indexOf('=');
  const data = firstPad === -1 ? key : key.slice(0, firstPad);
  const padding = firstPad === -1 ? '' : key.slice(firstPad);
  for (let i = 0; i < data.length; i++) {
    const c = data[i] as string;
    if (ALPHABET.test(c)) continue;
    const what =
      c === '-' || c === '_'
        ? `"${c}" belongs to the URL-safe alphabet (RFC 4648 §5); the key uses standard base64, with "+" and "/" (RFC 4648 §4)`
        : /\s/.test(c)
          ? 'whitespace is not part of base64'
          : `"${c}" (U+${c.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}) is not a base64 character; the alphabet is A-Z, a-z, 0-9, "+" and "/" (RFC 4648 §4)`;
    problems.push({ text: `Character ${i + 1}: ${what}.`, section: 'RFC 4648 §4', at: i });
    if (problems.length >= 5) break;
  }
  if (!/^={0,2}$/.test(padding)) {
    problems.push({
      text: `Character ${firstPad + 1} is "=", but "=" may only pad the end, at most twice (RFC 4648 §4).`,
      section: 'RFC 4648 §4',
      at: firstPad,
    });
  }
  const decodedLength = problems.length === 0 ? Math.floor((data.length * 6) / 8) : null;
  if (problems.length === 0) {
    if ((data.length + padding.length) % 4 !== 0) {
      problems.push({
        text:
          data.length === 22 && padding.length < 2
            ? `The key has ${data.length} data characters but ${padding.length === 0 ? 'no' : 'only one'} "=": 16 bytes in padded base64 end in "==", 24 characters in all.`
            : `Base64 comes in groups of 4 characters; this key has ${key.length}.`,
        section: 'RFC 4648 §4',
      });
    }
    if (decodedLength !== 16) {
      problems.push({
        text: `The key decodes to ${decodedLength} byte${decodedLength === 1 ? '' : 's'}; it must be exactly 16 random bytes, which base64 writes as 22 characters and "==".`,
        section: KEY_RULE,
      });
    }
  }
  return { key, trimmed, valid: problems.length === 0, problems, decodedLength };
}

export interface ByteCell {
  readonly hex: string;
  /** The character the byte encodes (the concatenation is ASCII when the key is valid). */
  readonly char: string;
  readonly part: 'key' | 'guid';
}

/** The bytes SHA-1 reads, each marked as coming from the key or from the GUID. */
export function concatenationBytes(bytes: Uint8Array, keyByteLength: number): ByteCell[] {
  return Array.from(bytes, (byte, i) => ({
    hex: byte.toString(16).padStart(2, '0'),
    char: byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '·',
    part: i < keyByteLength ? 'key' : 'guid',
  }));
}

/** `"b37a4f…"` → `["b3", "7a", "4f", …]`. */
export function hexPairs(hex: string): string[] {
  return hex.match(/../g) ?? [];
}

export function keyByteLength(key: string): number {
  return new TextEncoder().encode(key).length;
}

export const GUID = WEBSOCKET_GUID;

export interface OwnHandshake {
  readonly conn: number;
  readonly key: string;
  /** The accept the lab server sent in its 101, when it answered with one. */
  readonly sentAccept: string | null;
  readonly status: number | null;
  readonly userAgent: string | null;
}

function header(headers: readonly HeaderRecord[], name: string): string | null {
  return headers.find((h) => h.name.toLowerCase() === name)?.value ?? null;
}

/**
 * The first /echo handshake among the learner's events (already filtered to this browser's
 * connections) that carried a key, with the server's answer once it has come.
 */
export function findOwnHandshake(events: readonly LabEvent[]): OwnHandshake | null {
  for (const event of events) {
    if (event.type !== 'handshake-request' || event.route !== 'echo') continue;
    const key = header(event.headers, 'sec-websocket-key');
    if (key === null) continue;
    const response = events.find(
      (e): e is Extract<LabEvent, { type: 'handshake-response' }> =>
        e.type === 'handshake-response' && e.conn === event.conn,
    );
    return {
      conn: event.conn,
      key,
      sentAccept: response === undefined ? null : header(response.headers, 'sec-websocket-accept'),
      status: response?.status ?? null,
      userAgent: header(event.headers, 'user-agent'),
    };
  }
  return null;
}
