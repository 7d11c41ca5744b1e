/**
 * `pnpm bench:echo`: the lab server's /echo (tap and annotations included) against a plain `ws`
 * echo server started by this same run, each in its own process. For 16 B, 1 KiB and 64 KiB
 * binary messages, with 1 and 100 clients each sending a message and waiting for its echo, and
 * with 0 and 1 observers on /observe: messages per second and p50/p99 round-trip latency. Then
 * the memory each server holds per idle connection. A measurement, not a test: it prints
 * PASS/FAIL against the targets and exits 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/** `memory` or `throughput` runs only that half, for a quick look while working on one of them. */
const ONLY = process.env.BENCH_ONLY;
const WARMUP_MS = 500;
const IDLE_CONNECTIONS = 500;
const SERVER = fileURLToPath(new URL('./echo-server.ts', import.meta.url));

interface Server {
  readonly kind: 'plain' | 'lab';
  readonly port: number;
  readonly child: ChildProcess;
  readonly lines: Interface;
}

async function startServer(kind: 'plain' | 'lab'): Promise<Server> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SERVER, kind], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [first] = (await once(lines, 'line')) as [string];
  return { kind, port: (JSON.parse(first) as { port: number }).port, child, lines };
}

async function serverMemory(
  server: Server,
): Promise<{ heapUsed: number; external: number; rss: number }> {
  server.child.stdin?.write('mem\n');
  const [line] = (await once(server.lines, 'line')) as [string];
  return JSON.parse(line);
}

function url(server: Server, path: string): string {
  return `ws://127.0.0.1:${server.port}${path}`;
}

async function open(address: string): Promise<WebSocket> {
  const ws = new WebSocket(address, { perMessageDeflate: false });
  await once(ws, 'open');
  return ws;
}

interface Result {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly observed: number;
  readonly dropped: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/** Every client sends one message, waits for its echo, and repeats until the time is up. */
async function run(
  server: Server,
  size: number,
  clients: number,
  observers: number,
): Promise<Result> {
  const watchers = await Promise.all(
    Array.from({ length: observers }, () => open(url(server, '/observe'))),
  );
  let observed = 0;
  let dropped = 0;
  for (const watcher of watchers) {
    watcher.on('message', (data) => {
      observed++;
      const text = data.toString();
      if (text.includes('"type":"dropped"'))
        dropped += (JSON.parse(text) as { count: number }).count;
    });
  }
  const sockets = await Promise.all(
    Array.from({ length: clients }, () => open(url(server, '/echo'))),
  );
  const payload = Buffer.alloc(size, 0x61);
  const latencies: number[] = [];
  let measuring = false;
  let stop = false;
  const loops = sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        let sentAt = 0;
        const send = () => {
          if (stop) return resolve();
          sentAt = performance.now();
          ws.send(payload, { binary: true });
        };
        ws.on('message', () => {
          if (measuring) latencies.push(performance.now() - sentAt);
          send();
        });
        send();
      }),
  );
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  const count = latencies.length;
  stop = true;
  await Promise.all(loops);
  for (const ws of [...sockets, ...watchers]) ws.terminate();
  const sorted = Float64Array.from(latencies).sort();
  return {
    perSecond: count / elapsed,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    observed,
    dropped,
  };
}

async function idleMemory(server: Server): Promise<number> {
  const before = await serverMemory(server);
  const sockets: WebSocket[] = [];
  for (let i = 0; i < IDLE_CONNECTIONS; i += 50) {
    sockets.push(
      ...(await Promise.all(Array.from({ length: 50 }, () => open(url(server, '/echo'))))),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = await serverMemory(server);
  for (const ws of sockets) ws.terminate();
  await new Promise((resolve) => setTimeout(resolve, 200));
  return (after.heapUsed + after.external - before.heapUsed - before.external) / IDLE_CONNECTIONS;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main() {
  console.log(
    `bench/echo: Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${SECONDS} s per cell`,
  );
  console.log(
    'Each client sends a binary message and waits for its echo; servers run in their own processes.\n',
  );
  // Memory first, on servers that have done nothing else, so earlier load cannot blur it.
  const memory: number[] = [];
  for (const kind of ONLY === 'throughput' ? [] : (['plain', 'lab'] as const)) {
    const fresh = await startServer(kind);
    memory.push(await idleMemory(fresh));
    fresh.child.stdin?.end();
  }
  const [plainPerConnection = 0, labPerConnection = 0] = memory;
  const memoryLine = () => {
    const ratio = labPerConnection / plainPerConnection;
    return `memory per idle connection (heap + external, ${IDLE_CONNECTIONS} connections): ws ${fmt(plainPerConnection / 1024, 1)} KiB, lab ${fmt(labPerConnection / 1024, 1)} KiB, ${fmt(ratio, 2)}x: ${ratio <= 2 ? 'PASS' : 'FAIL'} <= 2x`;
  };
  if (ONLY === 'memory') {
    console.log(memoryLine());
    return;
  }
  const plain = await startServer('plain');
  const lab = await startServer('lab');
  const rows: string[][] = [];
  const checks: string[] = [];
  for (const size of [16, 1024, 64 * 1024]) {
    for (const clients of [1, 100]) {
      const base = await run(plain, size, clients, 0);
      for (const observers of [0, 1]) {
        const ours = await run(lab, size, clients, observers);
        const ratio = ours.perSecond / base.perSecond;
        const target = observers === 0 ? 0.7 : 0.4;
        rows.push([
          size === 16 ? '16 B' : size === 1024 ? '1 KiB' : '64 KiB',
          String(clients),
          String(observers),
          fmt(base.perSecond),
          fmt(ours.perSecond),
          `${fmt(ratio, 2)}x`,
          `${fmt(base.p50, 2)} / ${fmt(base.p99, 2)}`,
          `${fmt(ours.p50, 2)} / ${fmt(ours.p99, 2)}`,
          observers === 0
            ? ''
            : `${fmt(ours.observed)}${ours.dropped > 0 ? ` (${fmt(ours.dropped)} dropped)` : ''}`,
          `${ratio >= target ? 'PASS' : 'FAIL'} >= ${target}x`,
        ]);
      }
    }
  }
  const header = [
    'size',
    'clients',
    'observers',
    'ws msg/s',
    'lab msg/s',
    'lab/ws',
    'ws p50/p99 ms',
    'lab p50/p99 ms',
    'events observed',
    'target',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));

  if (ONLY !== 'throughput') checks.push(memoryLine());
  console.log(`\n${checks.join('\n')}`);
  for (const server of [plain, lab]) server.child.stdin?.end();
}

await main();
