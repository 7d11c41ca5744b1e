import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateUpgradeRequest } from '../../protocol/handshake.ts';
import { HttpHeadParser } from '../../protocol/http-head.ts';
import {
  describePorts,
  encodeHead,
  explainOutcome,
  type LineAction,
  LineDiscipline,
  MASKED_CLOSE,
  ServerBytes,
  shortKey,
  VARIANTS,
  validRequest,
} from './model.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const HOST = '127.0.0.1:6455';
const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
const sent = (actions: readonly LineAction[]) =>
  actions.filter((a): a is Extract<LineAction, { type: 'send' }> => a.type === 'send');

function parseRequest(bytes: Uint8Array) {
  const result = new HttpHeadParser({ kind: 'request' }).push(bytes);
  if (result.state !== 'complete') throw new Error(`not a complete head: ${result.state}`);
  return result;
}

describe('LineDiscipline in http mode: Enter is CRLF, an empty line sends the head', () => {
  it('sends nothing until the empty line, then the head with CRLF line ends (RFC 9112 §2.2)', () => {
    const lines = new LineDiscipline();
    expect(sent(lines.input('GET /echo HTTP/1.1\r'))).toEqual([]);
    expect(sent(lines.input('Host: a\r'))).toEqual([]);
    expect(lines.lines).toEqual(['GET /echo HTTP/1.1', 'Host: a']);
    const [send] = sent(lines.input('\r'));
    expect(latin1(send?.bytes ?? new Uint8Array())).toBe('GET /echo HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(lines.lines).toEqual([]);
  });

  it('reads a pasted request with LF or CRLF line ends as the same lines', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const lines = new LineDiscipline();
      const [send] = sent(lines.input(`${validRequest(HOST, KEY).join(eol)}${eol}${eol}`));
      expect(latin1(send?.bytes ?? new Uint8Array())).toBe(
        latin1(encodeHead(validRequest(HOST, KEY))),
      );
    }
  });

  it('ignores empty lines before the request line (RFC 9112 §2.2)', () => {
    const lines = new LineDiscipline();
    expect(sent(lines.input('\r\r\r'))).toEqual([]);
  });

  it('edits the current line with Backspace and Ctrl+U, and echoes the erasing', () => {
    const lines = new LineDiscipline();
    const actions = lines.input('GEX\x7fT /');
    expect(lines.current).toBe('GET /');
    expect(actions.map((a) => (a.type === 'echo' ? a.text : '')).join('')).toBe('GEX\b \bT /');
    lines.input('\x15');
    expect(lines.current).toBe('');
  });

  it('drops the head typed so far on Ctrl+C', () => {
    const lines = new LineDiscipline();
    lines.input('GET / HTTP/1.1\rHost: x');
    expect(lines.input('\x03').map((a) => a.type)).toEqual(['echo', 'cancel']);
    expect(lines.lines).toEqual([]);
    expect(lines.current).toBe('');
  });

  it('skips arrow keys and bracketed-paste markers instead of sending them', () => {
    const lines = new LineDiscipline();
    lines.input('\x1b[AGET\x1b[D\x1bOA\x1b[200~ /\x1b[201~');
    expect(lines.current).toBe('GET /');
  });

  it('shows a control character as an escape rather than passing it to the terminal', () => {
    const lines = new LineDiscipline();
    const echo = lines.input('a\u202eb');
    expect(echo).toEqual([{ type: 'echo', text: 'a\\u202eb' }]);
    expect(lines.current).toBe('a\u202eb');
  });

  it('never throws and keeps lines bounded, whatever is typed', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (data) => {
        const lines = new LineDiscipline();
        lines.input(data);
        expect(lines.current.length).toBeLessThanOrEqual(16 * 1024 + 1);
      }),
    );
  });
});

describe('LineDiscipline in hex mode: Enter sends the line as bytes', () => {
  it('sends the masked close frame as 8 bytes', () => {
    const lines = new LineDiscipline();
    lines.mode = 'hex';
    const [send] = sent(lines.input(`${MASKED_CLOSE}\r`));
    expect(Array.from(send?.bytes ?? [])).toEqual([0x88, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x34, 0x12]);
  });

  it('says which character is not hex and sends nothing', () => {
    const lines = new LineDiscipline();
    lines.mode = 'hex';
    const actions = lines.input('81 zz\r');
    expect(sent(actions)).toEqual([]);
    expect(actions.find((a) => a.type === 'error')).toMatchObject({
      message: expect.stringContaining('is not a hex digit'),
    });
  });
});

describe('the requests the helpers paste', () => {
  it('a valid request passes every rule of RFC 6455 §4.2.1', () => {
    const head = parseRequest(encodeHead(validRequest(HOST, KEY))).head;
    expect(validateUpgradeRequest(head).every((f) => f.ok)).toBe(true);
  });

  it('each broken variant breaks exactly the rule it names', () => {
    const expected: Record<string, string> = {
      'no-upgrade': 'request-upgrade',
      'wrong-version': 'request-version',
      'missing-key': 'request-key',
      'short-key': 'request-key',
      post: 'request-method-get',
    };
    for (const variant of VARIANTS) {
      const head = parseRequest(encodeHead(variant.lines(HOST, KEY))).head;
      const failed = validateUpgradeRequest(head).filter((f) => !f.ok);
      expect(
        failed.map((f) => f.rule),
        variant.id,
      ).toEqual([expected[variant.id]]);
    }
  });

  it('the short key is 8 bytes of base64 (12 characters)', () => {
    expect(shortKey(KEY)).toBe(btoa(atob(KEY).slice(0, 8)));
    expect(atob(shortKey(KEY)).length).toBe(8);
  });
});

