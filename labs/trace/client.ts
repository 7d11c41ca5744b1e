/**
 * The browser side of /trace: one WebSocket per trace to the lab server, one request naming a
 * scheme and a proxy mode (never a host: the lab server traces only itself), and every answer
 * folded into the run as it arrives. Shared by the trace timeline and the proxy lab.
 */
import type { TraceScheme, TraceVia } from '../../protocol/trace.ts';
import {
  connectLabServer,
  type PageLocation,
  type UnavailableMessage,
  unavailableMessage,
} from '../shared/lab-server.ts';
import { loseRun, newRun, reduceText, startRun, type TraceRun, traceRequest } from './model.ts';

export type TraceOutcome =
  | { readonly ok: true; readonly run: TraceRun; readonly origin: string }
  | { readonly ok: false; readonly unavailable: UnavailableMessage };

/**
 * Runs one trace. `onUpdate` sees the run after every message, so phases can be drawn as they
 * stream in. Resolves when the server says `done` or `refused`, or the socket closes first.
 */
export async function runTrace(
  scheme: TraceScheme,
  via: TraceVia,
  onUpdate: (run: TraceRun) => void,
  signal: AbortSignal,
  page: PageLocation = location,
): Promise<TraceOutcome> {
  let run = startRun(newRun(scheme, via));
  onUpdate(run);
  const connected = await connectLabServer('/trace', { signal });
  if (!connected.ok) return { ok: false, unavailable: unavailableMessage(connected.tried, page) };
  const { socket, origin } = connected.connection;
  return new Promise((resolve) => {
    const finish = () => {
      signal.removeEventListener('abort', onAbort);
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
      resolve({ ok: true, run, origin });
    };
    const onAbort = () => {
      run = loseRun(run, 'stopped');
      finish();
    };
    signal.addEventListener('abort', onAbort);
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string' || run.status !== 'running') return;
      run = reduceText(run, event.data);
      onUpdate(run);
      if (run.status !== 'running') finish();
    });
    socket.addEventListener('close', (event) => {
      if (run.status !== 'running') return;
      run = loseRun(
        run,
        `the lab server closed the trace socket (code ${event.code}) before the trace was done. Is pnpm lab still running?`,
      );
      onUpdate(run);
      finish();
    });
    socket.send(traceRequest(scheme, via));
  });
}

export interface LabInfo {
  /** The wss:// port, or null when the lab server has no TLS listener. */
  readonly https: number | null;
  /** The proxies' ports, or null when they are off. */
  readonly proxies: {
    readonly connect: number;
    readonly aware: number;
    readonly naive: number;
  } | null;
}

/** `/lab.json`, checked; null when it cannot be read (an older lab server, another origin). */
export async function fetchLabInfo(origin: string, signal: AbortSignal): Promise<LabInfo | null> {
  try {
    const response = await fetch(new URL('/lab.json', origin), { signal, cache: 'no-store' });
    if (!response.ok) return null;
    return readLabInfo(await response.json());
  } catch {
    return null;
  }
}

const port = (value: unknown): number | null =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536 ? value : null;

export function readLabInfo(value: unknown): LabInfo | null {
  if (typeof value !== 'object' || value === null) return null;
  const ports = (value as { ports?: unknown }).ports;
  if (typeof ports !== 'object' || ports === null) return null;
  const p = ports as Record<string, unknown>;
  const proxies =
    typeof p.proxies === 'object' && p.proxies !== null
      ? (p.proxies as Record<string, unknown>)
      : null;
  const connect = port(proxies?.connect);
  const aware = port(proxies?.aware);
  const naive = port(proxies?.naive);
  return {
    https: port(p.https),
    proxies:
      connect !== null && aware !== null && naive !== null ? { connect, aware, naive } : null,
  };
}
