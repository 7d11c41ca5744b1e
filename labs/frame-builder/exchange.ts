/**
 * One trip of a built frame to the lab server and back, free of the DOM. The view opens the
 * lab server's /raw relay (a fresh TCP connection to the lab server itself), sends `request()`,
 * feeds every byte the relay returns to `receive`, sends the built frame once the 101 has
 * arrived, and feeds the /observe events of that connection to `observe`. This class decides
 * what the reply bytes and the annotations mean; every meaning comes from `protocol/`.
 */

import { generateKey } from '../../protocol/accept.ts';
import type { LabEvent } from '../../protocol/annotations.ts';
import { describeCloseCode } from '../../protocol/close-codes.ts';
import { closePayload, encodeFrame } from '../../protocol/frame-encoder.ts';
import { describeOpcode, FrameParser, parseFrames } from '../../protocol/frame-parser.ts';
import { buildClientRequest } from '../../protocol/handshake.ts';
import { HttpHeadParser } from '../../protocol/http-head.ts';
import type { AnnotatedFrame, Problem } from '../../protocol/types.ts';
import { asciiText } from '../frame-decoder/model.ts';
import { formatHex } from '../shared/hex.ts';

export interface ReplyView {
  readonly heading: string;
  readonly hex: string;
  /** The opcode's meaning, or for a close frame the status code's (RFC 6455 §7.4). */
  readonly meaning: string;
  readonly closeCode: number | null;
  /** True for the frames that answered the builder's own closing close frame. */
  readonly afterGoodbye: boolean;
}

export interface AnnotationView {
  readonly text: string;
  readonly problems: readonly { readonly text: string; readonly section: string }[];
}

export interface Outcome {
  /** One or two sentences: what the server did with the frame. */
  readonly summary: string;
  readonly kind: 'echo' | 'pong' | 'closed' | 'silent' | 'refused' | 'pending';
  readonly closeCode: number | null;
  readonly replies: readonly ReplyView[];
  /** What the lab server's own annotations say about this connection's client frames. */
  readonly annotations: readonly AnnotationView[];
}

export type ReceiveResult = 'need-more' | 'open' | 'refused' | 'frames';

