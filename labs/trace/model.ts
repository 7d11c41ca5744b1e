/**
 * The trace timeline's logic, without a DOM: what the lab server's /trace endpoint streams back
 * (protocol/trace.ts) folded into one run per trace, and the geometry of the timeline (a shared
 * time axis, each phase a bar from its start to its end, ticks at round numbers). Everything from
 * the socket is hostile until checked: a message of the wrong shape is ignored, never drawn.
 */
import {
  PHASE_LABELS,
  phaseDuration,
  TRACE_PHASES,
  type Trace,
  type TraceFailure,
  type TracePhase,
  type TracePhaseName,
  type TraceScheme,
  type TraceTls,
  type TraceVia,
  traceTotal,
} from '../../protocol/trace.ts';

export type RunStatus = 'idle' | 'running' | 'done' | 'refused' | 'lost';

export interface TraceRun {
  readonly scheme: TraceScheme;
  readonly via: TraceVia;
  readonly status: RunStatus;
  /** Phases in the order they arrived (the server sends them in order). */
  readonly phases: readonly TracePhase[];
  /** The final trace, once `done` arrived. */
  readonly trace: Trace | null;
  /** Why the server refused, or why the run was lost. */
  readonly reason: string;
}

export function newRun(scheme: TraceScheme, via: TraceVia = 'direct'): TraceRun {
  return { scheme, via, status: 'idle', phases: [], trace: null, reason: '' };
}

export function startRun(run: TraceRun): TraceRun {
  return { ...run, status: 'running', phases: [], trace: null, reason: '' };
}

/** The socket closed (or could not be opened) before `done` or `refused`. */
export function loseRun(run: TraceRun, reason: string): TraceRun {
  return run.status === 'running' ? { ...run, status: 'lost', reason } : run;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

const finite = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

const PHASE_NAMES: ReadonlySet<string> = new Set(TRACE_PHASES);

/** A phase as the contract describes it, or null: unknown name, times missing or backwards. */
export function readPhase(value: unknown): TracePhase | null {
  const phase = record(value);
  if (phase === null) return null;
  const { name, start, end, detail, data } = phase;
  if (typeof name !== 'string' || !PHASE_NAMES.has(name)) return null;
  if (!finite(start) || !finite(end) || start < 0 || end < start) return null;
  const facts = record(data);
  return {
    name: name as TracePhaseName,
    start,
    end,
    detail: typeof detail === 'string' ? detail : '',
    ...(facts === null ? {} : { data: readData(facts) }),
  };
}

function readData(facts: Record<string, unknown>): NonNullable<TracePhase['data']> {
  const out: Record<string, string | number | boolean | null | readonly string[]> = {};
  for (const [key, value] of Object.entries(facts)) {
    if (
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      value === null ||
      finite(value)
    ) {
      out[key] = value;
    } else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      out[key] = value as string[];
    }
  }
  return out;
}

function readFailure(value: unknown): TraceFailure | undefined {
  const failure = record(value);
  if (failure === null) return undefined;
  const { phase, explanation, status, bytesHex } = failure;
  if (typeof phase !== 'string' || !PHASE_NAMES.has(phase)) return undefined;
  return {
    phase: phase as TracePhaseName,
    explanation: typeof explanation === 'string' ? explanation : '',
    ...(finite(status) ? { status } : {}),
    ...(typeof bytesHex === 'string' ? { bytesHex } : {}),
  };
}

function readTls(value: unknown): TraceTls | undefined {
  const tls = record(value);
  if (tls === null) return undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const cert = record(tls.certificate);
  return {
    version: text(tls.version),
    cipher: text(tls.cipher),
    alpn: typeof tls.alpn === 'string' ? tls.alpn : null,
    certificate:
      cert === null
        ? null
        : {
            subject: text(cert.subject),
            altNames: Array.isArray(cert.altNames)
              ? cert.altNames.filter((n): n is string => typeof n === 'string')
              : [],
            issuer: text(cert.issuer),
            validTo: text(cert.validTo),
            verified: cert.verified === true,
          },
  };
}

/** The `done` message's trace, checked field by field; phases that do not read are left out. */
export function readTrace(value: unknown): Trace | null {
  const trace = record(value);
  if (trace === null || typeof trace.ok !== 'boolean' || !Array.isArray(trace.phases)) return null;
  const phases = trace.phases.map(readPhase).filter((p): p is TracePhase => p !== null);
  const via = (['direct', 'connect', 'aware', 'naive'] as const).find((v) => v === trace.via);
  const failure = readFailure(trace.failure);
  const tls = readTls(trace.tls);
  const dns = record(trace.dns);
  return {
    v: 1,
    url: typeof trace.url === 'string' ? trace.url : '',
    via: via ?? 'direct',
    ...(typeof trace.proxy === 'string' ? { proxy: trace.proxy } : {}),
    ok: trace.ok,
    phases,
    ...(failure === undefined ? {} : { failure }),
    ...(tls === undefined ? {} : { tls }),
    ...(dns !== null && Array.isArray(dns.addresses)
      ? { dns: { addresses: dns.addresses.filter((a): a is string => typeof a === 'string') } }
      : {}),
  };
}

