/**
 * A WebSocket client written with protocol/, for the console's "frames built by this page"
 * connection. The page sends its bytes through the lab server's /raw relay, so it can do what the
 * browser's WebSocket object cannot: send pings, and close with any code. Pure: it turns bytes
 * into events and actions into bytes; the view moves them.
 */
import { generateKey } from '../../protocol/accept.ts';
import { closePayload, encodeFrame } from '../../protocol/frame-encoder.ts';
import { FrameParser } from '../../protocol/frame-parser.ts';
import { buildClientRequest } from '../../protocol/handshake.ts';
import { HttpHeadParser } from '../../protocol/http-head.ts';
import type { ParserEvent } from '../../protocol/types.ts';

export type ClientEvent =
  | { readonly type: 'open' }
  | { readonly type: 'refused'; readonly status: number; readonly reason: string }
  | { readonly type: 'closed'; readonly code: number | null; readonly reason: string }
  | { readonly type: 'failed'; readonly explanation: string };

export interface Step {
  readonly events: readonly ClientEvent[];
  /** Bytes to write to the connection, in order. */
  readonly send: readonly Uint8Array[];
}

export interface FrameClientOptions {
  /** Host header, e.g. `127.0.0.1:6455`. */
  readonly host: string;
  readonly path: string;
  readonly key?: string;
  /** For tests: a fixed masking key instead of a random one per frame (RFC 6455 §5.3). */
  readonly maskingKey?: () => Uint8Array;
}

export type FrameClientState = 'handshake' | 'open' | 'closing' | 'closed';

export class FrameClient {
  readonly #options: FrameClientOptions;
  readonly key: string;
  #state: FrameClientState = 'handshake';
  #head = new HttpHeadParser({ kind: 'response', maxHeaderBytes: 16 * 1024, maxHeaders: 100 });
  #frames: FrameParser | null = null;
  #closeSent = false;

  constructor(options: FrameClientOptions) {
    this.#options = options;
    this.key = options.key ?? generateKey();
  }

  get state(): FrameClientState {
    return this.#state;
  }

  /** The opening handshake request (RFC 6455 §4.1), with no Origin: this is not a browser. */
  request(): Uint8Array {
    return buildClientRequest({ host: this.#options.host, path: this.#options.path, key: this.key })
      .bytes;
  }

  receive(chunk: Uint8Array): Step {
    if (this.#state === 'handshake') {
      const result = this.#head.push(chunk);
      if (result.state === 'need-more') return { events: [], send: [] };
      if (result.state === 'error') {
        this.#state = 'closed';
        return { events: [{ type: 'failed', explanation: result.problem.explanation }], send: [] };
      }
      if (result.head.status !== 101) {
        this.#state = 'closed';
        return {
          events: [{ type: 'refused', status: result.head.status, reason: result.head.reason }],
          send: [],
        };
      }
      this.#state = 'open';
      this.#frames = new FrameParser({ direction: 'server-to-client', previewLimit: 125 });
      const rest = result.rest.length > 0 ? this.receive(result.rest) : { events: [], send: [] };
      return { events: [{ type: 'open' }, ...rest.events], send: rest.send };
    }
    if (this.#frames === null || this.#state === 'closed') return { events: [], send: [] };
    return this.#parsed(this.#frames.push(chunk));
  }

  #parsed(parsed: readonly ParserEvent[]): Step {
    const events: ClientEvent[] = [];
    const send: Uint8Array[] = [];
    for (const event of parsed) {
      if (event.kind !== 'frame' || !event.frame.complete) continue;
      const frame = event.frame;
      if (frame.opcode === 0x9 && this.#state === 'open') {
        // A pong answers a ping with the same payload (RFC 6455 §5.5.2).
        send.push(this.#frame(0xa, frame.unmaskedPreview));
      } else if (frame.opcode === 0x8 && this.#state !== 'closed') {
        const code = frame.close?.code ?? null;
        if (!this.#closeSent) {
          // Answer with a close frame, echoing the status code (RFC 6455 §5.5.1).
          send.push(this.#frame(0x8, code === null ? new Uint8Array(0) : closePayload(code)));
          this.#closeSent = true;
        }
        this.#state = 'closed';
        events.push({ type: 'closed', code, reason: frame.close?.reason ?? '' });
      }
    }
    const failure = this.#frames?.failure;
    if (failure !== null && failure !== undefined && this.#state !== 'closed') {
      this.#state = 'closed';
      events.push({ type: 'failed', explanation: failure.explanation });
    }
    return { events, send };
  }

  #frame(opcode: number, payload: Uint8Array): Uint8Array {
    const key = this.#options.maskingKey?.();
    // Every client frame is masked (RFC 6455 §5.1), with a fresh key each time (§5.3).
    return encodeFrame({
      opcode,
      payload,
      mask: true,
      ...(key === undefined ? {} : { maskingKey: key }),
    });
  }

  text(payload: Uint8Array): Uint8Array {
    return this.#frame(0x1, payload);
  }

  binary(payload: Uint8Array): Uint8Array {
    return this.#frame(0x2, payload);
  }

  ping(payload: Uint8Array): Uint8Array {
    return this.#frame(0x9, payload);
  }

  /** Starts the closing handshake; no code means an empty close frame. */
  close(code: number | null, reason = ''): Uint8Array {
    this.#closeSent = true;
    if (this.#state === 'open') this.#state = 'closing';
    return this.#frame(0x8, code === null ? new Uint8Array(0) : closePayload(code, reason));
  }

  /** The TCP connection ended. */
  ended(): ClientEvent[] {
    if (this.#state === 'closed') return [];
    this.#state = 'closed';
    return [{ type: 'closed', code: 1006, reason: '' }];
  }
}
