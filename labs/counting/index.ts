/**
 * The connection-counting lab's view: a number, one button, and a table of what the lab server
 * counted for N fetches on fresh connections, N fetches on one kept-alive connection and N
 * messages on one WebSocket. The logic is model.ts.
 */
import { h } from '../shared/dom.ts';
import { renderUnavailable, unavailableMessage } from '../shared/lab-server.ts';
import {
  compare,
  DEFAULT_COUNT,
  discover,
  httpsVersion,
  type LabPorts,
  MAX_COUNT,
  MIN_COUNT,
  parseCount,
  RunError,
  runStrategy,
  type Strategy,
  type StrategyResult,
  summary,
  type Transport,
} from './model.ts';

export interface Mounted {
  dispose(): void;
}

const HEADINGS: Readonly<Record<Strategy, string>> = {
  fresh: 'N fetches, Connection: close',
  kept: 'N fetches, kept alive',
  websocket: 'N messages, one WebSocket',
};

const DOING: Readonly<Record<Strategy, string>> = {
  fresh: 'fetches, each on a new connection',
  kept: 'fetches on one kept-alive connection',
  websocket: 'messages on one WebSocket',
};

let counter = 0;

export function mount(element: HTMLElement): Mounted {
  const uid = `cnt${++counter}`;
  const transport: Transport = {
    origin: location.origin,
    fetch: (url, init) => fetch(url, init),
    openWebSocket: (url) => new WebSocket(url),
    now: () => performance.now(),
  };

  const input = h('input', {
    id: `${uid}-n`,
    class: 'cnt-input',
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'off',
    'aria-describedby': `${uid}-n-help ${uid}-n-error`,
  });
  input.value = String(DEFAULT_COUNT);
  const run = h('button', { type: 'submit', class: 'cnt-run' }, 'Run all three');
  const error = h('p', { class: 'cnt-error', id: `${uid}-n-error`, role: 'alert' });
  const form = h(
    'form',
    { class: 'cnt-form' },
    h('label', { for: `${uid}-n`, class: 'cnt-label' }, 'N, the number of requests or messages'),
    h('div', { class: 'cnt-row' }, input, run),
    h(
      'p',
      { class: 'cnt-help', id: `${uid}-n-help` },
      `From ${MIN_COUNT} to ${MAX_COUNT}. The page sends N fetches answered with Connection: close, then N fetches on a kept-alive connection, then N messages on one WebSocket to /echo, one after another, and asks the lab server what it counted.`,
    ),
    error,
  );
  const where = h('div', { class: 'cnt-where' });
  const status = h('p', { class: 'cnt-status', role: 'status', 'aria-live': 'polite' });
  const table = h('div', { class: 'cnt-results' });
  const missing = h('div', { class: 'cnt-missing' });
  element.replaceChildren(h('div', { class: 'cnt' }, form, missing, where, status, table));

  let ports: LabPorts | null = null;
  let disposed = false;
  let busy = false;

  const showMissing = () => {
    const lab = `${location.origin}/lab.json`;
    const message = unavailableMessage([lab], location);
    missing.replaceChildren(
      renderUnavailable(
        {
          title: message.title,
          details: [
            `Asked ${lab}: no lab server answered.`,
            'This lab counts the connections, TLS handshakes and requests that the lab server on your own machine sees, so the lab server must serve this page: open it from `pnpm lab` (http://127.0.0.1:6455/ by default).',
          ],
        },
        () => void find(),
      ),
    );
  };

  const showWhere = () => {
    if (ports === null) return where.replaceChildren();
    const secure = location.protocol === 'https:';
    const other = httpsVersion(location, ports);
    where.replaceChildren(
      h(
        'p',
        {},
        secure
          ? `This page came over https:// (TLS port ${location.port || '443'}), so every new connection also costs a TLS handshake, and the server counts them.`
          : 'This page came over http://, so no connection makes a TLS handshake.',
        ' ',
        other === null ? '' : h('a', { href: other }, 'Open this page over https://'),
        other === null
          ? ''
          : ' to count TLS handshakes too (the browser warns about the lab’s self-signed certificate until you trust it).',
      ),
    );
  };

  async function find(): Promise<boolean> {
    try {
      ports = await discover(transport);
    } catch {
      ports = null;
    }
    if (disposed) return false;
    if (ports === null) showMissing();
    else missing.replaceChildren();
    showWhere();
    return ports !== null;
  }

  const results: Partial<Record<Strategy, StrategyResult>> = {};

  const draw = (n: number) => {
    const rows = compare(results);
    const head = h(
      'tr',
      {},
      h('th', { scope: 'col' }, 'Counted by the lab server'),
      ...(['fresh', 'kept', 'websocket'] as const).map((s) =>
        h('th', { scope: 'col' }, HEADINGS[s].replace('N ', `${n} `)),
      ),
    );
    const body = rows.map((row) => {
      const max = row.numbers === null ? 0 : Math.max(...Object.values(row.numbers));
      return h(
        'tr',
        { 'data-row': row.key },
        h(
          'th',
          { scope: 'row' },
          h('span', { class: 'cnt-quantity' }, row.label),
          h('span', { class: 'cnt-note' }, row.note),
        ),
        ...(['fresh', 'kept', 'websocket'] as const).map((s) => {
          const bar =
            row.numbers === null || row.numbers[s] === 0
              ? null
              : h('span', {
                  class: 'cnt-bar',
                  'aria-hidden': 'true',
                  style: `--cnt-share: ${(row.numbers[s] / max).toFixed(3)}`,
                });
          return h(
            'td',
            { 'data-strategy': s, 'data-label': HEADINGS[s].replace('N ', `${n} `) },
            h('span', { class: 'cnt-value' }, row.values[s]),
            bar,
          );
        }),
      );
    });
    const sentences = (['fresh', 'kept', 'websocket'] as const)
      .filter((s) => results[s] !== undefined)
      .map((s) => h('li', {}, summary(results[s] as StrategyResult)));
    table.replaceChildren(
      h(
        'div',
        {
          class: 'cnt-scroll',
          tabindex: '0',
          role: 'region',
          'aria-labelledby': `${uid}-caption`,
        },
        h(
          'table',
          { class: 'cnt-table' },
          h('caption', { id: `${uid}-caption` }, `What the lab server counted, N = ${n}`),
          h('thead', {}, head),
          h('tbody', {}, ...body),
        ),
      ),
      sentences.length === 0 ? '' : h('ul', { class: 'cnt-summary' }, ...sentences),
    );
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    const parsed = parseCount(input.value);
    if (!parsed.ok) {
      input.setAttribute('aria-invalid', 'true');
      error.textContent = parsed.error;
      return;
    }
    input.removeAttribute('aria-invalid');
    error.textContent = '';
    void start(parsed.n);
  });

  async function start(n: number): Promise<void> {
    busy = true;
    run.disabled = true;
    try {
      if (ports === null && !(await find())) {
        status.textContent = '';
        return;
      }
      for (const key of Object.keys(results) as Strategy[]) delete results[key];
      draw(n);
      const strategies = ['fresh', 'kept', 'websocket'] as const;
      for (const [i, strategy] of strategies.entries()) {
        status.textContent = `Running ${n} ${DOING[strategy]} (${i + 1} of 3)…`;
        results[strategy] = await runStrategy(transport, strategy, n);
        if (disposed) return;
        draw(n);
      }
      status.textContent = `Done: ${n} of each, as the lab server counted them.`;
    } catch (problem) {
      status.textContent =
        problem instanceof RunError
          ? problem.message
          : `The run failed: ${(problem as Error).message}. Is the lab server still running?`;
    } finally {
      busy = false;
      run.disabled = false;
    }
  }

  void find();

  return {
    dispose() {
      disposed = true;
      element.replaceChildren();
    },
  };
}
