import { expect } from 'vitest';
import { type ClientOptions, WebSocket } from 'ws';
import { delay } from './lab.ts';

export interface Received {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

/** A `ws` client whose messages queue up from the start, so none is missed between awaits. */
export class WsClient {
  readonly ws: WebSocket;
  readonly messages: Received[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #read = 0;

  constructor(url: string, options: ClientOptions = {}) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    this.ws.on('message', (data, isBinary) => {
      this.messages.push({ data: data as Buffer, isBinary });
    });
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`unexpected response ${res.statusCode}`)),
      );
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  static async open(url: string, options: ClientOptions = {}): Promise<WsClient> {
    const client = new WsClient(url, options);
    await client.opened;
    return client;
  }

  /** The next message not yet read. */
  async next(timeoutMs = 2000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length <= this.#read) {
      if (Date.now() > deadline) throw new Error(`no message within ${timeoutMs} ms`);
      await delay(2);
    }
    return this.messages[this.#read++] as Received;
  }

  async nextJson(timeoutMs = 2000): Promise<Record<string, unknown>> {
    const message = await this.next(timeoutMs);
    return JSON.parse(message.data.toString('utf8')) as Record<string, unknown>;
  }

  get localPort(): number {
    return (this.ws as unknown as { _socket: { localPort: number } })._socket.localPort;
  }

  async close(code?: number, reason?: string): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    } else if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(code, reason);
    }
    return this.closed;
  }
}

/** The server at `wsBase` still serves a new client: a message to /echo comes back. */
export async function expectStillEchoes(wsBase: string): Promise<void> {
  const client = await WsClient.open(`${wsBase}/echo`);
  client.ws.send('alive');
  expect((await client.next()).data.toString()).toBe('alive');
  await client.close();
}
