/**
 * Exercises of chapter 8, server architecture. Which handler of the lab server answers a request
 * is worked out by labs/router/model.ts `predict`, which routes.test.ts holds to the real lab
 * server for many random requests; the rest are rules of RFC 9110 (hop-by-hop headers), RFC 6454
 * (origins) and RFC 3875 (CGI).
 */
import {
  buildRequest,
  type HostChoice,
  type OriginChoice,
  predict,
  type RequestChoices,
} from '../../router/model.ts';
import type { Rng } from '../rng.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

const right: Verdict = { correct: true, feedback: '' };
const wrong = (feedback: string, wrongIds?: readonly string[]): Verdict => ({
  correct: false,
  feedback,
  ...(wrongIds === undefined ? {} : { wrong: wrongIds }),
});

/**
 * The keys of WEBSOCKET_ROUTES (lab-server/tap.ts), which the browser cannot import (tap.ts is
 * Node code); architecture.test.ts holds this copy to the original.
 */
export const WEBSOCKET_PATHS: ReadonlySet<string> = new Set([
  '/echo',
  '/observe',
  '/raw',
  '/check',
  '/trace',
  '/classroom',
  '/teacher',
]);
const LAB = 'http://127.0.0.1:6455';

// ---- 1. Which handler answers? -----------------------------------------------------------------

export interface RouteParams {
  readonly choices: RequestChoices;
}

export const ROUTE_CHOICES: readonly Choice[] = [
  { id: '200-static', label: '200 OK: a page of the static site' },
  { id: '404-static', label: '404 Not Found: the static site has no such file' },
  { id: '200-http-endpoint', label: '200 OK from the /lab.json endpoint' },
  { id: '426-ws-path', label: '426 Upgrade Required: a WebSocket path, asked without an upgrade' },
  { id: '101-websocket', label: '101 Switching Protocols: ws and the endpoint take over' },
  { id: '404-endpoint', label: '404 Not Found: no WebSocket endpoint at that path' },
  { id: '403-host', label: '403 Forbidden from the Host check' },
  { id: '403-origin', label: '403 Forbidden from the Origin check' },
  { id: '400-rules', label: '400 Bad Request from the handshake rules' },
  { id: '426-rules', label: '426 Upgrade Required with Sec-WebSocket-Version: 13' },
];

export function routeAnswer(params: RouteParams): string {
  const { step, status } = predict(params.choices, WEBSOCKET_PATHS, LAB);
  return `${status}-${step}`;
}

function routeRequest(params: RouteParams): string {
  const built = buildRequest(params.choices, LAB, 'dGhlIHNhbXBsZSBub25jZQ==');
  return built.ok ? built.text.trimEnd().replace(/\r\n/g, '\n') : '';
}

const isUpgrade = (c: RequestChoices) => c.upgrade && c.connectionUpgrade;

