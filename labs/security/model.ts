/**
 * The Origin lab's logic, free of the DOM. A browser cannot choose the Origin of its own
 * `new WebSocket(...)` (the browser sets it, RFC 6455 §4.1 item 8, §10.2), so the lab sends a
 * hand-made upgrade request through the lab server's /raw relay instead: any Origin the learner
 * names, to /echo or /observe, and shows what the lab server really answered, with its
 * annotations of that connection. A second part sends a message of a chosen size from the
 * browser's own WebSocket, to meet the payload limit (1009, RFC 6455 §7.4.1, §10.4).
 *
 * index.ts is the thin view; the run below is a state machine the view feeds with what the relay
 * and the observer say, performing the actions it returns.
 */
import type { LabEvent } from '../../protocol/annotations.ts';
import { describeCloseCode } from '../../protocol/close-codes.ts';
import { closePayload, encodeFrame } from '../../protocol/frame-encoder.ts';
import { buildClientRequest } from '../../protocol/handshake.ts';
import { HttpHeadParser, type ResponseHead } from '../../protocol/http-head.ts';

// ---- which Origin to send -----------------------------------------------------------------------

export type Target = '/echo' | '/observe';
export const TARGETS: readonly Target[] = ['/echo', '/observe'];

export interface OriginPreset {
  readonly id: string;
  readonly label: string;
  /** The Origin header's value, or null to send none at all. */
  readonly origin: string | null;
  /** Why this one is worth trying. */
  readonly note: string;
}

/** The page's origin, as the lab server compares it: `http://127.0.0.1:6455`. */
export function originPresets(pageOrigin: string): OriginPreset[] {
  const page = new URL(pageOrigin);
  const port = page.port === '' ? '' : `:${page.port}`;
  return [
    {
      id: 'own',
      label: 'This page’s own origin',
      origin: page.origin,
      note: 'What your browser sends when one of the lab’s own pages opens a WebSocket.',
    },
    {
      id: 'evil',
      label: 'http://evil.example',
      origin: 'http://evil.example',
      note: 'A page on another site that you happen to visit, trying to drive your local lab server with your browser (cross-site WebSocket hijacking, RFC 6455 §10.2).',
    },
    {
      id: 'null',
      label: 'null',
      origin: 'null',
      note: 'What a browser sends from a sandboxed iframe, a file: page or after some redirects: an opaque origin, which anyone can produce, so it proves nothing.',
    },
    {
      id: 'lookalike',
      label: `http://localhost.evil.example${port}`,
      origin: `http://localhost.evil.example${port}`,
      note: 'A look-alike that starts with “localhost”: a prefix or substring test would let it in; an exact comparison does not.',
    },
    {
      id: 'raw-ip',
      label: `http://192.168.1.20${port}`,
      origin: `http://192.168.1.20${port}`,
      note: 'A raw address on your network: allowed only if the lab was started with --origin for it.',
    },
    {
      id: 'https',
      label: `https://${page.host}`,
      origin: `https://${page.host}`,
      note: 'The same host and port with another scheme: a different origin (RFC 6454 §5), so it is refused too.',
    },
    {
      id: 'none',
      label: 'No Origin header',
      origin: null,
      note: 'What wscat, curl or your own program send: browsers always send Origin, other clients need not (RFC 6455 §4.1).',
    },
  ];
}

/** Longest Origin the lab sends; the server quotes at most 100 characters of it anyway. */
export const MAX_ORIGIN = 200;

export type OriginInput =
  | { readonly ok: true; readonly origin: string }
  | { readonly ok: false; readonly error: string };

/**
 * A typed Origin, read as a header field value (RFC 9110 §5.5): one line of visible ASCII. The
 * server judges what it means; the lab only refuses what cannot travel as a header at all.
 */
