import { describe, expect, it } from 'vitest';
import { closeCodes, describeCloseCode } from './close-codes.ts';

describe('close codes (RFC 6455 §7.4)', () => {
  it('1005, 1006 and 1015 are reported by APIs but never sent on the wire (RFC 6455 §7.4.1)', () => {
    for (const code of [1005, 1006, 1015]) {
      expect(describeCloseCode(code)).toMatchObject({
        valid: false,
        info: { sentBy: 'nobody', onWire: false },
      });
    }
  });

  it('every code of RFC 6455 §7.4.1 and the IANA registry is in the table once', () => {
    expect(closeCodes.map((c) => c.code)).toEqual(Array.from({ length: 16 }, (_, i) => 1000 + i));
  });

  it.each([
    [999, false, 'not used'],
    [1016, false, 'reserved for the protocol'],
    [2999, false, 'reserved for the protocol'],
    [3000, true, 'registered with IANA'],
    [4000, true, 'private use'],
    [4999, true, 'private use'],
    [5000, false, 'not defined'],
  ])('code %i: valid on the wire is %s (RFC 6455 §7.4.2 ranges)', (code, valid, words) => {
    const verdict = describeCloseCode(code);
    expect(verdict.valid).toBe(valid);
    expect(verdict.explanation).toContain(words);
  });

  it('1010 is sent by clients only and 1012-1014 by servers', () => {
    expect(describeCloseCode(1010).info?.sentBy).toBe('client');
    for (const code of [1012, 1013, 1014])
      expect(describeCloseCode(code).info?.sentBy).toBe('server');
  });
});