export const architectureRoute = defineExercise<RouteParams>({
  id: 'architecture-route',
  chapter: 'architecture',
  kind: 'choice',
  title: 'Which handler answers?',
  multiple: false,
  generate(rng: Rng) {
    const path = rng.pick([
      '/',
      '/echo',
      '/echo',
      '/observe',
      '/chat',
      '/lab.json',
      '/no-such-page',
    ]);
    // Mostly whole upgrades or plain requests, sometimes one header short.
    const shape = rng.pick(['upgrade', 'upgrade', 'plain', 'plain', 'partial']);
    const upgrade = shape !== 'plain' && (shape === 'upgrade' || rng.boolean());
    const connectionUpgrade = shape === 'upgrade' || (shape === 'partial' && !upgrade);
    const key = shape !== 'plain';
    const version = shape === 'plain' ? null : rng.int(0, 4) === 0 ? '8' : '13';
    const origin: OriginChoice =
      shape === 'plain' ? 'none' : rng.pick<OriginChoice>(['page', 'page', 'none', 'foreign']);
    const host: HostChoice = rng.int(0, 5) === 0 ? 'foreign' : 'server';
    return {
      choices: { method: 'GET', path, upgrade, connectionUpgrade, key, version, origin, host },
    };
  },
  prompt(params) {
    return {
      text: 'This request arrives on a new connection to the lab server (pnpm lab on 127.0.0.1:6455, no flags). Which handler answers it, with which status?',
      code: routeRequest(params),
    };
  },
  choices: () => ROUTE_CHOICES,
  hints: (params) => [
    'First decide the path: does the request carry both Upgrade and Connection: Upgrade? Only then does the lab server take it as an upgrade (RFC 9110 §7.8).',
    isUpgrade(params.choices)
      ? 'On the upgrade path the checks come in this order: the handshake rules, Host, the endpoint, Origin; the first that fails answers.'
      : 'On the HTTP path: a request with WebSocket headers to a WebSocket path is judged by the handshake rules; then Host; then a WebSocket path gets 426; then /lab.json; then the static site.',
    'Look at Host, Origin, Sec-WebSocket-Version and the path, one at a time.',
  ],
  reveal(params) {
    const id = routeAnswer(params);
    const label = ROUTE_CHOICES.find((c) => c.id === id)?.label ?? id;
    return `${label}. ${explainRoute(params.choices, id)}`;
  },
  check(params, answer) {
    if (answer.length !== 1) return wrong('Choose exactly one answer.');
    const chosen = answer[0] as string;
    const correct = routeAnswer(params);
    if (chosen === correct) return right;
    const c = params.choices;
    const [status, ...rest] = chosen.split('-');
    const step = rest.join('-');
    const [rightStatus] = correct.split('-');
    if (!isUpgrade(c) && ['101', '404-endpoint', '403-origin'].some((x) => chosen.startsWith(x))) {
      return wrong(
        `${!c.upgrade ? 'There is no Upgrade header' : 'Connection does not list upgrade'}, so this is not an upgrade request: the lab server hands it to Node’s HTTP server, where no WebSocket endpoint or Origin check is consulted (RFC 9110 §7.8).`,
      );
    }
    if (step === 'websocket') {
      return wrong(`A 101 needs every check to pass; one fails here. ${explainRoute(c, correct)}`);
    }
    if (status === rightStatus) {
      return wrong(`The status is right, but another step gives it. ${explainRoute(c, correct)}`);
    }
    if (step === 'host' && c.host === 'server') {
      return wrong('Host names the lab server itself (127.0.0.1:6455), so the Host check passes.');
    }
    if (step === 'origin' && c.origin !== 'foreign') {
      return wrong(
        c.origin === 'none'
          ? 'A request without Origin is from a client that is not a browser; the lab server lets it through (RFC 6455 §4.1, §10.2).'
          : 'The Origin is the lab server’s own page, which it trusts.',
      );
    }
    if (step === 'endpoint' && WEBSOCKET_PATHS.has(c.path) && c.path !== '/chat') {
      return wrong(`${c.path} is one of the lab server’s WebSocket endpoints.`);
    }
    if (
      (step === 'rules' || chosen === '426-rules') &&
      c.version === '13' &&
      c.key &&
      isUpgrade(c)
    ) {
      return wrong(
        'Every handshake rule holds: GET, HTTP/1.1, Upgrade, Connection, a 16-byte key and version 13.',
      );
    }
    return wrong(`Walk the steps in order. ${explainRoute(c, correct)}`);
  },
});

function explainRoute(c: RequestChoices, id: string): string {
  const path = isUpgrade(c)
    ? 'With Upgrade and Connection: Upgrade, the lab server answers on its upgrade path.'
    : 'Without both Upgrade and Connection: Upgrade, Node’s HTTP server reads the request.';
  const why: Record<string, string> = {
    '200-static': `No handler claims ${c.path}, so the static site serves the page.`,
    '404-static': `No handler claims ${c.path}, and the static site has no such file.`,
    '200-http-endpoint': '/lab.json belongs to an HTTP endpoint of its own.',
    '426-ws-path': `${c.path} is a WebSocket path, and an ordinary request to it gets 426 naming websocket (RFC 9110 §15.5.22).`,
    '101-websocket':
      'The handshake rules, Host, the endpoint and Origin all pass, so ws answers 101 (RFC 6455 §4.2.2).',
    '404-endpoint': `There is no WebSocket endpoint at ${c.path} (RFC 6455 §4.2.2).`,
    '403-host': 'Host evil.example is not a name of the lab server (DNS rebinding is refused).',
    '403-origin':
      'Origin http://evil.example is not a page the lab server trusts (RFC 6455 §10.2).',
    '400-rules': `A handshake rule is broken: ${!c.upgrade ? 'Upgrade: websocket is missing' : !c.connectionUpgrade ? 'Connection does not list Upgrade' : !c.key ? 'Sec-WebSocket-Key is missing' : 'a required header is wrong'} (RFC 6455 §4.2.1).`,
    '426-rules':
      'Version 8 is one the server does not speak: 426 with Sec-WebSocket-Version: 13 (RFC 6455 §4.2.2, §4.4).',
  };
  return `${path} ${why[id] ?? ''}`;
}

