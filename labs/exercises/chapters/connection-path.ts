/**
 * Chapter 2, The connection path: the order of the phases that open a ws:// or wss:// connection,
 * what is paid once per connection and what per message, how many TCP connections and TLS
 * handshakes a run of requests costs, how many round trips pass before the 101, and what an
 * observer on the network can read of a wss:// connection.
 */
import { readInteger } from '../normalise.ts';
import { checkStatements, type Statement } from '../statements.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

const OK: Verdict = { correct: true, feedback: '' };

type Scheme = 'ws' | 'wss';

const HOSTS = ['chat.example.com', 'feed.example.org', 'game.example.net', 'ticks.example.com'];
const PATHS = ['/live', '/socket', '/updates', '/chat', '/stream'];

// ---- 1. The phases in order ----------------------------------------------------------------------

const PHASES: readonly (Choice & { tlsOnly?: true })[] = [
  { id: 'dns', label: 'DNS lookup: the host name becomes an IP address' },
  { id: 'tcp', label: 'TCP handshake: SYN, SYN-ACK, ACK' },
  {
    id: 'tls',
    label: 'TLS handshake: ClientHello, ServerHello, certificate, Finished',
    tlsOnly: true,
  },
  { id: 'request', label: 'The client sends GET with Upgrade: websocket' },
  { id: 'response', label: 'The server answers 101 Switching Protocols' },
  { id: 'message', label: 'The first WebSocket frame carries a message' },
];

export function phasesFor(scheme: Scheme): Choice[] {
  return PHASES.filter((phase) => scheme === 'wss' || !phase.tlsOnly).map(({ id, label }) => ({
    id,
    label,
  }));
}

interface OrderParams {
  scheme: Scheme;
  url: string;
  items: Choice[];
}

const WHY_AFTER: Readonly<Record<string, string>> = {
  dns: 'Nothing can be sent before the client knows the address: the DNS lookup comes first.',
  tcp: 'TCP needs the address from DNS, and everything else rides on the TCP connection.',
  tls: 'TLS runs over the TCP connection and must finish before any HTTP is sent: the upgrade request is already encrypted (RFC 6455 §4.1, RFC 8446 §2).',
  request:
    'The client speaks first: the upgrade GET goes out once the connection (and for wss://, TLS) is ready (RFC 6455 §4.1).',
  response: 'The 101 answers the upgrade request, so it comes after it (RFC 6455 §4.2.2).',
  message: 'Frames may be sent only once the opening handshake is complete (RFC 6455 §4.1, §5).',
};

const order = defineExercise<OrderParams>({
  id: 'connection-path-order',
  chapter: 'connection-path',
  kind: 'ordering',
  title: 'What happens before the first message',
  generate: (rng) => {
    const scheme = rng.pick<Scheme>(['ws', 'wss']);
    const url = `${scheme}://${rng.pick(HOSTS)}${rng.pick(PATHS)}`;
    const correct = phasesFor(scheme);
    let items = rng.shuffle(correct);
    while (items.every((item, i) => item.id === correct[i]?.id)) items = rng.shuffle(items);
    return { scheme, url, items };
  },
  prompt: (p) => ({
    text: `A page runs new WebSocket('${p.url}') on a browser that has never talked to that host. Put what happens on the wire in order, up to the first message.`,
  }),
  items: (p) => p.items,
  hints: (p) => [
    'Before anything can be sent, the browser needs an address, then a connection.',
    p.scheme === 'wss'
      ? 'In wss://, TLS wraps everything HTTP and WebSocket send: where must its handshake be, then?'
      : 'ws:// has no TLS: the HTTP upgrade goes straight onto the TCP connection.',
    'The WebSocket opening handshake is one HTTP request and its 101 answer; frames come after it.',
  ],
  reveal: (p) =>
    phasesFor(p.scheme)
      .map((item, i) => `${i + 1}. ${item.label}`)
      .join(' '),
  check: (p, answer) => {
    const expected = phasesFor(p.scheme).map((item) => item.id);
    const wrong = answer.filter((id, i) => expected[i] !== id);
    if (wrong.length === 0 && answer.length === expected.length) return OK;
    const first = answer.findIndex((id, i) => expected[i] !== id);
    const shouldBe = expected[first] ?? '';
    const label = PHASES.find((phase) => phase.id === shouldBe)?.label ?? '';
    return {
      correct: false,
      feedback: `${wrong.length} of ${expected.length} steps are out of place. Step ${first + 1} should be "${label}". ${WHY_AFTER[shouldBe] ?? ''}`,
      wrong,
    };
  },
});

