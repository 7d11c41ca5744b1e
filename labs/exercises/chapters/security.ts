/**
 * Exercises of chapter 10, security. The allow-list rule below is the lab server's own
 * (lab-server/trust.ts: exact, case-insensitive comparison with the lab's own origins, the dev
 * server's and the --origin additions); the tests hold it to the real `Trust` class for many
 * seeds. The limits and their answers are those of lab-server/limits.ts and the RFCs.
 */
import type { LabEvent } from '../../../protocol/annotations.ts';
import { encodeFrame } from '../../../protocol/frame-encoder.ts';
import { toHex } from '../../../protocol/frame-parser.ts';
import type { Rng } from '../rng.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

const right: Verdict = { correct: true, feedback: '' };
const wrong = (feedback: string, wrongIds?: readonly string[]): Verdict => ({
  correct: false,
  feedback,
  ...(wrongIds === undefined ? {} : { wrong: wrongIds }),
});

// ---- 1. Which origins does the allow list accept? -----------------------------------------------

/** Astro's dev server, allowed by the lab server besides its own origin (lab-server/trust.ts). */
const DEV_SERVER_PORT = 4321;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The lab server's allow list for a server on loopback at `port` with these --origin values. */
export function allowList(port: number, extra: readonly string[]): Set<string> {
  return new Set([
    ...LOOPBACK_NAMES.map((name) => `http://${name}:${port}`),
    ...LOOPBACK_NAMES.map((name) => `http://${name}:${DEV_SERVER_PORT}`),
    ...extra.map((origin) => origin.replace(/\/$/, '').toLowerCase()),
  ]);
}

/** RFC 6455 §10.2 as the lab server applies it: the whole value, compared without case. */
export function originAccepted(origin: string, port: number, extra: readonly string[]): boolean {
  return allowList(port, extra).has(origin.toLowerCase());
}

interface Candidate {
  readonly origin: string;
  /** Why it is accepted or refused, for the feedback. */
  readonly why: string;
}

export interface AllowListParams {
  readonly port: number;
  /** The one --origin the lab was started with. */
  readonly extra: string;
  readonly candidates: readonly Candidate[];
}

const EXTRAS = [
  'http://192.168.1.20:6455',
  'http://10.0.0.7:8080',
  'https://lab.example.test',
  'http://classroom.example:3000',
];

function acceptedCandidates(rng: Rng, port: number, extra: string): Candidate[] {
  const shout = (text: string) => text.replace(/localhost/, 'LOCALHOST');
  return [
    { origin: `http://127.0.0.1:${port}`, why: 'the lab’s own pages by address' },
    { origin: `http://localhost:${port}`, why: 'the lab’s own pages by name' },
    {
      origin: shout(`http://localhost:${port}`),
      why: 'the lab’s own pages: host names compare without regard to case',
    },
    { origin: `http://[::1]:${port}`, why: 'the lab’s own pages over IPv6 loopback' },
    {
      origin: `http://${rng.pick(['localhost', '127.0.0.1'])}:${DEV_SERVER_PORT}`,
      why: 'Astro’s dev server (pnpm dev), which the lab allows too',
    },
    { origin: extra, why: 'the --origin the lab was started with' },
  ];
}

function refusedCandidates(port: number, extra: string): Candidate[] {
  const other = port === 65535 ? port - 1 : port + 1;
  const extraUrl = new URL(extra);
  return [
    {
      origin: 'null',
      why: '“null” is the opaque origin of a sandboxed frame or a file: page; any page can produce it, so it proves nothing',
    },
    {
      origin: `http://localhost.evil.example:${port}`,
      why: 'a look-alike: it starts with “localhost”, but the host is a name under evil.example',
    },
    {
      origin: `http://127.0.0.1.evil.example:${port}`,
      why: 'a look-alike: a name under evil.example that starts with 127.0.0.1',
    },
    {
      origin: `http://127.0.0.1:${other}`,
      why: 'the right address but another port: another origin',
    },
    {
      origin: `https://127.0.0.1:${port}`,
      why: 'the right host and port with another scheme: another origin (RFC 6454 §5)',
    },
    {
      origin: `http://127.0.0.1:${port}/`,
      why: 'an origin never ends with a path, not even “/”; compared exactly, this is not one on the list',
    },
    { origin: 'http://evil.example', why: 'a foreign site' },
    {
      origin: `http://evil.example:${DEV_SERVER_PORT}`,
      why: 'the dev server’s port on a foreign name: the port alone does not make an origin',
    },
    { origin: `http://127.0.0.1`, why: 'no port means port 80, and the lab does not listen there' },
    {
      origin: `${extraUrl.protocol}//${extraUrl.hostname}:${extraUrl.port === '' ? '8443' : Number(extraUrl.port) + 1}`,
      why: 'the --origin host on another port',
    },
  ];
}

