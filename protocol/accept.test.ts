import { describe, expect, it } from 'vitest';
import {
  base64DecodedLength,
  computeAccept,
  generateKey,
  isValidKey,
  WEBSOCKET_GUID,
} from './accept.ts';

describe('computeAccept', () => {
  it('turns the RFC 6455 §1.3 sample key into s3pPLMBiTxaQ9kYGzzhZRbK+xOo=, step by step', async () => {
    const steps = await computeAccept('dGhlIHNhbXBsZSBub25jZQ==');
    expect(steps.key).toBe('dGhlIHNhbXBsZSBub25jZQ==');
    expect(steps.guid).toBe('258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    expect(steps.concatenated).toBe('dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    expect(steps.bytes).toEqual(new TextEncoder().encode(steps.concatenated));
    expect(steps.bytes).toHaveLength(60);
    expect(steps.sha1Hex).toBe('b37a4f2cc0624f1690f64606cf385945b2bec4ea');
    expect(steps.accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('hashes the key as sent, without base64-decoding it (RFC 6455 §4.2.2)', async () => {
    const steps = await computeAccept('x3JJHMbDL1EzLkh9GBhXDw==');
    expect(steps.concatenated).toBe(`x3JJHMbDL1EzLkh9GBhXDw==${WEBSOCKET_GUID}`);
    expect(steps.accept).toBe('HSmrc0sMlYUkAGmm5OPpG2HaGWk=');
  });

  it('always yields 40 lowercase hex digits and 28 base64 characters (a 20-byte SHA-1)', async () => {
    const steps = await computeAccept(generateKey());
    expect(steps.sha1Hex).toMatch(/^[0-9a-f]{40}$/);
    expect(steps.accept).toMatch(/^[A-Za-z0-9+/]{27}=$/);
  });
});

describe('isValidKey', () => {
  it('accepts base64 of 16 bytes: 22 characters and == (RFC 6455 §4.1)', () => {
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe(true);
  });

  it.each([
    ['too short', 'abc'],
    ['15 bytes', 'AAAAAAAAAAAAAAAAAAAA'],
    ['17 bytes', 'AAAAAAAAAAAAAAAAAAAAAA=='.replace('==', 'A=')],
    ['unpadded 16 bytes', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['not base64', 'dGhlIHNhbXBsZSBub25jZQ!='],
    ['empty', ''],
  ])('rejects a key that is %s (RFC 6455 §4.2.1)', (_, key) => {
    expect(isValidKey(key)).toBe(false);
  });

  it('accepts every key generateKey makes', () => {
    for (let i = 0; i < 50; i++) expect(isValidKey(generateKey())).toBe(true);
  });
});

describe('base64DecodedLength', () => {
  it.each([
    ['abc', 2],
    ['abc=', 2],
    ['ab==', 1],
    ['', 0],
    ['dGhlIHNhbXBsZSBub25jZQ==', 16],
    ['dGhlIHNhbXBsZSBub25jZQ', 16],
  ])('counts %s as %i bytes', (value, length) => {
    expect(base64DecodedLength(value)).toBe(length);
  });

  it.each(['a', 'ab=', 'a b', 'ab!c', 'a==='])('reports %s as not base64', (value) => {
    expect(base64DecodedLength(value)).toBeNull();
  });
});
