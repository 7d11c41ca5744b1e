/**
 * Exercises of chapter 3, the opening handshake. What a server answers is decided by protocol/
 * (validateUpgradeRequest, buildServerResponse), and what a header means comes from its
 * headerExplanations: the checkers judge with the same code the lab server runs.
 */
import type { LabEvent } from '../../../protocol/annotations.ts';
import {
  buildClientRequest,
  buildServerResponse,
  explainHeader,
  type HandshakeFinding,
  validateUpgradeRequest,
} from '../../../protocol/handshake.ts';
import { HttpHeadParser } from '../../../protocol/http-head.ts';
import { readInteger } from '../normalise.ts';
import type { Rng } from '../rng.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

const right: Verdict = { correct: true, feedback: '' };
const wrong = (feedback: string, wrongIds?: readonly string[]): Verdict => ({
  correct: false,
  feedback,
  ...(wrongIds === undefined ? {} : { wrong: wrongIds }),
});

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const hexTag = (rng: Rng) =>
  Array.from(rng.bytes(3), (b) => b.toString(16).padStart(2, '0')).join('');

function parseRequest(text: string) {
  const result = new HttpHeadParser({ kind: 'request' }).push(new TextEncoder().encode(text));
  if (result.state !== 'complete') throw new Error('a generated request must parse');
  return result.head;
}

// ---- 1. Which status does the server answer? ---------------------------------------------------

type Defect = 'none' | 'version' | 'no-key' | 'short-key' | 'post' | 'http10' | 'no-connection';

export interface StatusParams {
  readonly defect: Defect;
  readonly request: string;
}

const STATUS_CHOICES: readonly Choice[] = [
  { id: '101', label: '101 Switching Protocols' },
  { id: '400', label: '400 Bad Request' },
  { id: '403', label: '403 Forbidden' },
  { id: '404', label: '404 Not Found' },
  { id: '426', label: '426 Upgrade Required' },
];

/** The request line and headers a learner should look at, by the rule that failed. */
function lineOf(finding: HandshakeFinding): string {
  return finding.header ?? 'request line';
}

/**
 * The status without building the response (reveal must be synchronous): the rule of
 * buildServerResponse, 101 unless a rule failed, 426 only when nothing but the version did. The
 * tests hold it to buildServerResponse for every defect.
 */
export function statusOf(request: string): { status: number; failed: HandshakeFinding[] } {
  const failed = validateUpgradeRequest(parseRequest(request)).filter(
    (f) => !f.ok && !f.informational,
  );
  const status = failed.length === 0 ? 101 : (failed.find((f) => f.status !== 426)?.status ?? 426);
  return { status, failed };
}

export async function answerTo(
  request: string,
): Promise<{ status: number; failed: HandshakeFinding[] }> {
  const head = parseRequest(request);
  const findings = validateUpgradeRequest(head);
  const response = await buildServerResponse(head, findings);
  return {
    status: response.head.status,
    failed: findings.filter((f) => !f.ok && !f.informational),
  };
}

