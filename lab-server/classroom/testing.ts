/**
 * Test support for classroom mode: a class on a real lab server on an ephemeral loopback port
 * with a temporary data folder, and a JSON WebSocket client that waits for the message it needs
 * (by type or by `req`) without missing any that arrive in between.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClientOptions, WebSocket } from 'ws';
import { startTestLab, type TestLab } from '../test-support/lab.ts';
import { Classroom, type ClassroomLimits } from './classroom.ts';

export type Json = Record<string, unknown>;

export interface TestClass {
  readonly classroom: Classroom;
  readonly lab: TestLab;
  readonly data: string;
  /** Stops the server and the class; keeps the data folder unless `remove`. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestClass(
  options: { limits?: Partial<ClassroomLimits>; data?: string; name?: string } = {},
): Promise<TestClass> {
  const data = options.data ?? mkdtempSync(join(tmpdir(), 'wslab-class-'));
  const classroom = await Classroom.open({
    data,
    newClass: false,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  const lab = await startTestLab({ endpoints: classroom.endpoints });
  await classroom.attach(lab.lab.context, '127.0.0.1');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await lab.close();
    await classroom.close();
  };
  return {
    classroom,
    lab,
    data,
    stop,
    close: async () => {
      await stop();
      rmSync(data, { recursive: true, force: true });
    },
  };
}

interface Waiter {
  readonly match: (message: Json) => boolean;
  readonly resolve: (message: Json) => void;
}

/** A WebSocket client speaking JSON; every message it got is kept in `received` and `raw`. */
export class JsonClient {
  readonly ws: WebSocket;
  readonly raw: string[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #unread: Json[] = [];
  #waiters: Waiter[] = [];
  #req = 0;

  constructor(url: string, options: ClientOptions = {}) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      this.raw.push(text);
      let message: Json;
      try {
        message = JSON.parse(text) as Json;
      } catch {
        // /echo sends back whatever was sent: keep it as text.
        message = { type: '(text)', text };
      }
      const index = this.#waiters.findIndex((w) => w.match(message));
      if (index === -1) this.#unread.push(message);
      else this.#waiters.splice(index, 1)[0]?.resolve(message);
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => reject(new Error(`unexpected response ${res.statusCode}: ${body}`)));
      });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  static async open(url: string, options: ClientOptions = {}): Promise<JsonClient> {
    const client = new JsonClient(url, options);
    await client.opened;
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message (already received or still to come) that `match` accepts. */
  wait(match: (message: Json) => boolean, timeoutMs = 5000): Promise<Json> {
    const index = this.#unread.findIndex(match);
    if (index !== -1) return Promise.resolve(this.#unread.splice(index, 1)[0] as Json);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `no matching message within ${timeoutMs} ms; unread: ${JSON.stringify(this.#unread).slice(0, 400)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  waitType(type: string, timeoutMs?: number): Promise<Json> {
    return this.wait((m) => m.type === type, timeoutMs);
  }

  /** Sends a message with the next `req` and waits for the answer carrying it. */
  async request(message: Json, timeoutMs?: number): Promise<Json> {
    const req = ++this.#req;
    const answer = this.wait((m) => m.req === req, timeoutMs);
    this.send({ ...message, req });
    return answer;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
    await this.closed;
  }
}

/** A student who joined: the client and what `joined` said. */
export interface TestStudent {
  readonly client: JsonClient;
  readonly id: string;
  readonly token: string;
  readonly liveTag: string;
}

export async function joinStudent(
  base: string,
  code: string,
  name: string,
  options: ClientOptions = {},
): Promise<TestStudent> {
  const client = await JsonClient.open(`${base}/classroom`, options);
  client.send({ type: 'join', code, name });
  const joined = await client.wait((m) => m.type === 'joined' || m.type === 'refused');
  if (joined.type !== 'joined') throw new Error(`refused: ${String(joined.reason)}`);
  const student = joined.student as { id: string };
  return {
    client,
    id: student.id,
    token: joined.token as string,
    liveTag: joined.liveTag as string,
  };
}

export async function openTeacher(
  base: string,
  token: string,
): Promise<{ client: JsonClient; snapshot: Json }> {
  const client = await JsonClient.open(`${base}/teacher`);
  client.send({ type: 'auth', token });
  const snapshot = await client.waitType('snapshot');
  return { client, snapshot };
}
