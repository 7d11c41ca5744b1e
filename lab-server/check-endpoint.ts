/**
 * /check: lets the browser page of chapter 12 run the checker. A browser's WebSocket cannot send
 * an unmasked frame, a reserved opcode or a broken handshake, so the page asks the lab server to
 * run the very same checks (lab-server/check/) and streams the results back.
 *
 * Trust: like /observe and /raw, only the lab's own pages may use it (Origin, RFC 6455 §10.2;
 * Host is checked before this is reached). The target must be a loopback address: a page can
 * make the lab server connect to a port on this machine, never to another host, and what it
 * sends there is the checker's own handshake and frames, not bytes the page chose.
 *
 * Protocol (JSON text messages):
 *   page -> server  {"type":"run","url":"ws://127.0.0.1:8080/","stage":1}
 *   server -> page  {"type":"refused","reason":...} | {"type":"busy","reason":...}
 *                   {"type":"started","url":...,"stages":[{n,id,title,checks}]}
 *                   {"type":"progress","event":ProgressEvent} ...
 *                   {"type":"report","report":Report,"text":[lines]}
 */
import type { IncomingMessage } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { buildServerResponse, validateUpgradeRequest } from '../protocol/handshake.ts';
import { getHeader, type RequestHead } from '../protocol/http-head.ts';
import { reportLines } from './check/report.ts';
import { runChecks } from './check/run.ts';
import { STAGES } from './check/stages.ts';
import { isLoopbackHost, parseTarget, type Target } from './check/target.ts';
import type { LabConnection } from './connection.ts';
import type { Trust } from './trust.ts';

/** Runs at once across all pages: each opens a few short connections, but a page could loop. */
const MAX_RUNS = 4;
let running = 0;

const checkServer = new WebSocketServer({
  noServer: true,
  clientTracking: false,
  maxPayload: 4096,
  perMessageDeflate: false,
});

export interface CheckUpgrade {
  readonly trust: Trust;
  readonly connection: LabConnection;
  readonly request: RequestHead;
  /** Node's parse of the request, or the tap's when the connection began with it. */
  readonly req: Pick<IncomingMessage, 'headers' | 'method'>;
  /** Bytes after the head, when Node's HTTP server parsed it; otherwise the tap holds them. */
  readonly head: Buffer | undefined;
  /** Answers the upgrade with an HTTP refusal and closes. */
  readonly refuse: (status: number, reason: string) => Promise<void> | void;
}

const EMPTY = Buffer.alloc(0);

/** Handles an upgrade to /check: Origin first, then the handshake rules, then the endpoint. */
export async function checkUpgrade(upgrade: CheckUpgrade): Promise<void> {
  const { trust, connection, request, req, head, refuse } = upgrade;
  const { tap, socket } = connection;
  const origin = trust.checkOrigin(getHeader(request, 'origin'));
  if (!origin.ok) return refuse(403, origin.reason);
  const findings = validateUpgradeRequest(request);
  if (findings.some((f) => !f.ok && !f.informational)) {
    tap.stopClient();
    tap.expectResponse(false);
    const response = await buildServerResponse(request, findings);
    socket.end(Buffer.from(response.bytes));
    return;
  }
  // As for /observe and /raw: the endpoint's own frames are not annotated.
  tap.expectResponse(false);
  const early = head ?? tap.takeEarly();
  tap.stopClient();
  checkServer.handleUpgrade(
    req as IncomingMessage,
    socket,
    head === undefined ? EMPTY : early,
    (ws) => {
      ws.on('error', () => {});
      checkEndpoint(ws);
      connection.adoptWebSocket(ws, head === undefined ? early : EMPTY);
    },
  );
}

/** What the page may ask for: a loopback ws:// or wss:// URL; the reason otherwise. */
export function loopbackTarget(url: unknown): { target: Target } | { reason: string } {
  if (typeof url !== 'string' || url.trim() === '') {
    return { reason: 'Give the URL of your server, such as ws://127.0.0.1:8080/.' };
  }
  let target: Target;
  try {
    target = parseTarget(url);
  } catch (error) {
    return { reason: (error as Error).message };
  }
  if (!isLoopbackHost(target.host)) {
    return {
      reason: `From the browser the checker only tests servers on this machine (127.0.0.1, ::1 or localhost), so that no web page can use the lab server to reach other hosts; ${target.host} is not one. To test it, run pnpm lab check ${target.url} on the command line.`,
    };
  }
  return { target };
}

function checkEndpoint(ws: WebSocket): void {
  let busy = false;
  let closed = false;
  // A page that leaves stops its run before the next check.
  const abort = new AbortController();
  const send = (message: unknown) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  ws.on('error', () => {});
  ws.on('close', () => {
    closed = true;
    abort.abort();
  });
  ws.on('message', async (data, isBinary) => {
    let request: { type?: unknown; url?: unknown; stage?: unknown };
    try {
      request = isBinary ? {} : JSON.parse(data.toString());
    } catch {
      request = {};
    }
    if (request === null || typeof request !== 'object' || request.type !== 'run') {
      send({ type: 'refused', reason: 'Send {"type":"run","url":"ws://127.0.0.1:PORT/"}.' });
      return;
    }
    if (busy || running >= MAX_RUNS) {
      send({
        type: 'busy',
        reason: busy
          ? 'A check is already running on this page; wait for its report.'
          : `The lab server is already running ${MAX_RUNS} checks; try again in a moment.`,
      });
      return;
    }
    const chosen = loopbackTarget(request.url);
    if ('reason' in chosen) {
      send({ type: 'refused', reason: chosen.reason });
      return;
    }
    const stage = Number(request.stage ?? 1);
    const fromStage = Number.isInteger(stage) && stage >= 1 && stage <= STAGES.length ? stage : 1;
    busy = true;
    running++;
    try {
      send({
        type: 'started',
        url: chosen.target.url,
        stages: STAGES.map((s, i) => ({
          n: i + 1,
          id: s.id,
          title: s.title,
          checks: s.checks.length,
        })),
      });
      const report = await runChecks({
        target: chosen.target,
        fromStage,
        signal: abort.signal,
        onProgress: (event) => {
          if (!closed) send({ type: 'progress', event });
        },
      });
      send({ type: 'report', report, text: reportLines(report, { color: false }) });
    } finally {
      busy = false;
      running--;
    }
  });
}
