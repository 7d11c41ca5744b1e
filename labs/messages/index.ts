/**
 * The messages lab: compose a sequence of frames, see their bytes and how a receiver assembles
 * them step by step, then send them to the lab server through /raw and read its answer and its
 * annotations. The thin view: the logic is in model.ts and relay.ts.
 */
import { generateKey } from '../../protocol/accept.ts';
import { toHex } from '../../protocol/frame-parser.ts';
import { renderEvent } from '../../protocol/render-text.ts';
import { parseObserverMessage } from '../console/model.ts';
import { withClassTag } from '../shared/class-tag.ts';
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
  type Assembly,
  assemble,
  compareWithPrediction,
  describeAnswer,
  type Encoded,
  type ExpectedReply,
  encodeDrafts,
  FRAME_KINDS,
  type FrameDraft,
  type FrameKind,
  MAX_FRAMES,
  type PayloadFormat,
  SCENARIOS,
  serverAnswers,
  showPayload,
} from './model.ts';
import { LabRun, type RunAction } from './relay.ts';

export interface MessagesLabOptions {
  /** Where to look for the lab server when the page does not come from it. */
  readonly labServer?: string;
  readonly headingLevel?: 2 | 3 | 4;
  /** Scenario to start with (an id from SCENARIOS). */
  readonly scenario?: string;
}

export interface MountedLab {
  dispose(): void;
}

interface Row {
  readonly id: number;
  draft: FrameDraft;
  /** Each frame keeps its masking key while it is edited, so the bytes shown are the bytes sent. */
  key: Uint8Array;
}

let instances = 0;

const newKey = () => crypto.getRandomValues(new Uint8Array(4));

