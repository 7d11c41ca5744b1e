import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatHex, type HexStyle, parseHex } from './hex';

const maskedHello = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

function bytesOf(text: string): number[] {
  const result = parseHex(text);
  expect(result.errors).toEqual([]);
  return Array.from(result.bytes);
}

describe('parseHex: hand-typed hex', () => {
  it.each([
    ['spaced', '81 85 37 fa 21 3d 7f 9f 4d 51 58'],
    ['compact', '818537fa213d7f9f4d5158'],
    ['upper case', '81 85 37 FA 21 3D 7F 9F 4D 51 58'],
    ['0x prefixes and commas', '0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58'],
    ['a JavaScript array', '[0x81,0x85,0x37,0xFA,0x21,0x3D,0x7F,0x9F,0x4D,0x51,0x58]'],
    ['escaped', '"\\x81\\x85\\x37\\xfa\\x21\\x3d\\x7f\\x9f\\x4d\\x51\\x58"'],
    ['colons', '81:85:37:fa:21:3d:7f:9f:4d:51:58'],
    ['dashes', '81-85-37-FA-21-3D-7F-9F-4D-51-58'],
    ['newlines and tabs', '81 85\n37\tfa 21 3d\r\n7f 9f\r4d 51 58\n'],
    ['4-digit groups', '8185 37fa 213d 7f9f 4d51 58'],
    ['8-digit groups', '818537fa 213d7f9f 4d5158'],
  ])('reads %s', (_name, text) => {
    expect(bytesOf(text)).toEqual(maskedHello);
  });

  it('pads a 0x-prefixed single digit to a byte', () => {
    expect(bytesOf('0x1, 0x2, 0xa')).toEqual([1, 2, 10]);
  });

  it('reads nothing from empty or blank input', () => {
    expect(bytesOf('')).toEqual([]);
    expect(bytesOf('  \n\t \n')).toEqual([]);
  });

  it('does not mistake 4-byte groups that start with a round number for an offset', () => {
    expect(bytesOf('827f0000 00000000 0100')).toEqual([0x82, 0x7f, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(bytesOf('0000 0000 8185')).toEqual([0, 0, 0, 0, 0x81, 0x85]);
  });
});

describe('parseHex: hex dumps (offset and ASCII columns are skipped)', () => {
  it('reads the Wireshark dump of the masked "Hello" frame', () => {
    expect(bytesOf('0000   81 85 37 fa 21 3d 7f 9f 4d 51 58            ..7.!=..MQX')).toEqual(
      maskedHello,
    );
  });

  it('reads xxd output, as printed by xxd', () => {
    expect(bytesOf('00000000: 8185 37fa 213d 7f9f 4d51 58              ..7.!=..MQX\n')).toEqual(
      maskedHello,
    );
  });

  it('reads hexdump -C output, as printed by hexdump, ending offset included', () => {
    const dump = [
      '00000000  81 85 37 fa 21 3d 7f 9f  4d 51 58                 |..7.!=..MQX|',
      '0000000b',
    ].join('\n');
    expect(bytesOf(dump)).toEqual(maskedHello);
  });

  it('reads od -A x -t x1z output', () => {
    const dump = [
      '000000 81 85 37 fa 21 3d 7f 9f 4d 51 58                 >..7.!=..MQX<',
      '00000b',
    ].join('\n');
    expect(bytesOf(dump)).toEqual(maskedHello);
  });

  it('ignores an ASCII column that looks like hex (real xxd, hexdump -C and od output)', () => {
    const text = 'Hello, WebSocket! ab cd ef 01 23 45 67 89|';
    const expected = Array.from(new TextEncoder().encode(text));
    const xxd = [
      '00000000: 4865 6c6c 6f2c 2057 6562 536f 636b 6574  Hello, WebSocket',
      '00000010: 2120 6162 2063 6420 6566 2030 3120 3233  ! ab cd ef 01 23',
      '00000020: 2034 3520 3637 2038 397c                  45 67 89|',
    ].join('\n');
    const hexdump = [
      '00000000  48 65 6c 6c 6f 2c 20 57  65 62 53 6f 63 6b 65 74  |Hello, WebSocket|',
      '00000010  21 20 61 62 20 63 64 20  65 66 20 30 31 20 32 33  |! ab cd ef 01 23|',
      '00000020  20 34 35 20 36 37 20 38  39 7c                    | 45 67 89||',
      '0000002a',
    ].join('\n');
    const od = [
      '000000 48 65 6c 6c 6f 2c 20 57 65 62 53 6f 63 6b 65 74  >Hello, WebSocket<',
      '000010 21 20 61 62 20 63 64 20 65 66 20 30 31 20 32 33  >! ab cd ef 01 23<',
      '000020 20 34 35 20 36 37 20 38 39 7c                    > 45 67 89|<',
      '00002a',
    ].join('\n');
    expect(bytesOf(xxd)).toEqual(expected);
    expect(bytesOf(hexdump)).toEqual(expected);
    expect(bytesOf(od)).toEqual(expected);
  });

  it("expands hexdump -C's '*' line into the repeated bytes", () => {
    const dump = [
      '00000000  82 7e 01 00 00 00 00 00  00 00 00 00 00 00 00 00  |.~..............|',
      '00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|',
      '*',
      '00000100  00 00 00 00                                       |....|',
      '00000104',
    ].join('\n');
    const bytes = bytesOf(dump);
    expect(bytes).toHaveLength(260);
    expect(bytes.slice(0, 4)).toEqual([0x82, 0x7e, 0x01, 0x00]);
    expect(bytes.slice(4).every((b) => b === 0)).toBe(true);
  });

  it("expands xxd -a's '*' line", () => {
    const dump = [
      '00000000: 827e 0100 0000 0000 0000 0000 0000 0000  .~..............',
      '00000010: 0000 0000 0000 0000 0000 0000 0000 0000  ................',
      '*',
      '00000100: 0000 0000                                ....',
    ].join('\n');
    expect(bytesOf(dump)).toHaveLength(260);
  });

  it('reads Chrome DevTools hex viewer lines, which number lines rather than bytes', () => {
    const dump = [
      '00000000: 4865 6c6c 6f2c 2057 6562 536f 636b 6574  Hello, WebSocket',
      '00000001: 2120 6162                                ! ab',
    ].join('\n');
    expect(bytesOf(dump)).toEqual(Array.from(new TextEncoder().encode('Hello, WebSocket! ab')));
  });

  it('counts the lines it read as a dump', () => {
    expect(parseHex('0000   81 85 37 fa            ..7.').dumpLines).toBe(1);
    expect(parseHex('81 85 37 fa').dumpLines).toBe(0);
  });
});

describe('parseHex: errors', () => {
  it('names the character that is not hex and where it is', () => {
    const result = parseHex('81 85\n37 zz');
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ index: 9, line: 2, column: 4, character: 'z' });
    expect(result.errors[0]?.message).toBe(
      "'z' at line 2, column 4 is not a hex digit (0-9, a-f).",
    );
  });

  it('names an invisible character by its code point', () => {
    const result = parseHex('81\u200b85');
    expect(result.errors[0]?.message).toContain('U+200B');
    expect(result.errors[0]?.column).toBe(3);
  });

  it('counts columns in characters, not UTF-16 units', () => {
    const result = parseHex('😀 81 g');
    expect(result.errors.map((e) => [e.character, e.column])).toEqual([
      ['😀', 1],
      ['g', 6],
    ]);
  });

  it('rejects a bare token with an odd number of digits', () => {
    const result = parseHex('81 851');
    expect(result.errors[0]).toMatchObject({ index: 3, character: '851' });
    expect(result.errors[0]?.message).toContain('3 hex digits');
  });

  it('keeps at most 20 errors but counts them all', () => {
    const result = parseHex('x '.repeat(30));
    expect(result.errors).toHaveLength(20);
    expect(result.errorCount).toBe(30);
  });

  it('refuses to expand a * line into more than 16 MiB', () => {
    const dump = ['00000000  00 00  |..|', '*', 'ffffff00  00  |.|'].join('\n');
    const result = parseHex(
      dump.replace('00000000  00 00  |..|', `00000000  ${'00 '.repeat(16)} |................|`),
    );
    expect(result.errors[0]?.message).toMatch(/repeat/);
  });
});

