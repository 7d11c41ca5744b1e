/**
 * `pnpm lab check <url>`: runs the checker from the command line. Exit code 0 only when every
 * stage run passed, 1 when a check failed, 2 for a command line it cannot use.
 */
import { parseArgs } from 'node:util';
import { parseArgsMessage } from '../options.ts';
import { progressLines, reportLines } from './report.ts';
import { DEFAULT_DEADLINE_MS, DEFAULT_TIMEOUT_MS, runChecks } from './run.ts';
import { STAGES } from './stages.ts';
import { parseTarget, type Target } from './target.ts';

export const CHECK_HELP = `Usage: pnpm lab check <ws://host:port/path> [options]

Tests your own WebSocket server, stage by stage, in the order you would build it, and stops at
the first check it fails: it shows the bytes sent and received, annotated, with a caret under
the offending byte, the rule and its RFC section, and what to change. It connects only to the
URL you give. wss:// is allowed; on this machine (loopback) a self-signed certificate is fine.

Stages:
${STAGES.map((stage, i) => `  ${String(i + 1).padStart(2)}. ${stage.title} (${stage.checks.length} checks)`).join('\n')}

Options:
  --stage <n>        start at stage n (after fixing the stage that failed)
  --json             print one JSON report on stdout instead of text (run it as
                     pnpm -s lab check ... --json to keep pnpm's own banner out of it)
  --timeout <s>      seconds to wait for each answer (default ${DEFAULT_TIMEOUT_MS / 1000})
  --deadline <s>     seconds the whole run may take (default ${DEFAULT_DEADLINE_MS / 1000})
  --no-color         no colours (NO_COLOR=1 does the same)
  -h, --help         show this help

Exit code: 0 when every stage run passed, 1 when a check failed, 2 for a bad command line.
`;

export interface CheckCommand {
  readonly help: boolean;
  readonly target: Target | null;
  readonly fromStage: number;
  readonly json: boolean;
  readonly color: boolean;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
}

function seconds(flag: string, text: string | undefined, fallbackMs: number, max: number): number {
  if (text === undefined) return fallbackMs;
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!(value > 0 && value <= max)) {
    throw new Error(`${flag} must be a number of seconds above 0, at most ${max}, not "${text}".`);
  }
  return Math.round(value * 1000);
}

/** Parses the arguments after `check`; throws an Error with a message for the user. */
export function parseCheckArgs(argv: readonly string[]): CheckCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new Error(parseArgsMessage(error as Error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    return {
      help: true,
      target: null,
      fromStage: 1,
      json: false,
      color: false,
      timeoutMs: 0,
      deadlineMs: 0,
    };
  }
  if (positionals.length === 0) {
    throw new Error(
      'Give the URL of your server, for example: pnpm lab check ws://127.0.0.1:8080/',
    );
  }
  if (positionals.length > 1) {
    throw new Error(
      `Give one URL, not ${positionals.length}: ${positionals.slice(0, 3).join(' ')}`,
    );
  }
  let fromStage = 1;
  if (values.stage !== undefined) {
    fromStage = /^\d{1,3}$/.test(values.stage.trim()) ? Number(values.stage.trim()) : Number.NaN;
    if (!(fromStage >= 1 && fromStage <= STAGES.length)) {
      throw new Error(
        `--stage must be a stage number from 1 to ${STAGES.length}, not "${values.stage}".`,
      );
    }
  }
  return {
    help: false,
    target: parseTarget(positionals[0] as string),
    fromStage,
    json: values.json === true,
    color: values['no-color'] !== true,
    timeoutMs: seconds('--timeout', values.timeout, DEFAULT_TIMEOUT_MS, 60),
    deadlineMs: seconds('--deadline', values.deadline, DEFAULT_DEADLINE_MS, 3600),
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      stage: { type: 'string' },
      json: { type: 'boolean' },
      timeout: { type: 'string' },
      deadline: { type: 'string' },
      'no-color': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
}

export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Runs `pnpm lab check ...`; resolves to the exit code. */
export async function checkCommand(
  argv: readonly string[],
  io: { stdout: Output; stderr: Output; env: Record<string, string | undefined> },
): Promise<number> {
  let command: CheckCommand;
  try {
    command = parseCheckArgs(argv);
  } catch (error) {
    io.stderr.write(
      `${(error as Error).message}\nRun pnpm lab check --help to see every option.\n`,
    );
    return 2;
  }
  if (command.help || command.target === null) {
    io.stdout.write(CHECK_HELP);
    return 0;
  }
  const color =
    command.color && !command.json && io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
  const options = { color };
  if (!command.json) {
    io.stdout.write(
      `Checking ${command.target.url}: ${STAGES.length} stages, each answer awaited ${command.timeoutMs / 1000} s.\n\n`,
    );
  }
  const report = await runChecks({
    target: command.target,
    fromStage: command.fromStage,
    timeoutMs: command.timeoutMs,
    deadlineMs: command.deadlineMs,
    onProgress: (event) => {
      if (command.json) return;
      for (const line of progressLines(event, options)) io.stdout.write(`${line}\n`);
    },
  });
  if (command.json) {
    io.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const notRun = report.stages.filter((s) => s.status === 'not-run' || s.status === 'skipped');
    const lines = reportLines(report, options, false);
    const stagesLeft = notRun.filter((s) => s.n > (report.failure?.stage ?? 0));
    io.stdout.write(`${lines.join('\n')}\n`);
    if (stagesLeft.length > 0 && report.failure !== null) {
      io.stdout.write(`Not run yet: stages ${stagesLeft.map((s) => s.n).join(', ')}.\n`);
    }
  }
  return report.ok ? 0 : 1;
}
