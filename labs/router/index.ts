/**
 * The router lab: compose a request, send it to the lab server on a fresh TCP connection through
 * its /raw relay, and see which of the lab server's handlers answered (the page, a WebSocket
 * endpoint, a refusal), step by step, from its real answer and its annotations. The logic is in
 * model.ts; this is the thin DOM view.
 */
import { generateKey } from '../../protocol/accept.ts';
import { renderEvent } from '../../protocol/render-text.ts';
import { parseObserverMessage } from '../shared/connection-events.ts';
import { h } from '../shared/dom.ts';
import {
  connectLabServer,
  DEFAULT_LAB_SERVER,
  labServerCandidates,
  renderUnavailable,
  unavailableMessage,
  webSocketUrl,
} from '../shared/lab-server.ts';
import {
  buildRequest,
  EXAMPLES,
  FOREIGN_HOST,
  FOREIGN_ORIGIN,
  type HostChoice,
  HTTP_STEPS,
  judge,
  type OriginChoice,
  type RequestChoices,
  RouterRun,
  type RunAction,
  takesUpgradePath,
  UPGRADE_STEPS,
} from './model.ts';

export interface RouterLabOptions {
  readonly labServer?: string;
  readonly headingLevel?: 2 | 3 | 4;
}

export interface MountedLab {
  dispose(): void;
}

let instances = 0;
/** Body text shown; the rest is counted. */
const BODY_SHOWN = 600;

