import type { WebSocket } from 'ws';
import { describeCloseCode } from '../protocol/close-codes.ts';

/**
 * How an /echo connection ends, from its query string (chapter 7 shows both orders):
 *
 * - `close=server` makes the server send the first close frame, `after` messages echoed and then
 *   `delay` ms later, with status `code` and `reason`. By default (`close=client`) the server
 *   waits for the client to start the closing handshake, as most servers do.
 * - `fin=client` makes the server wait for the client's TCP FIN before it sends its own, so the
 *   client closes TCP first. By default (`fin=server`) the server ends TCP as soon as the closing
 *   handshake is complete, as RFC 6455 §7.1.1 says it should.
 *
 * Other parameters (the labs' tags, such as `console=`) are left alone.
 */
export interface EchoOptions {
  readonly close: 'client' | 'server';
  /** Messages echoed before the server's close frame. */
  readonly after: number;
  /** Milliseconds between the `after`-th echo (or the open) and the server's close frame. */
  readonly delayMs: number;
  readonly code: number;
  readonly reason: string;
  readonly fin: 'server' | 'client';
}

export const DEFAULT_ECHO_OPTIONS: EchoOptions = {
  close: 'client',
  after: 0,
  delayMs: 0,
  code: 1000,
  reason: '',
  fin: 'server',
};

export const MAX_AFTER = 1000;
export const MAX_DELAY_MS = 60_000;
/** A control frame's payload is at most 125 bytes (RFC 6455 §5.5), 2 of them the status code. */
export const MAX_REASON_BYTES = 123;

const OWN = ['close', 'after', 'delay', 'code', 'reason', 'fin'] as const;
type Own = (typeof OWN)[number];
const SERVER_CLOSE_ONLY: readonly Own[] = ['after', 'delay', 'code', 'reason'];

export type EchoOptionsResult =
  | { readonly ok: true; readonly options: EchoOptions }
  | { readonly ok: false; readonly parameter: string; readonly explanation: string };

const USAGE =
  'Use /echo?close=server&after=N&delay=MS&code=C&reason=TEXT (the server closes first) and/or /echo?fin=client (the server waits for the client to close TCP first).';

/**
 * Reads the close options of an /echo request target strictly: a parameter of its own given
 * twice, with a value it does not know, or where it has no meaning, is refused with the reason,
 * naming the parameter.
 */
