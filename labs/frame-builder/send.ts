/**
 * Sends a built frame to the lab server and collects its reaction. Works with any WebSocket that
 * has the browser's API (the browser's own, or `ws` in the tests), so the same code runs in the
 * page and against a real lab server in the unit tests.
 *
 *   1. open /raw: the lab server connects a fresh TCP socket to itself and names it (`conn`);
 *   2. open /observe?id=conn and wait for its snapshot, so no annotation of ours is missed;
 *   3. send a valid upgrade to /echo through the relay and wait for the 101;
 *   4. send the built bytes; collect reply frames and annotations;
 *   5. once the server has answered, end politely with a close 1000; if it says nothing, it is
 *      waiting for bytes the frame promised, so end the TCP connection (FIN) instead.
 */
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../protocol/annotations.ts';
import { withClassTag } from '../shared/class-tag.ts';
import { webSocketUrl } from '../shared/lab-server.ts';
import { Exchange, type Outcome } from './exchange.ts';

/** The parts of the WebSocket API used here, shared by browsers and `ws`. */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface SendOptions {
  /** The lab server's HTTP origin, e.g. `http://127.0.0.1:6455`. */
  readonly origin: string;
  readonly frame: Uint8Array;
  readonly open: (url: string) => SocketLike;
  /** Called whenever something new arrived. */
  readonly onUpdate?: (outcome: Outcome, phase: Phase) => void;
  /** Quiet time after a reply before saying goodbye. */
  readonly settleMs?: number;
  /** Time without any reply after which the server is taken to be waiting for more bytes. */
  readonly silenceMs?: number;
  /** Upper bound on the whole exchange. */
  readonly timeoutMs?: number;
}

export type Phase = 'relay' | 'handshake' | 'sent' | 'closing' | 'done';

export interface SendResult {
  readonly outcome: Outcome;
  /** The annotation connection number of the relay's TCP connection. */
  readonly conn: number | null;
  readonly events: readonly LabEvent[];
  /** Set when the relay or the upgrade failed before the frame was sent. */
  readonly error: string | null;
}

export interface Sending {
  readonly done: Promise<SendResult>;
  cancel(): void;
}

const toBytes = (data: unknown): Uint8Array | null =>
  data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : null;

export function sendFrame(options: SendOptions): Sending {
  const settleMs = options.settleMs ?? 400;
  const silenceMs = options.silenceMs ?? 1500;
  // In a class, the relayed upgrade carries the student's live tag too (class-tag.ts).
  const exchange = new Exchange(
    new URL(options.origin).host,
    options.frame,
    withClassTag('/echo?builder=1'),
  );
  let conn: number | null = null;
  let phase: Phase = 'relay';
  let error: string | null = null;
  let observer: SocketLike | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  let resolveDone: (result: SendResult) => void = () => {};
  const done = new Promise<SendResult>((resolve) => {
    resolveDone = resolve;
  });

  const update = () => options.onUpdate?.(exchange.outcome(), phase);
  const later = (ms: number, action: () => void) => {
    clearTimeout(timer);
    timer = setTimeout(action, ms);
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    phase = 'done';
    clearTimeout(timer);
    clearTimeout(overall);
    if (raw.readyState <= 1) raw.close();
    if (observer !== null && observer.readyState <= 1) observer.close();
    update();
    resolveDone({ outcome: exchange.outcome(), conn, events: exchange.events, error });
  };
  // Annotations of the last bytes trail the bytes themselves by a turn or two of the server's
  // event loop: wait a little before closing the observer.
  const finishSoon = () => later(300, finish);
  const overall = setTimeout(() => {
    if (error === null && phase !== 'closing') error = 'The lab server took too long to answer.';
    finish();
  }, options.timeoutMs ?? 8000);

  const raw = options.open(webSocketUrl(options.origin, '/raw'));
  raw.binaryType = 'arraybuffer';
  raw.onerror = () => {
    if (phase === 'relay') error = 'The /raw relay could not be opened.';
  };
  raw.onclose = () => {
    exchange.ended();
    if (phase === 'relay' && error === null) error = 'The /raw relay closed before it connected.';
    finishSoon();
  };
  raw.onmessage = (message) => {
    if (finished) return;
    if (typeof message.data === 'string') {
      let status: { type?: string; conn?: unknown } = {};
      try {
        status = JSON.parse(message.data) as typeof status;
      } catch {
        return;
      }
      if (status.type === 'connected' && typeof status.conn === 'number') {
        conn = status.conn;
        openObserver(status.conn);
      } else if (status.type === 'fin' || status.type === 'closed') {
        exchange.ended();
        update();
        finishSoon();
      }
      return;
    }
    const bytes = toBytes(message.data);
    if (bytes === null) return;
    const result = exchange.receive(bytes);
    if (result === 'open') {
      phase = 'sent';
      raw.send(exchange.frame);
      later(silenceMs, quiet);
    } else if (result === 'refused') {
      error = exchange.outcome().summary;
      finish();
      return;
    } else if (result === 'frames') {
      if (exchange.serverClosed) finishSoon();
      else if (phase === 'sent') later(settleMs, quiet);
    }
    update();
  };

  function openObserver(id: number): void {
    const socket = options.open(webSocketUrl(options.origin, `/observe?id=${id}`));
    observer = socket;
    let ready = false;
    socket.onmessage = (message) => {
      if (typeof message.data !== 'string') return;
      let parsed: { v?: unknown; type?: unknown } | null = null;
      try {
        parsed = JSON.parse(message.data) as { v?: unknown; type?: unknown };
      } catch {
        return;
      }
      if (parsed === null || parsed.v !== ANNOTATION_SCHEMA_VERSION) return;
      if (parsed.type === 'snapshot') {
        if (!ready) {
          ready = true;
          phase = 'handshake';
          raw.send(exchange.request());
          update();
        }
        return;
      }
      exchange.observe(parsed as LabEvent);
      update();
    };
    socket.onerror = () => {
      if (!ready) error = 'The /observe stream could not be opened.';
    };
    socket.onclose = () => {
      if (!ready) finish();
    };
  }

  /** Nothing new for a while: say goodbye after replies, or end TCP after silence. */
  function quiet(): void {
    if (finished || phase !== 'sent') return;
    phase = 'closing';
    if (exchange.replyCount > 0) raw.send(exchange.goodbye());
    else raw.send('end');
    update();
    later(3000, finish);
  }

  return {
    done,
    cancel() {
      error ??= 'Cancelled.';
      finish();
    },
  };
}
