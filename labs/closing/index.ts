/**
 * The close timeline lab: the learner picks who sends the first close frame and who sends the
 * first FIN, the page opens a real WebSocket to the lab server's /echo with those options, and
 * the lab server's annotations of that connection (from /observe) are drawn on two lanes. The
 * logic is in model.ts; this file is the thin view.
 */
import type { LabEvent, Side } from '../../protocol/annotations.ts';
import { ConnectionEvents, newTag, parseObserverMessage } from '../shared/connection-events.ts';
import { h } from '../shared/dom.ts';
import {
  connectLabServer,
  renderUnavailable,
  unavailableMessage,
  webSocketUrl,
} from '../shared/lab-server.ts';
import {
  buildTimeline,
  type ClosingChoice,
  DEFAULT_CHOICE,
  describeOutcome,
  FIRST_MESSAGE,
  planRun,
  type Timeline,
} from './model.ts';

export interface MountOptions {
  readonly headingLevel?: 2 | 3 | 4;
}

export interface Mounted {
  dispose(): void;
}

/** Longest a run may take: ws's own close timer ends a held connection after 30 s. */
const RUN_TIMEOUT_MS = 40_000;

let counter = 0;

interface BrowserClose {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** From the page's close() call, or from the server's close frame's arrival as seen by the page. */
  readonly ms: number;
  readonly since: string;
}

