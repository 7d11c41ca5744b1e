/**
 * The checker's stages, in the order a learner builds a server: each stage needs what the ones
 * before it check. Every check opens its own connection, so one broken answer cannot confuse the
 * next check, and every wait has a timeout whose message says what did not happen.
 *
 * Roughly the core cases of the Autobahn test suite (sections 1-7: framing, pings, reserved bits
 * and opcodes, fragmentation, UTF-8, closing), plus the handshake refusals it does not test.
 */
import { generateKey } from '../../protocol/accept.ts';
import { describeCloseCode } from '../../protocol/close-codes.ts';
import { closePayload } from '../../protocol/frame-encoder.ts';
import { buildClientRequest, validateServerResponse } from '../../protocol/handshake.ts';
import { headerFields, parseList, type ResponseHead } from '../../protocol/http-head.ts';
import type { AnnotatedFrame, Problem } from '../../protocol/types.ts';
import type { RawConnection, Received } from './connection.ts';
import { type Blame, fail } from './failure.ts';
import type { Target } from './target.ts';

export interface CheckContext {
  readonly target: Target;
  /** How long to wait for each answer. */
  readonly timeoutMs: number;
  /** A fresh TCP (or TLS) connection to the target, kept for the report. */
  connect(): Promise<RawConnection>;
  /** A fresh connection with a correct opening handshake completed (stage 1's first check). */
  upgrade(): Promise<RawConnection>;
}

export interface Check {
  readonly id: string;
  readonly title: string;
  run(ctx: CheckContext): Promise<void>;
}

export interface Stage {
  readonly id: string;
  readonly title: string;
  readonly checks: readonly Check[];
}

const seconds = (ms: number) => `${ms / 1000} s`;
const te = new TextEncoder();

// ---- the opening handshake ------------------------------------------------------------------

/** A handshake request as text: the correct one of RFC 6455 §4.1, then edited by `change`. */
export function handshakeText(
  target: Target,
  key: string,
  change: (lines: string[]) => string[] = (lines) => lines,
): string {
  const text = buildClientRequest({ host: target.hostHeader, path: target.path, key }).text;
  const lines = text.split('\r\n').slice(0, -2);
  return `${change(lines).join('\r\n')}\r\n\r\n`;
}

/** Offset of a header's value in the response head, for the caret. */
function headerBlame(head: ResponseHead, name: string | undefined): Blame {
  const field = name === undefined ? undefined : headerFields(head, name.toLowerCase())[0];
  return {
    direction: 'server-to-client',
    offset: field === undefined ? 0 : field.byteOffset + field.name.length + 2,
  };
}

async function readHead(conn: RawConnection, ctx: CheckContext, what: string) {
  const result = await conn.readHead(ctx.timeoutMs);
  switch (result.kind) {
    case 'head':
      return result.head;
    case 'timeout':
      return fail({
        rule: 'handshake-no-response',
        section: 'RFC 6455 §4.2.2',
        explanation: `No HTTP response to ${what} within ${seconds(ctx.timeoutMs)}${result.bytes.length > 0 ? ` (${result.bytes.length} bytes arrived, but never the blank line that ends a head)` : ''}.`,
        hint: 'Read the request until the empty line (CRLF CRLF) that ends it, then write the whole response head, ending with its own empty line.',
      });
    case 'bad-head':
      return fail({
        rule: 'handshake-response-malformed',
        section: result.problem.section,
        explanation: `The response to ${what} is not a valid HTTP/1.1 head: ${result.problem.explanation}`,
        hint: 'Write the status line "HTTP/1.1 101 Switching Protocols", one "Name: value" per line, each line ending in CRLF, and an empty line at the end.',
        blame: { direction: 'server-to-client', offset: result.problem.byteOffset },
      });
    default:
      return fail({
        rule: 'handshake-closed',
        section: 'RFC 6455 §4.2.2',
        explanation: `The server ${result.kind === 'end' ? 'closed the connection (FIN)' : `dropped the connection${result.kind === 'closed' && result.error ? ` (${result.error})` : ''}`} without answering ${what}.`,
        hint: 'Answer every request with an HTTP response before closing: 101 to accept it, a 4xx status to refuse it.',
      });
  }
}

/** A correct handshake, and every check a client makes of the 101 (RFC 6455 §4.1). */
export async function upgradeOn(conn: RawConnection, ctx: CheckContext): Promise<void> {
  const key = generateKey();
  conn.sendHead(handshakeText(ctx.target, key));
  const head = await readHead(conn, ctx, 'the opening handshake');
  const findings = await validateServerResponse(head, { key });
  const broken = findings.find((finding) => !finding.ok);
  if (broken === undefined) return;
  const hints: Record<string, string> = {
    'response-status':
      'Answer a valid upgrade request with "HTTP/1.1 101 Switching Protocols" (RFC 6455 §4.2.2), not with a page.',
    'response-upgrade': 'Send the header "Upgrade: websocket" in the 101 response.',
    'response-connection': 'Send the header "Connection: Upgrade" in the 101 response.',
    'response-accept':
      'Sec-WebSocket-Accept = base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): append the GUID to the key exactly as sent (no trimming, no decoding), hash the ASCII bytes with SHA-1, base64-encode the 20-byte digest (RFC 6455 §4.2.2, step 5.4).',
    'response-extensions':
      'Do not answer with an extension the client did not offer; the checker offers none.',
    'response-protocol':
      'Do not select a subprotocol the client did not offer; the checker offers none.',
  };
  fail({
    rule: broken.rule,
    section: broken.section,
    explanation: broken.explanation,
    hint: hints[broken.rule] ?? 'Fix the response header the explanation names.',
    blame: headerBlame(head, broken.header),
  });
}