export const securityAllowList = defineExercise<AllowListParams>({
  id: 'security-allow-list',
  chapter: 'security',
  kind: 'choice',
  title: 'Which origins get in?',
  multiple: true,
  generate(rng) {
    const port = rng.pick([6455, 8080, 3000, rng.int(1025, 49151)]);
    const extra = rng.pick(EXTRAS);
    const accepted = rng.shuffle(acceptedCandidates(rng, port, extra)).slice(0, rng.int(2, 3));
    const refused = rng.shuffle(refusedCandidates(port, extra)).slice(0, 6 - accepted.length);
    return { port, extra, candidates: rng.shuffle([...accepted, ...refused]) };
  },
  prompt: (p) => ({
    text: `The lab server was started as shown, so it listens on 127.0.0.1:${p.port}. A browser opens WebSocket connections to it from pages with each of these Origin values. Which upgrades does its Origin check let through? Choose all that apply.`,
    code: `pnpm lab --port ${p.port} --origin ${p.extra}`,
  }),
  choices: (p) => p.candidates.map((c, i) => ({ id: String(i), label: c.origin })),
  hints: (p) => [
    'The lab server allows its own pages (http://localhost, 127.0.0.1 or [::1] on its port), Astro’s dev server on port 4321 and each --origin, and nothing else.',
    'The comparison is of the whole value, ignoring case only: no prefix, substring or pattern matching. Scheme, host and port must all be the same.',
    `Check each candidate against the exact strings: http://127.0.0.1:${p.port}, http://localhost:${p.port}, http://[::1]:${p.port}, the same three hosts on port 4321, and ${p.extra.replace(/\/$/, '').toLowerCase()}.`,
  ],
  reveal: (p) =>
    p.candidates
      .map(
        (c) =>
          `${c.origin}: ${originAccepted(c.origin, p.port, [p.extra]) ? 'accepted' : 'refused'} (${c.why}).`,
      )
      .join('\n'),
  check(p, answer) {
    const chosen = new Set(answer);
    const reasons: string[] = [];
    const wrongIds: string[] = [];
    p.candidates.forEach((c, i) => {
      const id = String(i);
      const accepted = originAccepted(c.origin, p.port, [p.extra]);
      if (accepted && !chosen.has(id)) {
        wrongIds.push(id);
        reasons.push(`${c.origin} is accepted: ${c.why}.`);
      } else if (!accepted && chosen.has(id)) {
        wrongIds.push(id);
        reasons.push(`${c.origin} is refused with 403: ${c.why}.`);
      }
    });
    return wrongIds.length === 0 ? right : wrong(reasons.join(' '), wrongIds);
  },
});

// ---- 2. What does each abuse earn? --------------------------------------------------------------

export type Abuse =
  | 'too-big'
  | 'fragments'
  | 'connections'
  | 'idle'
  | 'slow-head'
  | 'unmasked'
  | 'bad-utf8'
  | 'foreign-origin'
  | 'huge-head';

export interface AbuseParams {
  readonly abuse: Abuse;
  /** The numbers in the story. */
  readonly limit: number;
  readonly amount: number;
}

const ANSWERS: readonly Choice[] = [
  { id: '1001', label: 'close 1001 Going Away' },
  { id: '1002', label: 'close 1002 Protocol Error' },
  { id: '1007', label: 'close 1007 Invalid Frame Payload Data' },
  { id: '1008', label: 'close 1008 Policy Violation' },
  { id: '1009', label: 'close 1009 Message Too Big' },
  { id: '403', label: 'HTTP 403 Forbidden' },
  { id: '408', label: 'HTTP 408 Request Timeout' },
  { id: '431', label: 'HTTP 431 Request Header Fields Too Large' },
  { id: '503', label: 'HTTP 503 Service Unavailable' },
];

