/**
 * Exercises of chapter 11, WebSockets beyond HTTP/1.1: the extended CONNECT of RFC 8441 (HTTP/2)
 * and RFC 9220 (HTTP/3), and how WebSocket compares with Server-Sent Events and WebTransport.
 */
import { readHex } from '../normalise.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

const right: Verdict = { correct: true, feedback: '' };
const wrong = (feedback: string, wrongIds?: readonly string[]): Verdict => ({
  correct: false,
  feedback,
  ...(wrongIds === undefined ? {} : { wrong: wrongIds }),
});

type Http = 'HTTP/1.1' | 'HTTP/2' | 'HTTP/3';

// ---- 1. The fields of the opening request ------------------------------------------------------

export interface FieldsParams {
  readonly http: Http;
  readonly path: string;
  readonly order: readonly string[];
}

interface FieldOption {
  readonly label: (p: FieldsParams) => string;
  /** In which versions the opening request carries it. */
  readonly in: readonly Http[];
  readonly why: string;
}

const FIELDS: Readonly<Record<string, FieldOption>> = {
  'method-get': {
    label: () => 'GET as the method',
    in: ['HTTP/1.1'],
    why: 'Over HTTP/1.1 the handshake is a GET (RFC 6455 §4.1); over HTTP/2 and HTTP/3 it is an extended CONNECT (RFC 8441 §4, RFC 9220 §3).',
  },
  'method-connect': {
    label: () => ':method = CONNECT',
    in: ['HTTP/2', 'HTTP/3'],
    why: 'RFC 8441 §4 (and RFC 9220 §3 for HTTP/3) opens the WebSocket with CONNECT; HTTP/1.1 uses GET.',
  },
  protocol: {
    label: () => ':protocol = websocket',
    in: ['HTTP/2', 'HTTP/3'],
    why: 'The :protocol pseudo-header, new in RFC 8441 §4, names what the stream will carry; HTTP/1.1 has no pseudo-headers and says it with Upgrade.',
  },
  'scheme-path': {
    label: (p) => `:scheme and :path (${p.path})`,
    in: ['HTTP/2', 'HTTP/3'],
    why: 'A plain CONNECT leaves out :scheme and :path, but the extended CONNECT must carry them, so the server knows which resource the WebSocket is for (RFC 8441 §4).',
  },
  upgrade: {
    label: () => 'Upgrade: websocket and Connection: Upgrade',
    in: ['HTTP/1.1'],
    why: 'Connection-specific fields such as Connection and Upgrade are forbidden in HTTP/2 and HTTP/3 (RFC 9113 §8.2.2, RFC 9114 §4.2); HTTP/1.1 needs both (RFC 6455 §4.1).',
  },
  key: {
    label: () => 'Sec-WebSocket-Key',
    in: ['HTTP/1.1'],
    why: 'Over HTTP/2 and HTTP/3 the key and Sec-WebSocket-Accept are not used: the extended CONNECT itself shows the server understood the request (RFC 8441 §5).',
  },
  version: {
    label: () => 'Sec-WebSocket-Version: 13',
    in: ['HTTP/1.1', 'HTTP/2', 'HTTP/3'],
    why: 'Sec-WebSocket-Version stays in every version of the handshake (RFC 6455 §4.1, RFC 8441 §5).',
  },
};

export function fieldsAnswer(p: FieldsParams): string[] {
  return Object.keys(FIELDS).filter((id) => FIELDS[id]?.in.includes(p.http));
}

