/**
 * Incremental UTF-8 validation that says where and why a byte sequence is not UTF-8.
 *
 * TextDecoder's `fatal` mode only says *that* the bytes are bad. A learner needs the offending
 * byte and the rule it broke, and a text message can be split across fragments and network
 * chunks at any byte, even inside a code point (RFC 6455 §5.6, §8.1). The accepted sequences are
 * exactly those of the Unicode Standard, Table 3-7 (well-formed UTF-8 byte sequences), which is
 * what RFC 3629 §4 describes.
 */

export interface Utf8Error {
  /** Index of the offending byte within the chunk passed to `push`, or -1 when the input ended early. */
  readonly index: number;
  readonly explanation: string;
}

const hex = (byte: number) => `0x${byte.toString(16).padStart(2, '0').toUpperCase()}`;

export class Utf8Validator {
  /** Continuation bytes still expected for the current code point. */
  #need = 0;
  /** Allowed range of the next continuation byte; only the first one is ever narrower than 80..BF. */
  #lower = 0x80;
  #upper = 0xbf;
  #lead = 0;

  /** True when the bytes so far end on a code point boundary. */
  get complete(): boolean {
    return this.#need === 0;
  }

  reset(): void {
    this.#need = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  /** Validates `bytes[start, end)`; returns the first error, or null. */
  push(bytes: Uint8Array, start = 0, end = bytes.length): Utf8Error | null {
    let i = start;
    while (i < end) {
      const byte = bytes[i] as number;
      if (this.#need === 0) {
        if (byte < 0x80) {
          i++;
          continue;
        }
        const error = this.#startSequence(byte);
        if (error !== null) return this.#fail(i, error);
      } else {
        if (byte < this.#lower || byte > this.#upper) {
          return this.#fail(i, this.#badContinuation(byte));
        }
        this.#need--;
        this.#lower = 0x80;
        this.#upper = 0xbf;
      }
      i++;
    }
    return null;
  }

  /** Call when the text ends (the final fragment's last byte): a half code point is invalid. */
  end(): Utf8Error | null {
    if (this.#need === 0) return null;
    const need = this.#need;
    this.reset();
    return {
      index: -1,
      explanation: `The text ends in the middle of a character: lead byte ${hex(this.#lead)} still needed ${need} more continuation byte${need === 1 ? '' : 's'} (RFC 3629 §4).`,
    };
  }

  /** After an error the validator starts afresh, so one bad byte is reported once. */
  #fail(index: number, explanation: string): Utf8Error {
    this.reset();
    return { index, explanation };
  }

  #startSequence(byte: number): string | null {
    this.#lead = byte;
    if (byte >= 0xc2 && byte <= 0xdf) {
      this.#need = 1;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      this.#need = 2;
      if (byte === 0xe0) this.#lower = 0xa0;
      else if (byte === 0xed) this.#upper = 0x9f;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      this.#need = 3;
      if (byte === 0xf0) this.#lower = 0x90;
      else if (byte === 0xf4) this.#upper = 0x8f;
    } else if (byte >= 0x80 && byte <= 0xbf) {
      return `Byte ${hex(byte)} is a continuation byte (10xxxxxx) with no lead byte before it.`;
    } else if (byte === 0xc0 || byte === 0xc1) {
      return `Byte ${hex(byte)} can never appear in UTF-8: it could only start an overlong encoding of an ASCII character.`;
    } else {
      return `Byte ${hex(byte)} can never appear in UTF-8: lead bytes stop at 0xF4, because code points end at U+10FFFF.`;
    }
    return null;
  }

  #badContinuation(byte: number): string {
    const lead = hex(this.#lead);
    if (this.#lead === 0xe0 && byte >= 0x80 && byte < 0xa0) {
      return `After ${lead}, byte ${hex(byte)} would make an overlong 3-byte encoding; the second byte must be 0xA0-0xBF.`;
    }
    if (this.#lead === 0xed && byte > 0x9f && byte <= 0xbf) {
      return `${lead} ${hex(byte)} starts a UTF-16 surrogate (U+D800-U+DFFF), which UTF-8 must not encode.`;
    }
    if (this.#lead === 0xf0 && byte >= 0x80 && byte < 0x90) {
      return `After ${lead}, byte ${hex(byte)} would make an overlong 4-byte encoding; the second byte must be 0x90-0xBF.`;
    }
    if (this.#lead === 0xf4 && byte > 0x8f && byte <= 0xbf) {
      return `${lead} ${hex(byte)} would encode a code point above U+10FFFF, the last one Unicode has.`;
    }
    return `Lead byte ${lead} needs a continuation byte (0x${this.#lower.toString(16).toUpperCase()}-0x${this.#upper.toString(16).toUpperCase()}) here, but got ${hex(byte)}.`;
  }
}

/** Validates a complete byte string. */
export function validateUtf8(bytes: Uint8Array): Utf8Error | null {
  const validator = new Utf8Validator();
  return validator.push(bytes) ?? validator.end();
}