/** Sends a request the server must refuse, and checks it answers 4xx rather than 101. */
async function refused(
  ctx: CheckContext,
  what: string,
  section: string,
  hint: string,
  change: (lines: string[]) => string[],
  extra?: (head: ResponseHead) => void,
): Promise<void> {
  const conn = await ctx.connect();
  conn.sendHead(handshakeText(ctx.target, generateKey(), change), `handshake request (${what})`);
  const head = await readHead(conn, ctx, `a request with ${what}`);
  if (head.status === 101) {
    fail({
      rule: 'handshake-accepted-invalid',
      section,
      explanation: `The server answered 101 Switching Protocols to a request with ${what}. It must refuse such a request with an HTTP error status and not switch to WebSocket.`,
      hint,
      blame: { direction: 'server-to-client', offset: 9 },
    });
  }
  if (head.status < 400 || head.status > 499) {
    fail({
      rule: 'handshake-refusal-status',
      section,
      explanation: `The server answered ${head.status} ${head.reason} to a request with ${what}; a refusal of a bad request is a 4xx status (400 Bad Request, or 426 for the version).`,
      hint,
      blame: { direction: 'server-to-client', offset: 9 },
    });
  }
  extra?.(head);
}

const replaceHeader =
  (name: string, value: string | null) =>
  (lines: string[]): string[] =>
    lines.flatMap((line) =>
      line.toLowerCase().startsWith(`${name.toLowerCase()}:`)
        ? value === null
          ? []
          : [`${name}: ${value}`]
        : [line],
    );

const handshake: Stage = {
  id: 'handshake',
  title: 'Opening handshake',
  checks: [
    {
      id: 'accept',
      title: 'answers a correct request with 101 and the right Sec-WebSocket-Accept',
      run: async (ctx) => {
        await ctx.upgrade();
      },
    },
    {
      id: 'bad-version',
      title: 'refuses Sec-WebSocket-Version: 99 and names version 13',
      run: (ctx) =>
        refused(
          ctx,
          'Sec-WebSocket-Version: 99',
          'RFC 6455 §4.2.2',
          'Compare Sec-WebSocket-Version with "13"; otherwise answer 426 Upgrade Required with the header "Sec-WebSocket-Version: 13" (RFC 6455 §4.2.2, §4.4).',
          replaceHeader('Sec-WebSocket-Version', '99'),
          (head) => {
            const versions = headerFields(head, 'sec-websocket-version').flatMap((field) =>
              parseList(field.value),
            );
            if (!versions.includes('13')) {
              fail({
                rule: 'handshake-version-not-named',
                section: 'RFC 6455 §4.2.2',
                explanation: `The server refused version 99 with ${head.status}, but ${versions.length === 0 ? 'sent no Sec-WebSocket-Version header' : `its Sec-WebSocket-Version names ${versions.join(', ')}`}; the refusal must name the versions it speaks, so the client can retry with one.`,
                hint: 'Add "Sec-WebSocket-Version: 13" to the refusal (RFC 6455 §4.2.2 item 4, §4.4).',
                blame: headerBlame(head, 'sec-websocket-version'),
              });
            }
          },
        ),
    },
    {
      id: 'missing-key',
      title: 'refuses a request without Sec-WebSocket-Key',
      run: (ctx) =>
        refused(
          ctx,
          'no Sec-WebSocket-Key',
          'RFC 6455 §4.2.1',
          'Check that Sec-WebSocket-Key is present before answering; without it answer 400 Bad Request (RFC 6455 §4.2.1 item 5).',
          replaceHeader('Sec-WebSocket-Key', null),
        ),
    },
    {
      id: 'malformed-key',
      title: 'refuses a Sec-WebSocket-Key that is not 16 bytes in base64',
      run: (ctx) =>
        refused(
          ctx,
          'Sec-WebSocket-Key: AAAAAAAAAAA= (8 bytes, not 16)',
          'RFC 6455 §4.2.1',
          'Base64-decode the key and check it is 16 bytes (24 characters ending in "=="); otherwise answer 400 (RFC 6455 §4.2.1 item 5, §11.3.1).',
          replaceHeader('Sec-WebSocket-Key', 'AAAAAAAAAAA='),
        ),
    },
    {
      id: 'non-get',
      title: 'refuses an upgrade request whose method is POST',
      run: (ctx) =>
        refused(
          ctx,
          'method POST',
          'RFC 6455 §4.2.1',
          'Accept the upgrade only for GET; answer any other method with 400 or 405 (RFC 6455 §4.2.1 item 1).',
          (lines) => [
            (lines[0] as string).replace(/^GET /, 'POST '),
            ...lines.slice(1),
            'Content-Length: 0',
          ],
        ),
    },
  ],
};

