/**
 * The Origin lab: send the lab server an upgrade request with any Origin, through /raw, and see
 * its real answer (403 and its reason, or 101) with its annotations of that connection; then send
 * a message of a chosen size from this page's own WebSocket and meet the payload limit. The thin
 * view: the logic is in model.ts.
 */

import { generateKey } from '../../protocol/accept.ts';
import type { LabEvent } from '../../protocol/annotations.ts';
import { renderEvent } from '../../protocol/render-text.ts';
import { announceConnection } from '../exercises/live.ts';
import { parseObserverMessage } from '../shared/connection-events.ts';
import { h } from '../shared/dom.ts';
import {
  connectLabServer,
  DEFAULT_LAB_SERVER,
  labServerCandidates,
  renderUnavailable,
  unavailableMessage,
} from '../shared/lab-server.ts';
import {
  OriginRun,
  originPresets,
  type RunAction,
  readOriginInput,
  readSize,
  requestFor,
  SIZE_PRESETS,
  sizeOutcome,
  TARGETS,
  type Target,
} from './model.ts';

export interface OriginLabOptions {
  /** Where to look for the lab server when the page does not come from it. */
  readonly labServer?: string;
  readonly headingLevel?: 2 | 3 | 4;
}

export interface MountedLab {
  dispose(): void;
}

let instances = 0;

