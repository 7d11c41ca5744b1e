/**
 * One echo server for bench/echo.ts, in its own process so the load generator does not share
 * its event loop or heap: `plain` is a bare `ws` echo, `lab` the lab server's /echo with its tap.
 * It reports its port on stdout, then answers `mem` on stdin with its memory after a full GC.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { startLabServer } from '../lab-server/server.ts';

const kind = process.argv[2];
const MAX_PAYLOAD = 1024 * 1024;

function memory() {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, external: usage.external, rss: usage.rss };
}

let port: number;
if (kind === 'plain') {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    maxPayload: MAX_PAYLOAD,
    perMessageDeflate: false,
    clientTracking: false,
  });
  wss.on('connection', (ws) =>
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })),
  );
  await new Promise((resolve) => wss.on('listening', resolve));
  port = (wss.address() as { port: number }).port;
} else if (kind === 'lab') {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const lab = await startLabServer({
    host: '127.0.0.1',
    port: 0,
    root,
    limits: { maxPayload: MAX_PAYLOAD, maxConnections: 100_000 },
  });
  port = lab.port;
} else {
  throw new Error(`usage: echo-server.ts plain|lab, not ${kind}`);
}

process.stdout.write(`${JSON.stringify({ port })}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'mem') process.stdout.write(`${JSON.stringify(memory())}\n`);
});
process.stdin.on('end', () => process.exit(0));
