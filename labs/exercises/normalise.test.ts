import { describe, expect, it } from 'vitest';
import { readBase64, readBit, readHex, readInteger } from './normalise.ts';

describe('reading answers', () => {
  it('reads hex with or without spaces and prefixes', () => {
    for (const text of ['81 05', '8105', '0x81 0x05', '81:05', '\\x81\\x05']) {
      const read = readHex(text);
      expect(read.ok && [...read.value]).toEqual([0x81, 0x05]);
    }
    expect(readHex('81 zz').ok).toBe(false);
    expect(readHex('  ').ok).toBe(false);
  });

  it('reads base64 and says why it cannot', () => {
    expect(readBase64(' s3pPLMBiTxaQ9kYGzzhZRbK+xOo= ')).toEqual({
      ok: true,
      value: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    });
    const bad = readBase64('s3pP*');
    expect(!bad.ok && bad.why).toContain('"*"');
    expect(readBase64('abc').ok).toBe(false);
  });

  it('reads integers in decimal and hex, and bits in words', () => {
    expect(readInteger('300')).toEqual({ ok: true, value: 300 });
    expect(readInteger('0x12C')).toEqual({ ok: true, value: 300 });
    expect(readInteger('65,536')).toEqual({ ok: true, value: 65536 });
    expect(readInteger('12a').ok).toBe(false);
    expect(readBit('yes')).toEqual({ ok: true, value: 1 });
    expect(readBit('2').ok).toBe(false);
  });
});