// ---- 2. Once per connection or once per message ------------------------------------------------

function onceStatements(host: string, count: number): Statement[] {
  return [
    {
      id: 'dns-once',
      label: `The DNS lookup of ${host} happens at most once, before the connection opens`,
      true: true,
      why: 'The address is needed only to open the TCP connection; the messages ride that connection.',
    },
    {
      id: 'tls-once',
      label: 'There is exactly one TLS handshake',
      true: true,
      why: 'TLS is set up once per TCP connection (RFC 8446 §2); every later byte is protected with the keys it agreed.',
    },
    {
      id: 'one-http',
      label: 'Exactly one HTTP request is sent: the upgrade GET',
      true: true,
      why: 'After the 101 no more HTTP is spoken on the connection; only frames cross it (RFC 6455 §1.2, §4.1).',
    },
    {
      id: 'frame-header',
      label: `Each of the ${count} messages costs a frame header of 2 to 14 bytes, encrypted like everything else`,
      true: true,
      why: 'A frame header is 2 bytes plus an extended length and a masking key when needed (RFC 6455 §5.2), and TLS protects it with the payload.',
    },
    {
      id: 'tcp-each',
      label: `The browser opens ${count} TCP connections, one per message`,
      true: false,
      why: 'One WebSocket is one TCP connection; send() writes a frame onto it and opens nothing.',
    },
    {
      id: 'tls-each',
      label: 'Each message repeats a short TLS handshake',
      true: false,
      why: 'The handshake happens once; each message only becomes part of a TLS record on the open connection (RFC 8446 §5).',
    },
    {
      id: 'headers-each',
      label: 'Each message carries HTTP headers such as Host and Cookie',
      true: false,
      why: 'HTTP headers travel once, in the upgrade request; a message carries only its frame header (RFC 6455 §5.2).',
    },
    {
      id: 'dns-each',
      label: 'Each message starts with a DNS lookup, answered from the cache after the first',
      true: false,
      why: 'Sending on an open connection needs no address at all; DNS is consulted only to open a connection.',
    },
  ];
}

interface OnceParams {
  host: string;
  path: string;
  count: number;
  statements: Statement[];
}

const oncePerConnection = defineExercise<OnceParams>({
  id: 'connection-path-once',
  chapter: 'connection-path',
  kind: 'choice',
  multiple: true,
  title: 'Once per connection, or once per message?',
  generate: (rng) => {
    const host = rng.pick(HOSTS);
    const count = rng.int(20, 500);
    const all = onceStatements(host, count);
    const trues = rng.shuffle(all.filter((s) => s.true)).slice(0, rng.int(2, 4));
    const falses = rng.shuffle(all.filter((s) => !s.true)).slice(0, 6 - trues.length);
    return { host, path: rng.pick(PATHS), count, statements: rng.shuffle([...trues, ...falses]) };
  },
  prompt: (p) => ({
    text: `A page used to send ${p.count} AJAX requests to https://${p.host}. It now opens one WebSocket to wss://${p.host}${p.path} and sends the ${p.count} updates as messages on it. Choose every statement that is true of the WebSocket version.`,
  }),
  choices: (p) => p.statements.map((s) => ({ id: s.id, label: s.label })),
  hints: () => [
    'Which steps are needed to open a connection, and which to use one that is already open?',
    'After the 101, what crosses the connection: HTTP requests or frames?',
    'DNS, TCP, TLS and the upgrade are paid once; each message pays only its frame header.',
  ],
  reveal: (p) =>
    p.statements.map((s) => `${s.true ? 'True' : 'False'}: ${s.label}. ${s.why}`).join(' '),
  check: (p, answer) =>
    checkStatements(p.statements, answer, { missed: 'This one is true too:', wrong: 'Not true:' }),
});

// ---- 3. Counting connections and handshakes ----------------------------------------------------

export type CountScenario = 'close' | 'keep-alive' | 'websocket';

export interface CountParams {
  scenario: CountScenario;
  secure: boolean;
  count: number;
  host: string;
}

export interface Counts {
  tcp: number;
  tls: number;
  http: number;
}

/**
 * What the server sees. `Connection: close` ends the connection after each response (RFC 9112
 * §9.6), keep-alive reuses one (RFC 9112 §9.3), and a WebSocket is one upgrade request followed
 * by frames (RFC 6455 §4.1). TLS is one handshake per TCP connection (RFC 8446 §2); session
 * resumption would shorten later ones but not remove them, so each still counts.
 */
