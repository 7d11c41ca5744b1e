/**
 * The checker page's logic, without a DOM: what the learner typed, and what the lab server's
 * /check endpoint streams back (lab-server/check-endpoint.ts), folded into one state the view
 * draws. Everything from the socket is checked for shape before it is used.
 */

export type StageStatus = 'waiting' | 'running' | 'pass' | 'fail' | 'skipped' | 'not-run';

export interface StageView {
  readonly n: number;
  readonly title: string;
  readonly checks: number;
  readonly status: StageStatus;
  /** For a failed stage: the title of the check that failed. */
  readonly failedCheck?: string;
  readonly passed: number;
}

export interface FailureView {
  readonly stage: number;
  readonly check: string;
  readonly checkTitle: string;
  readonly rule: string;
  readonly section: string;
  readonly explanation: string;
  readonly hint: string;
}

export type Phase = 'idle' | 'running' | 'done' | 'refused';

export interface CheckerState {
  readonly phase: Phase;
  readonly url: string;
  readonly stages: readonly StageView[];
  readonly failure: FailureView | null;
  /** The report as the terminal shows it, without colours. */
  readonly text: readonly string[];
  /** Why the run was refused, or the verdict line. */
  readonly message: string;
  readonly ok: boolean | null;
}

export const INITIAL: CheckerState = {
  phase: 'idle',
  url: '',
  stages: [],
  failure: null,
  text: [],
  message: '',
  ok: null,
};

/** The stages, for the "start at" choice before the first run (lab-server/check/stages.ts). */
export const STAGE_TITLES: readonly string[] = [
  'Opening handshake',
  'Echo of short text messages',
  'Payload lengths: 7-bit, 16-bit and 64-bit',
  'Binary messages',
  'Ping and pong',
  'Fragmented messages',
  'Control frames between fragments',
  'Invalid frames fail the connection with 1002',
  'Invalid UTF-8 fails the connection with 1007',
  'Closing handshake',
];

const LOOPBACK = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/i;

/**
 * What the page sends, checked before sending, with the same rules the endpoint applies (it
 * checks again: the page is only a convenience).
 */
export function readUrl(text: string): { readonly url: string } | { readonly error: string } {
  const trimmed = text.trim();
  if (trimmed === '')
    return { error: 'Type the URL of your server, such as ws://127.0.0.1:8080/.' };
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return {
      error: `"${trimmed.slice(0, 80)}" is not a URL; a WebSocket URL looks like ws://127.0.0.1:8080/.`,
    };
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    const ws = url.protocol === 'https:' ? 'wss' : 'ws';
    return {
      error: `Use ${ws}://${url.host}${url.pathname}${url.search}: a WebSocket URL starts with ws:// or wss:// (RFC 6455 §3).`,
    };
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    return { error: 'A WebSocket URL starts with ws:// or wss:// (RFC 6455 §3).' };
  }
  if (!LOOPBACK.test(url.hostname)) {
    return {
      error: `From this page the checker tests only servers on your own machine (127.0.0.1, [::1] or localhost). For ${url.hostname}, run pnpm lab check ${url.href} on the command line.`,
    };
  }
  return { url: url.href };
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

const text = (value: unknown, fallback = '') => (typeof value === 'string' ? value : fallback);
const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

const STATUSES: readonly StageStatus[] = ['pass', 'fail', 'skipped', 'not-run'];

function stageFromReport(value: unknown): StageView | null {
  const stage = record(value);
  if (stage === null) return null;
  const checks = Array.isArray(stage.checks) ? stage.checks.map(record) : [];
  const status = STATUSES.includes(stage.status as StageStatus)
    ? (stage.status as StageStatus)
    : 'not-run';
  const failed = checks.find((c) => c?.status === 'fail');
  return {
    n: num(stage.n),
    title: text(stage.title),
    checks: checks.length,
    status,
    passed: checks.filter((c) => c?.status === 'pass').length,
    ...(failed ? { failedCheck: text(failed.title) } : {}),
  };
}

/** Folds one message from /check into the state; unknown messages change nothing. */
export function reduce(state: CheckerState, raw: unknown): CheckerState {
  const message = record(raw);
  if (message === null) return state;
  switch (message.type) {
    case 'refused':
    case 'busy':
      return {
        ...state,
        phase: state.phase === 'running' ? 'running' : 'refused',
        message: text(message.reason),
      };
    case 'started': {
      const stages = Array.isArray(message.stages) ? message.stages.map(record) : [];
      return {
        ...INITIAL,
        phase: 'running',
        url: text(message.url),
        stages: stages.map((s) => ({
          n: num(s?.n),
          title: text(s?.title),
          checks: num(s?.checks),
          status: 'waiting',
          passed: 0,
        })),
      };
    }
    case 'progress': {
      const event = record(message.event);
      if (event === null) return state;
      if (event.type === 'stage-start') {
        const n = num(event.n);
        return {
          ...state,
          stages: state.stages.map((s) => (s.n === n ? { ...s, status: 'running' } : s)),
        };
      }
      if (event.type === 'stage-end') {
        const stage = stageFromReport(event.stage);
        if (stage === null) return state;
        return { ...state, stages: state.stages.map((s) => (s.n === stage.n ? stage : s)) };
      }
      return state;
    }
    case 'report': {
      const report = record(message.report);
      if (report === null) return state;
      const stages = Array.isArray(report.stages)
        ? report.stages.map(stageFromReport).filter((s): s is StageView => s !== null)
        : state.stages;
      const f = record(report.failure);
      const failure: FailureView | null =
        f === null
          ? null
          : {
              stage: num(f.stage),
              check: text(f.check),
              checkTitle: text(f.checkTitle),
              rule: text(f.rule),
              section: text(f.section),
              explanation: text(f.explanation),
              hint: text(f.hint),
            };
      const lines = Array.isArray(message.text) ? message.text.map((line) => text(line)) : [];
      const passed = stages.filter((s) => s.status === 'pass').length;
      return {
        ...state,
        phase: 'done',
        url: text(report.url, state.url),
        stages,
        failure,
        text: lines,
        ok: report.ok === true,
        message:
          failure === null
            ? `All ${passed} stages that ran passed.`
            : `Failed at stage ${failure.stage}: ${failure.checkTitle}.`,
      };
    }
    default:
      return state;
  }
}

/** The part of the text report that shows the wire (after the failure's summary lines). */
export function wireText(lines: readonly string[]): string {
  const start = lines.findIndex((line) => line.includes('What crossed the wire'));
  if (start === -1) return '';
  const end = lines.findIndex((line, i) => i > start && /^(FAIL|PASS)\b/.test(line));
  // The terminal indents the whole section by two spaces; the page's box does that already.
  return lines
    .slice(start + 1, end === -1 ? undefined : end)
    .map((line) => line.replace(/^ {2}/, ''))
    .join('\n')
    .replace(/\n+$/, '');
}

export function statusLabel(stage: StageView): string {
  switch (stage.status) {
    case 'waiting':
      return 'waiting';
    case 'running':
      return 'running…';
    case 'pass':
      return `passed (${stage.checks} check${stage.checks === 1 ? '' : 's'})`;
    case 'fail':
      return `failed: ${stage.failedCheck ?? ''} (${stage.passed} of ${stage.checks} checks passed before it)`;
    case 'skipped':
      return 'skipped';
    case 'not-run':
      return 'not run';
  }
}
