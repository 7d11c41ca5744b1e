/**
 * Connection counting: what a run of requests really cost the server, as the server saw it.
 *
 * `GET /count/fetch?run=ID[&close=1]` is one request of run ID; with close=1 the answer carries
 * `Connection: close`, so the client must open a new TCP connection (and on https:// make a new
 * TLS handshake) for its next request (RFC 9112 §9.6); without it the connection stays open for
 * the next request (HTTP/1.1 persistence, RFC 9112 §9.3). A WebSocket to `/echo?run=ID` counts
 * for the run too: its upgrade request, its connection and every message the server receives.
 * `GET /count/stats?run=ID[&close=1]` answers the counts as JSON (with close=1 on a connection
 * that then closes, so that the next run does not start on it).
 *
 * A connection counts for a run once however many of its requests the run sent, and counts as
 * opened by the run only when the run's request was the first the connection carried: the page's
 * own kept-alive connection (the one that loaded it) may carry a run's first fetch without
 * making that run pay for a connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { RunStats } from '../protocol/count.ts';
import { type LabConnection, labConnectionOf } from './connection.ts';
import type { HttpEndpoint, LabContext } from './endpoints.ts';

/** Runs kept at most; the oldest go first. */
export const MAX_RUNS = 256;
/** A run not used for this long is forgotten. */
export const RUN_TTL_MS = 15 * 60 * 1000;
/** Connections remembered per run; the counts stay exact, the set stops growing. */
const MAX_CONNECTIONS_PER_RUN = 4096;
/** Run ids: what a page makes with crypto.randomUUID() or a counter, nothing that needs escaping. */
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

export type { RunStats };

interface Run {
  readonly id: string;
  lastUsed: number;
  readonly connections: Set<number>;
  newTcpConnections: number;
  tlsHandshakes: number;
  tlsResumed: number;
  httpRequests: number;
  tlsRequests: number;
  closeAnswers: number;
  webSocketConnections: number;
  webSocketMessages: number;
  bytesIn: number;
  bytesOut: number;
  /** Open WebSockets of the run, whose bytes so far count too. */
  readonly open: Set<OpenSocket>;
}

interface OpenSocket {
  readonly connection: LabConnection;
  readonly startIn: number;
  readonly startOut: number;
}

/** The runs of one lab server. */
export class RunCounter {
  readonly #runs = new Map<string, Run>();
  readonly #serials = new WeakMap<LabConnection, number>();
  /** Each connection's bytes in when its last counted answer was sent. */
  readonly #lastIn = new WeakMap<LabConnection, number>();
  #nextSerial = 1;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get size(): number {
    return this.#runs.size;
  }

  /** The run, made if new; using it makes it the newest. Old and surplus runs go first. */
  #run(id: string): Run {
    const now = this.#now();
    let run = this.#runs.get(id);
    if (run !== undefined) this.#runs.delete(id);
    else {
      this.#expire(now);
      run = {
        id,
        lastUsed: now,
        connections: new Set(),
        newTcpConnections: 0,
        tlsHandshakes: 0,
        tlsResumed: 0,
        httpRequests: 0,
        tlsRequests: 0,
        closeAnswers: 0,
        webSocketConnections: 0,
        webSocketMessages: 0,
        bytesIn: 0,
        bytesOut: 0,
        open: new Set(),
      };
    }
    run.lastUsed = now;
    this.#runs.set(id, run);
    return run;
  }

  #expire(now: number): void {
    for (const [id, run] of this.#runs) {
      if (now - run.lastUsed < RUN_TTL_MS && this.#runs.size < MAX_RUNS) break;
      this.#runs.delete(id);
    }
  }

  /** Counts a request of the run carried by `connection`; returns what it found. */
  request(id: string, connection: LabConnection): { serial: number; opened: boolean } {
    const run = this.#run(id);
    let serial = this.#serials.get(connection);
    if (serial === undefined) {
      serial = this.#nextSerial++;
      this.#serials.set(connection, serial);
    }
    run.httpRequests++;
    const tls = connection.tap.tls;
    if (tls !== undefined) run.tlsRequests++;
    // The tap has read this request's head already: it is the connection's first when one head
    // was read. Pipelined requests are not something browsers send.
    const opened = connection.tap.requestHeads === 1 && !run.connections.has(serial);
    if (!run.connections.has(serial) && run.connections.size < MAX_CONNECTIONS_PER_RUN) {
      run.connections.add(serial);
      if (opened) {
        run.newTcpConnections++;
        if (tls !== undefined) {
          run.tlsHandshakes++;
          if (tls.resumed) run.tlsResumed++;
        }
      }
    }
    return { serial, opened };
  }

  /** An answer of the run was sent: its bytes, and this request's, from the tap's counts. */
  answered(
    id: string,
    connection: LabConnection,
    start: { out: number; headLength: number; first: boolean },
    close: boolean,
  ): void {
    const run = this.#runs.get(id);
    const bytesIn = connection.tap.bytesIn;
    const previous = this.#lastIn.get(connection);
    this.#lastIn.set(connection, bytesIn);
    if (run === undefined) return;
    // Exact when the counter saw the connection's earlier answer or this is its first request;
    // otherwise the head's own length (the page's connection carried requests before).
    run.bytesIn +=
      previous !== undefined ? bytesIn - previous : start.first ? bytesIn : start.headLength;
    run.bytesOut += connection.tap.bytesOut - start.out;
    if (close) run.closeAnswers++;
  }

  /** A WebSocket to /echo?run=ID: counted like a request, then its messages and bytes. */
  webSocket(id: string, ws: WebSocket, connection: LabConnection): void {
    const { opened } = this.request(id, connection);
    const run = this.#run(id);
    run.webSocketConnections++;
    const open: OpenSocket = {
      connection,
      // On a connection opened for the WebSocket (what browsers do) every byte counts, the
      // upgrade and the 101 included; on one that carried other requests first, only what
      // follows the 101.
      startIn: opened ? 0 : connection.tap.bytesIn,
      startOut: opened ? 0 : connection.tap.bytesOut,
    };
    run.open.add(open);
    ws.on('message', () => {
      run.webSocketMessages++;
      run.lastUsed = this.#now();
    });
    ws.once('close', () => {
      run.open.delete(open);
      run.bytesIn += connection.tap.bytesIn - open.startIn;
      run.bytesOut += connection.tap.bytesOut - open.startOut;
    });
  }

  stats(id: string): RunStats | undefined {
    const run = this.#runs.get(id);
    if (run === undefined) return undefined;
    let bytesIn = run.bytesIn;
    let bytesOut = run.bytesOut;
    for (const open of run.open) {
      bytesIn += open.connection.tap.bytesIn - open.startIn;
      bytesOut += open.connection.tap.bytesOut - open.startOut;
    }
    return {
      v: 1,
      run: run.id,
      tcpConnections: run.connections.size,
      newTcpConnections: run.newTcpConnections,
      tlsHandshakes: run.tlsHandshakes,
      tlsResumed: run.tlsResumed,
      httpRequests: run.httpRequests,
      closeAnswers: run.closeAnswers,
      webSocketConnections: run.webSocketConnections,
      webSocketMessages: run.webSocketMessages,
      bytesIn,
      bytesOut,
      overTls: run.httpRequests > 0 && run.tlsRequests === run.httpRequests,
    };
  }
}