// ---- 2. What a reverse proxy must set again ------------------------------------------------------

export interface ProxyParams {
  readonly order: readonly string[];
  readonly upstream: string;
}

const PROXY_OPTIONS: Readonly<Record<string, { label: string; must: boolean; why: string }>> = {
  upgrade: {
    label: 'Upgrade: websocket',
    must: true,
    why: 'Upgrade is hop-by-hop: a proxy removes it before forwarding (RFC 9110 §7.6.1, §7.8), so it must set it again on its own request upstream.',
  },
  connection: {
    label: 'Connection: upgrade',
    must: true,
    why: 'Connection applies only to the one connection it arrived on and is removed with the fields it lists (RFC 9110 §7.6.1); without a fresh Connection: upgrade the upstream server ignores Upgrade.',
  },
  http11: {
    label: 'HTTP/1.1 on the upstream request (not 1.0)',
    must: true,
    why: 'A server must ignore Upgrade in an HTTP/1.0 request (RFC 9110 §7.8), and some proxies speak 1.0 upstream by default (nginx does until proxy_http_version 1.1).',
  },
  key: {
    label: 'A new Sec-WebSocket-Key made by the proxy',
    must: false,
    why: 'Sec-WebSocket-Key is end to end: the proxy forwards the browser’s key as it is, and the browser checks the accept computed from it (RFC 6455 §4.1). A new key would make the browser reject the 101.',
  },
  accept: {
    label: 'Sec-WebSocket-Accept on the request',
    must: false,
    why: 'Sec-WebSocket-Accept belongs to the server’s 101, never to a request (RFC 6455 §4.2.2).',
  },
  te: {
    label: 'Transfer-Encoding: chunked',
    must: false,
    why: 'An opening handshake is a GET without a body; there is nothing to encode (RFC 6455 §4.1).',
  },
  close: {
    label: 'Connection: close',
    must: false,
    why: 'Connection: close asks for the connection to end after this response (RFC 9112 §9.6), the opposite of what an upgrade needs.',
  },
};

export const architectureProxy = defineExercise<ProxyParams>({
  id: 'architecture-proxy',
  chapter: 'architecture',
  kind: 'choice',
  title: 'What a reverse proxy must do',
  multiple: true,
  generate(rng) {
    return {
      order: rng.shuffle(Object.keys(PROXY_OPTIONS)),
      upstream: rng.pick(['127.0.0.1:8080', '127.0.0.1:3000', '10.0.0.7:9000', 'app:5000']),
    };
  },
  prompt: (p) => ({
    text: `A reverse proxy takes wss:// connections from browsers and forwards them to a WebSocket server at ${p.upstream}. For the upgrade to reach that server, what must the proxy put on its own request upstream? Choose every one.`,
  }),
  choices: (p) => p.order.map((id) => ({ id, label: PROXY_OPTIONS[id]?.label ?? id })),
  hints: () => [
    'Which headers describe only the connection they travel on (hop-by-hop), and so are removed by every proxy (RFC 9110 §7.6.1)?',
    'Which headers are end to end, checked by the browser itself, and must pass unchanged?',
    'What does RFC 9110 §7.8 say a server does with Upgrade in an HTTP/1.0 request?',
  ],
  reveal: () =>
    Object.entries(PROXY_OPTIONS)
      .map(([, o]) => `${o.must ? 'Yes' : 'No'}: ${o.label}. ${o.why}`)
      .join('\n'),
  check(_p, answer) {
    const chosen = new Set(answer);
    const missing = Object.keys(PROXY_OPTIONS).filter(
      (id) => PROXY_OPTIONS[id]?.must && !chosen.has(id),
    );
    const extra = [...chosen].filter((id) => PROXY_OPTIONS[id]?.must === false);
    if (missing.length === 0 && extra.length === 0) return right;
    const first = extra[0] ?? missing[0];
    const option = PROXY_OPTIONS[first as string];
    const lead = extra.length > 0 ? `Not “${option?.label}”:` : `Missing “${option?.label}”:`;
    return wrong(`${lead} ${option?.why ?? ''}`, [...missing, ...extra]);
  },
});