export const handshakeStatus = defineExercise<StatusParams>({
  id: 'handshake-status',
  chapter: 'handshake',
  kind: 'choice',
  title: 'What does the server answer?',
  multiple: false,
  generate(rng) {
    const defect = rng.pick<Defect>([
      'none',
      'version',
      'no-key',
      'short-key',
      'post',
      'http10',
      'no-connection',
    ]);
    const key = base64(rng.bytes(16));
    const host = rng.pick(['127.0.0.1:6455', 'localhost:8080', 'chat.example.com']);
    let lines = buildClientRequest({ host, path: '/chat', key })
      .text.split('\r\n')
      .filter((l) => l !== '');
    const set = (name: string, value: string | null) => {
      lines = lines.flatMap((line) =>
        line.startsWith(`${name}:`) ? (value === null ? [] : [`${name}: ${value}`]) : [line],
      );
    };
    if (defect === 'version') set('Sec-WebSocket-Version', rng.pick(['8', '7', '12', '14']));
    if (defect === 'no-key') set('Sec-WebSocket-Key', null);
    if (defect === 'short-key') set('Sec-WebSocket-Key', base64(rng.bytes(rng.int(4, 12))));
    if (defect === 'no-connection') set('Connection', null);
    if (defect === 'post') lines[0] = 'POST /chat HTTP/1.1';
    if (defect === 'http10') lines[0] = 'GET /chat HTTP/1.0';
    return { defect, request: `${lines.join('\r\n')}\r\n\r\n` };
  },
  prompt(params) {
    return {
      text: 'A server that follows RFC 6455 serves a WebSocket endpoint at /chat, for any origin. This request arrives. Which status line does it answer?',
      code: params.request.trimEnd().replace(/\r\n/g, '\n'),
    };
  },
  choices: () => STATUS_CHOICES,
  hints: (params) => [
    'Go through RFC 6455 §4.2.1 line by line: GET, HTTP/1.1 or later, Host, Upgrade containing websocket, Connection containing Upgrade, a Sec-WebSocket-Key of 16 bytes in base64, Sec-WebSocket-Version: 13.',
    params.defect === 'none'
      ? 'Check every line: is anything actually wrong?'
      : `Look closely at the ${{ version: 'Sec-WebSocket-Version', 'no-key': 'Sec-WebSocket-Key', 'short-key': 'Sec-WebSocket-Key', post: 'request line', http10: 'request line', 'no-connection': 'Connection' }[params.defect]}${params.defect === 'no-key' || params.defect === 'no-connection' ? ' (or where it should be)' : ''}.`,
    'A version the server does not speak earns 426 with Sec-WebSocket-Version: 13 (RFC 6455 §4.2.2, §4.4); any other broken rule earns 400 (RFC 6455 §4.2.1); a request that breaks none gets 101.',
  ],
  reveal(params) {
    const { status, failed } = statusOf(params.request);
    const label = STATUS_CHOICES.find((c) => c.id === String(status))?.label ?? String(status);
    return failed.length === 0
      ? `${label}: every rule of RFC 6455 §4.2.1 holds.`
      : `${label}: ${failed.map((f) => f.explanation).join(' ')}`;
  },
  async check(params, answer) {
    if (answer.length !== 1) return wrong('Choose exactly one status.');
    const chosen = answer[0] ?? '';
    const { status, failed } = await answerTo(params.request);
    if (chosen === String(status)) return right;
    const first = failed[0];
    const where = first === undefined ? '' : ` Look at the ${lineOf(first)}.`;
    switch (chosen) {
      case '101':
        return wrong(
          `101 would mean the server accepted, but this request breaks a rule of RFC 6455 §4.2.1, and then the server must refuse with an HTTP error.${where}`,
        );
      case '403':
        return wrong(
          '403 refuses a client the server does not trust, usually by its Origin (RFC 6455 §10.2); this server accepts any origin, and the request has none.',
        );
      case '404':
        return wrong(
          '404 is for a path the server does not serve (RFC 6455 §4.2.2); this server serves /chat.',
        );
      case '426':
        return status === 101
          ? wrong(
              '426 refuses a version the server does not speak, but this request asks for 13, the version of RFC 6455. Is anything else wrong?',
            )
          : wrong(
              `426 answers a version the server does not speak (RFC 6455 §4.4); this request asks for version 13, so the problem lies elsewhere.${where}`,
            );
      case '400':
        return status === 101
          ? wrong(
              'Every rule of RFC 6455 §4.2.1 holds here: GET, HTTP/1.1, Host, Upgrade: websocket, Connection: Upgrade, a 16-byte key, version 13. Nothing is malformed.',
            )
          : wrong(
              'The request is well-formed; the server simply does not speak the version it asks for. RFC 6455 §4.2.2 has its own answer for that, one that also lists the versions the server does speak.',
            );
      default:
        return wrong('Choose one of the listed statuses.');
    }
  },
});

// ---- 2. Which headers must every opening handshake carry? ---------------------------------------

export interface RequiredParams {
  /** Header names, in the order shown. */
  readonly headers: readonly string[];
}