// ---- reading frames -------------------------------------------------------------------------

const PARSER_HINTS: Readonly<Record<string, string>> = {
  'server-frame-masked':
    'Send server frames unmasked: MASK bit 0 and no masking key. Only clients mask (RFC 6455 §5.1).',
  'length-not-minimal':
    'Use the shortest length form: 0-125 in the 7 bits, 126-65535 as 126 plus 16 bits, above that 127 plus 64 bits (RFC 6455 §5.2).',
  'length-msb-set': 'The most significant bit of a 64-bit length must be 0 (RFC 6455 §5.2).',
  'rsv1-without-extension': 'Leave RSV1-3 at 0: the checker negotiated no extension.',
  'rsv2-without-extension': 'Leave RSV1-3 at 0: the checker negotiated no extension.',
  'rsv3-without-extension': 'Leave RSV1-3 at 0: the checker negotiated no extension.',
  'reserved-opcode': 'Send only opcodes 0x0, 0x1, 0x2, 0x8, 0x9 and 0xA.',
  'control-frame-too-long': 'Control frames carry at most 125 payload bytes (RFC 6455 §5.5).',
  'control-frame-fragmented': 'Send control frames with FIN = 1 (RFC 6455 §5.5).',
  'invalid-utf8': 'Text messages you send must be valid UTF-8: echo the bytes you received.',
};

function frameFailure(frame: AnnotatedFrame, problem: Problem, doing: string): never {
  return fail({
    rule: problem.rule,
    section: problem.section,
    explanation: `While ${doing}, the server sent a ${frame.opcodeName} frame that breaks a rule: ${problem.explanation}`,
    hint: PARSER_HINTS[problem.rule] ?? 'Fix the frame as the explanation says.',
    blame: { direction: 'server-to-client', offset: problem.byteOffset },
  });
}

/** The first fatal problem the parser found in a frame from the server. */
function fatal(frame: AnnotatedFrame): Problem | undefined {
  return frame.problems.find((problem) => problem.fatal);
}

function gone(received: Received, doing: string, section: string, hint: string): never {
  if (received.kind === 'problem') {
    return fail({
      rule: received.problem.rule,
      section: received.problem.section,
      explanation: `While ${doing}: ${received.problem.explanation}`,
      hint,
      blame: { direction: 'server-to-client', offset: received.problem.byteOffset },
    });
  }
  const what =
    received.kind === 'end'
      ? 'the server closed the TCP connection (FIN) without a close frame'
      : received.kind === 'closed'
        ? `the connection was dropped${received.error ? ` (${received.error})` : ''}, without a close frame`
        : 'nothing happened';
  return fail({
    rule: received.kind === 'timeout' ? 'timeout' : 'connection-lost',
    section,
    explanation: `While ${doing}, ${what}.`,
    hint,
  });
}

