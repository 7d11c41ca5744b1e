/**
 * The live console: the learner's own connection to the lab server's /echo, and every frame of
 * it as the lab server saw it on the wire, in an xterm.js terminal. A CodeMirror editor composes
 * what to send. This file is the thin view: what to send comes from model.ts, how events look
 * from format.ts, and the hand-built client from frame-client.ts.
 */
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { EditorState, Prec } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import type { LabEvent } from '../../protocol/annotations.ts';
import { renderEvent, type Verbosity, visible } from '../../protocol/render-text.ts';
import { h } from '../shared/dom.ts';
import {
  connectLabServer,
  DEFAULT_LAB_SERVER,
  labServerCandidates,
  renderUnavailable,
  unavailableMessage,
  webSocketUrl,
} from '../shared/lab-server.ts';
import { terminalTheme } from '../shared/terminal-theme.ts';
import { type FrameRow, frameRow } from './format.ts';
import { type ClientEvent, FrameClient } from './frame-client.ts';
import {
  ConnectionEvents,
  type ConnectionState,
  describeState,
  echoPath,
  newTag,
  type PayloadFormat,
  type Plan,
  parseObserverMessage,
  planClose,
  planMessage,
  planPing,
  type Transport,
} from './model.ts';

export interface LiveConsoleOptions {
  /** Where to look for the lab server when the page does not come from it. */
  readonly labServer?: string;
  /** Heading level of the lab's parts; the page's own section heading sits above them. */
  readonly headingLevel?: 2 | 3 | 4;
}

export interface MountedLab {
  dispose(): void;
}

let instances = 0;

/** Below this terminal width the font gets smaller. */
const NARROW_PX = 560;
/** How long the wide observer may take to deliver what it owes before it is closed anyway. */
const WIDE_GRACE_MS = 2000;

const TRANSPORTS: readonly { value: Transport; label: string; note: string }[] = [
  {
    value: 'browser',
    label: "Your browser's WebSocket",
    note: 'new WebSocket(url): the browser builds, masks and sends every frame.',
  },
  {
    value: 'frames',
    label: 'Frames built by this page',
    note: 'This page builds each frame itself with the lab’s encoder and sends the bytes through the lab server’s /raw relay, so it can also send pings and any close code.',
  },
];

const FORMATS: readonly { value: PayloadFormat; label: string }[] = [
  { value: 'text', label: 'Text (UTF-8)' },
  { value: 'hex', label: 'Hex bytes' },
];

/** 300 bytes, 00 01 02 … ff 00 01 … 2b: long enough for the 16-bit length form. */
const SAMPLE_300 = Array.from({ length: 300 }, (_, i) => (i % 256).toString(16).padStart(2, '0'))
  .join(' ')
  .replace(/((?:[0-9a-f]{2} ){16})/g, '$1\n')
  .replace(/ \n/g, '\n');

const EXAMPLES: readonly { label: string; format: PayloadFormat; text: string }[] = [
  { label: 'Hello', format: 'text', text: 'Hello' },
  { label: 'Text with non-ASCII', format: 'text', text: 'Grüße, ☃' },
  { label: '300 bytes of hex', format: 'hex', text: SAMPLE_300 },
];

type HeadingTag = 'h2' | 'h3' | 'h4';

interface Session {
  readonly events: ConnectionEvents;
  readonly sockets: Set<WebSocket>;
  browser: WebSocket | null;
  raw: WebSocket | null;
  client: FrameClient | null;
  transport: Transport;
  url: string;
}

