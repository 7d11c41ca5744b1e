/**
 * The connection-path trace: what a WebSocket client does, phase by phase, from the name lookup to
 * the last FIN, with a monotonic timestamp for each step. Pure types and helpers (no Node imports)
 * shared by the lab server's trace client (`lab-server/trace/`), `pnpm lab trace` and the pages.
 *
 * ## The /trace WebSocket (lab server, `ws://<lab>/trace`)
 *
 * The page sends one JSON text message:
 *
 *     {"type":"trace","scheme":"ws"|"wss","via":"direct"|"connect"|"aware"|"naive","message"?:string}
 *
 * - `scheme`: trace the lab server's own ws:// port, or its wss:// port (only when
 *   `/lab.json` reports `ports.https`).
 * - `via`: `direct`, or through one of the lab server's own loopback proxies (`/lab.json`
 *   `ports.proxies`): `connect` (CONNECT tunnel, RFC 9110 §9.3.6), `aware` (a forwarder that
 *   re-adds Upgrade/Connection), `naive` (a forwarder that drops hop-by-hop headers, RFC 9110
 *   §7.6.1, so the upgrade of ws:// fails on purpose). ws:// via `connect` is tunnelled; ws:// via
 *   `aware`/`naive` is forwarded in absolute form (RFC 9112 §3.2.2). wss:// always uses CONNECT
 *   (as browsers do), also through the `aware`/`naive` ports, which accept CONNECT like real
 *   forward proxies: the tunnel hides the upgrade inside TLS, so wss:// passes even the naive proxy.
 * - `message`: the text sent once and expected back from `/echo` (default `"hello"`, at most
 *   `TRACE_MESSAGE_MAX` UTF-8 bytes).
 *
 * The page never names a host, port or URL: the server traces itself only, and refuses anything
 * else (unknown fields included).
 *
 * The server answers with text messages:
 *
 *     {"type":"phase","phase":TracePhase}   once per phase, as soon as it completes, in order
 *     {"type":"done","trace":Trace}         the whole trace, last message (ok or failed)
 *     {"type":"refused","reason":string}    the request was not acceptable (bad JSON, a field
 *                                           naming another target, wss:// without a TLS
 *                                           listener, too many traces running); nothing was traced
 *
 * The socket stays open: one trace at a time per socket (a request during a trace is refused),
 * and another request after `done` or `refused` traces again. The page closes the socket.
 */

/** The phases in the order they happen; a trace contains an ordered subsequence of these. */
export const TRACE_PHASES = [
  'dns',
  'tcp',
  'proxy',
  'tls',
  'request',
  'response',
  'message-sent',
  'message-echoed',
  'close-sent',
  'close-received',
  'fin-received',
  'fin-sent',
] as const;

/**
 * - `dns`: name lookup (all addresses); for an IP literal it takes no time and says so.
 * - `tcp`: TCP connection established (to the proxy when there is one).
 * - `proxy`: CONNECT tunnel established (2xx to CONNECT), or the request handed to a forwarder.
 * - `tls`: TLS handshake finished (version, cipher, ALPN, certificate).
 * - `request`: the upgrade request written (RFC 6455 §4.1).
 * - `response`: the server's answer read: 101 or another status (explained).
 * - `message-sent` / `message-echoed`: one text message out and the echo back.
 * - `close-sent` / `close-received`: the close handshake (RFC 6455 §5.5.1, §7.1.2).
 * - `fin-received` / `fin-sent`: each direction of TCP shut down; `data.first` says who was first.
 *   In the order the client saw them: the server closes the TCP connection first (RFC 6455 §7.1.1),
 *   so `fin-received` normally comes before `fin-sent`; when it does not, the two are swapped.
 */
export type TracePhaseName = (typeof TRACE_PHASES)[number];

export type TraceVia = 'direct' | 'connect' | 'aware' | 'naive';
export const TRACE_VIAS: readonly TraceVia[] = ['direct', 'connect', 'aware', 'naive'];

export type TraceScheme = 'ws' | 'wss';

export interface TracePhase {
  readonly name: TracePhaseName;
  /** Milliseconds since the trace started (monotonic clock), when the phase began. */
  readonly start: number;
  /** Milliseconds since the trace started, when the phase completed; `end >= start`. */
  readonly end: number;
  /** What happened, in words, e.g. "127.0.0.1 (IPv4) from the OS resolver". */
  readonly detail: string;
  /** Machine-readable facts for the phase (addresses, status, bytes, who sent FIN first...). */
  readonly data?: Readonly<Record<string, string | number | boolean | null | readonly string[]>>;
}

