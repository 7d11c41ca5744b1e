import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildClientRequest,
  buildServerResponse,
  explainHeader,
  type HandshakeFinding,
  parseExtensions,
  validateServerResponse,
  validateUpgradeRequest,
} from './handshake.ts';
import {
  getHeader,
  type HeadParseResult,
  HttpHeadParser,
  type RequestHead,
  type ResponseHead,
} from './http-head.ts';

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const head = (lines: readonly string[], eol = '\r\n') => `${lines.join(eol)}${eol}${eol}`;

const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

// RFC 6455 §1.2
const SAMPLE_REQUEST = [
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${SAMPLE_KEY}`,
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
];

const SAMPLE_RESPONSE = [
  'HTTP/1.1 101 Switching Protocols',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  'Sec-WebSocket-Protocol: chat',
];

function parse<K extends 'request' | 'response'>(
  kind: K,
  text: string | Uint8Array,
  maxHeaderBytes = 8192,
) {
  const parser = new HttpHeadParser({ kind, maxHeaderBytes });
  return parser.push(typeof text === 'string' ? encode(text) : text);
}

function parseRequest(text: string, maxHeaderBytes = 8192): RequestHead {
  const result = parse('request', text, maxHeaderBytes);
  if (result.state !== 'complete') throw new Error(`expected a complete head, got ${result.state}`);
  return result.head;
}

function parseResponse(text: string): ResponseHead {
  const result = parse('response', text);
  if (result.state !== 'complete') throw new Error(`expected a complete head, got ${result.state}`);
  return result.head;
}

/** The sample request with header values replaced (null removes the header) or lines added. */
function sampleWith(
  changes: Record<string, string | null>,
  { startLine = 'GET /chat HTTP/1.1', extra = [] as string[] } = {},
): RequestHead {
  const lines = [startLine];
  for (const line of SAMPLE_REQUEST.slice(1)) {
    const name = line.slice(0, line.indexOf(':'));
    const change = changes[name];
    if (change === undefined) lines.push(line);
    else if (change !== null) lines.push(`${name}: ${change}`);
  }
  return parseRequest(head([...lines, ...extra]));
}

function finding(findings: readonly HandshakeFinding[], rule: string): HandshakeFinding {
  const found = findings.find((f) => f.rule === rule);
  if (!found) throw new Error(`no finding ${rule}`);
  return found;
}

function failed(findings: readonly HandshakeFinding[]): string[] {
  return findings.filter((f) => !f.ok).map((f) => f.rule);
}

function errorOf(result: HeadParseResult) {
  if (result.state !== 'error') throw new Error(`expected an error, got ${result.state}`);
  return result;
}

function feedBytewise(parser: HttpHeadParser<'request' | 'response'>, bytes: Uint8Array) {
  for (let i = 0; i < bytes.length; i++) {
    const result = parser.push(bytes.subarray(i, i + 1));
    if (result.state !== 'need-more') return { result, consumed: i + 1 };
  }
  return { result: { state: 'need-more' } as const, consumed: bytes.length };
}

describe('HttpHeadParser', () => {
  it('parses the RFC 6455 §1.2 request line and fields, keeping names, values and offsets (RFC 9112 §3, §5)', () => {
    const text = head(SAMPLE_REQUEST);
    const result = parse('request', text);
    expect(result.state).toBe('complete');
    if (result.state !== 'complete') return;
    expect(result.headLength).toBe(encode(text).length);
    expect(result.rest).toHaveLength(0);
    const { method, target, version, headers, notes } = result.head;
    expect({ method, target, version }).toEqual({
      method: 'GET',
      target: '/chat',
      version: 'HTTP/1.1',
    });
    expect(notes).toEqual([]);
    expect(headers).toHaveLength(7);
    expect(headers[0]).toEqual({
      name: 'Host',
      lowerName: 'host',
      value: 'server.example.com',
      byteOffset: 'GET /chat HTTP/1.1\r\n'.length,
    });
    for (const field of headers) {
      expect(text.slice(field.byteOffset)).toMatch(new RegExp(`^${field.name}: `));
    }
    expect(getHeader(result.head, 'SEC-WEBSOCKET-KEY')).toBe(SAMPLE_KEY);
  });

  it('trims whitespace around a field value but keeps it inside (RFC 9112 §5)', () => {
    const request = parseRequest(head(['GET / HTTP/1.1', 'X-A: \t a  b \t', 'X-B:', 'X-C:c']));
    expect(request.headers.map((f) => f.value)).toEqual(['a  b', '', 'c']);
  });

  it('joins repeated fields with ", " in order (RFC 9110 §5.3)', () => {
    const request = parseRequest(
      head(['GET / HTTP/1.1', 'Connection: keep-alive', 'connection: Upgrade']),
    );
    expect(getHeader(request, 'Connection')).toBe('keep-alive, Upgrade');
    expect(getHeader(request, 'Upgrade')).toBeUndefined();
  });

  it('hands back the bytes after the blank line, e.g. a frame sent right after the 101 (RFC 6455 §4.2.2)', () => {
    const frame = [0x81, 0x02, 0x68, 0x69];
    const bytes = new Uint8Array([...encode(head(SAMPLE_RESPONSE)), ...frame]);
    const result = parse('response', bytes);
    expect(result.state).toBe('complete');
    if (result.state !== 'complete') return;
    expect(result.headLength).toBe(bytes.length - frame.length);
    expect([...result.rest]).toEqual(frame);
  });

  it('finds the end of the head when fed one byte at a time (RFC 9112 §2.2)', () => {
    const bytes = new Uint8Array([...encode(head(SAMPLE_REQUEST)), 0x81]);
    const { result, consumed } = feedBytewise(new HttpHeadParser({ kind: 'request' }), bytes);
    expect(result.state).toBe('complete');
    expect(consumed).toBe(bytes.length - 1);
  });

  it('accepts bare LF line endings with one non-fatal note (RFC 9112 §2.2)', () => {
    const request = parseRequest(head(SAMPLE_REQUEST, '\n'));
    expect(validateUpgradeRequest(request).every((f) => f.ok)).toBe(true);
    expect(request.notes).toHaveLength(1);
    expect(request.notes[0]).toMatchObject({
      rule: 'http-bare-lf',
      section: 'RFC 9112 §2.2',
      byteOffset: SAMPLE_REQUEST[0]?.length,
      fatal: false,
      closeCode: null,
    });
  });

  it('rejects a bare CR inside a line with 400 (RFC 9112 §2.2)', () => {
    const error = errorOf(parse('request', head(['GET / HTTP/1.1', 'X-A: a\rb'])));
    expect(error.status).toBe(400);
    expect(error.problem).toMatchObject({ rule: 'http-bare-cr', byteOffset: 22, fatal: true });
  });

  it('ignores empty lines before the request-line (RFC 9112 §2.2)', () => {
    expect(parseRequest(`\r\n${head(SAMPLE_REQUEST)}`).method).toBe('GET');
  });

  it('rejects obs-fold in a request with 400 (RFC 9112 §5.2)', () => {
    const text = head(['GET / HTTP/1.1', 'X-Long: first', '  second']);
    const error = errorOf(parse('request', text));
    expect(error.status).toBe(400);
    expect(error.problem).toMatchObject({
      rule: 'http-obs-fold',
      section: 'RFC 9112 §5.2',
      byteOffset: text.indexOf('  second'),
    });
  });

  it('unfolds obs-fold in a response into one value, with a note (RFC 9112 §5.2)', () => {
    const response = parseResponse(head([...SAMPLE_RESPONSE, 'X-Long: first', '\t second']));
    expect(getHeader(response, 'x-long')).toBe('first second');
    expect(response.notes.map((n) => n.rule)).toEqual(['http-obs-fold']);
  });

  it('rejects whitespace between a field name and the colon with 400 (RFC 9112 §5.1)', () => {
    const text = head(['GET / HTTP/1.1', 'Host : example.com']);
    const error = errorOf(parse('request', text));
    expect(error.status).toBe(400);
    expect(error.problem).toMatchObject({
      rule: 'http-whitespace-before-colon',
      section: 'RFC 9112 §5.1',
      byteOffset: text.indexOf(' :'),
    });
  });

  it.each([
    ['a space inside', 'X Y: z'],
    ['a non-token character', 'X(Y): z'],
    ['an empty name', ': z'],
  ])('rejects a field name with %s with 400 (RFC 9110 §5.1)', (_, line) => {
    const error = errorOf(parse('request', head(['GET / HTTP/1.1', line])));
    expect(error.status).toBe(400);
    expect(error.problem.rule).toBe('http-field-name-invalid');
    expect(error.problem.section).toBe('RFC 9110 §5.1');
  });

  it('rejects a field line without a colon with 400 (RFC 9112 §5)', () => {
    const error = errorOf(parse('request', head(['GET / HTTP/1.1', 'Host example.com'])));
    expect(error.problem.rule).toBe('http-field-missing-colon');
  });

  it.each([
    'GET  /chat HTTP/1.1',
    'GET /chat',
    'GET /chat http/1.1',
    'GET /chat HTTP/1.10',
    'G(T /chat HTTP/1.1',
    'HTTP/1.1 101 Switching Protocols',
  ])('rejects the request-line %j with 400 (RFC 9112 §3)', (line) => {
    const error = errorOf(parse('request', head([line, 'Host: a'])));
    expect(error.status).toBe(400);
    expect(error.problem).toMatchObject({ rule: 'http-request-line-invalid', byteOffset: 0 });
  });

  it.each([
    ['HTTP/1.1 101 Switching Protocols', 101, 'Switching Protocols'],
    ['HTTP/1.1 404 ', 404, ''],
    ['HTTP/1.1 204', 204, ''],
  ])('parses the status-line %j (RFC 9112 §4)', (line, status, reason) => {
    expect(parseResponse(head([line]))).toMatchObject({ version: 'HTTP/1.1', status, reason });
  });

  it.each(['HTTP/1.1 1010 Too long', 'HTTP/1.1', 'GET / HTTP/1.1'])(
    'rejects the status-line %j (RFC 9112 §4)',
    (line) => {
      expect(errorOf(parse('response', head([line]))).problem.rule).toBe(
        'http-status-line-invalid',
      );
    },
  );

  it('answers 431 as soon as the head passes maxHeaderBytes, before the rest arrives (RFC 6585 §5)', () => {
    const bytes = encode(head(['GET / HTTP/1.1', `X-Big: ${'a'.repeat(20_000)}`]));
    const { result, consumed } = feedBytewise(new HttpHeadParser({ kind: 'request' }), bytes);
    const error = errorOf(result);
    expect(error.status).toBe(431);
    expect(error.problem).toMatchObject({ rule: 'http-head-too-large', section: 'RFC 6585 §5' });
    expect(consumed).toBe(8193);
  });

  it('accepts a head of exactly maxHeaderBytes and refuses one byte more (RFC 6585 §5)', () => {
    const text = head(['GET / HTTP/1.1', 'X: a']);
    const size = encode(text).length;
    expect(
      new HttpHeadParser({ kind: 'request', maxHeaderBytes: size }).push(encode(text)).state,
    ).toBe('complete');
    const over = new HttpHeadParser({ kind: 'request', maxHeaderBytes: size - 1 });
    expect(errorOf(over.push(encode(text))).status).toBe(431);
  });

  it('answers 431 at header field number maxHeaders + 1, before the blank line arrives (RFC 6585 §5)', () => {
    const fields = Array.from({ length: 150 }, (_, i) => `X-${i}: ${i}`);
    const text = head(['GET / HTTP/1.1', ...fields]);
    const { result, consumed } = feedBytewise(
      new HttpHeadParser({ kind: 'request' }),
      encode(text),
    );
    const error = errorOf(result);
    expect(error.status).toBe(431);
    expect(error.problem).toMatchObject({
      rule: 'http-too-many-headers',
      byteOffset: text.indexOf('X-100:'),
    });
    expect(consumed).toBe(text.indexOf('X-101:'));
  });

  it('keeps answering with the same error once it failed', () => {
    const parser = new HttpHeadParser({ kind: 'request' });
    const first = parser.push(encode('GET  / HTTP/1.1\r\n'));
    expect(parser.push(encode('Host: a\r\n\r\n'))).toBe(first);
  });

  it('throws when pushed bytes after the head completed (a programmer error)', () => {
    const parser = new HttpHeadParser({ kind: 'request' });
    parser.push(encode(head(SAMPLE_REQUEST)));
    expect(() => parser.push(new Uint8Array([0x81]))).toThrow(/complete/);
  });

  it('gives the same result for any chunking of a valid head (property)', () => {
    const tchar = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/;
    const headArb = fc.record({
      method: fc.stringMatching(tchar),
      target: fc.stringMatching(/^\/[!-~]{0,20}$/),
      fields: fc.array(
        fc.tuple(
          fc.stringMatching(tchar),
          fc.stringMatching(/^([!-~\x80-\xff]([ \t!-~]{0,20}[!-~])?)?$/),
        ),
        { maxLength: 12 },
      ),
      eol: fc.constantFrom('\r\n', '\n'),
      tail: fc.uint8Array({ maxLength: 16 }),
    });
    fc.assert(
      fc.property(headArb, fc.array(fc.nat(), { maxLength: 20 }), (h, cuts) => {
        const lines = [
          `${h.method} ${h.target} HTTP/1.1`,
          ...h.fields.map(([n, v]) => `${n}: ${v}`),
        ];
        const text = head(lines, h.eol);
        const headBytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
        const bytes = new Uint8Array([...headBytes, ...h.tail]);
        const whole = parse('request', bytes);
        expect(whole.state).toBe('complete');
        if (whole.state !== 'complete') return;
        expect(whole.head.headers.map((f) => [f.name, f.value])).toEqual(h.fields);

        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        for (const chunks of [split(bytes, points), split(bytes, [...bytes.keys()])]) {
          const parser = new HttpHeadParser({ kind: 'request' });
          let result: HeadParseResult = { state: 'need-more' };
          let used = 0;
          while (result.state === 'need-more' && used < chunks.length) {
            result = parser.push(chunks[used++] ?? new Uint8Array());
          }
          expect(result.state).toBe('complete');
          if (result.state !== 'complete') return;
          expect(result.head).toEqual(whole.head);
          expect(result.headLength).toBe(headBytes.length);
          const after = [...result.rest, ...chunks.slice(used).flatMap((c) => [...c])];
          expect(after).toEqual([...h.tail]);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on random bytes or mutated requests and always ends in need-more, complete or error (property)', async () => {
    const valid = [...encode(head(SAMPLE_REQUEST))];
    const mutation = fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), fc.nat(255));
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.array(mutation, { maxLength: 8 }).map((mutations) => mutate(valid, mutations)),
    );
    const options = fc.record({
      kind: fc.constantFrom('request' as const, 'response' as const),
      maxHeaderBytes: fc.integer({ min: 1, max: 400 }),
      maxHeaders: fc.integer({ min: 0, max: 10 }),
    });
    await fc.assert(
      fc.asyncProperty(
        input,
        options,
        fc.array(fc.nat(), { maxLength: 10 }),
        async (bytes, opts, cuts) => {
          const parser = new HttpHeadParser(opts);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort(
            (a, b) => a - b,
          );
          let result: HeadParseResult = { state: 'need-more' };
          for (const chunk of split(bytes, points)) {
            result = parser.push(chunk);
            if (result.state === 'complete') break;
          }
          expect(['need-more', 'complete', 'error']).toContain(result.state);
          if (result.state === 'error') {
            expect([400, 431]).toContain(result.status);
            expect(result.problem.fatal).toBe(true);
            expect(result.problem.byteOffset).toBeLessThanOrEqual(bytes.length);
          }
          if (result.state === 'complete') {
            expect(result.headLength).toBeLessThanOrEqual(opts.maxHeaderBytes);
            expect(result.head.headers.length).toBeLessThanOrEqual(opts.maxHeaders);
          }
          if (result.state === 'complete' && 'method' in result.head) {
            const findings = validateUpgradeRequest(result.head);
            await buildServerResponse(result.head, findings);
          }
          if (result.state === 'complete' && 'status' in result.head) {
            await validateServerResponse(result.head, { key: SAMPLE_KEY, protocols: ['chat'] });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('validateUpgradeRequest', () => {
  it("holds every rule for RFC 6455 §1.2's sample request (RFC 6455 §4.2.1)", () => {
    const findings = validateUpgradeRequest(parseRequest(head(SAMPLE_REQUEST)));
    expect(failed(findings)).toEqual([]);
    expect(findings.map((f) => f.rule)).toEqual([
      'request-method-get',
      'request-http-version',
      'request-target',
      'request-host',
      'request-upgrade',
      'request-connection',
      'request-key',
      'request-version',
      'request-origin',
      'request-protocols',
      'request-extensions',
    ]);
    for (const f of findings) {
      expect(f.section).toMatch(/^RFC \d+ §/);
      expect(f.explanation.length).toBeGreaterThan(20);
    }
    expect(finding(findings, 'request-protocols').values).toEqual(['chat', 'superchat']);
    expect(finding(findings, 'request-origin')).toMatchObject({
      informational: true,
      got: 'http://example.com',
    });
  });

  it.each<[string, RequestHead, string, number]>([
    // Plain HTTP to a WebSocket endpoint: 426 names what would work (RFC 9110 §15.5.22).
    ['Upgrade is missing', sampleWith({ Upgrade: null }), 'request-upgrade', 426],
    ['Upgrade is not websocket', sampleWith({ Upgrade: 'h2c' }), 'request-upgrade', 400],
    [
      'Connection lacks the Upgrade token',
      sampleWith({ Connection: 'keep-alive' }),
      'request-connection',
      400,
    ],
    ['Connection is missing', sampleWith({ Connection: null }), 'request-connection', 400],
    ['Sec-WebSocket-Key is missing', sampleWith({ 'Sec-WebSocket-Key': null }), 'request-key', 400],
    ['Sec-WebSocket-Key is short', sampleWith({ 'Sec-WebSocket-Key': 'abc' }), 'request-key', 400],
    [
      'Sec-WebSocket-Key appears twice',
      sampleWith({}, { extra: [`Sec-WebSocket-Key: ${SAMPLE_KEY}`] }),
      'request-key',
      400,
    ],
    [
      'the method is POST',
      sampleWith({}, { startLine: 'POST /chat HTTP/1.1' }),
      'request-method-get',
      400,
    ],
    [
      'the version is HTTP/1.0',
      sampleWith({}, { startLine: 'GET /chat HTTP/1.0' }),
      'request-http-version',
      400,
    ],
    ['Host is missing', sampleWith({ Host: null }), 'request-host', 400],
    ['Host appears twice', sampleWith({}, { extra: ['Host: evil.example'] }), 'request-host', 400],
    [
      'the target has a fragment',
      sampleWith({}, { startLine: 'GET /chat#x HTTP/1.1' }),
      'request-target',
      400,
    ],
    [
      'the target is not a path',
      sampleWith({}, { startLine: 'GET * HTTP/1.1' }),
      'request-target',
      400,
    ],
  ])('answers 400 when %s (RFC 6455 §4.2.1)', (_, request, rule, status) => {
    const findings = validateUpgradeRequest(request);
    expect(failed(findings)).toEqual([rule]);
    expect(finding(findings, rule).status).toBe(status);
  });

  it('accepts Connection: keep-alive, Upgrade and tokens in any case (RFC 9110 §7.6.1, RFC 6455 §4.2.1)', () => {
    const request = sampleWith({ Connection: 'keep-alive, upgrade', Upgrade: 'WebSocket' });
    expect(failed(validateUpgradeRequest(request))).toEqual([]);
  });

  it('explains how many bytes a short key decodes to (RFC 6455 §4.1)', () => {
    const key = finding(
      validateUpgradeRequest(sampleWith({ 'Sec-WebSocket-Key': 'abc' })),
      'request-key',
    );
    expect(key.explanation).toBe(
      "The Sec-WebSocket-Key 'abc' decodes to 2 bytes; RFC 6455 §4.1 requires a base64 value of 16 random bytes, 24 characters ending in ==.",
    );
  });

  it('tells a key without padding from a key that is not base64 (RFC 6455 §4.1)', () => {
    const unpadded = sampleWith({ 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ' });
    expect(finding(validateUpgradeRequest(unpadded), 'request-key').explanation).toMatch(
      /decodes to 16 bytes but lacks its == padding/,
    );
    const garbage = sampleWith({ 'Sec-WebSocket-Key': 'not a key!' });
    expect(finding(validateUpgradeRequest(garbage), 'request-key').explanation).toMatch(
      /is not base64/,
    );
  });

  it('answers 426 with Sec-WebSocket-Version: 13 when the version is 8 (RFC 6455 §4.2.2)', async () => {
    const request = sampleWith({ 'Sec-WebSocket-Version': '8' });
    const findings = validateUpgradeRequest(request);
    expect(failed(findings)).toEqual(['request-version']);
    expect(finding(findings, 'request-version')).toMatchObject({
      status: 426,
      expected: '13',
      got: '8',
    });
    const response = await buildServerResponse(request, findings);
    expect(response.head.status).toBe(426);
    expect(response.head.reason).toBe('Upgrade Required');
    expect(getHeader(response.head, 'Sec-WebSocket-Version')).toBe('13');
    expect(getHeader(response.head, 'Upgrade')).toBe('websocket');
    expect(response.accept).toBeNull();
  });

  it.each([
    ['missing', sampleWith({ 'Sec-WebSocket-Version': null })],
    ['sent twice', sampleWith({}, { extra: ['Sec-WebSocket-Version: 13'] })],
  ])('answers 426 when Sec-WebSocket-Version is %s (RFC 6455 §4.2.2, §11.3.5)', (_, request) => {
    expect(finding(validateUpgradeRequest(request), 'request-version')).toMatchObject({
      ok: false,
      status: 426,
    });
  });

  it('notes a missing Origin without failing: the client is not a browser (RFC 6455 §4.2.1, §10.2)', () => {
    const origin = finding(validateUpgradeRequest(sampleWith({ Origin: null })), 'request-origin');
    expect(origin).toMatchObject({ ok: true, informational: true });
    expect(origin.explanation).toMatch(/not a browser/);
  });

  it.each([
    ['lists a subprotocol twice', 'chat, chat'],
    ['holds a non-token', 'chat, "super"'],
    ['is only 32,000 spaces', ' '.repeat(32_000)],
    ['has 32,000 spaces inside an element', `chat${' '.repeat(32_000)}x`],
  ])('answers 400 when Sec-WebSocket-Protocol %s (RFC 6455 §4.1)', (_, value) => {
    const lines = SAMPLE_REQUEST.map((l) =>
      l.startsWith('Sec-WebSocket-Protocol:') ? `Sec-WebSocket-Protocol: ${value}` : l,
    );
    const started = performance.now();
    const findings = validateUpgradeRequest(parseRequest(head(lines), 65_536));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(failed(findings)).toEqual(['request-protocols']);
    expect(finding(findings, 'request-protocols').status).toBe(400);
  });

  it('lists offered extensions by name and answers 400 to a malformed offer (RFC 6455 §9.1)', () => {
    const offer = 'permessage-deflate; client_max_window_bits, x-webkit-deflate-frame';
    const ok = finding(
      validateUpgradeRequest(sampleWith({}, { extra: [`Sec-WebSocket-Extensions: ${offer}`] })),
      'request-extensions',
    );
    expect(ok).toMatchObject({
      ok: true,
      values: ['permessage-deflate', 'x-webkit-deflate-frame'],
    });
    const bad = finding(
      validateUpgradeRequest(sampleWith({}, { extra: ['Sec-WebSocket-Extensions: ;x'] })),
      'request-extensions',
    );
    expect(bad).toMatchObject({ ok: false, status: 400 });
  });
});

describe('parseExtensions', () => {
  it('reads names, bare parameters, token and quoted values (RFC 6455 §9.1)', () => {
    expect(
      parseExtensions(
        'permessage-deflate; client_max_window_bits; server_max_window_bits="10", foo',
      ),
    ).toEqual([
      {
        name: 'permessage-deflate',
        params: [
          { name: 'client_max_window_bits', value: null },
          { name: 'server_max_window_bits', value: '10' },
        ],
      },
      { name: 'foo', params: [] },
    ]);
  });

  it.each(['', ' , ', 'a;', 'a; b=', 'a; b="1', 'a; b="x y"', 'a b'])(
    'rejects %j (RFC 6455 §9.1)',
    (value) => {
      expect(parseExtensions(value)).toBeNull();
    },
  );
});

describe('buildServerResponse', () => {
  it("writes RFC 6455 §1.2's 101 response byte for byte, selecting chat (RFC 6455 §4.2.2)", async () => {
    const request = parseRequest(head(SAMPLE_REQUEST));
    const response = await buildServerResponse(request, validateUpgradeRequest(request), {
      protocol: 'chat',
    });
    expect(decode(response.bytes)).toBe(head(SAMPLE_RESPONSE));
    expect(response.text).toBe(head(SAMPLE_RESPONSE));
    expect(response.accept?.sha1Hex).toBe('b37a4f2cc0624f1690f64606cf385945b2bec4ea');
    expect(response.head).toEqual(parseResponse(head(SAMPLE_RESPONSE)));
  });

  it('sends no Sec-WebSocket-Protocol unless one is selected (RFC 6455 §4.2.2)', async () => {
    const request = parseRequest(head(SAMPLE_REQUEST));
    const response = await buildServerResponse(request, validateUpgradeRequest(request));
    expect(getHeader(response.head, 'Sec-WebSocket-Protocol')).toBeUndefined();
  });

  it('refuses to select a subprotocol the client did not offer (a programmer error)', async () => {
    const request = parseRequest(head(SAMPLE_REQUEST));
    await expect(
      buildServerResponse(request, validateUpgradeRequest(request), { protocol: 'mqtt' }),
    ).rejects.toThrow(RangeError);
  });

  it('answers 400 with Connection: close and a body that explains each failure (RFC 6455 §4.2.1)', async () => {
    const request = sampleWith({ 'Sec-WebSocket-Key': null, 'Sec-WebSocket-Version': '8' });
    const findings = validateUpgradeRequest(request);
    const response = await buildServerResponse(request, findings);
    expect(response.head.status).toBe(400);
    expect(getHeader(response.head, 'Connection')).toBe('close');
    expect(getHeader(response.head, 'Sec-WebSocket-Version')).toBe('13');
    expect(response.body.split('\n').filter(Boolean)).toHaveLength(2);
    const parsed = parse('response', response.bytes);
    expect(parsed.state).toBe('complete');
    if (parsed.state !== 'complete') return;
    expect(Number(getHeader(parsed.head, 'Content-Length'))).toBe(parsed.rest.length);
    expect(decode(parsed.rest)).toBe(response.body);
  });
});

describe('validateServerResponse', () => {
  it("accepts RFC 6455 §1.2's sample response to the sample key (RFC 6455 §4.1)", async () => {
    const findings = await validateServerResponse(parseResponse(head(SAMPLE_RESPONSE)), {
      key: SAMPLE_KEY,
      protocols: ['chat', 'superchat'],
    });
    expect(failed(findings)).toEqual([]);
    expect(findings.map((f) => f.rule)).toEqual([
      'response-status',
      'response-upgrade',
      'response-connection',
      'response-accept',
      'response-extensions',
      'response-protocol',
    ]);
  });

  it('fails a wrong Sec-WebSocket-Accept, showing expected and got (RFC 6455 §4.1)', async () => {
    const response = parseResponse(
      head(
        SAMPLE_RESPONSE.map((l) =>
          l.replace('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'b37a4f2cc0624f1690f64606cf385945b2bec4ea'),
        ),
      ),
    );
    const findings = await validateServerResponse(response, {
      key: SAMPLE_KEY,
      protocols: ['chat'],
    });
    expect(failed(findings)).toEqual(['response-accept']);
    const accept = finding(findings, 'response-accept');
    expect(accept).toMatchObject({
      expected: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
      got: 'b37a4f2cc0624f1690f64606cf385945b2bec4ea',
    });
    expect(accept.explanation).toMatch(/SHA-1 in hex/);
  });

  it('explains a 426 with the versions the server speaks and stops there (RFC 6455 §4.1, §4.4)', async () => {
    const response = parseResponse(
      head(['HTTP/1.1 426 Upgrade Required', 'Sec-WebSocket-Version: 13, 8, 7']),
    );
    const findings = await validateServerResponse(response, { key: SAMPLE_KEY });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: 'response-status', ok: false, got: '426' });
    expect(findings[0]?.explanation).toMatch(/Sec-WebSocket-Version: 13, 8, 7/);
  });

  it.each<[string, string[], string]>([
    ['Upgrade is not websocket', ['Upgrade: h2c'], 'response-upgrade'],
    ['Connection lacks Upgrade', ['Connection: keep-alive'], 'response-connection'],
    ['the subprotocol was not offered', ['Sec-WebSocket-Protocol: mqtt'], 'response-protocol'],
    [
      'two subprotocols are named',
      ['Sec-WebSocket-Protocol: chat, superchat'],
      'response-protocol',
    ],
    [
      'the extension was not offered',
      ['Sec-WebSocket-Extensions: permessage-deflate'],
      'response-extensions',
    ],
  ])('fails the connection when %s (RFC 6455 §4.1)', async (_, replacements, rule) => {
    const lines = SAMPLE_RESPONSE.slice(0, 4);
    for (const replacement of replacements) {
      const name = replacement.slice(0, replacement.indexOf(':'));
      const i = lines.findIndex((l) => l.startsWith(`${name}:`));
      if (i === -1) lines.push(replacement);
      else lines[i] = replacement;
    }
    const findings = await validateServerResponse(parseResponse(head(lines)), {
      key: SAMPLE_KEY,
      protocols: ['chat', 'superchat'],
    });
    expect(failed(findings)).toEqual([rule]);
    expect(finding(findings, rule).status).toBeUndefined();
  });
});

describe('a whole handshake', () => {
  it('round-trips: built request passes the server, built response passes the client, frames follow', async () => {
    const client = buildClientRequest({
      host: 'localhost:8080',
      path: '/echo?x=1',
      key: 'x3JJHMbDL1EzLkh9GBhXDw==',
      origin: 'http://localhost:8080',
      protocols: ['chat'],
      extensions: ['permessage-deflate; client_max_window_bits'],
    });
    const request = parseRequest(client.text);
    expect(request).toEqual(client.head);
    const findings = validateUpgradeRequest(request);
    expect(failed(findings)).toEqual([]);
    const server = await buildServerResponse(request, findings, { protocol: 'chat' });
    expect(getHeader(server.head, 'Sec-WebSocket-Accept')).toBe('HSmrc0sMlYUkAGmm5OPpG2HaGWk=');
    const parsed = parse('response', new Uint8Array([...server.bytes, 0x81, 0x00]));
    expect(parsed.state).toBe('complete');
    if (parsed.state !== 'complete') return;
    expect([...parsed.rest]).toEqual([0x81, 0x00]);
    const verdict = await validateServerResponse(parsed.head, {
      key: 'x3JJHMbDL1EzLkh9GBhXDw==',
      protocols: ['chat'],
      extensions: ['permessage-deflate; client_max_window_bits'],
    });
    expect(failed(verdict)).toEqual([]);
  });

  it('refuses to build a request whose header would carry CR or LF (a programmer error)', () => {
    expect(() =>
      buildClientRequest({ host: 'a\r\nX-Evil: 1', path: '/', key: SAMPLE_KEY }),
    ).toThrow(TypeError);
  });
});

describe('explainHeader', () => {
  it('explains each handshake header once, found by any spelling of its name', () => {
    expect(explainHeader('SEC-WEBSOCKET-ACCEPT')?.response).toMatch(/SHA-1/);
    expect(explainHeader('upgrade')).toMatchObject({ name: 'Upgrade' });
    expect(explainHeader('constructor')).toBeUndefined();
    expect(explainHeader('X-Unknown')).toBeUndefined();
  });
});

function split(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.slice(start, point));
    start = point;
  }
  return chunks;
}

function mutate(bytes: readonly number[], mutations: readonly [string, number, number][]) {
  const out = [...bytes];
  for (const [op, at, value] of mutations) {
    const i = at % (out.length + 1);
    if (op === 'set' && i < out.length) out[i] = value;
    else if (op === 'insert') out.splice(i, 0, value);
    else if (op === 'delete') out.splice(i, 1);
  }
  return Uint8Array.from(out);
}