const ABUSES: Readonly<Record<Abuse, { answer: string; why: string }>> = {
  'too-big': {
    answer: '1009',
    why: 'a message longer than --max-payload is too big to process: 1009 (RFC 6455 §7.4.1, §10.4), sent as soon as the frame header announces the length',
  },
  fragments: {
    answer: '1008',
    why: 'the payload limit never trips on one-byte fragments, so a separate cap on frames per message does, and no code names it more precisely than 1008, the policy violation (RFC 6455 §7.4.1, §10.4)',
  },
  connections: {
    answer: '503',
    why: 'a connection over --max-connections never gets as far as a WebSocket, so there is no close frame to send: the server answers HTTP 503 with Retry-After (RFC 9110 §15.6.4)',
  },
  idle: {
    answer: '1001',
    why: 'the server gives up on a connection that stays silent longer than --idle-timeout and says it is going away: 1001 (RFC 6455 §7.4.1)',
  },
  'slow-head': {
    answer: '408',
    why: 'a request head that does not arrive within --handshake-timeout is still plain HTTP, so the answer is HTTP 408 (RFC 9110 §15.5.9), the slowloris defence',
  },
  unmasked: {
    answer: '1002',
    why: 'a client must mask every frame, and a server must fail the connection when one is not masked: 1002 (RFC 6455 §5.1)',
  },
  'bad-utf8': {
    answer: '1007',
    why: 'a text message must be valid UTF-8; one that is not fails the connection with 1007 (RFC 6455 §8.1, §7.4.1)',
  },
  'foreign-origin': {
    answer: '403',
    why: 'the Origin check runs during the handshake, before any WebSocket exists, so the refusal is HTTP 403 (RFC 6455 §4.2.2, §10.2)',
  },
  'huge-head': {
    answer: '431',
    why: 'a request head over the size the server reads is refused as plain HTTP with 431 (RFC 6585 §5), before it is parsed any further',
  },
};

const CODE_MEANS: Readonly<Record<string, string>> = {
  '1001': '1001 says the endpoint is going away (shutting down, or giving up on a silent peer)',
  '1002': '1002 is for a frame that breaks the protocol’s framing rules',
  '1007': '1007 is for payload data that does not match its type, such as text that is not UTF-8',
  '1008': '1008 is the generic policy violation, used when no more specific code fits',
  '1009': '1009 says a message is bigger than the endpoint will process',
  '403': '403 refuses a handshake from a client the server does not trust',
  '408': '408 answers a request that took too long to arrive',
  '431': '431 answers a request head that is too large',
  '503': '503 says the server cannot take more work now',
};

function story(p: AbuseParams): string {
  const n = (value: number) => value.toLocaleString('en');
  switch (p.abuse) {
    case 'too-big':
      return `The lab server runs with --max-payload ${n(p.limit)}. A client opens /echo and sends one text message of ${n(p.amount)} bytes in a single frame.`;
    case 'fragments':
      return `A client opens /echo and starts a text message, then sends ${n(p.amount)} continuation frames of one byte each, never setting FIN. The server allows at most ${n(p.limit)} frames per message.`;
    case 'connections':
      return `The lab server runs with --max-connections ${n(p.limit)}, and ${n(p.limit)} connections are open. Connection number ${n(p.amount)} arrives with a valid upgrade request.`;
    case 'idle':
      return `The lab server runs with --idle-timeout ${n(p.limit)} (seconds). A client opens /echo, sends one message and then nothing at all for ${n(p.amount)} seconds.`;
    case 'slow-head':
      return `The lab server runs with --handshake-timeout ${n(p.limit)} (seconds). A client connects and sends its upgrade request one byte per second; ${n(p.amount)} seconds later the head is still not finished.`;
    case 'unmasked':
      return `A client opens /echo and sends a text frame of ${n(p.amount)} bytes with the MASK bit set to 0.`;
    case 'bad-utf8':
      return `A client opens /echo and sends a text frame whose ${n(p.amount)}-byte payload ends with the byte 0xC3 and nothing after it.`;
    case 'foreign-origin':
      return `A page on http://evil.example runs new WebSocket("ws://127.0.0.1:${p.limit}/echo") against the lab server, which was started without any --origin.`;
    case 'huge-head':
      return `The lab server reads request heads of up to ${n(p.limit)} bytes. A client sends an upgrade request whose headers total ${n(p.amount)} bytes.`;
  }
}