export function mount(element: HTMLElement, options: MessagesLabOptions = {}): MountedLab {
  const uid = `ml${++instances}`;
  const level = options.headingLevel ?? 3;
  const heading = level <= 2 ? 'h2' : level === 3 ? 'h3' : 'h4';
  const fallback = options.labServer ?? DEFAULT_LAB_SERVER;
  let nextId = 0;
  let rows: Row[] = [];
  let encoded: Encoded = { ok: false, errors: [] };
  let disposed = false;
  let sockets: WebSocket[] = [];
  let attempt: AbortController | null = null;

  const scenarioNote = h('p', { class: 'ml-note', id: `${uid}-scenario-note` });
  const list = h('ol', { class: 'ml-rows', 'aria-label': 'Frames to send, in order' });
  const addButton = h('button', { type: 'button', class: 'ml-button' }, 'Add frame');
  const composeErrors = h('div', { class: 'ml-errors', 'aria-live': 'polite' });
  const wire = h('ol', { class: 'ml-wire' });
  const steps = h('ol', { class: 'ml-steps' });
  const prediction = h('ul', { class: 'ml-list' });
  const sendButton = h(
    'button',
    { type: 'button', class: 'ml-button ml-primary' },
    'Send to the lab server',
  );
  const status = h(
    'p',
    { class: 'ml-status', role: 'status', id: `${uid}-status` },
    'Not sent yet.',
  );
  const missing = h('div', { class: 'ml-missing' });
  const answers = h('ul', { class: 'ml-list ml-answers', 'aria-live': 'polite' });
  const agreement = h('p', { class: 'ml-agreement', 'aria-live': 'polite' });
  let predicted: readonly ExpectedReply[] = [];
  let sentFrames = 0;
  const log = h('pre', {
    class: 'ml-log',
    role: 'region',
    tabindex: 0,
    'aria-label': 'Annotations of this connection, from the lab server',
  });

  const scenarioButtons = SCENARIOS.map((scenario) => {
    const button = h(
      'button',
      { type: 'button', class: 'lab-chip', 'aria-pressed': 'false', 'data-scenario': scenario.id },
      scenario.label,
    );
    button.addEventListener('click', () => loadScenario(scenario.id));
    return button;
  });

  const root = h(
    'div',
    { class: 'ml' },
    h(
      'section',
      { class: 'ml-panel', 'aria-labelledby': `${uid}-compose` },
      h(heading, { id: `${uid}-compose`, class: 'ml-heading' }, 'Compose a sequence of frames'),
      h(
        'div',
        { class: 'ml-chips', role: 'group', 'aria-label': 'Example sequences' },
        h('span', { class: 'ml-note' }, 'Start from:'),
        ...scenarioButtons,
      ),
      scenarioNote,
      list,
      h('div', { class: 'ml-buttons' }, addButton),
      composeErrors,
    ),
    h(
      'section',
      { class: 'ml-panel', 'aria-labelledby': `${uid}-wire` },
      h(heading, { id: `${uid}-wire`, class: 'ml-heading' }, 'On the wire'),
      h(
        'p',
        { class: 'ml-note' },
        'The bytes this page sends, frame by frame, masked as a client must (RFC 6455 §5.1): header, masking key, then the masked payload.',
      ),
      wire,
    ),
    h(
      'section',
      { class: 'ml-panel', 'aria-labelledby': `${uid}-steps` },
      h(heading, { id: `${uid}-steps`, class: 'ml-heading' }, 'How the receiver assembles them'),
      h(
        'p',
        { class: 'ml-note' },
        'The lab’s own frame parser and message assembler (the code the lab server runs on every connection) reading these bytes one frame at a time.',
      ),
      steps,
      h('p', { class: 'ml-label' }, 'So the lab server should answer:'),
      prediction,
    ),
    h(
      'section',
      { class: 'ml-panel', 'aria-labelledby': `${uid}-send` },
      h(heading, { id: `${uid}-send`, class: 'ml-heading' }, 'Send it and read the answer'),
      h(
        'p',
        { class: 'ml-note' },
        'Opens a TCP connection to the lab server through its /raw relay, sends a handshake for /echo, waits for the 101, then writes your frames. Every Send uses a new connection.',
      ),
      h('div', { class: 'ml-buttons' }, sendButton),
      status,
      missing,
      h('p', { class: 'ml-label' }, 'What the lab server answered:'),
      answers,
      agreement,
      h('p', { class: 'ml-label', id: `${uid}-log-label` }, 'Its annotations of the connection:'),
      log,
    ),
  );
  element.replaceChildren(root);

  // ---- the frame rows ------------------------------------------------------------------------

  function renderRows(focus?: { id: number; control: string }): void {
    list.replaceChildren(...rows.map((row, i) => rowElement(row, i)));
    if (focus !== undefined) {
      const target = list.querySelector<HTMLElement>(
        `[data-row="${focus.id}"] [data-control="${focus.control}"]`,
      );
      (target ?? addButton).focus();
    }
    addButton.disabled = rows.length >= MAX_FRAMES;
    update();
  }

  function rowElement(row: Row, index: number): HTMLElement {
    const n = index + 1;
    const base = `${uid}-r${row.id}`;
    const kind = h(
      'select',
      { id: `${base}-kind`, class: 'ml-input', 'data-control': 'kind' },
      ...FRAME_KINDS.map((k) =>
        h('option', { value: k.kind, selected: k.kind === row.draft.kind }, k.label),
      ),
    );
    const fin = h('input', {
      id: `${base}-fin`,
      type: 'checkbox',
      checked: row.draft.fin,
      'data-control': 'fin',
    });
    const format = h(
      'select',
      { id: `${base}-format`, class: 'ml-input', 'data-control': 'format' },
      h('option', { value: 'text', selected: row.draft.format === 'text' }, 'text (UTF-8)'),
      h('option', { value: 'hex', selected: row.draft.format === 'hex' }, 'hex bytes'),
    );
    const payload = h('input', {
      id: `${base}-payload`,
      class: 'ml-input ml-payload',
      type: 'text',
      value: row.draft.payload,
      autocomplete: 'off',
      spellcheck: 'false',
      'data-control': 'payload',
      'aria-describedby': `${base}-error`,
    });
    const error = h('p', { class: 'ml-row-error', id: `${base}-error` });
    const up = h(
      'button',
      {
        type: 'button',
        class: 'lab-chip',
        'aria-label': `Move frame ${n} up`,
        'data-control': 'up',
        disabled: index === 0,
      },
      '↑',
    );
    const down = h(
      'button',
      {
        type: 'button',
        class: 'lab-chip',
        'aria-label': `Move frame ${n} down`,
        'data-control': 'down',
        disabled: index === rows.length - 1,
      },
      '↓',
    );
    const remove = h(
      'button',
      {
        type: 'button',
        class: 'lab-chip',
        'aria-label': `Remove frame ${n}`,
        'data-control': 'remove',
      },
      'Remove',
    );
    const set = (next: Partial<FrameDraft>) => {
      row.draft = { ...row.draft, ...next };
      update();
    };
    kind.addEventListener('change', () => set({ kind: kind.value as FrameKind }));
    fin.addEventListener('change', () => set({ fin: fin.checked }));
    format.addEventListener('change', () => set({ format: format.value as PayloadFormat }));
    payload.addEventListener('input', () => set({ payload: payload.value }));
    up.addEventListener('click', () => move(index, -1, 'up'));
    down.addEventListener('click', () => move(index, 1, 'down'));
    remove.addEventListener('click', () => {
      rows.splice(index, 1);
      const neighbour = rows[Math.min(index, rows.length - 1)];
      renderRows(neighbour === undefined ? undefined : { id: neighbour.id, control: 'remove' });
      if (neighbour === undefined) addButton.focus();
    });
    return h(
      'li',
      { class: 'ml-row', 'data-row': row.id },
      h(
        'fieldset',
        { class: 'ml-fieldset' },
        h('legend', { class: 'ml-legend' }, `Frame ${n}`),
        h('div', { class: 'ml-field' }, h('label', { for: `${base}-kind` }, 'Opcode'), kind),
        h('div', { class: 'ml-field ml-check' }, fin, h('label', { for: `${base}-fin` }, 'FIN')),
        h(
          'div',
          { class: 'ml-field' },
          h('label', { for: `${base}-format` }, 'Payload as'),
          format,
        ),
        h(
          'div',
          { class: 'ml-field ml-grow' },
          h('label', { for: `${base}-payload` }, `Payload of frame ${n}`),
          payload,
        ),
        h('div', { class: 'ml-row-buttons' }, up, down, remove),
        error,
      ),
    );
  }

  function move(index: number, by: number, control: string): void {
    const target = index + by;
    const row = rows[index];
    if (row === undefined || target < 0 || target >= rows.length) return;
    rows.splice(index, 1);
    rows.splice(target, 0, row);
    const stillThere =
      (control === 'up' && target > 0) || (control === 'down' && target < rows.length - 1);
    renderRows({ id: row.id, control: stillThere ? control : control === 'up' ? 'down' : 'up' });
  }

  function loadScenario(id: string): void {
    const scenario = SCENARIOS.find((s) => s.id === id) ?? SCENARIOS[0];
    if (scenario === undefined) return;
    rows = scenario.frames.map((draft) => ({ id: nextId++, draft, key: newKey() }));
    for (const button of scenarioButtons) {
      button.setAttribute('aria-pressed', String(button.dataset.scenario === scenario.id));
    }
    scenarioNote.textContent = scenario.description;
    renderRows();
  }

  addButton.addEventListener('click', () => {
    const last = rows[rows.length - 1]?.draft;
    // After an unfinished data frame the next one is most likely its continuation.
    const continues =
      last !== undefined && !last.fin && last.kind !== 'ping' && last.kind !== 'pong';
    const row: Row = {
      id: nextId++,
      draft: { kind: continues ? 'continuation' : 'text', fin: true, format: 'text', payload: '' },
      key: newKey(),
    };
    rows.push(row);
    renderRows({ id: row.id, control: 'payload' });
  });

  // ---- bytes, steps and prediction -----------------------------------------------------------

  function update(): void {
    for (const button of scenarioButtons) {
      // Any edit leaves the example behind.
      if (
        button.getAttribute('aria-pressed') === 'true' &&
        !matchesScenario(button.dataset.scenario)
      ) {
        button.setAttribute('aria-pressed', 'false');
      }
    }
    const keys = rows.map((row) => row.key);
    encoded = encodeDrafts(
      rows.map((row) => row.draft),
      (i) => keys[i] as Uint8Array,
    );
    for (const [i, row] of rows.entries()) {
      const li = list.querySelector(`[data-row="${row.id}"]`);
      const problem = encoded.ok ? undefined : encoded.errors.find((e) => e.index === i);
      const error = li?.querySelector('.ml-row-error');
      if (error) error.textContent = problem?.why ?? '';
      li?.querySelector('.ml-payload')?.setAttribute('aria-invalid', problem ? 'true' : 'false');
    }
    composeErrors.replaceChildren();
    if (!encoded.ok) {
      const general = encoded.errors.filter((e) => e.index < 0);
      const rowsWrong = encoded.errors.filter((e) => e.index >= 0).map((e) => e.index + 1);
      const lines = [
        ...general.map((e) => e.why),
        ...(rowsWrong.length > 0
          ? [`Fix the payload of frame ${rowsWrong.join(', ')} first.`]
          : []),
      ];
      composeErrors.append(h('ul', {}, ...lines.map((line) => h('li', {}, line))));
      wire.replaceChildren();
      steps.replaceChildren();
      prediction.replaceChildren(h('li', {}, '(nothing to send yet)'));
      sendButton.disabled = true;
      return;
    }
    sendButton.disabled = false;
    const frames = encoded.frames;
    wire.replaceChildren(
      ...frames.map((frame, i) => {
        const header = frame.bytes.subarray(0, frame.headerLength - 4);
        const key = frame.bytes.subarray(frame.headerLength - 4, frame.headerLength);
        const body = frame.bytes.subarray(frame.headerLength);
        return h(
          'li',
          { class: 'ml-wire-frame' },
          h('span', { class: 'ml-wire-title' }, `Frame ${i + 1}, ${frame.bytes.length} bytes: `),
          h(
            'code',
            { class: 'ml-bytes' },
            h('span', { class: 'ml-b-header', title: 'header' }, toHex(header, ' ')),
            ' ',
            h('span', { class: 'ml-b-key', title: 'masking key' }, toHex(key, ' ')),
            body.length > 0 ? ' ' : '',
            h('span', { class: 'ml-b-payload', title: 'masked payload' }, clipHex(body)),
          ),
        );
      }),
    );
    showAssembly(assemble(frames.map((f) => f.bytes)));
  }

  function matchesScenario(id: string | undefined): boolean {
    const scenario = SCENARIOS.find((s) => s.id === id);
    return (
      scenario !== undefined &&
      scenario.frames.length === rows.length &&
      scenario.frames.every((f, i) => JSON.stringify(f) === JSON.stringify(rows[i]?.draft))
    );
  }

  function showAssembly(assembly: Assembly): void {
    steps.replaceChildren(
      ...assembly.steps.map((step) => {
        const failed = step.problems.length > 0;
        return h(
          'li',
          {
            class: 'ml-step',
            'data-kind': step.frame === null ? 'unread' : failed ? 'failed' : 'ok',
          },
          h('p', { class: 'ml-step-title' }, `Frame ${step.index + 1}`),
          ...step.notes.slice(0, 1).map((note) => h('p', {}, note)),
          ...step.problems.map((problem) =>
            h(
              'p',
              { class: 'ml-problem' },
              `✗ ${problem.explanation} (${problem.section}; close code ${problem.closeCode ?? 'none'})`,
            ),
          ),
          ...step.notes.slice(1).map((note) => h('p', {}, note)),
          h('p', { class: 'ml-state' }, step.state),
        );
      }),
    );
    const lines = assembly.replies.map((reply) => {
      if (reply.kind === 'echo') {
        const m = reply.message;
        return `One ${m.type} message, ${m.length} bytes: ${m.text !== undefined ? JSON.stringify(m.text) : showPayload(m.preview)}`;
      }
      if (reply.kind === 'pong') return `A pong: ${showPayload(reply.payload)}`;
      return `A close frame with ${reply.code ?? 'no status code'}. ${reply.explanation}`;
    });
    if (assembly.unfinished) {
      lines.push('Nothing for the unfinished message: the server waits for its final fragment.');
    }
    if (lines.length === 0) lines.push('Nothing: none of these frames asks for an answer.');
    prediction.replaceChildren(...lines.map((line) => h('li', {}, line)));
  }

  // ---- sending -------------------------------------------------------------------------------

  function closeSockets(): void {
    for (const socket of sockets) {
      socket.onmessage = null;
      socket.onclose = null;
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
        socket.close(1000);
      }
    }
    sockets = [];
  }

  async function send(): Promise<void> {
    if (!encoded.ok) return;
    const frames = encoded.frames.map((f) => f.bytes);
    predicted = assemble(frames).replies;
    sentFrames = frames.length;
    agreement.textContent = '';
    attempt?.abort();
    closeSockets();
    const controller = new AbortController();
    attempt = controller;
    missing.replaceChildren();
    answers.replaceChildren();
    log.textContent = '';
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
      const message = unavailableMessage(found.tried, location, fallback);
      setStatus('The lab server is not running.', 'error');
      missing.replaceChildren(renderUnavailable(message, () => void send()));
      return;
    }
    const { origin, socket: relay } = found.connection;
    relay.binaryType = 'arraybuffer';
    sockets.push(relay);
    const run = new LabRun({
      host: new URL(origin).host,
      key: generateKey(),
      frames,
      path: withClassTag('/echo'),
    });
    const current = () => attempt === controller && !disposed;
    let observer: WebSocket | null = null;

    const perform = (actions: readonly RunAction[]) => {
      for (const action of actions) {
        if (action.type === 'send') {
          if (relay.readyState === WebSocket.OPEN) relay.send(action.bytes);
        } else if (action.type === 'phase') {
          setStatus(
            action.text,
            action.phase === 'refused' ? 'error' : action.phase === 'closed' ? 'done' : 'busy',
          );
        } else {
          observer = new WebSocket(webSocketUrl(origin, `/observe?id=${action.conn}`));
          sockets.push(observer);
          observer.onmessage = (message) => {
            if (!current()) return;
            const parsed = parseObserverMessage(message.data);
            if (parsed === null) return;
            if (parsed.type === 'snapshot') {
              perform(run.observerReady());
              return;
            }
            const before = run.events.length;
            perform(run.event(parsed));
            if (run.events.length > before) showEvent(parsed, run);
          };
        }
      }
    };
    relay.onmessage = (message) => {
      if (!current() || typeof message.data !== 'string') return;
      perform(run.relayStatus(message.data));
    };
    relay.onclose = () => {
      if (current() && run.phase !== 'closed')
        setStatus(`Connection ${run.conn ?? ''} is closed.`, 'done');
    };
  }

  function showEvent(event: Parameters<typeof renderEvent>[0], run: LabRun): void {
    const lines = renderEvent(event, { color: false, verbosity: 'normal' });
    log.textContent += `${lines.join('\n')}\n`;
    const list = serverAnswers(run.events);
    answers.replaceChildren(
      ...list.map((answer) => h('li', { 'data-kind': answer.kind }, describeAnswer(answer))),
    );
    // Judge only once every frame sent was read, or the connection ended.
    const read = run.events.filter(
      (e) => e.type === 'frame' && e.direction === 'client-to-server',
    ).length;
    const settled = read >= sentFrames || run.phase === 'closed';
    const verdict = settled
      ? compareWithPrediction(predicted, list)
      : { state: 'pending' as const };
    agreement.dataset.state = verdict.state;
    agreement.textContent = verdict.state === 'pending' ? '' : verdict.text;
  }

  function setStatus(text: string, kind: 'busy' | 'error' | 'done'): void {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  sendButton.addEventListener('click', () => void send());
  loadScenario(options.scenario ?? 'fragmented-with-ping');

  return {
    dispose() {
      if (disposed) return;
      disposed = true;
      attempt?.abort();
      closeSockets();
      element.replaceChildren();
    },
  };
}

function clipHex(bytes: Uint8Array, limit = 48): string {
  return `${toHex(bytes.subarray(0, limit), ' ')}${bytes.length > limit ? ` … (${bytes.length} bytes)` : ''}`;
}
