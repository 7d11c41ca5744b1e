/**
 * Draws traces as a timeline: one section per run, one row per phase, each bar placed on a time
 * axis shared by every run shown, so a ws:// and a wss:// trace line up and the TLS phase wss://
 * adds stands out. Rows are added as phases stream in and kept afterwards (only their geometry
 * changes), so CSS can animate a bar growing into place; the stylesheet turns that off under
 * prefers-reduced-motion. Every text is set as text. Used by the trace timeline and the proxy lab.
 */
import { PHASE_LABELS, type TracePhaseName } from '../../protocol/trace.ts';
import { h } from '../shared/dom.ts';
import { axisEnd, bars, bytesAsText, formatMs, summary, type TraceRun, ticks } from './model.ts';

export interface TimelineOptions {
  /** A prefix for element ids, unique on the page. */
  readonly id: string;
  readonly headingLevel: 2 | 3 | 4;
  /** Title of each run's section, e.g. "ws://" or "naive forwarder, ws://". */
  readonly title: (run: TraceRun) => string;
}

/** Phases that set the connection up, speak HTTP, carry the message, or close. */
export function phaseGroup(name: TracePhaseName): 'setup' | 'tls' | 'http' | 'message' | 'close' {
  switch (name) {
    case 'dns':
    case 'tcp':
    case 'proxy':
      return 'setup';
    case 'tls':
      return 'tls';
    case 'request':
    case 'response':
      return 'http';
    case 'message-sent':
    case 'message-echoed':
      return 'message';
    default:
      return 'close';
  }
}

interface RunView {
  readonly section: HTMLElement;
  readonly heading: HTMLElement;
  readonly status: HTMLElement;
  readonly list: HTMLOListElement;
  readonly rows: HTMLLIElement[];
  readonly failure: HTMLElement;
  readonly tls: HTMLElement;
}

export class Timeline {
  readonly element: HTMLElement;
  readonly #options: TimelineOptions;
  readonly #axis: HTMLElement;
  readonly #runsBox: HTMLElement;
  #views: RunView[] = [];

  constructor(options: TimelineOptions) {
    this.#options = options;
    this.#axis = h('div', { class: 'tt-axis', 'aria-hidden': 'true' });
    this.#runsBox = h('div', { class: 'tt-runs' });
    this.element = h(
      'div',
      { class: 'tt-timeline' },
      h(
        'div',
        { class: 'tt-axis-row' },
        h('span', { class: 'tt-axis-label' }, 'time since start'),
        this.#axis,
      ),
      this.#runsBox,
    );
  }

  /**
   * Draws `runs` (in this order) on one axis, ending at `fixedEnd` if given (a replay keeps the
   * final axis while the bars grow). Runs keep their rows across calls by position.
   */
  update(runs: readonly TraceRun[], fixedEnd?: number): void {
    while (this.#views.length > runs.length) this.#views.pop()?.section.remove();
    while (this.#views.length < runs.length) {
      const view = this.#newRunView(this.#views.length);
      this.#views.push(view);
      this.#runsBox.append(view.section);
    }
    const end = fixedEnd ?? axisEnd(runs);
    this.#drawAxis(end);
    runs.forEach((run, i) => {
      const view = this.#views[i];
      if (view !== undefined) this.#drawRun(view, run, end);
    });
    this.element.hidden = runs.every((run) => run.status === 'idle');
  }

  #newRunView(index: number): RunView {
    const heading = h(`h${this.#options.headingLevel}` as 'h3', {
      id: `${this.#options.id}-run-${index}`,
      class: 'tt-run-title',
    });
    const status = h('p', { class: 'tt-run-status' });
    const list = h('ol', { class: 'tt-phases', 'aria-labelledby': heading.id });
    const failure = h('div', { class: 'tt-failure', hidden: true });
    const tls = h('div', { class: 'tt-tls', hidden: true });
    const section = h(
      'section',
      { class: 'tt-run', 'aria-labelledby': heading.id },
      heading,
      status,
      list,
      failure,
      tls,
    );
    return { section, heading, status, list, rows: [], failure, tls };
  }

