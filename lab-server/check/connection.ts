/**
 * The checker's client: a plain TCP (or TLS) socket that sends exactly the bytes the checker
 * builds, and reads the server's answer through `protocol/`: the response head with the HTTP
 * head parser, then the frames with the frame parser. Nothing here trusts the server: every wait
 * has a timeout, and a server that resets, hangs or floods only ends this one connection.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { encodeFrame, type FrameSpec } from '../../protocol/frame-encoder.ts';
import { FrameParser, parseFrames } from '../../protocol/frame-parser.ts';
import { HttpHeadParser, type ResponseHead } from '../../protocol/http-head.ts';
import type { AnnotatedFrame, Direction, Problem } from '../../protocol/types.ts';
import { isLoopbackHost, type Target } from './target.ts';

/** Largest message the checker reads from a server: its biggest echo is 64 KiB. */
const MAX_READ_PAYLOAD = 1024 * 1024;
/** Bytes of a response head the checker reads before giving up on it. */
const MAX_HEAD_BYTES = 16 * 1024;

/** One thing that crossed the wire, kept to show the learner what happened. */
export interface WireEntry {
  readonly direction: Direction;
  /** What it was, in a few words: `handshake request`, `ping frame`, `FIN`. */
  readonly label: string;
  /** Offset of its first byte in that direction's stream. */
  readonly offset: number;
  /** The bytes as they crossed the wire (a head, or one frame). Empty for FIN. */
  readonly bytes: Uint8Array;
  /** The frame as `protocol/` reads it, for frames. */
  readonly frame?: AnnotatedFrame;
}

export type Received =
  | { readonly kind: 'frame'; readonly frame: AnnotatedFrame }
  /** The server sent FIN: it will send nothing more. */
  | { readonly kind: 'end' }
  /** The socket is gone: reset, or closed after FIN both ways. */
  | { readonly kind: 'closed'; readonly error: string | null }
  /** The stream ended in a way the parser reports (a frame cut short). */
  | { readonly kind: 'problem'; readonly problem: Problem }
  | { readonly kind: 'timeout' };

export type HeadResult =
  | { readonly kind: 'head'; readonly head: ResponseHead; readonly bytes: Uint8Array }
  | { readonly kind: 'bad-head'; readonly problem: Problem; readonly bytes: Uint8Array }
  | { readonly kind: 'end' | 'timeout'; readonly bytes: Uint8Array }
  | { readonly kind: 'closed'; readonly error: string | null; readonly bytes: Uint8Array };

export class ConnectError extends Error {}

/** Opens a connection to the target, within `timeoutMs`; throws ConnectError with a reason. */
export function openConnection(target: Target, timeoutMs: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    const socket: Socket = target.secure
      ? tlsConnect({
          host: target.host,
          port: target.port,
          ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
          // A learner's server on this machine usually has a self-signed certificate.
          rejectUnauthorized: !isLoopbackHost(target.host),
          ALPNProtocols: ['http/1.1'],
        })
      : netConnect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ConnectError(
          `No ${target.secure ? 'TLS ' : 'TCP '}connection to ${where} within ${timeoutMs / 1000} s: is the server running, and listening on that address?`,
        ),
      );
    }, timeoutMs);
    const failed = (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason =
        error.code === 'ECONNREFUSED'
          ? `Nothing is listening on ${where} (connection refused). Start your server, or check the port.`
          : error.code === 'ENOTFOUND'
            ? `The name ${target.host} does not resolve to an address.`
            : `Could not connect to ${where}: ${error.message}`;
      reject(new ConnectError(reason));
    };
    socket.once('error', failed);
    socket.once(target.secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      resolve(new RawConnection(socket));
    });
  });
}