export const beyondFields = defineExercise<FieldsParams>({
  id: 'beyond-http1-fields',
  chapter: 'beyond-http1',
  kind: 'choice',
  title: 'What the opening request carries',
  multiple: true,
  generate(rng) {
    return {
      http: rng.pick<Http>(['HTTP/2', 'HTTP/2', 'HTTP/3', 'HTTP/1.1']),
      path: rng.pick(['/chat', '/echo', '/live?room=7', '/socket']),
      order: rng.shuffle(Object.keys(FIELDS)),
    };
  },
  prompt: (p) => ({
    text: `A browser opens a WebSocket to ${p.path} over ${p.http}${p.http === 'HTTP/1.1' ? '' : ', on a connection whose server allowed it'}. Which of these does its opening request carry? Choose every one.`,
  }),
  choices: (p) => p.order.map((id) => ({ id, label: FIELDS[id]?.label(p) ?? id })),
  hints: (p) => [
    p.http === 'HTTP/1.1'
      ? 'Over HTTP/1.1 the request is the one of RFC 6455 §4.1.'
      : `Over ${p.http} the request is an extended CONNECT (RFC 8441 §4${p.http === 'HTTP/3' ? ', reused by RFC 9220 §3' : ''}).`,
    'Which header fields are about one connection only, and so cannot exist in HTTP/2 or HTTP/3 (RFC 9113 §8.2.2)?',
    'What replaces the key and accept check when the server has already announced SETTINGS_ENABLE_CONNECT_PROTOCOL?',
  ],
  reveal: (p) =>
    Object.keys(FIELDS)
      .map((id) => {
        const f = FIELDS[id] as FieldOption;
        return `${f.in.includes(p.http) ? 'Yes' : 'No'}: ${f.label(p)}. ${f.why}`;
      })
      .join('\n'),
  check(p, answer) {
    const expected = new Set(fieldsAnswer(p));
    const chosen = new Set(answer);
    const extra = [...chosen].filter((id) => !expected.has(id));
    const missing = [...expected].filter((id) => !chosen.has(id));
    if (extra.length === 0 && missing.length === 0) return right;
    const id = (extra[0] ?? missing[0]) as string;
    const f = FIELDS[id] as FieldOption;
    return wrong(
      `${extra.length > 0 ? `Not over ${p.http}` : `Missing for ${p.http}`}: ${f.label(p)}. ${f.why}`,
      [...extra, ...missing],
    );
  },
});

// ---- 2. What means success ------------------------------------------------------------------

export interface SuccessParams {
  readonly http: Http;
}

const SUCCESS_CHOICES: readonly Choice[] = [
  { id: '101', label: '101 Switching Protocols, with Sec-WebSocket-Accept' },
  { id: '200', label: ':status 200 (any 2xx), no Sec-WebSocket-Accept' },
  { id: '101-h2', label: ':status 101' },
  { id: 'settings', label: 'A SETTINGS frame with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1' },
];

export const beyondSuccess = defineExercise<SuccessParams>({
  id: 'beyond-http1-success',
  chapter: 'beyond-http1',
  kind: 'choice',
  title: 'What says yes',
  multiple: false,
  generate: (rng) => ({ http: rng.pick<Http>(['HTTP/1.1', 'HTTP/2', 'HTTP/2', 'HTTP/3']) }),
  prompt: (p) => ({
    text: `A client asks for a WebSocket over ${p.http}. Which answer of the server means the WebSocket is open, so that frames may flow?`,
  }),
  choices: () => SUCCESS_CHOICES,
  hints: (p) => [
    p.http === 'HTTP/1.1'
      ? 'Over HTTP/1.1 the connection itself changes protocol.'
      : `Over ${p.http} the connection stays ${p.http}; only one stream carries the WebSocket.`,
    'Status 101 exists to switch a whole connection (RFC 9110 §15.2.2); HTTP/2 does not allow it (RFC 9113 §8.6).',
    'A SETTINGS parameter only says the server could accept an extended CONNECT; it answers no particular request.',
  ],
  reveal: (p) =>
    p.http === 'HTTP/1.1'
      ? '101 Switching Protocols, with Sec-WebSocket-Accept computed from the key (RFC 6455 §4.2.2).'
      : `:status 200 (any 2xx) on the CONNECT stream: the stream now carries the WebSocket; there is no key and no Sec-WebSocket-Accept (RFC 8441 §5${p.http === 'HTTP/3' ? ', RFC 9220 §3' : ''}).`,
  check(p, answer) {
    if (answer.length !== 1) return wrong('Choose exactly one answer.');
    const chosen = answer[0] as string;
    const expected = p.http === 'HTTP/1.1' ? '101' : '200';
    if (chosen === expected) return right;
    switch (chosen) {
      case '101':
        return wrong(
          `101 switches the whole connection (RFC 9110 §15.2.2), and ${p.http} has no such switch (RFC 9113 §8.6): its WebSocket lives on one stream, accepted with a 2xx (RFC 8441 §5).`,
        );
      case '101-h2':
        return wrong(
          p.http === 'HTTP/1.1'
            ? 'HTTP/1.1 has no pseudo-headers such as :status; and a 101 without Sec-WebSocket-Accept is one the client must reject (RFC 6455 §4.1).'
            : `${p.http} forbids 101 (RFC 9113 §8.6): the connection is not switched, only a stream is used.`,
        );
      case '200':
        return wrong(
          'Over HTTP/1.1 a 200 means the server treated the request as an ordinary GET: the client must fail the connection unless it gets 101 (RFC 6455 §4.1).',
        );
      default:
        return wrong(
          p.http === 'HTTP/1.1'
            ? 'SETTINGS frames exist only in HTTP/2 and HTTP/3.'
            : 'SETTINGS_ENABLE_CONNECT_PROTOCOL only allows the client to send an extended CONNECT (RFC 8441 §3); the answer to the CONNECT itself is what opens the WebSocket.',
        );
    }
  },
});