export function mount(element: HTMLElement, options: MountOptions = {}): Mounted {
  const uid = `ct${++counter}`;
  const level = options.headingLevel ?? 3;
  let abort: AbortController | null = null;
  let disposed = false;

  const radios = (
    name: string,
    legend: string,
    items: readonly { value: Side; label: string; note: string }[],
    initial: Side,
  ) => {
    const inputs = items.map((item) =>
      h('input', {
        type: 'radio',
        name: `${uid}-${name}`,
        value: item.value,
        checked: item.value === initial,
        'aria-describedby': `${uid}-${name}-${item.value}`,
      }),
    );
    const fieldset = h(
      'fieldset',
      { class: 'ct-fieldset' },
      h('legend', {}, legend),
      ...items.map((item, i) =>
        h(
          'div',
          { class: 'ct-choice' },
          h('label', {}, inputs[i] as HTMLInputElement, ` ${item.label}`),
          h('p', { class: 'ct-note', id: `${uid}-${name}-${item.value}` }, item.note),
        ),
      ),
    );
    const value = (): Side =>
      inputs.find((i) => i.checked)?.value === 'server' ? 'server' : 'client';
    return { fieldset, value };
  };

  const closeFrame = radios(
    'frame',
    'Who sends the first close frame?',
    [
      {
        value: 'client',
        label: 'Your browser (the client)',
        note: 'After the echo of its first message, this page calls close(code, reason).',
      },
      {
        value: 'server',
        label: 'The lab server',
        note: 'The page asks for /echo?close=server&after=1: the server closes after one echo.',
      },
    ],
    DEFAULT_CHOICE.closeFrame,
  );
  const fin = radios(
    'fin',
    'Who sends the first FIN?',
    [
      {
        value: 'server',
        label: 'The server, right after the closing handshake',
        note: 'What RFC 6455 §7.1.1 asks of a server, and what /echo does by default.',
      },
      {
        value: 'client',
        label: 'The client: the server waits for it',
        note: "/echo?fin=client: the server holds its FIN until the browser's arrives.",
      },
    ],
    DEFAULT_CHOICE.fin,
  );

  const codeInput = h('input', {
    id: `${uid}-code`,
    class: 'ct-input ct-code',
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'off',
    value: DEFAULT_CHOICE.code,
    'aria-describedby': `${uid}-error`,
  });
  const reasonInput = h('input', {
    id: `${uid}-reason`,
    class: 'ct-input',
    type: 'text',
    autocomplete: 'off',
    value: DEFAULT_CHOICE.reason,
    'aria-describedby': `${uid}-error`,
  });
  const error = h('p', { class: 'ct-error', id: `${uid}-error`, 'aria-live': 'polite' });
  const runButton = h(
    'button',
    { type: 'button', class: 'ct-button ct-primary' },
    'Open, echo, close',
  );
  const status = h('p', { class: 'ct-status', role: 'status' });
  const missing = h('div', { class: 'ct-missing-box' });
  const heading = h(
    `h${level}` as 'h3',
    { class: 'ct-heading', id: `${uid}-timeline` },
    'Timeline of your connection',
  );
  const tableBody = h('tbody', {});
  const table = h(
    'table',
    { class: 'ct-table', 'aria-labelledby': `${uid}-timeline` },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col', class: 'ct-time' }, 'ms'),
        h('th', { scope: 'col' }, 'Client (your browser)'),
        h('th', { scope: 'col' }, 'Server (the lab server)'),
      ),
    ),
    tableBody,
  );
  const tableWrap = h(
    'div',
    { class: 'ct-table-wrap', hidden: true },
    h(
      'p',
      { class: 'ct-note' },
      'Times are milliseconds after the lab server accepted the TCP connection, as the server saw each event: what the client sent when it arrived, what the server sent when it left.',
    ),
    table,
  );
  const outcome = h(
    'div',
    { class: 'ct-outcome', 'aria-live': 'polite' },
    h('p', { class: 'ct-note' }, 'No run yet: pick an order and press "Open, echo, close".'),
  );

  const readChoice = (): ClosingChoice => ({
    closeFrame: closeFrame.value(),
    fin: fin.value(),
    code: codeInput.value,
    reason: reasonInput.value,
  });

  const render = (timeline: Timeline, browser: BrowserClose | null, finished: string | null) => {
    tableWrap.hidden = timeline.rows.length === 0;
    tableBody.replaceChildren(
      ...timeline.rows.map((row) => {
        const text = h(
          'span',
          { class: 'ct-event' },
          row.lane === 'client' ? '' : '← ',
          row.first ? h('strong', { class: 'ct-first' }, 'first ') : '',
          row.text,
          row.lane === 'client' ? ' →' : '',
        );
        return h(
          'tr',
          {
            class: `ct-row ct-${row.kind}${row.first ? ' ct-is-first' : ''}`,
            'data-lane': row.lane,
          },
          h('td', { class: 'ct-time' }, row.t.toFixed(1)),
          h('td', { class: 'ct-lane ct-client' }, row.lane === 'client' ? text : ''),
          h('td', { class: 'ct-lane ct-server' }, row.lane === 'server' ? text : ''),
        );
      }),
    );
    const lines: HTMLElement[] = [];
    if (timeline.summary !== null) {
      lines.push(
        h('p', { class: 'ct-summary' }, h('strong', {}, 'Lab server: '), timeline.summary),
      );
    }
    for (const line of describeOutcome(timeline)) lines.push(h('p', {}, line));
    if (timeline.gaps.length > 0) {
      lines.push(
        h(
          'ul',
          { class: 'ct-gaps' },
          ...timeline.gaps.map((gap) => h('li', {}, `${gap.label}: ${gap.ms.toFixed(1)} ms`)),
        ),
      );
    }
    if (browser !== null) {
      lines.push(
        h(
          'p',
          { class: 'ct-browser' },
          h('strong', {}, 'Your browser: '),
          `close event with code ${browser.code}${browser.reason === '' ? '' : ` and reason "${browser.reason}"`}, wasClean ${browser.wasClean}, ${Math.round(browser.ms)} ms ${browser.since}.`,
        ),
      );
    }
    if (finished !== null) lines.push(h('p', { class: 'ct-note' }, finished));
    outcome.replaceChildren(...lines);
  };

  const run = async () => {
    error.textContent = '';
    codeInput.removeAttribute('aria-invalid');
    reasonInput.removeAttribute('aria-invalid');
    const tag = newTag();
    const plan = planRun(readChoice(), tag);
    if (!plan.ok) {
      error.textContent = plan.message;
      const field = plan.field === 'code' ? codeInput : reasonInput;
      field.setAttribute('aria-invalid', 'true');
      field.focus();
      return;
    }
    abort?.abort();
    const controller = new AbortController();
    abort = controller;
    const signal = controller.signal;
    missing.replaceChildren();
    runButton.disabled = true;
    status.textContent = 'Connecting to the lab server…';
    const observe = await connectLabServer('/observe', { signal });
    if (signal.aborted || disposed) {
      if (observe.ok) observe.connection.socket.close(1000);
      return;
    }
    if (!observe.ok) {
      runButton.disabled = false;
      status.textContent = 'The lab server is not running.';
      missing.replaceChildren(
        renderUnavailable(
          unavailableMessage(observe.tried, location),
          () => void run(),
          'ct-missing',
        ),
      );
      return;
    }
    const observer = observe.connection.socket;
    const url = webSocketUrl(observe.connection.origin, plan.path);
    const events = new ConnectionEvents(tag);
    const mine: LabEvent[] = [];
    let socket: WebSocket | null = null;
    let browser: BrowserClose | null = null;
    let closeCalledAt: number | null = null;
    let openedAt = 0;
    let done = false;
    const finish = (note: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      observer.close(1000);
      if (socket !== null && socket.readyState <= WebSocket.OPEN) socket.close(1000);
      runButton.disabled = false;
      if (!disposed) {
        status.textContent = note ?? 'Done: the lab server saw the socket close.';
        render(buildTimeline(mine), browser, note);
      }
    };
    const timer = setTimeout(
      () =>
        finish(
          `The lab server did not report the end of the connection within ${RUN_TIMEOUT_MS / 1000} s.`,
        ),
      RUN_TIMEOUT_MS,
    );
    signal.addEventListener('abort', () => finish(null));
    status.textContent = `Opening ${url}…`;
    observer.addEventListener('message', (message: MessageEvent<unknown>) => {
      const read = parseObserverMessage(message.data);
      if (read === null || done) return;
      if (read.type === 'snapshot') {
        if (socket === null) socket = openEcho(url);
        return;
      }
      const shown = events.fromWide(read);
      if (shown.length === 0) return;
      mine.push(...shown.filter((e) => e.type !== 'dropped'));
      const timeline = buildTimeline(mine);
      render(timeline, browser, null);
      if (timeline.done) finish(null);
    });
    observer.addEventListener('close', () => {
      if (!done)
        finish('The observer connection closed before the run ended. Is `pnpm lab` still running?');
    });

    const openEcho = (target: string): WebSocket => {
      const ws = new WebSocket(target);
      ws.addEventListener('open', () => {
        openedAt = performance.now();
        status.textContent = `Connected: sending "${FIRST_MESSAGE}"…`;
        ws.send(FIRST_MESSAGE);
      });
      ws.addEventListener('message', () => {
        if (plan.clientClose === null) {
          status.textContent = 'Echo received; waiting for the lab server to close…';
          return;
        }
        closeCalledAt = performance.now();
        status.textContent = `Echo received; calling close(${plan.clientClose.code}${plan.clientClose.reason === '' ? '' : `, "${plan.clientClose.reason}"`})…`;
        ws.close(plan.clientClose.code, plan.clientClose.reason);
      });
      ws.addEventListener('close', (event) => {
        const from = closeCalledAt ?? openedAt;
        browser = {
          code: event.code,
          reason: event.reason,
          wasClean: event.wasClean,
          ms: performance.now() - from,
          since:
            closeCalledAt === null
              ? 'after the connection opened'
              : 'after this page called close()',
        };
        if (!done) {
          status.textContent =
            'Your browser reports the connection closed; waiting for the lab server’s last events…';
          render(buildTimeline(mine), browser, null);
        }
      });
      return ws;
    };
  };

  runButton.addEventListener('click', () => void run());
  for (const input of [codeInput, reasonInput]) {
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') void run();
    });
  }

  element.replaceChildren(
    h(
      'div',
      { class: 'ct' },
      h(
        'div',
        { class: 'ct-panel' },
        h('div', { class: 'ct-fieldsets' }, closeFrame.fieldset, fin.fieldset),
        h(
          'div',
          { class: 'ct-fields' },
          h(
            'div',
            { class: 'ct-field' },
            h('label', { for: `${uid}-code` }, 'Status code of the first close frame'),
            codeInput,
          ),
          h(
            'div',
            { class: 'ct-field ct-field-wide' },
            h('label', { for: `${uid}-reason` }, 'Reason (UTF-8, at most 123 bytes)'),
            reasonInput,
          ),
        ),
        error,
        h('div', { class: 'ct-actions' }, runButton),
        h(
          'p',
          { class: 'ct-note' },
          'A page cannot make its browser send a FIN: the WebSocket API has only close(). After the closing handshake the browser waits for the server to end TCP, and only ends it itself when the server does not (Chromium waits about 2 seconds).',
        ),
        status,
        missing,
      ),
      heading,
      tableWrap,
      outcome,
    ),
  );
  return {
    dispose() {
      disposed = true;
      abort?.abort();
      element.replaceChildren();
    },
  };
}