export function readOriginInput(text: string): OriginInput {
  const value = text.trim();
  if (value === '') {
    return {
      ok: false,
      error: 'Type an origin such as http://evil.example, or pick “No Origin header” to send none.',
    };
  }
  if (value.length > MAX_ORIGIN) {
    return {
      ok: false,
      error: `That is ${value.length} characters; an origin is a scheme, a host and a port, so the lab sends at most ${MAX_ORIGIN}.`,
    };
  }
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x0d || code === 0x0a) {
      return {
        ok: false,
        error: `Character ${i + 1} is a line break: a header value is one line, and a line break would start a new header (RFC 9112 §5).`,
      };
    }
    if (code < 0x20 || code === 0x7f || code > 0x7e) {
      const shown =
        code > 0x7e ? value[i] : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
      return {
        ok: false,
        error: `Character ${i + 1} (${shown}) cannot travel in a header value, which is visible ASCII (RFC 9110 §5.5). A browser sends an international name in its ASCII form (punycode, xn--…).`,
      };
    }
  }
  return { ok: true, origin: value };
}

/** The upgrade request the lab sends: what a browser sends, but with the chosen Origin. */
export function requestFor(options: {
  readonly host: string;
  readonly target: Target;
  readonly origin: string | null;
  readonly key: string;
}): { readonly text: string; readonly bytes: Uint8Array } {
  const request = buildClientRequest({
    host: options.host,
    path: options.target,
    key: options.key,
    ...(options.origin === null ? {} : { origin: options.origin }),
  });
  return { text: request.text, bytes: request.bytes };
}

// ---- what the server answered -----------------------------------------------------------------

export type Verdict =
  | 'accepted'
  | 'refused-origin'
  | 'refused-host'
  | 'refused-handshake'
  | 'refused-other';

export interface Answer {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  /** The body of a refusal: the server's own explanation. */
  readonly body: string;
  readonly verdict: Verdict;
  /** What the answer means, for the learner. */
  readonly summary: string;
}

