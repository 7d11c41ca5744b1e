/**
 * The close timeline lab, without the DOM: what the learner chose becomes an /echo URL and a
 * plan for the page's WebSocket, and the lab server's annotation events of that connection
 * become a two-lane timeline (client / server) of close frames and FINs, with who went first.
 */
import type { LabEvent, Side } from '../../protocol/annotations.ts';
import { describeCloseCode } from '../../protocol/close-codes.ts';
import { closingSummary, visible } from '../../protocol/render-text.ts';
import { echoPath } from '../shared/connection-events.ts';

export interface ClosingChoice {
  /** Who sends the first close frame. */
  readonly closeFrame: Side;
  /** Who sends the first FIN: `server` is /echo's default, `client` is /echo?fin=client. */
  readonly fin: Side;
  /** As typed: the status code and reason of the first close frame. */
  readonly code: string;
  readonly reason: string;
}

export const DEFAULT_CHOICE: ClosingChoice = {
  closeFrame: 'client',
  fin: 'server',
  code: '1000',
  reason: 'done',
};

/** A control frame's payload is at most 125 bytes, 2 of them the code (RFC 6455 §5.5). */
export const MAX_REASON_BYTES = 123;

/** The message the page sends first, so the timeline shows data before the close. */
export const FIRST_MESSAGE = 'hello';

export type Plan =
  | {
      readonly ok: true;
      /** Path and query on the lab server. */
      readonly path: string;
      /** What the page passes to `WebSocket.close()` after the echo, or null: the server closes. */
      readonly clientClose: { readonly code: number; readonly reason: string } | null;
      readonly code: number;
      readonly reason: string;
    }
  | { readonly ok: false; readonly field: 'code' | 'reason'; readonly message: string };

/** Checks what the learner typed and turns it into a URL and the page's part. */
export function planRun(choice: ClosingChoice, tag: string): Plan {
  const codeText = choice.code.trim();
  if (!/^\d{4}$/.test(codeText)) {
    return {
      ok: false,
      field: 'code',
      message: `The status code is a number of four digits, such as 1000 or 4000 (RFC 6455 §7.4); "${visible(codeText)}" is not.`,
    };
  }
  const code = Number(codeText);
  const reason = choice.reason;
  const bytes = new TextEncoder().encode(reason).length;
  if (bytes > MAX_REASON_BYTES) {
    return {
      ok: false,
      field: 'reason',
      message: `The reason is ${bytes} bytes of UTF-8; a close frame carries at most 125 bytes, 2 of them the code, so at most ${MAX_REASON_BYTES} (RFC 6455 §5.5).`,
    };
  }
  if (choice.closeFrame === 'client') {
    // The WebSocket API lets a page send only 1000 or 3000-4999 (WHATWG WebSockets, close()):
    // the other codes are the protocol's own, for the browser to use.
    if (code !== 1000 && (code < 3000 || code > 4999)) {
      const verdict = describeCloseCode(code);
      return {
        ok: false,
        field: 'code',
        message: `A page may close with 1000 or a code from 3000 to 4999 only; the browser refuses ${code} (the WebSocket API's close() throws InvalidAccessError). ${verdict.explanation} (${verdict.section})`,
      };
    }
  } else {
    const verdict = describeCloseCode(code);
    if (!verdict.valid || verdict.info?.sentBy === 'client') {
      return {
        ok: false,
        field: 'code',
        message: `A server may not send ${code}: ${verdict.explanation} (${verdict.section})`,
      };
    }
  }
  const params: string[] = [];
  if (choice.closeFrame === 'server') {
    params.push('close=server', 'after=1', `code=${code}`);
    if (reason !== '') params.push(`reason=${encodeURIComponent(reason)}`);
  }
  if (choice.fin === 'client') params.push('fin=client');
  const path = [echoPath(tag), ...params].join('&');
  return {
    ok: true,
    path,
    clientClose: choice.closeFrame === 'client' ? { code, reason } : null,
    code,
    reason,
  };
}

// ---- the timeline ----------------------------------------------------------------------------

export type RowKind = 'open' | 'message' | 'close-frame' | 'fin' | 'closed';

export interface TimelineRow {
  /** Milliseconds since the lab server accepted the TCP connection. */
  readonly t: number;
  /** Whose action it is: the sender of a frame or FIN. */
  readonly lane: Side;
  readonly kind: RowKind;
  readonly text: string;
  /** The first close frame, or the first FIN. */
  readonly first: boolean;
}

export interface Timeline {
  readonly conn: number | null;
  readonly rows: readonly TimelineRow[];
  readonly closeFrameFirst: Side | null;
  readonly finFirst: Side | null;
  /** The socket closed on the lab server: the timeline is complete. */
  readonly done: boolean;
  /** The lab server's own one-line summary, once the socket closed. */
  readonly summary: string | null;
  /** Who keeps the connection in TIME_WAIT: the side that sent the first FIN. */
  readonly timeWait: Side | null;
  /** Durations worth reading, in order. */
  readonly gaps: readonly { readonly label: string; readonly ms: number }[];
}