/** One counter per lab server, found from the context every endpoint gets. */
const counters = new WeakMap<LabContext, RunCounter>();

export function counterOf(context: LabContext): RunCounter {
  let counter = counters.get(context);
  if (counter === undefined) {
    counter = new RunCounter();
    counters.set(context, counter);
  }
  return counter;
}

/** The run a WebSocket to /echo belongs to, if its target names one. Called for every /echo. */
export function countEcho(
  context: LabContext,
  target: string,
  ws: WebSocket,
  connection: LabConnection,
): void {
  if (!target.includes('run=')) return;
  const id = new URL(target, 'http://lab').searchParams.get('run');
  if (id === null || !RUN_ID.test(id)) return;
  counterOf(context).webSocket(id, ws, connection);
}

/** `/count/fetch` and `/count/stats`. */
export function countEndpoint(): HttpEndpoint {
  return {
    prefix: '/count',
    handle(req, res, context) {
      const url = new URL(req.url ?? '/', 'http://lab');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return answer(res, 405, { error: `${url.pathname} answers GET only.` });
      }
      // Counting changes state: only the lab's own pages (or clients that are not browsers).
      const origin = context.trust.checkOrigin(req.headers.origin);
      if (!origin.ok) return answer(res, 403, { error: origin.reason });
      if (req.headers['sec-fetch-site'] === 'cross-site') {
        return answer(res, 403, {
          error:
            'This request came from another site (Sec-Fetch-Site: cross-site); only the lab’s own pages may count connections.',
        });
      }
      const id = url.searchParams.get('run');
      if (id === null || !RUN_ID.test(id)) {
        return answer(res, 400, {
          error: `${url.pathname} needs run=ID, where ID is 1 to 64 letters, digits, "-" or "_"${id === null ? '' : `, not "${id.slice(0, 80)}"`}.`,
        });
      }
      const close = url.searchParams.get('close');
      if (close !== null && close !== '0' && close !== '1') {
        return answer(res, 400, { error: `close must be 0 or 1, not "${close.slice(0, 20)}".` });
      }
      const closing = close === '1';
      // Node's HTTP server closes the connection after an answer that says so (RFC 9112 §9.6).
      if (closing) res.setHeader('Connection', 'close');
      const counter = counterOf(context);
      if (url.pathname === '/count/stats') {
        const stats = counter.stats(id);
        if (stats === undefined) {
          return answer(res, 404, {
            error: `No run "${id}" here: it has sent no request yet, or it is older than ${RUN_TTL_MS / 60000} minutes.`,
          });
        }
        return answer(res, 200, stats);
      }
      if (url.pathname !== '/count/fetch') {
        return answer(res, 404, { error: `${url.pathname}: try /count/fetch or /count/stats.` });
      }
      const connection = labConnectionOf(req.socket);
      if (connection === undefined) return answer(res, 500, { error: 'no connection found' });
      const first = connection.tap.requestHeads === 1;
      const start = {
        out: connection.tap.bytesOut,
        headLength: headLength(req),
        first,
      };
      const { serial, opened } = counter.request(id, connection);
      res.on('finish', () => counter.answered(id, connection, start, closing));
      answer(res, 200, { run: id, connection: serial, opened, close: closing });
    },
  };
}

/** The request head's length as it crossed the wire, rebuilt from Node's raw header list. */
function headLength(req: IncomingMessage): number {
  let length = Buffer.byteLength(`${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`) + 2;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    length += Buffer.byteLength(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`);
  }
  return length;
}

function answer(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}
