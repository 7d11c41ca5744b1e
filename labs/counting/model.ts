/**
 * The connection-counting lab, without the DOM: run N requests three ways against the lab
 * server and read back what the server counted for each.
 *
 * - fresh: N fetches of `/count/fetch?close=1`. The server answers each with `Connection: close`
 *   (RFC 9112 §9.6), so the browser opens a new TCP connection (RFC 9293 §3.5, three-way
 *   handshake) and, on https://, makes a new TLS handshake (RFC 8446 §2) for the next one.
 * - kept: N fetches on a kept-alive connection: HTTP/1.1 connections persist unless one side
 *   says close (RFC 9112 §9.3), so every fetch after the first rides the same connection.
 * - websocket: one WebSocket to `/echo?run=`, then N messages on it: one connection, one HTTP
 *   request (the upgrade, RFC 6455 §4.1), then frames only (§5.2).
 *
 * The numbers come from the server (`/count/stats`), not from the page's own bookkeeping. The
 * fetch and WebSocket implementations are passed in, so tests run this code in Node against a
 * real lab server.
 */

import type { RunStats } from '../../protocol/count.ts';

export const MIN_COUNT = 1;
export const MAX_COUNT = 50;
export const DEFAULT_COUNT = 10;

export type Strategy = 'fresh' | 'kept' | 'websocket';
export const STRATEGIES: readonly Strategy[] = ['fresh', 'kept', 'websocket'];

/** What the lab server counted for one run (`/count/stats`, without its version and id). */
export type ServerCounts = Omit<RunStats, 'v' | 'run'>;

export interface StrategyResult {
  readonly strategy: Strategy;
  readonly n: number;
  readonly counts: ServerCounts;
  /** Wall-clock time the page spent on the N requests or messages, in milliseconds. */
  readonly elapsedMs: number;
}

export type CountParse =
  | { readonly ok: true; readonly n: number }
  | { readonly ok: false; readonly error: string };

/** The learner's N: a whole number from 1 to 50. */
export function parseCount(text: string): CountParse {
  const trimmed = text.trim();
  if (trimmed === '') {
    return {
      ok: false,
      error: `Type how many requests to send, from ${MIN_COUNT} to ${MAX_COUNT}.`,
    };
  }
  if (!/^\d+$/.test(trimmed)) {
    return {
      ok: false,
      error: `"${trimmed.slice(0, 20)}" is not a whole number: type one from ${MIN_COUNT} to ${MAX_COUNT}.`,
    };
  }
  const n = Number(trimmed);
  if (n < MIN_COUNT || n > MAX_COUNT) {
    return {
      ok: false,
      error: `${trimmed.slice(0, 20)} is outside ${MIN_COUNT} to ${MAX_COUNT}: the lab keeps runs small so they finish in a moment.`,
    };
  }
  return { ok: true, n };
}

/** A run id the server accepts (`[A-Za-z0-9_-]{1,64}`), unique enough for one browser. */
export function runId(strategy: Strategy, random: () => number = Math.random): string {
  const part = () =>
    Math.floor(random() * 36 ** 6)
      .toString(36)
      .padStart(6, '0');
  return `${strategy}-${part()}${part()}`;
}

/** The parts of the browser's APIs the runs use, so Node tests can pass their own. */
export interface Transport {
  readonly origin: string;
  fetch(
    url: string,
    init?: { cache?: 'no-store' },
  ): Promise<{
    ok: boolean;
    status: number;
    json(): Promise<unknown>;
    text(): Promise<string>;
  }>;
  openWebSocket(url: string): WebSocketLike;
  now(): number;
}

export interface WebSocketLike {
  send(data: string): void;
  close(code?: number): void;
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: unknown) => void,
  ): void;
}

export class RunError extends Error {}