export const securityAbuse = defineExercise<AbuseParams>({
  id: 'security-abuse',
  chapter: 'security',
  kind: 'choice',
  title: 'What does each abuse earn?',
  multiple: false,
  generate(rng) {
    const abuse = rng.pick(Object.keys(ABUSES) as Abuse[]);
    switch (abuse) {
      case 'too-big': {
        const limit = rng.pick([4096, 65_536, 1_048_576, 16_777_216]);
        return { abuse, limit, amount: limit + rng.int(1, 4096) };
      }
      case 'fragments':
        return { abuse, limit: 1024, amount: rng.pick([2000, 10_000, 100_000]) };
      case 'connections': {
        const limit = rng.pick([64, 512, 2048]);
        return { abuse, limit, amount: limit + 1 };
      }
      case 'idle': {
        const limit = rng.pick([60, 300, 600]);
        return { abuse, limit, amount: limit + rng.int(5, 120) };
      }
      case 'slow-head': {
        const limit = rng.pick([5, 10, 30]);
        return { abuse, limit, amount: limit + rng.int(1, 20) };
      }
      case 'unmasked':
        return { abuse, limit: 0, amount: rng.int(1, 125) };
      case 'bad-utf8':
        return { abuse, limit: 0, amount: rng.int(2, 60) };
      case 'foreign-origin':
        return { abuse, limit: rng.pick([6455, 8080, 3000]), amount: 0 };
      case 'huge-head':
        return { abuse, limit: 8192, amount: rng.int(8193, 64_000) };
    }
  },
  prompt: (p) => ({ text: `${story(p)} What does the lab server answer?` }),
  choices: () => ANSWERS,
  hints: (p) => [
    'First decide when it happens: before the 101 the connection is still HTTP, so the answer is an HTTP status; after it, a close frame with a code (RFC 6455 §7.4.1).',
    ['connections', 'slow-head', 'foreign-origin', 'huge-head'].includes(p.abuse)
      ? 'Here the WebSocket never opened: look at the HTTP statuses.'
      : 'Here the WebSocket is open: look at the close codes, and pick the most specific one.',
    `The limits the lab server sets are in lab-server/limits.ts; ${ABUSES[p.abuse].why.split(':')[0]}.`,
  ],
  reveal: (p) => {
    const answer = ABUSES[p.abuse];
    return `${ANSWERS.find((a) => a.id === answer.answer)?.label}: ${answer.why}.`;
  },
  check(p, answer) {
    if (answer.length !== 1) return wrong('Choose exactly one answer.');
    const chosen = answer[0] ?? '';
    const expected = ABUSES[p.abuse];
    if (chosen === expected.answer) return right;
    const chosenHttp = Number(chosen) < 1000;
    const expectedHttp = Number(expected.answer) < 1000;
    const phase =
      chosenHttp === expectedHttp
        ? ''
        : expectedHttp
          ? ' The WebSocket never opened here, so there is no close frame: the answer is an HTTP status.'
          : ' The WebSocket is already open here, so the answer is a close frame, not an HTTP status.';
    return wrong(
      `${CODE_MEANS[chosen] ?? 'That is not one of the answers'}, which is not what happened.${phase}`,
      [chosen],
    );
  },
});

// ---- 3. Authentication during the handshake ----------------------------------------------------

interface Statement {
  readonly id: string;
  readonly text: string;
  readonly true: boolean;
  readonly why: string;
}

