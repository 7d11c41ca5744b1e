/**
 * The live console's logic, free of the DOM: which annotation events belong to the learner's
 * connection, and what the composer may send.
 */
import { describeCloseCode } from '../../protocol/close-codes.ts';
import { minimalLengthForm } from '../../protocol/frame-encoder.ts';
import type { LengthForm } from '../../protocol/types.ts';
import { parseHex } from '../shared/hex.ts';

/** How the console talks to /echo. */
export type Transport = 'browser' | 'frames';

// ---- finding the learner's own connection -------------------------------------------------

// Shared with the handshake lab; the console keeps exporting them under their old names.
export {
  ConnectionEvents,
  echoPath,
  newTag,
  type ObserverMessage,
  parseObserverMessage,
  tagOf,
} from '../shared/connection-events.ts';

// ---- the composer ---------------------------------------------------------------------------

export type PayloadFormat = 'text' | 'hex';

export type Plan =
  | {
      readonly ok: true;
      readonly payload: Uint8Array;
      /** What will be sent, in a sentence. */
      readonly summary: string;
    }
  | { readonly ok: false; readonly errors: readonly string[] };

const encoder = new TextEncoder();

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;
/** A close reason: the control payload less the 2-byte status code (RFC 6455 §5.5.1). */
export const MAX_CLOSE_REASON = 123;

const LENGTH_FORMS: Record<LengthForm, string> = {
  '7-bit': 'fits the 7-bit length field',
  '16-bit': 'needs the 16-bit extended length (Payload len 126)',
  '64-bit': 'needs the 64-bit extended length (Payload len 127)',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function payloadOf(
  text: string,
  format: PayloadFormat,
): { payload: Uint8Array } | { errors: string[] } {
  if (format === 'text') return { payload: encoder.encode(text) };
  const parsed = parseHex(text);
  if (parsed.errorCount > 0) {
    const errors = parsed.errors.map((e) => e.message);
    const more = parsed.errorCount - parsed.errors.length;
    if (more > 0) errors.push(`…and ${more} more.`);
    return { errors };
  }
  return { payload: parsed.bytes };
}

/** A data message: text as a text frame (opcode 0x1), hex as a binary frame (opcode 0x2). */
export function planMessage(text: string, format: PayloadFormat): Plan {
  const result = payloadOf(text, format);
  if ('errors' in result) return { ok: false, errors: result.errors };
  const { payload } = result;
  const kind = format === 'text' ? 'a text frame (opcode 0x1)' : 'a binary frame (opcode 0x2)';
  return {
    ok: true,
    payload,
    summary: `Sends ${kind} with ${plural(payload.length, 'byte')} of payload, which ${LENGTH_FORMS[minimalLengthForm(payload.length)]} (RFC 6455 §5.2).`,
  };
}

/** A ping (opcode 0x9), which the server answers with a pong carrying the same payload. */
export function planPing(text: string, format: PayloadFormat, transport: Transport): Plan {
  if (transport === 'browser') {
    return {
      ok: false,
      errors: [
        "A browser's WebSocket object cannot send a ping: the WebSocket API has no method for it (browsers do answer the pings a server sends, RFC 6455 §5.5.2). Connect with frames built by this page to send one.",
      ],
    };
  }
  const result = payloadOf(text, format);
  if ('errors' in result) return { ok: false, errors: result.errors };
  const { payload } = result;
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    return {
      ok: false,
      errors: [
        `A ping's payload may be at most ${MAX_CONTROL_PAYLOAD} bytes, like every control frame's (RFC 6455 §5.5); this one is ${payload.length}.`,
      ],
    };
  }
  return {
    ok: true,
    payload,
    summary: `Sends a ping (opcode 0x9) with ${plural(payload.length, 'byte')} of payload; the server must answer with a pong carrying the same bytes (RFC 6455 §5.5.2, §5.5.3).`,
  };
}

export type ClosePlan =
  | {
      readonly ok: true;
      readonly code: number | null;
      readonly reason: string;
      readonly summary: string;
      /** Something the learner should know that does not stop the close. */
      readonly warning: string | null;
    }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Codes `WebSocket.close()` accepts (WHATWG WebSockets standard, the close() method). */