export interface TraceFailure {
  /** The phase that could not complete. */
  readonly phase: TracePhaseName;
  /** Which rule, which RFC section, what the client saw. */
  readonly explanation: string;
  /** HTTP status when the failure is an answer (e.g. 400, 403, 426, 502). */
  readonly status?: number;
  /** The first bytes received that failed, as hex (e.g. a non-101 status line). */
  readonly bytesHex?: string;
}

export interface TraceTls {
  readonly version: string;
  readonly cipher: string;
  /** The negotiated ALPN protocol, or null when none was negotiated. */
  readonly alpn: string | null;
  readonly certificate: {
    readonly subject: string;
    readonly altNames: readonly string[];
    readonly issuer: string;
    readonly validTo: string;
    /** Whether the certificate chain was verified (false with --insecure). */
    readonly verified: boolean;
  } | null;
}

export interface Trace {
  readonly v: 1;
  readonly url: string;
  readonly via: TraceVia;
  /** The proxy URL used, when `via` is not `direct`. */
  readonly proxy?: string;
  readonly ok: boolean;
  readonly phases: readonly TracePhase[];
  readonly failure?: TraceFailure;
  readonly tls?: TraceTls;
  readonly dns?: { readonly addresses: readonly string[] };
}

export const TRACE_MESSAGE_MAX = 1024;
export const DEFAULT_TRACE_MESSAGE = 'hello';

export interface TraceRequest {
  readonly type: 'trace';
  readonly scheme: TraceScheme;
  readonly via: TraceVia;
  readonly message?: string;
}

export type TraceServerMessage =
  | { readonly type: 'phase'; readonly phase: TracePhase }
  | { readonly type: 'done'; readonly trace: Trace }
  | { readonly type: 'refused'; readonly reason: string };

const REQUEST_FIELDS = new Set(['type', 'scheme', 'via', 'message']);

/**
 * Reads a page's /trace request. Never throws: a string is the reason to refuse. Fields other than
 * the four known ones are refused by name, so a page cannot slip a host, port or URL in.
 */
export function parseTraceRequest(text: string): TraceRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the request is not JSON; send {"type":"trace","scheme":"ws","via":"direct"}';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'the request must be a JSON object like {"type":"trace","scheme":"ws","via":"direct"}';
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!REQUEST_FIELDS.has(key)) {
      return `unknown field ${JSON.stringify(key)}: the lab server traces only itself, so a page cannot name a host, port or URL`;
    }
  }
  if (record.type !== 'trace') return 'field "type" must be "trace"';
  if (record.scheme !== 'ws' && record.scheme !== 'wss') {
    return 'field "scheme" must be "ws" or "wss" (the lab server\'s own ports)';
  }
  if (typeof record.via !== 'string' || !(TRACE_VIAS as readonly string[]).includes(record.via)) {
    return 'field "via" must be "direct", "connect", "aware" or "naive" (the lab server\'s own proxies)';
  }
  const via = record.via as TraceVia;
  if (record.message === undefined) return { type: 'trace', scheme: record.scheme, via };
  if (typeof record.message !== 'string') return 'field "message" must be a string';
  if (utf8Length(record.message) > TRACE_MESSAGE_MAX) {
    return `field "message" is longer than ${TRACE_MESSAGE_MAX} UTF-8 bytes`;
  }
  return { type: 'trace', scheme: record.scheme, via, message: record.message };
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Duration of a phase in milliseconds (never negative). */
export function phaseDuration(phase: TracePhase): number {
  return Math.max(0, phase.end - phase.start);
}

/** The index of a phase name in `TRACE_PHASES` (for ordering checks and timelines). */
export function phaseRank(name: TracePhaseName): number {
  return TRACE_PHASES.indexOf(name);
}

/** A short label for each phase, for timelines. */
export const PHASE_LABELS: Readonly<Record<TracePhaseName, string>> = {
  dns: 'DNS lookup',
  tcp: 'TCP connect',
  proxy: 'proxy',
  tls: 'TLS handshake',
  request: 'upgrade request sent',
  response: 'response received',
  'message-sent': 'message sent',
  'message-echoed': 'message echoed',
  'close-sent': 'close sent',
  'close-received': 'close received',
  'fin-received': 'FIN received',
  'fin-sent': 'FIN sent',
};

/** Total time of a trace: the end of its last phase. */
export function traceTotal(trace: Pick<Trace, 'phases'>): number {
  let total = 0;
  for (const phase of trace.phases) total = Math.max(total, phase.end);
  return total;
}
