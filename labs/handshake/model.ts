/**
 * The handshake lab's logic, free of the DOM: the terminal's line discipline (what the learner
 * types becomes bytes), the requests the helpers paste, how the server's bytes are shown, and
 * what the server's answer means. index.ts is the thin view around it.
 */
import type { LabEvent, ObserveSnapshot } from '../../protocol/annotations.ts';
import { buildClientRequest, type HandshakeFinding } from '../../protocol/handshake.ts';
import { HttpHeadParser } from '../../protocol/http-head.ts';
import { visible } from '../../protocol/render-text.ts';
import { parseHex } from '../shared/hex.ts';

// ---- the line discipline ---------------------------------------------------------------------

/**
 * `http`: each line is a line of the request head; Enter ends it with CRLF, the line ending
 * HTTP/1.1 requires (RFC 9112 §2.2), and an empty line ends the head and sends it.
 * `hex`: each line is bytes in hex, sent as they are when Enter is pressed.
 */
export type InputMode = 'http' | 'hex';

export type LineAction =
  /** Characters to write to the terminal, so the learner sees what they typed. */
  | { readonly type: 'echo'; readonly text: string }
  | { readonly type: 'send'; readonly bytes: Uint8Array; readonly mode: InputMode }
  | { readonly type: 'error'; readonly message: string }
  /** Ctrl+C: what was typed so far is dropped. */
  | { readonly type: 'cancel' };

/** Longest line kept; a request line or header longer than this is not typed by hand. */
export const MAX_LINE = 16 * 1024;

const encoder = new TextEncoder();

/**
 * A local line editor in front of the TCP connection, like a terminal's cooked mode. It keeps
 * the head until it is complete instead of sending each line as it is typed: the lab server,
 * like any server defending against slow clients, gives a connection a few seconds to send its
 * request head (`--handshake-timeout`, 10 s), far less than typing one takes.
 */
export class LineDiscipline {
  mode: InputMode = 'http';
  #line = '';
  #head: string[] = [];
  #escape: 'none' | 'esc' | 'csi' | 'ss3' = 'none';
  #lastWasCr = false;

  /** The finished lines of the head typed so far. */
  get lines(): readonly string[] {
    return this.#head;
  }

  /** The line being typed. */
  get current(): string {
    return this.#line;
  }

  /** Drops everything typed and not yet sent. */
  reset(): void {
    this.#line = '';
    this.#head = [];
    this.#escape = 'none';
  }

