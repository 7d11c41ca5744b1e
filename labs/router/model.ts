/**
 * The router lab's logic, free of the DOM: build a request from the learner's choices, read the
 * lab server's real answer from the bytes the /raw relay hands back, and say which of the lab
 * server's handlers answered it, from the evidence in that answer (status, headers, body) and in
 * the annotation events of the connection.
 *
 * The steps are the ones `lab-server/server.ts` takes, in its order: a first request with
 * `Upgrade` and `Connection: upgrade` is answered by the server itself on the TCP socket (the
 * upgrade path); anything else goes to Node's HTTP server (the HTTP path). The integration test
 * (`routes.test.ts`) sends every example to a real lab server and holds the verdicts to these
 * steps, so a change of routing in server.ts shows up there.
 */
import type { LabEvent, Route } from '../../protocol/annotations.ts';
import { closePayload, encodeFrame } from '../../protocol/frame-encoder.ts';
import { validateUpgradeRequest } from '../../protocol/handshake.ts';
import {
  getHeader,
  HttpHeadParser,
  parseList,
  type ResponseHead,
  TOKEN,
} from '../../protocol/http-head.ts';

// ---- the request --------------------------------------------------------------------------

export type OriginChoice = 'none' | 'page' | 'foreign';
export type HostChoice = 'server' | 'foreign';

export interface RequestChoices {
  readonly method: string;
  readonly path: string;
  readonly upgrade: boolean;
  readonly connectionUpgrade: boolean;
  readonly key: boolean;
  /** `13`, another version, or null to leave the header out. */
  readonly version: string | null;
  readonly origin: OriginChoice;
  readonly host: HostChoice;
}

export const FOREIGN_ORIGIN = 'http://evil.example';
export const FOREIGN_HOST = 'evil.example';

export interface Example {
  readonly id: string;
  readonly label: string;
  readonly choices: RequestChoices;
}

const UPGRADE: Omit<RequestChoices, 'path'> = {
  method: 'GET',
  upgrade: true,
  connectionUpgrade: true,
  key: true,
  version: '13',
  origin: 'page',
  host: 'server',
};

const PLAIN: Omit<RequestChoices, 'path'> = {
  method: 'GET',
  upgrade: false,
  connectionUpgrade: false,
  key: false,
  version: null,
  origin: 'none',
  host: 'server',
};

/** Requests worth sending, one per handler or check of the lab server. */
export const EXAMPLES: readonly Example[] = [
  { id: 'page', label: 'GET / (a page)', choices: { ...PLAIN, path: '/' } },
  { id: 'upgrade-echo', label: 'Upgrade to /echo', choices: { ...UPGRADE, path: '/echo' } },
  { id: 'plain-echo', label: 'GET /echo without Upgrade', choices: { ...PLAIN, path: '/echo' } },
  { id: 'upgrade-chat', label: 'Upgrade to /chat', choices: { ...UPGRADE, path: '/chat' } },
  { id: 'lab-json', label: 'GET /lab.json', choices: { ...PLAIN, path: '/lab.json' } },
  { id: 'no-page', label: 'GET /no-such-page', choices: { ...PLAIN, path: '/no-such-page' } },
  {
    id: 'foreign-origin',
    label: 'Upgrade from another origin',
    choices: { ...UPGRADE, path: '/echo', origin: 'foreign' },
  },
  {
    id: 'foreign-host',
    label: 'GET / with a foreign Host',
    choices: { ...PLAIN, path: '/', host: 'foreign' },
  },
  { id: 'version-8', label: 'Version 8', choices: { ...UPGRADE, path: '/echo', version: '8' } },
  {
    id: 'no-connection',
    label: 'Upgrade without Connection',
    choices: { ...UPGRADE, path: '/echo', connectionUpgrade: false },
  },
];

export type Built =
  | { readonly ok: true; readonly text: string; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly problem: string };

/** RFC 9112 §3.2: an origin-form target, visible ASCII without spaces; kept short for the lab. */
const TARGET = /^\/[\x21-\x7e]*$/;

/**
 * The request head the choices describe. `pageOrigin` is the lab server's own origin
 * (`http://127.0.0.1:6455`), for Host and for an Origin from "this page"; `key` a fresh one.
 */