/** What a status and body from the lab server mean, given the Origin sent. */
export function judge(status: number, body: string): Verdict {
  if (status === 101) return 'accepted';
  if (status === 403 && body.startsWith('Origin "')) return 'refused-origin';
  if (status === 403 && /^(Host "|The request has no Host)/.test(body)) return 'refused-host';
  if (status === 400 || status === 426) return 'refused-handshake';
  return 'refused-other';
}

function summaryOf(verdict: Verdict, origin: string | null, target: Target): string {
  const sent = origin === null ? 'no Origin header' : `Origin ${JSON.stringify(origin)}`;
  switch (verdict) {
    case 'accepted':
      return origin === null
        ? `101 Switching Protocols: with no Origin header the lab server takes the client for a program that is not a browser (wscat, curl, your own code) and lets it in; browsers always send Origin (RFC 6455 §4.1, §10.2).`
        : `101 Switching Protocols: ${sent} is on the lab server’s allow list, so the upgrade to ${target} went ahead. The lab then closed the connection politely (close 1000).`;
    case 'refused-origin':
      return `403 Forbidden, before any WebSocket existed: ${sent} is not on the allow list, so no frame was ever exchanged (RFC 6455 §4.2.2, §10.2).`;
    case 'refused-host':
      return '403 Forbidden: the Host header does not name this lab server (the DNS rebinding defence).';
    case 'refused-handshake':
      return 'The handshake itself broke a rule of RFC 6455 §4.2.1; the Origin was not even looked at.';
    case 'refused-other':
      return 'The lab server refused the upgrade for another reason: see its explanation below.';
  }
}

// ---- one run through the relay ------------------------------------------------------------------

export type Phase = 'relay' | 'observer' | 'sent' | 'answered' | 'closed';

export type RunAction =
  | { readonly type: 'observe'; readonly conn: number }
  | { readonly type: 'send'; readonly bytes: Uint8Array }
  /** FIN towards the server: a refusal needs nothing more from us. */
  | { readonly type: 'end' }
  | { readonly type: 'phase'; readonly phase: Phase; readonly text: string };

export interface RunOptions {
  readonly host: string;
  readonly target: Target;
  readonly origin: string | null;
  readonly key: string;
  /** The masking key of the close frame sent after a 101 (random unless given). */
  readonly maskingKey?: () => Uint8Array;
}

/** Longest body kept from the server's answer. */
const MAX_BODY = 4096;

/**
 * One request through /raw. Order matters so no annotation is missed: the relay names its TCP
 * connection before writing anything, the observer of that connection is ready (its snapshot
 * arrived) before the request goes, and then the server's bytes come back through the relay.
 */
export class OriginRun {
  readonly options: RunOptions;
  readonly request: { readonly text: string; readonly bytes: Uint8Array };
  readonly events: LabEvent[] = [];
  #phase: Phase = 'relay';
  #conn: number | null = null;
  #parser = new HttpHeadParser({ kind: 'response', maxHeaderBytes: 16 * 1024 });
  #head: ResponseHead | null = null;
  #body: number[] = [];
  #bodyLength = 0;
  #answer: Answer | null = null;

  constructor(options: RunOptions) {
    this.options = options;
    this.request = requestFor(options);
  }

  get phase(): Phase {
    return this.#phase;
  }

  get conn(): number | null {
    return this.#conn;
  }

  get answer(): Answer | null {
    return this.#answer;
  }

  /** A text (status) message from /raw. */
  relayStatus(data: string): RunAction[] {
    let status: { type?: unknown; conn?: unknown };
    try {
      status = JSON.parse(data) as typeof status;
    } catch {
      return [];
    }
    if (status.type === 'connected' && typeof status.conn === 'number' && this.#phase === 'relay') {
      if (status.conn === 0) {
        return [
          this.#to(
            'closed',
            'The lab server could not take another connection (it answered 503, --max-connections).',
          ),
        ];
      }
      this.#conn = status.conn;
      return [
        { type: 'observe', conn: status.conn },
        this.#to(
          'observer',
          `Relay open on connection ${status.conn}; subscribing to its annotations…`,
        ),
      ];
    }
    if ((status.type === 'closed' || status.type === 'fin') && this.#phase !== 'closed') {
      this.#settle();
      return [this.#to('closed', this.#closedText())];
    }
    return [];
  }

  /** The observer's snapshot arrived: nothing of ours can be missed now, so the request goes. */
  observerReady(): RunAction[] {
    if (this.#phase !== 'observer') return [];
    return [
      { type: 'send', bytes: this.request.bytes },
      this.#to(
        'sent',
        `Request sent to ${this.options.target} with ${this.options.origin === null ? 'no Origin header' : `Origin ${JSON.stringify(this.options.origin)}`}; waiting for the answer…`,
      ),
    ];
  }

  /** Bytes the server sent, through the relay. */
  received(bytes: Uint8Array): RunAction[] {
    if (this.#head === null) {
      const result = this.#parser.push(bytes);
      if (result.state === 'need-more') return [];
      if (result.state === 'error') {
        return [
          { type: 'end' },
          this.#to('closed', `The answer is not HTTP: ${result.problem.explanation}`),
        ];
      }
      this.#head = result.head;
      if (result.head.status === 101) {
        this.#settle();
        // A polite goodbye: a masked close frame 1000 (RFC 6455 §5.3, §7.1.2).
        const key = this.options.maskingKey?.() ?? crypto.getRandomValues(new Uint8Array(4));
        return [
          {
            type: 'send',
            bytes: encodeFrame({
              opcode: 0x8,
              payload: closePayload(1000),
              mask: true,
              maskingKey: key,
            }),
          },
          this.#to(
            'answered',
            `101 received on connection ${this.#conn}; the lab says goodbye with a close frame (1000).`,
          ),
        ];
      }
      this.#keepBody(result.rest);
    } else if (this.#head.status !== 101) {
      this.#keepBody(bytes);
    }
    return [];
  }

  #keepBody(bytes: Uint8Array): void {
    for (const byte of bytes.subarray(0, Math.max(0, MAX_BODY - this.#body.length))) {
      this.#body.push(byte);
    }
    this.#bodyLength += bytes.length;
  }

  /** An annotation of our connection from /observe?id=N. */
  event(event: LabEvent): boolean {
    if (event.conn !== this.#conn) return false;
    this.events.push(event);
    return true;
  }

  /** The answer, once the head is in (and, for a refusal, the body: the server ends it). */
  #settle(): void {
    const head = this.#head;
    if (head === null || this.#answer !== null) return;
    const body = new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(this.#body));
    const verdict = judge(head.status, body);
    this.#answer = {
      status: head.status,
      reason: head.reason,
      headers: head.headers.map((h) => ({ name: h.name, value: h.value })),
      body: body.trimEnd(),
      verdict,
      summary: summaryOf(verdict, this.options.origin, this.options.target),
    };
  }

  /** The status line's last words; the answer itself is shown on its own. */
  #closedText(): string {
    if (this.#head === null) return 'The connection closed before the server answered.';
    return `Done: the lab server answered ${this.#head.status}, and connection ${this.#conn ?? ''} is closed.`;
  }

  #to(phase: Phase, text: string): RunAction {
    this.#phase = phase;
    return { type: 'phase', phase, text };
  }
}

// ---- the payload limit --------------------------------------------------------------------------

/** The lab server's default --max-payload (lab-server/limits.ts): 1 MiB. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Largest message the lab lets a page build: big enough to pass any sane limit, small for a tab. */
export const MAX_SEND = 64 * 1024 * 1024;

export interface SizePreset {
  readonly label: string;
  readonly bytes: number;
}

export const SIZE_PRESETS: readonly SizePreset[] = [
  { label: '1 KiB', bytes: 1024 },
  { label: '1 MiB: exactly the default limit', bytes: DEFAULT_MAX_PAYLOAD },
  { label: '1 MiB + 1 byte', bytes: DEFAULT_MAX_PAYLOAD + 1 },
  { label: '4 MiB', bytes: 4 * DEFAULT_MAX_PAYLOAD },
];

export type SizeInput =
  | { readonly ok: true; readonly bytes: number }
  | { readonly ok: false; readonly error: string };

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  byte: 1,
  bytes: 1,
  kb: 1000,
  kib: 1024,
  k: 1024,
  mb: 1000 * 1000,
  mib: 1024 * 1024,
  m: 1024 * 1024,
};