const STATEMENTS: readonly Statement[] = [
  {
    id: 'cookies-sent',
    text: 'A browser sends the site’s cookies with the WebSocket upgrade, even when a page from another site opened the socket, so a server that authenticates by cookie must also check Origin.',
    true: true,
    why: 'the upgrade is an HTTP request like any other, cookies included, and the same-origin policy does not stop it; only the server’s Origin check does (RFC 6455 §10.2, §10.5)',
  },
  {
    id: 'query-logged',
    text: 'A token in the query string (wss://host/live?token=…) can end up in server and proxy access logs, because the request line is what they log.',
    true: true,
    why: 'TLS hides it on the wire, but every server or proxy that terminates TLS sees and usually logs the full request target',
  },
  {
    id: 'no-headers',
    text: 'The browser’s WebSocket API cannot add an Authorization header, or any other header of the page’s choosing, to the upgrade request.',
    true: true,
    why: 'new WebSocket(url, protocols) takes only the URL and subprotocol names; the browser writes every header itself',
  },
  {
    id: 'ticket',
    text: 'A short-lived, single-use ticket fetched over HTTPS just before connecting, and sent with the upgrade, does little harm if it later turns up in a log.',
    true: true,
    why: 'by the time anyone reads the log, the ticket has been used or has expired',
  },
  {
    id: 'protocol-echo',
    text: 'Sending a token as a Sec-WebSocket-Protocol value only works if the server answers with one of the offered values; if it picks the token itself, the token comes back in the 101.',
    true: true,
    why: 'the browser fails the connection unless the 101 names one of the offered subprotocols (RFC 6455 §4.1, §4.2.2), so servers echo a fixed name offered beside the token, and the header is logged by some proxies too',
  },
  {
    id: 'wss-wire',
    text: 'Over wss://, a token in the handshake cannot be read by someone watching the network between the browser and the server.',
    true: true,
    why: 'with wss:// the whole handshake travels inside TLS (RFC 6455 §10.6)',
  },
  {
    id: 'accept-auth',
    text: 'Sec-WebSocket-Accept proves to the server that the client is who it says it is.',
    true: false,
    why: 'the accept value is computed by the server from the client’s key, and only proves that the server understood a WebSocket handshake (RFC 6455 §1.3, §4.2.2); it authenticates nobody',
  },
  {
    id: 'mask-hides',
    text: 'Because client frames are masked, a token sent in the first message is hidden from eavesdroppers even over ws://.',
    true: false,
    why: 'the masking key travels in the frame itself, so anyone who sees the frame can unmask it; only TLS gives confidentiality (RFC 6455 §5.3, §10.3, §10.6)',
  },
  {
    id: 'cors',
    text: 'Browsers apply CORS to WebSocket connections, so a page from another origin cannot open a socket to your server unless you send Access-Control-Allow-Origin.',
    true: false,
    why: 'there is no CORS check or preflight for WebSocket: the browser connects and sends Origin, and deciding is the server’s job (RFC 6455 §10.2)',
  },
  {
    id: 'samesite-enough',
    text: 'With SameSite=Lax session cookies, a server needs no Origin check.',
    true: false,
    why: '“same site” is wider than “same origin”: a page on another port of the same host, or on a sibling subdomain, is the same site and still gets the cookies, and a server that trusts no cookies still has DNS rebinding and other clients to think about',
  },
  {
    id: 'query-safe',
    text: 'Under wss://, a token in the query string can never appear in any log.',
    true: false,
    why: 'TLS protects it on the wire only; the server, a reverse proxy that terminates TLS, and browser history all see the full URL',
  },
  {
    id: 'no-origin-browser',
    text: 'A browser may leave out the Origin header when a page opens a WebSocket, so servers must accept upgrades without one.',
    true: false,
    why: 'browsers always send Origin with a WebSocket upgrade (RFC 6455 §4.1); a request without one comes from a client that is not a browser',
  },
];

export interface AuthParams {
  readonly ids: readonly string[];
}

const statement = (id: string) => STATEMENTS.find((s) => s.id === id) as Statement;

export const securityAuth = defineExercise<AuthParams>({
  id: 'security-auth',
  chapter: 'security',
  kind: 'choice',
  title: 'Tokens, cookies and the handshake',
  multiple: true,
  generate(rng) {
    const truths = rng.shuffle(STATEMENTS.filter((s) => s.true));
    const falsehoods = rng.shuffle(STATEMENTS.filter((s) => !s.true));
    const count = rng.int(2, 3);
    return {
      ids: rng
        .shuffle([...truths.slice(0, count), ...falsehoods.slice(0, 5 - count)])
        .map((s) => s.id),
    };
  },
  prompt: () => ({
    text: 'A chat application authenticates its WebSocket connections. Which of these statements are true? Choose all that apply.',
  }),
  choices: (p) => p.ids.map((id) => ({ id, label: statement(id).text })),
  hints: () => [
    'The upgrade is an ordinary HTTP request: think about what a browser adds to every HTTP request, and what it lets a page add.',
    'Masking is not encryption, Sec-WebSocket-Accept is not authentication, and there is no CORS for WebSocket.',
    'Anything in the URL is seen by everything that handles the request after TLS ends: servers, proxies, their logs.',
  ],
  reveal: (p) =>
    p.ids
      .map((id) => {
        const s = statement(id);
        return `${s.true ? 'True' : 'False'}: ${s.text} (${s.why}.)`;
      })
      .join('\n'),
  check(p, answer) {
    const chosen = new Set(answer);
    const reasons: string[] = [];
    const wrongIds: string[] = [];
    for (const id of p.ids) {
      const s = statement(id);
      if (s.true && !chosen.has(id)) {
        wrongIds.push(id);
        reasons.push(`This one is true: ${s.why}.`);
      } else if (!s.true && chosen.has(id)) {
        wrongIds.push(id);
        reasons.push(`This one is false: ${s.why}.`);
      }
    }
    return wrongIds.length === 0 ? right : wrong(reasons.join(' '), wrongIds);
  },
});

