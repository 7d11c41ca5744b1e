/**
 * The handshake lab: an xterm.js terminal on a real TCP connection to the lab server (through
 * its /raw relay), where the learner types the opening handshake by hand; a second terminal with
 * the lab server's annotations of that very connection; the server's answer explained; and the
 * client port of the connection before and after the 101. The logic is in model.ts.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { generateKey } from '../../protocol/accept.ts';
import type { LabEvent } from '../../protocol/annotations.ts';
import { renderEvent, type Verbosity, visible } from '../../protocol/render-text.ts';
import { ConnectionEvents, newTag, parseObserverMessage } from '../shared/connection-events.ts';
import { h, terms } from '../shared/dom.ts';
import {
  connectLabServer,
  DEFAULT_LAB_SERVER,
  labServerCandidates,
  renderUnavailable,
  unavailableMessage,
  webSocketUrl,
} from '../shared/lab-server.ts';
import { terminalTheme } from '../shared/terminal-theme.ts';
import {
  describeLink,
  describePorts,
  encodeHead,
  explainOutcome,
  type InputMode,
  LineDiscipline,
  type LinkState,
  lastFindings,
  MASKED_CLOSE,
  MASKED_HELLO,
  type PortEvidence,
  ServerBytes,
  type Shown,
  snapshotEntry,
  VARIANTS,
  validRequest,
} from './model.ts';

export interface HandshakeLabOptions {
  readonly labServer?: string;
  readonly headingLevel?: 2 | 3 | 4;
}

export interface MountedLab {
  dispose(): void;
}

let instances = 0;
const NARROW_PX = 560;
/** A FIN this long after an HTTP answer is the server dropping an idle connection. */
const IDLE_CLOSE_MS = 3000;

const MODES: readonly { value: InputMode; label: string }[] = [
  { value: 'http', label: 'HTTP lines (Enter = CRLF)' },
  { value: 'hex', label: 'Hex bytes' },
];

/** One TCP connection through /raw, from the first byte sent to its close. */
interface Link {
  readonly relay: WebSocket;
  readonly events: ConnectionEvents;
  readonly server: ServerBytes;
  readonly seen: LabEvent[];
  readonly queue: Uint8Array[];
  conn: number | null;
  port: number | null;
  openedPort: number | null;
  response: { status: number; reason: string; at: number } | null;
  serverClosed: boolean;
  closed: boolean;
  /** Events of this connection from the current request on, for its findings. */
  since: number;
}

