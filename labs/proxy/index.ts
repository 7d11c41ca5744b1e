/**
 * The proxy lab of chapter 9: the lab server traces a connection to itself directly and through
 * each of its loopback proxies (CONNECT tunnel, WebSocket-aware forwarder, naive forwarder), for
 * ws:// and wss://. A table shows pass or fail per pair; choosing a cell shows why, from the
 * trace: what the proxy did with the request and what the server answered, and the timeline.
 * Logic lives in model.ts; this is the thin view.
 */
import type { TraceScheme, TraceVia } from '../../protocol/trace.ts';
import { h } from '../shared/dom.ts';
import { renderUnavailable } from '../shared/lab-server.ts';
import { fetchLabInfo, type LabInfo, runTrace } from '../trace/client.ts';
import { Timeline } from '../trace/timeline-view.ts';
import {
  CELLS,
  type CellKey,
  cellKey,
  cellLabel,
  emptyGrid,
  type Grid,
  reasonOf,
  SCHEMES,
  tally,
  VIA_LABELS,
  VIA_NOTES,
  verdictOf,
} from './model.ts';

export interface ProxyLabOptions {
  readonly headingLevel?: 2 | 3 | 4;
}

export interface MountedLab {
  dispose(): void;
}

let instances = 0;

const ICONS = { idle: '·', running: '…', pass: '✓', fail: '✗', refused: '!', lost: '!' } as const;

