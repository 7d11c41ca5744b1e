/**
 * The checker page: the learner names their server's URL, the lab server's /check endpoint runs
 * the checker against it (a browser's own WebSocket cannot send the broken frames the checks
 * need), and this view shows each stage as it finishes and, at the first failure, the same
 * annotated report the terminal shows. Logic lives in model.ts; this is the thin view.
 */
import { h } from '../shared/dom.ts';
import { connectLabServer, renderUnavailable, unavailableMessage } from '../shared/lab-server.ts';
import {
  type CheckerState,
  INITIAL,
  readUrl,
  reduce,
  STAGE_TITLES,
  statusLabel,
  wireText,
} from './model.ts';

export interface CheckerOptions {
  /** The URL filled in at first. */
  readonly initialUrl?: string;
  readonly headingLevel?: 2 | 3 | 4;
}

export interface MountedLab {
  dispose(): void;
}

let instances = 0;

const ICONS: Readonly<Record<string, string>> = {
  waiting: '·',
  running: '…',
  pass: '✓',
  fail: '✗',
  skipped: '–',
  'not-run': '–',
};

export function mount(element: HTMLElement, options: CheckerOptions = {}): MountedLab {
  const id = `checker-${++instances}`;
  const heading = `h${options.headingLevel ?? 3}` as 'h3';
  let state: CheckerState = INITIAL;
  let socket: WebSocket | null = null;
  let disposed = false;
  const abort = new AbortController();

  const input = h('input', {
    id: `${id}-url`,
    class: 'ck-url',
    type: 'text',
    inputmode: 'url',
    spellcheck: 'false',
    autocomplete: 'off',
    value: options.initialUrl ?? 'ws://127.0.0.1:8080/',
    'aria-describedby': `${id}-url-note`,
  });
  const stageSelect = h(
    'select',
    { id: `${id}-stage`, class: 'ck-select' },
    ...STAGE_TITLES.map((title, i) => h('option', { value: String(i + 1) }, `${i + 1}. ${title}`)),
  );
  const run = h('button', { type: 'submit', class: 'ck-run' }, 'Run the checks');
  const inputError = h('p', { class: 'ck-error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'ck-form' },
    h('label', { for: input.id, class: 'ck-label' }, 'Your server’s WebSocket URL'),
    input,
    h(
      'p',
      { id: `${id}-url-note`, class: 'ck-note' },
      'A server on this machine only (127.0.0.1, [::1] or localhost). The lab server connects to it and runs every check; for any other host use pnpm lab check <url> in a terminal.',
    ),
    h('label', { for: stageSelect.id, class: 'ck-label' }, 'Start at stage'),
    stageSelect,
    h('div', { class: 'ck-bar' }, run),
    inputError,
  );
  const status = h('p', { class: 'ck-status', role: 'status', 'aria-live': 'polite' });
  const stages = h('ol', { class: 'ck-stages', 'aria-label': 'Stages' });
  const failure = h('section', {
    class: 'ck-failure',
    hidden: true,
    'aria-labelledby': `${id}-failure`,
  });
  const unavailable = h('div', { class: 'ck-unavailable' });
  const root = h('div', { class: 'ck' }, form, unavailable, status, stages, failure);
  element.replaceChildren(root);

  function draw() {
    status.textContent = state.phase === 'running' ? `Checking ${state.url}…` : state.message;
    status.dataset.phase = state.phase;
    if (state.ok !== null) status.dataset.ok = String(state.ok);
    else delete status.dataset.ok;
    run.disabled = state.phase === 'running';
    stages.replaceChildren(
      ...state.stages.map((stage) =>
        h(
          'li',
          { class: 'ck-stage', 'data-status': stage.status },
          h('span', { class: 'ck-icon', 'aria-hidden': 'true' }, ICONS[stage.status] ?? ''),
          h('span', { class: 'ck-stage-title' }, `${stage.n}. ${stage.title}`),
          h('span', { class: 'ck-stage-status' }, statusLabel(stage)),
        ),
      ),
    );
    const f = state.failure;
    failure.hidden = f === null;
    if (f === null) {
      failure.replaceChildren();
      return;
    }
    const wire = wireText(state.text);
    failure.replaceChildren(
      h(
        heading,
        { id: `${id}-failure`, class: 'ck-heading' },
        `Stage ${f.stage} failed: ${f.checkTitle}`,
      ),
      h(
        'dl',
        { class: 'ck-facts' },
        h('div', {}, h('dt', {}, 'Rule'), h('dd', {}, h('code', {}, f.rule), ` · ${f.section}`)),
        h('div', {}, h('dt', {}, 'What happened'), h('dd', {}, f.explanation)),
        h('div', {}, h('dt', {}, 'What to change'), h('dd', {}, f.hint)),
      ),
      ...(wire === ''
        ? []
        : [
            h(
              'p',
              { class: 'ck-label' },
              'What crossed the wire (C→S: the checker, S→C: your server)',
            ),
            h(
              'pre',
              {
                class: 'ck-wire',
                tabindex: '0',
                'aria-label': 'Bytes sent and received, annotated',
              },
              wire,
            ),
          ]),
      h(
        'p',
        { class: 'ck-note' },
        `Fix it, then start again at stage ${f.stage}; on the command line: pnpm lab check ${state.url} --stage ${f.stage}`,
      ),
    );
  }

  async function ensureSocket(): Promise<WebSocket | null> {
    if (socket !== null && socket.readyState === WebSocket.OPEN) return socket;
    const result = await connectLabServer('/check', { signal: abort.signal });
    if (disposed) return null;
    if (!result.ok) {
      unavailable.replaceChildren(
        renderUnavailable(unavailableMessage(result.tried, location), () => {
          unavailable.replaceChildren();
          void start();
        }),
      );
      return null;
    }
    unavailable.replaceChildren();
    socket = result.connection.socket;
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      state = reduce(state, message);
      draw();
    });
    socket.addEventListener('close', () => {
      socket = null;
      if (state.phase === 'running') {
        state = {
          ...state,
          phase: 'refused',
          message:
            'The lab server closed the connection before the report arrived. Is pnpm lab still running?',
        };
        draw();
      }
    });
    return socket;
  }

  async function start() {
    const chosen = readUrl(input.value);
    if ('error' in chosen) {
      inputError.textContent = chosen.error;
      inputError.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    inputError.hidden = true;
    input.removeAttribute('aria-invalid');
    run.disabled = true;
    const open = await ensureSocket();
    run.disabled = false;
    if (open === null) return;
    open.send(JSON.stringify({ type: 'run', url: chosen.url, stage: Number(stageSelect.value) }));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void start();
  });
  draw();

  return {
    dispose() {
      disposed = true;
      abort.abort();
      socket?.close();
      element.replaceChildren();
    },
  };
}