/** `http://h:p` → `ws://h:p/echo?run=ID`; `https` → `wss`. */
export function echoUrl(origin: string, id: string): string {
  const url = new URL(`/echo?run=${id}`, origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

async function fetchOk(transport: Transport, path: string): Promise<unknown> {
  const response = await transport.fetch(new URL(path, transport.origin).href, {
    cache: 'no-store',
  });
  if (!response.ok) {
    let reason = '';
    try {
      reason = ((await response.json()) as { error?: string }).error ?? '';
    } catch {
      reason = '';
    }
    throw new RunError(
      `The lab server answered ${response.status} to ${path.split('?')[0]}${reason === '' ? '' : `: ${reason}`}`,
    );
  }
  return response.json();
}

/** Runs one strategy with N requests or messages and returns what the server counted. */
export async function runStrategy(
  transport: Transport,
  strategy: Strategy,
  n: number,
  random: () => number = Math.random,
): Promise<StrategyResult> {
  const id = runId(strategy, random);
  const started = transport.now();
  if (strategy === 'websocket') await echoMessages(transport, id, n);
  else {
    const close = strategy === 'fresh' ? '&close=1' : '';
    // One after another: a browser opens parallel connections for parallel fetches, which would
    // hide what keep-alive saves.
    for (let i = 0; i < n; i++) await fetchOk(transport, `/count/fetch?run=${id}${close}&i=${i}`);
  }
  const elapsedMs = transport.now() - started;
  // Asked on a connection the server then closes: the next run starts without one open, as
  // the first did, so each pays for its own connections.
  const counts = readCounts(await fetchOk(transport, `/count/stats?run=${id}&close=1`));
  return { strategy, n, counts, elapsedMs };
}

/** Opens one WebSocket to /echo, sends N messages one at a time (each echoed), then closes. */
function echoMessages(transport: Transport, id: string, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = transport.openWebSocket(echoUrl(transport.origin, id));
    let sent = 0;
    let echoed = 0;
    let done = false;
    const timer = setTimeout(() => fail('No echo within 10 s.'), 10_000);
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.close();
      reject(new RunError(why));
    };
    const next = () => {
      sent++;
      ws.send(`message ${sent} of ${n}`);
    };
    ws.addEventListener('open', () => next());
    ws.addEventListener('message', () => {
      echoed++;
      if (echoed < n) return next();
      done = true;
      clearTimeout(timer);
      ws.addEventListener('close', () => resolve());
      ws.close(1000);
    });
    ws.addEventListener('close', () => {
      if (!done) fail(`The WebSocket closed after ${echoed} of ${n} echoes.`);
    });
    ws.addEventListener('error', () => fail('The WebSocket to /echo failed.'));
  });
}

const COUNT_FIELDS = [
  'tcpConnections',
  'newTcpConnections',
  'tlsHandshakes',
  'tlsResumed',
  'httpRequests',
  'closeAnswers',
  'webSocketConnections',
  'webSocketMessages',
  'bytesIn',
  'bytesOut',
] as const;

/** The server's JSON, checked field by field: a page must not draw numbers it did not get. */
export function readCounts(json: unknown): ServerCounts {
  if (typeof json !== 'object' || json === null)
    throw new RunError('The counts are not a JSON object.');
  const record = json as Record<string, unknown>;
  const counts: Record<string, number | boolean> = {};
  for (const field of COUNT_FIELDS) {
    const value = record[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new RunError(`The counts have no whole number "${field}".`);
    }
    counts[field] = value;
  }
  counts.overTls = record.overTls === true;
  return counts as unknown as ServerCounts;
}

/** One row of the comparison: a quantity and its value for each strategy. */
export interface Row {
  readonly key: string;
  readonly label: string;
  /** What the row counts, with the rule behind it. */
  readonly note: string;
  readonly values: Readonly<Record<Strategy, string>>;
  /** The largest cell, for drawing bars; null when the row is not a count. */
  readonly numbers: Readonly<Record<Strategy, number>> | null;
}

