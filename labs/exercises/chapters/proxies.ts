/**
 * Chapter 9, Proxies and the real network: the request line a forwarder and a tunnel receive
 * (absolute form against authority form), which headers a proxy drops as hop-by-hop, the steps of
 * wss:// through a CONNECT tunnel, which paths a WebSocket survives (the lab's own proxy modes),
 * and why wss:// gets through where ws:// fails.
 */

import type { TraceScheme, TraceVia } from '../../../protocol/trace.ts';
import { EXPECTED, VIA_LABELS } from '../../proxy/model.ts';
import { checkStatements, type Statement } from '../statements.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

const OK: Verdict = { correct: true, feedback: '' };

const HOSTS = ['chat.example.com', 'feed.example.org', 'game.example.net', 'ticks.example.com'];
const PATHS = ['/live', '/socket', '/updates', '/chat', '/stream'];
const PROXIES = ['proxy.corp.example:3128', 'gateway.example.net:8080', '10.0.0.1:3128'];

// ---- 1. The request line a proxy receives ------------------------------------------------------

export type ProxyUse = 'forwarder' | 'tunnel';

export interface RequestLineParams {
  use: ProxyUse;
  scheme: TraceScheme;
  host: string;
  /** Null: the scheme's default port (80 for ws://, 443 for wss://, RFC 6455 §3). */
  port: number | null;
  path: string;
  proxy: string;
}

const defaultPort = (scheme: TraceScheme) => (scheme === 'wss' ? 443 : 80);

/** The line the proxy receives: absolute form to a forwarder, authority form for CONNECT. */
export function expectedRequestLine(p: RequestLineParams): string {
  const port = p.port ?? defaultPort(p.scheme);
  if (p.use === 'tunnel') return `CONNECT ${p.host}:${port} HTTP/1.1`;
  return `GET http://${p.host}${p.port === null ? '' : `:${p.port}`}${p.path} HTTP/1.1`;
}

function urlOf(p: RequestLineParams): string {
  return `${p.scheme}://${p.host}${p.port === null ? '' : `:${p.port}`}${p.path}`;
}