export class RawConnection {
  readonly #socket: Socket;
  /** Everything sent and received, in order. */
  readonly wire: WireEntry[] = [];
  #sentOffset = 0;
  #receivedOffset = 0;
  #headParser: HttpHeadParser<'response'> | null = new HttpHeadParser({
    kind: 'response',
    maxHeaderBytes: MAX_HEAD_BYTES,
  });
  #headBytes: Uint8Array[] = [];
  #head: HeadResult | null = null;
  #frames: FrameParser | null = null;
  readonly #queue: Received[] = [];
  #wake: (() => void) | null = null;
  #ended = false;
  #closed = false;
  #error: string | null = null;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#data(new Uint8Array(chunk)));
    socket.on('end', () => {
      this.#ended = true;
      for (const event of this.#frames?.end() ?? []) {
        if (event.kind === 'problem') this.#queue.push({ kind: 'problem', problem: event.problem });
      }
      this.wire.push({
        direction: 'server-to-client',
        label: 'FIN (TCP half-close)',
        offset: this.#receivedOffset,
        bytes: new Uint8Array(0),
      });
      this.#queue.push({ kind: 'end' });
      this.#notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#error =
        error.code === 'ECONNRESET' ? 'the server reset the connection (RST)' : error.message;
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#queue.push({ kind: 'closed', error: this.#error });
      this.#notify();
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #data(chunk: Uint8Array): void {
    const start = this.#receivedOffset;
    this.#receivedOffset += chunk.length;
    if (this.#headParser !== null) {
      const result = this.#headParser.push(chunk);
      if (result.state === 'need-more') {
        this.#headBytes.push(chunk);
        return;
      }
      this.#headParser = null;
      if (result.state === 'error') {
        this.#headBytes.push(chunk);
        this.#head = { kind: 'bad-head', problem: result.problem, bytes: this.#allHeadBytes() };
        this.#notify();
        return;
      }
      this.#headBytes.push(chunk.subarray(0, chunk.length - result.rest.length));
      const bytes = this.#allHeadBytes();
      this.#head = { kind: 'head', head: result.head, bytes };
      this.wire.push({
        direction: 'server-to-client',
        label: `handshake response (${result.head.status})`,
        offset: 0,
        bytes,
      });
      this.#frames = new FrameParser({
        direction: 'server-to-client',
        maxPayload: MAX_READ_PAYLOAD,
        previewLimit: Number.POSITIVE_INFINITY,
        startOffset: result.headLength,
        onEvent: (event) => {
          if (event.kind === 'frame') {
            this.wire.push({
              direction: 'server-to-client',
              label: `${event.frame.opcodeName} frame`,
              offset: event.frame.streamOffset,
              bytes: frameBytes(event.frame),
              frame: event.frame,
            });
            this.#queue.push({ kind: 'frame', frame: event.frame });
          } else if (event.kind === 'problem') {
            this.#queue.push({ kind: 'problem', problem: event.problem });
          }
        },
      });
      this.#notify();
      if (result.rest.length > 0) this.#frames.push(result.rest);
      this.#notify();
      return;
    }
    if (this.#frames !== null) {
      this.#frames.push(chunk);
      // A frame whose header broke a rule is reported before its payload arrives; a parser that
      // failed reads no further, as a real client would stop (RFC 6455 §7.1.7).
      this.#notify();
    }
    void start;
  }

  #allHeadBytes(): Uint8Array {
    const total = this.#headBytes.reduce((n, b) => n + b.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const piece of this.#headBytes) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  #write(bytes: Uint8Array, label: string, frame?: AnnotatedFrame): void {
    this.wire.push({
      direction: 'client-to-server',
      label,
      offset: this.#sentOffset,
      bytes,
      ...(frame === undefined ? {} : { frame }),
    });
    this.#sentOffset += bytes.length;
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(bytes);
  }

  /** Sends an opening handshake (or any text meant to be one). */
  sendHead(text: string, label = 'handshake request'): void {
    this.#write(new TextEncoder().encode(text), label);
  }

  /** Encodes and sends one frame; masked unless the spec says otherwise (RFC 6455 §5.3). */
  sendFrame(spec: FrameSpec, label?: string): AnnotatedFrame {
    const bytes = encodeFrame({ mask: true, ...spec });
    const parsed = parseFrames(bytes, {
      direction: 'client-to-server',
      previewLimit: Number.POSITIVE_INFINITY,
      startOffset: this.#sentOffset,
      continueAfterFailure: true,
    });
    const frame = parsed.frames[0] as AnnotatedFrame;
    this.#write(bytes, label ?? `${frame.opcodeName} frame`, frame);
    return frame;
  }

  /** Sends FIN: the checker will send nothing more. */
  finish(): void {
    this.wire.push({
      direction: 'client-to-server',
      label: 'FIN (TCP half-close)',
      offset: this.#sentOffset,
      bytes: new Uint8Array(0),
    });
    if (!this.#socket.destroyed) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Waits for the response head. */
  async readHead(timeoutMs: number): Promise<HeadResult> {
    const deadline = Date.now() + timeoutMs;
    while (this.#head === null) {
      if (this.#closed) return { kind: 'closed', error: this.#error, bytes: this.#allHeadBytes() };
      if (this.#ended) return { kind: 'end', bytes: this.#allHeadBytes() };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout', bytes: this.#allHeadBytes() };
      await this.#wait(left);
    }
    return this.#head;
  }

  /** The next thing the server did after the head: a frame, FIN, close, or nothing in time. */
  async next(timeoutMs: number): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const item = this.#queue.shift();
      if (item !== undefined) return item;
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout' };
      await this.#wait(left);
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.#wake === done) this.#wake = null;
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#wake = done;
    });
  }
}

/** A received frame's bytes: its header, then its payload as it came (servers do not mask). */
function frameBytes(frame: AnnotatedFrame): Uint8Array {
  const out = new Uint8Array(frame.header.length + frame.payloadPreview.length);
  out.set(frame.header, 0);
  out.set(frame.payloadPreview, frame.header.length);
  return out;
}
