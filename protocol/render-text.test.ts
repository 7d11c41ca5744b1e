import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeAccept, isValidKey } from './accept.ts';
import {
  ANNOTATION_SCHEMA_VERSION,
  frameRecord,
  type HeaderRecord,
  type LabEvent,
  messageRecord,
  type Side,
  toHexString,
} from './annotations.ts';
import { closePayload, encodeFrame } from './frame-encoder.ts';
import { type FrameParserOptions, parseFrames } from './frame-parser.ts';
import { buildServerResponse, explainHeader, validateUpgradeRequest } from './handshake.ts';
import { getHeader, type HeaderField, HttpHeadParser, type RequestHead } from './http-head.ts';
import { closingSummary, type RenderOptions, renderEvent, visible } from './render-text.ts';
import type { Direction } from './types.ts';

// ---- events built from real parses ----------------------------------------------------------

const CONN = 7;
type Draft = LabEvent extends infer E
  ? E extends LabEvent
    ? Omit<E, 'v' | 'seq' | 't'>
    : never
  : never;
const stamp = (draft: Draft, seq = 1): LabEvent =>
  ({ v: ANNOTATION_SCHEMA_VERSION, seq, t: 0, ...draft }) as LabEvent;

const hex = (text: string) =>
  Uint8Array.from((text.replace(/\s+/g, '').match(/../g) ?? []).map((p) => Number.parseInt(p, 16)));
const encode = (text: string) => new TextEncoder().encode(text);

/** What the tap emits for these bytes: frames, messages, stream problems, close frames. */
function wireEvents(
  bytes: Uint8Array,
  direction: Direction,
  options: Partial<FrameParserOptions> = {},
  initiated = true,
): LabEvent[] {
  const events: LabEvent[] = [];
  for (const event of parseFrames(bytes, { direction, ...options }).events) {
    if (event.kind === 'frame') {
      events.push(stamp({ type: 'frame', conn: CONN, direction, frame: frameRecord(event.frame) }));
      if (event.frame.opcode === 0x8 && event.frame.complete) {
        events.push(
          stamp({
            type: 'close-frame',
            conn: CONN,
            direction,
            code: event.frame.close?.code ?? null,
            reason: event.frame.close?.reason ?? '',
            initiated,
          }),
        );
      }
    } else if (event.kind === 'message') {
      events.push(
        stamp({ type: 'message', conn: CONN, direction, message: messageRecord(event.message) }),
      );
    } else {
      events.push(stamp({ type: 'problem', conn: CONN, direction, problem: event.problem }));
    }
  }
  return events;
}

function only<T extends LabEvent['type']>(
  events: LabEvent[],
  type: T,
): Extract<LabEvent, { type: T }> {
  const found = events.filter((e) => e.type === type);
  expect(found).toHaveLength(1);
  return found[0] as Extract<LabEvent, { type: T }>;
}

function headerRecords(headers: readonly HeaderField[], side: 'request' | 'response') {
  return headers.map((field): HeaderRecord => {
    const explanation = explainHeader(field.name)?.[side];
    return {
      name: field.name,
      value: field.value,
      byteOffset: field.byteOffset,
      ...(explanation === undefined ? {} : { explanation }),
    };
  });
}

function parseRequest(lines: readonly string[]): { head: RequestHead; length: number } {
  const result = new HttpHeadParser({ kind: 'request' }).push(
    encode(`${lines.join('\r\n')}\r\n\r\n`),
  );
  if (result.state !== 'complete') throw new Error(`request did not parse: ${result.state}`);
  return { head: result.head, length: result.headLength };
}

async function handshake(lines: readonly string[]): Promise<LabEvent[]> {
  const { head, length } = parseRequest(lines);
  const findings = validateUpgradeRequest(head);
  const key = getHeader(head, 'sec-websocket-key');
  let accept = null;
  if (key !== undefined && isValidKey(key)) {
    const { bytes, ...rest } = await computeAccept(key);
    accept = { ...rest, bytesHex: toHexString(bytes) };
  }
  const request = stamp({
    type: 'handshake-request',
    conn: CONN,
    route: 'echo',
    streamOffset: 0,
    method: head.method,
    target: head.target,
    version: head.version,
    headers: headerRecords(head.headers, 'request'),
    length,
    findings,
    accept,
  });
  const answer = await buildServerResponse(head, findings);
  const parsed = new HttpHeadParser({ kind: 'response' }).push(answer.bytes);
  if (parsed.state !== 'complete') throw new Error('response did not parse');
  const response = stamp({
    type: 'handshake-response',
    conn: CONN,
    status: parsed.head.status,
    reason: parsed.head.reason,
    headers: headerRecords(parsed.head.headers, 'response'),
    streamOffset: 0,
    length: parsed.headLength,
  });
  return [request, response];
}