/** Folds one message from /trace into the run. Unknown or malformed messages change nothing. */
export function reduce(run: TraceRun, message: unknown): TraceRun {
  if (run.status !== 'running') return run;
  const m = record(message);
  if (m === null) return run;
  if (m.type === 'phase') {
    const phase = readPhase(m.phase);
    return phase === null ? run : { ...run, phases: [...run.phases, phase] };
  }
  if (m.type === 'done') {
    const trace = readTrace(m.trace);
    if (trace === null) return run;
    return { ...run, status: 'done', trace, phases: trace.phases };
  }
  if (m.type === 'refused') {
    const reason = typeof m.reason === 'string' && m.reason !== '' ? m.reason : 'no reason given';
    return { ...run, status: 'refused', reason };
  }
  return run;
}

/** Parses a text frame and folds it in; text that is not JSON changes nothing. */
export function reduceText(run: TraceRun, text: string): TraceRun {
  try {
    return reduce(run, JSON.parse(text));
  } catch {
    return run;
  }
}

/** The request the page sends (protocol/trace.ts): it names a scheme and a proxy mode, no host. */
export function traceRequest(scheme: TraceScheme, via: TraceVia): string {
  return JSON.stringify({ type: 'trace', scheme, via });
}

// ---- Geometry ------------------------------------------------------------------------------------

export interface Bar {
  readonly name: TracePhaseName;
  readonly label: string;
  readonly detail: string;
  /** Milliseconds. */
  readonly start: number;
  readonly duration: number;
  /** Percent of the axis. `width` is at least `MIN_WIDTH` so an instant phase stays visible. */
  readonly left: number;
  readonly width: number;
  /** True for the phase that failed. */
  readonly failed: boolean;
}

/** The narrowest bar, in percent of the axis: a 0.01 ms phase is still seen as a tick. */
export const MIN_WIDTH = 0.6;

/**
 * The end of the shared axis: the longest of the runs, rounded up to the next tick, and never zero
 * (a run with only instant phases still gets an axis).
 */
export function axisEnd(runs: readonly Pick<TraceRun, 'phases'>[]): number {
  let longest = 0;
  for (const run of runs) longest = Math.max(longest, traceTotal(run));
  if (longest <= 0) return 1;
  // Below a microsecond nothing is worth drawing apart; a floor keeps the steps finite.
  if (longest < 0.001) return 0.001;
  const step = tickStep(longest);
  return Math.ceil(longest / step) * step;
}

/** A round step (1, 2 or 5 times a power of ten) giving 3 to 10 ticks up to `max`. */
export function tickStep(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const factor of [1, 2, 5, 10]) {
    if (power * factor >= rough) return power * factor;
  }
  return power * 10;
}

