/**
 * The trace timeline of chapter 2: the learner asks the lab server to trace a connection to its
 * own ws:// and wss:// ports, and watches each phase (DNS, TCP, TLS, the upgrade, the first
 * message, the close and the FINs) arrive and take its place on a time axis shared by both runs.
 * Logic lives in model.ts; the timeline drawing in timeline-view.ts; this is the thin view.
 */
import type { TraceScheme } from '../../protocol/trace.ts';
import { h } from '../shared/dom.ts';
import { renderUnavailable } from '../shared/lab-server.ts';
import { fetchLabInfo, type LabInfo, runTrace } from './client.ts';
import { axisEnd, compare, comparisonText, newRun, snapshotAt, type TraceRun } from './model.ts';
import { Timeline } from './timeline-view.ts';

export interface TraceLabOptions {
  readonly headingLevel?: 2 | 3 | 4;
}

export interface MountedLab {
  dispose(): void;
}

/** Real time a slow-motion replay takes, whatever the trace's own length. */
const REPLAY_MS = 4000;

let instances = 0;

export function mount(element: HTMLElement, options: TraceLabOptions = {}): MountedLab {
  const id = `trace-${++instances}`;
  const runs: Record<TraceScheme, TraceRun> = { ws: newRun('ws'), wss: newRun('wss') };
  const abort = new AbortController();
  let busy = false;
  let replayFrame = 0;
  let info: LabInfo | null = null;
  let origin = '';
  // The URL each scheme was traced at, kept so a replay (which hides the final trace) shows it.
  const urls: Partial<Record<TraceScheme, string>> = {};

  const wsButton = h('button', { type: 'button', class: 'tt-button' }, 'Trace ws://');
  const wssButton = h('button', { type: 'button', class: 'tt-button' }, 'Trace wss://');
  const bothButton = h('button', { type: 'button', class: 'tt-button tt-primary' }, 'Trace both');
  const replayButton = h(
    'button',
    { type: 'button', class: 'tt-button', disabled: true },
    'Replay in slow motion',
  );
  const note = h('p', { class: 'tt-note', id: `${id}-note` });
  const status = h('p', { class: 'tt-status', role: 'status', 'aria-live': 'polite' });
  const unavailable = h('div', { class: 'tt-unavailable' });
  const comparison = h('p', { class: 'tt-comparison', hidden: true });
  const timeline = new Timeline({
    id,
    headingLevel: options.headingLevel ?? 3,
    title: (run) => urls[run.scheme] ?? `${run.scheme}:// to the lab server`,
  });
  const root = h(
    'div',
    { class: 'tt' },
    h(
      'div',
      { class: 'tt-controls', role: 'group', 'aria-label': 'Trace a connection to the lab server' },
      bothButton,
      wsButton,
      wssButton,
      replayButton,
    ),
    note,
    unavailable,
    status,
    comparison,
    timeline.element,
  );
  element.replaceChildren(root);

  const reducedMotion = () =>
    typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;

  function draw(fixedEnd?: number, view: readonly TraceRun[] = [runs.ws, runs.wss]) {
    timeline.update(view, fixedEnd);
    const c = compare(runs.ws, runs.wss);
    comparison.hidden = c === null;
    if (c !== null) {
      comparison.textContent = comparisonText(c);
    }
    const noTls = info !== null && info.https === null;
    wssButton.disabled = busy || noTls;
    bothButton.disabled = busy;
    wsButton.disabled = busy;
    replayButton.disabled = busy || (runs.ws.trace === null && runs.wss.trace === null);
    if (noTls) {
      note.textContent =
        'This lab server has no TLS listener, so only ws:// can be traced. Start it with its TLS port on (see the chapter) to trace wss://.';
    }
  }

  async function learnPorts(from: string) {
    if (from === origin) return;
    origin = from;
    info = await fetchLabInfo(from, abort.signal);
  }

  async function trace(schemes: readonly TraceScheme[]) {
    cancelAnimationFrame(replayFrame);
    busy = true;
    unavailable.replaceChildren();
    for (const scheme of schemes) runs[scheme] = newRun(scheme);
    draw();
    for (const scheme of schemes) {
      if (scheme === 'wss' && info !== null && info.https === null) continue;
      status.textContent = `Tracing ${scheme}://…`;
      const outcome = await runTrace(
        scheme,
        'direct',
        (run) => {
          runs[scheme] = run;
          if (run.trace?.url) urls[scheme] = run.trace.url;
          draw();
        },
        abort.signal,
      );
      if (abort.signal.aborted) return;
      if (!outcome.ok) {
        runs[scheme] = newRun(scheme);
        unavailable.replaceChildren(
          renderUnavailable(outcome.unavailable, () => {
            unavailable.replaceChildren();
            void trace(schemes);
          }),
        );
        status.textContent = '';
        break;
      }
      await learnPorts(outcome.origin);
    }
    busy = false;
    const done = schemes.map((s) => runs[s]).filter((r) => r.status !== 'idle');
    status.textContent =
      done.length === 0 ? '' : `Done. ${done.map((r) => summaryLine(r)).join(' ')}`;
    draw();
  }

  function summaryLine(run: TraceRun): string {
    if (run.status === 'refused') return `${run.scheme}:// was refused: ${run.reason}`;
    if (run.status === 'lost') return `${run.scheme}:// was lost: ${run.reason}`;
    if (run.trace === null) return '';
    return run.trace.ok
      ? `${run.scheme}:// opened, echoed and closed.`
      : `${run.scheme}:// failed.`;
  }

  function replay() {
    cancelAnimationFrame(replayFrame);
    const view = [runs.ws, runs.wss];
    const end = axisEnd(view);
    if (reducedMotion()) {
      draw();
      status.textContent =
        'Replay skipped: your system asks for reduced motion, so the whole timeline is shown at once.';
      return;
    }
    const started = performance.now();
    status.textContent = 'Replaying in slow motion…';
    const step = (now: number) => {
      const t = Math.min(1, (now - started) / REPLAY_MS) * end;
      draw(
        end,
        view.map((run) => snapshotAt(run, t)),
      );
      if (t < end) replayFrame = requestAnimationFrame(step);
      else {
        draw();
        status.textContent = 'Replay finished.';
      }
    };
    replayFrame = requestAnimationFrame(step);
  }

  wsButton.addEventListener('click', () => void trace(['ws']));
  wssButton.addEventListener('click', () => void trace(['wss']));
  bothButton.addEventListener('click', () => void trace(['ws', 'wss']));
  replayButton.addEventListener('click', replay);
  draw();

  return {
    dispose() {
      abort.abort();
      cancelAnimationFrame(replayFrame);
      element.replaceChildren();
    },
  };
}