export class Exchange {
  readonly #host: string;
  readonly #path: string;
  readonly #sent: Uint8Array;
  readonly #head = new HttpHeadParser({
    kind: 'response',
    maxHeaderBytes: 16 * 1024,
    maxHeaders: 100,
  });
  #frames: FrameParser | null = null;
  readonly #replies: AnnotatedFrame[] = [];
  #goodbyeAt = -1;
  #status: { code: number; reason: string } | null = null;
  #tcpEnded = false;
  readonly #events: LabEvent[] = [];

  /** `host` is the lab server's host:port; `frame` the built bytes. */
  constructor(host: string, frame: Uint8Array, path = '/echo?builder=1') {
    this.#host = host;
    this.#path = path;
    this.#sent = frame;
  }

  /** The opening handshake (RFC 6455 §4.1), sent before the built frame. */
  request(): Uint8Array {
    return buildClientRequest({ host: this.#host, path: this.#path, key: generateKey() }).bytes;
  }

  get frame(): Uint8Array {
    return this.#sent;
  }

  get open(): boolean {
    return this.#frames !== null;
  }

  receive(chunk: Uint8Array): ReceiveResult {
    if (this.#frames !== null) {
      for (const event of this.#frames.push(chunk)) {
        if (event.kind === 'frame' && event.frame.complete) this.#replies.push(event.frame);
      }
      return 'frames';
    }
    if (this.#status !== null) return 'refused';
    const result = this.#head.push(chunk);
    if (result.state === 'need-more') return 'need-more';
    if (result.state === 'error') {
      this.#status = { code: 0, reason: result.problem.explanation };
      return 'refused';
    }
    if (result.head.status !== 101) {
      this.#status = { code: result.head.status, reason: result.head.reason };
      return 'refused';
    }
    this.#frames = new FrameParser({ direction: 'server-to-client', previewLimit: 125 });
    if (result.rest.length > 0) this.receive(result.rest);
    return 'open';
  }

  observe(event: LabEvent): void {
    this.#events.push(event);
  }

  get events(): readonly LabEvent[] {
    return this.#events;
  }

  /** The TCP connection ended (the relay said so, or closed). */
  ended(): void {
    this.#tcpEnded = true;
  }

  get serverClosed(): boolean {
    return this.#replies.some((f) => f.opcode === 0x8) || this.#tcpEnded;
  }

  get replyCount(): number {
    return this.#replies.length;
  }

  /**
   * A masked close 1000 to end the connection politely once the server has reacted (RFC 6455
   * §5.5.1), so the lab server's terminal shows a clean closing handshake.
   */
  goodbye(): Uint8Array {
    this.#goodbyeAt = this.#replies.length;
    return encodeFrame({ opcode: 0x8, payload: closePayload(1000), mask: true });
  }

  outcome(): Outcome {
    const replies = this.#replies.map((frame, i) =>
      replyView(frame, this.#goodbyeAt >= 0 && i >= this.#goodbyeAt),
    );
    const annotations = this.#annotations();
    if (this.#status !== null) {
      return {
        kind: 'refused',
        closeCode: null,
        summary:
          this.#status.code === 0
            ? `The lab server's answer to the upgrade could not be read: ${this.#status.reason}`
            : `The lab server refused the upgrade: ${this.#status.code} ${this.#status.reason}.`,
        replies,
        annotations,
      };
    }
    const before = this.#goodbyeAt < 0 ? this.#replies : this.#replies.slice(0, this.#goodbyeAt);
    const close = before.find((f) => f.opcode === 0x8);
    const sentCode = this.#sentOpcode();
    if (close !== undefined) {
      const code = close.close?.code ?? null;
      const verdict = code === null ? null : describeCloseCode(code);
      const reason = close.close?.reason ?? '';
      const answered = sentCode === 0x8;
      return {
        kind: 'closed',
        closeCode: code,
        summary: `${answered ? 'The server answered your close frame with its own' : 'The server closed the connection'}: ${
          verdict === null
            ? 'a close frame without a status code'
            : `close code ${verdict.explanation}`
        }${reason === '' ? '' : ` Its reason, "${reason}", names the rule.`} (RFC 6455 §5.5.1, §7.4.1)`,
        replies,
        annotations,
      };
    }
    const data = before.find((f) => f.opcode === 0x1 || f.opcode === 0x2);
    if (data !== undefined) {
      return {
        kind: 'echo',
        closeCode: null,
        summary: `The server echoed your message back as one ${data.opcodeName} frame of ${data.payloadLength} bytes, unmasked, as a server must send it (RFC 6455 §5.1).`,
        replies,
        annotations,
      };
    }
    const pong = before.find((f) => f.opcode === 0xa);
    if (pong !== undefined) {
      return {
        kind: 'pong',
        closeCode: null,
        summary: `The server answered your ping with a pong carrying the same ${pong.payloadLength} bytes (RFC 6455 §5.5.2, §5.5.3).`,
        replies,
        annotations,
      };
    }
    return {
      kind: this.#goodbyeAt >= 0 || this.#tcpEnded ? 'silent' : 'pending',
      closeCode: null,
      summary:
        this.#silence() +
        (this.#tcpEnded && this.#goodbyeAt < 0
          ? ' After waiting, this page ended its side of the TCP connection (a FIN), and the lab server ended its side too, without a close frame: there was no whole message left to answer.'
          : ''),
      replies,
      annotations,
    };
  }

  #sentOpcode(): number {
    return (this.#sent[0] ?? 0) & 0x0f;
  }

  /** Why the server said nothing, judged from the frame the builder sent. */
  #silence(): string {
    const [frame] = parseFrames(this.#sent, {
      direction: 'client-to-server',
      previewLimit: 0,
      continueAfterFailure: true,
    }).frames;
    if (frame === undefined) {
      return 'The server sent nothing back: your bytes do not yet make a whole frame header, so it waits for the rest (RFC 6455 §5.2).';
    }
    if (!frame.complete) {
      return `The server sent nothing back: your header announces ${frame.payloadLength} payload bytes and only ${frame.payloadReceived} came, so it is still waiting for the rest of the frame (RFC 6455 §5.2).`;
    }
    if (!frame.fin && !frame.problems.some((p) => p.fatal)) {
      return 'The server sent nothing back: FIN is 0, so your message is not finished and it waits for continuation frames (RFC 6455 §5.4).';
    }
    if (frame.opcode === 0xa) {
      return 'The server sent nothing back: a pong is a one-way heartbeat that needs no answer (RFC 6455 §5.5.3).';
    }
    return 'The server sent nothing back.';
  }

  #annotations(): AnnotationView[] {
    const views: AnnotationView[] = [];
    for (const event of this.#events) {
      if (event.type === 'frame' && event.direction === 'client-to-server') {
        const f = event.frame;
        views.push({
          text: `Frame from you: ${formatHex(hexBytes(f.headerHex))} ${f.opcodeName}, ${f.payloadLength} byte${f.payloadLength === 1 ? '' : 's'}, ${f.problems.length === 0 ? 'no problems' : `${f.problems.length} problem${f.problems.length === 1 ? '' : 's'}`}.`,
          problems: f.problems.map(problemText),
        });
      } else if (event.type === 'problem') {
        views.push({ text: 'The stream:', problems: [problemText(event.problem)] });
      } else if (event.type === 'close-frame' && event.direction === 'server-to-client') {
        views.push({
          text: `The server ${event.initiated ? 'started' : 'answered'} the closing handshake with code ${event.code ?? 'none'}${event.reason === '' ? '' : `, reason "${event.reason}"`}.`,
          problems: [],
        });
      }
    }
    return views;
  }
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function problemText(problem: Problem): { text: string; section: string } {
  const code = problem.closeCode === null ? '' : ` Close code ${problem.closeCode}.`;
  return { text: `${problem.explanation}${code}`, section: problem.section };
}