function bytes(n: number): string {
  if (n < 10_000) return `${n} B`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/** The table the view draws: one column per strategy that has run. */
export function compare(results: Partial<Record<Strategy, StrategyResult>>): Row[] {
  const cell = (f: (r: StrategyResult) => string) =>
    Object.fromEntries(
      STRATEGIES.map((s) => [s, results[s] === undefined ? '–' : f(results[s] as StrategyResult)]),
    ) as Record<Strategy, string>;
  const num = (f: (c: ServerCounts) => number) =>
    Object.fromEntries(
      STRATEGIES.map((s) => [
        s,
        results[s] === undefined ? 0 : f((results[s] as StrategyResult).counts),
      ]),
    ) as Record<Strategy, number>;
  const anyTls = STRATEGIES.some((s) => results[s]?.counts.overTls === true);
  const rows: Row[] = [
    {
      key: 'tcp',
      label: 'TCP connections used',
      note: 'Connections that carried at least one of the run’s requests.',
      values: cell((r) => String(r.counts.tcpConnections)),
      numbers: num((c) => c.tcpConnections),
    },
    {
      key: 'new-tcp',
      label: 'New TCP connections',
      note: 'Each one cost a three-way handshake, a round trip before any byte of HTTP (RFC 9293 §3.5). A connection the browser still had open from loading this page is used, not new; the lab server closes idle ones after a few seconds.',
      values: cell((r) => String(r.counts.newTcpConnections)),
      numbers: num((c) => c.newTcpConnections),
    },
    {
      key: 'tls',
      label: 'TLS handshakes',
      note: anyTls
        ? 'One per new connection on https:// and wss:// (RFC 8446 §2); a resumed one skips the certificate but still costs a round trip.'
        : 'This page came over http://, so there were none. Open it over https:// to count them.',
      values: cell((r) =>
        r.counts.overTls
          ? `${r.counts.tlsHandshakes}${r.counts.tlsResumed > 0 ? ` (${r.counts.tlsResumed} resumed)` : ''}`
          : 'none (http)',
      ),
      numbers: anyTls ? num((c) => c.tlsHandshakes) : null,
    },
    {
      key: 'http',
      label: 'HTTP requests',
      note: 'Request heads the server parsed; a WebSocket sends one, its upgrade (RFC 6455 §4.1).',
      values: cell((r) => String(r.counts.httpRequests)),
      numbers: num((c) => c.httpRequests),
    },
    {
      key: 'messages',
      label: 'WebSocket messages',
      note: 'Messages the server received on /echo: frames on the open connection, no request head each (RFC 6455 §5.2).',
      values: cell((r) => String(r.counts.webSocketMessages)),
      numbers: num((c) => c.webSocketMessages),
    },
    {
      key: 'bytes-in',
      label: 'Bytes to the server',
      note: 'HTTP heads and WebSocket frames as the server’s tap counted them (after decryption on TLS).',
      values: cell((r) => bytes(r.counts.bytesIn)),
      numbers: num((c) => c.bytesIn),
    },
    {
      key: 'bytes-out',
      label: 'Bytes from the server',
      note: 'Answers (head and body), the 101 and echoed frames.',
      values: cell((r) => bytes(r.counts.bytesOut)),
      numbers: num((c) => c.bytesOut),
    },
    {
      key: 'time',
      label: 'Time in this browser',
      note: 'From the first request to the last answer, measured by the page; on loopback the round trips are short, across a network each new connection adds at least one.',
      values: cell((r) => `${Math.round(r.elapsedMs)} ms`),
      numbers: null,
    },
  ];
  return rows;
}

/** A sentence per strategy saying what it paid per request, from the server's numbers. */
export function summary(result: StrategyResult): string {
  const c = result.counts;
  const n = result.n;
  const per = (x: number) => (x / n).toFixed(x % n === 0 ? 0 : 1);
  switch (result.strategy) {
    case 'fresh':
      return `${n} fetches with Connection: close used ${c.tcpConnections} TCP connections (${c.newTcpConnections} new)${c.overTls ? ` and ${c.tlsHandshakes} TLS handshakes` : ''}: about ${per(c.newTcpConnections)} new connection per request.`;
    case 'kept':
      return `${n} fetches on a kept-alive connection used ${c.tcpConnections} TCP connection${c.tcpConnections === 1 ? '' : 's'} (${c.newTcpConnections} new)${c.overTls ? ` and ${c.tlsHandshakes} TLS handshake${c.tlsHandshakes === 1 ? '' : 's'}` : ''}, but still ${c.httpRequests} request heads.`;
    case 'websocket':
      return `${n} messages on one WebSocket used ${c.tcpConnections} TCP connection${c.tcpConnections === 1 ? '' : 's'} and ${c.httpRequests} HTTP request${c.httpRequests === 1 ? '' : 's'} (the upgrade); the server received ${c.webSocketMessages} messages.`;
  }
}

/** The lab server's ports, from its `/lab.json` (lab-server/server.ts). */
export interface LabPorts {
  readonly http: number;
  readonly https: number | null;
}

/** Reads `/lab.json`; a page not served by the lab server gets an error instead. */
export function readLabInfo(json: unknown): LabPorts {
  const ports = (json as { v?: unknown; ports?: { http?: unknown; https?: unknown } } | null)
    ?.ports;
  const port = (p: unknown) => typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536;
  if (ports === undefined || !port(ports.http) || !(ports.https === null || port(ports.https))) {
    throw new RunError('/lab.json did not describe a lab server.');
  }
  return { http: ports.http as number, https: (ports.https as number | null) ?? null };
}

/** Asks the page's own origin for /lab.json: the counting lab needs the lab server itself. */
export async function discover(transport: Transport): Promise<LabPorts> {
  return readLabInfo(await fetchOk(transport, '/lab.json'));
}

/**
 * This page over https:// on the lab's TLS port, when the page is on http:// and the lab server
 * has one; null otherwise.
 */
export function httpsVersion(
  page: { readonly protocol: string; readonly hostname: string; readonly pathname: string },
  ports: LabPorts,
): string | null {
  if (page.protocol !== 'http:' || ports.https === null) return null;
  const host =
    page.hostname.includes(':') && !page.hostname.startsWith('[')
      ? `[${page.hostname}]`
      : page.hostname;
  return `https://${host}:${ports.https}${page.pathname}`;
}
