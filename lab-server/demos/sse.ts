/**
 * Server-Sent Events on the wire (WHATWG HTML §9.2), run on loopback: a Node HTTP server sends
 * `text/event-stream` events with ids, and a plain TCP client records the bytes. A second request
 * carries `Last-Event-ID`, as a browser's EventSource sends it when it reconnects (HTML §9.2.3, §9.2.4),
 * and the server resumes after that id. Chapter 11 renders both exchanges at build time.
 * `pnpm tsx lab-server/demos/sse.ts` prints them.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';

export interface SseExchange {
  /** The request as the client wrote it. */
  readonly request: string;
  /** Every byte of the response, as text. */
  readonly response: string;
}

export interface SseTrace {
  readonly first: SseExchange;
  /** The reconnection, with Last-Event-ID. */
  readonly resumed: SseExchange;
}

const EVENTS = [
  { id: '1', event: 'greeting', data: ['hello'] },
  { id: '2', data: ['first line', 'second line'] },
  { id: '3', event: 'greeting', data: ['goodbye'] },
] as const;

/** One event in the stream format: field lines, then an empty line (HTML §9.2.5). */
function serialize(e: (typeof EVENTS)[number]): string {
  const lines = [`id: ${e.id}`];
  if ('event' in e) lines.push(`event: ${e.event}`);
  for (const d of e.data) lines.push(`data: ${d}`);
  return `${lines.join('\n')}\n\n`;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const last = Number(req.headers['last-event-id'] ?? '0');
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-store',
  });
  // A comment line (starting with a colon) is ignored by the client; servers send them to keep
  // an idle connection busy. `retry` sets the reconnection delay in milliseconds.
  res.write(`: events after id ${last}\nretry: 2000\n\n`);
  const pending = EVENTS.filter((e) => Number(e.id) > last);
  for (const e of pending) res.write(serialize(e));
  // A real feed would stay open; this one ends so the exchange is finite.
  res.end();
}

async function exchange(port: number, request: string): Promise<SseExchange> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.write(request);
  await once(socket, 'end');
  socket.destroy();
  return { request, response: Buffer.concat(chunks).toString('utf8') };
}

export async function runSse(): Promise<SseTrace> {
  const server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const head = (extra: string) =>
    `GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n${extra}Connection: close\r\n\r\n`;
  try {
    const first = await exchange(port, head(''));
    const resumed = await exchange(port, head('Last-Event-ID: 2\r\n'));
    return { first, resumed };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

let shared: Promise<SseTrace> | undefined;

/** One run for everything that renders it in one process. */
export function sharedSse(): Promise<SseTrace> {
  shared ??= runSse();
  return shared;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const trace = await runSse();
  for (const x of [trace.first, trace.resumed]) {
    console.log(`${x.request}${x.response}\n----`);
  }
}
