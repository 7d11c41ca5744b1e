/**
 * `pnpm bench:classroom`: a class of 500 simulated students on 127.0.0.1 against the lab server
 * in classroom mode, next to a plain `ws` baseline in the same run. Each server runs in its own
 * process (`bench/classroom-server.ts`); the students and the teacher's dashboard run here.
 *
 * Every student binds its own loopback address (127.0.x.y, as 500 laptops would have 500
 * addresses, so the per-address join limit applies as in class), joins with the code, reads its
 * own accept-compute values, opens an /echo connection tagged with its liveTag and keeps it busy,
 * and submits an answer every BENCH_INTERVAL_MS (half right, computed from its own prompt; half
 * wrong). Measured: submit latency (send → verdict, which the server sends only after the
 * answer is fsynced), dashboard latency (the student's verdict → the dashboard's batch holding
 * that result), and the server's memory. The baseline server answers the same messages at once,
 * with no checking and no disk. A measurement, not a test: it prints PASS/FAIL and exits 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { acceptSteps } from '../labs/exercises/chapters/accept.ts';

const STUDENTS = Number(process.env.BENCH_STUDENTS ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 2000);
const ECHO_INTERVAL_MS = 5000;
const WARMUP_MS = 2000;
const SERVER = fileURLToPath(new URL('./classroom-server.ts', import.meta.url));

interface Server {
  readonly child: ChildProcess;
  readonly lines: Interface;
  readonly port: number;
  readonly code: string;
  readonly teacherToken: string;
}

async function startServer(kind: 'classroom' | 'plain'): Promise<Server> {
  // BENCH_NODE_ARGS="--cpu-prof" profiles the servers (a .cpuprofile per process in the cwd).
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(
    process.execPath,
    ['--expose-gc', ...extra, '--import', 'tsx', SERVER, kind],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [first] = (await once(lines, 'line')) as [string];
  return { child, lines, ...(JSON.parse(first) as Omit<Server, 'child' | 'lines'>) };
}

/** One question at a time per server, so answers cannot cross (the RSS sampler runs meanwhile). */
const asking = new WeakMap<Server, Promise<unknown>>();
function ask<T>(server: Server, command: string): Promise<T> {
  const answer = (asking.get(server) ?? Promise.resolve()).then(async () => {
    server.child.stdin?.write(`${command}\n`);
    const [line] = (await once(server.lines, 'line')) as [string];
    return JSON.parse(line) as T;
  });
  asking.set(
    server,
    answer.catch(() => {}),
  );
  return answer;
}