/** The sample key of RFC 6455 §1.3, shown in the preview until a fresh one is drawn on send. */
const PREVIEW_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export function mount(element: HTMLElement, options: OriginLabOptions = {}): MountedLab {
  const uid = `ol${++instances}`;
  const level = options.headingLevel ?? 3;
  const heading = level <= 2 ? 'h2' : level === 3 ? 'h3' : 'h4';
  const fallback = options.labServer ?? DEFAULT_LAB_SERVER;
  // The origin the lab server compares: this page's, or the lab server's when the page has none.
  const pageOrigin = labServerCandidates(location, fallback)[0] ?? fallback;
  const presets = originPresets(pageOrigin);
  let disposed = false;
  let sockets: WebSocket[] = [];
  let attempt: AbortController | null = null;
  let sizeSocket: WebSocket | null = null;

  // ---- part 1: the Origin check ---------------------------------------------------------------

  const originChoices = presets.map((preset, i) => {
    const input = h('input', {
      type: 'radio',
      name: `${uid}-origin`,
      value: preset.id,
      id: `${uid}-origin-${preset.id}`,
      // Named by the origin alone; the note describes it.
      'aria-labelledby': `${uid}-origin-${preset.id}-label`,
      'aria-describedby': `${uid}-origin-${preset.id}-note`,
      checked: i === 1,
    });
    input.addEventListener('change', update);
    return { preset, input };
  });
  const customRadio = h('input', {
    type: 'radio',
    name: `${uid}-origin`,
    value: 'custom',
    id: `${uid}-origin-custom`,
  });
  const customInput = h('input', {
    type: 'text',
    class: 'ol-input ol-mono',
    id: `${uid}-origin-text`,
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    placeholder: 'http://attacker.example:8080',
    'aria-describedby': `${uid}-origin-error`,
    'aria-label': 'Your own Origin value',
  });
  const customError = h('p', {
    class: 'ol-error',
    id: `${uid}-origin-error`,
    'aria-live': 'polite',
  });
  customRadio.addEventListener('change', update);
  customInput.addEventListener('input', () => {
    customRadio.checked = true;
    update();
  });
  customInput.addEventListener('focus', () => {
    customRadio.checked = true;
    update();
  });

  const targetChoices = TARGETS.map((target, i) => {
    const input = h('input', {
      type: 'radio',
      name: `${uid}-target`,
      value: target,
      id: `${uid}-target-${i}`,
      checked: i === 0,
    });
    input.addEventListener('change', update);
    return { target, input };
  });

  const preview = h('pre', {
    class: 'ol-pre ol-request',
    tabindex: 0,
    role: 'region',
    'aria-label': 'The request the lab will send',
  });
  const sendButton = h(
    'button',
    { type: 'button', class: 'ol-button ol-primary' },
    'Send through /raw',
  );
  const status = h('p', { class: 'ol-status', role: 'status' }, 'Not sent yet.');
  const missing = h('div', { class: 'ol-missing' });
  const answerLine = h('p', { class: 'ol-answer', 'aria-live': 'polite' });
  const summary = h('p', { class: 'ol-summary' });
  const explanation = h('blockquote', { class: 'ol-explanation', hidden: true });
  const responseHead = h('pre', {
    class: 'ol-pre',
    tabindex: 0,
    role: 'region',
    'aria-label': 'The response head, as it arrived',
    hidden: true,
  });
  const log = h('pre', {
    class: 'ol-pre ol-log',
    tabindex: 0,
    role: 'region',
    'aria-label': 'Annotations of this connection, from the lab server',
  });

  // ---- part 2: the payload limit --------------------------------------------------------------

  const sizeInput = h('input', {
    type: 'text',
    class: 'ol-input ol-mono',
    id: `${uid}-size`,
    value: '1 MiB + 1',
    inputmode: 'text',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-describedby': `${uid}-size-error`,
  });
  const sizeError = h('p', { class: 'ol-error', id: `${uid}-size-error`, 'aria-live': 'polite' });
  const sizeButtons = SIZE_PRESETS.map((preset) => {
    const button = h('button', { type: 'button', class: 'lab-chip' }, preset.label);
    button.addEventListener('click', () => {
      sizeInput.value = preset.bytes.toLocaleString('en');
      readSizeField();
    });
    return button;
  });
  const sizeSend = h(
    'button',
    { type: 'button', class: 'ol-button ol-primary' },
    'Send it to /echo',
  );
  const sizeStatus = h('p', { class: 'ol-status', role: 'status' }, 'Not sent yet.');
  const sizeMissing = h('div', { class: 'ol-missing' });
  sizeInput.addEventListener('input', readSizeField);

  const root = h(
    'div',
    { class: 'ol' },
    h(
      'section',
      { class: 'ol-panel', 'aria-labelledby': `${uid}-origin-heading` },
      h(heading, { id: `${uid}-origin-heading`, class: 'ol-heading' }, 'Knock with any Origin'),
      h(
        'p',
        { class: 'ol-note' },
        'Your browser will not let this page lie about its Origin, so the lab writes the upgrade request itself and sends it over a plain TCP connection that the lab server’s /raw relay opens to itself. What comes back is the lab server’s real answer.',
      ),
      h(
        'fieldset',
        { class: 'ol-fieldset' },
        h('legend', { class: 'ol-legend' }, 'Origin header'),
        ...originChoices.map(({ preset, input }) =>
          h(
            'div',
            { class: 'ol-choice' },
            input,
            h(
              'label',
              { for: input.id },
              h(
                'span',
                { class: 'ol-mono ol-choice-label', id: `${input.id}-label` },
                preset.label,
              ),
              h('span', { class: 'ol-note', id: `${input.id}-note` }, preset.note),
            ),
          ),
        ),
        h(
          'div',
          { class: 'ol-choice' },
          customRadio,
          h(
            'div',
            { class: 'ol-custom' },
            h('label', { for: customRadio.id, class: 'ol-choice-label' }, 'Your own:'),
            customInput,
            customError,
          ),
        ),
      ),
      h(
        'fieldset',
        { class: 'ol-fieldset ol-inline' },
        h('legend', { class: 'ol-legend' }, 'Endpoint'),
        ...targetChoices.map(({ target, input }) =>
          h(
            'div',
            { class: 'ol-choice' },
            input,
            h('label', { for: input.id, class: 'ol-mono' }, target),
          ),
        ),
      ),
      h('p', { class: 'ol-label' }, 'The request'),
      preview,
      h('div', { class: 'ol-buttons' }, sendButton),
      status,
      missing,
      answerLine,
      summary,
      explanation,
      responseHead,
      h('p', { class: 'ol-label' }, 'What the lab server annotated on this connection'),
      log,
    ),
    h(
      'section',
      { class: 'ol-panel', 'aria-labelledby': `${uid}-size-heading` },
      h(heading, { id: `${uid}-size-heading`, class: 'ol-heading' }, 'Send one big message'),
      h(
        'p',
        { class: 'ol-note' },
        'This one uses your browser’s own WebSocket to /echo, so the Origin is this page’s. The lab server refuses a message longer than its --max-payload (1 MiB unless changed) with close code 1009.',
      ),
      h('div', { class: 'ol-chips', role: 'group', 'aria-label': 'Sizes' }, ...sizeButtons),
      h(
        'div',
        { class: 'ol-field' },
        h('label', { for: sizeInput.id, class: 'ol-label' }, 'Message size'),
        sizeInput,
        sizeError,
      ),
      h('div', { class: 'ol-buttons' }, sizeSend),
      sizeStatus,
      sizeMissing,
    ),
  );
  element.replaceChildren(root);

  // ---- part 1 behaviour -----------------------------------------------------------------------

  function chosenOrigin(): { ok: true; origin: string | null } | { ok: false; error: string } {
    if (customRadio.checked) return readOriginInput(customInput.value);
    const chosen = originChoices.find(({ input }) => input.checked)?.preset ?? presets[0];
    return { ok: true, origin: chosen?.origin ?? null };
  }

  function chosenTarget(): Target {
    return targetChoices.find(({ input }) => input.checked)?.target ?? '/echo';
  }

  function update(): void {
    const origin = chosenOrigin();
    customError.textContent = origin.ok || !customRadio.checked ? '' : origin.error;
    customInput.setAttribute('aria-invalid', String(!origin.ok));
    sendButton.disabled = !origin.ok;
    if (!origin.ok) return;
    const request = requestFor({
      host: new URL(pageOrigin).host,
      target: chosenTarget(),
      origin: origin.origin,
      key: PREVIEW_KEY,
    });
    preview.textContent = request.text.replace(/\r\n/g, '\n').trimEnd();
  }

  function closeSockets(): void {
    for (const socket of sockets) {
      socket.onmessage = null;
      socket.onclose = null;
      if (socket.readyState <= WebSocket.OPEN) socket.close(1000);
    }
    sockets = [];
  }

  function clearResult(): void {
    missing.replaceChildren();
    answerLine.textContent = '';
    delete answerLine.dataset.kind;
    summary.textContent = '';
    explanation.textContent = '';
    explanation.hidden = true;
    responseHead.textContent = '';
    responseHead.hidden = true;
    log.textContent = '';
  }

  async function send(): Promise<void> {
    const origin = chosenOrigin();
    if (!origin.ok) return;
    attempt?.abort();
    closeSockets();
    const controller = new AbortController();
    attempt = controller;
    clearResult();
    setStatus(status, 'Looking for the lab server…', 'busy');
    const found = await connectLabServer('/raw', {
      candidates: labServerCandidates(location, fallback),
      signal: controller.signal,
    });
    if (disposed || controller.signal.aborted) {
      if (found.ok) found.connection.socket.close();
      return;
    }
    if (!found.ok) {
      setStatus(status, 'The lab server is not running.', 'error');
      missing.replaceChildren(
        renderUnavailable(unavailableMessage(found.tried, location, fallback), () => void send()),
      );
      return;
    }
    const { origin: server, socket: relay } = found.connection;
    relay.binaryType = 'arraybuffer';
    sockets.push(relay);
    const run = new OriginRun({
      host: new URL(server).host,
      target: chosenTarget(),
      origin: origin.origin,
      key: generateKey(),
    });
    preview.textContent = run.request.text.replace(/\r\n/g, '\n').trimEnd();
    const current = () => attempt === controller && !disposed;

    const perform = (actions: readonly RunAction[]) => {
      for (const action of actions) {
        if (action.type === 'send') {
          if (relay.readyState === WebSocket.OPEN) relay.send(action.bytes);
        } else if (action.type === 'end') {
          if (relay.readyState === WebSocket.OPEN) relay.send('end');
        } else if (action.type === 'phase') {
          setStatus(status, action.text, action.phase === 'closed' ? 'done' : 'busy');
          showAnswer(run);
        } else {
          // The relay's connection is the learner's: live exercises may count it.
          announceConnection(action.conn);
          const observer = new WebSocket(
            new URL(`/observe?id=${action.conn}`, server.replace(/^http/, 'ws')).href,
          );
          sockets.push(observer);
          observer.onmessage = (message) => {
            if (!current()) return;
            const parsed = parseObserverMessage(message.data);
            if (parsed === null) return;
            if (parsed.type === 'snapshot') perform(run.observerReady());
            else if (run.event(parsed)) showEvent(parsed);
          };
        }
      }
    };
    relay.onmessage = (message) => {
      if (!current()) return;
      if (typeof message.data === 'string') perform(run.relayStatus(message.data));
      else if (message.data instanceof ArrayBuffer) {
        perform(run.received(new Uint8Array(message.data)));
      }
    };
    relay.onclose = () => {
      if (!current()) return;
      perform(run.relayStatus(JSON.stringify({ type: 'closed' })));
      // Annotations trail the bytes by a moment; the observer stays open a little longer.
      setTimeout(() => {
        if (attempt === controller) closeSockets();
      }, 1500);
    };
  }

  function showAnswer(run: OriginRun): void {
    const answer = run.answer;
    if (answer === null) return;
    answerLine.textContent = `${answer.status} ${answer.reason}`;
    answerLine.dataset.kind = answer.status === 101 ? 'ok' : 'refused';
    summary.textContent = answer.summary;
    explanation.hidden = answer.body === '';
    explanation.replaceChildren(
      h('p', { class: 'ol-label' }, 'The lab server’s explanation (the response body):'),
      h('p', {}, answer.body),
    );
    responseHead.hidden = false;
    responseHead.textContent = [
      `HTTP/1.1 ${answer.status} ${answer.reason}`,
      ...answer.headers.map((header) => `${header.name}: ${header.value}`),
    ].join('\n');
  }

  function showEvent(event: LabEvent): void {
    const lines = renderEvent(event, { color: false, verbosity: 'normal' });
    log.textContent += `${lines.join('\n')}\n`;
  }

  sendButton.addEventListener('click', () => void send());
  update();

  // ---- part 2 behaviour -----------------------------------------------------------------------

  function readSizeField(): number | null {
    const size = readSize(sizeInput.value);
    sizeError.textContent = size.ok ? '' : size.error;
    sizeInput.setAttribute('aria-invalid', String(!size.ok));
    sizeSend.disabled = !size.ok;
    return size.ok ? size.bytes : null;
  }

  async function sendBig(): Promise<void> {
    const bytes = readSizeField();
    if (bytes === null) return;
    if (sizeSocket !== null && sizeSocket.readyState <= WebSocket.OPEN) sizeSocket.close(1000);
    sizeMissing.replaceChildren();
    setStatus(sizeStatus, 'Connecting to /echo…', 'busy');
    const found = await connectLabServer('/echo?limits', {
      candidates: labServerCandidates(location, fallback),
    });
    if (disposed) {
      if (found.ok) found.connection.socket.close();
      return;
    }
    if (!found.ok) {
      setStatus(sizeStatus, 'The lab server is not running.', 'error');
      sizeMissing.replaceChildren(
        renderUnavailable(
          unavailableMessage(found.tried, location, fallback),
          () => void sendBig(),
        ),
      );
      return;
    }
    const socket = found.connection.socket;
    sizeSocket = socket;
    let echoed: number | null = null;
    socket.onmessage = (message) => {
      echoed = typeof message.data === 'string' ? message.data.length : 0;
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
    };
    socket.onclose = (event) => {
      if (sizeSocket !== socket || disposed) return;
      const outcome =
        echoed !== null
          ? sizeOutcome(bytes, { echoed })
          : sizeOutcome(bytes, { code: event.code, reason: event.reason });
      setStatus(sizeStatus, outcome.text, outcome.kind === 'echoed' ? 'done' : 'error');
      sizeStatus.dataset.code = outcome.kind === 'closed' ? String(outcome.code) : '';
    };
    setStatus(sizeStatus, `Sending ${bytes.toLocaleString('en')} bytes…`, 'busy');
    // ASCII letters: one byte each in UTF-8, so the message is exactly this long on the wire.
    socket.send('a'.repeat(bytes));
  }

  sizeSend.addEventListener('click', () => void sendBig());
  readSizeField();

  return {
    dispose() {
      if (disposed) return;
      disposed = true;
      attempt?.abort();
      closeSockets();
      if (sizeSocket !== null && sizeSocket.readyState <= WebSocket.OPEN) sizeSocket.close(1000);
      element.replaceChildren();
    },
  };
}

function setStatus(element: HTMLElement, text: string, kind: 'busy' | 'error' | 'done'): void {
  element.textContent = text;
  element.dataset.kind = kind;
}