/** "1048577", "1 MiB", "1mib+1", "64 KiB", "1_000": a size in bytes, 1 to MAX_SEND. */
export function readSize(text: string): SizeInput {
  const cleaned = text
    .trim()
    .toLowerCase()
    .replace(/[_,\s]/g, '');
  const match = /^(\d+(?:\.\d+)?)([a-z]*)(?:\+(\d+))?$/.exec(cleaned);
  if (match === null) {
    return {
      ok: false,
      error: `“${text.trim().slice(0, 40)}” is not a size: write a number of bytes (1048577), or with a unit (1 MiB, 64 KiB, 1 MiB + 1).`,
    };
  }
  const unit = UNITS[match[2] ?? ''];
  if (unit === undefined) {
    return {
      ok: false,
      error: `Unknown unit “${match[2]}”: use bytes, KiB (1024), MiB (1024 × 1024), kB or MB.`,
    };
  }
  const bytes = Math.round(Number(match[1]) * unit) + Number(match[3] ?? '0');
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    return { ok: false, error: 'A message of at least 1 byte, please.' };
  }
  if (bytes > MAX_SEND) {
    return {
      ok: false,
      error: `${bytes.toLocaleString('en')} bytes is more than this lab builds (${MAX_SEND.toLocaleString('en')}, 64 MiB): well past the lab server’s limit already.`,
    };
  }
  return { ok: true, bytes };
}

export type SizeOutcome =
  | { readonly kind: 'echoed'; readonly text: string }
  | { readonly kind: 'closed'; readonly code: number; readonly text: string };

/** What came back from /echo for a message of `sent` bytes. */
export function sizeOutcome(
  sent: number,
  result: { echoed: number } | { code: number; reason: string },
): SizeOutcome {
  if ('echoed' in result) {
    return {
      kind: 'echoed',
      text: `Echoed: ${result.echoed.toLocaleString('en')} bytes came back. ${sent.toLocaleString('en')} bytes is within the lab server’s --max-payload.`,
    };
  }
  const described = describeCloseCode(result.code);
  const why =
    result.code === 1009
      ? `A message of ${sent.toLocaleString('en')} bytes is more than the lab server’s --max-payload. Whether your browser sent it as one frame or split it into several, the server adds up the lengths the frame headers announce and closes with 1009 as soon as they pass the limit, before buffering the payload that would go over it (RFC 6455 §7.4.1, §10.4).`
      : result.code === 1006
        ? 'No close frame arrived: the TCP connection ended without the closing handshake (RFC 6455 §7.1.5). Is the lab server still running?'
        : described.explanation;
  const reason = result.reason === '' ? '' : ` Its reason: “${result.reason}”.`;
  return { kind: 'closed', code: result.code, text: `Closed with ${result.code}.${reason} ${why}` };
}