export function mount(element: HTMLElement, options: HandshakeLabOptions = {}): MountedLab {
  const uid = `hs${++instances}`;
  const level = options.headingLevel ?? 3;
  const heading = level <= 2 ? 'h2' : level === 3 ? 'h3' : 'h4';
  const fallback = options.labServer ?? DEFAULT_LAB_SERVER;
  let disposed = false;
  let origin: string | null = null;
  let observer: WebSocket | null = null;
  let link: Link | null = null;
  let verbosity: Verbosity = 'bits';
  let ports: PortEvidence | null = null;
  const discipline = new LineDiscipline();
  const abort = new AbortController();

  // ---- the page ------------------------------------------------------------------------------

  const status = h('p', { class: 'hs-status', role: 'status', 'data-state': 'looking' });
  const missing = h('div', { class: 'hs-missing' });
  const modeRadios = MODES.map(({ value, label }) => {
    const input = h('input', {
      type: 'radio',
      name: `${uid}-mode`,
      value,
      checked: value === 'http',
    });
    input.addEventListener('change', () => {
      if (input.checked) setMode(value);
    });
    return { input, label: h('label', { class: 'hs-inline' }, input, ` ${label}`) };
  });
  const pasteButton = h(
    'button',
    { type: 'button', class: 'hs-button hs-primary' },
    'Paste a valid request',
  );
  const helloButton = h('button', { type: 'button', class: 'lab-chip' }, 'Masked "Hello" frame');
  const closeFrameButton = h('button', { type: 'button', class: 'lab-chip' }, 'Close frame (1000)');
  const newButton = h('button', { type: 'button', class: 'lab-chip' }, 'New connection');
  const wireHost = h('div', { class: 'hs-terminal hs-wire' });
  const feedback = h('div', { class: 'hs-feedback', 'aria-live': 'polite' });
  const variantButtons = VARIANTS.map((variant) => {
    const button = h(
      'button',
      { type: 'button', class: 'hs-button', 'data-variant': variant.id, title: variant.change },
      variant.label,
    );
    button.addEventListener('click', () => breakIt(variant.id));
    return button;
  });
  const answer = h('div', { class: 'hs-answer', id: `${uid}-answer`, 'aria-live': 'polite' });
  const portsBox = h('div', { class: 'hs-ports', 'aria-live': 'polite' });
  const bitsToggle = h('input', { type: 'checkbox', checked: true });
  bitsToggle.addEventListener('change', () => {
    verbosity = bitsToggle.checked ? 'bits' : 'normal';
  });
  const notesHost = h('div', { class: 'hs-terminal hs-notes' });
  const themeProbe = h('span', { class: 'hs-probe', 'aria-hidden': 'true' });

  const root = h(
    'div',
    { class: 'hs' },
    h('div', { class: 'hs-panel' }, status, missing),
    h(
      'section',
      { class: 'hs-section', 'aria-labelledby': `${uid}-wire` },
      h(heading, { id: `${uid}-wire`, class: 'hs-heading' }, 'Your TCP connection'),
      h(
        'p',
        { class: 'hs-note', id: `${uid}-wire-note` },
        'Type the request into the terminal. Enter ends a line with CR LF; an empty line ends the head and sends it, all at once, on a new TCP connection. Ctrl+C drops what you typed; Tab leaves the terminal. After a 101 the terminal takes frame bytes in hex.',
      ),
      h(
        'fieldset',
        { class: 'hs-mode' },
        h('legend', {}, 'Enter sends'),
        ...modeRadios.map((r) => r.label),
      ),
      h(
        'div',
        { class: 'hs-buttons', role: 'group', 'aria-label': 'Helpers' },
        pasteButton,
        helloButton,
        closeFrameButton,
        newButton,
      ),
      wireHost,
      feedback,
    ),
    h(
      'section',
      { class: 'hs-panel', 'aria-labelledby': `${uid}-break` },
      h(heading, { id: `${uid}-break`, class: 'hs-heading' }, 'Break it on purpose'),
      h(
        'p',
        { class: 'hs-note' },
        'Each button sends a valid request with one thing wrong, on a fresh connection, and shows what the server answers and why.',
      ),
      h(
        'div',
        { class: 'hs-buttons', role: 'group', 'aria-label': 'Broken requests' },
        ...variantButtons,
      ),
    ),
    h(
      'section',
      { class: 'hs-panel', 'aria-labelledby': `${uid}-answer-heading` },
      h(heading, { id: `${uid}-answer-heading`, class: 'hs-heading' }, 'The server’s answer'),
      answer,
    ),
    h(
      'section',
      { class: 'hs-panel', 'aria-labelledby': `${uid}-ports-heading` },
      h(heading, { id: `${uid}-ports-heading`, class: 'hs-heading' }, 'Same TCP connection?'),
      portsBox,
    ),
    h(
      'section',
      { class: 'hs-section', 'aria-labelledby': `${uid}-notes` },
      h(
        'div',
        { class: 'hs-bar' },
        h(heading, { id: `${uid}-notes`, class: 'hs-heading' }, 'What the lab server saw'),
        h('label', { class: 'hs-inline' }, bitsToggle, ' Headers bit by bit'),
      ),
      h(
        'p',
        { class: 'hs-note', id: `${uid}-notes-note` },
        'The lab server’s annotations of your connection, read from the bytes on the wire: every header explained, each rule of RFC 6455 §4.2.1 checked, then every frame. Read-only.',
      ),
      notesHost,
      themeProbe,
    ),
  );
  element.replaceChildren(root);
  answer.append(h('p', { class: 'hs-note' }, 'Nothing sent yet.'));
  showPorts();

  // ---- the terminals -------------------------------------------------------------------------

  const font = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace';
  const wire = new Terminal({
    convertEol: false,
    cursorBlink: true,
    scrollback: 2000,
    fontSize: 13,
    lineHeight: 1.2,
    fontFamily: font,
    theme: terminalTheme(themeProbe),
    // WCAG AA for every colour of the theme, gray included.
    minimumContrastRatio: 4.5,
  });
  const notes = new Terminal({
    disableStdin: true,
    cursorBlink: false,
    cursorInactiveStyle: 'none',
    cursorStyle: 'bar',
    scrollback: 5000,
    fontSize: 13,
    lineHeight: 1.2,
    fontFamily: font,
    theme: terminalTheme(themeProbe),
    // WCAG AA for every colour of the theme, gray included.
    minimumContrastRatio: 4.5,
  });
  const fits = [wire, notes].map((term) => {
    const fit = new FitAddon();
    term.loadAddon(fit);
    return fit;
  });
  wire.open(wireHost);
  notes.open(notesHost);
  // Tab must move focus on, not be typed: the page stays usable with the keyboard alone.
  wire.attachCustomKeyEventHandler((event) => event.key !== 'Tab');
  notes.attachCustomKeyEventHandler((event) => event.key !== 'Tab');
  wire.textarea?.setAttribute('aria-label', 'Your TCP connection: type the request here');
  wire.textarea?.setAttribute('aria-describedby', `${uid}-wire-note`);
  notes.textarea?.setAttribute('aria-label', 'What the lab server saw, read-only');
  notes.textarea?.setAttribute('aria-describedby', `${uid}-notes-note`);
  const refit = () => {
    if (disposed) return;
    [wire, notes].forEach((term, i) => {
      const host = i === 0 ? wireHost : notesHost;
      if (host.clientWidth === 0) return;
      const fontSize = host.clientWidth < NARROW_PX ? 11 : 13;
      if (term.options.fontSize !== fontSize) term.options.fontSize = fontSize;
      fits[i]?.fit();
    });
  };
  refit();
  requestAnimationFrame(refit);
  void document.fonts?.ready.then(refit);
  const resizeObserver = new ResizeObserver(() => refit());
  resizeObserver.observe(wireHost);
  resizeObserver.observe(notesHost);
  const themeObserver = new MutationObserver(() => {
    wire.options.theme = terminalTheme(themeProbe);
    notes.options.theme = terminalTheme(themeProbe);
  });
  themeObserver.observe(document.documentElement, { attributeFilter: ['data-theme'] });

  const say = (term: Terminal, lines: readonly string[]) => {
    if (!disposed && lines.length > 0) term.write(`${lines.join('\r\n')}\r\n`);
  };
  /** What this page did, dimmed, on its own line. */
  const note = (text: string) => {
    const pending = discipline.current !== '' ? '\r\n' : '';
    say(wire, [`${pending}\x1b[2m» ${visible(text)}\x1b[22m`]);
  };

  wire.onData((data) => {
    if (origin === null) return;
    for (const action of discipline.input(data)) {
      if (action.type === 'echo') wire.write(action.text);
      else if (action.type === 'error') showFeedback(action.message);
      else if (action.type === 'cancel') showFeedback('');
      else {
        showFeedback('');
        send(action.bytes, action.mode);
      }
    }
  });

  // ---- state ---------------------------------------------------------------------------------

  function setLink(state: LinkState): void {
    status.dataset.state = state.kind;
    status.textContent = describeLink(state);
    const off = state.kind === 'unavailable' || state.kind === 'looking';
    for (const button of [
      pasteButton,
      helloButton,
      closeFrameButton,
      newButton,
      ...variantButtons,
    ]) {
      button.disabled = off;
    }
  }

  function setMode(mode: InputMode): void {
    discipline.mode = mode;
    for (const r of modeRadios) r.input.checked = r.input.value === mode;
  }

  function showFeedback(message: string): void {
    feedback.textContent = message;
    feedback.dataset.kind = message === '' ? '' : 'error';
  }

  function showAnswer(): void {
    const current = link;
    if (current === null || current.response === null) return;
    const outcome = explainOutcome({
      status: current.response.status,
      reason: current.response.reason,
      findings: lastFindings(current.seen.slice(current.since)),
      serverClosed: current.serverClosed,
    });
    answer.dataset.accepted = String(outcome.accepted);
    answer.replaceChildren(
      h('p', { class: 'hs-answer-title' }, outcome.title),
      ...outcome.paragraphs.map((text) => h('p', {}, text)),
    );
  }

  function showPorts(): void {
    if (ports === null) {
      portsBox.replaceChildren(
        h(
          'p',
          { class: 'hs-note' },
          'Complete a handshake to compare the client port of the TCP connection before and after the 101.',
        ),
      );
      return;
    }
    const report = describePorts(ports);
    portsBox.replaceChildren(terms(report.rows, 'hs-terms'));
    if (report.verdict !== '') {
      portsBox.append(
        h('p', { class: 'hs-verdict', 'data-same': String(report.same) }, report.verdict),
      );
    }
  }

  // ---- the lab server ------------------------------------------------------------------------

  async function start(): Promise<void> {
    missing.replaceChildren();
    setLink({ kind: 'looking' });
    const found = await connectLabServer('/observe', {
      candidates: labServerCandidates(location, fallback),
      signal: abort.signal,
    });
    if (disposed) {
      if (found.ok) found.connection.socket.close();
      return;
    }
    if (!found.ok) {
      const message = unavailableMessage(found.tried, location, fallback);
      setLink({ kind: 'unavailable' });
      missing.replaceChildren(renderUnavailable(message, () => void start()));
      say(wire, [`\x1b[31m✗ ${message.title.replace(/`/g, '')}\x1b[39m`]);
      return;
    }
    origin = found.connection.origin;
    listen(found.connection.socket);
    setLink({ kind: 'ready' });
  }

  /** Every annotation, for the connections this lab opens; the events say which is which. */
  function listen(socket: WebSocket): void {
    observer = socket;
    socket.onmessage = (message) => {
      const parsed = parseObserverMessage(message.data);
      if (parsed === null || parsed.type === 'snapshot' || link === null) return;
      shown(link, link.events.fromWide(parsed));
    };
    socket.onclose = () => {
      if (disposed || observer !== socket) return;
      observer = null;
      origin = null;
      void start();
    };
  }

  function shown(current: Link, events: readonly LabEvent[]): void {
    for (const event of events) {
      current.seen.push(event);
      if (event.type === 'connection-opened') {
        current.openedPort = event.client.port;
        if (ports !== null && ports.conn === event.conn) {
          ports = { ...ports, openedPort: event.client.port };
          showPorts();
        }
      }
      say(notes, renderEvent(event, { color: true, verbosity, faint: false }));
    }
    if (events.some((e) => e.type === 'handshake-request')) showAnswer();
  }

  // ---- sending -------------------------------------------------------------------------------

  function usable(current: Link | null): current is Link {
    return current !== null && !current.closed && !current.serverClosed;
  }

  function send(bytes: Uint8Array, mode: InputMode): void {
    if (origin === null) return;
    if (mode === 'http' && usable(link) && !link.server.upgraded) {
      // A connection that answered without switching still speaks HTTP: use it again.
      link.server.requestSent();
      link.response = null;
      link.since = link.seen.length;
      write(link, bytes);
      note(`sent ${bytes.length} bytes on connection #${link.conn} (kept open by the server)`);
      return;
    }
    if (usable(link) && mode === 'hex') {
      write(link, bytes);
      note(`sent ${bytes.length} bytes`);
      return;
    }
    open(bytes);
  }

  function write(current: Link, bytes: Uint8Array): void {
    if (current.conn === null) current.queue.push(bytes);
    else current.relay.send(bytes);
  }

  function endLink(): void {
    const current = link;
    link = null;
    if (current === null) return;
    current.relay.onmessage = null;
    current.relay.onclose = null;
    if (current.relay.readyState <= WebSocket.OPEN) current.relay.close(1000);
  }

  function open(first: Uint8Array): void {
    if (origin === null) return;
    endLink();
    const relay = new WebSocket(webSocketUrl(origin, '/raw'));
    relay.binaryType = 'arraybuffer';
    const current: Link = {
      relay,
      // The relay names its connection; the tag is never in a URL here.
      events: new ConnectionEvents(newTag()),
      server: new ServerBytes(),
      seen: [],
      queue: [first],
      conn: null,
      port: null,
      openedPort: null,
      response: null,
      serverClosed: false,
      closed: false,
      since: 0,
    };
    link = current;
    ports = null;
    showPorts();
    answer.replaceChildren(h('p', { class: 'hs-note' }, 'Waiting for the server…'));
    delete answer.dataset.accepted;
    notes.clear();
    setLink({ kind: 'connecting' });
    const alive = () => link === current && !disposed;

    relay.onmessage = (message) => {
      if (!alive()) return;
      if (typeof message.data === 'string') {
        relayStatus(current, message.data);
        return;
      }
      for (const piece of current.server.push(new Uint8Array(message.data as ArrayBuffer))) {
        showServer(current, piece);
      }
    };
    relay.onclose = () => {
      if (!alive()) return;
      current.closed = true;
      setLink({ kind: 'closed', conn: current.conn });
      if (discipline.mode === 'hex' && current.server.upgraded) setMode('http');
    };
  }

  function relayStatus(current: Link, data: string): void {
    let message: { type?: string; conn?: number; localPort?: number; error?: string | null };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      return;
    }
    if (message.type === 'connected' && typeof message.conn === 'number') {
      current.conn = message.conn;
      current.port = message.localPort ?? null;
      say(wire, [
        `\x1b[2m» TCP connection #${message.conn} opened from 127.0.0.1:${current.port}\x1b[22m`,
      ]);
      setLink({ kind: 'http', conn: message.conn, port: current.port ?? 0 });
      shown(current, current.events.identify(message.conn));
      const queued = current.queue.splice(0);
      for (const bytes of queued) current.relay.send(bytes);
      note(`sent ${queued.reduce((n, bytes) => n + bytes.length, 0)} bytes`);
    } else if (message.type === 'fin') {
      current.serverClosed = true;
      const idle =
        current.response !== null &&
        !current.server.upgraded &&
        performance.now() - current.response.at > IDLE_CLOSE_MS;
      if (idle) {
        // Not an answer to the request: the server let an idle kept-alive connection go.
        note(
          'the server closed the idle connection (FIN): it gives a connection 10 seconds to send its next request head (--handshake-timeout)',
        );
      } else {
        note('the server closed its side of the TCP connection (FIN)');
        showAnswer();
      }
    } else if (message.type === 'closed') {
      current.closed = true;
    }
  }

  function showServer(current: Link, piece: Shown): void {
    if (piece.kind === 'head') {
      current.response = { status: piece.status, reason: piece.reason, at: performance.now() };
      const color = piece.status === 101 ? '32' : '31';
      say(wire, [
        `\x1b[2m« ${piece.length} bytes of response head from the server:\x1b[22m`,
        ...piece.lines.map((line, i) => (i === 0 ? `\x1b[1;${color}m${line}\x1b[22;39m` : line)),
        '',
      ]);
      showAnswer();
      if (piece.status === 101 && current.conn !== null && current.port !== null) {
        setMode('hex');
        setLink({ kind: 'websocket', conn: current.conn, port: current.port });
        void measureAfter(current, current.conn);
      }
    } else if (piece.kind === 'text') {
      say(wire, [`\x1b[2m${piece.text.replace(/\n/g, '\r\n')}\x1b[22m`]);
    } else {
      say(wire, [`\x1b[35m« ${piece.length} bytes of WebSocket frames: ${piece.hex}\x1b[39m`]);
    }
  }

  /** After the 101: ask the lab server which client port connection #N has now. */
  async function measureAfter(current: Link, conn: number): Promise<void> {
    ports = {
      conn,
      relayPort: current.port,
      openedPort: current.openedPort,
      afterPort: null,
      afterRoute: null,
    };
    showPorts();
    if (origin === null) return;
    const probe = new WebSocket(webSocketUrl(origin, `/observe?id=${conn}`));
    probe.onmessage = (message) => {
      probe.onmessage = null;
      probe.close(1000);
      const parsed = parseObserverMessage(message.data);
      if (parsed?.type !== 'snapshot' || link !== current || ports === null) return;
      const entry = snapshotEntry(parsed, conn);
      if (entry === null) return;
      ports = { ...ports, afterPort: entry.port, afterRoute: entry.route };
      showPorts();
    };
  }

  function breakIt(id: string): void {
    const variant = VARIANTS.find((v) => v.id === id);
    if (variant === undefined || origin === null) return;
    discipline.reset();
    setMode('http');
    const lines = variant.lines(new URL(origin).host, generateKey());
    endLink();
    say(wire, [
      '',
      `\x1b[2m» ${visible(variant.change)} Sent on a new connection:\x1b[22m`,
      ...lines.map((l) => visible(l)),
      '',
    ]);
    open(encodeHead(lines));
  }

  function pasteValid(): void {
    if (origin === null) return;
    setMode('http');
    discipline.reset();
    if (usable(link) && link.server.upgraded) endLink();
    const lines = validRequest(new URL(origin).host, generateKey());
    say(wire, [
      '',
      '\x1b[2m» a valid request with a fresh key; press Enter on the empty line to send it\x1b[22m',
    ]);
    for (const action of discipline.input(`${lines.join('\r')}\r`)) {
      if (action.type === 'echo') wire.write(action.text);
    }
    wire.focus();
  }

  function sendHex(hex: string): void {
    setMode('hex');
    if (!usable(link) || !link.server.upgraded) {
      showFeedback(
        'Frames make sense only after a 101: complete a handshake first (send a valid request).',
      );
      return;
    }
    discipline.reset();
    say(wire, [hex]);
    for (const action of discipline.input(`${hex}\r`)) {
      if (action.type === 'send') send(action.bytes, 'hex');
    }
  }

  pasteButton.addEventListener('click', pasteValid);
  helloButton.addEventListener('click', () => sendHex(MASKED_HELLO));
  closeFrameButton.addEventListener('click', () => sendHex(MASKED_CLOSE));
  newButton.addEventListener('click', () => {
    endLink();
    discipline.reset();
    setMode('http');
    ports = null;
    showPorts();
    note('closed the connection; the next request opens a new one');
    setLink({ kind: 'ready' });
  });

  void start();

  return {
    dispose() {
      if (disposed) return;
      disposed = true;
      abort.abort();
      endLink();
      if (observer !== null) {
        observer.onclose = null;
        observer.close(1000);
      }
      resizeObserver.disconnect();
      themeObserver.disconnect();
      wire.dispose();
      notes.dispose();
      element.replaceChildren();
    },
  };
}
