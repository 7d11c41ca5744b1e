import { connect, type Socket } from 'node:net';
import { parseWireFrames, type WireFrame } from './frames.ts';

/** The sample key of RFC 6455 §1.3, whose accept value is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=. */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export interface UpgradeRequestOptions {
  readonly path?: string;
  readonly host?: string | null;
  readonly method?: string;
  readonly key?: string | null;
  readonly version?: string | null;
  readonly upgrade?: string | null;
  readonly connection?: string | null;
  readonly origin?: string;
  /** More header lines, sent after the others in this order. */
  readonly extra?: readonly (readonly [string, string])[];
}

/** An upgrade request as text; `null` leaves a header out. */
export function upgradeRequest(options: UpgradeRequestOptions = {}): string {
  const lines = [`${options.method ?? 'GET'} ${options.path ?? '/echo'} HTTP/1.1`];
  const add = (name: string, value: string | null | undefined, fallback: string | null) => {
    const chosen = value === undefined ? fallback : value;
    if (chosen !== null) lines.push(`${name}: ${chosen}`);
  };
  add('Host', options.host, null);
  add('Upgrade', options.upgrade, 'websocket');
  add('Connection', options.connection, 'Upgrade');
  add('Sec-WebSocket-Key', options.key, SAMPLE_KEY);
  add('Sec-WebSocket-Version', options.version, '13');
  if (options.origin !== undefined) lines.push(`Origin: ${options.origin}`);
  for (const [name, value] of options.extra ?? []) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export interface ResponseHeadText {
  readonly text: string;
  readonly length: number;
  readonly status: number;
  readonly statusLine: string;
  /** Header lines in order, with the offset of each line in the received bytes. */
  readonly headers: readonly { name: string; value: string; byteOffset: number }[];
}

/**
 * A plain TCP client that counts every byte it sends and keeps every byte it receives, so a test
 * can compare the lab's annotations with what really crossed the wire.
 */
export class RawClient {
  readonly socket: Socket;
  readonly #sent: Buffer[] = [];
  readonly #received: Buffer[] = [];
  #receivedLength = 0;
  #receivedCache: Buffer | null = null;
  sentLength = 0;
  /** The server's FIN arrived. */
  ended = false;
  closed = false;
  error: Error | null = null;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#received.push(chunk);
      this.#receivedLength += chunk.length;
      this.#receivedCache = null;
      this.#wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.#wake();
    });
    socket.on('error', (error) => {
      this.error = error;
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, allowHalfOpen: true });
      socket.setNoDelay(true);
      const client = new RawClient(socket);
      socket.once('connect', () => {
        client.localPort = socket.localPort as number;
        resolve(client);
      });
      socket.once('error', reject);
    });
  }

  /** The client's port, kept once connected (a closed socket forgets it). */
  localPort = 0;

  /** Writes bytes; returns the offset of their first byte in everything this client sent. */
  write(bytes: Uint8Array | string): number {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
    const offset = this.sentLength;
    this.#sent.push(buffer);
    this.sentLength += buffer.length;
    if (!this.socket.destroyed) this.socket.write(buffer);
    return offset;
  }

  get sent(): Buffer {
    return Buffer.concat(this.#sent);
  }

  get received(): Buffer {
    this.#receivedCache ??= Buffer.concat(this.#received, this.#receivedLength);
    return this.#receivedCache;
  }

  get receivedLength(): number {
    return this.#receivedLength;
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Resolves once `check` holds (checked on every byte, FIN, error and close). */
  until(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve();
      };
      this.#waiters.add(waiter);
    });
  }

  /** The response head, once all of it arrived. */
  async head(timeoutMs = 2000): Promise<ResponseHeadText> {
    await this.until(
      () => this.received.includes('\r\n\r\n') || this.closed,
      'a response head',
      timeoutMs,
    );
    const end = this.received.indexOf('\r\n\r\n');
    if (end === -1) {
      throw new Error(
        `connection closed without a response head; got ${JSON.stringify(this.received.toString('latin1'))}`,
      );
    }
    const text = this.received.subarray(0, end + 4).toString('latin1');
    const lines = text.split('\r\n');
    const statusLine = lines[0] as string;
    const headers: { name: string; value: string; byteOffset: number }[] = [];
    let offset = statusLine.length + 2;
    for (const line of lines.slice(1)) {
      if (line === '') break;
      const colon = line.indexOf(':');
      headers.push({
        name: line.slice(0, colon),
        value: line.slice(colon + 1).trim(),
        byteOffset: offset,
      });
      offset += line.length + 2;
    }
    return {
      text,
      length: end + 4,
      status: Number(statusLine.split(' ')[1]),
      statusLine,
      headers,
    };
  }

  /** Sends an upgrade request and waits for the response head. */
  async upgrade(options: UpgradeRequestOptions = {}): Promise<ResponseHeadText> {
    this.write(upgradeRequest(options));
    return this.head();
  }

  /** The frames received after the response head (which must have arrived). */
  frames(): WireFrame[] {
    const end = this.received.indexOf('\r\n\r\n');
    if (end === -1) return [];
    return parseWireFrames(this.received.subarray(end + 4), end + 4).frames;
  }

  /** Waits for a frame that matches, after the response head. */
  async frame(match: (frame: WireFrame) => boolean, what: string, timeoutMs = 2000) {
    await this.until(() => this.frames().some(match), what, timeoutMs);
    return this.frames().find(match) as WireFrame;
  }

  /** Waits for the server's FIN. */
  fin(timeoutMs = 2000): Promise<void> {
    return this.until(() => this.ended || this.closed, "the server's FIN", timeoutMs);
  }

  whenClosed(timeoutMs = 2000): Promise<void> {
    return this.until(() => this.closed, 'the socket to close', timeoutMs);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