export function mount(element: HTMLElement, options: ProxyLabOptions = {}): MountedLab {
  const id = `proxy-${++instances}`;
  const heading = `h${options.headingLevel ?? 3}` as 'h3';
  const abort = new AbortController();
  let grid: Grid = emptyGrid();
  let selected: CellKey | null = null;
  let busy = false;
  let info: LabInfo | null = null;
  let origin = '';

  const runAll = h('button', { type: 'button', class: 'tt-button tt-primary' }, 'Run all eight');
  const status = h('p', { class: 'tt-status', role: 'status', 'aria-live': 'polite' });
  const note = h('p', { class: 'tt-note' });
  const unavailable = h('div', { class: 'tt-unavailable' });
  const cellButtons = new Map<CellKey, HTMLButtonElement>();
  const table = h(
    'table',
    { class: 'px-grid' },
    h('caption', {}, 'The same trace through each proxy mode. Choose a cell to run it or see why.'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Path'),
        ...SCHEMES.map((scheme) => h('th', { scope: 'col' }, `${scheme}://`)),
      ),
    ),
    h(
      'tbody',
      {},
      ...(['direct', 'connect', 'aware', 'naive'] as const).map((via) =>
        h(
          'tr',
          { 'data-via': via },
          h('th', { scope: 'row' }, VIA_LABELS[via]),
          ...SCHEMES.map((scheme) => {
            const key = cellKey(via, scheme);
            const button = h('button', {
              type: 'button',
              class: 'px-cell',
              'data-cell': key,
              'aria-pressed': 'false',
            });
            button.addEventListener('click', () => void choose(via, scheme));
            cellButtons.set(key, button);
            return h('td', {}, button);
          }),
        ),
      ),
    ),
  );
  const detailHeading = h(heading, { id: `${id}-detail`, class: 'px-detail-title' });
  const detailNote = h('p', { class: 'px-note' });
  const detailReason = h('dl', { class: 'tt-facts px-reason' });
  const timeline = new Timeline({
    id: `${id}-timeline`,
    headingLevel: Math.min(4, (options.headingLevel ?? 3) + 1) as 3 | 4,
    title: (run) => run.trace?.url || `${run.scheme}:// to the lab server`,
  });
  const rerun = h('button', { type: 'button', class: 'tt-button' }, 'Run this cell again');
  const detail = h(
    'section',
    { class: 'px-detail', 'aria-labelledby': detailHeading.id, hidden: true },
    detailHeading,
    detailNote,
    detailReason,
    rerun,
    timeline.element,
  );
  const root = h(
    'div',
    { class: 'px' },
    h('div', { class: 'tt-controls' }, runAll),
    note,
    unavailable,
    status,
    h('div', { class: 'px-scroll' }, table),
    detail,
  );
  element.replaceChildren(root);

  function draw() {
    for (const { via, scheme } of CELLS) {
      const key = cellKey(via, scheme);
      const run = grid[key];
      const button = cellButtons.get(key);
      if (button === undefined) continue;
      const verdict = verdictOf(run);
      button.dataset.verdict = verdict;
      button.setAttribute('aria-pressed', String(key === selected));
      button.replaceChildren(
        h('span', { class: 'px-icon', 'aria-hidden': 'true' }, ICONS[verdict]),
        h('span', { class: 'px-label' }, cellLabel(run)),
      );
      button.setAttribute(
        'aria-label',
        `${VIA_LABELS[via]}, ${scheme}://: ${cellLabel(run)}${verdict === 'idle' ? ' (press to run)' : ''}`,
      );
    }
    runAll.disabled = busy;
    rerun.disabled = busy;
    const ran = CELLS.some(({ via, scheme }) => grid[cellKey(via, scheme)].status !== 'idle');
    if (!busy && ran) status.textContent = tally(grid);
    if (info !== null && info.proxies === null) {
      note.textContent =
        'This lab server runs without its proxies, so only the direct row can be traced. Start it with its proxies on (see the chapter) to fill the other rows.';
    }
    drawDetail();
  }

  function drawDetail() {
    detail.hidden = selected === null;
    if (selected === null) return;
    const run = grid[selected];
    detailHeading.textContent = `${VIA_LABELS[run.via]}, ${run.scheme}://`;
    detailNote.textContent =
      run.scheme === 'wss' && run.via !== 'direct'
        ? 'For wss:// every client asks for a CONNECT tunnel, even of a forwarder: the proxy only ever sees encrypted bytes, so it cannot drop the Upgrade header it never reads.'
        : VIA_NOTES[run.via];
    const reason = reasonOf(run);
    const rows: [string, string][] = [];
    if (reason.proxy !== '') rows.push(['What the proxy did', reason.proxy]);
    rows.push(['What came back', reason.answer === '' ? 'nothing yet' : reason.answer]);
    detailReason.replaceChildren(
      ...rows.map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))),
    );
    timeline.update([run]);
  }

  async function learnPorts(from: string) {
    if (from === origin) return;
    origin = from;
    info = await fetchLabInfo(from, abort.signal);
  }

  /** Runs one cell; false when the lab server could not be reached. */
  async function runCell(via: TraceVia, scheme: TraceScheme): Promise<boolean> {
    const key = cellKey(via, scheme);
    status.textContent = `Tracing ${scheme}:// ${via === 'direct' ? 'directly' : `through the ${VIA_LABELS[via]}`}…`;
    const outcome = await runTrace(
      scheme,
      via,
      (run) => {
        grid = { ...grid, [key]: run };
        draw();
      },
      abort.signal,
    );
    if (abort.signal.aborted) return false;
    if (!outcome.ok) {
      grid = { ...grid, [key]: emptyGrid()[key] };
      unavailable.replaceChildren(
        renderUnavailable(outcome.unavailable, () => {
          unavailable.replaceChildren();
          void runMany([{ via, scheme }]);
        }),
      );
      status.textContent = '';
      return false;
    }
    await learnPorts(outcome.origin);
    return true;
  }

  async function runMany(cells: readonly { via: TraceVia; scheme: TraceScheme }[]) {
    if (busy) return;
    busy = true;
    unavailable.replaceChildren();
    draw();
    for (const { via, scheme } of cells) {
      if (!(await runCell(via, scheme))) break;
    }
    busy = false;
    draw();
  }

  async function choose(via: TraceVia, scheme: TraceScheme) {
    selected = cellKey(via, scheme);
    draw();
    if (grid[selected].status === 'idle') await runMany([{ via, scheme }]);
  }

  runAll.addEventListener('click', () => {
    selected ??= cellKey('naive', 'ws');
    void runMany(CELLS);
  });
  rerun.addEventListener('click', () => {
    if (selected === null) return;
    const run = grid[selected];
    void runMany([{ via: run.via, scheme: run.scheme }]);
  });
  draw();

  return {
    dispose() {
      abort.abort();
      element.replaceChildren();
    },
  };
}
