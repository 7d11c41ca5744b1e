/**
 * One run of the messages lab against the lab server, as a pure state machine: the view feeds it
 * what the /raw relay and the /observe?id=N observer say and performs the actions it returns.
 *
 * Order matters so that no annotation is missed: the relay names its TCP connection (conn N)
 * before it writes any byte, the observer for conn N is open (its snapshot arrived) before the
 * handshake is sent, and the frames follow only once the annotations show the 101, so a refused
 * upgrade is reported rather than answered with frames the server would read as HTTP.
 */
import type { LabEvent } from '../../protocol/annotations.ts';
import { closePayload, encodeFrame } from '../../protocol/frame-encoder.ts';
import { buildClientRequest } from '../../protocol/handshake.ts';

export type RunPhase = 'relay' | 'observer' | 'handshake' | 'sent' | 'refused' | 'closed';

export type RunAction =
  | { readonly type: 'observe'; readonly conn: number }
  | { readonly type: 'send'; readonly bytes: Uint8Array; readonly what: string }
  | { readonly type: 'phase'; readonly phase: RunPhase; readonly text: string };

export interface RunOptions {
  /** Host header: the lab server's own host and port. */
  readonly host: string;
  readonly key: string;
  /** The encoded client frames, already masked. */
  readonly frames: readonly Uint8Array[];
  /** Masking key for the close frame the run sends to answer the server's. */
  readonly maskingKey?: () => Uint8Array;
  /** The upgrade's target, `/echo` unless a class tags it (labs/shared/class-tag.ts). */
  readonly path?: string;
}

export class LabRun {
  readonly #options: RunOptions;
  #phase: RunPhase = 'relay';
  #conn: number | null = null;
  #closeSent = false;
  readonly events: LabEvent[] = [];

  constructor(options: RunOptions) {
    this.#options = options;
  }

  get phase(): RunPhase {
    return this.#phase;
  }

  get conn(): number | null {
    return this.#conn;
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
      this.#conn = status.conn;
      return [
        { type: 'observe', conn: status.conn },
        this.#to(
          'observer',
          `Relay open: connection ${status.conn}. Subscribing to its annotations…`,
        ),
      ];
    }
    if (status.type === 'closed' && this.#phase !== 'closed') {
      return [this.#to('closed', this.#closedText())];
    }
    return [];
  }

  /** The observer's snapshot arrived: it misses nothing from now on, so the handshake may go. */
  observerReady(): RunAction[] {
    if (this.#phase !== 'observer') return [];
    const request = buildClientRequest({
      host: this.#options.host,
      path: this.#options.path ?? '/echo',
      key: this.#options.key,
    });
    return [
      { type: 'send', bytes: request.bytes, what: 'the opening handshake (GET /echo)' },
      this.#to('handshake', 'Handshake sent; waiting for the 101…'),
    ];
  }

  /** An annotation of our connection. */
  event(event: LabEvent): RunAction[] {
    if (event.conn !== this.#conn) return [];
    this.events.push(event);
    const actions: RunAction[] = [];
    if (event.type === 'handshake-response' && this.#phase === 'handshake') {
      if (event.status !== 101) {
        actions.push(
          this.#to('refused', `The server refused the upgrade: ${event.status} ${event.reason}.`),
        );
        return actions;
      }
      this.#options.frames.forEach((bytes, i) => {
        actions.push({ type: 'send', bytes, what: `frame ${i + 1}` });
      });
      actions.push(
        this.#to(
          'sent',
          `101 Switching Protocols; ${this.#options.frames.length} frame${this.#options.frames.length === 1 ? '' : 's'} sent on connection ${this.#conn}. The server's answers appear below as it annotates them.`,
        ),
      );
    } else if (
      event.type === 'close-frame' &&
      event.direction === 'server-to-client' &&
      event.initiated &&
      !this.#closeSent
    ) {
      // The server started the closing handshake: answer with a close frame echoing its code
      // (RFC 6455 §5.5.1), as a well-behaved client does.
      this.#closeSent = true;
      const key = this.#options.maskingKey?.() ?? crypto.getRandomValues(new Uint8Array(4));
      actions.push({
        type: 'send',
        bytes: encodeFrame({
          opcode: 0x8,
          payload: event.code === null ? new Uint8Array(0) : closePayload(event.code),
          maskingKey: key,
        }),
        what: 'a close frame answering the server’s',
      });
    } else if (event.type === 'close-frame' && event.direction === 'client-to-server') {
      this.#closeSent = true;
    } else if (event.type === 'socket-closed' && this.#phase !== 'closed') {
      actions.push(this.#to('closed', this.#closedText()));
    }
    return actions;
  }

  #closedText(): string {
    return `Connection ${this.#conn ?? '?'} is closed.`;
  }

  #to(phase: RunPhase, text: string): RunAction {
    this.#phase = phase;
    return { type: 'phase', phase, text };
  }
}
