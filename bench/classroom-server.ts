/**
 * One server for bench/classroom.ts, in its own process so the load generator shares neither
 * its event loop nor its heap:
 *
 * - `classroom`: the lab server in classroom mode, as `pnpm lab --classroom` runs it, with a
 *   class in a temporary data folder (removed on exit);
 * - `plain`: the baseline, a bare `ws` server that echoes on /echo and answers each JSON message
 *   on any other path at once with a small JSON reply: no checking, no log, no fsync.
 *
 * It prints `{port, code, teacherToken}` on stdout, then answers `mem` on stdin with its memory
 * after a full GC, `rss` with its RSS without one, and `stats` with the log's syncs and records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { Classroom } from '../lab-server/classroom/classroom.ts';
import { startLabServer } from '../lab-server/server.ts';

const kind = process.argv[2];

function memory() {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, external: usage.external, rss: usage.rss };
}

let info: Record<string, unknown>;
let stats = () => ({});
let cleanup = () => {};
if (kind === 'plain') {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: 16 * 1024,
    clientTracking: false,
  });
  wss.on('connection', (ws, req) => {
    if (req.url?.startsWith('/echo')) {
      ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      return;
    }
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { req?: number };
      ws.send(JSON.stringify({ type: 'verdict', req: message.req, correct: false, feedback: '' }));
    });
  });
  await new Promise((resolve) => wss.on('listening', resolve));
  info = { port: (wss.address() as { port: number }).port };
} else if (kind === 'classroom') {
  const data = mkdtempSync(join(tmpdir(), 'wslab-bench-class-'));
  cleanup = () => rmSync(data, { recursive: true, force: true });
  const classroom = await Classroom.open({ data, newClass: true, name: 'Bench class' });
  const root = fileURLToPath(new URL('..', import.meta.url));
  const lab = await startLabServer({
    host: '127.0.0.1',
    port: 0,
    root,
    limits: { maxConnections: 100_000 },
    endpoints: classroom.endpoints,
  });
  await classroom.attach(lab.context, '127.0.0.1');
  stats = () => classroom.logStats;
  info = { port: lab.port, code: classroom.file.code, teacherToken: classroom.file.teacherToken };
} else {
  throw new Error(`usage: classroom-server.ts classroom|plain, not ${kind}`);
}

process.stdout.write(`${JSON.stringify(info)}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'mem') process.stdout.write(`${JSON.stringify(memory())}\n`);
  if (line === 'rss')
    process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage.rss() })}\n`);
  if (line === 'cpu') process.stdout.write(`${JSON.stringify(process.cpuUsage())}\n`);
  if (line === 'stats') process.stdout.write(`${JSON.stringify(stats())}\n`);
});
process.stdin.on('end', () => {
  cleanup();
  process.exit(0);
});