/** The ticks of an axis ending at `end`: 0, step, 2 step, ... end. */
export function ticks(end: number): number[] {
  const step = tickStep(end);
  const out: number[] = [];
  // Counting in integers avoids 0.30000000000000004 ticks.
  for (let i = 0; i * step <= end * (1 + 1e-9); i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

export function bars(run: Pick<TraceRun, 'phases' | 'trace'>, end: number): Bar[] {
  const failure = run.trace?.failure;
  const placed: Bar[] = run.phases.map((phase) => {
    const duration = phaseDuration(phase);
    const left = Math.min(100, (phase.start / end) * 100);
    const width = Math.max(MIN_WIDTH, Math.min(100 - left, (duration / end) * 100));
    return {
      name: phase.name,
      label: PHASE_LABELS[phase.name],
      detail: phase.detail,
      start: phase.start,
      duration,
      left,
      width: Math.min(width, 100),
      failed: failure?.phase === phase.name,
    };
  });
  // The phase that failed never completed, so the trace has no timing for it: mark the point
  // where the run stopped, so the timeline shows where it broke.
  if (failure !== undefined && !run.phases.some((phase) => phase.name === failure.phase)) {
    const at = traceTotal(run);
    placed.push({
      name: failure.phase,
      label: PHASE_LABELS[failure.phase],
      detail:
        failure.status === undefined
          ? 'did not complete'
          : `did not complete: the answer was HTTP ${failure.status}`,
      start: at,
      duration: 0,
      left: Math.min(100 - MIN_WIDTH, (at / end) * 100),
      width: MIN_WIDTH,
      failed: true,
    });
  }
  return placed;
}

/** `0.042 ms`, `1.24 ms`, `12.3 ms`, `240 ms`, `1.50 s`: three significant figures. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms === 0) return '0 ms';
  if (ms >= 1000) return `${(ms / 1000).toPrecision(3)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${Number(ms.toPrecision(3))} ms`;
}

/** Milliseconds from the start until the 101 (or other answer) was read, if it was. */
export function timeToResponse(run: Pick<TraceRun, 'phases'>): number | null {
  const response = run.phases.find((p) => p.name === 'response');
  return response === undefined ? null : response.end;
}

export interface Comparison {
  /** The TLS handshake of the wss:// run. */
  readonly tls: number;
  /** Time to the answer of each run. */
  readonly wsToResponse: number;
  readonly wssToResponse: number;
}

/**
 * What wss:// added over ws://, from two finished runs: the duration of its TLS phase, and the
 * time each needed to get its 101. Null until both have answered.
 */
export function compare(ws: TraceRun, wss: TraceRun): Comparison | null {
  const tls = wss.phases.find((p) => p.name === 'tls');
  const a = timeToResponse(ws);
  const b = timeToResponse(wss);
  if (tls === undefined || a === null || b === null) return null;
  return { tls: phaseDuration(tls), wsToResponse: a, wssToResponse: b };
}

/**
 * The comparison in words. On loopback the times are the two programs' own work and vary from
 * run to run, so when ws:// happened to be slower the text says so instead of claiming TLS was
 * free.
 */
export function comparisonText(c: Comparison): string {
  const head = `wss:// spent ${formatMs(c.tls)} in its TLS handshake, a phase ws:// does not have, before it could send the upgrade request. Time to the 101: ${formatMs(c.wsToResponse)} for ws://, ${formatMs(c.wssToResponse)} for wss://.`;
  if (c.wssToResponse >= c.wsToResponse) {
    return `${head} Every later message rides the open connection and pays none of this again.`;
  }
  return `${head} This time ws:// was slower overall: on one machine these times are the programs' own work, which varies from run to run (the first connection often pays for warming up). Trace again and compare the phases.`;
}

/** One line for a screen reader and the status line: what the run did. */
export function summary(run: TraceRun): string {
  const scheme = `${run.scheme}://`;
  switch (run.status) {
    case 'idle':
      return `${scheme}: not traced yet.`;
    case 'running':
      return `${scheme}: tracing… ${run.phases.length} phase${run.phases.length === 1 ? '' : 's'} so far.`;
    case 'refused':
      return `${scheme}: the lab server refused the trace: ${run.reason}`;
    case 'lost':
      return `${scheme}: ${run.reason}`;
    case 'done': {
      const trace = run.trace;
      if (trace === null) return `${scheme}: done.`;
      const total = formatMs(traceTotal(trace));
      if (trace.ok) {
        const answer = timeToResponse(run);
        return `${scheme}: ${trace.phases.length} phases in ${total}${answer === null ? '' : `, 101 after ${formatMs(answer)}`}.`;
      }
      const failure = trace.failure;
      return `${scheme}: failed at ${failure === undefined ? 'an unknown phase' : PHASE_LABELS[failure.phase]} after ${total}${failure?.status === undefined ? '' : ` (HTTP ${failure.status})`}.`;
    }
  }
}

/**
 * The run as it stood `t` milliseconds after it started: the phases begun by then, the one in
 * progress cut at `t`. The slow-motion replay draws this for a growing `t`.
 */
export function snapshotAt(run: TraceRun, t: number): TraceRun {
  const phases = run.phases
    .filter((phase) => phase.start <= t)
    .map((phase) => (phase.end <= t ? phase : { ...phase, end: Math.max(phase.start, t) }));
  if (run.phases.every((phase) => phase.end <= t)) return run;
  return { ...run, status: 'running', phases, trace: null };
}

/**
 * The first bytes of a failed answer (hex, from the trace) as text a learner can read: an HTTP
 * head line by line (CR LF shown as line ends), decoded as UTF-8 (a byte that is not valid UTF-8
 * becomes U+FFFD), other control characters as \xNN. At most `limit` bytes; null when the hex does
 * not read.
 */
export function bytesAsText(hex: string, limit = 1024): string | null {
  const compact = hex.replace(/\s+/g, '');
  if (compact === '' || compact.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(compact)) return null;
  const total = compact.length / 2;
  const bytes = new Uint8Array(Math.min(total, limit));
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = Number.parseInt(compact.slice(i * 2, i * 2 + 2), 16);
  }
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/\r\n/g, '\n');
  let text = '';
  for (const char of decoded) {
    const code = char.charCodeAt(0);
    const control = (code < 0x20 && char !== '\n' && char !== '\t') || code === 0x7f;
    text += control ? `\\x${code.toString(16).padStart(2, '0')}` : char;
  }
  return total > limit ? `${text}…` : text;
}
