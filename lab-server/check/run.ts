/**
 * Runs the stages in order against one target, stops at the first failing check, and keeps what
 * crossed the wire in that check for the report. A server that hangs or crashes cannot hang the
 * run: every wait has a timeout, every check a cap, and the whole run a deadline.
 */

import type { FrameRecord } from '../../protocol/annotations.ts';
import { frameRecord } from '../../protocol/annotations.ts';
import { toHex } from '../../protocol/frame-parser.ts';
import type { Direction } from '../../protocol/types.ts';
import { ConnectError, openConnection, type RawConnection, type WireEntry } from './connection.ts';
import { type Blame, CheckFailure, type FailureDetail } from './failure.ts';
import { type CheckContext, STAGES, type Stage, upgradeOn } from './stages.ts';
import type { Target } from './target.ts';

export const REPORT_VERSION = 1;
export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_DEADLINE_MS = 120_000;

export interface RunOptions {
  readonly target: Target;
  /** Start at this stage (1-based); earlier stages are reported as skipped. */
  readonly fromStage?: number;
  readonly timeoutMs?: number;
  readonly deadlineMs?: number;
  readonly stages?: readonly Stage[];
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Stops the run before its next check (the page that asked for it went away). */
  readonly signal?: AbortSignal;
}

export type CheckStatus = 'pass' | 'fail' | 'not-run';
export type StageStatus = 'pass' | 'fail' | 'skipped' | 'not-run';

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  readonly ms: number;
}

export interface StageResult {
  /** 1-based, as `--stage` takes it. */
  readonly n: number;
  readonly id: string;
  readonly title: string;
  readonly status: StageStatus;
  readonly checks: readonly CheckResult[];
}

/** One wire entry, JSON-ready: bytes as hex, only the part worth showing. */
export interface WireRecord {
  readonly direction: Direction;
  readonly label: string;
  readonly offset: number;
  readonly length: number;
  /** Hex of the bytes shown, starting at index `from` of the entry. */
  readonly hex: string;
  readonly from: number;
  /** Index in the entry's bytes of the offending byte, when this entry holds it. */
  readonly caret?: number;
  /** The head as text, for handshake entries. */
  readonly text?: string;
  /** The frame as protocol/ annotates it (payload cut to 64 bytes). */
  readonly frame?: FrameRecord;
}

export interface FailureReport extends FailureDetail {
  readonly stage: number;
  readonly stageId: string;
  readonly check: string;
  readonly checkTitle: string;
  readonly wire: readonly WireRecord[];
}

export interface Report {
  readonly v: typeof REPORT_VERSION;
  readonly url: string;
  readonly ok: boolean;
  readonly fromStage: number;
  readonly timeoutMs: number;
  readonly stages: readonly StageResult[];
  readonly failure: FailureReport | null;
  readonly ms: number;
}

export type ProgressEvent =
  | {
      readonly type: 'stage-start';
      readonly n: number;
      readonly id: string;
      readonly title: string;
      readonly checks: number;
    }
  | { readonly type: 'check'; readonly n: number; readonly check: CheckResult }
  | { readonly type: 'stage-end'; readonly stage: StageResult };

const SHOWN_BYTES = 48;
const SHOWN_ENTRIES = 40;

function record(entry: WireEntry, blame: Blame | undefined): WireRecord {
  const inside =
    blame !== undefined &&
    blame.direction === entry.direction &&
    blame.offset >= entry.offset &&
    (blame.offset < entry.offset + entry.bytes.length ||
      (entry.bytes.length === 0 && blame.offset === entry.offset));
  const caret = inside ? blame.offset - entry.offset : undefined;
  const from = caret === undefined ? 0 : Math.max(0, Math.floor(caret / 16) * 16 - 16);
  const isHead = entry.label.startsWith('handshake');
  const frame = entry.frame === undefined ? undefined : frameRecord(entry.frame);
  return {
    direction: entry.direction,
    label: entry.label,
    offset: entry.offset,
    length: entry.bytes.length,
    hex: toHex(entry.bytes.subarray(from, from + SHOWN_BYTES)),
    from,
    ...(caret === undefined ? {} : { caret }),
    ...(isHead ? { text: new TextDecoder().decode(entry.bytes.subarray(0, 4096)) } : {}),
    ...(frame === undefined
      ? {}
      : {
          frame: {
            ...frame,
            unmaskedHex: frame.unmaskedHex.slice(0, 128),
          },
        }),
  };
}

/** The wire entries worth showing: all of a short exchange, the last ones of a long one. */
function wireOf(connections: readonly RawConnection[], blame: Blame | undefined): WireRecord[] {
  const last = connections[connections.length - 1];
  if (last === undefined) return [];
  const records = last.wire.map((entry) => record(entry, blame));
  if (records.length <= SHOWN_ENTRIES) return records;
  const blamed = records.findIndex((r) => r.caret !== undefined);
  const end = blamed === -1 ? records.length : Math.min(records.length, blamed + 5);
  return [...records.slice(0, 4), ...records.slice(Math.max(4, end - (SHOWN_ENTRIES - 4)), end)];
}