// ---- 3. The exchange in order -----------------------------------------------------------------

export interface OrderParams {
  readonly order: readonly string[];
  readonly message: string;
}

const STEPS = ['preface', 'settings', 'connect', 'ok', 'data-in', 'data-out', 'end'] as const;

function stepLabel(id: string, p: OrderParams): string {
  return (
    {
      preface: 'Client: connection preface and its SETTINGS',
      settings: 'Server: SETTINGS with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1',
      connect: 'Client: HEADERS on stream 1, :method CONNECT, :protocol websocket',
      ok: 'Server: HEADERS on stream 1, :status 200',
      'data-in': `Client: DATA on stream 1 carrying a masked text frame "${p.message}"`,
      'data-out': `Server: DATA on stream 1 carrying the unmasked echo "${p.message}"`,
      end: 'Close frames both ways, then END_STREAM on stream 1; the connection stays',
    }[id] ?? id
  );
}

const ORDER_WHY: Readonly<Record<string, string>> = {
  settings:
    'The server announces the setting in its SETTINGS, which it sends right after the client’s preface (RFC 9113 §3.4).',
  connect:
    'The client may send :protocol only after the server’s SETTINGS allowed it (RFC 8441 §3).',
  ok: 'The server answers the CONNECT on the stream the CONNECT opened.',
  'data-in': 'WebSocket frames may flow only once the 2xx has arrived (RFC 8441 §5).',
  'data-out': 'An echo follows the message it echoes.',
  end: 'The closing handshake ends the stream, and it comes last (RFC 8441 §5, RFC 6455 §7).',
};

export const beyondOrder = defineExercise<OrderParams>({
  id: 'beyond-http1-order',
  chapter: 'beyond-http1',
  kind: 'ordering',
  title: 'A WebSocket over HTTP/2, in order',
  generate(rng) {
    let order = rng.shuffle(STEPS);
    while (order.every((id, i) => id === STEPS[i])) order = rng.shuffle(STEPS);
    return { order, message: rng.pick(['Hello', 'ping?', 'über h2', 'tick 42']) };
  },
  prompt: () => ({
    text: 'A client opens a WebSocket over a new HTTP/2 connection (RFC 8441), sends one text message, gets the echo and closes. Put the frames in order, first at the top.',
  }),
  items: (p) => p.order.map((id) => ({ id, label: stepLabel(id, p) })),
  hints: () => [
    'An HTTP/2 connection begins with the client’s preface; the server’s SETTINGS follow (RFC 9113 §3.4).',
    'The client must not send :protocol before the server allowed it (RFC 8441 §3).',
    'Frames of the WebSocket travel as DATA on the CONNECT’s stream, once the 2xx arrived (RFC 8441 §5).',
  ],
  reveal: (p) => STEPS.map((id, i) => `${i + 1}. ${stepLabel(id, p)}`).join('\n'),
  check(p, answer) {
    if (answer.length !== STEPS.length || STEPS.some((id) => !answer.includes(id))) {
      return wrong(`Order all ${STEPS.length} steps, each once.`);
    }
    const wrongIds = answer.filter((id, i) => id !== STEPS[i]);
    if (wrongIds.length === 0) return right;
    for (let i = 0; i < answer.length; i++) {
      const id = answer[i] as string;
      const needs = STEPS.slice(0, STEPS.indexOf(id as (typeof STEPS)[number]));
      const missing = needs.find((before) => !answer.slice(0, i).includes(before));
      if (missing !== undefined) {
        return wrong(
          `“${stepLabel(id, p)}” comes too early: it must follow “${stepLabel(missing, p)}”. ${ORDER_WHY[id] ?? ''}`,
          wrongIds,
        );
      }
    }
    return wrong('Some steps are out of order.', wrongIds);
  },
});