export function mount(element: HTMLElement, options: RouterLabOptions = {}): MountedLab {
  const uid = `rt${++instances}`;
  const level = options.headingLevel ?? 3;
  const heading = level <= 2 ? 'h2' : level === 3 ? 'h3' : 'h4';
  const fallback = options.labServer ?? DEFAULT_LAB_SERVER;
  let disposed = false;
  let attempt: AbortController | null = null;
  let sockets: WebSocket[] = [];
  /** The lab server's origin once found; until then, the page's or the default. */
  let labOrigin = labServerCandidates(location, fallback)[0] ?? fallback;

  // ---- controls ----------------------------------------------------------------------------

  const id = (name: string) => `${uid}-${name}`;
  const method = h('input', {
    id: id('method'),
    class: 'rt-input rt-method',
    value: 'GET',
    spellcheck: 'false',
    autocomplete: 'off',
  });
  const path = h('input', {
    id: id('path'),
    class: 'rt-input rt-path',
    value: '/echo',
    spellcheck: 'false',
    autocomplete: 'off',
  });
  const check = (label: string, checked: boolean) => {
    const input = h('input', { type: 'checkbox', checked });
    return { input, label: h('label', { class: 'rt-check' }, input, ` ${label}`) };
  };
  const upgrade = check('Upgrade: websocket', true);
  const connection = check('Connection: Upgrade', true);
  const key = check('Sec-WebSocket-Key', true);
  const select = (name: string, items: readonly [string, string][]) =>
    h(
      'select',
      { id: id(name), class: 'rt-input' },
      ...items.map(([value, label]) => h('option', { value }, label)),
    );
  const version = select('version', [
    ['13', '13'],
    ['8', '8'],
    ['', '(none)'],
  ]);
  const origin = select('origin', [
    ['page', 'this page'],
    ['none', '(none, as a non-browser client)'],
    ['foreign', FOREIGN_ORIGIN],
  ]);
  const host = select('host', [
    ['server', 'the lab server'],
    ['foreign', FOREIGN_HOST],
  ]);
  const preview = h('pre', { class: 'rt-pre', id: id('preview'), 'aria-live': 'off' });
  const inputProblem = h('p', { class: 'rt-problem', role: 'alert' });
  const sendButton = h(
    'button',
    { type: 'button', class: 'rt-button rt-primary' },
    'Send on a new connection',
  );
  const exampleButtons = EXAMPLES.map((example) => {
    const button = h(
      'button',
      { type: 'button', class: 'lab-chip', 'data-example': example.id },
      example.label,
    );
    button.addEventListener('click', () => {
      setChoices(example.choices);
      void send();
    });
    return button;
  });

  // ---- results -----------------------------------------------------------------------------

  const status = h('p', { class: 'rt-status', role: 'status' });
  const missing = h('div', { class: 'rt-missing' });
  const verdictBox = h('div', { class: 'rt-verdict', 'aria-live': 'polite' });
  const steps = h('ol', { class: 'rt-steps' });
  const responseBox = h('pre', { class: 'rt-pre rt-response' });
  const notes = h('pre', { class: 'rt-pre rt-notes' });

  const labelled = (forId: string, text: string, control: HTMLElement) =>
    h('div', { class: 'rt-field' }, h('label', { for: forId }, text), control);

  const root = h(
    'div',
    { class: 'rt' },
    h(
      'section',
      { class: 'rt-panel', 'aria-labelledby': id('examples') },
      h(heading, { id: id('examples'), class: 'rt-heading' }, 'Send an example'),
      h(
        'p',
        { class: 'rt-note' },
        'Each button fills in the request below and sends it at once, on a new TCP connection to the lab server.',
      ),
      h(
        'div',
        { class: 'rt-chips', role: 'group', 'aria-label': 'Example requests' },
        ...exampleButtons,
      ),
    ),
    h(
      'section',
      { class: 'rt-panel', 'aria-labelledby': id('compose') },
      h(heading, { id: id('compose'), class: 'rt-heading' }, 'Or compose your own'),
      h(
        'div',
        { class: 'rt-row' },
        labelled(id('method'), 'Method', method),
        labelled(id('path'), 'Path', path),
      ),
      h(
        'fieldset',
        { class: 'rt-fieldset' },
        h('legend', {}, 'Headers'),
        upgrade.label,
        connection.label,
        key.label,
      ),
      h(
        'div',
        { class: 'rt-row' },
        labelled(id('version'), 'Sec-WebSocket-Version', version),
        labelled(id('origin'), 'Origin', origin),
        labelled(id('host'), 'Host', host),
      ),
      h('p', { class: 'rt-label', id: id('preview-label') }, 'The request, as it will be sent'),
      preview,
      inputProblem,
      h('div', { class: 'rt-buttons' }, sendButton),
    ),
    h('div', { class: 'rt-panel' }, status, missing),
    h(
      'section',
      { class: 'rt-panel', 'aria-labelledby': id('who') },
      h(heading, { id: id('who'), class: 'rt-heading' }, 'Who answered'),
      verdictBox,
      steps,
    ),
    h(
      'section',
      { class: 'rt-panel', 'aria-labelledby': id('answer') },
      h(heading, { id: id('answer'), class: 'rt-heading' }, 'The answer, as the server wrote it'),
      responseBox,
    ),
    h(
      'section',
      { class: 'rt-panel', 'aria-labelledby': id('notes') },
      h(heading, { id: id('notes'), class: 'rt-heading' }, 'What the lab server annotated'),
      h(
        'p',
        { class: 'rt-note' },
        'The lab server annotates the WebSocket side of a connection: a handshake request, its answer, frames, FINs. A plain HTTP request shows up only as the connection opening and closing.',
      ),
      notes,
    ),
  );
  element.replaceChildren(root);

  // ---- behaviour ---------------------------------------------------------------------------

  function choices(): RequestChoices {
    return {
      method: method.value,
      path: path.value,
      upgrade: upgrade.input.checked,
      connectionUpgrade: connection.input.checked,
      key: key.input.checked,
      version: version.value === '' ? null : version.value,
      origin: origin.value as OriginChoice,
      host: host.value as HostChoice,
    };
  }

  function setChoices(c: RequestChoices): void {
    method.value = c.method;
    path.value = c.path;
    upgrade.input.checked = c.upgrade;
    connection.input.checked = c.connectionUpgrade;
    key.input.checked = c.key;
    version.value = c.version ?? '';
    origin.value = c.origin;
    host.value = c.host;
    refresh();
  }

  /** The key shown in the preview is the one sent. */
  let currentKey = generateKey();

  function refresh(): ReturnType<typeof buildRequest> {
    const built = buildRequest(choices(), labOrigin, currentKey);
    if (built.ok) {
      preview.textContent = built.text.replace(/\r\n/g, '\n');
      inputProblem.textContent = '';
      path.removeAttribute('aria-invalid');
    } else {
      inputProblem.textContent = built.problem;
      path.setAttribute('aria-invalid', 'true');
    }
    sendButton.disabled = !built.ok;
    return built;
  }

  for (const control of [method, path, version, origin, host]) {
    control.addEventListener('input', () => refresh());
  }
  for (const c of [upgrade, connection, key]) c.input.addEventListener('change', () => refresh());
  sendButton.addEventListener('click', () => void send());

  function setStatus(text: string, kind: 'busy' | 'error' | 'done'): void {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  function closeSockets(): void {
    for (const socket of sockets) {
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)
        socket.close();
    }
    sockets = [];
  }

  function showSteps(request: RequestChoices, run: RouterRun): void {
    const upgradePath = takesUpgradePath(request);
    const list = upgradePath ? UPGRADE_STEPS : HTTP_STEPS;
    const answer = run.reader.answer;
    const verdict = answer === null ? null : judge(request, answer, run.events);
    const answeredAt = verdict === null ? -1 : list.findIndex((s) => s.id === verdict.step);
    steps.replaceChildren(
      ...list.map((step, i) => {
        const state =
          answeredAt === -1
            ? 'pending'
            : i < answeredAt
              ? 'passed'
              : i === answeredAt
                ? 'answered'
                : 'skipped';
        const mark = {
          pending: '',
          passed: 'passed',
          answered: 'answered',
          skipped: 'not reached',
        }[state];
        return h(
          'li',
          {
            class: 'rt-step',
            'data-state': state,
            'data-step': step.id,
            ...(state === 'answered' ? { 'aria-current': 'step' } : {}),
          },
          h('span', { class: 'rt-step-title' }, step.title),
          mark === '' ? null : h('span', { class: 'rt-step-mark' }, ` (${mark})`),
          h('span', { class: 'rt-step-does' }, step.does),
        );
      }),
    );
    if (verdict === null) {
      verdictBox.replaceChildren(
        run.reader.problem === null
          ? h('p', {}, 'Waiting for the answer…')
          : h(
              'p',
              { class: 'rt-problem' },
              `The server’s bytes are not an HTTP answer: ${run.reader.problem}`,
            ),
      );
      return;
    }
    verdictBox.replaceChildren(
      h(
        'p',
        { class: 'rt-route' },
        upgradePath
          ? 'Upgrade and Connection: Upgrade are both there, so the lab server answers this request itself, on the TCP socket, on its upgrade path.'
          : 'Without both Upgrade and Connection: Upgrade this is an ordinary request, and the lab server hands the connection to Node’s HTTP server.',
      ),
      h(
        'p',
        {
          class: 'rt-answered',
          'data-step': verdict.step,
          'data-status': answer?.head.status ?? '',
        },
        h('strong', {}, `Answered by: ${list[answeredAt]?.title ?? verdict.step}.`),
        ` ${verdict.explanation}`,
      ),
    );
  }

  function showResponse(run: RouterRun): void {
    const answer = run.reader.answer;
    if (answer === null) {
      responseBox.textContent = '';
      return;
    }
    const body = answer.body;
    const shown = body.length > BODY_SHOWN ? `${body.slice(0, BODY_SHOWN)}…` : body;
    const more =
      body.length > BODY_SHOWN || answer.bodyBytes > body.length
        ? `\n[${answer.bodyBytes} bytes of body in all; the first ${BODY_SHOWN} characters shown]`
        : '';
    responseBox.textContent = `${answer.headText.replace(/\r\n/g, '\n')}${shown}${more}`;
  }

  async function send(): Promise<void> {
    currentKey = generateKey();
    const built = refresh();
    if (!built.ok) return;
    const request = choices();
    attempt?.abort();
    closeSockets();
    const controller = new AbortController();
    attempt = controller;
    missing.replaceChildren();
    verdictBox.replaceChildren();
    steps.replaceChildren();
    responseBox.textContent = '';
    notes.textContent = '';
    setStatus('Looking for the lab server…', 'busy');
    const found = await connectLabServer('/raw', {
      candidates: labServerCandidates(location, fallback),
      signal: controller.signal,
    });
    if (disposed || controller.signal.aborted) {
      if (found.ok) found.connection.socket.close();
      return;
    }
    if (!found.ok) {
      setStatus('The lab server is not running.', 'error');
      missing.replaceChildren(
        renderUnavailable(unavailableMessage(found.tried, location, fallback), () => void send()),
      );
      return;
    }
    const { origin: serverOrigin, socket: relay } = found.connection;
    if (serverOrigin !== labOrigin) {
      // The Host and Origin must name the server that answers; rebuild for it.
      labOrigin = serverOrigin;
      refresh();
    }
    const rebuilt = buildRequest(request, labOrigin, currentKey);
    if (!rebuilt.ok) return;
    relay.binaryType = 'arraybuffer';
    sockets.push(relay);
    const run = new RouterRun(rebuilt.bytes, () => crypto.getRandomValues(new Uint8Array(4)));
    const current = () => attempt === controller && !disposed;
    setStatus('Relay open; waiting for the TCP connection…', 'busy');

    const perform = (actions: readonly RunAction[]) => {
      for (const action of actions) {
        if (action.type === 'send') {
          if (relay.readyState === WebSocket.OPEN) relay.send(action.bytes);
        } else if (action.type === 'end') {
          if (relay.readyState === WebSocket.OPEN) relay.send('end');
        } else if (action.type === 'observe') {
          const observer = new WebSocket(webSocketUrl(serverOrigin, `/observe?id=${action.conn}`));
          sockets.push(observer);
          observer.onmessage = (message) => {
            if (!current()) return;
            const parsed = parseObserverMessage(message.data);
            if (parsed === null) return;
            if (parsed.type === 'snapshot') perform(run.observerReady());
            else perform(run.event(parsed));
          };
        } else {
          update();
        }
      }
    };
    const update = () => {
      showSteps(request, run);
      showResponse(run);
      notes.textContent = run.events
        .flatMap((event) => renderEvent(event, { color: false, verbosity: 'normal' }))
        .join('\n');
      const conn = run.conn === null ? '' : ` ${run.conn}`;
      if (run.phase === 'sent')
        setStatus(`Request sent on connection${conn}; waiting for the answer…`, 'busy');
      else if (run.phase === 'answered')
        setStatus(`Answered on connection${conn}; closing it…`, 'busy');
      else if (run.phase === 'closed') setStatus(`Connection${conn} is closed.`, 'done');
      if (run.settled) {
        for (const socket of sockets) if (socket !== relay) socket.close();
      }
    };
    relay.onmessage = (message) => {
      if (!current()) return;
      if (typeof message.data === 'string') perform(run.relayStatus(message.data));
      else perform(run.relayBytes(new Uint8Array(message.data as ArrayBuffer)));
    };
    relay.onclose = () => {
      if (current()) perform(run.relayClosed());
    };
  }

  refresh();

  return {
    dispose() {
      disposed = true;
      attempt?.abort();
      closeSockets();
      element.replaceChildren();
    },
  };
}