// ---- 3. CGI, a long-running server, or a bridge -------------------------------------------------

export interface ModelParams {
  readonly scenario: string;
}

const MODELS: readonly Choice[] = [
  { id: 'cgi', label: 'A CGI script: the web server runs it per request' },
  { id: 'server', label: 'A long-running server process that holds every connection' },
  { id: 'bridge', label: 'A stdin/stdout bridge (websocketd-style): one process per connection' },
  { id: 'none', label: 'None of these can do it' },
];

const SCENARIOS: Readonly<
  Record<string, { text: string; answer: string; why: string; wrong: Record<string, string> }>
> = {
  chat: {
    text: 'A chat room with 5,000 browsers connected at once, where a message from one is sent to all the others within milliseconds.',
    answer: 'server',
    why: 'Every connection must stay open and one process must reach all of them to fan a message out; one long-running server holds them all in memory cheaply.',
    wrong: {
      cgi: 'A CGI script answers one request and exits (RFC 3875 §3.1, §6): nothing would stay to hold 5,000 open WebSockets or send to them later.',
      bridge:
        'A bridge would start 5,000 separate processes, and a line one of them prints reaches only its own client: they would still need a shared server to talk to each other.',
      none: 'One process holding every connection does exactly this: that is what a WebSocket server is.',
    },
  },
  script: {
    text: 'An existing command-line program in Python reads a line, prints a result line, and loops. You want each browser tab to talk to its own copy of it over a WebSocket, without changing the program.',
    answer: 'bridge',
    why: 'A bridge such as websocketd starts one copy of the program per connection and turns each message into a line on its standard input and each printed line into a message.',
    wrong: {
      cgi: 'CGI starts the program for one request and takes one response; the program would have to exit before anything reached the browser, and its stdin is only the request body (RFC 3875 §4.2, §6).',
      server:
        'A long-running server would work, but you would have to rewrite the program as a server; the bridge runs it as it is.',
      none: 'A stdin/stdout bridge was made for exactly this.',
    },
  },
  form: {
    text: 'A contact form: the browser posts it once, the server stores it and answers "thanks". Nothing is sent afterwards.',
    answer: 'cgi',
    why: 'This is one request and one response: exactly what CGI does (RFC 3875 §3.1, §6). No WebSocket is needed.',
    wrong: {
      server:
        'A server process would work, but keeping a process or a connection open for a single request and response buys nothing here.',
      bridge: 'There is no ongoing conversation to bridge: one request, one response.',
      none: 'CGI handles exactly one request and one response.',
    },
  },
  ticker: {
    text: 'A stock ticker on shared web hosting that only allows CGI scripts: the page must receive a new price every second over a WebSocket.',
    answer: 'none',
    why: 'A WebSocket needs something that lives as long as the connection and can write to it at any time; a CGI script is started per request, writes one response and ends (RFC 3875 §3.1, §6), and the hosting offers nothing else.',
    wrong: {
      cgi: 'The CGI script would have to answer 101 and then keep writing for hours, reading frames the server never passes it: CGI gives a script the request body on stdin and takes one response (RFC 3875 §4.2, §6).',
      server: 'The hosting allows only CGI scripts: no long-running process may run there.',
      bridge:
        'A bridge is itself a long-running server process, which this hosting does not allow.',
    },
  },
};

export const architectureModel = defineExercise<ModelParams>({
  id: 'architecture-model',
  chapter: 'architecture',
  kind: 'choice',
  title: 'CGI, a server, or a bridge?',
  multiple: false,
  generate: (rng) => ({ scenario: rng.pick(Object.keys(SCENARIOS)) }),
  prompt: (p) => ({
    text: `${SCENARIOS[p.scenario]?.text ?? ''} Which way of running the code fits best?`,
  }),
  choices: () => MODELS,
  hints: () => [
    'How long must something on the server live: one request, or as long as the connection?',
    'CGI runs a program per request; the program writes one response and exits (RFC 3875 §3.1, §6).',
    'A bridge gives every connection its own process; a server gives all connections one.',
  ],
  reveal: (p) => {
    const s = SCENARIOS[p.scenario];
    return `${MODELS.find((m) => m.id === s?.answer)?.label}. ${s?.why}`;
  },
  check(p, answer) {
    if (answer.length !== 1) return wrong('Choose exactly one answer.');
    const s = SCENARIOS[p.scenario];
    const chosen = answer[0] as string;
    if (s === undefined) return wrong('Unknown scenario: draw new values.');
    if (chosen === s.answer) return right;
    return wrong(s.wrong[chosen] ?? 'Choose one of the listed answers.');
  },
});