/** 127.0.x.y, a different source address per student (all of 127/8 is loopback on Linux). */
function localAddress(i: number): string {
  return `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

async function open(url: string, i: number): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: localAddress(i) });
  await once(ws, 'open');
  return ws;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

type Json = Record<string, unknown>;

const fmt = (n: number, digits = 1) =>
  Number.isNaN(n)
    ? '-'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface Run {
  readonly submit: number[];
  readonly dashboard: number[];
  readonly acked: number;
  readonly errors: Map<string, number>;
  readonly missedOnDashboard: number;
  readonly joinSeconds: number;
  /** Server CPU time (user + system) per acknowledged submission while measuring, in ms. */
  readonly cpuPerSubmission: number;
  readonly peakRss: number;
  readonly loaded: { heapUsed: number; external: number; rss: number };
  readonly idle: { heapUsed: number; external: number; rss: number };
}

async function run(kind: 'classroom' | 'plain'): Promise<Run> {
  const server = await startServer(kind);
  const idle = await ask<Run['idle']>(server, 'mem');
  const base = `ws://127.0.0.1:${server.port}`;
  const submit: number[] = [];
  const dashboard: number[] = [];
  const errors = new Map<string, number>();
  let acked = 0;
  let measuring = false;
  /** Acknowledged results not yet seen on the dashboard, and the reverse, by student|answer. */
  const ackedAt = new Map<string, number>();
  const seenAt = new Map<string, number>();
  const matched = (key: string, ack: number, seen: number) => {
    if (measuring) dashboard.push(Math.max(0, seen - ack));
    ackedAt.delete(key);
    seenAt.delete(key);
  };

  let teacher: WebSocket | null = null;
  if (kind === 'classroom') {
    teacher = new WebSocket(`${base}/teacher`, { perMessageDeflate: false });
    await once(teacher, 'open');
    teacher.send(JSON.stringify({ type: 'auth', token: server.teacherToken }));
    teacher.on('message', (data: Buffer) => {
      const now = performance.now();
      const message = JSON.parse(data.toString()) as Json;
      if (message.type !== 'batch') return;
      for (const update of message.updates as Json[]) {
        if (update.type !== 'result') continue;
        const result = update.result as Json;
        const key = `${result.student}|${result.lastAnswer}`;
        const ack = ackedAt.get(key);
        if (ack === undefined) seenAt.set(key, now);
        else matched(key, ack, now);
      }
    });
  }

  // Join in waves of 50, as a class arriving: both connections of each student, then join.
  const joinStarted = performance.now();
  const students: { classroom: WebSocket; echo: WebSocket; id: string; accept: string }[] = [];
  for (let wave = 0; wave < STUDENTS; wave += 50) {
    const joined = await Promise.all(
      Array.from({ length: Math.min(50, STUDENTS - wave) }, async (_, k) => {
        const i = wave + k;
        const classroom = await open(`${base}/classroom`, i);
        if (kind === 'plain') {
          const echo = await open(`${base}/echo`, i);
          return { classroom, echo, id: `p${i}`, accept: 'x' };
        }
        classroom.send(JSON.stringify({ type: 'join', code: server.code, name: `Student ${i}` }));
        const [joinedData] = (await once(classroom, 'message')) as [Buffer];
        const joinedMessage = JSON.parse(joinedData.toString()) as Json;
        if (joinedMessage.type !== 'joined')
          throw new Error(`student ${i}: ${joinedData.toString()}`);
        classroom.send(JSON.stringify({ type: 'exercise', id: 'accept-compute' }));
        const [viewData] = (await once(classroom, 'message')) as [Buffer];
        const view = JSON.parse(viewData.toString()) as { view: { prompt: { code: string } } };
        const key = /Sec-WebSocket-Key: (\S+)/.exec(view.view.prompt.code)?.[1] as string;
        const echo = await open(`${base}/echo?tag=${joinedMessage.liveTag as string}`, i);
        return {
          classroom,
          echo,
          id: (joinedMessage.student as Json).id as string,
          accept: acceptSteps(key).accept,
        };
      }),
    );
    students.push(...joined);
  }
  const joinSeconds = (performance.now() - joinStarted) / 1000;

  // Steady load: every student submits every INTERVAL_MS from a random phase, and says
  // something on its /echo connection every ECHO_INTERVAL_MS.
  const timers: NodeJS.Timeout[] = [];
  students.forEach((student, i) => {
    const sentAt = new Map<number, { at: number; key: string }>();
    let req = 0;
    student.classroom.on('message', (data: Buffer) => {
      const now = performance.now();
      const message = JSON.parse(data.toString()) as Json;
      const sent = sentAt.get(message.req as number);
      if (sent === undefined) return;
      sentAt.delete(message.req as number);
      if (message.type !== 'verdict') {
        const reason = String(message.reason).slice(0, 40);
        errors.set(reason, (errors.get(reason) ?? 0) + 1);
        return;
      }
      acked++;
      if (measuring) submit.push(now - sent.at);
      if (kind !== 'classroom') return;
      const seen = seenAt.get(sent.key);
      if (seen === undefined) ackedAt.set(sent.key, now);
      else matched(sent.key, now, seen);
    });
    student.echo.on('message', () => {});
    const send = () => {
      req++;
      // Right answers differ by where one space goes (the checker ignores whitespace), so the
      // dashboard's "last answer" names each submission.
      const right = req % 2 === 0;
      const at = 1 + (req % 26);
      const answer = right
        ? `${student.accept.slice(0, at)} ${student.accept.slice(at)}`
        : `wrong-${i}-${req}`;
      sentAt.set(req, { at: performance.now(), key: `${student.id}|${answer}` });
      student.classroom.send(JSON.stringify({ type: 'submit', req, id: 'accept-compute', answer }));
    };
    timers.push(
      setTimeout(() => {
        send();
        timers.push(setInterval(send, INTERVAL_MS));
      }, Math.random() * INTERVAL_MS),
    );
    timers.push(
      setInterval(() => student.echo.send('hello'), ECHO_INTERVAL_MS + Math.random() * 100),
    );
  });

  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  const cpuBefore = await ask<{ user: number; system: number }>(server, 'cpu');
  const ackedBefore = acked;
  measuring = true;
  let peakRss = 0;
  const sampler = setInterval(async () => {
    peakRss = Math.max(peakRss, (await ask<{ rss: number }>(server, 'rss')).rss);
  }, 1000);
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  clearInterval(sampler);
  measuring = false;
  const cpuAfter = await ask<{ user: number; system: number }>(server, 'cpu');
  const cpuMs = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000;
  const cpuPerSubmission = cpuMs / Math.max(1, acked - ackedBefore);
  for (const timer of timers) clearInterval(timer);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const loaded = await ask<Run['loaded']>(server, 'mem');
  peakRss = Math.max(peakRss, loaded.rss);
  const stats = kind === 'classroom' ? await ask<Record<string, number>>(server, 'stats') : null;
  if (stats !== null) {
    const ms = (n: number | undefined) => fmt(n ?? Number.NaN);
    console.log(
      `classroom log: ${stats.records} records in ${stats.syncs} fsyncs (${fmt((stats.records ?? 0) / Math.max(1, stats.syncs ?? 0))} per fsync: group commit)`,
    );
    console.log(
      `inside the server, per submission: received -> checked p50 ${ms(stats.checkP50)} / p99 ${ms(stats.checkP99)} ms; received -> verdict sent (after fsync) p50 ${ms(stats.submitP50)} / p99 ${ms(stats.submitP99)} ms; fdatasync p50 ${ms(stats.syncP50)} / p99 ${ms(stats.syncP99)} ms`,
    );
  }
  for (const student of students) {
    student.classroom.terminate();
    student.echo.terminate();
  }
  teacher?.terminate();
  server.child.stdin?.end();
  await once(server.child, 'exit');
  return {
    submit,
    dashboard,
    acked,
    errors,
    missedOnDashboard: ackedAt.size,
    joinSeconds,
    cpuPerSubmission,
    peakRss,
    loaded,
    idle,
  };
}