export function expectedCounts(p: CountParams): Counts {
  const tcp = p.scenario === 'close' ? p.count : 1;
  return {
    tcp,
    tls: p.secure ? tcp : 0,
    http: p.scenario === 'websocket' ? 1 : p.count,
  };
}

const COUNT_FIELDS = [
  { name: 'tcp', label: 'TCP connections', placeholder: 'a number' },
  { name: 'tls', label: 'TLS handshakes', placeholder: 'a number' },
  { name: 'http', label: 'HTTP requests', placeholder: 'a number' },
] as const;

function describeCount(p: CountParams): string {
  const scheme = p.secure ? 'https' : 'http';
  switch (p.scenario) {
    case 'close':
      return `A page calls fetch('${scheme}://${p.host}/poll') ${p.count} times, one after the other. The server answers every request with Connection: close.`;
    case 'keep-alive':
      return `A page calls fetch('${scheme}://${p.host}/poll') ${p.count} times, one after the other. The server keeps the connection open between responses (HTTP/1.1 persistent connections) and never closes it during the run.`;
    case 'websocket':
      return `A page opens new WebSocket('${p.secure ? 'wss' : 'ws'}://${p.host}/live') and sends ${p.count} messages on it.`;
  }
}

const counting = defineExercise<CountParams>({
  id: 'connection-path-count',
  chapter: 'connection-path',
  kind: 'frame-fields',
  title: 'What did the server see?',
  generate: (rng) => ({
    scenario: rng.pick<CountScenario>(['close', 'keep-alive', 'websocket']),
    secure: rng.int(0, 3) !== 0,
    count: rng.int(3, 40),
    host: rng.pick(HOSTS),
  }),
  prompt: (p) => ({
    text: `${describeCount(p)} Over HTTP/1.1, with the host's address already cached: how many TCP connections, TLS handshakes and HTTP requests does the server see?`,
  }),
  fields: () => COUNT_FIELDS,
  hints: (p) => [
    p.scenario === 'close'
      ? 'Connection: close means the server closes the TCP connection after that response (RFC 9112 §9.6): what must the next fetch do?'
      : p.scenario === 'keep-alive'
        ? 'A persistent connection carries request after request (RFC 9112 §9.3).'
        : 'A WebSocket is one connection and one HTTP request, the upgrade (RFC 6455 §4.1).',
    p.secure
      ? 'TLS is negotiated once per TCP connection (RFC 8446 §2).'
      : `${p.scenario === 'websocket' ? 'ws://' : 'http://'} has no TLS at all.`,
    p.scenario === 'websocket'
      ? 'Messages are frames on the open connection, not HTTP requests.'
      : 'Every fetch is one HTTP request, however the connections go.',
  ],
  reveal: (p) => {
    const c = expectedCounts(p);
    return `${c.tcp} TCP connection${c.tcp === 1 ? '' : 's'}, ${c.tls} TLS handshake${c.tls === 1 ? '' : 's'}, ${c.http} HTTP request${c.http === 1 ? '' : 's'}.`;
  },
  check: (p, answer) => {
    const expected = expectedCounts(p);
    const wrong: string[] = [];
    const notes: string[] = [];
    for (const field of COUNT_FIELDS) {
      const read = readInteger(answer[field.name] ?? '');
      const want = expected[field.name];
      if (read.ok && read.value === want) continue;
      wrong.push(field.name);
      if (!read.ok) {
        notes.push(`${field.label}: ${read.why}`);
        continue;
      }
      notes.push(`${field.label}: ${countFeedback(field.name, read.value, p)}`);
    }
    if (wrong.length === 0) return OK;
    return { correct: false, feedback: notes.join(' '), wrong };
  },
});