export function browserMayClose(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

export function planClose(codeText: string, reason: string, transport: Transport): ClosePlan {
  const trimmed = codeText.trim();
  const reasonBytes = encoder.encode(reason).length;
  const errors: string[] = [];
  if (reasonBytes > MAX_CLOSE_REASON) {
    errors.push(
      `The reason is ${reasonBytes} bytes of UTF-8; it may be at most ${MAX_CLOSE_REASON}, because a close frame's payload is at most ${MAX_CONTROL_PAYLOAD} bytes and the code takes 2 of them (RFC 6455 §5.5, §5.5.1).`,
    );
  }
  if (trimmed === '') {
    if (reason !== '') {
      errors.push(
        'A reason needs a code: in the close frame the reason follows the 2-byte status code (RFC 6455 §5.5.1).',
      );
    }
    if (errors.length > 0) return { ok: false, errors };
    return {
      ok: true,
      code: null,
      reason: '',
      summary:
        'Sends a close frame with no payload; the receiver then reports 1005, "no status code received", which itself never travels in a frame (RFC 6455 §7.4.1).',
      warning: null,
    };
  }
  if (!/^\d{1,5}$/.test(trimmed) || Number(trimmed) > 65535) {
    errors.push(
      `"${trimmed}" is not a status code: a code is a whole number from 0 to 65535 sent in 2 bytes (RFC 6455 §5.5.1).`,
    );
    return { ok: false, errors };
  }
  const code = Number(trimmed);
  const verdict = describeCloseCode(code);
  let warning: string | null = null;
  if (transport === 'browser' && !browserMayClose(code)) {
    errors.push(
      `Your browser's close() accepts only 1000 or 3000-4999 and throws for ${code} (WHATWG WebSockets standard). Codes 1001-2999 belong to the protocol and its extensions (RFC 6455 §7.4.2), and browsers send those themselves, for example 1001 when you leave the page. Connect with frames built by this page to send any code.`,
    );
  } else if (!verdict.valid) {
    warning = `${verdict.explanation} (${verdict.section}). The lab server will treat it as a protocol error and close with 1002.`;
  }
  if (errors.length > 0) return { ok: false, errors };
  const name = verdict.info?.name ?? (code >= 4000 && code <= 4999 ? 'private use' : '');
  return {
    ok: true,
    code,
    reason,
    summary: `Sends a close frame with code ${code}${name === '' ? '' : ` (${name})`}${reason === '' ? '' : ` and a ${reasonBytes}-byte reason`}; the server answers with its own close frame (RFC 6455 §5.5.1).`,
    warning,
  };
}

// ---- connection state -----------------------------------------------------------------------

export type ConnectionState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'looking' }
  | { readonly kind: 'connecting'; readonly url: string }
  | { readonly kind: 'open'; readonly url: string; readonly conn: number | null }
  | { readonly kind: 'closing'; readonly url: string }
  | {
      readonly kind: 'closed';
      readonly code: number | null;
      readonly reason: string;
      readonly clean: boolean;
    }
  | { readonly kind: 'unavailable' };

export function describeState(state: ConnectionState): string {
  switch (state.kind) {
    case 'idle':
      return 'Not connected.';
    case 'looking':
      return 'Looking for the lab server…';
    case 'connecting':
      return `Connecting to ${state.url}…`;
    case 'open':
      return `Open: ${state.url}${state.conn === null ? '' : `, connection #${state.conn} on the lab server`}.`;
    case 'closing':
      return 'Closing: waiting for the server’s close frame…';
    case 'closed': {
      if (state.code === null || state.code === 1005) {
        return `Closed${state.clean ? '' : ' without a closing handshake'}: no status code (1005).`;
      }
      if (state.code === 1006) {
        return 'Closed abnormally (1006): the connection ended without a close frame (RFC 6455 §7.1.5).';
      }
      const reason = state.reason === '' ? '' : `, reason "${state.reason}"`;
      return `Closed with code ${state.code}${reason}.`;
    }
    case 'unavailable':
      return 'The lab server is not running.';
  }
}