  /** What xterm reports as typed (one key, or a whole paste). */
  input(data: string): LineAction[] {
    const actions: LineAction[] = [];
    let echo = '';
    const flushEcho = () => {
      if (echo !== '') actions.push({ type: 'echo', text: echo });
      echo = '';
    };
    for (const char of data) {
      if (this.#skipEscape(char)) continue;
      const wasCr = this.#lastWasCr;
      this.#lastWasCr = char === '\r';
      if (char === '\n' && wasCr) continue; // CRLF in a paste is one line end
      if (char === '\r' || char === '\n') {
        echo += '\r\n';
        flushEcho();
        actions.push(...this.#endLine());
      } else if (char === '\x7f' || char === '\b') {
        if (this.#line !== '') {
          const chars = [...this.#line];
          const removed = chars.pop() ?? '';
          this.#line = chars.join('');
          echo += '\b \b'.repeat(visible(removed).length);
        }
      } else if (char === '\x03') {
        echo += '^C\r\n';
        flushEcho();
        this.reset();
        actions.push({ type: 'cancel' });
      } else if (char === '\x15') {
        echo += '\b \b'.repeat(visible(this.#line).length);
        this.#line = '';
      } else if (char === '\x1b') {
        this.#escape = 'esc';
      } else if (char === '\t' || char >= ' ') {
        if (this.#line.length >= MAX_LINE) continue;
        this.#line += char;
        echo += char === '\t' ? ' ' : visible(char);
      }
      // Other control characters are not part of a request anyone types: ignored.
    }
    flushEcho();
    return actions;
  }

  /** Escape sequences (arrow keys, bracketed paste markers) move nothing here: skipped. */
  #skipEscape(char: string): boolean {
    switch (this.#escape) {
      case 'none':
        return false;
      case 'esc':
        this.#escape = char === '[' ? 'csi' : char === 'O' ? 'ss3' : 'none';
        return true;
      case 'ss3':
        this.#escape = 'none';
        return true;
      case 'csi':
        // Parameters and intermediates run until a final byte in @ to ~ (ECMA-48 §5.4).
        if (char >= '@' && char <= '~') this.#escape = 'none';
        return true;
    }
  }

  #endLine(): LineAction[] {
    const line = this.#line;
    this.#line = '';
    if (this.mode === 'hex') {
      if (line.trim() === '') return [];
      const parsed = parseHex(line);
      const first = parsed.errors[0];
      if (first !== undefined) return [{ type: 'error', message: first.message }];
      return [{ type: 'send', bytes: parsed.bytes, mode: 'hex' }];
    }
    if (line !== '') {
      this.#head.push(line);
      return [];
    }
    // RFC 9112 §2.2: empty lines before a request line are ignored, so only a head ends here.
    if (this.#head.length === 0) return [];
    const head = this.#head;
    this.#head = [];
    return [{ type: 'send', bytes: encodeHead(head), mode: 'http' }];
  }
}

/** The head's lines, each ended by CRLF, then the empty line that ends the head (RFC 9112 §2.1). */
export function encodeHead(lines: readonly string[]): Uint8Array {
  return encoder.encode(`${lines.map((line) => `${line}\r\n`).join('')}\r\n`);
}

// ---- requests the helpers paste --------------------------------------------------------------

/** A valid opening handshake for /echo, built by protocol/ in the order of RFC 6455 §1.2. */
export function validRequest(host: string, key: string, path = '/echo'): string[] {
  return buildClientRequest({ host, path, key })
    .text.split('\r\n')
    .filter((line) => line !== '');
}

export type VariantId = 'no-upgrade' | 'wrong-version' | 'missing-key' | 'short-key' | 'post';

export interface BrokenVariant {
  readonly id: VariantId;
  /** The button. */
  readonly label: string;
  /** What was broken, in a sentence. */
  readonly change: string;
  readonly lines: (host: string, key: string) => string[];
}

const without = (lines: string[], name: string) =>
  lines.filter((line) => !line.toLowerCase().startsWith(`${name.toLowerCase()}:`));
const replaced = (lines: string[], name: string, value: string) =>
  lines.map((line) =>
    line.toLowerCase().startsWith(`${name.toLowerCase()}:`) ? `${name}: ${value}` : line,
  );

/** Eight bytes of the key: base64 of a nonce half as long as RFC 6455 §4.1 requires. */
export function shortKey(key: string): string {
  const bytes = atob(key).slice(0, 8);
  return btoa(bytes);
}

export const VARIANTS: readonly BrokenVariant[] = [
  {
    id: 'no-upgrade',
    label: 'No Upgrade',
    change: 'The request leaves out the Upgrade header.',
    lines: (host, key) => without(validRequest(host, key), 'Upgrade'),
  },
  {
    id: 'wrong-version',
    label: 'Wrong version',
    change: 'The request asks for Sec-WebSocket-Version: 8, a draft version, instead of 13.',
    lines: (host, key) => replaced(validRequest(host, key), 'Sec-WebSocket-Version', '8'),
  },
  {
    id: 'missing-key',
    label: 'Missing key',
    change: 'The request leaves out Sec-WebSocket-Key.',
    lines: (host, key) => without(validRequest(host, key), 'Sec-WebSocket-Key'),
  },
  {
    id: 'short-key',
    label: 'Short key',
    change: 'The request sends a Sec-WebSocket-Key of 8 random bytes instead of 16.',
    lines: (host, key) => replaced(validRequest(host, key), 'Sec-WebSocket-Key', shortKey(key)),
  },
  {
    id: 'post',
    label: 'POST',
    change: 'The request uses the method POST instead of GET.',
    lines: (host, key) => {
      const [first = '', ...rest] = validRequest(host, key);
      return [first.replace(/^GET /, 'POST '), ...rest];
    },
  },
];

export function variantById(id: string): BrokenVariant | undefined {
  return VARIANTS.find((variant) => variant.id === id);
}

// ---- showing what the server sent ------------------------------------------------------------

export type Shown =
  | {
      readonly kind: 'head';
      /** The head's lines as received, made visible, without their CRLF. */
      readonly lines: readonly string[];
      readonly status: number;
      readonly reason: string;
      readonly length: number;
    }
  | { readonly kind: 'text'; readonly text: string }
  /** Bytes after a 101: WebSocket frames, shown as hex. */
  | { readonly kind: 'frames'; readonly hex: string; readonly length: number };

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Reads what the server sends on the connection: a response head, then its body as text; after
 * a 101 every further byte is a WebSocket frame (RFC 6455 §4.2.2: the server may send frames at
 * once), so it is shown as hex for the annotations to explain.
 */
export class ServerBytes {
  #state: 'head' | 'body' | 'frames' = 'head';
  #parser = new HttpHeadParser({ kind: 'response' });
  #headBytes: number[] = [];

  get upgraded(): boolean {
    return this.#state === 'frames';
  }

  /** A new request went out on a connection still speaking HTTP: a new response is due. */
  requestSent(): void {
    if (this.#state === 'frames') return;
    this.#state = 'head';
    this.#parser = new HttpHeadParser({ kind: 'response' });
    this.#headBytes = [];
  }

  push(chunk: Uint8Array): Shown[] {
    if (chunk.length === 0) return [];
    if (this.#state === 'frames') return [frames(chunk)];
    if (this.#state === 'body') return [{ kind: 'text', text: visibleText(utf8.decode(chunk)) }];
    const result = this.#parser.push(chunk);
    if (result.state === 'need-more') {
      this.#headBytes.push(...chunk);
      return [];
    }
    if (result.state === 'error') {
      this.#state = 'body';
      const bytes = Uint8Array.from([...this.#headBytes, ...chunk]);
      return [{ kind: 'text', text: visibleText(utf8.decode(bytes)) }];
    }
    const used = chunk.length - result.rest.length;
    const headBytes = Uint8Array.from([...this.#headBytes, ...chunk.subarray(0, used)]);
    this.#headBytes = [];
    const lines = utf8
      .decode(headBytes)
      .split('\r\n')
      .filter((line) => line !== '')
      .map((line) => visible(line));
    const { status, reason } = result.head;
    this.#state = status === 101 ? 'frames' : 'body';
    const shown: Shown[] = [{ kind: 'head', lines, status, reason, length: result.headLength }];
    if (result.rest.length > 0) {
      shown.push(
        status === 101
          ? frames(result.rest)
          : { kind: 'text', text: visibleText(utf8.decode(result.rest)) },
      );
    }
    return shown;
  }
}

/** Bytes of frames shown in the terminal; the annotations show every frame in full. */
export const FRAME_PREVIEW = 64;

function frames(bytes: Uint8Array): Shown {
  const shown = Array.from(bytes.subarray(0, FRAME_PREVIEW), (b) =>
    b.toString(16).padStart(2, '0'),
  );
  const more = bytes.length - FRAME_PREVIEW;
  return {
    kind: 'frames',
    hex: more > 0 ? `${shown.join(' ')} … (${more} more)` : shown.join(' '),
    length: bytes.length,
  };
}

/** Text from the wire with its line ends kept and every other control character made visible. */
function visibleText(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => visible(line))
    .join('\n');
}

// ---- what the answer means ---------------------------------------------------------------------

export interface Outcome {
  readonly accepted: boolean;
  readonly title: string;
  readonly paragraphs: readonly string[];
}

export interface OutcomeInput {
  readonly status: number;
  readonly reason: string;
  /** The findings of the lab server's `handshake-request` event, when it arrived. */
  readonly findings: readonly HandshakeFinding[] | null;
  /** The server sent FIN after its answer. */
  readonly serverClosed: boolean;
}

/** Why the server answered as it did, from the rules the lab server's annotation says failed. */
export function explainOutcome({ status, reason, findings, serverClosed }: OutcomeInput): Outcome {
  const answered = `${status} ${reason}`.trim();
  if (status === 101) {
    return {
      accepted: true,
      title: `${answered}: the server accepted the handshake.`,
      paragraphs: [
        'Every rule of RFC 6455 §4.2.1 held, so the server switched protocols. The blank line that ends its response is the last byte of HTTP on this connection: from the next byte on, both sides send WebSocket frames over this same TCP connection (RFC 6455 §4.2.2, §5).',
        'The terminal now takes hex: try the masked "Hello" of RFC 6455 §5.7 and watch it come back.',
      ],
    };
  }
  const failed = (findings ?? []).filter((f) => !f.ok && !f.informational);
  const broken = failed.map((f) => `${f.explanation} (${f.section})`);
  const upgradeMissing = failed.some((f) => f.rule === 'request-upgrade');
  const meaning: Record<number, string> = {
    400: 'Bad Request: the handshake breaks a rule of RFC 6455 §4.2.1, and a server that finds such a request must answer with an HTTP error such as 400 instead of switching (RFC 6455 §4.2.1).',
    403: 'Forbidden: the server refuses this client. Here it is the Host or the Origin: a server answers only to its own names, and may refuse pages from origins it does not trust (RFC 6455 §4.2.2, §10.2).',
    404: 'Not Found: there is no WebSocket endpoint at that path, and a server must answer a request for a service it does not provide with an error such as 404 (RFC 6455 §4.2.2).',
    426: failed.some((f) => f.rule === 'request-version')
      ? 'Upgrade Required: the server does not speak the version you asked for. It must refuse with an error such as 426 and list the versions it does speak in Sec-WebSocket-Version, here 13 (RFC 6455 §4.2.2, §4.4).'
      : 'Upgrade Required: this resource is only reachable by upgrading, and the Upgrade header of the answer names the protocol to ask for (RFC 9110 §15.5.22).',
    431: 'Request Header Fields Too Large: the head was longer than the server accepts (RFC 6585 §5).',
    408: 'Request Timeout: the head did not arrive in time.',
  };
  const paragraphs = [
    meaning[status] ??
      `An ordinary HTTP response: anything but 101 means the connection does not become a WebSocket (RFC 6455 §4.1).`,
  ];
  if (upgradeMissing && status !== 400) {
    paragraphs.push(
      'Without Upgrade: websocket the request is an ordinary GET, so the server answered it as ordinary HTTP. RFC 6455 §4.2.1 would allow a plain 400 Bad Request here too, which is the answer the annotation names for the missing header.',
    );
  }
  if (broken.length > 0) {
    paragraphs.push(
      `The rule${broken.length === 1 ? '' : 's'} the lab server found broken: ${broken.join(' ')}`,
    );
  } else if (findings !== null && status !== 403 && status !== 404) {
    paragraphs.push('Every rule of RFC 6455 §4.2.1 held; the server refused for its own reasons.');
  }
  paragraphs.push(
    serverClosed
      ? 'Then the server closed its side of the TCP connection (its FIN): this connection never became a WebSocket.'
      : 'The connection is still open, and it still speaks HTTP: a corrected request typed now goes over this same TCP connection (RFC 9112 §9.3).',
  );
  return { accepted: false, title: `The server answered ${answered}.`, paragraphs };
}

// ---- the same connection before and after the 101 -----------------------------------------

export interface PortEvidence {
  readonly conn: number;
  /** The relay's own report of the TCP connection it made (its local port). */
  readonly relayPort: number | null;
  /** The client port of the lab server's `connection-opened` event, before any request. */
  readonly openedPort: number | null;
  /** The client port the lab server lists for the connection after the 101. */
  readonly afterPort: number | null;
  /** The route it lists then (`echo` once upgraded). */
  readonly afterRoute: string | null;
}

export interface PortReport {
  readonly same: boolean | null;
  readonly rows: readonly { readonly term: string; readonly description: string }[];
  readonly verdict: string;
}

export function describePorts(evidence: PortEvidence): PortReport {
  const { conn, relayPort, openedPort, afterPort, afterRoute } = evidence;
  const port = (p: number | null) => (p === null ? 'not known yet' : `port ${p}`);
  const rows = [
    {
      term: 'Before the request',
      description: `The lab server accepted TCP connection #${conn} from 127.0.0.1, ${port(openedPort ?? relayPort)}.`,
    },
    {
      term: 'After the 101',
      description:
        afterPort === null
          ? 'Waiting for a 101 on this connection.'
          : `The lab server lists connection #${conn} as a WebSocket (${afterRoute === 'echo' ? '/echo' : (afterRoute ?? 'unknown')}) from ${port(afterPort)}.`,
    },
  ];
  const before = openedPort ?? relayPort;
  if (afterPort === null || before === null) {
    return { same: null, rows, verdict: '' };
  }
  const same = afterPort === before;
  return {
    same,
    rows,
    verdict: same
      ? `Same client port, ${afterPort}, before and after the 101: the WebSocket is the very TCP connection that carried the HTTP request. No new connection was opened.`
      : `The ports differ (${before} and ${afterPort}): these are two different TCP connections.`,
  };
}

/** The connection's entry in an `/observe?id=N` snapshot, taken after the 101. */
export function snapshotEntry(
  snapshot: ObserveSnapshot,
  conn: number,
): { port: number; route: string } | null {
  const entry = snapshot.connections.find((c) => c.conn === conn);
  return entry === undefined ? null : { port: entry.client.port, route: entry.route };
}

/** The findings of the last handshake request in the events, or null. */
export function lastFindings(events: readonly LabEvent[]): readonly HandshakeFinding[] | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (event?.type === 'handshake-request') return event.findings;
  }
  return null;
}

// ---- the connection's state, in words ----------------------------------------------------------

export type LinkState =
  | { readonly kind: 'looking' }
  | { readonly kind: 'unavailable' }
  | { readonly kind: 'ready' }
  | { readonly kind: 'connecting' }
  | { readonly kind: 'http'; readonly conn: number; readonly port: number }
  | { readonly kind: 'websocket'; readonly conn: number; readonly port: number }
  | { readonly kind: 'closed'; readonly conn: number | null };

export function describeLink(state: LinkState): string {
  switch (state.kind) {
    case 'looking':
      return 'Looking for the lab server…';
    case 'unavailable':
      return 'The lab server is not running.';
    case 'ready':
      return 'Ready: type a request. Nothing is connected until you send it.';
    case 'connecting':
      return 'Opening a TCP connection to the lab server…';
    case 'http':
      return `Connection #${state.conn} from port ${state.port} is open and speaks HTTP.`;
    case 'websocket':
      return `Connection #${state.conn} from port ${state.port} is a WebSocket now: type frames in hex.`;
    case 'closed':
      return state.conn === null
        ? 'The connection is closed.'
        : `Connection #${state.conn} is closed. The next request opens a new one.`;
  }
}

/** The masked "Hello" of RFC 6455 §5.7: a frame any client may send. */
export const MASKED_HELLO = '81 85 37 fa 21 3d 7f 9f 4d 51 58';
/** A close frame with code 1000, masked with the same key (RFC 6455 §5.5.1). */
export const MASKED_CLOSE = '88 82 37 fa 21 3d 34 12';