// ---- 4. What is masking for? --------------------------------------------------------------------

const MASKING_CORRECT: Choice = {
  id: 'cache-poisoning',
  label:
    'Keeping a page’s script from choosing the exact bytes on the wire, so it cannot craft data that a proxy or cache along the way mistakes for an HTTP request of its own and caches a forged answer for',
};

const MASKING_WRONG: readonly (Choice & { readonly why: string })[] = [
  {
    id: 'confidentiality',
    label: 'Keeping eavesdroppers from reading the messages',
    why: 'the masking key is in the frame, right before the payload, so anyone who sees the frame can unmask it (RFC 6455 §5.3); only TLS hides messages (RFC 6455 §10.6)',
  },
  {
    id: 'integrity',
    label: 'Letting the server detect frames that were changed on the way',
    why: 'XOR with a key sent alongside carries no check value; a changed byte unmasks to a changed byte and nothing notices. TLS gives integrity (RFC 6455 §10.6)',
  },
  {
    id: 'authentication',
    label: 'Proving to the server that frames come from the client that did the handshake',
    why: 'the key is fresh for every frame and chosen by whoever sends it; it ties the frame to nothing (RFC 6455 §5.3)',
  },
  {
    id: 'compression',
    label: 'Making payloads smaller',
    why: 'masking keeps the length exactly the same and adds 4 bytes of key; compression is permessage-deflate’s job (RFC 7692)',
  },
  {
    id: 'server-masking',
    label: 'Protecting clients from malicious servers, which is why servers mask too',
    why: 'servers must not mask at all (RFC 6455 §5.1); the threat is a script in a browser, so only clients mask',
  },
];

export interface MaskingParams {
  readonly frameHex: string;
  readonly text: string;
  readonly keyHex: string;
  readonly wrong: readonly string[];
  readonly order: readonly string[];
}

const WORDS = ['hello', 'token=42', 'secret', 'GET / HTTP/1.1', 'ping me', 'chat: hi'];

export const securityMasking = defineExercise<MaskingParams>({
  id: 'security-masking',
  chapter: 'security',
  kind: 'choice',
  title: 'What masking is for',
  multiple: false,
  generate(rng) {
    const text = rng.pick(WORDS);
    const key = rng.bytes(4);
    const frame = encodeFrame({ opcode: 0x1, payload: text, mask: true, maskingKey: key });
    const wrongIds = rng.shuffle(MASKING_WRONG.map((c) => c.id)).slice(0, 3);
    return {
      frameHex: toHex(frame, ' '),
      text,
      keyHex: toHex(key, ' '),
      wrong: wrongIds,
      order: rng.shuffle([MASKING_CORRECT.id, ...wrongIds]),
    };
  },
  prompt: (p) => ({
    text: 'A browser sent this masked text frame over ws://; someone on the network captured it. RFC 6455 requires every client frame to be masked. What does masking protect against?',
    code: p.frameHex,
  }),
  choices: (p) =>
    p.order.map((id) =>
      id === MASKING_CORRECT.id
        ? MASKING_CORRECT
        : { id, label: MASKING_WRONG.find((c) => c.id === id)?.label ?? id },
    ),
  hints: (p) => [
    `Find the masking key in the capture: it is the 4 bytes after the length, ${p.keyHex}. Who else can read it?`,
    'RFC 6455 §10.3 explains masking by an attack on the network’s infrastructure, not on the two endpoints.',
    'Think of a transparent proxy that does not understand WebSocket and reads the bytes after the upgrade as if they were HTTP.',
  ],
  reveal: (p) =>
    `${MASKING_CORRECT.label} (RFC 6455 §10.3). The key ${p.keyHex} travels in the clear, so anyone can unmask the payload back to ${JSON.stringify(p.text)}: masking hides nothing.`,
  check(p, answer) {
    if (answer.length !== 1) return wrong('Choose exactly one answer.');
    const chosen = answer[0] ?? '';
    if (chosen === MASKING_CORRECT.id) return right;
    const why = MASKING_WRONG.find((c) => c.id === chosen)?.why;
    if (why === undefined || !p.order.includes(chosen))
      return wrong('Choose one of the listed answers.');
    const unmask =
      chosen === 'confidentiality'
        ? ` XOR the payload of this capture with ${p.keyHex} and you get ${JSON.stringify(p.text)}.`
        : '';
    return wrong(`Not that: ${why}.${unmask}`, [chosen]);
  },
});