const sideOf = (direction: 'client-to-server' | 'server-to-client'): Side =>
  direction === 'client-to-server' ? 'client' : 'server';

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The timeline of one connection from its annotation events, in the order the server saw them. */
export function buildTimeline(events: readonly LabEvent[]): Timeline {
  const own = events.filter((e) => e.type !== 'dropped');
  const opened = own.find((e) => e.type === 'connection-opened');
  const base = opened?.type === 'connection-opened' ? opened.openedAt : (own[0]?.t ?? 0);
  const rows: TimelineRow[] = [];
  let closeFrameFirst: Side | null = null;
  let finFirst: Side | null = null;
  let summary: string | null = null;
  let done = false;
  const closeTimes: number[] = [];
  const finTimes: number[] = [];
  for (const e of own) {
    const t = round(e.t - base);
    switch (e.type) {
      case 'handshake-response':
        rows.push({
          t,
          lane: 'server',
          kind: 'open',
          text: `${e.status} ${visible(e.reason)}${e.status === 101 ? ': the WebSocket is open' : ''}`,
          first: false,
        });
        break;
      case 'message': {
        const lane = sideOf(e.direction);
        const text =
          e.message.text === undefined
            ? `${e.message.type} message, ${e.message.length} bytes`
            : `${e.message.type} message "${visible(e.message.text).slice(0, 40)}"`;
        rows.push({
          t,
          lane,
          kind: 'message',
          text: lane === 'server' ? `echo: ${text}` : text,
          first: false,
        });
        break;
      }
      case 'close-frame': {
        const lane = sideOf(e.direction);
        const first = closeFrameFirst === null;
        if (first) closeFrameFirst = lane;
        closeTimes.push(t);
        const code = e.code === null ? 'no status code' : `${e.code}`;
        const reason = e.reason === '' ? '' : ` "${visible(e.reason)}"`;
        rows.push({
          t,
          lane,
          kind: 'close-frame',
          text: `close frame ${code}${reason}: ${first ? 'starts the closing handshake' : 'the answer; the closing handshake is complete'}`,
          first,
        });
        break;
      }
      case 'fin': {
        const lane = sideOf(e.direction);
        const first = finFirst === null;
        if (first) finFirst = lane;
        finTimes.push(t);
        rows.push({
          t,
          lane,
          kind: 'fin',
          text: `FIN: the ${lane} will send no more bytes`,
          first,
        });
        break;
      }
      case 'socket-closed':
        done = true;
        summary = closingSummary(e);
        rows.push({
          t,
          lane: 'server',
          kind: 'closed',
          text: 'socket closed on the server',
          first: false,
        });
        break;
      default:
        break;
    }
  }
  const gaps: { label: string; ms: number }[] = [];
  const [close1, close2] = closeTimes;
  const [fin1, fin2] = finTimes;
  if (close1 !== undefined && close2 !== undefined) {
    gaps.push({
      label: 'closing handshake (first close frame to the answer)',
      ms: round(close2 - close1),
    });
  }
  if (close2 !== undefined && fin1 !== undefined) {
    gaps.push({ label: 'handshake complete to the first FIN', ms: round(fin1 - close2) });
  }
  if (fin1 !== undefined && fin2 !== undefined) {
    gaps.push({ label: 'first FIN to the second', ms: round(fin2 - fin1) });
  }
  return {
    conn: opened?.conn ?? own[0]?.conn ?? null,
    rows,
    closeFrameFirst,
    finFirst,
    done,
    summary,
    timeWait: finFirst,
    gaps,
  };
}

/** What the timeline says in words, for the summary under it. */
export function describeOutcome(timeline: Timeline): string[] {
  const lines: string[] = [];
  if (timeline.closeFrameFirst !== null) {
    lines.push(
      `The ${timeline.closeFrameFirst} sent the first close frame; the ${other(timeline.closeFrameFirst)} answered with its own (RFC 6455 §7.1.2).`,
    );
  } else if (timeline.done) {
    lines.push(
      'No close frame crossed the wire: the connection ended without a closing handshake, which an API reports as 1006 (RFC 6455 §7.1.5).',
    );
  }
  if (timeline.finFirst === 'server') {
    lines.push(
      'The server sent the first FIN, as RFC 6455 §7.1.1 asks: the server keeps the connection in TIME_WAIT, and the client can reconnect from the same port at once.',
    );
  } else if (timeline.finFirst === 'client') {
    lines.push(
      "The client sent the first FIN: the client's side of this connection now waits in TIME_WAIT for twice the maximum segment lifetime (RFC 9293 §3.6), which RFC 6455 §7.1.1 avoids by asking the server to close first.",
    );
  }
  return lines;
}

function other(side: Side): Side {
  return side === 'client' ? 'server' : 'client';
}