function countFeedback(field: keyof Counts, got: number, p: CountParams): string {
  const want = expectedCounts(p)[field];
  switch (field) {
    case 'tcp':
      if (p.scenario === 'close' && got === 1)
        return `with Connection: close the server ends each connection after its response (RFC 9112 §9.6), so each of the ${p.count} fetches opens a new one.`;
      if (p.scenario === 'keep-alive' && got === p.count)
        return 'a persistent connection is reused for the next request (RFC 9112 §9.3); only the first fetch had to open one.';
      if (p.scenario === 'websocket' && got === p.count)
        return 'send() writes a frame onto the open connection; it opens nothing new.';
      return `not ${got}; the answer is ${want === 1 ? 'one connection' : 'one connection per fetch'}.`;
    case 'tls':
      if (!p.secure && got > 0)
        return `${p.scenario === 'websocket' ? 'ws://' : 'http://'} is plain TCP, with no TLS at all; only wss:// and https:// use it (RFC 6455 §11.1.2).`;
      if (p.secure && got === 0)
        return `${p.scenario === 'websocket' ? 'wss://' : 'https://'} runs TLS over every TCP connection before any HTTP (RFC 6455 §4.1, RFC 9110 §4.3.3).`;
      return `TLS is negotiated once per TCP connection (RFC 8446 §2), so it matches the number of TCP connections: ${want}.`;
    case 'http':
      if (p.scenario === 'websocket' && got === p.count)
        return 'messages are frames, not HTTP requests; the only HTTP request is the upgrade GET (RFC 6455 §4.1).';
      if (p.scenario === 'websocket' && got === p.count + 1)
        return 'the upgrade GET is the only HTTP request; the messages after it are frames.';
      if (p.scenario !== 'websocket' && got === 1)
        return `each of the ${p.count} fetches is its own request, whether or not the connection is reused.`;
      return `not ${got}; count ${p.scenario === 'websocket' ? 'the upgrade request' : 'one request per fetch'}.`;
  }
}

// ---- 4. Round trips before the 101 -------------------------------------------------------------

interface RoundTripParams {
  scheme: Scheme;
  rtt: number;
  host: string;
}

/** TCP takes one round trip before the client may send, TLS 1.3 one more (RFC 8446 §2), HTTP one. */
export function roundTripsTo101(scheme: Scheme): number {
  return scheme === 'wss' ? 3 : 2;
}

const roundTrips = defineExercise<RoundTripParams>({
  id: 'connection-path-round-trips',
  chapter: 'connection-path',
  kind: 'short-answer',
  title: 'How long until the 101?',
  label: 'Milliseconds until the 101 arrives',
  generate: (rng) => ({
    scheme: rng.pick<Scheme>(['ws', 'wss']),
    rtt: rng.pick([12, 20, 25, 30, 40, 45, 60, 80, 90, 120, 150]),
    host: rng.pick(HOSTS),
  }),
  prompt: (p) => ({
    text: `A server is ${p.rtt} ms away: a packet there and its answer back take ${p.rtt} ms (one round trip). The address of ${p.host} is cached, the server answers instantly${p.scheme === 'wss' ? ' and speaks TLS 1.3 (no resumption)' : ''}. A page opens new WebSocket('${p.scheme}://${p.host}/live'). How many milliseconds after the first packet leaves does the 101 arrive?`,
  }),
  hints: (p) => [
    'TCP: the client sends SYN and may send data once the SYN-ACK is back. That is one round trip.',
    p.scheme === 'wss'
      ? 'A full TLS 1.3 handshake costs one round trip: ClientHello out, ServerHello to Finished back; the client can send its request right after its own Finished (RFC 8446 §2).'
      : 'ws:// has no TLS: the upgrade request goes out right after the TCP handshake.',
    'The upgrade request and its 101 are one more round trip.',
  ],
  reveal: (p) => {
    const n = roundTripsTo101(p.scheme);
    return `${n * p.rtt} ms: ${n} round trips (TCP${p.scheme === 'wss' ? ', TLS 1.3' : ''}, then the upgrade request and its 101) of ${p.rtt} ms each.`;
  },
  check: (p, answer) => {
    const read = readInteger(answer.replace(/\s*ms$/i, ''));
    if (!read.ok) return { correct: false, feedback: read.why };
    const n = roundTripsTo101(p.scheme);
    const got = read.value;
    if (got === n * p.rtt) return OK;
    if (p.scheme === 'wss' && got === 2 * p.rtt)
      return {
        correct: false,
        feedback:
          'That leaves out TLS: wss:// finishes a TLS handshake (one round trip in TLS 1.3, RFC 8446 §2) before the upgrade request can go out (RFC 6455 §4.1).',
      };
    if (p.scheme === 'wss' && got === 4 * p.rtt)
      return {
        correct: false,
        feedback:
          'Two round trips for TLS was TLS 1.2 (RFC 5246); a full TLS 1.3 handshake takes one (RFC 8446 §2).',
      };
    if (p.scheme === 'ws' && got === 3 * p.rtt)
      return {
        correct: false,
        feedback: 'ws:// has no TLS handshake: only TCP, then the upgrade request and its answer.',
      };
    if (got === (n - 1) * p.rtt || got === p.rtt)
      return {
        correct: false,
        feedback:
          'Count the TCP handshake too: the SYN and SYN-ACK take a round trip before the client may send data.',
      };
    if (got === (n + 1) * p.rtt)
      return {
        correct: false,
        feedback:
          'The DNS answer is cached, so no lookup round trip; and the client sends the final ACK of TCP with its first data, without waiting.',
      };
    return {
      correct: false,
      feedback: `Not ${got} ms. Count round trips: TCP${p.scheme === 'wss' ? ', TLS 1.3' : ''}, then the request and the 101; each takes ${p.rtt} ms.`,
    };
  },
});