describe('ServerBytes shows the head, then text or, after a 101, frames in hex', () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it('splits a 101 and the frame that follows it in the same chunk', () => {
    const server = new ServerBytes();
    const shown = server.push(
      Uint8Array.from([
        ...enc('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'),
        0x81,
        0x02,
        0x68,
        0x69,
      ]),
    );
    expect(shown).toEqual([
      {
        kind: 'head',
        lines: ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket'],
        status: 101,
        reason: 'Switching Protocols',
        length: 56,
      },
      { kind: 'frames', hex: '81 02 68 69', length: 4 },
    ]);
    expect(server.upgraded).toBe(true);
  });

  it('puts a head together from one-byte chunks and shows the body as text', () => {
    const server = new ServerBytes();
    const bytes = enc('HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nno\n');
    const shown = Array.from(bytes).flatMap((b) => server.push(Uint8Array.of(b)));
    expect(shown[0]).toMatchObject({
      kind: 'head',
      status: 400,
      lines: ['HTTP/1.1 400 Bad Request', 'Content-Length: 3'],
    });
    expect(
      shown
        .slice(1)
        .map((s) => (s.kind === 'text' ? s.text : ''))
        .join(''),
    ).toBe('no\n');
  });

  it('reads a second response on a kept-alive connection after a new request', () => {
    const server = new ServerBytes();
    server.push(enc('HTTP/1.1 426 Upgrade Required\r\n\r\n'));
    server.requestSent();
    expect(server.push(enc('HTTP/1.1 101 Switching Protocols\r\n\r\n'))[0]).toMatchObject({
      status: 101,
    });
  });

  it('shows at most 64 bytes of frames and says how many more came', () => {
    const server = new ServerBytes();
    server.push(enc('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
    const [shown] = server.push(new Uint8Array(100));
    expect(shown).toMatchObject({ kind: 'frames', length: 100 });
    expect(shown?.kind === 'frames' && shown.hex).toMatch(/^(00 ){63}00 … \(36 more\)$/);
  });

  it('makes escape sequences in the body visible', () => {
    const server = new ServerBytes();
    server.push(enc('HTTP/1.1 400 Bad Request\r\n\r\n'));
    expect(server.push(enc('\x1b[2Jx'))).toEqual([{ kind: 'text', text: '\\x1b[2Jx' }]);
  });
});

describe('explainOutcome: what the answer means', () => {
  const findingsOf = (lines: string[]) =>
    validateUpgradeRequest(parseRequest(encodeHead(lines)).head);

  it('a 101 says the same TCP connection now carries frames (RFC 6455 §4.2.2)', () => {
    const outcome = explainOutcome({
      status: 101,
      reason: 'Switching Protocols',
      findings: [],
      serverClosed: false,
    });
    expect(outcome.accepted).toBe(true);
    expect(outcome.paragraphs[0]).toContain('this same TCP connection');
  });

  it('a 426 for the version names Sec-WebSocket-Version and RFC 6455 §4.4', () => {
    const findings = findingsOf(VARIANTS[1]?.lines(HOST, KEY) ?? []);
    const outcome = explainOutcome({
      status: 426,
      reason: 'Upgrade Required',
      findings,
      serverClosed: true,
    });
    expect(outcome.paragraphs[0]).toContain('§4.4');
    expect(outcome.paragraphs.join(' ')).toContain("Sec-WebSocket-Version is '8'");
    expect(outcome.paragraphs.at(-1)).toContain('never became a WebSocket');
  });

  it('a 426 to a request without Upgrade says it was ordinary HTTP, and the socket stays open', () => {
    const findings = findingsOf(VARIANTS[0]?.lines(HOST, KEY) ?? []);
    const outcome = explainOutcome({
      status: 426,
      reason: 'Upgrade Required',
      findings,
      serverClosed: false,
    });
    expect(outcome.paragraphs[0]).toContain('RFC 9110 §15.5.22');
    expect(outcome.paragraphs.join(' ')).toContain('ordinary GET');
    expect(outcome.paragraphs.at(-1)).toContain('still speaks HTTP');
  });

  it('a 400 quotes the broken rule from the annotation', () => {
    const findings = findingsOf(VARIANTS[3]?.lines(HOST, KEY) ?? []);
    const outcome = explainOutcome({
      status: 400,
      reason: 'Bad Request',
      findings,
      serverClosed: true,
    });
    expect(outcome.paragraphs.join(' ')).toMatch(/decodes to 8 bytes/);
  });

  it('a 404 says there is no such endpoint (RFC 6455 §4.2.2)', () => {
    const outcome = explainOutcome({
      status: 404,
      reason: 'Not Found',
      findings: null,
      serverClosed: true,
    });
    expect(outcome.paragraphs[0]).toContain('no WebSocket endpoint');
  });
});

describe('describePorts', () => {
  it('says the port is the same when the snapshot after the 101 lists the opening port', () => {
    const report = describePorts({
      conn: 4,
      relayPort: 50000,
      openedPort: 50000,
      afterPort: 50000,
      afterRoute: 'echo',
    });
    expect(report.same).toBe(true);
    expect(report.verdict).toContain('Same client port, 50000');
  });

  it('has no verdict before the 101', () => {
    expect(
      describePorts({
        conn: 4,
        relayPort: 50000,
        openedPort: null,
        afterPort: null,
        afterRoute: null,
      }).same,
    ).toBeNull();
  });

  it('says so when the ports differ', () => {
    expect(
      describePorts({ conn: 4, relayPort: 1, openedPort: 1, afterPort: 2, afterRoute: 'echo' })
        .same,
    ).toBe(false);
  });
});
