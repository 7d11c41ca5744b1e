/**
 * The teacher dashboard (`/teacher/`): connects to `/teacher` with the token, then draws the
 * class from the server's snapshot and updates (dashboard.ts decides what changed). The table
 * of students × exercises updates cell by cell, so 500 students answering at once cost a few
 * DOM writes per update rather than a redraw. Every name and answer is set as text; the QR
 * code SVG from the server is parsed and checked (teacher.ts `svgProblem`) before it is shown.
 */
import type { ChapterId } from '../exercises/types.ts';
import { h } from '../shared/dom.ts';
import { connectLabServer, renderUnavailable } from '../shared/lab-server.ts';
import { fetchLabInfo } from './client.ts';
import {
  applyMessage,
  type CellStatus,
  type Changes,
  cellOf,
  chaptersWithExercises,
  type DashboardState,
  DEFAULT_FILTER,
  exerciseCounts,
  onlineCount,
  resultKey,
  solvedBy,
  type TableFilter,
  visibleExercises,
  visibleStudents,
} from './dashboard.ts';
import type { ChapterState, TeacherMessage, ToTeacherMessage } from './protocol.ts';
import { TEACHER_PATH, TEACHER_TOKEN_KEY } from './protocol.ts';
import {
  exportFileName,
  hashWithoutToken,
  joinLink,
  svgProblem,
  tokenFromHash,
} from './teacher.ts';

export interface DashboardMounted {
  dispose(): void;
}

const RETRY_MS = [500, 1000, 2000, 4000, 8000];