  #drawAxis(end: number): void {
    const marks = ticks(end);
    this.#axis.replaceChildren(
      ...marks.map((t) =>
        h(
          'span',
          {
            class: 'tt-tick',
            style: `left: ${(t / end) * 100}%`,
            'data-edge': t === 0 ? 'start' : t === marks.at(-1) ? 'end' : null,
          },
          t === 0 ? '0' : formatMs(t),
        ),
      ),
    );
  }

  #drawRun(view: RunView, run: TraceRun, end: number): void {
    view.section.dataset.status = run.status;
    view.section.dataset.scheme = run.scheme;
    view.section.dataset.via = run.via;
    if (run.trace !== null) view.section.dataset.ok = String(run.trace.ok);
    else delete view.section.dataset.ok;
    view.heading.textContent = this.#options.title(run);
    view.status.textContent = summary(run);
    const placed = bars(run, end);
    if (placed.length < view.rows.length) {
      for (const row of view.rows.splice(placed.length)) row.remove();
    }
    placed.forEach((bar, i) => {
      let row = view.rows[i];
      if (row === undefined || row.dataset.phase !== bar.name) {
        const fresh = this.#newRow();
        if (row === undefined) view.list.append(fresh);
        else row.replaceWith(fresh);
        view.rows[i] = fresh;
        row = fresh;
      }
      row.dataset.phase = bar.name;
      row.dataset.group = phaseGroup(bar.name);
      if (bar.failed) row.dataset.failed = 'true';
      else delete row.dataset.failed;
      const [name, time, track, detail] = row.children as unknown as HTMLElement[];
      if (name) name.textContent = bar.label;
      if (time) {
        time.textContent = !bar.failed
          ? formatMs(bar.duration)
          : bar.duration === 0
            ? 'failed ✗'
            : `${formatMs(bar.duration)} ✗`;
      }
      const fill = track?.firstElementChild as HTMLElement | null;
      if (fill) {
        fill.style.left = `${bar.left}%`;
        fill.style.width = `${bar.width}%`;
        fill.title = `${bar.label}: from ${formatMs(bar.start)} to ${formatMs(bar.start + bar.duration)}`;
      }
      if (detail) detail.textContent = bar.detail;
    });

    const failure = run.trace?.failure;
    view.failure.hidden =
      failure === undefined && run.status !== 'refused' && run.status !== 'lost';
    if (failure !== undefined) {
      view.failure.replaceChildren(
        h(
          'p',
          { class: 'tt-failure-title' },
          `Failed at: ${PHASE_LABELS[failure.phase]}${failure.status === undefined ? '' : ` (HTTP ${failure.status})`}`,
        ),
        h('p', {}, failure.explanation),
        ...bytesView(failure.bytesHex),
      );
    } else if (run.status === 'refused' || run.status === 'lost') {
      view.failure.replaceChildren(h('p', {}, summary(run)));
    } else {
      view.failure.replaceChildren();
    }

    const tls = run.trace?.tls;
    view.tls.hidden = tls === undefined;
    if (tls !== undefined) {
      const cert = tls.certificate;
      const rows: [string, string][] = [
        ['TLS version', tls.version],
        ['Cipher suite', tls.cipher],
        ['ALPN', tls.alpn ?? 'none negotiated'],
      ];
      if (cert !== null) {
        rows.push([
          'Certificate',
          `${cert.subject} (names: ${cert.altNames.join(', ') || 'none'})`,
        ]);
        rows.push([
          'Issued by',
          `${cert.issuer}${cert.verified ? '' : ' (self-signed, not verified by the trace client)'}`,
        ]);
        rows.push(['Valid until', cert.validTo]);
      }
      view.tls.replaceChildren(
        h(
          'dl',
          { class: 'tt-facts' },
          ...rows.map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))),
        ),
      );
    }
  }

  #newRow(): HTMLLIElement {
    return h(
      'li',
      { class: 'tt-phase' },
      h('span', { class: 'tt-name' }),
      h('span', { class: 'tt-time' }),
      h('span', { class: 'tt-track', 'aria-hidden': 'true' }, h('span', { class: 'tt-bar' })),
      h('span', { class: 'tt-detail' }),
    );
  }
}

/** The first bytes of a failed answer, as text (an HTTP head), with a label. */
function bytesView(hex: string | undefined): HTMLElement[] {
  const text = hex === undefined ? null : bytesAsText(hex);
  if (text === null) return [];
  return [
    h('p', { class: 'tt-bytes-label' }, 'What came back, as text:'),
    h(
      'pre',
      { class: 'tt-bytes', tabindex: '0', 'aria-label': 'The answer received, as text' },
      text,
    ),
  ];
}