const plain: RenderOptions = { color: false };
const brief: RenderOptions = { color: false, verbosity: 'normal' };
const colored: RenderOptions = { color: true };
const text = (event: LabEvent, options: RenderOptions = plain) =>
  renderEvent(event, options).join('\n');
// biome-ignore lint/suspicious/noControlCharactersInRegex: SGR sequences start with ESC.
const SGR = /\x1b\[[0-9;]*m/g;
const stripSgr = (line: string) => line.replace(SGR, '');

// RFC 6455 §1.2 and §1.3: the sample handshake and its accept value.
const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_REQUEST = [
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${SAMPLE_KEY}`,
  'Sec-WebSocket-Version: 13',
];

// ---- handshake -----------------------------------------------------------------------------

describe('handshake events', () => {
  it('shows the request line, each header with its explanation, and the accept steps (RFC 6455 §4.2.2)', async () => {
    const [request] = await handshake(SAMPLE_REQUEST);
    const lines = renderEvent(request as LabEvent, plain);
    expect(lines[0]).toMatch(/^\[7\] C→S handshake request {2}GET \/chat HTTP\/1\.1/);
    const upgrade = lines.findIndex((l) => l.trim() === 'Upgrade: websocket');
    expect(upgrade).toBeGreaterThan(0);
    expect(lines[upgrade + 1]?.trim()).toBe(explainHeader('upgrade')?.request);
    expect(lines.some((l) => l.trim() === `Sec-WebSocket-Key: ${SAMPLE_KEY}`)).toBe(true);
    expect(lines.some((l) => /✓ 10 of 10 rules hold \(RFC 6455 §4\.2\.1\)/.test(l))).toBe(true);
    const all = lines.join('\n');
    expect(all).toContain(`key + GUID  ${SAMPLE_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`);
    expect(all).toContain('SHA-1       b37a4f2cc0624f1690f64606cf385945b2bec4ea');
    expect(all).toContain('base64      s3pPLMBiTxaQ9kYGzzhZRbK+xOo= = Sec-WebSocket-Accept');
  });

  it('keeps only headers and the accept value at normal verbosity', async () => {
    const [request] = await handshake(SAMPLE_REQUEST);
    const all = text(request as LabEvent, brief);
    expect(all).toContain('Upgrade: websocket');
    expect(all).not.toContain(explainHeader('upgrade')?.request);
    expect(all).not.toContain('b37a4f2cc0624f1690f64606cf385945b2bec4ea');
    expect(all).toContain('accept  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('names each broken handshake rule with its section and the status the server answers', async () => {
    const [request, response] = await handshake([
      'GET /echo HTTP/1.1',
      'Host: 127.0.0.1:6455',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: abc',
      'Sec-WebSocket-Version: 8',
    ]);
    const lines = renderEvent(request as LabEvent, plain);
    expect(lines).toContain('  ✓ 8 of 10 rules hold (RFC 6455 §4.2.1)');
    expect(lines).toContain('  ✗ request-key → answer 400 · RFC 6455 §4.2.1');
    expect(lines).toContain('  ✗ request-version → answer 426 · RFC 6455 §4.2.1');
    const explanation = lines[lines.indexOf('  ✗ request-key → answer 400 · RFC 6455 §4.2.1') + 1];
    expect(explanation).toMatch(/Sec-WebSocket-Key 'abc' decodes to 2 bytes/);
    expect(lines.join('\n')).not.toContain('accept ');
    expect(text(response as LabEvent)).toMatch(/^\[7\] S→C handshake response {2}400 Bad Request/);
  });

  it('shows the response status and its headers with their meaning', async () => {
    const [, response] = await handshake(SAMPLE_REQUEST);
    const lines = renderEvent(response as LabEvent, plain);
    expect(lines[0]).toMatch(
      /^\[7\] S→C handshake response {2}101 Switching Protocols {2}\(\d+ bytes\)$/,
    );
    const accept = lines.indexOf('  Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(accept).toBeGreaterThan(0);
    expect(lines[accept + 1]?.trim()).toBe(explainHeader('sec-websocket-accept')?.response);
  });
});

// ---- frames --------------------------------------------------------------------------------

describe('frame events', () => {
  // RFC 6455 §5.7: a single-frame masked text message "Hello".
  const hello = wireEvents(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), 'client-to-server');

  it('sums a masked text frame up on one line: direction, opcode, FIN, MASK, length, key, text', () => {
    const [summary] = renderEvent(only(hello, 'frame'), plain);
    expect(summary).toBe(
      '[7] C→S text frame FIN=1 MASK=1 len=5 (7-bit) key=37fa213d  "Hello" (masked on the wire)',
    );
  });

  it('lays the header out bit by bit, each field labelled (RFC 6455 §5.2)', () => {
    const lines = renderEvent(only(hello, 'frame'), plain).map((l) => l.replace(/ +/g, ' '));
    expect(lines.slice(1)).toEqual([
      ' byte 0 1 000 0001 FIN=1 RSV=000 opcode=0x1 text',
      ' byte 1 1 0000101 MASK=1 len=5 (7-bit)',
      ' key 37 fa 21 3d bytes 2-5; payload byte i is XORed with key byte i mod 4',
      ' payload 7f 9f 4d 51 58 → "Hello"',
    ]);
  });

  it('drops the bit layout at normal verbosity', () => {
    expect(renderEvent(only(hello, 'frame'), brief)).toHaveLength(1);
  });

  it('shows an unmasked server frame with its payload equal to the wire bytes', () => {
    const lines = renderEvent(
      only(wireEvents(hex('81 05 48 65 6c 6c 6f'), 'server-to-client'), 'frame'),
      plain,
    );
    expect(lines[0]).toBe('[7] S→C text frame FIN=1 MASK=0 len=5 (7-bit)  "Hello"');
    expect(lines.at(-1)?.replace(/ +/g, ' ')).toBe(' payload 48 65 6c 6c 6f = "Hello"');
  });

  it('says when a zero masking key leaves the wire bytes unmasked', () => {
    const bytes = encodeFrame({ opcode: 1, payload: 'Hi', maskingKey: new Uint8Array(4) });
    const [summary] = renderEvent(only(wireEvents(bytes, 'client-to-server'), 'frame'), plain);
    expect(summary).toContain(
      'key=00000000  "Hi" (key 00000000: the wire bytes equal the payload)',
    );
  });

  it('shows the 16-bit extended length bit by bit and cuts a long payload short', () => {
    // RFC 6455 §5.7: 256 bytes of binary data in a single unmasked message.
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    const events = wireEvents(encodeFrame({ opcode: 2, payload }), 'server-to-client');
    const lines = renderEvent(only(events, 'frame'), plain).map((l) => l.replace(/ +/g, ' '));
    expect(lines[0]).toBe(
      '[7] S→C binary frame FIN=1 MASK=0 len=256 (16-bit) 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … (256 bytes)',
    );
    expect(lines[2]).toBe(' byte 1 0 1111110 MASK=0 len=126 (16-bit length follows)');
    expect(lines[3]).toBe(' bytes 2-3 00000001 00000000 len=256');
    expect(lines[4]).toBe(' payload 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … (256 bytes)');
  });

  it('shows a 64-bit length in its eight bytes, and says how much of the payload was kept', () => {
    const payload = new Uint8Array(70_000).fill(0x41);
    const events = wireEvents(
      encodeFrame({ opcode: 1, payload, lengthForm: '64-bit', maskingKey: hex('01020304') }),
      'client-to-server',
      { maxPayload: 1 << 20 },
    );
    const lines = renderEvent(only(events, 'frame'), plain).map((l) => l.replace(/ +/g, ' '));
    expect(lines[0]).toMatch(
      /len=70000 \(64-bit\) key=01020304 "A{60}"… \(70000 bytes\) \(masked on the wire\)$/,
    );
    expect(lines[3]).toBe(
      ' bytes 2-9 00000000 00000000 00000000 00000000 00000000 00000001 00010001 01110000 len=70000',
    );
    expect(lines[4]).toMatch(/^ key 01 02 03 04 bytes 10-13;/);
  });

  it('colours the field that breaks a rule, and explains the rule with its close code (RFC 6455 §5.1)', () => {
    const events = wireEvents(hex('81 05 48 65 6c 6c 6f'), 'client-to-server');
    const frame = only(events, 'frame');
    const lines = renderEvent(frame, plain);
    expect(lines).toContain(
      '  ✗ client-frame-unmasked  close 1002 (Protocol Error) · RFC 6455 §5.1 · byte 1',
    );
    expect(lines.at(-1)?.trim()).toBe(frame.frame.problems[0]?.explanation);
    const red = renderEvent(frame, colored).join('\n');
    expect(red).toContain('\x1b[31mMASK=0\x1b[39m');
    expect(red).toContain('\x1b[31mclient-frame-unmasked\x1b[39m');
  });

  it('shows RSV1 as compression when permessage-deflate was negotiated (RFC 7692 §6)', () => {
    const bytes = encodeFrame({ opcode: 1, rsv1: true, payload: hex('f2 48 cd c9 c9 07 00') });
    const frame = only(
      wireEvents(bytes, 'server-to-client', { extensions: { rsv1: true } }),
      'frame',
    );
    const lines = renderEvent(frame, plain);
    expect(lines[0]).toContain('RSV=100');
    expect(lines[0]).toContain('f2 48 cd c9 c9 07 00');
    expect(lines[1]).toContain('(RSV1: compressed, RFC 7692)');
  });

  it('shows RSV1 without a negotiated extension as the protocol error it is', () => {
    const bytes = encodeFrame({ opcode: 1, rsv1: true, payload: 'x' });
    const lines = renderEvent(only(wireEvents(bytes, 'server-to-client'), 'frame'), plain);
    expect(lines.join('\n')).toMatch(/✗ rsv1-without-extension {2}close 1002/);
  });

  it('shows a binary ping payload as hex and a text one as text', () => {
    const binary = encodeFrame({ opcode: 9, payload: hex('00 ff 10') });
    expect(text(only(wireEvents(binary, 'server-to-client'), 'frame'), brief)).toMatch(
      /ping frame .* 00 ff 10$/,
    );
    const ascii = encodeFrame({ opcode: 9, payload: 'are you there?' });
    expect(text(only(wireEvents(ascii, 'server-to-client'), 'frame'), brief)).toMatch(
      /"are you there\?"$/,
    );
  });
});

describe('message, close, problem and connection events', () => {
  it('names the frames a fragmented message was assembled from (RFC 6455 §5.4)', () => {
    const bytes = new Uint8Array([
      ...encodeFrame({ opcode: 1, fin: false, payload: 'Hel' }),
      ...encodeFrame({ opcode: 9, payload: '' }),
      ...encodeFrame({ opcode: 0, payload: 'lo' }),
    ]);
    const message = only(wireEvents(bytes, 'server-to-client'), 'message');
    expect(text(message)).toBe('[7] S→C text message  5 bytes in 2 frames (frames 0, 2)  "Hello"');
  });

  it('explains the close code, its meaning, and who started the closing handshake', () => {
    const bytes = encodeFrame({ opcode: 8, payload: closePayload(1001, 'going'), mask: true });
    const started = renderEvent(only(wireEvents(bytes, 'client-to-server'), 'close-frame'), plain);
    expect(started[0]).toBe('[7] C→S close 1001 Going Away  reason "going"');
    expect(started[1]).toMatch(/The client starts the closing handshake/);
    expect(started[2]).toMatch(
      /^ {2}1001 Going Away: The endpoint is leaving.* \(RFC 6455 §7\.4\.1\)$/,
    );
    const answer = encodeFrame({ opcode: 8, payload: closePayload(1001, 'going') });
    const answered = renderEvent(
      only(wireEvents(answer, 'server-to-client', {}, false), 'close-frame'),
      plain,
    );
    expect(answered[1]).toMatch(/The server answers the client's close frame/);
  });

  it('says a close frame without a code is reported as 1005', () => {
    const bytes = encodeFrame({ opcode: 8 });
    const lines = renderEvent(only(wireEvents(bytes, 'server-to-client'), 'close-frame'), plain);
    expect(lines[0]).toBe('[7] S→C close no status code');
    expect(lines[2]).toMatch(/1005 No Status Received/);
  });

  it('shows a code that must never be sent in red, with the reason why (RFC 6455 §7.4.1)', () => {
    const event = stamp({
      type: 'close-frame',
      conn: CONN,
      direction: 'client-to-server',
      code: 1005,
      reason: '',
      initiated: true,
    });
    expect(text(event)).toMatch(/1005 No Status Received must never be sent in a close frame/);
    expect(text(event, colored)).toContain('\x1b[31m1005\x1b[39m');
  });

  it('shows a stream problem with its rule, section and byte offset', () => {
    const problem = only(wireEvents(hex('81'), 'server-to-client'), 'problem');
    const lines = renderEvent(problem, plain);
    expect(lines[0]).toBe('[7] S→C problem');
    expect(lines[1]).toBe('  ! header-cut-short  note · RFC 6455 §5.2 · byte 0');
    expect(lines[2]?.trim()).toBe(problem.problem.explanation);
  });

  it('shows a fatal problem with the close code it fails the connection with', () => {
    const events = wireEvents(encodeFrame({ opcode: 3, mask: true }), 'client-to-server');
    expect(text(only(events, 'frame'))).toContain(
      '✗ reserved-opcode  close 1002 (Protocol Error) · RFC 6455 §5.2 · byte 0',
    );
  });

  it('says which side sent a FIN', () => {
    const base = { type: 'fin', conn: CONN } as const;
    expect(text(stamp({ ...base, direction: 'client-to-server' }))).toBe(
      '[7] C→S FIN received: the client will send no more bytes (TCP half-close)',
    );
    expect(text(stamp({ ...base, direction: 'server-to-client' }))).toBe(
      '[7] S→C FIN sent: the server will send no more bytes (TCP half-close)',
    );
  });

  it('shows what a TLS handshake negotiated, and why one failed, with any control character escaped', () => {
    const tls = {
      type: 'tls' as const,
      conn: 4,
      version: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      alpn: 'http/1.1',
      servername: 'localhost',
      resumed: false,
      handshakeMs: 3.456,
      error: null,
    };
    expect(text(stamp(tls), { color: false, verbosity: 'normal' })).toBe(
      '[4] TLS TLSv1.3 TLS_AES_256_GCM_SHA384  (3.5 ms)\n  ALPN: http/1.1  SNI: localhost  full handshake',
    );
    expect(
      text(stamp({ ...tls, alpn: null, servername: null, resumed: true }), {
        color: false,
        verbosity: 'normal',
      }),
    ).toBe(
      '[4] TLS TLSv1.3 TLS_AES_256_GCM_SHA384  (3.5 ms)\n  ALPN: none offered  SNI: none  session resumed',
    );
    expect(text(stamp(tls))).toContain('read after decryption (RFC 8446 §5)');
    expect(
      text(
        stamp({
          ...tls,
          version: null,
          cipher: null,
          alpn: null,
          servername: 'evil\x1b[2J',
          error: 'The client refused\x1b[31m the certificate',
        }),
      ),
    ).toBe('[4] TLS handshake failed  (3.5 ms)\n  The client refused\\x1b[31m the certificate');
  });

  it('shows connection opened, socket closed with its error, and dropped events', () => {
    expect(
      text(
        stamp({
          type: 'connection-opened',
          openedAt: 0,
          conn: 3,
          client: { address: '::1', port: 50000 },
          server: { address: '::1', port: 6455 },
          tls: false,
        }),
      ),
    ).toBe('[3] connection opened  [::1]:50000 → [::1]:6455 (TCP)');
    expect(
      text(
        stamp({
          type: 'socket-closed',
          conn: 3,
          bytesIn: 1,
          bytesOut: 0,
          error: 'read ECONNRESET',
        }),
      ),
    ).toBe('[3] socket closed  1 byte in, 0 bytes out\n  error: read ECONNRESET');
    expect(text(stamp({ type: 'dropped', conn: 0, count: 12 }))).toBe(
      '[*] 12 events not shown: this view could not keep up',
    );
  });

  it('sums up who closed first at each level under socket-closed (RFC 6455 §7.1.1, §7.1.2)', () => {
    const closed = (closeFrameFirst: Side | null, finFirst: Side | null) =>
      text(
        stamp({
          type: 'socket-closed',
          conn: 4,
          bytesIn: 10,
          bytesOut: 8,
          error: null,
          closeFrameFirst,
          finFirst,
        }),
      );
    expect(closed('client', 'server')).toBe(
      '[4] socket closed  10 bytes in, 8 bytes out\n  client closed first (close frame), server sent the first FIN',
    );
    expect(closed('server', 'client')).toBe(
      "[4] socket closed  10 bytes in, 8 bytes out\n  server closed first (close frame), client sent the first FIN (the client's side waits in TIME_WAIT; RFC 6455 §7.1.1 asks the server to close first)",
    );
    expect(closed(null, 'client')).toContain(
      'no close frame (no closing handshake: an API reports 1006, RFC 6455 §7.1.5), client sent the first FIN',
    );
    expect(closed('server', null)).toContain(
      'server closed first (close frame), no FIN seen (the socket was cut)',
    );
    // A server that predates the fields: no summary line at all.
    expect(closingSummary({})).toBeNull();
  });
});

// ---- escaping ------------------------------------------------------------------------------

describe('wire text is shown, never obeyed', () => {
  it('escapes control characters, quotes and backslashes in quoted text', () => {
    expect(visible('a\x1b[31mb\n\\"\u202e\x9b\x00', true)).toBe(
      '"a\\x1b[31mb\\n\\\\\\"\\u202e\\x9b\\x00"',
    );
    expect(visible('tab\there')).toBe('tab\\there');
    expect(visible('\u{e0041}\ud800')).toBe('\\u{e0041}\\ud800');
  });

  it('does not pass a payload\u2019s escape sequences to the terminal', () => {
    const attack = '\x1b]0;owned\x07\x1b[2J\x1b[31mred\r\nfake line\u202e';
    const bytes = encodeFrame({ opcode: 1, payload: attack, mask: true });
    for (const event of wireEvents(bytes, 'client-to-server')) {
      for (const line of renderEvent(event, plain)) expect(line).not.toMatch(RAW_CONTROL);
    }
    const frame = only(wireEvents(bytes, 'client-to-server'), 'frame');
    expect(text(frame)).toContain('"\\x1b]0;owned\\x07\\x1b[2J\\x1b[31mred\\r\\nfake line\\u202e"');
  });

  it('escapes header values and close reasons too', () => {
    const response = stamp({
      type: 'handshake-response',
      conn: CONN,
      status: 101,
      reason: 'OK\x1b[2J',
      headers: [{ name: 'X-\x1b', value: 'a\x1b[31m\x9b2J', byteOffset: 0 }],
      streamOffset: 0,
      length: 10,
    });
    expect(text(response)).toContain('101 OK\\x1b[2J');
    expect(text(response)).toContain('X-\\x1b: a\\x1b[31m\\x9b2J');
    const close = encodeFrame({ opcode: 8, payload: closePayload(1000, 'bye\x1b[0m\n') });
    expect(text(only(wireEvents(close, 'server-to-client'), 'close-frame'))).toContain(
      'reason "bye\\x1b[0m\\n"',
    );
  });

  it('uses two colours for the two directions and dims field names', () => {
    const c2s = text(stamp({ type: 'fin', conn: 1, direction: 'client-to-server' }), colored);
    const s2c = text(stamp({ type: 'fin', conn: 1, direction: 'server-to-client' }), colored);
    expect(c2s).toContain('\x1b[36mC→S\x1b[39m');
    expect(s2c).toContain('\x1b[35mS→C\x1b[39m');
    const frame = only(wireEvents(hex('81 05 48 65 6c 6c 6f'), 'server-to-client'), 'frame');
    expect(text(frame, colored)).toContain('\x1b[2mFIN=\x1b[22m1');
  });
});

// ---- properties ----------------------------------------------------------------------------

/** The renderer's own palette: bold, dim, red, green, yellow, magenta, cyan, and their resets. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: SGR sequences start with ESC.
const OWN_SGR = /\x1b\[(?:1|2|22|31|32|33|35|36|39)m/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the test.
const RAW_CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udfff]/u;

function checkLines(event: LabEvent): void {
  for (const options of [plain, brief]) {
    for (const line of renderEvent(event, options)) {
      expect(line).not.toContain('\x1b');
      expect(line).not.toMatch(RAW_CONTROL);
    }
  }
  const color = renderEvent(event, colored);
  for (const line of color) expect(line.replace(OWN_SGR, '')).not.toMatch(RAW_CONTROL);
  // Colour changes how the text looks, never what it says.
  expect(color.map(stripSgr)).toEqual(renderEvent(event, plain));
}

const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      '\x1b',
      '[',
      '3',
      '1',
      'm',
      ';',
      '\x9b',
      '\x07',
      '\x00',
      '\x7f',
      '\n',
      '\r',
      '\\',
      '"',
      '\u202e',
      '\u2028',
      '\ud800',
      '\udc00',
      'a',
      '\u{e0001}',
    ),
    maxLength: 40,
  }),
);

/** Replaces every string in the event (except the fields that pick how it renders) with `next()`. */
function poison(value: unknown, next: () => string, key = ''): unknown {
  if (typeof value === 'string') {
    return ['type', 'direction', 'lengthForm'].includes(key) ? value : next();
  }
  if (Array.isArray(value)) return value.map((v) => poison(v, next));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poison(v, next, k)]));
  }
  return value;
}

describe('properties', () => {
  it('no line carries a raw control character, whatever bytes crossed the wire', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom<Direction>('client-to-server', 'server-to-client'),
        fc.boolean(),
        (bytes, direction, rsv1) => {
          const events = wireEvents(bytes, direction, {
            continueAfterFailure: true,
            extensions: { rsv1 },
          });
          for (const event of events) checkLines(event);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('no line carries a raw control character, whatever text a frame carries', () => {
    fc.assert(
      fc.property(nasty, fc.integer({ min: 0, max: 2 }), (payload, kind) => {
        const bytes =
          kind === 2
            ? encodeFrame({ opcode: 8, payload: closePayload(1000, payload.slice(0, 40)) })
            : encodeFrame({
                opcode: kind === 0 ? 1 : 9,
                payload: payload.slice(0, 40),
                mask: true,
              });
        for (const event of wireEvents(bytes, 'client-to-server', { continueAfterFailure: true })) {
          checkLines(event);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('no line carries a raw control character, whatever strings an event holds', async () => {
    const real = [
      ...(await handshake(SAMPLE_REQUEST)),
      ...(await handshake(['GET / HTTP/1.0', 'Host: x', 'Sec-WebSocket-Key: abc'])),
      ...wireEvents(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), 'client-to-server'),
      ...wireEvents(
        encodeFrame({ opcode: 8, payload: closePayload(1000, 'bye') }),
        'server-to-client',
      ),
      ...wireEvents(hex('81 05 48 65'), 'client-to-server'),
      stamp({ type: 'fin', conn: 1, direction: 'client-to-server' }),
      stamp({ type: 'socket-closed', conn: 1, bytesIn: 1, bytesOut: 2, error: 'x' }),
      stamp({ type: 'dropped', conn: 1, count: 3 }),
      stamp({
        type: 'connection-opened',
        openedAt: 0,
        conn: 1,
        client: { address: '127.0.0.1', port: 1 },
        server: { address: '127.0.0.1', port: 2 },
        tls: true,
      }),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...real),
        fc.array(nasty, { minLength: 1, maxLength: 30 }),
        (event, strings) => {
          let i = 0;
          const next = () => strings[i++ % strings.length] as string;
          checkLines(poison(event, next) as LabEvent);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('secondary text', () => {
  const fin: LabEvent = {
    v: ANNOTATION_SCHEMA_VERSION,
    seq: 1,
    t: 0,
    conn: 1,
    type: 'fin',
    direction: 'client-to-server',
  };

  it('is faint (SGR 2) for terminals, and gray (SGR 90) for xterm.js, which lets faint text lose its contrast', () => {
    const faint = renderEvent(fin, { color: true }).join('\n');
    expect(faint).toContain('\x1b[2m(TCP half-close)\x1b[22m');
    const gray = renderEvent(fin, { color: true, faint: false }).join('\n');
    expect(gray).toContain('\x1b[90m(TCP half-close)\x1b[39m');
    expect(gray).not.toContain('\x1b[2m');
  });
});