export function parseEchoOptions(target: string): EchoOptionsResult {
  const at = target.indexOf('?');
  const query = at === -1 ? '' : target.slice(at + 1);
  const values = new Map<Own, string>();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const name = OWN.find((own) => own === rawName);
    if (name === undefined) continue;
    let value: string;
    try {
      value = decodeURIComponent((eq === -1 ? '' : part.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      return refuse(
        name,
        `${name} is not valid percent-encoded UTF-8 (RFC 3986 §2.1); a close reason must be UTF-8 text (RFC 6455 §5.5.1).`,
      );
    }
    if (values.has(name)) return refuse(name, `${name} is given twice; give it once.`);
    values.set(name, value);
  }

  const close = values.get('close') ?? 'client';
  if (close !== 'client' && close !== 'server') {
    return refuse(
      'close',
      `close must be "server" (the server sends the first close frame) or "client" (the default: the server waits for the client's), not ${quote(close)}. ${USAGE}`,
    );
  }
  const fin = values.get('fin') ?? 'server';
  if (fin !== 'server' && fin !== 'client') {
    return refuse(
      'fin',
      `fin must be "client" (the server waits for the client's TCP FIN before sending its own) or "server" (the default: the server ends TCP once the closing handshake is done, RFC 6455 §7.1.1), not ${quote(fin)}.`,
    );
  }
  if (close !== 'server') {
    const stray = SERVER_CLOSE_ONLY.find((name) => values.has(name));
    if (stray !== undefined) {
      return refuse(
        stray,
        `${stray} applies only when the server closes first: add close=server. ${USAGE}`,
      );
    }
  }

  const after = whole(values.get('after'), 'after', MAX_AFTER, 'messages echoed before the close');
  if (!after.ok) return after;
  const delay = whole(values.get('delay'), 'delay', MAX_DELAY_MS, 'milliseconds before the close');
  if (!delay.ok) return delay;

  let code = DEFAULT_ECHO_OPTIONS.code;
  const codeText = values.get('code');
  if (codeText !== undefined) {
    if (!/^\d{4}$/.test(codeText)) {
      return refuse(
        'code',
        `code must be a status code of four digits such as 1000 or 4000 (RFC 6455 §7.4), not ${quote(codeText)}.`,
      );
    }
    code = Number(codeText);
    const verdict = describeCloseCode(code);
    if (!verdict.valid) {
      return refuse(
        'code',
        `code ${code} cannot be sent: ${verdict.explanation} (${verdict.section})`,
      );
    }
    if (verdict.info?.sentBy === 'client') {
      return refuse(
        'code',
        `code ${code} cannot be sent by a server: ${verdict.explanation} (${verdict.section})`,
      );
    }
  }

  const reason = values.get('reason') ?? '';
  const reasonBytes = new TextEncoder().encode(reason).length;
  if (reasonBytes > MAX_REASON_BYTES) {
    return refuse(
      'reason',
      `reason is ${reasonBytes} bytes of UTF-8; a close frame's payload is at most 125 bytes (RFC 6455 §5.5), 2 of them the status code, so at most ${MAX_REASON_BYTES} bytes are left.`,
    );
  }

  return {
    ok: true,
    options: { close, after: after.value, delayMs: delay.value, code, reason, fin },
  };
}

function refuse(parameter: string, explanation: string): EchoOptionsResult {
  return { ok: false, parameter, explanation };
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

function whole(
  text: string | undefined,
  name: string,
  max: number,
  what: string,
): { ok: true; value: number } | { ok: false; parameter: string; explanation: string } {
  if (text === undefined) return { ok: true, value: 0 };
  if (!/^\d{1,6}$/.test(text) || Number(text) > max) {
    return {
      ok: false,
      parameter: name,
      explanation: `${name} must be a whole number from 0 to ${max} (${what}), not ${quote(text)}.`,
    };
  }
  return { ok: true, value: Number(text) };
}

/** What the lab server needs of the connection to hold back its FIN. */
export interface FinHolder {
  holdFinForClient(): void;
}

/**
 * /echo: every message goes back exactly as it came (text as text, binary as binary; a
 * fragmented message as one message). `ws` answers pings with pongs carrying the same payload
 * (RFC 6455 §5.5.2) and answers a close frame with the same status code (§5.5.1). The server's
 * sweep closes a connection that stays silent too long.
 */
export function echo(
  ws: WebSocket,
  options: EchoOptions = DEFAULT_ECHO_OPTIONS,
  connection?: FinHolder,
): void {
  ws.on('message', echoMessage);
  if (options.fin === 'client') connection?.holdFinForClient();
  if (options.close === 'server') closeFromServer(ws, options);
}

/** The server starts the closing handshake (RFC 6455 §7.1.2) once `after` messages are echoed. */
function closeFromServer(ws: WebSocket, options: EchoOptions): void {
  let echoed = 0;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    // Never in the turn of the upgrade or of a message: the echo and the server's bookkeeping
    // of the new connection come first.
    timer = setTimeout(() => {
      if (ws.readyState === ws.OPEN) ws.close(options.code, options.reason);
    }, options.delayMs);
  };
  if (options.after === 0) schedule();
  else {
    // Registered after echoMessage, so the N-th echo is queued before the close frame.
    const counted = () => {
      echoed++;
      if (echoed === options.after) {
        ws.off('message', counted);
        schedule();
      }
    };
    ws.on('message', counted);
  }
  ws.once('close', () => clearTimeout(timer));
}

const AS_BINARY = { binary: true } as const;
const AS_TEXT = { binary: false } as const;

// One function for every connection, called with the WebSocket as `this`, as ws does itself.
function echoMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  this.send(data, isBinary ? AS_BINARY : AS_TEXT);
}
