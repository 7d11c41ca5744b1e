/**
 * The browser's one connection to the class (`/classroom`), shared by everything on the page:
 * the join page, and every exercise of a chapter in classroom mode. It learns from `/lab.json`
 * whether the lab server runs a class, resumes with the saved token, reconnects after a drop,
 * and matches answers to requests by `req`. The state rules are student.ts; this is the thin
 * side that owns the socket and storage.
 */
import { connectLabServer, labServerCandidates } from '../shared/lab-server.ts';
import type {
  Answer,
  ChapterStates,
  ErrorMessage,
  ExerciseMessage,
  PendingMessage,
  StudentMessage,
  ToStudentMessage,
  VerdictMessage,
} from './protocol.ts';
import { CLASSROOM_PATH } from './protocol.ts';
import {
  type ClassSession,
  forgetClass,
  type KeyValueStorage,
  parseServerMessage,
  rememberJoined,
  type StudentEvent,
  type StudentPhase,
  storedSession,
  storedToken,
  studentReducer,
} from './student.ts';

export type RequestAnswer = VerdictMessage | PendingMessage | ErrorMessage;

/** Retry delays after a lost connection, then the last one forever. */
const RETRY_MS = [500, 1000, 2000, 4000, 8000];

function browserStorage(): KeyValueStorage {
  try {
    const local = window.localStorage;
    local.getItem(STORAGE_PROBE);
    return local;
  } catch {
    const memory = new Map<string, string>();
    return {
      getItem: (key) => memory.get(key) ?? null,
      setItem: (key, value) => void memory.set(key, value),
      removeItem: (key) => void memory.delete(key),
    };
  }
}
const STORAGE_PROBE = 'websocket-lab:classroom:probe';

/** Whether the lab server serving (or reachable from) this page runs a class. */
export async function fetchLabInfo(): Promise<{ origin: string; classroom: boolean } | null> {
  for (const origin of labServerCandidates(location)) {
    try {
      const response = await fetch(`${origin}/lab.json`, {
        cache: 'no-store',
        signal: AbortSignal.timeout(3000),
      });
      if (!response.ok) continue;
      const info = (await response.json()) as { classroom?: unknown } | null;
      return { origin, classroom: info?.classroom === true };
    } catch {
      // Not this one (nothing listens, or a static copy of the site with no lab server).
    }
  }
  return null;
}

export class ClassroomClient {
  readonly #storage: KeyValueStorage;
  #phase: StudentPhase = { phase: 'checking' };
  #socket: WebSocket | null = null;
  #origin: string | null = null;
  #nextReq = 1;
  readonly #requests = new Map<number, (answer: RequestAnswer) => void>();
  /** `exercise` requests carry no `req`: answers are matched by exercise id. */
  readonly #exerciseWaiters = new Map<
    string,
    ((answer: ExerciseMessage | ErrorMessage) => void)[]
  >();
  readonly #phaseListeners = new Set<(phase: StudentPhase) => void>();
  #retry = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #started = false;
  #closed = false;

  constructor(storage: KeyValueStorage = browserStorage()) {
    this.#storage = storage;
  }

  get phase(): StudentPhase {
    return this.#phase;
  }

