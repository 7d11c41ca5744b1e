/**
 * The Sec-WebSocket-Accept computation of RFC 6455 §4.2.2 (item 5.4), with every intermediate step
 * kept so a lab can show how the key becomes the accept value.
 */

/** The fixed GUID of RFC 6455 §1.3; no endpoint that is not a WebSocket server knows to append it. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface AcceptSteps {
  /** The Sec-WebSocket-Key exactly as the client sent it (still base64, never decoded). */
  readonly key: string;
  readonly guid: string;
  /** key + GUID. */
  readonly concatenated: string;
  /** The concatenated string as bytes, the input of SHA-1. */
  readonly bytes: Uint8Array;
  /** The 20-byte SHA-1 digest as 40 lowercase hex characters. */
  readonly sha1Hex: string;
  /** The digest base64-encoded: the value of Sec-WebSocket-Accept. */
  readonly accept: string;
}

export async function computeAccept(key: string): Promise<AcceptSteps> {
  const concatenated = key + WEBSOCKET_GUID;
  const bytes = new TextEncoder().encode(concatenated);
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-1', bytes));
  return {
    key,
    guid: WEBSOCKET_GUID,
    concatenated,
    bytes,
    sha1Hex: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
    accept: toBase64(digest),
  };
}

/**
 * RFC 6455 §4.1 (item 7) and §4.2.1 (item 5): the key is 16 random bytes, base64-encoded with
 * padding (RFC 4648 §4), which is always 22 characters followed by `==`.
 */
export function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/**
 * How many bytes a base64 value decodes to, or null when it is not base64 at all. Lenient about
 * missing padding (as browsers' atob is) so an explanation can say "decodes to 2 bytes" for `abc`.
 */
export function base64DecodedLength(value: string): number | null {
  const data = value.length % 4 === 0 ? value.replace(/={1,2}$/, '') : value;
  if (data.length % 4 === 1 || !/^[A-Za-z0-9+/]*$/.test(data)) return null;
  return Math.floor((data.length * 6) / 8);
}

/** A fresh nonce for a client's Sec-WebSocket-Key (RFC 6455 §4.1, item 7). */
export function generateKey(): string {
  return toBase64(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}