// ---- 5 and 6. Live: the lab server refuses, and closes with 1009 --------------------------------

type RequestEvent = Extract<LabEvent, { type: 'handshake-request' }>;
type ResponseEvent = Extract<LabEvent, { type: 'handshake-response' }>;

interface Attempt {
  readonly request: RequestEvent;
  readonly response: ResponseEvent | null;
}

/** Every upgrade of the learner's, with the answer it got, in order. */
function attempts(events: readonly LabEvent[]): Attempt[] {
  const requests = new Map<number, RequestEvent>();
  const found: Attempt[] = [];
  for (const event of events) {
    if (event.type === 'handshake-request') requests.set(event.conn, event);
    else if (event.type === 'handshake-response') {
      const request = requests.get(event.conn);
      if (request !== undefined && request.seq < event.seq) {
        found.push({ request, response: event });
        requests.delete(event.conn);
      }
    }
  }
  return found;
}

const originOf = (request: RequestEvent): string | undefined =>
  request.headers.find((h) => h.name.toLowerCase() === 'origin')?.value;
const pathOf = (request: RequestEvent) => request.target.split('?', 1)[0] ?? '';

/** What an Origin refusal's body starts with (lab-server/trust.ts). */
const REFUSED_ORIGIN = /^Origin "/;

export type OriginTask = 'any' | 'null' | 'lookalike';

export interface LiveOriginParams {
  readonly target: '/echo' | '/observe';
  readonly task: OriginTask;
}

const TASK_TEXT: Readonly<Record<OriginTask, string>> = {
  any: 'with an Origin of your choice',
  null: 'with the Origin a sandboxed frame sends, null',
  lookalike:
    'with a look-alike Origin: one that contains “localhost” or “127.0.0.1” somewhere, and is still refused',
};

function meetsTask(task: OriginTask, origin: string): boolean {
  if (task === 'null') return origin === 'null';
  if (task === 'lookalike') return /localhost|127\.0\.0\.1/i.test(origin);
  return true;
}