const REQUIRED = ['Host', 'Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version'];
const NOT_REQUIRED: Readonly<Record<string, string>> = {
  Origin:
    'Origin is required only of browsers (RFC 6455 §4.1): a client that is not a browser may leave it out, and servers accept it (RFC 6455 §10.2).',
  'Sec-WebSocket-Protocol':
    'Sec-WebSocket-Protocol is optional: a client sends it only when it wants a subprotocol (RFC 6455 §4.1).',
  'Sec-WebSocket-Extensions':
    'Sec-WebSocket-Extensions is optional: a client sends it only to offer extensions such as permessage-deflate (RFC 6455 §4.1, §9.1).',
  'Sec-WebSocket-Accept':
    'Sec-WebSocket-Accept belongs to the server’s 101 response, not to the request (RFC 6455 §4.2.2).',
  'Content-Length':
    'Content-Length announces a body, and an opening handshake has none: it is a GET whose head ends with the empty line.',
  Cookie:
    'Cookie is an ordinary HTTP header a browser may add, for instance for authentication; RFC 6455 does not require it (RFC 6455 §4.1, §10.5).',
};

export const handshakeRequiredHeaders = defineExercise<RequiredParams>({
  id: 'handshake-required-headers',
  chapter: 'handshake',
  kind: 'choice',
  title: 'The headers every handshake needs',
  multiple: true,
  generate(rng) {
    const required = rng.shuffle(REQUIRED).slice(0, rng.int(3, 5));
    const others = rng.shuffle(Object.keys(NOT_REQUIRED)).slice(0, rng.int(2, 4));
    return { headers: rng.shuffle([...required, ...others]) };
  },
  prompt: () => ({
    text: 'Which of these headers must every client’s opening handshake contain, whatever the client (RFC 6455 §4.1)? Choose all that apply.',
  }),
  choices: (params) => params.headers.map((name) => ({ id: name, label: name })),
  hints: () => [
    'RFC 6455 §4.1 lists what a client’s handshake must contain; some headers are optional, and one of these belongs to the response.',
    'HTTP/1.1 itself requires one of them in every request (RFC 9112 §3.2).',
    'Five headers are always required: Host, Upgrade, Connection, Sec-WebSocket-Key and Sec-WebSocket-Version.',
  ],
  reveal: (params) =>
    `Required here: ${params.headers.filter((h) => REQUIRED.includes(h)).join(', ')}. ${params.headers
      .filter((h) => !REQUIRED.includes(h))
      .map((h) => NOT_REQUIRED[h])
      .join(' ')}`,
  check(params, answer) {
    const chosen = new Set(answer);
    const extra = [...chosen].filter((h) => params.headers.includes(h) && !REQUIRED.includes(h));
    const missed = params.headers.filter((h) => REQUIRED.includes(h) && !chosen.has(h));
    if (extra.length === 0 && missed.length === 0) return right;
    const reasons = [
      ...extra.map((h) => NOT_REQUIRED[h] ?? `${h} is not required.`),
      ...missed.map(
        (h) =>
          `You left out ${h}, which every handshake needs: ${explainHeader(h)?.request ?? ''} (${explainHeader(h)?.section ?? 'RFC 6455 §4.1'})`,
      ),
    ];
    return wrong(reasons.join(' '), [...extra, ...missed]);
  },
});

// ---- 3. Which port does the WebSocket use after the 101? --------------------------------------

export interface PortParams {
  readonly serverPort: number;
  readonly port: number;
  readonly otherPort: number;
  readonly conn: number;
  readonly otherConn: number;
}

