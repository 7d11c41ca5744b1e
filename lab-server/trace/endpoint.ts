/**
 * `/trace`: a page asks the lab server to trace a WebSocket connection to ITSELF (its ws:// port,
 * or its wss:// port when the TLS listener is on), directly or through one of its own loopback
 * proxies, and gets each phase as it completes. The request names no host, port or URL (see the
 * contract in protocol/trace.ts), so a page cannot use the lab server to probe anything else.
 * The server has already checked Host and Origin (RFC 6455 §10.2) before this runs.
 */
import type { WebSocket } from 'ws';
import {
  parseTraceRequest,
  type TraceRequest,
  type TraceServerMessage,
} from '../../protocol/trace.ts';
import type { LabContext, WebSocketEndpoint } from '../endpoints.ts';
import { runTrace } from './client.ts';

export interface TraceEndpointOptions {
  /** Traces running at once across all pages; more are refused. */
  readonly maxConcurrent?: number;
  /** Longest wait for each step of a trace. */
  readonly timeoutMs?: number;
}

export const TRACE_MAX_CONCURRENT = 4;
const TRACE_TIMEOUT_MS = 5000;

function send(ws: WebSocket, message: TraceServerMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

/** What to trace for a request, or why not: only the lab server's own listeners. */
export function selfTarget(
  request: TraceRequest,
  context: LabContext,
): { url: string; proxyPort: number | null } | string {
  const { ports } = context;
  const host = context.host.includes(':') ? `[${context.host}]` : context.host;
  let url: string;
  if (request.scheme === 'wss') {
    if (ports.https === null) {
      return 'wss:// cannot be traced: this lab server has no TLS listener (ports.https in /lab.json is null).';
    }
    url = `wss://${host}:${ports.https}/echo`;
  } else {
    url = `ws://${host}:${ports.http}/echo`;
  }
  if (request.via === 'direct') return { url, proxyPort: null };
  if (ports.proxies === null) {
    return `The lab server's proxies are off (started with --no-proxies), so there is no "${request.via}" proxy to trace through.`;
  }
  return { url, proxyPort: ports.proxies[request.via] };
}

export function traceEndpoint(options: TraceEndpointOptions = {}): WebSocketEndpoint {
  const maxConcurrent = options.maxConcurrent ?? TRACE_MAX_CONCURRENT;
  let running = 0;
  return {
    path: '/trace',
    route: 'trace',
    maxPayload: 4096,
    open(ws, _request, context) {
      let busy = false;
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          return send(ws, { type: 'refused', reason: 'send the request as a JSON text message' });
        }
        const parsed = parseTraceRequest(String(data));
        if (typeof parsed === 'string') return send(ws, { type: 'refused', reason: parsed });
        if (busy) {
          return send(ws, {
            type: 'refused',
            reason: 'a trace is already running on this socket; wait for its "done"',
          });
        }
        if (running >= maxConcurrent) {
          return send(ws, {
            type: 'refused',
            reason: `the lab server already runs ${maxConcurrent} trace${maxConcurrent === 1 ? '' : 's'} at once, its limit; try again in a moment`,
          });
        }
        const target = selfTarget(parsed, context);
        if (typeof target === 'string') return send(ws, { type: 'refused', reason: target });
        busy = true;
        running += 1;
        runTrace({
          url: target.url,
          via: parsed.via,
          ...(target.proxyPort === null
            ? {}
            : {
                proxy: {
                  host: '127.0.0.1',
                  port: target.proxyPort,
                  url: `http://127.0.0.1:${target.proxyPort}`,
                },
                proxyTunnel: parsed.via === 'connect',
              }),
          ...(parsed.message === undefined ? {} : { message: parsed.message }),
          // The lab's own self-signed certificate: the trace reports it, unverified.
          insecure: true,
          unverifiedNote: "the lab's own self-signed certificate, not checked",
          timeoutMs: options.timeoutMs ?? TRACE_TIMEOUT_MS,
          onPhase: (phase) => send(ws, { type: 'phase', phase }),
        })
          .then((trace) => send(ws, { type: 'done', trace }))
          .catch((error: Error) =>
            send(ws, { type: 'refused', reason: `the trace could not run: ${error.message}` }),
          )
          .finally(() => {
            busy = false;
            running -= 1;
          });
      });
    },
  };
}
