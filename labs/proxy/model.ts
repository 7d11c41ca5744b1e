/**
 * The proxy lab's logic, without a DOM: the same trace run directly and through each of the lab
 * server's loopback proxies, for ws:// and wss://, one cell per pair. Each cell's verdict and
 * reason come from the trace the lab server returned (labs/trace/model.ts reads it), never from
 * what the page expects; `EXPECTED` is what the chapter teaches, and the browser test holds the
 * real runs to it.
 */
import { PHASE_LABELS, TRACE_VIAS, type TraceScheme, type TraceVia } from '../../protocol/trace.ts';
import { formatMs, newRun, type TraceRun, timeToResponse } from '../trace/model.ts';

export const SCHEMES: readonly TraceScheme[] = ['ws', 'wss'];

export const VIA_LABELS: Readonly<Record<TraceVia, string>> = {
  direct: 'Direct, no proxy',
  connect: 'CONNECT tunnel',
  aware: 'WebSocket-aware forwarder',
  naive: 'Naive forwarder',
};

/** What each proxy does with a ws:// connection, in a sentence (protocol/trace.ts, RFC 9110). */
export const VIA_NOTES: Readonly<Record<TraceVia, string>> = {
  direct: 'The client connects to the lab server itself.',
  connect:
    'The client asks the proxy for a tunnel with CONNECT host:port (RFC 9110 §9.3.6); after the 2xx the proxy copies bytes both ways without reading them.',
  aware:
    'The client sends its GET in absolute form (RFC 9112 §3.2.2); the proxy forwards it and, knowing WebSocket, sends Upgrade and Connection on to the server and relays the 101.',
  naive:
    'The client sends its GET in absolute form; the proxy treats Connection and Upgrade as hop-by-hop and drops them before forwarding (RFC 9110 §7.6.1), as a plain HTTP proxy may.',
};

/** What the chapter teaches: only ws:// through the naive forwarder fails. */
export const EXPECTED: Readonly<Record<TraceVia, Readonly<Record<TraceScheme, boolean>>>> = {
  direct: { ws: true, wss: true },
  connect: { ws: true, wss: true },
  aware: { ws: true, wss: true },
  naive: { ws: false, wss: true },
};

export type CellKey = `${TraceVia}/${TraceScheme}`;

export const cellKey = (via: TraceVia, scheme: TraceScheme): CellKey => `${via}/${scheme}`;

export const CELLS: readonly { readonly via: TraceVia; readonly scheme: TraceScheme }[] =
  TRACE_VIAS.flatMap((via) => SCHEMES.map((scheme) => ({ via, scheme })));

export type Grid = Readonly<Record<CellKey, TraceRun>>;

export function emptyGrid(): Grid {
  return Object.fromEntries(
    CELLS.map(({ via, scheme }) => [cellKey(via, scheme), newRun(scheme, via)]),
  ) as Grid;
}

export type Verdict = 'idle' | 'running' | 'pass' | 'fail' | 'refused' | 'lost';

export function verdictOf(run: TraceRun): Verdict {
  if (run.status === 'done') return run.trace?.ok ? 'pass' : 'fail';
  return run.status;
}

/** The short text of a cell: the verdict and, for a failure, where and with what status. */
export function cellLabel(run: TraceRun): string {
  const verdict = verdictOf(run);
  switch (verdict) {
    case 'idle':
      return 'not run';
    case 'running':
      return 'running…';
    case 'refused':
      return 'refused';
    case 'lost':
      return 'lost';
    case 'pass': {
      const answer = timeToResponse(run);
      return answer === null ? 'passes' : `passes: 101 after ${formatMs(answer)}`;
    }
    case 'fail': {
      const failure = run.trace?.failure;
      if (failure === undefined) return 'fails';
      return `fails at ${PHASE_LABELS[failure.phase]}${failure.status === undefined ? '' : ` (${failure.status})`}`;
    }
  }
}

export interface Reason {
  /** What the proxy did, from the trace's proxy phase (empty when there is no proxy). */
  readonly proxy: string;
  /** What the server answered, or why the trace stopped. */
  readonly answer: string;
}

/** The annotated reason of a cell, from what the trace recorded. */
export function reasonOf(run: TraceRun): Reason {
  const proxy = run.phases.find((p) => p.name === 'proxy')?.detail ?? '';
  if (run.status === 'refused') return { proxy, answer: `The lab server refused: ${run.reason}` };
  if (run.status === 'lost') return { proxy, answer: run.reason };
  const failure = run.trace?.failure;
  if (failure !== undefined) return { proxy, answer: failure.explanation };
  const response = run.phases.find((p) => p.name === 'response')?.detail ?? '';
  const echoed = run.phases.find((p) => p.name === 'message-echoed');
  return {
    proxy,
    answer: [response, echoed === undefined ? '' : `The message came back: ${echoed.detail}`]
      .filter((part) => part !== '')
      .join(' '),
  };
}

/** Does a finished cell match what the chapter teaches? Null until it has finished. */
export function matchesExpectation(run: TraceRun): boolean | null {
  const verdict = verdictOf(run);
  if (verdict !== 'pass' && verdict !== 'fail') return null;
  return (verdict === 'pass') === EXPECTED[run.via][run.scheme];
}

/** One line for the status: how many cells passed and failed. */
export function tally(grid: Grid): string {
  const verdicts = CELLS.map(({ via, scheme }) => verdictOf(grid[cellKey(via, scheme)]));
  const count = (v: Verdict) => verdicts.filter((x) => x === v).length;
  const parts = [`${count('pass')} passed`, `${count('fail')} failed`];
  if (count('refused') > 0) parts.push(`${count('refused')} refused`);
  if (count('lost') > 0) parts.push(`${count('lost')} lost`);
  const notRun = count('idle');
  if (notRun > 0) parts.push(`${notRun} not run`);
  return `${parts.join(', ')}.`;
}