export const handshakeSamePort = defineExercise<PortParams>({
  id: 'handshake-same-port',
  chapter: 'handshake',
  kind: 'short-answer',
  title: 'The port after the 101',
  label: 'Client port',
  generate(rng) {
    const port = rng.int(32768, 60999);
    let otherPort = rng.int(32768, 60999);
    if (otherPort === port) otherPort = port + 1;
    const conn = rng.int(2, 40);
    return {
      serverPort: rng.pick([6455, 8080, 80]),
      port,
      otherPort,
      conn,
      otherConn: conn + rng.int(1, 3),
    };
  },
  prompt: (p) => ({
    text: `The lab server printed this about two connections. From which client port does connection #${p.conn}'s text frame arrive?`,
    code: [
      `[${p.conn}] connection opened  127.0.0.1:${p.port} → 127.0.0.1:${p.serverPort} (TCP)`,
      `[${p.conn}] C→S handshake request  GET /echo HTTP/1.1  (echo, 158 bytes)`,
      `[${p.otherConn}] connection opened  127.0.0.1:${p.otherPort} → 127.0.0.1:${p.serverPort} (TCP)`,
      `[${p.otherConn}] C→S handshake request  GET /echo HTTP/1.1  (echo, 113 bytes)`,
      `[${p.conn}] S→C handshake response  101 Switching Protocols  (129 bytes)`,
      `[${p.otherConn}] S→C handshake response  400 Bad Request  (109 bytes)`,
      `[${p.otherConn}] S→C FIN sent: the server will send no more bytes (TCP half-close)`,
      `[${p.conn}] C→S text frame FIN=1 MASK=1 len=5 (7-bit) key=37fa213d  "Hello" (masked on the wire)`,
    ].join('\n'),
  }),
  hints: (p) => [
    'A 101 does not open anything new: what happens to the TCP connection that carried the request?',
    `Follow connection #${p.conn} only; the number in brackets names the connection.`,
    `In "connection opened A → B", A is the client's address and port, B the server's.`,
  ],
  reveal: (p) =>
    `${p.port}: connection #${p.conn} was opened from port ${p.port}, and after the 101 the same TCP connection carries the frames (RFC 6455 §4.2.2, §5).`,
  check(p, answer) {
    const read = readInteger(answer);
    if (!read.ok) return wrong(read.why);
    if (read.value === p.port) return right;
    if (read.value === p.serverPort) {
      return wrong(
        `${p.serverPort} is the server's port, the right-hand side of →; the question asks for the client's.`,
      );
    }
    if (read.value === p.otherPort) {
      return wrong(
        `Port ${p.otherPort} belongs to connection #${p.otherConn}, which got a 400 and was closed; follow #${p.conn}.`,
      );
    }
    return wrong(
      `No line shows port ${read.value}. A 101 does not make a new TCP connection: the frame arrives on the connection that carried the request, so its port is in that connection's "connection opened" line.`,
    );
  },
});

// ---- 4. The life of one connection, in order ---------------------------------------------------

export interface OrderParams {
  readonly port: number;
  readonly serverPort: number;
  /** Item ids in the learner's starting order. */
  readonly order: readonly string[];
}

const STEPS = ['tcp', 'request', 'response', 'client-frame', 'server-frame', 'close', 'fin'];

/** Why a step must come after the one before it. */
const AFTER: Readonly<Record<string, string>> = {
  request:
    'The request is the first thing sent on the TCP connection; it needs the connection to exist.',
  response: 'The 101 answers the request, so it cannot come before it.',
  'client-frame':
    'A client must wait for the server’s 101 before it sends any frame (RFC 6455 §4.1); until then the connection speaks HTTP.',
  'server-frame': 'An echo server sends back what it received, so its frame follows yours.',
  close: 'The closing handshake ends a connection that has done its work; the messages come first.',
  fin: 'TCP closes after the closing handshake, and the server should be the first to send its FIN (RFC 6455 §7.1.1).',
};

function stepLabel(id: string, p: { port: number; serverPort: number }): string {
  switch (id) {
    case 'tcp':
      return `TCP connects client port ${p.port} to server port ${p.serverPort}`;
    case 'request':
      return 'The client sends GET /echo HTTP/1.1 with Upgrade: websocket and its Sec-WebSocket-Key';
    case 'response':
      return 'The server sends HTTP/1.1 101 Switching Protocols with Sec-WebSocket-Accept';
    case 'client-frame':
      return 'The client sends a masked text frame';
    case 'server-frame':
      return 'The server sends the same text back in an unmasked frame';
    case 'close':
      return 'The client sends a close frame and the server answers with one';
    default:
      return 'The server sends its TCP FIN, then the client sends its own';
  }
}