export async function runChecks(options: RunOptions): Promise<Report> {
  const started = Date.now();
  const stages = options.stages ?? STAGES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = started + (options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const fromStage = Math.min(Math.max(1, options.fromStage ?? 1), stages.length);
  const results: StageResult[] = [];
  let failure: FailureReport | null = null;
  /** The last check that passed, to explain a server that stops listening halfway. */
  let lastPassed: string | null = null;
  const emit = (event: ProgressEvent) => options.onProgress?.(event);

  for (const [index, stage] of stages.entries()) {
    const n = index + 1;
    const base = { n, id: stage.id, title: stage.title };
    if (n < fromStage || failure !== null) {
      const status: StageStatus = n < fromStage ? 'skipped' : 'not-run';
      const result: StageResult = {
        ...base,
        status,
        checks: stage.checks.map((c) => ({ id: c.id, title: c.title, status: 'not-run', ms: 0 })),
      };
      results.push(result);
      if (status === 'skipped') emit({ type: 'stage-end', stage: result });
      continue;
    }
    emit({ type: 'stage-start', ...base, checks: stage.checks.length });
    const checks: CheckResult[] = [];
    for (const check of stage.checks) {
      if (failure !== null) {
        checks.push({ id: check.id, title: check.title, status: 'not-run', ms: 0 });
        continue;
      }
      if (options.signal?.aborted) {
        failure = {
          rule: 'cancelled',
          section: '-',
          explanation: 'The run was cancelled before this check.',
          hint: 'Run the checks again.',
          stage: n,
          stageId: stage.id,
          check: check.id,
          checkTitle: check.title,
          wire: [],
        };
        checks.push({ id: check.id, title: check.title, status: 'not-run', ms: 0 });
        continue;
      }
      const t0 = Date.now();
      const connections: RawConnection[] = [];
      const ctx: CheckContext = {
        target: options.target,
        timeoutMs,
        connect: async () => {
          const conn = await openConnection(options.target, timeoutMs);
          connections.push(conn);
          return conn;
        },
        upgrade: async () => {
          const conn = await ctx.connect();
          await upgradeOn(conn, ctx);
          return conn;
        },
      };
      // Each wait inside a check is bounded, but a server could keep it busy (a stream of
      // pings, a never-ending message): the check's own cap and the run's deadline end it.
      const cap = Math.min(timeoutMs * 6 + 2000, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        check.run(ctx).then(
          () => null,
          (error: unknown) => error,
        ),
        new Promise<CheckFailure>((resolve) => {
          timer = setTimeout(
            () =>
              resolve(
                new CheckFailure(
                  deadline - Date.now() <= 0
                    ? {
                        rule: 'deadline',
                        section: 'RFC 6455 §7.1.7',
                        explanation: `The whole run took longer than its deadline of ${(options.deadlineMs ?? DEFAULT_DEADLINE_MS) / 1000} s, so the checker stopped here.`,
                        hint: 'Answer each frame as it arrives; a server that keeps the checker waiting fails.',
                      }
                    : {
                        rule: 'check-timeout',
                        section: 'RFC 6455 §7.1.7',
                        explanation: `This check did not finish within ${Math.round(cap / 1000)} s: the server kept the connection busy without giving the answer the check waits for.`,
                        hint: 'Answer each frame as it arrives, and end every message you send with FIN = 1.',
                      },
                ),
              ),
            Math.max(0, cap),
          );
        }),
      ]);
      clearTimeout(timer);
      for (const conn of connections) conn.destroy();
      const ms = Date.now() - t0;
      if (outcome === null) {
        checks.push({ id: check.id, title: check.title, status: 'pass', ms });
        lastPassed = check.title;
      } else {
        const detail: FailureDetail =
          outcome instanceof CheckFailure
            ? outcome.detail
            : outcome instanceof ConnectError
              ? lastPassed === null
                ? {
                    rule: 'connect-failed',
                    section: 'RFC 6455 §4.1',
                    explanation: outcome.message,
                    hint: 'Start your server and give the checker the exact URL it listens on.',
                  }
                : {
                    rule: 'server-gone',
                    section: 'RFC 6455 §7.1.7',
                    explanation: `${outcome.message} Earlier checks in this run did connect, so the server stopped listening after "${lastPassed}" or during this check: it probably crashed on what a check sent.`,
                    hint: "Look at your server's output for an error. Bad bytes from one client must fail only that connection, with a close frame, and never stop the server.",
                  }
              : {
                  rule: 'checker-error',
                  section: '-',
                  explanation: `The checker itself failed: ${(outcome as Error)?.message ?? String(outcome)}`,
                  hint: 'This is a bug in the checker, not in your server; please report it.',
                };
        checks.push({ id: check.id, title: check.title, status: 'fail', ms });
        failure = {
          ...detail,
          stage: n,
          stageId: stage.id,
          check: check.id,
          checkTitle: check.title,
          wire: wireOf(connections, detail.blame),
        };
      }
      emit({ type: 'check', n, check: checks[checks.length - 1] as CheckResult });
    }
    const result: StageResult = {
      ...base,
      status: checks.some((c) => c.status === 'fail')
        ? 'fail'
        : checks.some((c) => c.status === 'not-run')
          ? 'not-run'
          : 'pass',
      checks,
    };
    results.push(result);
    emit({ type: 'stage-end', stage: result });
  }
  return {
    v: REPORT_VERSION,
    url: options.target.url,
    ok: failure === null,
    fromStage,
    timeoutMs,
    stages: results,
    failure,
    ms: Date.now() - started,
  };
}