const bodyHex = (bytes: Uint8Array) =>
  [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');

/**
 * Waits for the echo of one message: its data frames, in order, until FIN. A server may
 * fragment its echo (RFC 6455 §5.4); pongs and pings from the server are allowed in between.
 */
async function expectEcho(
  conn: RawConnection,
  ctx: CheckContext,
  type: 'text' | 'binary',
  payload: Uint8Array,
  what: string,
): Promise<void> {
  const doing = `waiting for the echo of ${what}`;
  const pieces: AnnotatedFrame[] = [];
  let received = 0;
  for (;;) {
    const next = await conn.next(ctx.timeoutMs);
    if (next.kind !== 'frame') {
      if (next.kind === 'timeout') {
        fail({
          rule: 'echo-timeout',
          section: 'RFC 6455 §6.2',
          explanation: `No echo of ${what} within ${seconds(ctx.timeoutMs)}${pieces.length > 0 ? ` (${received} of ${payload.length} bytes arrived, and no frame with FIN = 1)` : ''}.`,
          hint:
            pieces.length > 0
              ? 'End the echoed message with a frame whose FIN bit is 1.'
              : 'After the 101, read frames: 2 header bytes, the extended length if the 7-bit length is 126 or 127, the 4-byte masking key, then the payload; unmask it (byte i XOR key[i % 4]) and send it back in a frame of the same type.',
        });
      }
      gone(next, doing, 'RFC 6455 §6.2', 'Keep the connection open and echo every message.');
    }
    const frame = next.frame;
    const problem = fatal(frame);
    if (problem !== undefined) frameFailure(frame, problem, doing);
    if (frame.opcode === 0x9 || frame.opcode === 0xa) continue;
    if (frame.opcode === 0x8) {
      fail({
        rule: 'echo-closed',
        section: 'RFC 6455 §5.6',
        explanation: `Instead of echoing ${what}, the server sent a close frame${frame.close?.code ? ` with ${frame.close.code}${frame.close.reason ? ` "${frame.close.reason}"` : ''}` : ''}.`,
        hint:
          type === 'text'
            ? 'Accept every text message whose payload is valid UTF-8, and echo it.'
            : 'Accept binary messages (opcode 0x2) as well as text, and echo them.',
        blame: { direction: 'server-to-client', offset: frame.streamOffset + frame.headerLength },
      });
    }
    const expectedOpcode = pieces.length === 0 ? (type === 'text' ? 0x1 : 0x2) : 0x0;
    if (frame.opcode !== expectedOpcode) {
      const name = (op: number) =>
        op === 0x1 ? 'text (0x1)' : op === 0x2 ? 'binary (0x2)' : `continuation (0x0)`;
      fail({
        rule: 'echo-wrong-opcode',
        section: pieces.length === 0 ? 'RFC 6455 §5.6' : 'RFC 6455 §5.4',
        explanation: `The echo of ${what} ${pieces.length === 0 ? 'starts with' : 'continues with'} a ${frame.opcodeName} frame (opcode 0x${frame.opcode.toString(16)}), but it should be ${name(expectedOpcode)}.`,
        hint:
          pieces.length === 0
            ? `Send the echo with the opcode of the message received: a ${type} message goes back as ${type}.`
            : 'Every frame after the first of a fragmented message has opcode 0x0 (continuation).',
        blame: { direction: 'server-to-client', offset: frame.streamOffset },
      });
    }
    pieces.push(frame);
    const bytes = frame.unmaskedPreview;
    for (let i = 0; i < bytes.length; i++) {
      if (received + i >= payload.length || bytes[i] !== payload[received + i]) {
        const at = received + i;
        fail({
          rule: 'echo-mismatch',
          section: 'RFC 6455 §5.2',
          explanation:
            at >= payload.length
              ? `The echo of ${what} is longer than what was sent: ${payload.length} bytes were sent, but the echo goes past that.`
              : `The echo of ${what} differs from what was sent at payload byte ${at}: sent 0x${(payload[at] as number).toString(16).padStart(2, '0')}, got 0x${(bytes[i] as number).toString(16).padStart(2, '0')}. Sent payload starts ${bodyHex(payload)}.`,
          hint: 'Echo the unmasked payload exactly, and write the payload length of the frame you send from its real length.',
          blame: {
            direction: 'server-to-client',
            offset: frame.streamOffset + frame.headerLength + i,
          },
        });
      }
    }
    received += bytes.length;
    if (frame.fin) break;
  }
  if (received !== payload.length) {
    const last = pieces[pieces.length - 1] as AnnotatedFrame;
    fail({
      rule: 'echo-too-short',
      section: 'RFC 6455 §5.2',
      explanation: `The echo of ${what} has ${received} bytes, but ${payload.length} were sent.`,
      hint: 'Echo every byte of the message; a fragmented message is the payloads of all its frames together (RFC 6455 §5.4).',
      blame: { direction: 'server-to-client', offset: last.streamOffset + 1 },
    });
  }
}

async function expectPong(
  conn: RawConnection,
  ctx: CheckContext,
  payload: Uint8Array,
  what: string,
): Promise<void> {
  for (;;) {
    const next = await conn.next(ctx.timeoutMs);
    if (next.kind === 'timeout') {
      fail({
        rule: 'pong-missing',
        section: 'RFC 6455 §5.5.2',
        explanation: `No answer to ${what} within ${seconds(ctx.timeoutMs)}: a ping must be answered with a pong as soon as practical.`,
        hint: "When a frame with opcode 0x9 arrives, send a frame with opcode 0xA (pong), FIN = 1, carrying the ping's payload unchanged.",
      });
    }
    if (next.kind !== 'frame')
      gone(
        next,
        `waiting for the pong to ${what}`,
        'RFC 6455 §5.5.2',
        'Answer pings; do not close.',
      );
    const frame = next.frame;
    const problem = fatal(frame);
    if (problem !== undefined) frameFailure(frame, problem, `waiting for the pong to ${what}`);
    if (frame.opcode !== 0xa) {
      fail({
        rule: 'pong-missing',
        section: 'RFC 6455 §5.5.2',
        explanation: `The server answered ${what} with a ${frame.opcodeName} frame (opcode 0x${frame.opcode.toString(16)}) instead of a pong (0xA).`,
        hint:
          frame.opcode === 0x9
            ? 'Answer a ping with a pong (0xA); do not send the ping back.'
            : 'Answer a ping (0x9) with a pong (0xA) carrying the same payload.',
        blame: { direction: 'server-to-client', offset: frame.streamOffset },
      });
    }
    const got = frame.unmaskedPreview;
    const same = got.length === payload.length && got.every((b, i) => b === payload[i]);
    if (!same) {
      fail({
        rule: 'pong-payload',
        section: 'RFC 6455 §5.5.3',
        explanation: `The pong to ${what} carries ${got.length} bytes (${bodyHex(got) || 'none'}) instead of the ping's ${payload.length} (${bodyHex(payload) || 'none'}).`,
        hint: "A pong carries exactly the payload of the ping it answers (the 'Application data').",
        blame: { direction: 'server-to-client', offset: frame.streamOffset + 1 },
      });
    }
    return;
  }
}

/**
 * After an invalid frame: the server must _Fail the WebSocket Connection_ (RFC 6455 §7.1.7): a
 * close frame with the code, then the TCP connection closed. The checker answers the close.
 */
async function expectFailure(
  conn: RawConnection,
  ctx: CheckContext,
  code: number,
  what: string,
  rule: string,
): Promise<void> {
  const doing = `waiting for the server to fail the connection after ${what}`;
  for (;;) {
    const next = await conn.next(ctx.timeoutMs);
    if (next.kind === 'timeout') {
      fail({
        rule: 'invalid-frame-ignored',
        section: rule,
        explanation: `The checker sent ${what}. The server must fail the connection with close code ${code}, but within ${seconds(ctx.timeoutMs)} it sent no close frame: it accepted or ignored the frame.`,
        hint: `Check this rule as soon as the frame header (or payload) arrives; when it breaks, send a close frame with ${code} and close the TCP connection (RFC 6455 §7.1.7).`,
      });
    }
    if (next.kind !== 'frame') {
      fail({
        rule: 'failed-without-close-frame',
        section: 'RFC 6455 §7.1.7',
        explanation: `The checker sent ${what}. The server ${next.kind === 'end' ? 'closed the TCP connection (FIN)' : next.kind === 'closed' ? `dropped the connection${next.error ? ` (${next.error})` : ''}` : 'broke the stream'} without first sending a close frame with ${code}, so the client never learns why.`,
        hint: `Before closing TCP, send a close frame whose payload is the code ${code} as two bytes, big-endian (0x${(code >> 8).toString(16)} 0x${(code & 0xff).toString(16)}), optionally followed by a UTF-8 reason (RFC 6455 §5.5.1, §7.1.7).`,
      });
    }
    const frame = next.frame;
    // A data frame means the invalid one was acted on, whatever is wrong with the answer itself.
    if (frame.opcode < 0x8) {
      fail({
        rule: 'invalid-frame-accepted',
        section: rule,
        explanation: `The checker sent ${what}, which the server must reject with close code ${code}; instead it answered with a ${frame.opcodeName} frame, as if the frame were fine.`,
        hint: `Check the rule (${rule}) before acting on a frame; when it breaks, send a close frame with ${code} and close the connection.`,
        blame: { direction: 'server-to-client', offset: frame.streamOffset },
      });
    }
    const problem = fatal(frame);
    if (problem !== undefined) frameFailure(frame, problem, doing);
    if (frame.opcode !== 0x8) continue;
    const got = frame.close?.code ?? null;
    if (got !== code) {
      fail({
        rule: 'wrong-close-code',
        section: 'RFC 6455 §7.4.1',
        explanation: `The checker sent ${what}. The server closed, but with ${got === null ? 'no status code' : `${got} (${describeCloseCode(got).info?.name ?? 'unassigned'})`} instead of ${code} (${describeCloseCode(code).info?.name}).`,
        hint: `Use ${code} for this: ${describeCloseCode(code).info?.meaning}`,
        blame: { direction: 'server-to-client', offset: frame.streamOffset + frame.headerLength },
      });
    }
    conn.sendFrame({ opcode: 0x8, payload: closePayload(code) }, 'close frame (answer)');
    await expectTcpClose(conn, ctx, 'after failing the connection');
    return;
  }
}

/** After the closing handshake the server closes TCP first (RFC 6455 §7.1.1). */
async function expectTcpClose(conn: RawConnection, ctx: CheckContext, when: string) {
  for (;;) {
    const next = await conn.next(ctx.timeoutMs);
    if (next.kind === 'end' || next.kind === 'closed') return;
    if (next.kind === 'timeout') {
      fail({
        rule: 'server-fin-missing',
        section: 'RFC 6455 §7.1.1',
        explanation: `The close frames were exchanged ${when}, but the server did not close the TCP connection within ${seconds(ctx.timeoutMs)}. The server should close TCP first, so that the TIME_WAIT state lands on the server, not on the client.`,
        hint: 'Once you have both sent and received a close frame, close the socket (shutdown/close): the FIN is then yours.',
      });
    }
    if (next.kind === 'frame') {
      fail({
        rule: 'frame-after-close',
        section: 'RFC 6455 §5.5.1',
        explanation: `After its close frame the server sent a ${next.frame.opcodeName} frame; an endpoint sends nothing after its close frame.`,
        hint: 'Stop sending once your close frame is out.',
        blame: { direction: 'server-to-client', offset: next.frame.streamOffset },
      });
    }
  }
}

// ---- data stages ----------------------------------------------------------------------------

function echoCheck(
  id: string,
  title: string,
  type: 'text' | 'binary',
  payload: Uint8Array,
  what: string,
): Check {
  return {
    id,
    title,
    run: async (ctx) => {
      const conn = await ctx.upgrade();
      conn.sendFrame({ opcode: type === 'text' ? 0x1 : 0x2, payload });
      await expectEcho(conn, ctx, type, payload, what);
    },
  };
}

/** Printable text of exactly `n` bytes, so a learner can read it in the dump. */
function letters(n: number): Uint8Array {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz';
  return te.encode(Array.from({ length: n }, (_, i) => alphabet[i % 26]).join(''));
}

const echoText: Stage = {
  id: 'echo-text',
  title: 'Echo of short text messages',
  checks: [
    echoCheck(
      'short-text',
      'echoes "Hello, checker!" as text',
      'text',
      te.encode('Hello, checker!'),
      'a 15-byte text message',
    ),
    echoCheck(
      'empty-text',
      'echoes an empty text message',
      'text',
      new Uint8Array(0),
      'an empty text message',
    ),
    echoCheck(
      'utf8-text',
      'echoes multi-byte UTF-8 text ("κόσμε")',
      'text',
      te.encode('κόσμε'),
      'the text "κόσμε" (11 bytes of UTF-8)',
    ),
  ],
};

const lengths: Stage = {
  id: 'lengths',
  title: 'Payload lengths: 7-bit, 16-bit and 64-bit',
  checks: [
    echoCheck(
      'len-125',
      'echoes 125 bytes (the largest 7-bit length)',
      'text',
      letters(125),
      'a 125-byte text message',
    ),
    echoCheck(
      'len-126',
      'echoes 126 bytes (16-bit length: 126, then 0x007E)',
      'text',
      letters(126),
      'a 126-byte text message (16-bit length)',
    ),
    echoCheck(
      'len-65535',
      'echoes 65535 bytes (the largest 16-bit length)',
      'text',
      letters(65535),
      'a 65535-byte text message (16-bit length)',
    ),
    echoCheck(
      'len-65536',
      'echoes 65536 bytes (64-bit length: 127, then 8 bytes)',
      'text',
      letters(65536),
      'a 65536-byte text message (64-bit length)',
    ),
  ],
};

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
const binary: Stage = {
  id: 'binary',
  title: 'Binary messages',
  checks: [
    echoCheck(
      'binary-256',
      'echoes the 256 byte values 00-ff as binary',
      'binary',
      allBytes,
      'a binary message of the bytes 00 to ff',
    ),
    echoCheck(
      'binary-empty',
      'echoes an empty binary message',
      'binary',
      new Uint8Array(0),
      'an empty binary message',
    ),
  ],
};

const pings: Stage = {
  id: 'ping-pong',
  title: 'Ping and pong',
  checks: [
    {
      id: 'ping-payload',
      title: 'answers a ping with a pong carrying the same payload',
      run: async (ctx) => {
        const conn = await ctx.upgrade();
        const payload = te.encode('are you there?');
        conn.sendFrame({ opcode: 0x9, payload });
        await expectPong(conn, ctx, payload, 'a ping with the payload "are you there?"');
      },
    },
    {
      id: 'ping-empty',
      title: 'answers an empty ping with an empty pong',
      run: async (ctx) => {
        const conn = await ctx.upgrade();
        conn.sendFrame({ opcode: 0x9 });
        await expectPong(conn, ctx, new Uint8Array(0), 'an empty ping');
      },
    },
    {
      id: 'ping-125',
      title: 'answers a ping of 125 bytes (the largest control payload)',
      run: async (ctx) => {
        const conn = await ctx.upgrade();
        const payload = letters(125);
        conn.sendFrame({ opcode: 0x9, payload });
        await expectPong(conn, ctx, payload, 'a ping with a 125-byte payload');
      },
    },
    {
      id: 'unsolicited-pong',
      title: 'ignores an unsolicited pong, then still echoes',
      run: async (ctx) => {
        const conn = await ctx.upgrade();
        conn.sendFrame({ opcode: 0xa, payload: te.encode('heartbeat') });
        const text = te.encode('still here?');
        conn.sendFrame({ opcode: 0x1, payload: text });
        await expectEcho(
          conn,
          ctx,
          'text',
          text,
          'a text message sent after an unsolicited pong (RFC 6455 §5.5.3: no answer is expected to it)',
        );
      },
    },
  ],
};

const fragments: Stage = {
  id: 'fragments',
  title: 'Fragmented messages',
  checks: [
    {
      id: 'three-fragments',
      title: 'joins a text message sent in three fragments',
      run: async (ctx) => {
        const conn = await ctx.upgrade();
        conn.sendFrame({ opcode: 0x1, fin: false, payload: 'frag' }, 'text frame (FIN=0)');
        conn.sendFrame({ opcode: 0x0, fin: false, payload: 'men' }, 'continuation frame (FIN=0)');
        conn.sendFrame({ opcode: 0x0, fin: true, payload: 'ted' }, 'continuation frame (FIN=1)');
        await expectEcho(
          conn,
          ctx,
          'text',
          te.encode('fragmented'),
          'the message "fragmented" sent as "frag" + "men" + "ted"',
        );
      },
    },
    {
      id: 'binary-fragments',
      title: 'joins a binary message whose middle fragment is empty',
      run: async (ctx) => {
        const conn = await ctx.upgrade();
        conn.sendFrame(
          { opcode: 0x2, fin: false, payload: Uint8Array.of(1, 2, 3) },
          'binary frame (FIN=0)',
        );
        conn.sendFrame({ opcode: 0x0, fin: false }, 'continuation frame (FIN=0, empty)');
        conn.sendFrame(
          { opcode: 0x0, fin: true, payload: Uint8Array.of(4, 5) },
          'continuation frame (FIN=1)',
        );
        await expectEcho(
          conn,
          ctx,
          'binary',
          Uint8Array.of(1, 2, 3, 4, 5),
          'a binary message 01 02 03 | (empty) | 04 05',
        );
      },
    },
    {
      id: 'split-code-point',
      title: 'accepts a UTF-8 character split between two fragments',
      run: async (ctx) => {
        const conn = await ctx.upgrade();
        const text = te.encode('café'); // 63 61 66 c3 a9
        conn.sendFrame(
          { opcode: 0x1, fin: false, payload: text.subarray(0, 4) },
          'text frame (FIN=0, ends inside é)',
        );
        conn.sendFrame(
          { opcode: 0x0, fin: true, payload: text.subarray(4) },
          'continuation frame (FIN=1)',
        );
        await expectEcho(
          conn,
          ctx,
          'text',
          text,
          'the text "café" whose "é" (c3 a9) is split between two fragments (RFC 6455 §5.6: validity is judged on the whole message)',
        );
      },
    },
  ],
};

const interleaved: Stage = {
  id: 'control-in-fragments',
  title: 'Control frames between fragments',
  checks: [
    {
      id: 'ping-between-fragments',
      title: 'answers a ping sent between two fragments, then echoes the message',
      run: async (ctx) => {
        const conn = await ctx.upgrade();
        conn.sendFrame({ opcode: 0x1, fin: false, payload: 'Hello, ' }, 'text frame (FIN=0)');
        conn.sendFrame({ opcode: 0x9, payload: 'mid' }, 'ping frame (between fragments)');
        conn.sendFrame({ opcode: 0x0, fin: true, payload: 'world' }, 'continuation frame (FIN=1)');
        await expectPong(
          conn,
          ctx,
          te.encode('mid'),
          'a ping sent between the fragments of a message (RFC 6455 §5.4: control frames may be injected there)',
        );
        await expectEcho(
          conn,
          ctx,
          'text',
          te.encode('Hello, world'),
          'the message "Hello, world" whose fragments had a ping between them',
        );
      },
    },
  ],
};

function invalid(
  id: string,
  title: string,
  frames: readonly Parameters<RawConnection['sendFrame']>[0][],
  what: string,
  code: number,
  section: string,
): Check {
  return {
    id,
    title,
    run: async (ctx) => {
      const conn = await ctx.upgrade();
      for (const frame of frames) conn.sendFrame(frame);
      await expectFailure(conn, ctx, code, what, section);
    },
  };
}

const invalidFrames: Stage = {
  id: 'invalid-frames',
  title: 'Invalid frames fail the connection with 1002',
  checks: [
    invalid(
      'unmasked',
      'fails an unmasked client frame with 1002',
      [{ opcode: 0x1, payload: 'not masked', mask: false }],
      'a text frame with MASK = 0 (a client must mask every frame)',
      1002,
      'RFC 6455 §5.1',
    ),
    invalid(
      'rsv1',
      'fails RSV1 = 1 without a negotiated extension with 1002',
      [{ opcode: 0x1, payload: 'rsv1', rsv1: true }],
      'a text frame with RSV1 = 1, though no extension was negotiated',
      1002,
      'RFC 6455 §5.2',
    ),
    invalid(
      'reserved-opcode',
      'fails the reserved opcode 0x3 with 1002',
      [{ opcode: 0x3, payload: 'x' }],
      'a frame with the reserved opcode 0x3',
      1002,
      'RFC 6455 §5.2',
    ),
    invalid(
      'reserved-control-opcode',
      'fails the reserved control opcode 0xB with 1002',
      [{ opcode: 0xb }],
      'a frame with the reserved control opcode 0xB',
      1002,
      'RFC 6455 §5.2',
    ),
    invalid(
      'long-ping',
      'fails a ping with a 126-byte payload with 1002',
      [{ opcode: 0x9, payload: letters(126) }],
      'a ping with 126 payload bytes (control frames carry at most 125)',
      1002,
      'RFC 6455 §5.5',
    ),
    invalid(
      'fragmented-ping',
      'fails a fragmented ping (FIN = 0) with 1002',
      [
        { opcode: 0x9, fin: false, payload: 'a' },
        { opcode: 0x0, payload: 'b' },
      ],
      'a ping with FIN = 0 (control frames must not be fragmented)',
      1002,
      'RFC 6455 §5.5',
    ),
    invalid(
      'orphan-continuation',
      'fails a continuation frame with no message to continue with 1002',
      [{ opcode: 0x0, payload: 'orphan' }],
      'a continuation frame (opcode 0x0) when no fragmented message was started',
      1002,
      'RFC 6455 §5.4',
    ),
    invalid(
      'text-inside-fragments',
      'fails a new text frame inside a fragmented message with 1002',
      [
        { opcode: 0x1, fin: false, payload: 'one' },
        { opcode: 0x1, payload: 'two' },
      ],
      'a second text frame before the first message was finished (its fragments must continue with opcode 0x0)',
      1002,
      'RFC 6455 §5.4',
    ),
  ],
};

/** "κόσμε" followed by ED A0 80, a UTF-16 surrogate encoded in UTF-8, which UTF-8 forbids. */
const BAD_UTF8 = Uint8Array.of(
  0xce,
  0xba,
  0xe1,
  0xbd,
  0xb9,
  0xcf,
  0x83,
  0xce,
  0xbc,
  0xce,
  0xb5,
  0xed,
  0xa0,
  0x80,
);

const utf8: Stage = {
  id: 'utf8',
  title: 'Invalid UTF-8 fails the connection with 1007',
  checks: [
    invalid(
      'invalid-utf8',
      'fails a text message that is not valid UTF-8 with 1007',
      [{ opcode: 0x1, payload: BAD_UTF8 }],
      'a text message ending in ed a0 80 (a surrogate, which is not valid UTF-8)',
      1007,
      'RFC 6455 §8.1',
    ),
    invalid(
      'invalid-utf8-fragmented',
      'fails invalid UTF-8 in the second fragment with 1007',
      [
        { opcode: 0x1, fin: false, payload: 'valid, then ' },
        { opcode: 0x0, payload: Uint8Array.of(0xff, 0xfe) },
      ],
      'a fragmented text message whose second fragment is ff fe (bytes that never occur in UTF-8)',
      1007,
      'RFC 6455 §8.1',
    ),
    invalid(
      'invalid-close-reason',
      'fails a close reason that is not valid UTF-8 with 1007',
      [{ opcode: 0x8, payload: Uint8Array.of(0x03, 0xe8, 0xff) }],
      'a close frame with code 1000 and the reason byte ff (a close reason is UTF-8, RFC 6455 §5.5.1)',
      1007,
      'RFC 6455 §8.1',
    ),
  ],
};

/** Sends a close frame and checks the answer: a close frame with `answer`, then the server's FIN. */
function closeCheck(
  id: string,
  title: string,
  payload: Uint8Array,
  what: string,
  answer: number | null,
  section: string,
): Check {
  return {
    id,
    title,
    run: async (ctx) => {
      const conn = await ctx.upgrade();
      conn.sendFrame({ opcode: 0x8, payload });
      for (;;) {
        const next = await conn.next(ctx.timeoutMs);
        if (next.kind === 'timeout') {
          fail({
            rule: 'close-not-answered',
            section: 'RFC 6455 §5.5.1',
            explanation: `No close frame answered ${what} within ${seconds(ctx.timeoutMs)}.`,
            hint: 'When a close frame arrives, send a close frame back (if you have not sent one yet), then close the TCP connection.',
          });
        }
        if (next.kind !== 'frame') {
          fail({
            rule: 'closed-without-close-frame',
            section: 'RFC 6455 §5.5.1',
            explanation: `After ${what}, the server ${next.kind === 'end' ? 'closed the TCP connection (FIN)' : 'dropped the connection'} without answering with a close frame of its own, so the closing handshake never completed.`,
            hint: 'Answer a close frame with a close frame (echoing its status code) before closing the socket.',
          });
        }
        const frame = next.frame;
        const problem = fatal(frame);
        if (problem !== undefined)
          frameFailure(frame, problem, `waiting for the answer to ${what}`);
        if (frame.opcode !== 0x8) continue;
        const got = frame.close?.code ?? null;
        if (got !== answer && !(answer === null && got === 1000)) {
          fail({
            rule: 'close-code-not-echoed',
            section,
            explanation: `The server answered ${what} with ${got === null ? 'a close frame without a status code' : `close code ${got}`}, but ${answer === null ? 'nothing needs to be echoed: an empty close is answered with an empty one or 1000' : `should answer ${answer}`}.`,
            hint:
              answer === 1002
                ? 'Validate the code of a received close frame: 1005, 1006, 1015, 1004 and anything below 1000 or from 1016 to 2999 must not appear on the wire; answer them with 1002.'
                : 'Read the two-byte code from the close frame you receive (big-endian) and send the same code back in your close frame (RFC 6455 §5.5.1: the answer typically echoes it).',
            blame: {
              direction: 'server-to-client',
              offset: frame.streamOffset + frame.headerLength,
            },
          });
        }
        break;
      }
      await expectTcpClose(conn, ctx, `after ${what}`);
    },
  };
}

const closing: Stage = {
  id: 'closing',
  title: 'Closing handshake',
  checks: [
    closeCheck(
      'close-1000',
      'answers close 1000 with 1000, then closes TCP first',
      closePayload(1000, 'bye'),
      'a close frame with 1000 "bye"',
      1000,
      'RFC 6455 §5.5.1',
    ),
    closeCheck(
      'close-4000',
      'echoes the private-use close code 4000',
      closePayload(4000, 'private'),
      'a close frame with 4000 "private"',
      4000,
      'RFC 6455 §5.5.1',
    ),
    closeCheck(
      'close-empty',
      'answers an empty close frame with a close frame',
      new Uint8Array(0),
      'a close frame without a status code',
      null,
      'RFC 6455 §5.5.1',
    ),
    closeCheck(
      'close-1005',
      'answers the never-sent code 1005 with 1002',
      closePayload(1005),
      'a close frame with 1005, a code that must never be sent (RFC 6455 §7.4.1)',
      1002,
      'RFC 6455 §7.4.1',
    ),
  ],
};

export const STAGES: readonly Stage[] = [
  handshake,
  echoText,
  lengths,
  binary,
  pings,
  fragments,
  interleaved,
  invalidFrames,
  utf8,
  closing,
];