export const handshakeOrder = defineExercise<OrderParams>({
  id: 'handshake-order',
  chapter: 'handshake',
  kind: 'ordering',
  title: 'The life of one connection',
  generate(rng) {
    let order = rng.shuffle(STEPS);
    while (order.every((id, i) => id === STEPS[i])) order = rng.shuffle(STEPS);
    return { port: rng.int(32768, 60999), serverPort: rng.pick([6455, 80, 8080]), order };
  },
  prompt: () => ({
    text: 'A client opens a WebSocket to an echo server, sends one text message, gets it back and closes. Put what happens on the wire in order, first at the top.',
  }),
  items: (p) => p.order.map((id) => ({ id, label: stepLabel(id, p) })),
  hints: () => [
    'Everything here happens on one TCP connection: it has to exist first, and it ends last.',
    'HTTP comes before frames: no frame may be sent before the 101 (RFC 6455 §4.1).',
    'After the frames comes the closing handshake, and then TCP’s FIN, which the server should send first (RFC 6455 §7.1.1).',
  ],
  reveal: (p) => STEPS.map((id, i) => `${i + 1}. ${stepLabel(id, p)}`).join('\n'),
  check(p, answer) {
    if (answer.length !== STEPS.length || STEPS.some((id) => !answer.includes(id))) {
      return wrong(`Order all ${STEPS.length} steps, each once.`);
    }
    const wrongIds = answer.filter((id, i) => id !== STEPS[i]);
    if (wrongIds.length === 0) return right;
    // The first step placed before one it must follow.
    for (let i = 0; i < answer.length; i++) {
      const id = answer[i] as string;
      const needs = STEPS.slice(0, STEPS.indexOf(id));
      const missing = needs.find((before) => !answer.slice(0, i).includes(before));
      if (missing !== undefined) {
        const later = STEPS[STEPS.indexOf(missing) + 1] as string;
        return wrong(
          `“${stepLabel(id, p)}” comes too early: it must follow “${stepLabel(missing, p)}”. ${AFTER[later] ?? ''}`,
          wrongIds,
        );
      }
    }
    return wrong('Some steps are out of order.', wrongIds);
  },
});

// ---- 5 and 6. Live: a handshake typed by hand, and one refused for its version ------------------

export interface LiveParams {
  /** A query value that marks this learner's attempt, e.g. `3fa91c`. */
  readonly tag: string;
}

type RequestEvent = Extract<LabEvent, { type: 'handshake-request' }>;
type ResponseEvent = Extract<LabEvent, { type: 'handshake-response' }>;

/** The last request carrying `?name=tag`, with the response to it on the same connection. */
function attempt(
  events: readonly LabEvent[],
  name: string,
  tag: string,
): { request: RequestEvent; response: ResponseEvent | null } | null {
  let request: RequestEvent | null = null;
  let response: ResponseEvent | null = null;
  for (const event of events) {
    if (event.type === 'handshake-request') {
      const query = event.target.split('?', 2)[1] ?? '';
      if (new URLSearchParams(query).get(name)?.toLowerCase() === tag) {
        request = event;
        response = null;
      }
    } else if (
      event.type === 'handshake-response' &&
      request !== null &&
      event.conn === request.conn &&
      event.seq > request.seq
    ) {
      response ??= event;
    }
  }
  return request === null ? null : { request, response };
}

const failedOf = (request: RequestEvent) =>
  request.findings.filter((f) => !f.ok && !f.informational);

function refusal(request: RequestEvent, response: ResponseEvent): string {
  const failed = failedOf(request);
  const answered = `The server answered ${response.status} ${response.reason}`;
  if (response.status === 404) {
    return `${answered}: there is no WebSocket endpoint at ${request.target.split('?')[0]}. Use the path /echo.`;
  }
  if (response.status === 403) {
    return `${answered}: it refused the Host or Origin you sent (RFC 6455 §10.2). Send Host with the lab server's own address, and no Origin.`;
  }
  if (failed.length === 0) return `${answered}.`;
  return `${answered}: ${failed.map((f) => f.explanation).join(' ')}`;
}