export function mount(element: HTMLElement, options: LiveConsoleOptions = {}): MountedLab {
  const uid = `lc${++instances}`;
  const level = options.headingLevel ?? 3;
  const heading: HeadingTag = level <= 2 ? 'h2' : level === 3 ? 'h3' : 'h4';
  const fallback = options.labServer ?? DEFAULT_LAB_SERVER;
  let disposed = false;
  let transport: Transport = 'browser';
  let format: PayloadFormat = 'text';
  let state: ConnectionState = { kind: 'idle' };
  let session: Session | null = null;
  let abort: AbortController | null = null;
  let rows: FrameRow[] = [];
  let verbosity: Verbosity = 'bits';

  // ---- the page ------------------------------------------------------------------------------

  const status = h('p', { class: 'lc-status', id: `${uid}-status`, role: 'status' });
  const reconnect = h('button', { type: 'button', class: 'lc-button' }, 'Reconnect');
  const missing = h('div', { class: 'lc-missing' });
  const transportRadios = TRANSPORTS.map(({ value, label, note }) => {
    const input = h('input', {
      type: 'radio',
      name: `${uid}-transport`,
      value,
      checked: value === transport,
      'aria-describedby': `${uid}-transport-${value}`,
    });
    return {
      input,
      element: h(
        'div',
        { class: 'lc-choice' },
        h('label', {}, input, ` ${label}`),
        h('p', { class: 'lc-note', id: `${uid}-transport-${value}` }, note),
      ),
    };
  });

  const termHost = h('div', { class: 'lc-terminal' });
  const bitsToggle = h('input', { type: 'checkbox', checked: true });
  bitsToggle.addEventListener('change', () => {
    verbosity = bitsToggle.checked ? 'bits' : 'normal';
  });
  const clearButton = h('button', { type: 'button', class: 'lab-chip' }, 'Clear');
  clearButton.addEventListener('click', () => term.clear());
  const themeProbe = h('span', { class: 'lc-probe', 'aria-hidden': 'true' });

  const formatRadios = FORMATS.map(({ value, label }) => {
    const input = h('input', {
      type: 'radio',
      name: `${uid}-format`,
      value,
      checked: value === format,
    });
    return { input, label: h('label', { class: 'lc-inline' }, input, ` ${label}`) };
  });
  const exampleButtons = EXAMPLES.map((example) => {
    const button = h('button', { type: 'button', class: 'lab-chip' }, example.label);
    button.addEventListener('click', () => {
      setFormat(example.format);
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: example.text } });
      editor.focus();
    });
    return button;
  });
  const editorHost = h('div', { class: 'lc-editor' });
  const feedback = h('div', { class: 'lc-feedback', id: `${uid}-feedback`, 'aria-live': 'polite' });
  const sendButton = h('button', { type: 'button', class: 'lc-button lc-primary' }, 'Send text');
  const pingButton = h('button', { type: 'button', class: 'lc-button' }, 'Send ping');

  const codeInput = h('input', {
    id: `${uid}-code`,
    class: 'lc-input lc-code',
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'off',
    value: '1000',
    'aria-describedby': `${uid}-close-feedback`,
  });
  const reasonInput = h('input', {
    id: `${uid}-reason`,
    class: 'lc-input',
    type: 'text',
    autocomplete: 'off',
    value: 'done',
    'aria-describedby': `${uid}-close-feedback`,
  });
  const closeButton = h('button', { type: 'button', class: 'lc-button' }, 'Close connection');
  const closeFeedback = h('div', {
    class: 'lc-feedback',
    id: `${uid}-close-feedback`,
    'aria-live': 'polite',
  });
  const tableBody = h('tbody', {});
  const tableEmpty = h('p', { class: 'lc-note' }, 'No frames yet.');
  const tableScroll = h('div', { class: 'lc-table-scroll', hidden: true });

  const root = h(
    'div',
    { class: 'lc' },
    h(
      'div',
      { class: 'lc-panel lc-connection' },
      h('div', { class: 'lc-bar' }, status, reconnect),
      h(
        'fieldset',
        { class: 'lc-transport' },
        h('legend', {}, 'Connect with'),
        ...transportRadios.map((r) => r.element),
      ),
      missing,
    ),
    h(
      'section',
      { class: 'lc-console', 'aria-labelledby': `${uid}-console` },
      h(
        'div',
        { class: 'lc-bar' },
        h(heading, { id: `${uid}-console`, class: 'lc-heading' }, 'Console'),
        h(
          'div',
          { class: 'lc-examples' },
          h('label', { class: 'lc-inline' }, bitsToggle, ' Headers bit by bit'),
          clearButton,
        ),
      ),
      h(
        'p',
        { class: 'lc-note', id: `${uid}-console-note` },
        'What the lab server saw on your connection, read from the bytes on the wire: C→S is client to server, S→C server to client, and » marks what this page did. Read-only; when it has focus, Shift+Page Up and Shift+Page Down scroll it. The same frames are listed in a table below.',
      ),
      termHost,
      themeProbe,
    ),
    h(
      'section',
      { class: 'lc-panel lc-composer', 'aria-labelledby': `${uid}-send` },
      h(heading, { id: `${uid}-send`, class: 'lc-heading' }, 'Send'),
      h(
        'fieldset',
        { class: 'lc-format' },
        h('legend', {}, 'Payload as'),
        ...formatRadios.map((r) => r.label),
      ),
      h('div', { class: 'lc-label', id: `${uid}-payload-label` }, 'Payload'),
      editorHost,
      h(
        'p',
        { class: 'lc-note', id: `${uid}-payload-hint` },
        'Ctrl+Enter sends the message. Tab leaves the editor. In hex, spaces, commas and 0x prefixes are fine.',
      ),
      h(
        'div',
        { class: 'lc-examples', role: 'group', 'aria-label': 'Example payloads' },
        h('span', { class: 'lc-note' }, 'Fill in:'),
        ...exampleButtons,
      ),
      feedback,
      h('div', { class: 'lc-buttons' }, sendButton, pingButton),
    ),
    h(
      'section',
      { class: 'lc-panel lc-close', 'aria-labelledby': `${uid}-close` },
      h(heading, { id: `${uid}-close`, class: 'lc-heading' }, 'Close'),
      h(
        'div',
        { class: 'lc-close-fields' },
        h('label', { for: `${uid}-code`, class: 'lc-label' }, 'Status code'),
        codeInput,
        h('label', { for: `${uid}-reason`, class: 'lc-label' }, 'Reason'),
        reasonInput,
        closeButton,
      ),
      closeFeedback,
    ),
    h(
      'section',
      { class: 'lc-frames', 'aria-labelledby': `${uid}-frames` },
      h(heading, { id: `${uid}-frames`, class: 'lc-heading' }, 'Frames on this connection'),
      tableEmpty,
      tableScroll,
    ),
  );
  tableScroll.append(
    h(
      'table',
      { class: 'lc-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            'Direction',
            'Opcode',
            'FIN',
            'MASK',
            'Masking key',
            'Length',
            'On the wire',
            'Payload',
          ].map((label) => h('th', { scope: 'col' }, label)),
        ),
      ),
      tableBody,
    ),
  );
  element.replaceChildren(root);

  // ---- the terminal --------------------------------------------------------------------------

  const term = new Terminal({
    disableStdin: true,
    convertEol: false,
    cursorBlink: false,
    cursorInactiveStyle: 'none',
    cursorStyle: 'bar',
    scrollback: 5000,
    fontSize: 13,
    lineHeight: 1.2,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
    theme: terminalTheme(themeProbe),
    // WCAG AA for every colour of the theme, gray included.
    minimumContrastRatio: 4.5,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(termHost);
  // The terminal is output only: Tab must move on instead of being swallowed.
  term.attachCustomKeyEventHandler((event) => event.key !== 'Tab');
  term.textarea?.setAttribute('aria-label', 'Console output, read-only');
  term.textarea?.setAttribute('aria-describedby', `${uid}-console-note`);
  const refit = () => {
    if (disposed || termHost.clientWidth === 0) return;
    // A phone gets a few more columns from a smaller font.
    const fontSize = termHost.clientWidth < NARROW_PX ? 11 : 13;
    if (term.options.fontSize !== fontSize) term.options.fontSize = fontSize;
    fit.fit();
  };
  refit();
  // The first fit can run before layout and fonts settle, measuring the cell wrong; a box whose
  // size then stays the same would never refit. Fit again once both are done.
  requestAnimationFrame(refit);
  void document.fonts?.ready.then(refit);
  const resizeObserver = new ResizeObserver(() => refit());
  resizeObserver.observe(termHost);
  const themeObserver = new MutationObserver(() => {
    term.options.theme = terminalTheme(themeProbe);
  });
  themeObserver.observe(document.documentElement, { attributeFilter: ['data-theme'] });

  const write = (lines: readonly string[]) => {
    if (!disposed && lines.length > 0) term.write(`${lines.join('\r\n')}\r\n`);
  };
  const note = (text: string) => write([`\x1b[2m» ${visible(text)}\x1b[22m`]);

  const sendFromEditor = () => {
    sendMessage();
    return true;
  };

  // ---- the editor ----------------------------------------------------------------------------

  const editor = new EditorView({
    parent: editorHost,
    state: EditorState.create({
      doc: 'Hello',
      extensions: [
        history(),
        Prec.highest(
          keymap.of([
            { key: 'Mod-Enter', run: sendFromEditor },
            { key: 'Ctrl-Enter', run: sendFromEditor },
          ]),
        ),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        EditorView.lineWrapping,
        placeholder('The payload to send'),
        EditorView.contentAttributes.of({
          'aria-labelledby': `${uid}-payload-label`,
          'aria-describedby': `${uid}-payload-hint ${uid}-feedback`,
          spellcheck: 'false',
          autocapitalize: 'off',
          autocorrect: 'off',
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) showPlan();
        }),
      ],
    }),
  });

  // ---- what the controls do ------------------------------------------------------------------

  function setState(next: ConnectionState): void {
    state = next;
    status.textContent = describeState(state);
    status.dataset.state = state.kind;
    const open = state.kind === 'open';
    sendButton.disabled = !open;
    pingButton.disabled = !open;
    closeButton.disabled = !open;
    // When the lab server is missing, the message's own button retries.
    reconnect.hidden = state.kind !== 'closed';
  }

  function payloadText(): string {
    return editor.state.doc.toString();
  }

  function showFeedback(target: HTMLElement, plan: Plan | ReturnType<typeof planClose>): void {
    target.replaceChildren();
    if (!plan.ok) {
      target.dataset.kind = 'error';
      target.append(h('ul', {}, ...plan.errors.map((e) => h('li', {}, e))));
      return;
    }
    target.dataset.kind = 'ok';
    target.append(h('p', {}, plan.summary));
    if ('warning' in plan && plan.warning !== null) {
      target.dataset.kind = 'warning';
      target.append(h('p', { class: 'lc-warning' }, plan.warning));
    }
  }

  function showPlan(): Plan {
    const plan = planMessage(payloadText(), format);
    editor.contentDOM.setAttribute('aria-invalid', plan.ok ? 'false' : 'true');
    showFeedback(feedback, plan);
    return plan;
  }

  function setFormat(next: PayloadFormat): void {
    format = next;
    for (const r of formatRadios) r.input.checked = r.input.value === next;
    sendButton.textContent = next === 'text' ? 'Send text' : 'Send binary';
    showPlan();
  }

  function sendMessage(): void {
    const plan = showPlan();
    const current = session;
    if (!plan.ok || current === null || state.kind !== 'open') return;
    if (current.browser !== null) {
      if (format === 'text') {
        const text = payloadText();
        current.browser.send(text);
        note(`ws.send(${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)})`);
      } else {
        current.browser.send(plan.payload);
        note(`ws.send(new Uint8Array(${plan.payload.length}))`);
      }
    } else if (current.raw !== null && current.client !== null) {
      const bytes =
        format === 'text' ? current.client.text(plan.payload) : current.client.binary(plan.payload);
      current.raw.send(bytes);
      note(
        `sent a ${format === 'text' ? 'text' : 'binary'} frame built here: ${bytes.length} bytes`,
      );
    }
  }

  function sendPing(): void {
    const plan = planPing(payloadText(), format, transport);
    showFeedback(feedback, plan);
    const current = session;
    if (!plan.ok || current?.raw == null || current.client === null || state.kind !== 'open') {
      return;
    }
    const bytes = current.client.ping(plan.payload);
    current.raw.send(bytes);
    note(`sent a ping frame built here: ${bytes.length} bytes`);
  }

  function showClosePlan() {
    const plan = planClose(codeInput.value, reasonInput.value, transport);
    codeInput.setAttribute('aria-invalid', plan.ok ? 'false' : 'true');
    showFeedback(closeFeedback, plan);
    return plan;
  }

  function sendClose(): void {
    const plan = showClosePlan();
    const current = session;
    if (!plan.ok || current === null || state.kind !== 'open') return;
    if (current.browser !== null) {
      if (plan.code === null) current.browser.close();
      else current.browser.close(plan.code, plan.reason);
      note(
        plan.code === null
          ? 'ws.close()'
          : `ws.close(${plan.code}${plan.reason === '' ? '' : `, ${JSON.stringify(plan.reason)}`})`,
      );
    } else if (current.raw !== null && current.client !== null) {
      const bytes = current.client.close(plan.code, plan.reason);
      current.raw.send(bytes);
      note(`sent a close frame built here: ${bytes.length} bytes`);
    }
    setState({ kind: 'closing', url: current.url });
  }

  // ---- connecting ----------------------------------------------------------------------------

  function show(events: readonly LabEvent[]): void {
    for (const event of events) {
      write(renderEvent(event, { color: true, verbosity, faint: false }));
      const row = frameRow(event);
      if (row !== null) addRow(row);
    }
  }

  function addRow(row: FrameRow): void {
    rows.push(row);
    if (rows.length > 500) {
      rows = rows.slice(-500);
      tableBody.firstElementChild?.remove();
    }
    tableEmpty.hidden = true;
    tableScroll.hidden = false;
    tableBody.append(
      h(
        'tr',
        { 'data-direction': row.direction },
        h(
          'td',
          {},
          row.direction === 'client-to-server' ? '→ client to server' : '← server to client',
        ),
        h('td', {}, row.opcode),
        h('td', {}, row.fin),
        h('td', {}, row.mask),
        h('td', {}, h('code', {}, row.maskingKey)),
        h('td', {}, row.length),
        h('td', {}, h('code', {}, row.wire)),
        h('td', {}, h('code', {}, row.payload)),
      ),
    );
  }

  function endSession(): void {
    const current = session;
    session = null;
    if (current === null) return;
    for (const socket of current.sockets) {
      socket.onopen = null;
      socket.onmessage = null;
      socket.onclose = null;
      socket.onerror = null;
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
        socket.close(1000);
      }
    }
    current.sockets.clear();
  }

  function track(current: Session, socket: WebSocket): WebSocket {
    current.sockets.add(socket);
    return socket;
  }

  async function connect(): Promise<void> {
    endSession();
    abort?.abort();
    const controller = new AbortController();
    abort = controller;
    missing.replaceChildren();
    rows = [];
    tableBody.replaceChildren();
    tableEmpty.hidden = false;
    tableScroll.hidden = true;
    setState({ kind: 'looking' });
    const found = await connectLabServer('/observe', {
      candidates: labServerCandidates(location, fallback),
      signal: controller.signal,
    });
    if (disposed || controller.signal.aborted) {
      if (found.ok) found.connection.socket.close();
      return;
    }
    if (!found.ok) {
      setState({ kind: 'unavailable' });
      missing.replaceChildren(
        renderUnavailable(unavailableMessage(found.tried, location, fallback), () => {
          void connect();
        }),
      );
      write([`\x1b[31m✗ ${unavailableMessage(found.tried, location, fallback).title}\x1b[0m`]);
      return;
    }
    const { origin, socket: wide } = found.connection;
    const tag = newTag();
    const current: Session = {
      events: new ConnectionEvents(tag),
      sockets: new Set([wide]),
      browser: null,
      raw: null,
      client: null,
      transport,
      url: webSocketUrl(origin, echoPath(tag)),
    };
    session = current;
    const alive = () => session === current && !disposed;
    write([
      '',
      `\x1b[1mConnecting to ${current.url} (${transport === 'browser' ? "your browser's WebSocket" : 'frames built by this page, through /raw'})\x1b[0m`,
    ]);

    let narrowOpened = false;
    const identified = () => {
      const conn = current.events.conn;
      if (conn === null || narrowOpened) return;
      narrowOpened = true;
      if (state.kind === 'open') setState({ kind: 'open', url: current.url, conn });
      const narrow = track(current, new WebSocket(webSocketUrl(origin, `/observe?id=${conn}`)));
      let ready = false;
      narrow.onmessage = (message) => {
        const parsed = parseObserverMessage(message.data);
        if (parsed === null || !alive()) return;
        if (parsed.type === 'snapshot') {
          if (!ready) {
            ready = true;
            current.events.narrowReady(parsed.seq);
            if (current.events.wideDone) wide.close(1000);
            // Should the wide observer have dropped what it owed, it still goes.
            else setTimeout(() => alive() && wide.close(1000), WIDE_GRACE_MS);
          }
          return;
        }
        show(current.events.fromNarrow(parsed));
      };
    };

    wide.onmessage = (message) => {
      const parsed = parseObserverMessage(message.data);
      if (parsed === null || parsed.type === 'snapshot' || !alive()) return;
      show(current.events.fromWide(parsed));
      if (current.events.wideDone) wide.close(1000);
      identified();
    };
    wide.onclose = () => {
      if (!alive()) return;
      show(current.events.wideClosed());
    };

    setState({ kind: 'connecting', url: current.url });
    if (transport === 'browser') openBrowser(current, alive);
    else openFrames(current, origin, alive, identified);
  }

  function openBrowser(current: Session, alive: () => boolean): void {
    const ws = track(current, new WebSocket(current.url));
    ws.binaryType = 'arraybuffer';
    current.browser = ws;
    ws.onopen = () => {
      if (alive()) setState({ kind: 'open', url: current.url, conn: current.events.conn });
    };
    ws.onmessage = (message) => {
      if (!alive()) return;
      const data = message.data;
      note(
        typeof data === 'string'
          ? `your WebSocket's message event: text, ${JSON.stringify(data.length > 40 ? `${data.slice(0, 40)}…` : data)}`
          : `your WebSocket's message event: binary, ${(data as ArrayBuffer).byteLength} bytes`,
      );
    };
    ws.onclose = (event) => {
      if (!alive()) return;
      note(
        `your WebSocket's close event: code ${event.code}, reason ${JSON.stringify(event.reason)}, wasClean ${event.wasClean}`,
      );
      setState({ kind: 'closed', code: event.code, reason: event.reason, clean: event.wasClean });
    };
  }

  function openFrames(
    current: Session,
    origin: string,
    alive: () => boolean,
    identified: () => void,
  ): void {
    const raw = track(current, new WebSocket(webSocketUrl(origin, '/raw')));
    raw.binaryType = 'arraybuffer';
    const client = new FrameClient({
      host: new URL(origin).host,
      path: echoPath(current.events.tag),
    });
    current.raw = raw;
    current.client = client;
    const handle = (events: readonly ClientEvent[]) => {
      for (const event of events) {
        if (event.type === 'open') {
          setState({ kind: 'open', url: current.url, conn: current.events.conn });
        } else if (event.type === 'closed') {
          setState({
            kind: 'closed',
            code: event.code,
            reason: event.reason,
            clean: event.code !== 1006,
          });
        } else if (event.type === 'refused') {
          note(`the server refused the upgrade: ${event.status} ${event.reason}`);
          setState({ kind: 'closed', code: null, reason: '', clean: false });
        } else {
          note(`the connection failed: ${event.explanation}`);
          setState({ kind: 'closed', code: 1006, reason: '', clean: false });
        }
      }
    };
    raw.onmessage = (message) => {
      if (!alive()) return;
      if (typeof message.data === 'string') {
        let status: { type?: string; conn?: number } = {};
        try {
          status = JSON.parse(message.data) as typeof status;
        } catch {
          return;
        }
        if (status.type === 'connected' && typeof status.conn === 'number') {
          show(current.events.identify(status.conn));
          identified();
          raw.send(client.request());
          note('sent the opening handshake, written by this page');
        } else if (status.type === 'closed') {
          handle(client.ended());
        }
        return;
      }
      const step = client.receive(new Uint8Array(message.data as ArrayBuffer));
      for (const bytes of step.send) raw.send(bytes);
      handle(step.events);
    };
    raw.onclose = () => {
      if (alive()) handle(client.ended());
    };
  }

  // ---- wiring --------------------------------------------------------------------------------

  for (const r of transportRadios) {
    r.input.addEventListener('change', () => {
      if (!r.input.checked) return;
      transport = r.input.value as Transport;
      showClosePlan();
      void connect();
    });
  }
  for (const r of formatRadios) {
    r.input.addEventListener('change', () => {
      if (r.input.checked) setFormat(r.input.value as PayloadFormat);
    });
  }
  sendButton.addEventListener('click', sendMessage);
  pingButton.addEventListener('click', sendPing);
  closeButton.addEventListener('click', sendClose);
  codeInput.addEventListener('input', showClosePlan);
  reasonInput.addEventListener('input', showClosePlan);
  reconnect.addEventListener('click', () => void connect());

  setState(state);
  showPlan();
  showClosePlan();
  void connect();

  return {
    dispose() {
      if (disposed) return;
      disposed = true;
      abort?.abort();
      endSession();
      resizeObserver.disconnect();
      themeObserver.disconnect();
      editor.destroy();
      term.dispose();
      element.replaceChildren();
    },
  };
}