// ---- 4. Which technology fits -------------------------------------------------------------------

export interface FitParams {
  readonly scenario: string;
}

const TECHS: readonly Choice[] = [
  { id: 'websocket', label: 'WebSocket' },
  { id: 'sse', label: 'Server-Sent Events (EventSource)' },
  { id: 'webtransport', label: 'WebTransport' },
  { id: 'fetch', label: 'Plain HTTP requests (fetch)' },
];

const FITS: Readonly<
  Record<string, { text: string; answer: string; why: string; wrong: Record<string, string> }>
> = {
  feed: {
    text: 'A news page shows headlines the server pushes as they happen; the browser never sends anything back on that channel, and after a network drop it should pick up where it left off by itself.',
    answer: 'sse',
    why: 'One-way, server to browser, text events, with automatic reconnection and Last-Event-ID to resume: exactly what EventSource gives (WHATWG HTML §9.2).',
    wrong: {
      websocket:
        'A WebSocket would work, but you would write the reconnection and the resume point yourself; EventSource does both, and nothing flows the other way here.',
      webtransport:
        'WebTransport needs HTTP/3 and brings datagrams and many streams that one ordered feed of text does not need.',
      fetch:
        'Polling with fetch would delay every headline to the next poll and repeat headers each time.',
    },
  },
  chat: {
    text: 'A chat where every browser sends and receives small text messages at any moment, through corporate networks that may allow only HTTP/1.1 and TLS.',
    answer: 'websocket',
    why: 'Both directions at any time, over one connection that starts as HTTP/1.1 and works through TLS on port 443: WebSocket (RFC 6455 §1.1).',
    wrong: {
      sse: 'EventSource carries only server-to-browser events; each message the browser sends would need its own request.',
      webtransport:
        'WebTransport runs over HTTP/3, on QUIC over UDP, which networks that allow only HTTP/1.1 and TLS block.',
      fetch:
        'Plain requests cannot deliver a message to the browser the moment another user sends it.',
    },
  },
  game: {
    text: 'A multiplayer game sends position updates 30 times a second; a late update is worthless, and a lost packet must not hold up the ones after it.',
    answer: 'webtransport',
    why: 'WebTransport offers unreliable datagrams over HTTP/3 (QUIC), so a lost update does not block the next one; WebSocket’s single ordered byte stream over TCP would hold every later update until the lost one is resent.',
    wrong: {
      websocket:
        'WebSocket rides one ordered TCP stream: a lost segment holds up every later update until it is resent (head-of-line blocking), which is what this game must avoid.',
      sse: 'EventSource is one-way, text only, and ordered over one connection: the browser could not send its position on it.',
      fetch: 'A request per update costs a round trip and headers 30 times a second.',
    },
  },
  upload: {
    text: 'A settings page saves a form when the user presses Save, and shows "saved".',
    answer: 'fetch',
    why: 'One request and one response when the user acts: plain HTTP does it with nothing held open.',
    wrong: {
      websocket:
        'Nothing needs to flow between saves; a connection held open costs the server for no gain.',
      sse: 'Nothing is pushed from the server; the user’s Save is a request.',
      webtransport: 'No streams or datagrams are needed for a single request and response.',
    },
  },
};