// ---- 4. The Origin of a page ---------------------------------------------------------------------

export interface OriginParams {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  /** null: the scheme's default port, left out of the URL. */
  readonly port: number | null;
  readonly page: string;
  readonly socketUrl: string;
}

export function originOf(p: OriginParams): string {
  return `${p.scheme}://${p.host}${p.port === null ? '' : `:${p.port}`}`;
}

function pageUrl(p: OriginParams): string {
  return `${originOf(p)}${p.page}`;
}

export const architectureOrigin = defineExercise<OriginParams>({
  id: 'architecture-origin',
  chapter: 'architecture',
  kind: 'short-answer',
  title: 'Which Origin must the server allow?',
  label: 'Origin header value',
  generate(rng) {
    const scheme = rng.pick(['http', 'https'] as const);
    const host = rng.pick(['app.example.com', 'example.org', 'localhost', 'shop.example.net']);
    const port = rng.pick([null, null, 8443, 3000, 4321]);
    const page = rng.pick(['/chat/index.html', '/', '/room?id=7', '/app/']);
    const wsPort = rng.pick([8080, 9001, 6455]);
    const socketScheme = scheme === 'https' ? 'wss' : 'ws';
    return {
      scheme,
      host,
      port,
      page,
      socketUrl: `${socketScheme}://${rng.pick(['ws.', ''])}${host}:${wsPort}/live`,
    };
  },
  prompt: (p) => ({
    text: `A page at ${pageUrl(p)} runs new WebSocket('${p.socketUrl}'). The WebSocket server listens on its own port. What exactly does the browser put in the Origin header of the handshake, the value the server’s allow list must contain?`,
  }),
  hints: (p) => [
    'An origin is a scheme, a host and a port: nothing else of the URL (RFC 6454 §4).',
    'It is the origin of the page that runs the script, not of the WebSocket URL (RFC 6455 §4.1, §10.2).',
    p.port === null
      ? `The page’s URL has no port: the scheme’s default is meant, and a serialized origin leaves a default port out (RFC 6454 §6.1).`
      : 'A port that is not the scheme’s default stays in the serialized origin (RFC 6454 §6.1).',
  ],
  reveal: (p) =>
    `${originOf(p)}: the page’s scheme, host and port, with no path (RFC 6454 §4, §6.1). The WebSocket server is on another port, so it is another origin, and its allow list must name this one (RFC 6455 §10.2).`,
  check(p, answer) {
    const given = answer.trim().replace(/^origin:\s*/i, '');
    const expected = originOf(p);
    if (given.toLowerCase() === expected.toLowerCase()) return right;
    if (given === '')
      return wrong('Type the value of the Origin header, like https://example.com.');
    if (/^wss?:/i.test(given)) {
      return wrong(
        'That is the WebSocket’s scheme. Origin names the page that opened the socket, whose scheme is http or https (RFC 6455 §4.1).',
      );
    }
    const socketHost = new URL(p.socketUrl.replace(/^ws/, 'http')).host;
    if (given.toLowerCase().includes(socketHost.toLowerCase())) {
      return wrong(
        `${socketHost} is where the WebSocket goes. Origin says where the page came from (RFC 6455 §10.2).`,
      );
    }
    if (given.toLowerCase().startsWith(expected.toLowerCase()) && given.length > expected.length) {
      return wrong(
        given.slice(expected.length).startsWith(':')
          ? `Leave out the port: ${p.scheme}’s default port is not written in a serialized origin (RFC 6454 §6.1).`
          : 'An origin has no path, query or trailing slash: only scheme, host and port (RFC 6454 §4, §6.1).',
      );
    }
    if (p.port !== null && given.toLowerCase() === `${p.scheme}://${p.host}`) {
      return wrong(
        `The page is on port ${p.port}, which is not ${p.scheme}’s default: it belongs in the origin (RFC 6454 §6.1).`,
      );
    }
    return wrong(`Take the page’s URL, ${pageUrl(p)}, and keep only its scheme, host and port.`);
  },
});

export const architectureExercises = [
  architectureRoute,
  architectureProxy,
  architectureModel,
  architectureOrigin,
];