function replyView(frame: AnnotatedFrame, afterGoodbye: boolean): ReplyView {
  const bytes = new Uint8Array(frame.header.length + frame.payloadPreview.length);
  bytes.set(frame.header);
  bytes.set(frame.payloadPreview, frame.header.length);
  const opcode = `0x${frame.opcode.toString(16).toUpperCase()} ${frame.opcodeName}`;
  if (frame.opcode === 0x8) {
    const code = frame.close?.code ?? null;
    const reason = frame.close?.reason ?? '';
    return {
      heading: `${opcode}${code === null ? '' : ` ${code}`}${reason === '' ? '' : ` "${reason}"`}`,
      hex: formatHex(bytes),
      meaning:
        code === null
          ? 'A close frame without a status code (RFC 6455 §5.5.1).'
          : describeCloseCode(code).explanation,
      closeCode: code,
      afterGoodbye,
    };
  }
  const payload = frame.unmaskedPreview;
  const shown =
    frame.opcode === 0x1
      ? JSON.stringify(new TextDecoder().decode(payload))
      : payload.length === 0
        ? 'empty'
        : `${formatHex(payload.subarray(0, 16))}${payload.length > 16 ? ' …' : ''} (${asciiText(payload.subarray(0, 16))})`;
  return {
    heading: `${opcode}, ${frame.payloadLength} byte${frame.payloadLength === 1 ? '' : 's'}: ${shown}`,
    hex: formatHex(bytes.subarray(0, 32)) + (bytes.length > 32 ? ' …' : ''),
    meaning: describeOpcode(frame.opcode).meaning,
    closeCode: null,
    afterGoodbye,
  };
}