export const beyondFit = defineExercise<FitParams>({
  id: 'beyond-http1-fit',
  chapter: 'beyond-http1',
  kind: 'choice',
  title: 'Which one fits?',
  multiple: false,
  generate: (rng) => ({ scenario: rng.pick(Object.keys(FITS)) }),
  prompt: (p) => ({ text: `${FITS[p.scenario]?.text ?? ''} Which fits best?` }),
  choices: () => TECHS,
  hints: () => [
    'Which way does data flow: server to browser only, or both ways?',
    'Must every message arrive, in order, or is a late one worthless?',
    'What must the network between allow: HTTP/1.1 over TCP, or HTTP/3 over UDP?',
  ],
  reveal: (p) => {
    const f = FITS[p.scenario];
    return `${TECHS.find((t) => t.id === f?.answer)?.label}. ${f?.why}`;
  },
  check(p, answer) {
    if (answer.length !== 1) return wrong('Choose exactly one answer.');
    const f = FITS[p.scenario];
    if (f === undefined) return wrong('Unknown scenario: draw new values.');
    const chosen = answer[0] as string;
    if (chosen === f.answer) return right;
    return wrong(f.wrong[chosen] ?? 'Choose one of the listed answers.');
  },
});

// ---- 5. The SETTINGS parameter, in bytes ------------------------------------------------------

export interface SettingParams {
  readonly value: 0 | 1;
}

export const beyondSetting = defineExercise<SettingParams>({
  id: 'beyond-http1-setting',
  chapter: 'beyond-http1',
  kind: 'short-answer',
  title: 'The setting that allows it, in bytes',
  label: 'The 6 bytes, in hex',
  generate: (rng) => ({ value: rng.pick([0, 1] as const) }),
  prompt: (p) => ({
    text: `A SETTINGS frame’s payload is a list of parameters, each a 16-bit identifier and a 32-bit value (RFC 9113 §6.5.1). Write the 6 bytes of the parameter by which a server says it ${p.value === 1 ? 'accepts' : 'does not accept'} the extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 §3).`,
  }),
  hints: (p) => [
    'RFC 8441 §3 gives SETTINGS_ENABLE_CONNECT_PROTOCOL the identifier 0x8.',
    'Both numbers are big-endian: 2 bytes for the identifier, then 4 for the value.',
    `The value is ${p.value}.`,
  ],
  reveal: (p) => `00 08 00 00 00 0${p.value}: identifier 0x0008, value ${p.value}.`,
  check(p, answer) {
    const read = readHex(answer);
    if (!read.ok) return wrong(read.why);
    const b = Array.from(read.value);
    const expected = [0, 8, 0, 0, 0, p.value];
    if (b.length === 6 && b.every((x, i) => x === expected[i])) return right;
    if (b.length !== 6) {
      return wrong(
        `That is ${b.length} byte${b.length === 1 ? '' : 's'}: a parameter is 2 bytes of identifier and 4 of value (RFC 9113 §6.5.1).`,
      );
    }
    if (b[0] === 8 && b[1] === 0) {
      return wrong(
        'The identifier is big-endian: 0x0008 is written 00 08 (RFC 9113 §1 network byte order).',
      );
    }
    if (b[0] !== 0 || b[1] !== 8) {
      return wrong(
        `The identifier ${((b[0] ?? 0) * 256 + (b[1] ?? 0)).toString(16).padStart(4, '0')} is not SETTINGS_ENABLE_CONNECT_PROTOCOL, which is 0x0008 (RFC 8441 §3).`,
      );
    }
    if (b[5] === 1 - p.value && b[2] === 0 && b[3] === 0 && b[4] === 0) {
      return wrong(
        `The value must be ${p.value}: ${p.value === 1 ? '1 allows' : '0 does not allow'} the extended CONNECT.`,
      );
    }
    return wrong(`The value is 32 bits, big-endian: ${p.value} is 00 00 00 0${p.value}.`);
  },
});

export const beyondHttp1Exercises = [
  beyondFields,
  beyondSuccess,
  beyondOrder,
  beyondFit,
  beyondSetting,
];