// ---- 5. What an observer sees of wss:// ----------------------------------------------------------

interface ObserverParams {
  host: string;
  path: string;
  token: string;
  word: string;
  statements: Statement[];
}

const WORDS = ['hello', 'move e4', 'buy 10', 'ready', 'score 42', 'join room 7'];

const observer = defineExercise<ObserverParams>({
  id: 'connection-path-observer',
  chapter: 'connection-path',
  kind: 'choice',
  multiple: true,
  title: 'What does the network see of wss://?',
  generate: (rng) => {
    const host = rng.pick(HOSTS);
    const path = rng.pick(PATHS);
    const token = Array.from(rng.bytes(4), (b) => b.toString(16).padStart(2, '0')).join('');
    const word = rng.pick(WORDS);
    const statements: Statement[] = [
      {
        id: 'ip-port',
        label: 'The server’s IP address and port 443',
        true: true,
        why: 'TLS protects what TCP carries, not the IP and TCP headers that route it.',
      },
      {
        id: 'sni',
        label: `The host name ${host}`,
        true: true,
        why: 'The DNS query is usually in the clear, and the ClientHello names the server in its server_name extension unless Encrypted Client Hello is used (RFC 8446 §4.1.2, RFC 6066 §3).',
      },
      {
        id: 'sizes',
        label: 'Roughly how many bytes go each way, and when',
        true: true,
        why: 'Encryption hides the content, not the size and timing of the TLS records (RFC 8446 §5.4 lets senders pad, but few do).',
      },
      {
        id: 'path',
        label: `The path and query of the upgrade request, ${path}?token=${token}`,
        true: false,
        why: 'The GET request line travels inside the TLS tunnel, after the handshake (RFC 6455 §4.1).',
      },
      {
        id: 'upgrade-headers',
        label: 'The Upgrade: websocket and Sec-WebSocket-Key headers',
        true: false,
        why: 'The whole HTTP upgrade is encrypted; the network cannot even tell it is a WebSocket from these headers.',
      },
      {
        id: 'message',
        label: `The text of a message, "${word}"`,
        true: false,
        why: 'Frames are sent inside the same TLS connection, so their payloads are encrypted (RFC 6455 §11.1.2 scheme wss).',
      },
    ];
    return { host, path, token, word, statements: rng.shuffle(statements) };
  },
  prompt: (p) => ({
    text: `A page opens new WebSocket('wss://${p.host}${p.path}?token=${p.token}') and sends "${p.word}". Someone records every packet on the Wi-Fi in between. What can they read? Choose all that apply.`,
  }),
  choices: (p) => p.statements.map((s) => ({ id: s.id, label: s.label })),
  hints: () => [
    'TLS starts right after TCP, before the HTTP upgrade is sent.',
    'What must be readable by routers and by the server before keys are agreed?',
    'Three things are visible: addressing, the name in the handshake, and sizes. The rest is inside TLS.',
  ],
  reveal: (p) =>
    p.statements.map((s) => `${s.true ? 'Visible' : 'Hidden'}: ${s.label}. ${s.why}`).join(' '),
  check: (p, answer) => {
    const chosen = new Set(answer);
    const wrong = p.statements.filter((s) => chosen.has(s.id) !== s.true);
    if (wrong.length === 0) return OK;
    return {
      correct: false,
      feedback: wrong
        .map((s) =>
          s.true
            ? `Visible too: "${s.label}". ${s.why}`
            : `Hidden, in fact: "${s.label}". ${s.why}`,
        )
        .join(' '),
      wrong: wrong.map((s) => s.id),
    };
  },
});

export const connectionPathExercises = [order, oncePerConnection, counting, roundTrips, observer];
export type { ObserverParams, OnceParams, OrderParams, RoundTripParams, Statement };