describe('parseHex: properties', () => {
  const styles: HexStyle[] = [
    'spaced',
    'compact',
    'c-array',
    'escaped',
    'wireshark',
    'wireshark-bytes',
    'xxd',
    'hexdump-C',
    'od',
    'chrome-devtools',
  ];
  const printable = fc.uint8Array({ maxLength: 200 });
  const repetitive = fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.integer({ min: 1, max: 40 }))
    .map(([unit, n]) => {
      const out = new Uint8Array(unit.length * n);
      for (let i = 0; i < out.length; i++) out[i] = unit[i % unit.length] ?? 0;
      return out;
    });

  it.each(styles)('reads back random bytes formatted in %s style', (style) => {
    fc.assert(
      fc.property(fc.oneof(printable, repetitive), (bytes) => {
        const result = parseHex(formatHex(bytes, style));
        expect(result.errors).toEqual([]);
        expect(Array.from(result.bytes)).toEqual(Array.from(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('reads back bytes whose ASCII column is made of hex-looking text', () => {
    const hexish = fc
      .array(fc.constantFrom(...'0123456789abcdefABCDEF |>:*x'.split('')), { maxLength: 100 })
      .map((chars) => new TextEncoder().encode(chars.join('')));
    fc.assert(
      fc.property(hexish, fc.constantFrom(...styles), (bytes, style) => {
        expect(Array.from(parseHex(formatHex(bytes, style)).bytes)).toEqual(Array.from(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on random text, and every error points at a character that is there', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const result = parseHex(text);
        // Plain comparisons per error, one expect per run: 2,000 runs of up to 200 errors each
        // made expect() itself the cost on a busy machine.
        const misplaced = result.errors.filter(
          (error) =>
            !(error.index >= 0 && error.index < text.length) ||
            !text.startsWith(error.character, error.index) ||
            !error.message.includes(`line ${error.line}, column ${error.column}`),
        );
        expect(misplaced).toEqual([]);
        expect(result.errorCount).toBeGreaterThanOrEqual(result.errors.length);
      }),
      { numRuns: 2000 },
    );
    // 2,000 texts of up to 200 characters take about a second alone; far longer on a busy machine.
  }, 30_000);

  it('reports every non-hex letter in otherwise plain hex', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 30 }),
        fc.nat(),
        fc.constantFrom(...'ghijklmnopqrstuvwyzGHIJ.!?#'.split('')),
        (bytes, at, bad) => {
          const text = formatHex(bytes, 'spaced');
          const index = at % (text.length + 1);
          const withBad = text.slice(0, index) + bad + text.slice(index);
          const result = parseHex(withBad);
          expect(result.errors.map((e) => e.index)).toContain(index);
        },
      ),
    );
  });
});
