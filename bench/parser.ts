/**
 * `pnpm bench`: the protocol frame parser against ws's Receiver on the same byte streams, each
 * measurement in a fresh process (bench/measure.ts). A measurement, not a test: it prints
 * PASS/FAIL against the targets and exits 0 either way. It exits 1 only when a side did not
 * deliver one message per frame, since then the numbers would mean nothing.
 */
import * as nodeBuffer from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { arch, cpus, loadavg, platform } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { MeasureRequest, MeasureResult, Side } from './measure.ts';
import { READ_SIZE } from './streams.ts';

/** Multiplies every stream's size; `BENCH_SCALE=0.25 pnpm bench` for a quick look. */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const WARMUP = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

interface Case {
  readonly label: string;
  readonly size: number;
  readonly text: boolean;
  /** Stream size in MB, so that one case takes a few seconds on the slower side. */
  readonly mb: number;
  readonly readSize: number;
  /** Least acceptable ours/ws ratio with full annotation (the default preview limit). */
  readonly target?: number;
}

const CASES: readonly Case[] = [
  { label: '16 B binary', size: 16, text: false, mb: 1, readSize: READ_SIZE, target: 0.25 },
  // Not a target: shows how much of the 16 B cost depends on how many frames one read holds.
  { label: '16 B binary', size: 16, text: false, mb: 1, readSize: 4 * 1024 },
  { label: '1 KiB binary', size: 1024, text: false, mb: 4, readSize: READ_SIZE },
  { label: '1 KiB text', size: 1024, text: true, mb: 4, readSize: READ_SIZE },
  { label: '64 KiB binary', size: 64 * 1024, text: false, mb: 8, readSize: READ_SIZE, target: 0.5 },
];

const MEASURE = fileURLToPath(new URL('./measure.ts', import.meta.url));

/**
 * Runs one side over one case's stream in a fresh process (see bench/measure.ts for why), with
 * the same Node flags this process got from tsx.
 */
function measure(c: Case, side: Side): MeasureResult {
  const request: MeasureRequest = {
    side,
    size: c.size,
    text: c.text,
    bytes: c.mb * SCALE * 1e6,
    readSize: c.readSize,
    warmup: WARMUP,
    rounds: ROUNDS,
  };
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, MEASURE, JSON.stringify(request)],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) {
    process.stderr.write(child.stderr);
    throw new Error(`measuring ${side} on ${c.label} failed`);
  }
  return JSON.parse(child.stdout) as MeasureResult;
}

function installed(name: string): boolean {
  // Resolved from ws's own location, where ws's `require` would look.
  const fromWs = createRequire(createRequire(import.meta.url).resolve('ws'));
  try {
    fromWs.resolve(name);
    return true;
  } catch {
    return false;
  }
}

const count = (value: number) => Math.round(value).toLocaleString('en-US');
const kib = (bytes: number) => `${bytes / 1024} KiB`;

function main(): void {
  const wsVersion = (createRequire(import.meta.url)('ws/package.json') as { version: string })
    .version;
  const bufferutil = installed('bufferutil') ? 'installed' : 'not installed';
  const utf8Validate = installed('utf-8-validate') ? 'installed' : 'not installed';
  const isUtf8 = typeof (nodeBuffer as { isUtf8?: unknown }).isUtf8 === 'function';
  console.log(
    `Node ${process.version} (V8 ${process.versions.v8}), ${platform()}/${arch()}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadavg()[0]?.toFixed(1)} at start`,
  );
  console.log(
    `ws ${wsVersion}: bufferutil ${bufferutil} (so ws unmasks in JavaScript), utf-8-validate ${utf8Validate}; ws validates text with ${isUtf8 ? "Node's built-in buffer.isUtf8 (native) from 24 bytes up, its JavaScript check below" : 'its JavaScript check'}.`,
  );
  console.log(
    `Masked client frames, one message each (ws isServer: true; ours client-to-server), maxPayload 100 MiB on both; ${WARMUP} warm-up passes, then the median of ${ROUNDS}.`,
  );
  console.log(
    'MB = 10^6 bytes on the wire, headers included. "ours": default options (previewLimit 1024, every field annotated); "ours ∞": previewLimit Infinity (payload kept whole).\n',
  );

  const header = [
    'payload',
    'frames',
    'reads',
    'across reads',
    'parser',
    'ws MB/s',
    'ws frames/s',
    'ours MB/s',
    'ours frames/s',
    'ours/ws',
    'target',
  ];
  const rows: string[][] = [];
  for (const c of CASES) {
    const ws = measure(c, 'ws');
    const ours = measure(c, 'ours');
    const whole = measure(c, 'ours-whole');
    if (ours.bytes !== ws.bytes || whole.bytes !== ws.bytes) throw new Error('streams differ');
    const mb = ws.bytes / 1e6;
    const shared = [c.label, count(ws.frames), kib(c.readSize), count(ws.spanning)];
    for (const [parser, ms, target] of [
      ['ours', ours.ms, c.target],
      ['ours ∞', whole.ms, undefined],
    ] as const) {
      const ratio = ws.ms / ms;
      rows.push([
        ...shared,
        parser,
        (mb / (ws.ms / 1000)).toFixed(1),
        count(ws.frames / (ws.ms / 1000)),
        (mb / (ms / 1000)).toFixed(1),
        count(ws.frames / (ms / 1000)),
        `${ratio.toFixed(2)}x`,
        target === undefined ? '' : `>= ${target}x ${ratio >= target ? 'PASS' : 'FAIL'}`,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) =>
        i === 0 || i === 4 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

main();
