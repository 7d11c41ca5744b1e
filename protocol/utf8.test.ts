import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Utf8Validator, validateUtf8 } from './utf8.ts';

const bytes = (...values: number[]) => Uint8Array.from(values);
const fatalDecoder = new TextDecoder('utf-8', { fatal: true });
const isValidByOracle = (input: Uint8Array) => {
  try {
    fatalDecoder.decode(input);
    return true;
  } catch {
    return false;
  }
};

describe('UTF-8 validation (Unicode Table 3-7, RFC 3629 §4)', () => {
  it('accepts ASCII, 2-, 3- and 4-byte sequences', () => {
    expect(validateUtf8(new TextEncoder().encode('Hi \u00e9 \u20ac \u{1f600}'))).toBeNull();
  });

  it.each([
    ['a lone continuation byte', bytes(0x80), 0, 'continuation byte'],
    ['an overlong 2-byte lead 0xC0', bytes(0xc0, 0xaf), 0, 'overlong'],
    ['a byte above 0xF4', bytes(0xf5, 0x80, 0x80, 0x80), 0, 'U+10FFFF'],
    ['an overlong 3-byte encoding', bytes(0xe0, 0x80, 0xaf), 1, 'overlong 3-byte'],
    ['a UTF-16 surrogate', bytes(0xed, 0xa0, 0x80), 1, 'surrogate'],
    ['an overlong 4-byte encoding', bytes(0xf0, 0x80, 0x80, 0xaf), 1, 'overlong 4-byte'],
    ['a code point above U+10FFFF', bytes(0xf4, 0x90, 0x80, 0x80), 1, 'above U+10FFFF'],
    ['a missing continuation byte', bytes(0xe2, 0x41), 1, 'needs a continuation byte'],
  ])('rejects %s and names the offending byte', (_, input, index, words) => {
    const error = validateUtf8(input);
    expect(error?.index).toBe(index);
    expect(error?.explanation).toContain(words);
  });

  it('rejects text that ends inside a code point', () => {
    expect(validateUtf8(bytes(0xf0, 0x9f, 0x98))?.explanation).toContain('middle of a character');
  });

  it('agrees with TextDecoder on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
        expect(validateUtf8(input) === null).toBe(isValidByOracle(input));
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees with TextDecoder on mutated valid text split at any byte', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.nat(),
        fc.nat(255),
        fc.nat(),
        (text, at, value, cut) => {
          const input = new TextEncoder().encode(text);
          if (input.length > 0) input[at % input.length] = value;
          const split = cut % (input.length + 1);
          const validator = new Utf8Validator();
          const error =
            validator.push(input.subarray(0, split)) ??
            validator.push(input.subarray(split)) ??
            validator.end();
          expect(error === null).toBe(isValidByOracle(input));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