const requestLine = defineExercise<RequestLineParams>({
  id: 'proxies-request-line',
  chapter: 'proxies',
  kind: 'short-answer',
  title: 'What does the proxy receive first?',
  label: 'Request line',
  generate: (rng) => {
    const use = rng.pick<ProxyUse>(['forwarder', 'tunnel']);
    // A forwarder can only handle ws://: wss:// needs a tunnel, since TLS is end to end.
    const scheme = use === 'forwarder' ? 'ws' : rng.pick<TraceScheme>(['ws', 'wss']);
    return {
      use,
      scheme,
      host: rng.pick(HOSTS),
      port: rng.boolean() ? null : rng.pick([8080, 8443, 9000, 6455]),
      path: rng.pick(PATHS),
      proxy: rng.pick(PROXIES),
    };
  },
  prompt: (p) => ({
    text:
      p.use === 'forwarder'
        ? `A client is set up to use the HTTP proxy ${p.proxy} and opens ${urlOf(p)}. It hands its upgrade request to the proxy to forward, as HTTP clients do with plain http:// requests. Type the request line (the first line) the proxy receives.`
        : `A client is set up to use the HTTP proxy ${p.proxy} and opens ${urlOf(p)}. As RFC 6455 §4.1 recommends, it first asks the proxy for a tunnel to the server. Type the request line (the first line) the proxy receives.`,
  }),
  hints: (p) =>
    p.use === 'forwarder'
      ? [
          'A request line is method, request target and HTTP version, separated by single spaces (RFC 9112 §3).',
          'The proxy must learn where to forward the request, so the target cannot be just the path.',
          'To a proxy, a client sends the absolute form: the whole URI, scheme and host included (RFC 9112 §3.2.2). A forwarder speaks HTTP, so the scheme is http://.',
        ]
      : [
          'A request line is method, request target and HTTP version, separated by single spaces (RFC 9112 §3).',
          'The method that asks a proxy for a tunnel is CONNECT (RFC 9110 §9.3.6).',
          'CONNECT takes the authority form, host:port, with the port always written, and no path (RFC 9112 §3.2.3).',
        ],
  reveal: (p) =>
    `${expectedRequestLine(p)}. ${p.use === 'forwarder' ? 'A forwarder gets the absolute form (RFC 9112 §3.2.2).' : 'CONNECT takes the authority form host:port (RFC 9112 §3.2.3, RFC 9110 §9.3.6); the path travels later, inside the tunnel.'}`,
  check: (p, answer) => {
    const parts = answer.trim().split(/\s+/);
    if (parts.length === 1 && parts[0] === '')
      return {
        correct: false,
        feedback: 'The answer is empty: type a request line such as "GET /path HTTP/1.1".',
      };
    if (parts.length !== 3)
      return {
        correct: false,
        feedback: `A request line has three parts, method, target and version, separated by spaces (RFC 9112 §3); this has ${parts.length}.`,
      };
    const [method = '', target = '', version = ''] = parts;
    const wantMethod = p.use === 'tunnel' ? 'CONNECT' : 'GET';
    if (method !== wantMethod) {
      if (method.toUpperCase() === wantMethod)
        return {
          correct: false,
          feedback: `Methods are case-sensitive: write ${wantMethod} in capitals (RFC 9110 §9.1).`,
        };
      if (p.use === 'tunnel')
        return {
          correct: false,
          feedback: `Not ${method}: the client asks for a tunnel, which is the CONNECT method (RFC 9110 §9.3.6). The upgrade GET goes through the tunnel afterwards.`,
        };
      return {
        correct: false,
        feedback: `Not ${method}: a forwarder is handed the upgrade request itself, which is a GET (RFC 6455 §4.1).`,
      };
    }
    if (version !== 'HTTP/1.1')
      return {
        correct: false,
        feedback: `The version is HTTP/1.1, written exactly so (RFC 9112 §2.3); you wrote ${version}.`,
      };
    const port = p.port ?? defaultPort(p.scheme);
    if (p.use === 'tunnel') {
      if (target === `${p.host}:${port}`) return OK;
      if (target === p.host)
        return {
          correct: false,
          feedback: `The authority form always carries the port: ${p.host}:${port} (RFC 9110 §9.3.6 requires it for CONNECT).`,
        };
      if (/^[a-z]+:\/\//i.test(target) || target.includes('/'))
        return {
          correct: false,
          feedback: `CONNECT names only host and port, the authority form (RFC 9112 §3.2.3): no scheme and no path. The path ${p.path} is sent later, inside the tunnel.`,
        };
      return {
        correct: false,
        feedback: `The target should be the server's host and port, ${p.host}:…; check both.`,
      };
    }
    if (target === p.path)
      return {
        correct: false,
        feedback: `${p.path} is the origin form, what the server itself receives. The proxy must know where to forward, so it gets the absolute form with scheme and host (RFC 9112 §3.2.2).`,
      };
    const accepted = new Set<string>();
    for (const scheme of ['http', 'ws']) {
      accepted.add(`${scheme}://${p.host}${p.port === null ? '' : `:${p.port}`}${p.path}`);
      if (p.port === null) accepted.add(`${scheme}://${p.host}:80${p.path}`);
    }
    // Scheme and host are case-insensitive (RFC 3986 §3.1, §3.2.2); the path is not.
    const normal = target.replace(/^[a-z]+:\/\/[^/]*/i, (s) => s.toLowerCase());
    if (accepted.has(normal)) return OK;
    if (target.startsWith('https://') || target.startsWith('wss://'))
      return {
        correct: false,
        feedback: `The URL is ${p.scheme}://, plain: the scheme in the absolute form is http:// (the forwarder speaks plain HTTP to the server).`,
      };
    if (!target.includes(p.path))
      return {
        correct: false,
        feedback: `The absolute form keeps the path: the server needs ${p.path} to know which WebSocket is meant.`,
      };
    return {
      correct: false,
      feedback: `Close, but not ${target}. The absolute form is scheme, host${p.port === null ? '' : ', port'} and path: http://${p.host}${p.port === null ? '' : `:${p.port}`}${p.path}.`,
    };
  },
});

// ---- 2. Hop-by-hop headers ---------------------------------------------------------------------

export interface HopParams {
  host: string;
  path: string;
  /** A custom header the client names in Connection, so it is hop-by-hop too, or null. */
  extra: string | null;
  keepAlive: boolean;
  headers: { name: string; value: string }[];
  choices: Choice[];
}

const EXTRAS = ['X-Hop-Trace', 'X-Route-Id', 'X-Debug-Hop', 'X-Client-Hint'];

/** What RFC 9110 §7.6.1 tells an intermediary to remove, for the headers given. */
export function hopByHop(p: Pick<HopParams, 'extra' | 'keepAlive'>): string[] {
  const names = ['Connection', 'Upgrade'];
  if (p.keepAlive) names.push('Keep-Alive');
  if (p.extra !== null) names.push(p.extra);
  return names;
}

const hop = defineExercise<HopParams>({
  id: 'proxies-hop-by-hop',
  chapter: 'proxies',
  kind: 'choice',
  multiple: true,
  title: 'Which headers does a plain HTTP proxy drop?',
  generate: (rng) => {
    const host = rng.pick(HOSTS);
    const path = rng.pick(PATHS);
    const extra = rng.boolean() ? rng.pick(EXTRAS) : null;
    const keepAlive = rng.boolean();
    const connection = [
      'Upgrade',
      ...(keepAlive ? ['keep-alive'] : []),
      ...(extra === null ? [] : [extra]),
    ];
    const key = btoa(String.fromCharCode(...rng.bytes(16)));
    const headers = [
      { name: 'Host', value: host },
      { name: 'Upgrade', value: 'websocket' },
      { name: 'Connection', value: rng.shuffle(connection).join(', ') },
      ...(keepAlive ? [{ name: 'Keep-Alive', value: `timeout=${rng.int(5, 60)}` }] : []),
      ...(extra === null ? [] : [{ name: extra, value: String(rng.int(1, 999)) }]),
      { name: 'Sec-WebSocket-Key', value: key },
      { name: 'Sec-WebSocket-Version', value: '13' },
      { name: 'Origin', value: `https://${host}` },
    ];
    const choices = rng.shuffle(headers.map((header) => ({ id: header.name, label: header.name })));
    return { host, path, extra, keepAlive, headers, choices };
  },
  prompt: (p) => ({
    text: 'A forwarding proxy that follows RFC 9110 §7.6.1 to the letter, and knows nothing of WebSocket, receives this upgrade request. Which header fields does it remove before forwarding the request to the server? Choose all of them.',
    code: [
      `GET http://${p.host}${p.path} HTTP/1.1`,
      ...p.headers.map((h) => `${h.name}: ${h.value}`),
    ].join('\n'),
  }),
  choices: (p) => p.choices,
  hints: (p) => [
    'Hop-by-hop fields describe one connection only, so a proxy must not pass them on (RFC 9110 §7.6.1).',
    'The Connection field lists the fields that are hop-by-hop for this message: the proxy removes each of them, and Connection itself.',
    `Some fields are hop-by-hop even when not listed: RFC 9110 §7.6.1 names Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade. Here that makes ${hopByHop(p).length} fields in all.`,
  ],
  reveal: (p) =>
    `${hopByHop(p).join(', ')}. Connection goes, with every field it names${p.extra === null ? '' : ` (${p.extra} included)`}; Upgrade${p.keepAlive ? ' and Keep-Alive are' : ' is'} hop-by-hop anyway. Without Upgrade and Connection the server sees a plain GET and cannot answer 101.`,
  check: (p, answer) => {
    const expected = new Set(hopByHop(p));
    const chosen = new Set(answer);
    const missed = [...expected].filter((name) => !chosen.has(name));
    const extra = [...chosen].filter((name) => !expected.has(name));
    if (missed.length === 0 && extra.length === 0) return OK;
    const notes: string[] = [];
    for (const name of missed) {
      if (name === 'Connection')
        notes.push('Connection itself is removed once it has been read (RFC 9110 §7.6.1).');
      else if (name === 'Upgrade')
        notes.push(
          'Upgrade is listed in Connection, and RFC 9110 §7.6.1 names it among the fields to remove anyway; that is what breaks the WebSocket handshake.',
        );
      else if (name === 'Keep-Alive')
        notes.push(
          'Keep-Alive is listed in Connection and is hop-by-hop by nature (RFC 9110 §7.6.1).',
        );
      else
        notes.push(
          `${name} is named in the Connection field, which makes it hop-by-hop for this message (RFC 9110 §7.6.1).`,
        );
    }
    for (const name of extra) {
      notes.push(
        name.startsWith('Sec-WebSocket')
          ? `${name} is an end-to-end field: the proxy passes it on, and the server still needs it (RFC 6455 §4.1).`
          : `${name} is end-to-end: it is not named in Connection, so the proxy forwards it.`,
      );
    }
    return { correct: false, feedback: notes.join(' '), wrong: [...missed, ...extra] };
  },
});

// ---- 3. wss:// through a CONNECT tunnel, in order ------------------------------------------------

const TUNNEL_STEPS: readonly Choice[] = [
  { id: 'tcp-proxy', label: 'The client opens a TCP connection to the proxy' },
  { id: 'connect', label: 'The client sends CONNECT host:443 HTTP/1.1' },
  { id: 'established', label: 'The proxy connects to the server and answers 200' },
  { id: 'tls', label: 'TLS handshake between the client and the server, through the tunnel' },
  { id: 'upgrade', label: 'The client sends the GET with Upgrade: websocket, encrypted' },
  { id: '101', label: 'The server answers 101 Switching Protocols, encrypted' },
  { id: 'frames', label: 'Frames flow both ways; the proxy copies bytes it cannot read' },
];

interface TunnelParams {
  host: string;
  path: string;
  proxy: string;
  items: Choice[];
}

const tunnelOrder = defineExercise<TunnelParams>({
  id: 'proxies-tunnel-order',
  chapter: 'proxies',
  kind: 'ordering',
  title: 'wss:// through a CONNECT tunnel',
  generate: (rng) => {
    const host = rng.pick(HOSTS);
    const steps = TUNNEL_STEPS.map((step) => ({
      ...step,
      label: step.label.replace('host', host),
    }));
    let items = rng.shuffle(steps);
    while (items.every((item, i) => item.id === steps[i]?.id)) items = rng.shuffle(items);
    return { host, path: rng.pick(PATHS), proxy: rng.pick(PROXIES), items };
  },
  prompt: (p) => ({
    text: `A browser set up with the proxy ${p.proxy} runs new WebSocket('wss://${p.host}${p.path}'). Put the steps in order.`,
  }),
  items: (p) => p.items,
  hints: () => [
    'The client can reach the server only through the proxy, so it first talks to the proxy.',
    'TLS is end to end, between the client and the server: it starts once the tunnel exists (RFC 9110 §9.3.6).',
    'The WebSocket handshake happens inside TLS, as for any wss:// connection (RFC 6455 §4.1).',
  ],
  reveal: (p) =>
    TUNNEL_STEPS.map((step, i) => `${i + 1}. ${step.label.replace('host', p.host)}`).join(' '),
  check: (_p, answer) => {
    const expected = TUNNEL_STEPS.map((step) => step.id);
    const wrong = answer.filter((id, i) => expected[i] !== id);
    if (wrong.length === 0 && answer.length === expected.length) return OK;
    const first = answer.findIndex((id, i) => expected[i] !== id);
    const shouldBe = expected[first];
    const why =
      shouldBe === 'tls'
        ? 'TLS cannot start before the tunnel exists, and everything HTTP comes after TLS.'
        : shouldBe === 'established' || shouldBe === 'connect'
          ? 'The proxy must open the tunnel (CONNECT, then a 2xx) before anything for the server can pass (RFC 9110 §9.3.6).'
          : shouldBe === 'upgrade' || shouldBe === '101'
            ? 'The upgrade request and its 101 travel inside the TLS connection, after its handshake.'
            : '';
    return {
      correct: false,
      feedback:
        `${wrong.length} of ${expected.length} steps are out of place. Step ${first + 1} should be "${TUNNEL_STEPS[first]?.label ?? ''}". ${why}`.trim(),
      wrong,
    };
  },
});

// ---- 4. Predict pass or fail ---------------------------------------------------------------------

interface PredictParams {
  cells: { via: TraceVia; scheme: TraceScheme }[];
}

function cellStatement(via: TraceVia, scheme: TraceScheme): Statement {
  const passes = EXPECTED[via][scheme];
  const label =
    via === 'direct'
      ? `${scheme}:// straight to the lab server, no proxy`
      : `${scheme}:// through the ${VIA_LABELS[via]}`;
  let why: string;
  if (via === 'direct') why = 'Nothing stands between client and server.';
  else if (scheme === 'wss')
    why =
      'wss:// always asks for a CONNECT tunnel, even from a forwarder; the upgrade travels inside TLS where no proxy can touch it (RFC 9110 §9.3.6).';
  else if (via === 'connect')
    why =
      'In a CONNECT tunnel the proxy copies bytes blindly, so the upgrade reaches the server untouched (RFC 9110 §9.3.6).';
  else if (via === 'aware')
    why =
      'This forwarder knows WebSocket: it passes Upgrade and Connection on to the server and relays the 101 (RFC 9110 §7.8).';
  else
    why =
      'The naive forwarder removes Connection and Upgrade as hop-by-hop (RFC 9110 §7.6.1), so the server gets a plain GET and cannot answer 101.';
  return { id: `${via}/${scheme}`, label, true: passes, why };
}

const predict = defineExercise<PredictParams>({
  id: 'proxies-predict',
  chapter: 'proxies',
  kind: 'choice',
  multiple: true,
  title: 'Which connections open?',
  generate: (rng) => {
    const others = rng
      .shuffle(
        (['direct', 'connect', 'aware', 'naive'] as const).flatMap((via) =>
          (['ws', 'wss'] as const).map((scheme) => ({ via, scheme })),
        ),
      )
      .filter((c) => !(c.via === 'naive' && c.scheme === 'ws'))
      .slice(0, rng.int(3, 5));
    return { cells: rng.shuffle([{ via: 'naive', scheme: 'ws' }, ...others]) };
  },
  prompt: () => ({
    text: 'The proxy lab traces a WebSocket to the lab server along different paths. Before you run them, predict: which of these end with a 101 and an echoed message? Choose all that open.',
  }),
  choices: (p) =>
    p.cells.map((c) => ({
      id: `${c.via}/${c.scheme}`,
      label: cellStatement(c.via, c.scheme).label,
    })),
  hints: () => [
    'Which proxy gets to read the HTTP headers of the upgrade, and which only sees bytes?',
    'A proxy that does not know WebSocket removes hop-by-hop headers (RFC 9110 §7.6.1). Which of the upgrade’s headers are hop-by-hop?',
    'Only one of the eight paths fails: plain ws:// handed to the naive forwarder.',
  ],
  reveal: (p) =>
    p.cells
      .map((c) => cellStatement(c.via, c.scheme))
      .map((s) => `${s.true ? 'Opens' : 'Fails'}: ${s.label}. ${s.why}`)
      .join(' '),
  check: (p, answer) =>
    checkStatements(
      p.cells.map((c) => cellStatement(c.via, c.scheme)),
      answer,
      { missed: 'This one opens too:', wrong: 'This one fails:' },
    ),
});

// ---- 5. Why wss:// gets through ------------------------------------------------------------------

const WHY: readonly Statement[] = [
  {
    id: 'opaque',
    label:
      'The proxy relays an encrypted tunnel and never sees the Upgrade and Connection headers, so it cannot drop them',
    true: true,
    why: 'With CONNECT the proxy copies bytes both ways after its 2xx (RFC 9110 §9.3.6); the upgrade is inside TLS.',
  },
  {
    id: 'no-upgrade',
    label: 'wss:// skips the HTTP upgrade, so there is nothing to break',
    true: false,
    why: 'wss:// sends the very same GET with Upgrade: websocket and gets the same 101, only inside TLS (RFC 6455 §4.1).',
  },
  {
    id: 'required',
    label: 'HTTP requires proxies to support WebSocket when it runs over TLS',
    true: false,
    why: 'No rule makes a proxy understand WebSocket; it simply cannot read what TLS protects.',
  },
  {
    id: 'port',
    label: 'Proxies never look at traffic on port 443, whatever it is',
    true: false,
    why: 'A proxy can read anything that is not encrypted, whatever the port; it is TLS, not the port, that hides the upgrade. A proxy that decrypts TLS with its own certificate can break wss:// too.',
  },
  {
    id: 'compressed',
    label: 'TLS compresses the headers so the proxy cannot find them',
    true: false,
    why: 'TLS 1.3 has no compression at all (its ClientHello may offer only the null method, RFC 8446 §4.1.2); the headers are encrypted, not compressed.',
  },
];

const whyWss = defineExercise<{ statements: Statement[] }>({
  id: 'proxies-why-wss',
  chapter: 'proxies',
  kind: 'choice',
  multiple: false,
  title: 'Why does wss:// get through?',
  generate: (rng) => ({ statements: rng.shuffle(WHY) }),
  prompt: () => ({
    text: 'On a network whose proxy breaks ws:// connections, wss:// to the same server works. Choose the best explanation.',
  }),
  choices: (p) => p.statements.map((s) => ({ id: s.id, label: s.label })),
  hints: () => [
    'What does the naive proxy do to the ws:// upgrade, and what does it need in order to do it?',
    'In wss://, when does the HTTP request start: before or after TLS?',
    'A proxy cannot change what it cannot read.',
  ],
  reveal: () => `${WHY[0]?.label}. ${WHY[0]?.why}`,
  check: (p, answer) => {
    const chosen = p.statements.find((s) => s.id === answer[0]);
    if (chosen?.true) return OK;
    return {
      correct: false,
      feedback: chosen === undefined ? 'Choose one of the explanations.' : chosen.why,
      wrong: chosen === undefined ? [] : [chosen.id],
    };
  },
});

export const proxiesExercises = [requestLine, hop, tunnelOrder, predict, whyWss];
export type { PredictParams, TunnelParams };
export { cellStatement, TUNNEL_STEPS };
