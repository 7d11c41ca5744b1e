import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hopByHopNames } from './server.ts';
import { parseAuthority, parseRequestTarget, refuseDestination } from './target.ts';

const allowed = { ports: [6455, 6456], labHost: '127.0.0.1' };

describe('parseRequestTarget', () => {
  it('reads the authority form of CONNECT (RFC 9112 §3.2.3)', () => {
    expect(parseRequestTarget('CONNECT', '127.0.0.1:6455', undefined)).toEqual({
      ok: true,
      target: {
        host: '127.0.0.1',
        port: 6455,
        authority: '127.0.0.1:6455',
        path: '/',
        form: 'authority',
      },
    });
    expect(parseRequestTarget('CONNECT', '[::1]:443', undefined)).toMatchObject({
      ok: true,
      target: { host: '::1', port: 443, authority: '[::1]:443' },
    });
  });

  it('reads the absolute form (RFC 9112 §3.2.2), ws:// included, and the origin form with Host', () => {
    expect(parseRequestTarget('GET', 'http://LOCALHOST:6455/echo?x=1', undefined)).toMatchObject({
      ok: true,
      target: { host: 'localhost', port: 6455, path: '/echo?x=1', form: 'absolute' },
    });
    expect(parseRequestTarget('GET', 'ws://127.0.0.1/echo', undefined)).toMatchObject({
      ok: true,
      target: { port: 80, path: '/echo' },
    });
    expect(parseRequestTarget('GET', 'http://127.0.0.1:1', undefined)).toMatchObject({
      ok: true,
      target: { path: '/' },
    });
    expect(parseRequestTarget('GET', '/echo', '127.0.0.1:6455')).toMatchObject({
      ok: true,
      target: { host: '127.0.0.1', port: 6455, path: '/echo', form: 'origin' },
    });
  });

  it('refuses what it cannot use, saying why', () => {
    const cases: [string, string, string | undefined, RegExp][] = [
      ['CONNECT', '127.0.0.1', undefined, /has no port/],
      ['CONNECT', 'http://x/', undefined, /authority form/],
      ['CONNECT', '::1:80', undefined, /brackets/],
      ['CONNECT', '[::1:80', undefined, /never closes/],
      ['CONNECT', 'h:99999', undefined, /out of range/],
      ['CONNECT', 'h:0', undefined, /out of range/],
      ['CONNECT', 'h:x', undefined, /not a port/],
      ['GET', 'https://127.0.0.1/', undefined, /CONNECT/],
      ['GET', 'ftp://x/', undefined, /neither an absolute URL/],
      ['GET', '/echo', undefined, /needs a Host/],
      ['GET', 'http://u:p@127.0.0.1/', undefined, /user:password/],
      ['GET', 'http://bad host/', undefined, /not a host name/],
    ];
    for (const [method, target, host, why] of cases) {
      const result = parseRequestTarget(method, target, host);
      expect(result.ok, target).toBe(false);
      if (!result.ok) expect(result.explanation).toMatch(why);
    }
  });

  it('never throws, for any method and target', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'CONNECT', 'POST'),
        fc.string(),
        fc.option(fc.string()),
        (method, target, host) => {
          const result = parseRequestTarget(method, target, host ?? undefined);
          if (result.ok) {
            expect(result.target.port).toBeGreaterThanOrEqual(1);
            expect(result.target.port).toBeLessThanOrEqual(65535);
            expect(result.target.path.startsWith('/')).toBe(true);
          } else {
            expect(result.explanation.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads back every host:port it is given (IPv4, names, bracketed IPv6)', () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.domain(),
      fc.ipV6().map((a) => `[${a}]`),
    );
    fc.assert(
      fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
        const result = parseAuthority(`${h}:${port}`);
        expect(result.ok, `${h}:${port}`).toBe(true);
        if (!result.ok) return;
        expect(result.target.port).toBe(port);
        expect(result.target.authority).toBe(`${h.toLowerCase()}:${port}`);
        // The absolute form of the same authority reaches the same place.
        const absolute = parseRequestTarget('GET', `http://${h}:${port}/p`, undefined);
        expect(absolute.ok && absolute.target.host).toBe(result.target.host);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('refuseDestination', () => {
  const at = (text: string) => {
    const result = parseAuthority(text);
    if (!result.ok) throw new Error(result.explanation);
    return result.target;
  };

  it('lets the proxies reach the lab server own ports on loopback names only', () => {
    for (const ok of ['127.0.0.1:6455', 'localhost:6456', '[::1]:6455']) {
      expect(refuseDestination(at(ok), allowed), ok).toBeNull();
    }
  });

  it('refuses every other host or port, whatever it is', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV4(),
          fc.domain(),
          fc.ipV6().map((a) => `[${a}]`),
        ),
        fc.integer({ min: 1, max: 65535 }),
        (host, port) => {
          const target = at(`${host}:${port}`);
          const isLab =
            ['127.0.0.1', 'localhost', '::1'].includes(target.host) && allowed.ports.includes(port);
          expect(refuseDestination(target, allowed) === null).toBe(isLab);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('hopByHopNames (RFC 9110 §7.6.1)', () => {
  it('adds the fields Connection names to the fixed list', () => {
    const names = hopByHopNames({
      headers: [
        { name: 'Connection', lowerName: 'connection', value: 'Upgrade, X-Secret', byteOffset: 0 },
      ],
    });
    expect(names.has('upgrade')).toBe(true);
    expect(names.has('x-secret')).toBe(true);
    expect(names.has('keep-alive')).toBe(true);
    expect(names.has('sec-websocket-key')).toBe(false);
  });
});