export function buildRequest(choices: RequestChoices, pageOrigin: string, key: string): Built {
  const method = choices.method.trim();
  if (!TOKEN.test(method)) {
    return {
      ok: false,
      problem: `The method "${method.slice(0, 20)}" is not a token: letters, digits and !#$%&'*+-.^_\`|~ only (RFC 9110 §9.1, §5.6.2).`,
    };
  }
  const path = choices.path.trim();
  if (path.length > 200) {
    return { ok: false, problem: `The path is ${path.length} characters long; keep it to 200.` };
  }
  if (!TARGET.test(path)) {
    const bad = [...path].find((c) => c < '!' || c > '~');
    return {
      ok: false,
      problem: !path.startsWith('/')
        ? 'The path must start with "/": a request to a server names its target in origin form, like /echo (RFC 9112 §3.2.1).'
        : `The path may not contain ${bad === ' ' ? 'a space' : `the character U+${(bad ?? '?').codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}`}: a request target is visible ASCII, with anything else percent-encoded (RFC 9112 §3.2, RFC 3986 §2.1).`,
    };
  }
  const own = new URL(pageOrigin);
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${choices.host === 'server' ? own.host : FOREIGN_HOST}`,
  ];
  if (choices.upgrade) lines.push('Upgrade: websocket');
  if (choices.connectionUpgrade) lines.push('Connection: Upgrade');
  if (choices.key) lines.push(`Sec-WebSocket-Key: ${key}`);
  if (choices.version !== null) lines.push(`Sec-WebSocket-Version: ${choices.version}`);
  if (choices.origin !== 'none') {
    lines.push(`Origin: ${choices.origin === 'page' ? own.origin : FOREIGN_ORIGIN}`);
  }
  lines.push('User-Agent: websocket-lab-router');
  const text = `${lines.join('\r\n')}\r\n\r\n`;
  return { ok: true, text, bytes: new TextEncoder().encode(text) };
}

/**
 * Which way the lab server sends a first request: with `Upgrade` and a `Connection` that lists
 * `upgrade`, it answers on the TCP socket itself; otherwise Node's HTTP server parses it
 * (lab-server/connection.ts `isUpgrade`; RFC 9110 §7.8 needs both headers for an upgrade).
 */
export function takesUpgradePath(choices: RequestChoices): boolean {
  return choices.upgrade && choices.connectionUpgrade;
}

// ---- predicting the answer --------------------------------------------------------------------

/**
 * The WebSocket endpoints a plain `pnpm lab` takes an upgrade for (server.ts: echo, observe,
 * raw, check; others only with their flags), and every WebSocket path it knows (tap.ts
 * WEBSOCKET_ROUTES), which gets 426 for a plain request.
 */
export const ALWAYS_ON = ['/echo', '/observe', '/raw', '/check'] as const;

export interface Prediction {
  readonly step: StepId;
  readonly status: number;
}

/**
 * What the lab server answers to the request the choices describe, worked out from its rules
 * in their order (the exercises use it; routes.test.ts holds it to the real server for many
 * random requests). `webSocketPaths` is WEBSOCKET_ROUTES' keys.
 */
export function predict(
  choices: RequestChoices,
  webSocketPaths: ReadonlySet<string>,
  pageOrigin = 'http://127.0.0.1:6455',
): Prediction {
  const built = buildRequest(choices, pageOrigin, 'dGhlIHNhbXBsZSBub25jZQ==');
  if (!built.ok) return { step: 'parse', status: 400 };
  const parsed = new HttpHeadParser({ kind: 'request' }).push(built.bytes);
  if (parsed.state !== 'complete') return { step: 'parse', status: 400 };
  const path = choices.path.split('?', 1)[0] as string;
  const failed = validateUpgradeRequest(parsed.head).filter((f) => !f.ok && !f.informational);
  const rulesStatus = failed.some((f) => f.status !== 426) ? 400 : 426;
  if (takesUpgradePath(choices)) {
    if (failed.length > 0) return { step: 'rules', status: rulesStatus };
    if (choices.host === 'foreign') return { step: 'host', status: 403 };
    if (!(ALWAYS_ON as readonly string[]).includes(path)) return { step: 'endpoint', status: 404 };
    if (choices.origin === 'foreign') return { step: 'origin', status: 403 };
    return { step: 'websocket', status: 101 };
  }
  // The tap keeps a request with Upgrade or a key as a handshake, and server.ts answers one to a
  // WebSocket path by the handshake rules.
  if (webSocketPaths.has(path) && (choices.upgrade || choices.key) && failed.length > 0) {
    return { step: 'rules', status: rulesStatus };
  }
  if (choices.host === 'foreign') return { step: 'host', status: 403 };
  if (webSocketPaths.has(path)) return { step: 'ws-path', status: 426 };
  if (path === '/lab.json' || path.startsWith('/lab.json/')) {
    return {
      step: 'http-endpoint',
      status: choices.method === 'GET' || choices.method === 'HEAD' ? 200 : 405,
    };
  }
  return { step: 'static', status: path === '/' ? 200 : 404 };
}

// ---- the server's steps -------------------------------------------------------------------

export type StepId =
  | 'parse'
  | 'rules'
  | 'host'
  | 'endpoint'
  | 'origin'
  | 'websocket'
  | 'ws-path'
  | 'http-endpoint'
  | 'static';

export interface Step {
  readonly id: StepId;
  readonly title: string;
  /** What the step does, with the rule it applies. */
  readonly does: string;
}

const STEP: Readonly<Record<StepId, Step>> = {
  parse: {
    id: 'parse',
    title: 'Read the request head',
    does: 'The tap parses the head itself; garbage, a bare LF flood or too many header bytes get 400 or 431 before any handler sees them (RFC 9112 §2.2, RFC 6585 §5).',
  },
  rules: {
    id: 'rules',
    title: 'Check the handshake rules',
    does: 'GET, HTTP/1.1, Upgrade: websocket, Connection: Upgrade, a 16-byte Sec-WebSocket-Key, version 13. A broken rule gets 400, an unknown version 426 with Sec-WebSocket-Version: 13 (RFC 6455 §4.2.1, §4.2.2, §4.4).',
  },
  host: {
    id: 'host',
    title: 'Check Host',
    does: 'Host must name this server, so that a page on another name that resolves here (DNS rebinding) gets 403 (RFC 9112 §3.2, RFC 6455 §10.2 for the idea).',
  },
  endpoint: {
    id: 'endpoint',
    title: 'Find the WebSocket endpoint',
    does: 'The path must be one of the WebSocket endpoints (WEBSOCKET_ROUTES in lab-server/tap.ts that are switched on); any other gets 404 (RFC 6455 §4.2.2).',
  },
  origin: {
    id: 'origin',
    title: 'Check Origin',
    does: 'A browser’s Origin must be one the server trusts; another page’s gets 403 before the upgrade. Clients that send no Origin are not browsers and pass (RFC 6455 §4.2.2, §10.2).',
  },
  websocket: {
    id: 'websocket',
    title: 'ws completes the handshake',
    does: 'The ws library writes 101 Switching Protocols with Sec-WebSocket-Accept, and the endpoint (echo, observe, raw, ...) owns the connection from the next byte on (RFC 6455 §4.2.2).',
  },
  'ws-path': {
    id: 'ws-path',
    title: 'A WebSocket path without an upgrade',
    does: 'A plain request to /echo or another WebSocket path gets 426 Upgrade Required with Upgrade: websocket, naming the protocol it needs (RFC 9110 §15.5.22).',
  },
  'http-endpoint': {
    id: 'http-endpoint',
    title: 'An HTTP endpoint',
    does: 'Paths an HttpEndpoint claims by prefix, such as /lab.json (the ports of the lab server’s listeners), are answered by that endpoint’s own file.',
  },
  static: {
    id: 'static',
    title: 'The static site',
    does: 'Everything else is a file of the built site (sirv serving dist/): 200 with the page, or 404 with the site’s own not-found page.',
  },
};

/** The steps of each path, in the order lab-server/server.ts takes them. */
export const UPGRADE_STEPS: readonly Step[] = [
  STEP.parse,
  STEP.rules,
  STEP.host,
  STEP.endpoint,
  STEP.origin,
  STEP.websocket,
];
export const HTTP_STEPS: readonly Step[] = [
  STEP.parse,
  STEP.rules,
  STEP.host,
  STEP['ws-path'],
  STEP['http-endpoint'],
  STEP.static,
];

// ---- reading the answer -------------------------------------------------------------------

export interface Answer {
  readonly head: ResponseHead;
  /** The bytes of the head as text. */
  readonly headText: string;
  /** The body as far as it arrived, decoded as UTF-8. */
  readonly body: string;
  readonly bodyBytes: number;
  /** True once the whole answer is in: its length reached, a 101, or the connection closed. */
  readonly complete: boolean;
}

/** Collects the server's bytes from the relay until the answer is complete. */
export class AnswerReader {
  readonly #parser = new HttpHeadParser({ kind: 'response' });
  #head: ResponseHead | null = null;
  #headText = '';
  /** Chunks that arrived before the head was complete. */
  #early: Uint8Array[] = [];
  #body: Uint8Array[] = [];
  #bodyBytes = 0;
  #closed = false;
  #problem: string | null = null;

  /** Bytes from the relay. */
  push(chunk: Uint8Array): void {
    if (this.#problem !== null) return;
    if (this.#head !== null) {
      this.#keep(chunk);
      return;
    }
    const result = this.#parser.push(chunk);
    if (result.state === 'need-more') {
      this.#early.push(chunk);
      return;
    }
    if (result.state === 'error') {
      this.#problem = result.problem.explanation;
      return;
    }
    this.#head = result.head;
    const all = concat([...this.#early, chunk]);
    this.#early = [];
    this.#headText = new TextDecoder().decode(all.subarray(0, result.headLength));
    this.#keep(result.rest);
  }

  #keep(bytes: Uint8Array): void {
    // A 101's following bytes are WebSocket frames, not a body.
    if (this.#head?.status === 101 || bytes.length === 0) return;
    this.#bodyBytes += bytes.length;
    // 8 KiB is plenty to show; a page may be larger.
    const kept = this.#body.reduce((n, c) => n + c.length, 0);
    if (kept < BODY_KEPT) this.#body.push(bytes.slice(0, BODY_KEPT - kept));
  }

  /** The connection closed: whatever arrived is the whole answer. */
  closed(): void {
    this.#closed = true;
  }

  /** Why the server's bytes are not an HTTP response, if they are not. */
  get problem(): string | null {
    return this.#problem;
  }

  get answer(): Answer | null {
    if (this.#head === null) return null;
    const head = this.#head;
    const length = Number(getHeader(head, 'content-length') ?? Number.NaN);
    const raw = concat(this.#body);
    const chunked = parseList(getHeader(head, 'transfer-encoding')).some(
      (c) => c.toLowerCase() === 'chunked',
    );
    const decoded = chunked ? dechunk(raw) : { body: raw, done: false };
    const complete =
      this.#closed ||
      head.status === 101 ||
      head.status === 304 ||
      decoded.done ||
      (Number.isFinite(length) && this.#bodyBytes >= length);
    return {
      head,
      headText: this.#headText,
      body: new TextDecoder().decode(decoded.body),
      bodyBytes: this.#bodyBytes,
      complete,
    };
  }
}

const BODY_KEPT = 8192;

/**
 * The data of a chunked body (RFC 9112 §7.1): size lines in hex, each chunk, and a last chunk of
 * size 0. `done` once the last chunk and the empty line after it have arrived.
 */
export function dechunk(bytes: Uint8Array): { body: Uint8Array; done: boolean } {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    let lineEnd = -1;
    for (let i = at; i + 1 < bytes.length; i++) {
      if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) {
        lineEnd = i;
        break;
      }
    }
    if (lineEnd === -1) break;
    const sizeText = new TextDecoder().decode(bytes.subarray(at, lineEnd)).split(';', 1)[0] ?? '';
    if (!/^[0-9a-fA-F]+$/.test(sizeText.trim())) break;
    const size = Number.parseInt(sizeText.trim(), 16);
    const start = lineEnd + 2;
    if (size === 0) {
      // No trailer fields here: the last chunk is followed by the empty line.
      return { body: concat(parts), done: bytes.length >= start + 2 };
    }
    if (start + size + 2 > bytes.length) {
      parts.push(bytes.subarray(start, Math.min(bytes.length, start + size)));
      break;
    }
    parts.push(bytes.subarray(start, start + size));
    at = start + size + 2;
  }
  return { body: concat(parts), done: false };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

export interface Verdict {
  /** Which path the request took and which step answered. */
  readonly path: 'upgrade' | 'http';
  readonly step: StepId;
  /** For a 101: the endpoint that owns the connection, from the annotation. */
  readonly route: Route | null;
  /** One or two sentences: who answered and why, from the evidence. */
  readonly explanation: string;
}

/**
 * Which handler answered: the step whose answer this is, told from the status, the headers, the
 * body the server wrote and the annotations of the connection.
 */
export function judge(
  choices: RequestChoices,
  answer: Answer,
  events: readonly LabEvent[],
): Verdict {
  const path = takesUpgradePath(choices) ? 'upgrade' : 'http';
  const { status } = answer.head;
  const body = answer.body.trim();
  const request = events.find((e) => e.type === 'handshake-request');
  const route = request?.type === 'handshake-request' ? request.route : null;
  const contentType = getHeader(answer.head, 'content-type') ?? '';
  const verdict = (step: StepId, explanation: string): Verdict => ({
    path,
    step,
    route: step === 'websocket' ? route : null,
    explanation,
  });
  const firstLine = body.split('\n', 1)[0] ?? '';

  if (status === 101) {
    return verdict(
      'websocket',
      `101 Switching Protocols with Sec-WebSocket-Accept ${getHeader(answer.head, 'sec-websocket-accept') ?? '(missing!)'}: every check passed, ws wrote the 101, and the ${route ?? 'endpoint'} handler owns the connection now (RFC 6455 §4.2.2).`,
    );
  }
  if (status === 431 || (status === 400 && getHeader(answer.head, 'content-length') === '0')) {
    return verdict(
      'parse',
      `${status}: the head itself was refused before any handler saw it (RFC 9112 §2.2).`,
    );
  }
  if (status === 400 || (status === 426 && request !== undefined)) {
    const findings = request?.type === 'handshake-request' ? request.findings : [];
    const broken = findings.filter((f) => !f.ok && !f.informational);
    const why = broken[0]?.explanation ?? firstLine;
    return verdict(
      'rules',
      `${status} from the handshake check: ${why}${path === 'http' ? ' Without both Upgrade and Connection: upgrade, Node’s HTTP server read the request, and the lab server answered it by the same rules because it carries WebSocket headers.' : ''}`,
    );
  }
  if (status === 403) {
    if (/^Host\b/.test(body)) {
      return verdict('host', `403 from the Host check: ${firstLine}`);
    }
    return verdict('origin', `403 from the Origin check: ${firstLine}`);
  }
  if (status === 404 && path === 'upgrade') {
    return verdict(
      'endpoint',
      `404 on the upgrade path: ${firstLine} The site’s pages are never considered for a WebSocket upgrade.`,
    );
  }
  if (status === 426) {
    return verdict(
      'ws-path',
      `426 Upgrade Required with Upgrade: ${getHeader(answer.head, 'upgrade') ?? '?'}: the path is a WebSocket endpoint, and this was an ordinary request (RFC 9110 §15.5.22).`,
    );
  }
  if (contentType.startsWith('application/json') || status === 405) {
    return verdict(
      'http-endpoint',
      `${status} ${answer.head.reason} with ${contentType || 'no Content-Type'}: an HTTP endpoint of its own file answered, not the static site.`,
    );
  }
  return verdict(
    'static',
    status === 404
      ? '404 with the site’s not-found page: no handler claimed the path, so the static site looked for a file and found none.'
      : `${status} ${answer.head.reason} with ${contentType || 'no Content-Type'}: the static site served a file of the built site.`,
  );
}

// ---- after the answer ---------------------------------------------------------------------

/**
 * What to send once the answer is in, so that the connection ends cleanly: after a 101, a masked
 * close frame (1000) that the endpoint answers (RFC 6455 §5.5.1); after anything else, nothing
 * (the relay sends FIN, and the server closes its side).
 */
export function goodbye(answer: Answer, maskingKey: Uint8Array): Uint8Array | null {
  if (answer.head.status !== 101) return null;
  return encodeFrame({ opcode: 0x8, payload: closePayload(1000, 'router lab done'), maskingKey });
}

/** True when a Connection header of the answer lists `close`. */
export function answerCloses(answer: Answer): boolean {
  return parseList(getHeader(answer.head, 'connection')).some((o) => o.toLowerCase() === 'close');
}

// ---- one run through the /raw relay --------------------------------------------------------

export type RunAction =
  | { readonly type: 'observe'; readonly conn: number }
  | { readonly type: 'send'; readonly bytes: Uint8Array }
  /** Send FIN on the relay's TCP connection (the relay's text message `end`). */
  | { readonly type: 'end' }
  | { readonly type: 'update' };

export type RunPhase = 'relay' | 'observer' | 'sent' | 'answered' | 'closed';

/**
 * One request through /raw, as a state machine the view (and the integration test) drives. The
 * relay names its connection first; the observer of that connection is open before the request
 * goes, so no annotation is missed; once the answer is in, the run ends the connection politely.
 */
export class RouterRun {
  readonly #request: Uint8Array;
  readonly #maskingKey: () => Uint8Array;
  readonly reader = new AnswerReader();
  readonly events: LabEvent[] = [];
  #phase: RunPhase = 'relay';
  #conn: number | null = null;
  #socketClosed = false;

  constructor(request: Uint8Array, maskingKey: () => Uint8Array) {
    this.#request = request;
    this.#maskingKey = maskingKey;
  }

  get phase(): RunPhase {
    return this.#phase;
  }

  get conn(): number | null {
    return this.#conn;
  }

  /** Closed, and the lab server has reported the socket closed (or the relay has gone). */
  get settled(): boolean {
    return this.#phase === 'closed' && (this.#socketClosed || this.#conn === 0);
  }

  /** A text message from /raw. */
  relayStatus(data: string): RunAction[] {
    let status: { type?: unknown; conn?: unknown };
    try {
      status = JSON.parse(data) as typeof status;
    } catch {
      return [];
    }
    if (status.type === 'connected' && typeof status.conn === 'number' && this.#phase === 'relay') {
      this.#conn = status.conn;
      this.#phase = 'observer';
      // conn 0: the lab server refused the connection (at its cap); nothing to observe.
      return status.conn === 0 ? this.observerReady() : [{ type: 'observe', conn: status.conn }];
    }
    if (status.type === 'closed') return this.relayClosed();
    return [];
  }

  /** The observer's snapshot arrived: send the request. */
  observerReady(): RunAction[] {
    if (this.#phase !== 'observer') return [];
    this.#phase = 'sent';
    return [{ type: 'send', bytes: this.#request }, { type: 'update' }];
  }

  /** Bytes the server wrote, from the relay. */
  relayBytes(chunk: Uint8Array): RunAction[] {
    this.reader.push(chunk);
    const answer = this.reader.answer;
    if (this.#phase !== 'sent' || (answer === null && this.reader.problem === null)) {
      return [{ type: 'update' }];
    }
    if (answer !== null && !answer.complete) return [{ type: 'update' }];
    this.#phase = 'answered';
    const bye = answer === null ? null : goodbye(answer, this.#maskingKey());
    return [bye === null ? { type: 'end' } : { type: 'send', bytes: bye }, { type: 'update' }];
  }

  /** The relay's TCP connection closed, or the relay itself went away. */
  relayClosed(): RunAction[] {
    if (this.#phase === 'closed') return [];
    this.reader.closed();
    this.#phase = 'closed';
    return [{ type: 'update' }];
  }

  /** An annotation from /observe?id=N. */
  event(event: LabEvent): RunAction[] {
    if (event.type === 'dropped' || event.conn !== this.#conn) return [];
    this.events.push(event);
    if (event.type === 'socket-closed') this.#socketClosed = true;
    return [{ type: 'update' }];
  }
}