function session(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** Takes the token out of the address bar into sessionStorage; returns the token to use. */
export function adoptToken(): string | null {
  const fromHash = tokenFromHash(location.hash);
  if (location.hash.includes('token=')) {
    history.replaceState(
      history.state,
      '',
      `${location.pathname}${location.search}${hashWithoutToken(location.hash)}`,
    );
  }
  const store = session();
  if (fromHash !== null) {
    store?.setItem(TEACHER_TOKEN_KEY, fromHash);
    return fromHash;
  }
  return store?.getItem(TEACHER_TOKEN_KEY) ?? null;
}

export function mountDashboard(
  element: HTMLElement,
  titles: Readonly<Record<string, string>>,
): DashboardMounted {
  const dashboard = new Dashboard(element, titles, adoptToken());
  return { dispose: () => dashboard.dispose() };
}

class Dashboard {
  readonly #root: HTMLElement;
  readonly #titles: Readonly<Record<string, string>>;
  #token: string | null;
  #origin: string | null = null;
  #socket: WebSocket | null = null;
  #state: DashboardState | null = null;
  #filter: TableFilter = DEFAULT_FILTER;
  #retry = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #disposed = false;
  #pending: Changes | null = null;
  #frame = 0;

  // Parts drawn once per snapshot, updated in place.
  readonly #status = h('div', { class: 'dash-status', role: 'status', 'aria-live': 'polite' });
  readonly #main = h('div', { class: 'dash-main' });
  #summary: HTMLElement | null = null;
  #chaptersBox: HTMLElement | null = null;
  #tableWrap: HTMLElement | null = null;
  #wrongBox: HTMLElement | null = null;
  #chapterSelect: HTMLSelectElement | null = null;
  readonly #cells = new Map<string, HTMLTableCellElement>();
  readonly #counts = new Map<string, HTMLElement>();
  readonly #rows = new Map<string, { online: HTMLElement; solved: HTMLElement }>();

  constructor(root: HTMLElement, titles: Readonly<Record<string, string>>, token: string | null) {
    this.#root = root;
    this.#titles = titles;
    this.#token = token;
    root.replaceChildren(this.#status, this.#main);
    if (token === null) {
      this.#message(
        'No teacher token in this tab.',
        'Open the teacher URL that `pnpm lab --classroom` printed in its terminal (it ends in `#token=…`). The token stays in this tab only and is removed from the address bar.',
      );
      return;
    }
    void this.#start();
  }

  dispose(): void {
    this.#disposed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    cancelAnimationFrame(this.#frame);
    this.#socket?.close(1000, 'page closed');
    this.#root.replaceChildren();
  }

  async #start(): Promise<void> {
    this.#status.textContent = 'Looking for the lab server…';
    const info = await fetchLabInfo();
    if (this.#disposed) return;
    if (info === null) {
      this.#main.replaceChildren(
        renderUnavailable(
          {
            title: 'The lab server is not running. Start a class with `pnpm lab --classroom`.',
            details: [
              'The dashboard shows what the lab server records; open it from the teacher URL the lab server prints.',
            ],
          },
          () => void this.#start(),
          'cls-missing',
        ),
      );
      this.#status.textContent = '';
      return;
    }
    if (!info.classroom) {
      this.#message(
        'Classroom mode is off.',
        'This lab server runs without a class. Stop it and start it with `pnpm lab --classroom` (add `--host 0.0.0.0` so students on the network can reach it), then open the teacher URL it prints.',
      );
      return;
    }
    this.#origin = info.origin;
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#disposed || this.#token === null) return;
    this.#status.textContent = this.#state === null ? 'Connecting…' : 'Reconnecting…';
    const result = await connectLabServer(
      TEACHER_PATH,
      this.#origin === null ? {} : { candidates: [this.#origin] },
    );
    if (this.#disposed) {
      if (result.ok) result.connection.socket.close(1000, 'page closed');
      return;
    }
    if (!result.ok) {
      this.#status.textContent = `No answer from ${result.tried.join(' or ')}; trying again…`;
      this.#scheduleRetry();
      return;
    }
    const socket = result.connection.socket;
    this.#socket = socket;
    let refused = false;
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      let message: ToTeacherMessage;
      try {
        message = JSON.parse(event.data) as ToTeacherMessage;
      } catch {
        return;
      }
      if (message === null || typeof message !== 'object') return;
      if (message.type === 'refused') {
        refused = true;
        session()?.removeItem(TEACHER_TOKEN_KEY);
        this.#token = null;
        this.#message(
          `The lab server refused the teacher token: ${message.reason}`,
          'Open the teacher URL printed by `pnpm lab --classroom` again (a new class has a new token).',
        );
        return;
      }
      this.#receive(message);
    });
    socket.addEventListener('close', (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (refused || this.#disposed) return;
      this.#status.textContent = `The connection closed (${event.code}); reconnecting…`;
      this.#scheduleRetry();
    });
    this.#send({ type: 'auth', token: this.#token });
  }

  #scheduleRetry(): void {
    if (this.#disposed || this.#retryTimer !== null) return;
    const delay = RETRY_MS[Math.min(this.#retry, RETRY_MS.length - 1)] ?? 8000;
    this.#retry++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, delay);
  }

  #send(message: TeacherMessage): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }

  #message(title: string, detail: string): void {
    this.#status.textContent = '';
    this.#main.replaceChildren(
      h(
        'div',
        { class: 'cls-off', role: 'alert' },
        h('p', { class: 'cls-off-title' }, ...codeText(title)),
        h('p', {}, ...codeText(detail)),
      ),
    );
  }

  #receive(message: ToTeacherMessage): void {
    const step = applyMessage(this.#state, message);
    this.#state = step.state;
    if (message.type === 'snapshot') {
      this.#retry = 0;
      this.#status.textContent = 'Live.';
    }
    // Draw at most once per frame, whatever the number of messages.
    this.#pending =
      this.#pending === null ? step.changes : mergeChanges(this.#pending, step.changes);
    if (this.#frame === 0) {
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0;
        const changes = this.#pending;
        this.#pending = null;
        if (changes !== null) this.#draw(changes);
      });
    }
  }

  #draw(changes: Changes): void {
    const state = this.#state;
    if (state === null) return;
    if (this.#summary === null) this.#layout(state);
    this.#drawSummary(state);
    if (changes.chapters) this.#drawChapters(state);
    if (changes.all || changes.chapters) {
      this.#drawTable(state);
      this.#drawWrong(state);
      return;
    }
    for (const key of changes.cells) {
      const cell = this.#cells.get(key);
      if (cell === undefined) continue;
      const [student, exercise] = key.split('\u0000') as [string, string];
      fillCell(cell, state.results.get(resultKey(student, exercise)));
      cell.classList.remove('dash-flash');
      // Restart the highlight: a cell that changes again flashes again.
      void cell.offsetWidth;
      cell.classList.add('dash-flash');
    }
    for (const id of changes.students) {
      const row = this.#rows.get(id);
      const student = state.students.get(id);
      if (row === undefined || student === undefined) continue;
      fillOnline(row.online, student.online);
      row.solved.textContent = String(solvedBy(state, id));
    }
    for (const id of changes.exercises) {
      const counts = this.#counts.get(id);
      if (counts !== undefined) fillCounts(counts, exerciseCounts(state, id), state.students.size);
    }
    if (changes.exercises.length > 0) this.#drawWrong(state);
  }

  /** The parts that stay for the life of the page: the code, the QR, the tools. */
  #layout(state: DashboardState): void {
    const info = state.info;
    const link = joinLink(info.studentUrl, info.code);
    const qr = h('div', { class: 'dash-qr' });
    const svg = safeSvg(info.qrSvg);
    if (typeof svg === 'string') {
      qr.append(h('p', { class: 'dash-qr-missing' }, `The QR code is not shown: ${svg}.`));
    } else {
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', `QR code of ${link}`);
      qr.append(svg);
    }
    this.#summary = h('p', { class: 'dash-summary' });
    this.#chaptersBox = h('div', { class: 'dash-chapters' });
    this.#tableWrap = h('div', {
      class: 'dash-table-wrap',
      tabindex: '0',
      role: 'region',
      'aria-label': 'Progress of every student on every exercise',
    });
    this.#wrongBox = h('div', { class: 'dash-wrong' });

    const exportStatus = h('p', { class: 'dash-export-status', role: 'status' });
    const exportButton = (format: 'csv' | 'json') => {
      const button = h(
        'button',
        { type: 'button', class: 'cls-button cls-secondary', 'data-export': format },
        `Export ${format.toUpperCase()}`,
      );
      button.addEventListener('click', () => void this.#export(format, exportStatus, button));
      return button;
    };

    this.#main.replaceChildren(
      h(
        'section',
        { class: 'dash-top', 'aria-labelledby': 'dash-class-title' },
        h(
          'div',
          { class: 'dash-join' },
          h('h2', { id: 'dash-class-title', class: 'dash-class' }, info.name),
          h('p', { class: 'dash-code-label' }, 'Join code'),
          h(
            'p',
            { class: 'dash-code', 'aria-label': `Join code ${[...info.code].join(' ')}` },
            info.code,
          ),
          h(
            'p',
            { class: 'dash-url' },
            'Students open ',
            h('a', { href: link, class: 'dash-link' }, info.studentUrl),
            ' and type the code, or scan the QR code.',
          ),
          this.#summary,
        ),
        qr,
      ),
      h(
        'section',
        { class: 'dash-tools', 'aria-labelledby': 'dash-chapters-title' },
        h('h2', { id: 'dash-chapters-title' }, 'Chapters'),
        h(
          'p',
          { class: 'cls-help' },
          'A locked chapter’s exercises cannot be opened or answered by students until you open it.',
        ),
        this.#chaptersBox,
        h('h2', {}, 'Export results'),
        h(
          'p',
          { class: 'cls-help' },
          'One row per student and exercise: solved, wrong tries, answer shown, last answer and when.',
        ),
        h('div', { class: 'dash-actions' }, exportButton('csv'), exportButton('json')),
        exportStatus,
      ),
      h(
        'section',
        { class: 'dash-progress', 'aria-labelledby': 'dash-progress-title' },
        h('h2', { id: 'dash-progress-title' }, 'Progress'),
        this.#filters(state),
        h(
          'p',
          { class: 'cls-help dash-legend' },
          '✓ solved (with the number of wrong tries before), ✗ wrong tries so far, “shown”: the answer was revealed.',
        ),
        this.#tableWrap,
      ),
      h(
        'section',
        { class: 'dash-wrong-section', 'aria-labelledby': 'dash-wrong-title' },
        h('h2', { id: 'dash-wrong-title' }, 'Most common wrong answers'),
        this.#wrongBox,
      ),
    );
  }

  #filters(state: DashboardState): HTMLElement {
    const chapter = h('select', { id: 'dash-filter-chapter', class: 'cls-input' });
    this.#chapterSelect = chapter;
    chapter.append(h('option', { value: 'all' }, 'All chapters'));
    for (const { chapter: id, exercises } of chaptersWithExercises(state)) {
      chapter.append(h('option', { value: id }, `${this.#title(id)} (${exercises})`));
    }
    chapter.addEventListener('change', () => {
      this.#setFilter({ chapter: chapter.value as ChapterId | 'all' });
    });
    const name = h('input', {
      id: 'dash-filter-name',
      class: 'cls-input',
      type: 'search',
      autocomplete: 'off',
    });
    name.addEventListener('input', () => this.#setFilter({ name: name.value }));
    const online = h('input', { id: 'dash-filter-online', type: 'checkbox' });
    online.addEventListener('change', () => this.#setFilter({ onlineOnly: online.checked }));
    const sort = h(
      'select',
      { id: 'dash-sort', class: 'cls-input' },
      h('option', { value: 'joined' }, 'Order of joining'),
      h('option', { value: 'name' }, 'Name'),
      h('option', { value: 'solved' }, 'Most solved first'),
    );
    sort.addEventListener('change', () => {
      this.#setFilter({ sort: sort.value as TableFilter['sort'] });
    });
    return h(
      'div',
      { class: 'dash-filters' },
      h(
        'div',
        { class: 'cls-field' },
        h('label', { for: 'dash-filter-chapter' }, 'Chapter'),
        chapter,
      ),
      h(
        'div',
        { class: 'cls-field' },
        h('label', { for: 'dash-filter-name' }, 'Find a student'),
        name,
      ),
      h('div', { class: 'cls-field' }, h('label', { for: 'dash-sort' }, 'Sort'), sort),
      h(
        'div',
        { class: 'cls-check' },
        online,
        h('label', { for: 'dash-filter-online' }, 'Online students only'),
      ),
    );
  }

  #setFilter(change: Partial<TableFilter>): void {
    this.#filter = { ...this.#filter, ...change };
    if (this.#state !== null) {
      this.#drawTable(this.#state);
      this.#drawWrong(this.#state);
    }
  }

  #title(chapter: string): string {
    return this.#titles[chapter] ?? chapter;
  }

  #drawSummary(state: DashboardState): void {
    if (this.#summary === null) return;
    const total = state.students.size;
    this.#summary.textContent = `${total} ${total === 1 ? 'student' : 'students'} joined, ${onlineCount(state)} online.`;
  }

  #drawChapters(state: DashboardState): void {
    const box = this.#chaptersBox;
    if (box === null) return;
    const withExercises = new Set(chaptersWithExercises(state).map((c) => c.chapter));
    const list = h('ul', { class: 'dash-chapter-list' });
    for (const [chapter, chapterState] of Object.entries(state.chapters) as [
      ChapterId,
      ChapterState,
    ][]) {
      if (!withExercises.has(chapter) && this.#titles[chapter] === undefined) continue;
      const locked = chapterState === 'locked';
      const button = h(
        'button',
        {
          type: 'button',
          class: 'cls-button cls-secondary dash-chapter-toggle',
          'data-chapter': chapter,
          'aria-label': `${locked ? 'Open' : 'Lock'} ${this.#title(chapter)}`,
        },
        locked ? 'Open' : 'Lock',
      );
      button.addEventListener('click', () => {
        button.disabled = true;
        this.#send({ type: 'chapter', chapter, state: locked ? 'open' : 'locked' });
      });
      list.append(
        h(
          'li',
          { 'data-state': chapterState },
          h('span', { class: 'dash-chapter-name' }, this.#title(chapter)),
          h('span', { class: 'dash-chapter-state' }, locked ? 'locked' : 'open'),
          button,
        ),
      );
    }
    box.replaceChildren(list);
  }

  #drawTable(state: DashboardState): void {
    const wrap = this.#tableWrap;
    if (wrap === null) return;
    // Keep the select in step with the filter (a redraw after a reconnection rebuilds the table).
    if (this.#chapterSelect !== null && this.#chapterSelect.value !== this.#filter.chapter) {
      this.#chapterSelect.value = this.#filter.chapter;
    }
    this.#cells.clear();
    this.#counts.clear();
    this.#rows.clear();
    const exercises = visibleExercises(state, this.#filter);
    const students = visibleStudents(state, this.#filter);
    if (state.students.size === 0) {
      wrap.replaceChildren(
        h(
          'p',
          { class: 'dash-empty' },
          'No student has joined yet. They appear here as they join.',
        ),
      );
      return;
    }
    const head = h(
      'tr',
      {},
      h('th', { scope: 'col', class: 'dash-name-col' }, 'Student'),
      h('th', { scope: 'col', class: 'dash-solved-col' }, 'Solved'),
    );
    let previous: string | null = null;
    for (const exercise of exercises) {
      const counts = h('span', { class: 'dash-counts' });
      fillCounts(counts, exerciseCounts(state, exercise.id), state.students.size);
      this.#counts.set(exercise.id, counts);
      const first = exercise.chapter !== previous;
      previous = exercise.chapter;
      head.append(
        h(
          'th',
          {
            scope: 'col',
            class: first ? 'dash-ex-col dash-chapter-start' : 'dash-ex-col',
            'data-exercise': exercise.id,
          },
          // The chapter is named once, over its first exercise; a rule marks where each starts.
          first ? h('span', { class: 'dash-ex-chapter' }, this.#title(exercise.chapter)) : null,
          h('span', { class: 'dash-ex-title' }, exercise.title),
          counts,
        ),
      );
    }
    const body = h('tbody', {});
    for (const student of students) {
      const online = h('span', { class: 'dash-online' });
      fillOnline(online, student.online);
      const solved = h('td', { class: 'dash-solved-col' }, String(solvedBy(state, student.id)));
      const row = h(
        'tr',
        { 'data-student': student.id },
        h(
          'th',
          { scope: 'row', class: 'dash-name-col' },
          online,
          h('span', { class: 'dash-name' }, student.name),
        ),
        solved,
      );
      this.#rows.set(student.id, { online, solved });
      let prev: string | null = null;
      for (const exercise of exercises) {
        const key = resultKey(student.id, exercise.id);
        const cell = h('td', {
          class: exercise.chapter !== prev ? 'dash-cell dash-chapter-start' : 'dash-cell',
          'data-exercise': exercise.id,
        });
        prev = exercise.chapter;
        fillCell(cell, state.results.get(key));
        this.#cells.set(key, cell);
        row.append(cell);
      }
      body.append(row);
    }
    const shown =
      students.length === state.students.size
        ? `${students.length} students`
        : `${students.length} of ${state.students.size} students`;
    wrap.replaceChildren(
      h(
        'table',
        { class: 'dash-table' },
        h('caption', { class: 'cls-sr' }, `${shown} × ${exercises.length} exercises`),
        h('thead', {}, head),
        body,
      ),
    );
    if (students.length === 0) {
      wrap.append(h('p', { class: 'dash-empty' }, 'No student matches the filter.'));
    }
  }

  #drawWrong(state: DashboardState): void {
    const box = this.#wrongBox;
    if (box === null) return;
    const items: HTMLElement[] = [];
    for (const exercise of visibleExercises(state, this.#filter)) {
      const wrong = state.wrong.get(exercise.id) ?? [];
      if (wrong.length === 0) continue;
      items.push(
        h(
          'div',
          { class: 'dash-wrong-exercise', 'data-exercise': exercise.id },
          h('h3', {}, exercise.title),
          h(
            'ol',
            {},
            ...wrong.map((entry) =>
              h(
                'li',
                {},
                h(
                  'code',
                  { class: 'dash-wrong-answer' },
                  entry.answer === '' ? '(empty)' : entry.answer,
                ),
                h('span', { class: 'dash-wrong-count' }, ` ${entry.count}×`),
              ),
            ),
          ),
        ),
      );
    }
    box.replaceChildren(
      ...(items.length === 0
        ? [h('p', { class: 'dash-empty' }, 'No wrong answers yet in the exercises shown.')]
        : items),
    );
  }

  async #export(
    format: 'csv' | 'json',
    status: HTMLElement,
    button: HTMLButtonElement,
  ): Promise<void> {
    if (this.#token === null || this.#origin === null) return;
    button.disabled = true;
    status.textContent = `Preparing the ${format.toUpperCase()} export…`;
    try {
      const response = await fetch(`${this.#origin}/teacher/export.${format}`, {
        headers: { Authorization: `Bearer ${this.#token}` },
        cache: 'no-store',
      });
      if (!response.ok) {
        const text = (await response.text()).slice(0, 300);
        status.textContent = `The lab server answered ${response.status}: ${text}`;
        return;
      }
      const blob = await response.blob();
      const name = exportFileName(this.#state?.info.code ?? '', format, new Date());
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      status.textContent = `Saved ${name} (${blob.size} bytes).`;
    } catch (error) {
      status.textContent = `The export failed: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      button.disabled = false;
    }
  }
}

function mergeChanges(a: Changes, b: Changes): Changes {
  return {
    all: a.all || b.all,
    chapters: a.chapters || b.chapters,
    cells: [...new Set([...a.cells, ...b.cells])],
    students: [...new Set([...a.students, ...b.students])],
    exercises: [...new Set([...a.exercises, ...b.exercises])],
  };
}

function fillCell(cell: HTMLTableCellElement, result: Parameters<typeof cellOf>[0]): void {
  const shown = cellOf(result);
  const status: CellStatus = shown.status;
  cell.dataset.status = status;
  cell.textContent = shown.text;
  const last = result?.lastAnswer;
  cell.title =
    last === undefined || last === '' ? shown.label : `${shown.label}; last answer: ${last}`;
  if (shown.text !== '') cell.append(h('span', { class: 'cls-sr' }, ` (${shown.label})`));
}

function fillOnline(element: HTMLElement, online: boolean): void {
  element.dataset.online = String(online);
  element.textContent = online ? '●' : '○';
  element.title = online ? 'online' : 'offline';
  element.setAttribute('aria-label', online ? 'online' : 'offline');
  element.setAttribute('role', 'img');
}

function fillCounts(
  element: HTMLElement,
  counts: ReturnType<typeof exerciseCounts>,
  students: number,
): void {
  element.textContent = `${counts.solved}/${students} ✓`;
  const trying = counts.attempted - counts.solved;
  if (trying > 0) element.textContent += ` · ${trying} trying`;
  element.title = `${counts.solved} solved, ${trying} tried without solving, ${counts.revealed} saw the answer, of ${students} students`;
}

/** Parses the server's QR SVG and returns it if it is only shapes; else why not. */
function safeSvg(text: string): SVGSVGElement | string {
  if (typeof text !== 'string' || text.length > 500_000) return 'the SVG is missing or too large';
  const parsed = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = parsed.documentElement;
  if (parsed.getElementsByTagName('parsererror').length > 0) return 'the SVG does not parse';
  const problem = svgProblem(root);
  if (problem !== null) return problem;
  return document.importNode(root, true) as unknown as SVGSVGElement;
}

function codeText(text: string): (string | HTMLElement)[] {
  return text.split('`').map((part, i) => (i % 2 === 1 ? h('code', {}, part) : part));
}