  /** What this browser remembers of its class, even before the server answers. */
  get remembered(): ClassSession | null {
    return storedToken(this.#storage) === null ? null : storedSession(this.#storage);
  }

  get chapters(): ChapterStates | null {
    return this.#phase.phase === 'joined' ? this.#phase.chapters : null;
  }

  /** Calls `listener` now and on every change; returns the unsubscribe. */
  onPhase(listener: (phase: StudentPhase) => void): () => void {
    this.#phaseListeners.add(listener);
    listener(this.#phase);
    return () => this.#phaseListeners.delete(listener);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    void this.#probe();
  }

  /** Tries again from the start (after "not running" or "classroom mode is off"). */
  retry(): void {
    this.#phase = { phase: 'checking' };
    this.#emit();
    void this.#probe();
  }

  join(code: string, name: string): void {
    if (this.#send({ type: 'join', code, name })) this.#dispatch({ type: 'join-sent' });
  }

  /** Forgets the class in this browser; the server keeps the student's results. */
  leave(): void {
    forgetClass(this.#storage);
    this.#failAll('You left the class.');
    const socket = this.#socket;
    if (socket === null) {
      this.#emit();
      return;
    }
    // A fresh connection, so nothing of the old student lingers on this one.
    this.#socket = null;
    socket.close(1000, 'left the class');
    this.#phase = { phase: 'connecting' };
    this.#emit();
    void this.#connect();
  }

  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#socket?.close(1000, 'page closed');
  }

  exercise(id: string): Promise<ExerciseMessage | ErrorMessage> {
    return new Promise((resolve) => {
      const list = this.#exerciseWaiters.get(id) ?? [];
      list.push(resolve);
      this.#exerciseWaiters.set(id, list);
      if (list.length === 1 && !this.#send({ type: 'exercise', id })) {
        this.#exerciseWaiters.delete(id);
        resolve({ type: 'error', reason: 'Not connected to the class server.' });
      }
    });
  }

  submit(id: string, answer: Answer): Promise<RequestAnswer> {
    return this.#request((req) => ({ type: 'submit', req, id, answer }));
  }

  checkLive(id: string): Promise<RequestAnswer> {
    return this.#request((req) => ({ type: 'check-live', req, id }));
  }

  reveal(id: string): Promise<RequestAnswer> {
    return this.#request((req) => ({ type: 'reveal', req, id }));
  }

  #request(make: (req: number) => StudentMessage): Promise<RequestAnswer> {
    const req = this.#nextReq++;
    return new Promise((resolve) => {
      this.#requests.set(req, resolve);
      if (!this.#send(make(req))) {
        this.#requests.delete(req);
        resolve({
          type: 'error',
          req,
          reason: 'Not connected to the class server; nothing was sent. Try again in a moment.',
        });
      }
    });
  }

  async #probe(): Promise<void> {
    const info = await fetchLabInfo();
    if (info === null) return this.#dispatch({ type: 'unreachable' });
    this.#origin = info.origin;
    this.#dispatch({ type: 'lab-info', classroom: info.classroom });
    if (info.classroom) await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const result = await connectLabServer(
      CLASSROOM_PATH,
      this.#origin === null ? {} : { candidates: [this.#origin] },
    );
    if (this.#closed) {
      if (result.ok) result.connection.socket.close(1000, 'page closed');
      return;
    }
    if (!result.ok) {
      this.#dispatch({
        type: 'socket-closed',
        reason: `No answer from ${result.tried.join(' or ')}.`,
      });
      this.#scheduleRetry();
      return;
    }
    const socket = result.connection.socket;
    this.#socket = socket;
    socket.addEventListener('message', (event) => {
      const message = parseServerMessage(event.data);
      if (message !== null) this.#receive(message);
    });
    socket.addEventListener('close', (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#failAll(
        'The connection to the class server closed before it answered; if this was an answer, it may not have been stored: send it again.',
      );
      this.#dispatch({
        type: 'socket-closed',
        reason: `The connection to the class server closed (${event.code}${event.reason === '' ? '' : `: ${event.reason}`}).`,
      });
      this.#scheduleRetry();
    });
    const token = storedToken(this.#storage);
    if (token !== null) this.#send({ type: 'resume', token });
    this.#dispatch({ type: 'socket-open', token });
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== null) return;
    const delay = RETRY_MS[Math.min(this.#retry, RETRY_MS.length - 1)] ?? 8000;
    this.#retry++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, delay);
  }

  #receive(message: ToStudentMessage): void {
    switch (message.type) {
      case 'joined':
        this.#retry = 0;
        rememberJoined(this.#storage, message);
        break;
      case 'refused':
        // A refused resume: that token is of no use any more (a new class, another server).
        if (this.#phase.phase === 'resuming') forgetClass(this.#storage);
        break;
      case 'exercise': {
        const waiters = this.#exerciseWaiters.get(message.id) ?? [];
        this.#exerciseWaiters.delete(message.id);
        for (const resolve of waiters) resolve(message);
        break;
      }
      case 'verdict':
      case 'pending':
        this.#answer(message.req, message);
        break;
      case 'error':
        if (message.req !== undefined) this.#answer(message.req, message);
        else {
          // An error with no `req` answers an `exercise` request (or a join); it names no id,
          // so every exercise still waiting gets it.
          for (const [id, waiters] of this.#exerciseWaiters) {
            this.#exerciseWaiters.delete(id);
            for (const resolve of waiters) resolve(message);
          }
        }
        break;
      default:
        break;
    }
    this.#dispatch({ type: 'message', message });
  }

  #answer(req: number, message: RequestAnswer): void {
    const resolve = this.#requests.get(req);
    if (resolve === undefined) return;
    this.#requests.delete(req);
    resolve(message);
  }

  #failAll(reason: string): void {
    for (const [req, resolve] of this.#requests) resolve({ type: 'error', req, reason });
    this.#requests.clear();
    for (const waiters of this.#exerciseWaiters.values()) {
      for (const resolve of waiters) resolve({ type: 'error', reason });
    }
    this.#exerciseWaiters.clear();
  }

  #send(message: StudentMessage): boolean {
    const socket = this.#socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  #dispatch(event: StudentEvent): void {
    const next = studentReducer(this.#phase, event);
    if (next === this.#phase) return;
    this.#phase = next;
    this.#emit();
  }

  #emit(): void {
    for (const listener of this.#phaseListeners) listener(this.#phase);
  }
}

let shared: ClassroomClient | null = null;

/** The page's one client, started on first use. */
export function classroomClient(): ClassroomClient {
  if (shared === null) {
    shared = new ClassroomClient();
    shared.start();
  }
  return shared;
}