export const handshakeByHand = defineExercise<LiveParams>({
  id: 'handshake-by-hand',
  chapter: 'handshake',
  kind: 'live',
  title: 'A handshake typed by hand',
  labPath: '/handshake/',
  generate: (rng) => ({ tag: hexTag(rng) }),
  prompt: (p) => ({
    text: `In the terminal of this chapter’s lab, type a complete opening handshake yourself, line by line, and get a 101. Its request line must be exactly this (the query marks your attempt):`,
    code: `GET /echo?by-hand=${p.tag} HTTP/1.1`,
  }),
  hints: (p) => [
    'After the request line come Host, Upgrade, Connection, Sec-WebSocket-Key and Sec-WebSocket-Version, one per line, then an empty line.',
    'Host is the lab server’s address as in your browser’s address bar, e.g. 127.0.0.1:6455. For the key, RFC 6455’s own sample key will do: dGhlIHNhbXBsZSBub25jZQ==',
    `GET /echo?by-hand=${p.tag} HTTP/1.1, Host: 127.0.0.1:6455, Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==, Sec-WebSocket-Version: 13, then Enter on an empty line.`,
  ],
  reveal: (p) =>
    [
      `GET /echo?by-hand=${p.tag} HTTP/1.1`,
      'Host: 127.0.0.1:6455 (your lab server’s address)',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      '(an empty line)',
    ].join('\n'),
  check(p, events) {
    const found = attempt(events, 'by-hand', p.tag);
    if (found === null || found.response === null) return null;
    if (found.response.status === 101) return right;
    return wrong(refusal(found.request, found.response));
  },
});

export const handshakeRefusedVersion = defineExercise<LiveParams>({
  id: 'handshake-refused-version',
  chapter: 'handshake',
  kind: 'live',
  title: 'Refused for its version',
  labPath: '/handshake/',
  generate: (rng) => ({ tag: hexTag(rng) }),
  prompt: (p) => ({
    text: 'Send the lab server a handshake it refuses with 426 Upgrade Required because of the version it asks for, and for no other reason: every other rule of RFC 6455 §4.2.1 must hold. Use this request line:',
    code: `GET /echo?refuse=${p.tag} HTTP/1.1`,
  }),
  hints: () => [
    'Start from a valid request (the lab can paste one) and change one header.',
    'The header that names the version is Sec-WebSocket-Version; the server speaks only 13.',
    'Send Sec-WebSocket-Version: 8 and keep Upgrade, Connection, Host and the 16-byte key as they are.',
  ],
  reveal: (p) =>
    `GET /echo?refuse=${p.tag} HTTP/1.1 with Host, Upgrade: websocket, Connection: Upgrade and a valid key, but Sec-WebSocket-Version: 8. The server answers 426 with Sec-WebSocket-Version: 13 (RFC 6455 §4.2.2, §4.4).`,
  check(p, events) {
    const found = attempt(events, 'refuse', p.tag);
    if (found === null || found.response === null) return null;
    const { request, response } = found;
    const failed = failedOf(request).map((f) => f.rule);
    if (response.status === 426 && failed.length === 1 && failed[0] === 'request-version') {
      return right;
    }
    if (response.status === 101) {
      return wrong(
        'The server accepted that one with 101: its Sec-WebSocket-Version was 13. Ask for another version.',
      );
    }
    if (response.status === 426 && failed.includes('request-upgrade')) {
      return wrong(
        'That 426 came because the request had no Upgrade header, so the server treated it as a plain GET to a WebSocket-only path. Keep Upgrade: websocket and change only the version.',
      );
    }
    const others = failedOf(request).filter((f) => f.rule !== 'request-version');
    if (others.length > 0) {
      return wrong(
        `${refusal(request, response)} A 426 for the version comes only when the version is the one thing wrong: fix ${others.map((f) => f.header ?? 'the request line').join(', ')}.`,
      );
    }
    return wrong(refusal(request, response));
  },
});

export const handshakeExercises = [
  handshakeStatus,
  handshakeRequiredHeaders,
  handshakeSamePort,
  handshakeOrder,
  handshakeByHand,
  handshakeRefusedVersion,
];