const mb = (bytes: number) => fmt(bytes / 1024 / 1024);

async function main() {
  console.log(
    `bench/classroom: Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); ${STUDENTS} students, one submission each per ${INTERVAL_MS} ms, ${SECONDS} s measured after ${WARMUP_MS / 1000} s warm-up`,
  );
  console.log(
    'Each student holds a /classroom and a tagged /echo connection; servers run in their own processes.\n',
  );
  const plain = await run('plain');
  const ours = await run('classroom');
  const rows: [string, string, string, string][] = [
    ['', 'plain ws (baseline)', 'lab --classroom', 'target'],
    ['students joined in', '-', `${fmt(ours.joinSeconds)} s`, ''],
    ['submissions acknowledged', String(plain.acked), String(ours.acked), ''],
    [
      'submit p50 / p99 / max ms',
      `${fmt(percentile(plain.submit, 0.5))} / ${fmt(percentile(plain.submit, 0.99))} / ${fmt(Math.max(...plain.submit))}`,
      `${fmt(percentile(ours.submit, 0.5))} / ${fmt(percentile(ours.submit, 0.99))} / ${fmt(Math.max(...ours.submit))}`,
      `p99 < 50 ms: ${percentile(ours.submit, 0.99) < 50 ? 'PASS' : 'FAIL'}`,
    ],
    [
      'dashboard p50 / p99 / max ms',
      '-',
      `${fmt(percentile(ours.dashboard, 0.5))} / ${fmt(percentile(ours.dashboard, 0.99))} / ${fmt(Math.max(...ours.dashboard))}`,
      `p99 < 250 ms: ${percentile(ours.dashboard, 0.99) < 250 ? 'PASS' : 'FAIL'}`,
    ],
    [
      'server CPU per submission (incl. its /echo share)',
      `${fmt(plain.cpuPerSubmission, 2)} ms`,
      `${fmt(ours.cpuPerSubmission, 2)} ms`,
      '',
    ],
    ['results never on the dashboard', '-', String(ours.missedOnDashboard), ''],
    [
      'server RSS idle / peak MB',
      `${mb(plain.idle.rss)} / ${mb(plain.peakRss)}`,
      `${mb(ours.idle.rss)} / ${mb(ours.peakRss)}`,
      `< 300 MB: ${ours.peakRss < 300 * 1024 * 1024 ? 'PASS' : 'FAIL'}`,
    ],
    [
      'heap + external after GC, loaded MB',
      mb(plain.loaded.heapUsed + plain.loaded.external),
      mb(ours.loaded.heapUsed + ours.loaded.external),
      '',
    ],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  for (const [index, row] of rows.entries()) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '));
    if (index === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  for (const [name, result] of [
    ['plain', plain],
    ['classroom', ours],
  ] as const) {
    if (result.errors.size > 0)
      console.log(`${name} errors: ${JSON.stringify(Object.fromEntries(result.errors))}`);
  }
}

await main();