export const securityOriginRefused = defineExercise<LiveOriginParams>({
  id: 'security-origin-refused',
  chapter: 'security',
  kind: 'live',
  title: 'Refused for its Origin',
  labPath: '/security/',
  generate: (rng) => ({
    target: rng.pick(['/echo', '/observe'] as const),
    task: rng.pick(['any', 'null', 'lookalike'] as const),
  }),
  prompt: (p) => ({
    text: `Get the lab server to refuse an upgrade to ${p.target} because of its Origin, ${TASK_TEXT[p.task]}. The Origin lab of this chapter sends such requests; any other client of yours works too.`,
  }),
  hints: (p) => [
    `In the Origin lab, pick the endpoint ${p.target} and an Origin that is not one of the lab’s own pages.`,
    p.task === 'lookalike'
      ? 'The lab server compares the whole value, so http://localhost.evil.example:6455 is not http://localhost:6455.'
      : p.task === 'null'
        ? 'Pick “null” among the Origin choices, or type null yourself.'
        : 'http://evil.example will do.',
    'Press “Send through /raw” and look for 403 Forbidden with the lab server’s explanation starting Origin "…" is not allowed.',
  ],
  reveal: (p) =>
    `Send an upgrade to ${p.target} with ${p.task === 'null' ? 'Origin: null' : p.task === 'lookalike' ? 'Origin: http://localhost.evil.example:6455' : 'Origin: http://evil.example'} (the Origin lab does it with one click). The lab server answers 403 Forbidden before the upgrade: the Origin is not on its allow list (RFC 6455 §10.2).`,
  check(p, events) {
    const tries = attempts(events);
    if (tries.length === 0) return null;
    const success = tries.find(
      ({ request, response }) =>
        response?.status === 403 &&
        REFUSED_ORIGIN.test(response.body ?? '') &&
        pathOf(request) === p.target &&
        meetsTask(p.task, originOf(request) ?? ''),
    );
    if (success !== undefined) return right;
    const last = tries[tries.length - 1] as Attempt;
    const { request, response } = last;
    const origin = originOf(request);
    const status = response === null ? 'no answer' : `${response.status} ${response.reason}`;
    if (pathOf(request) !== p.target) {
      return wrong(
        `That request went to ${pathOf(request)} (${status}); this task asks for ${p.target}.`,
      );
    }
    if (response?.status === 101) {
      return origin === undefined
        ? wrong(
            '101: a request without Origin is taken to come from a program that is not a browser, and is let in (RFC 6455 §10.2). Send an Origin header.',
          )
        : wrong(
            `101: ${JSON.stringify(origin)} is on the lab server’s allow list, so it was let in. Choose an origin that is not one of the lab’s own pages.`,
          );
    }
    if (response?.status === 403 && !REFUSED_ORIGIN.test(response.body ?? '')) {
      return wrong(
        `That 403 was for the Host header, not the Origin: ${response.body ?? ''} Keep Host as the lab server’s own address.`,
      );
    }
    if (response?.status === 403 && origin !== undefined && !meetsTask(p.task, origin)) {
      return wrong(
        `Refused for its Origin, yes, but ${JSON.stringify(origin)} is not what this task asks for: ${TASK_TEXT[p.task]}.`,
      );
    }
    return wrong(
      `The server answered ${status}${response?.body ? `: ${response.body}` : ''}. The Origin is looked at only once the handshake itself is valid (RFC 6455 §4.2.1).`,
    );
  },
});

/**
 * Nothing to draw: the lab server's limit is what it is. (A "message of at least N MiB" cannot be
 * asked for: a browser splits a big message into fragments, and the server stops reading the
 * moment their lengths pass the limit, so it never sees more than the limit plus one fragment.)
 */
export type LivePayloadParams = Record<string, never>;

export const securityPayload1009 = defineExercise<LivePayloadParams>({
  id: 'security-payload-1009',
  chapter: 'security',
  kind: 'live',
  title: 'Too big: 1009',
  labPath: '/security/',
  generate: () => ({}),
  prompt: () => ({
    text: 'Make the lab server close an /echo connection of yours with 1009 (Message Too Big). The second part of the Origin lab sends one message of any size from your browser; any other client of yours works too.',
  }),
  hints: () => [
    'The lab server’s --max-payload is 1 MiB (1,048,576 bytes) unless it was started with another value.',
    'Send a message longer than the limit: a message of exactly the limit is still echoed.',
    'Choose “1 MiB + 1 byte” in the Origin lab and press “Send it to /echo”.',
  ],
  reveal: () =>
    'Send a message of 1 MiB + 1 byte (1,048,577 bytes) to /echo: over the default --max-payload of 1 MiB, so the lab server closes with 1009 as soon as the frame headers announce more than that, before buffering the excess (RFC 6455 §7.4.1, §10.4).',
  check(_p, events) {
    const echoConns = new Set(
      events
        .filter((e): e is RequestEvent => e.type === 'handshake-request' && pathOf(e) === '/echo')
        .map((e) => e.conn),
    );
    const closes = events.filter(
      (e): e is Extract<LabEvent, { type: 'close-frame' }> =>
        e.type === 'close-frame' && e.direction === 'server-to-client' && echoConns.has(e.conn),
    );
    if (closes.length === 0) return null;
    if (closes.some((close) => close.code === 1009)) return right;
    const last = closes[closes.length - 1] as (typeof closes)[number];
    const ordinary =
      last.code === 1000 || last.code === null
        ? ' That was an ordinary closing handshake: the message fit within the limit, or nothing was sent. Send more bytes than --max-payload.'
        : '';
    return wrong(
      `The server closed with ${last.code ?? 'no status code'}${last.reason === '' ? '' : ` (“${last.reason}”)`}, not 1009.${ordinary}`,
    );
  },
});

export const securityExercises = [
  securityAllowList,
  securityAbuse,
  securityAuth,
  securityMasking,
  securityOriginRefused,
  securityPayload1009,
];
