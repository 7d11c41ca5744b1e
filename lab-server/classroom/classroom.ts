/**
 * Classroom mode on the lab server: students join with the class's code and get their own
 * exercise values; their answers are checked here, by the same checkers the browser runs in
 * self-study (`labs/exercises`), and acknowledged only once the log holds them; the teacher's
 * dashboard follows every result live. See `/work/main/.scratch/classroom-contract.md` and
 * `labs/classroom/protocol.ts` for the messages.
 *
 * Trust: the join code gates students, the teacher token gates the dashboard and the exports
 * (both compared in constant time), the server never sends parameters or expected answers, and
 * every socket is rate-limited and size-limited. The lab server has already checked the
 * handshake, Host and Origin (RFC 6455 §10.2) before an endpoint here runs.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import QRCode from 'qrcode';
import type { WebSocket } from 'ws';
import {
  type Answer,
  answerDisplay,
  type ChapterStates,
  CLASSROOM_PATH,
  type ExerciseState,
  exerciseView,
  MAX_MESSAGE_BYTES,
  normaliseJoinCode,
  parseStudentMessage,
  parseTeacherMessage,
  type ResultSummary,
  type SnapshotMessage,
  type StudentMessage,
  type StudentSummary,
  TEACHER_AUTH_TIMEOUT_MS,
  TEACHER_COALESCE_MS,
  TEACHER_PATH,
  type TeacherUpdate,
  type ToStudentMessage,
  type ToTeacherMessage,
  validateDisplayName,
  type WrongAnswerCount,
} from '../../labs/classroom/protocol.ts';
import type { ExerciseProgress } from '../../labs/exercises/progress.ts';
import { allExercises, exerciseById } from '../../labs/exercises/registry.ts';
import {
  canReveal,
  incompleteAnswer,
  paramsFor,
  visibleHints,
} from '../../labs/exercises/session.ts';
import type { Exercise, Verdict } from '../../labs/exercises/types.ts';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../protocol/annotations.ts';
import type { HttpEndpoint, LabContext, WebSocketEndpoint } from '../endpoints.ts';
import { observe } from '../observe.ts';
import type { Registry } from '../registry.ts';
import { resultsCsv, resultsJson } from './export.ts';
import { type ClassFile, type OpenClassOptions, openClassFolder } from './folder.ts';
import { AppendLog, type LogDamage, replayLog, Timings } from './log.ts';
import { ClassState, type LogRecord, readRecord } from './state.ts';

export interface ClassroomLimits {
  /** Students the class accepts; later joins are refused ("class full"). */
  readonly maxStudents: number;
  /** Joins (and failed resumes) per client address: a burst, then this many per minute. */
  readonly joinBurst: number;
  readonly joinsPerMinute: number;
  /** Submissions, live checks and reveals per student: a burst, then this many per second. */
  readonly submitBurst: number;
  readonly submitsPerSecond: number;
  /** Any message per connection: a burst, then this many per second. */
  readonly messageBurst: number;
  readonly messagesPerSecond: number;
  /** Annotation events kept per student for live exercises (oldest go first). */
  readonly liveEventsPerStudent: number;
  readonly maxDashboards: number;
  /** Unsent bytes a dashboard may have waiting; past it, it gets a fresh snapshot later. */
  readonly dashboardBudgetBytes: number;
  /** The dashboard's first message must be auth within this time (the contract's 5 s). */
  readonly teacherAuthTimeoutMs: number;
}

export const DEFAULT_CLASSROOM_LIMITS: ClassroomLimits = {
  maxStudents: 1000,
  joinBurst: 10,
  joinsPerMinute: 20,
  submitBurst: 10,
  submitsPerSecond: 2,
  messageBurst: 60,
  messagesPerSecond: 20,
  liveEventsPerStudent: 1000,
  maxDashboards: 16,
  dashboardBudgetBytes: 4 * 1024 * 1024,
  teacherAuthTimeoutMs: TEACHER_AUTH_TIMEOUT_MS,
};

export interface ClassroomOptions extends OpenClassOptions {
  readonly limits?: Partial<ClassroomLimits>;
  /** Where to tell the teacher about joins (names stripped of control characters). */
  readonly say?: (line: string) => void;
}

/** A token bucket: `capacity` at once, refilled at `perMs` tokens per millisecond. */
class Bucket {
  #tokens: number;
  #last: number;
  constructor(
    readonly capacity: number,
    readonly perMs: number,
  ) {
    this.#tokens = capacity;
    this.#last = Date.now();
  }
  #refill(now: number): void {
    this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#last) * this.perMs);
    this.#last = now;
  }
  /** Takes a token: 0 when there was one, else the milliseconds until there is. */
  take(now = Date.now()): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) / this.perMs);
  }
  has(now = Date.now()): boolean {
    this.#refill(now);
    return this.#tokens >= 1;
  }
  get full(): boolean {
    this.#refill(Date.now());
    return this.#tokens >= this.capacity;
  }
}

/** Where a student's live tasks stand: their tagged /echo connections and the events seen. */
interface LiveRecord {
  /** Open tagged connections. */
  readonly open: Set<number>;
  /** The seq of each connection's first event (connection-opened), for "attempts after". */
  readonly openedSeq: Map<number, number>;
  events: LabEvent[];
  /** Per live exercise: only connections opened after this seq count (a fresh attempt). */
  readonly since: Map<string, number>;
  readonly listeners: Set<(event: LabEvent) => void>;
}

interface Student {
  readonly id: string;
  readonly seed: string;
  readonly tag: string;
  readonly live: LiveRecord;
  readonly submits: Bucket;
  readonly sockets: Set<WebSocket>;
  /** Per exercise, the student's values and hint ladder, made once (generating and hinting hash). */
  readonly exercises: Map<string, { readonly params: unknown; readonly hints: readonly string[] }>;
  /** Messages of one student are handled one after another, so tries count in order. */
  queue: Promise<void>;
}

/** Control characters, bidi overrides and separators dropped before a name reaches a terminal. */
export function terminalSafe(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/gu, '');
}

function classHmac(secret: string, purpose: string, id: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'base64url'))
    .update(`${purpose}\0${id}`)
    .digest();
}

/** A student's learner seed: HMAC(class secret, student id), so no student can compute another's. */
export function studentSeed(secret: string, id: string): string {
  return classHmac(secret, 'seed', id).toString('hex');
}

/** The tag a student's /echo connections carry; not the token, which never leaves their page. */
export function studentTag(secret: string, id: string): string {
  return classHmac(secret, 'tag', id).subarray(0, 16).toString('base64url');
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compares secrets in constant time: the digests have equal lengths whatever was sent. */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function send(ws: WebSocket, message: ToStudentMessage | ToTeacherMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

function stateOf(entry: ExerciseProgress): ExerciseState {
  return { tries: entry.tries, solved: entry.solved, revealed: entry.revealed };
}

/** Which shape of answer an exercise takes, and a sentence for a wrong one. */
function answerShapeProblem(exercise: Exercise, answer: Answer): string | null {
  switch (exercise.kind) {
    case 'short-answer':
      return typeof answer === 'string'
        ? null
        : `${exercise.id} takes a string (the ${exercise.label})`;
    case 'choice':
      return Array.isArray(answer) ? null : `${exercise.id} takes a list of the chosen option ids`;
    case 'ordering':
      return Array.isArray(answer) ? null : `${exercise.id} takes a list of the item ids in order`;
    case 'frame-fields':
      return typeof answer === 'object' && !Array.isArray(answer)
        ? null
        : `${exercise.id} takes an object of field name to value`;
    case 'live':
      return `${exercise.id} is a live exercise: do it in ${exercise.labPath} with /echo?tag=<your liveTag>, then send check-live`;
  }
}

function closeReason(text: string): string {
  // A close reason is at most 123 bytes (RFC 6455 §5.5: control frames carry ≤ 125).
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

/** Stands for "this exercise's top wrong answers" until a batch is sent (see `#flush`). */
const WRONG_LATER: readonly WrongAnswerCount[] = [];

interface Dashboard {
  readonly ws: WebSocket;
  /** Coalesced updates by key: a later update with the same key replaces the earlier one. */
  readonly pending: Map<string, TeacherUpdate>;
  timer: NodeJS.Timeout | null;
  lastSent: number;
  /** It fell behind: its pending updates were dropped and it gets a full snapshot instead. */
  resync: boolean;
}

export interface ClassroomUrls {
  /** What students open: `http://<addr>:<port>/classroom/`. */
  readonly student: string;
  /** The same with `#code=<CODE>`, for the QR code. */
  readonly studentWithCode: string;
  /** Other addresses of this machine students may use. */
  readonly otherStudentUrls: readonly string[];
  /** `http://<addr>:<port>/teacher/#token=<TOKEN>`. */
  readonly teacher: string;
}

export class Classroom {
  readonly file: ClassFile;
  readonly folder: string;
  readonly resumed: boolean;
  /** Damaged lines of the log found at start (reported; the good records were kept). */
  readonly damage: readonly LogDamage[];
  readonly savedTail: string | null;
  readonly state: ClassState;
  readonly limits: ClassroomLimits;
  readonly endpoints: {
    readonly websocket: readonly WebSocketEndpoint[];
    readonly http: readonly HttpEndpoint[];
  };
  readonly #log: AppendLog;
  readonly #say: (line: string) => void;
  readonly #students = new Map<string, Student>();
  readonly #byTag = new Map<string, Student>();
  readonly #dashboards = new Set<Dashboard>();
  readonly #joinBuckets = new Map<string, Bucket>();
  /** `connection-opened` events whose route is not known yet (the handshake comes next). */
  readonly #opening = new Map<number, LabEvent>();
  /** Which student each tagged connection belongs to. */
  readonly #owner = new Map<number, Student>();
  #joining = 0;
  #lastSeq = 0;
  #unsubscribe: (() => void) | null = null;
  #urls: ClassroomUrls | null = null;
  #qrSvg = '';
  #closed = false;

  private constructor(
    opened: ReturnType<typeof openClassFolder>,
    replay: ReturnType<typeof replayLog<LogRecord>>,
    state: ClassState,
    damage: LogDamage[],
    log: AppendLog,
    options: ClassroomOptions,
  ) {
    this.file = opened.file;
    this.folder = opened.folder;
    this.resumed = opened.resumed;
    this.savedTail = replay.savedTail;
    this.damage = damage;
    this.state = state;
    this.#log = log;
    this.#say = options.say ?? (() => {});
    this.limits = { ...DEFAULT_CLASSROOM_LIMITS, ...options.limits };
    for (const student of state.students.values()) this.#student(student.id);
    this.endpoints = {
      websocket: [
        {
          path: CLASSROOM_PATH,
          route: 'classroom',
          maxPayload: MAX_MESSAGE_BYTES,
          open: (ws, request) => this.#openStudent(ws, request.connection.tap.client.address),
        },
        {
          path: TEACHER_PATH,
          route: 'teacher',
          maxPayload: MAX_MESSAGE_BYTES,
          open: (ws) => this.#openTeacher(ws),
        },
        {
          // In classroom mode a student sees only the connections carrying their own tag.
          path: '/observe',
          route: 'observe',
          maxPayload: 1024,
          open: (ws, request, context) =>
            this.#openObserve(ws, request.url, request.connection.socket, context),
        },
      ],
      http: [
        {
          prefix: '/teacher/export.csv',
          handle: (req, res, context) => this.#export(req, res, context, 'csv'),
        },
        {
          prefix: '/teacher/export.json',
          handle: (req, res, context) => this.#export(req, res, context, 'json'),
        },
      ],
    };
  }

  /** Opens (or creates) the class in the data folder and replays its log. */
  static async open(options: ClassroomOptions): Promise<Classroom> {
    const opened = openClassFolder(options);
    const ordered = (id: string) => exerciseById(id)?.kind === 'ordering';
    const state = new ClassState(ordered);
    const replay = replayLog(opened.logPath, readRecord);
    const damage = [...replay.damage];
    // Records that parse but do not fit the class (an answer from nobody) are reported too.
    replay.records.forEach((record, i) => {
      const problem = state.apply(record);
      if (problem !== null) damage.push({ line: replay.lines[i] ?? 0, problem, preview: '' });
    });
    damage.sort((a, b) => a.line - b.line);
    const log = await AppendLog.open(opened.logPath, replay.end);
    return new Classroom(opened, replay, state, damage, log, options);
  }

  /** Call once the lab server listens: follows /echo connections and learns the URLs. */
  async attach(context: LabContext, listenHost: string): Promise<void> {
    this.#unsubscribe = context.registry.subscribe((event) => this.#onEvent(event));
    this.#urls = classroomUrls(listenHost, context.ports.http, this.file);
    this.#qrSvg = await QRCode.toString(this.#urls.studentWithCode, { type: 'svg', margin: 2 });
  }

  get urls(): ClassroomUrls {
    if (this.#urls === null) throw new Error('attach() the classroom to a lab server first');
    return this.#urls;
  }

  /** Log syncs and records written, for the bench. */
  /** Server-side durations, for the bench: message received → checked, → verdict sent. */
  readonly timings = { check: new Timings(), submit: new Timings() };

  /** The log's counters and the server-side timings (ms percentiles), for the bench. */
  get logStats(): Record<string, number> {
    const t = this.timings;
    return {
      syncs: this.#log.syncs,
      records: this.#log.records,
      syncP50: this.#log.syncTimes.percentile(0.5),
      syncP99: this.#log.syncTimes.percentile(0.99),
      checkP50: t.check.percentile(0.5),
      checkP99: t.check.percentile(0.99),
      submitP50: t.submit.percentile(0.5),
      submitP99: t.submit.percentile(0.99),
    };
  }

  /** The startup text for the terminal: URLs, code, QR code, and what the log replay found. */
  async banner(color = true): Promise<string> {
    const urls = this.urls;
    // In colour, half blocks on a white background; without, plain block characters.
    const qr = await QRCode.toString(urls.studentWithCode, {
      type: color ? 'terminal' : 'utf8',
      ...(color ? { small: true } : {}),
    });
    const lines = [
      '',
      `Classroom mode: ${terminalSafe(this.file.name)} (${this.resumed ? `resumed, ${this.state.students.size} students` : 'new class'})`,
      `  Students open:  ${urls.student}`,
      ...urls.otherStudentUrls.map((url) => `             or:  ${url}`),
      `  Join code:      ${this.file.code}`,
      '',
      qr.trimEnd(),
      '',
      `  Teacher page:   ${urls.teacher}`,
      '  (keep the teacher page off the projector: its address holds the teacher token)',
      `  Class data:     ${this.folder}`,
    ];
    if (this.damage.length > 0) {
      lines.push(
        '',
        `Warning: the class log ${join(this.folder, 'results.jsonl')} has ${this.damage.length} damaged line(s); every good record was kept:`,
      );
      for (const d of this.damage.slice(0, 20)) {
        lines.push(`  line ${d.line}: ${d.problem}${d.preview === '' ? '' : ` [${d.preview}]`}`);
      }
      if (this.damage.length > 20) lines.push(`  ... and ${this.damage.length - 20} more`);
    }
    return `${lines.join('\n')}\n`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    for (const dashboard of this.#dashboards)
      if (dashboard.timer !== null) clearTimeout(dashboard.timer);
    await Promise.allSettled([...this.#students.values()].map((s) => s.queue));
    await this.#log.close();
  }

  // ---- students ------------------------------------------------------------------------------

  #student(id: string): Student {
    let student = this.#students.get(id);
    if (student === undefined) {
      student = {
        id,
        // seed = HMAC(class secret, student id): the server rebuilds the same values every
        // start, and no student can compute another's.
        seed: studentSeed(this.file.secret, id),
        tag: studentTag(this.file.secret, id),
        live: {
          open: new Set(),
          openedSeq: new Map(),
          events: [],
          since: new Map(),
          listeners: new Set(),
        },
        submits: new Bucket(this.limits.submitBurst, this.limits.submitsPerSecond / 1000),
        sockets: new Set(),
        exercises: new Map(),
        queue: Promise.resolve(),
      };
      this.#students.set(id, student);
      this.#byTag.set(student.tag, student);
    }
    return student;
  }

  #openStudent(ws: WebSocket, address: string): void {
    let student: Student | null = null;
    const messages = new Bucket(this.limits.messageBurst, this.limits.messagesPerSecond / 1000);
    let strikes = 0;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        return send(ws, {
          type: 'error',
          reason: 'send JSON text messages, not binary ones (RFC 6455 §5.6)',
        });
      }
      const wait = messages.take();
      if (wait > 0) {
        // Past many refusals in a row the peer is not listening: close (1008, policy).
        if (++strikes > 20) return ws.close(1008, 'too many messages');
        return send(ws, {
          type: 'error',
          reason: `too many messages: wait ${Math.ceil(wait / 1000)} s`,
        });
      }
      strikes = 0;
      const parsed = parseStudentMessage(data.toString('utf8'));
      if (!parsed.ok) {
        return send(ws, {
          type: 'error',
          ...(parsed.req === undefined ? {} : { req: parsed.req }),
          reason: `${parsed.field} ${parsed.reason}`,
        });
      }
      const message = parsed.message;
      if (message.type === 'join' || message.type === 'resume') {
        if (student !== null)
          return send(ws, { type: 'error', reason: `already in the class as ${student.id}` });
        const done =
          message.type === 'join'
            ? this.#join(ws, address, message.code, message.name)
            : this.#resume(ws, address, message.token);
        done.then(
          (joined) => {
            if (joined === null) return;
            if (ws.readyState !== ws.OPEN) return;
            student = joined;
            this.#online(joined, ws, true);
            ws.once('close', () => this.#online(joined, ws, false));
          },
          (error: Error) =>
            send(ws, {
              type: 'refused',
              reason: `the class could not save your joining (${error.message})`,
            }),
        );
        return;
      }
      const current = student;
      if (current === null) {
        return send(ws, {
          type: 'error',
          ...('req' in message ? { req: message.req } : {}),
          reason: 'join the class (or resume) first',
        });
      }
      const received = performance.now();
      current.queue = current.queue
        .then(() => this.#handle(ws, current, message, received))
        .catch((error: Error) => {
          send(ws, {
            type: 'error',
            ...('req' in message ? { req: message.req } : {}),
            reason: error.message,
          });
        });
    });
  }

  #joinBucket(address: string): Bucket {
    let bucket = this.#joinBuckets.get(address);
    if (bucket === undefined) {
      // Forget addresses whose buckets are full again, so the map stays small.
      if (this.#joinBuckets.size > 10_000) {
        for (const [key, value] of this.#joinBuckets) if (value.full) this.#joinBuckets.delete(key);
      }
      bucket = new Bucket(this.limits.joinBurst, this.limits.joinsPerMinute / 60_000);
      this.#joinBuckets.set(address, bucket);
    }
    return bucket;
  }

  async #join(ws: WebSocket, address: string, code: string, name: string): Promise<Student | null> {
    const refuse = (reason: string) => {
      send(ws, { type: 'refused', reason });
      return null;
    };
    const wait = this.#joinBucket(address).take();
    if (wait > 0) {
      return refuse(
        `too many joins from ${address}: wait ${Math.ceil(wait / 1000)} s and try again`,
      );
    }
    if (!sameSecret(normaliseJoinCode(code), this.file.code)) {
      return refuse("that is not this class's join code: check the code the teacher shows");
    }
    const named = validateDisplayName(name);
    if (!named.ok) return refuse(named.reason);
    if (this.state.students.size + this.#joining >= this.limits.maxStudents) {
      return refuse(`the class is full (${this.limits.maxStudents} students)`);
    }
    this.#joining++;
    try {
      const id = `s${randomBytes(6).toString('hex')}`;
      const token = randomBytes(32).toString('base64url');
      const record: LogRecord = {
        k: 'student',
        id,
        name: named.name,
        token: sha256(token).toString('hex'),
        at: new Date().toISOString(),
      };
      await this.#log.append(record);
      this.state.apply(record);
      const student = this.#student(id);
      this.#say(`Joined: ${terminalSafe(named.name)} (${this.state.students.size} students)`);
      send(ws, this.#joinedMessage(student, token));
      return student;
    } finally {
      this.#joining--;
    }
  }

  async #resume(ws: WebSocket, address: string, token: string): Promise<Student | null> {
    const bucket = this.#joinBucket(address);
    if (!bucket.has()) {
      send(ws, {
        type: 'refused',
        reason: `too many failed attempts from ${address}: wait and try again`,
      });
      return null;
    }
    const record = this.state.studentByTokenHash(sha256(token).toString('hex'));
    if (record === undefined) {
      bucket.take();
      send(ws, {
        type: 'refused',
        reason: 'this token is not a student of this class: join with the code',
      });
      return null;
    }
    const student = this.#student(record.id);
    send(ws, this.#joinedMessage(student, token));
    return student;
  }

  #joinedMessage(student: Student, token: string): ToStudentMessage {
    const record = this.state.students.get(student.id);
    return {
      type: 'joined',
      student: { id: student.id, name: record?.name ?? '' },
      token,
      liveTag: student.tag,
      className: this.file.name,
      chapters: this.#chapters(),
    };
  }

  #chapters(): ChapterStates {
    return { ...this.state.chapters };
  }

  #online(student: Student, ws: WebSocket, online: boolean): void {
    const before = student.sockets.size > 0;
    if (online) student.sockets.add(ws);
    else student.sockets.delete(ws);
    const after = student.sockets.size > 0;
    if (before !== after) {
      this.#toDashboards(`s:${student.id}`, {
        type: 'student',
        student: this.#summary(student.id),
      });
    }
  }

  #summary(id: string): StudentSummary {
    const record = this.state.students.get(id);
    return {
      id,
      name: record?.name ?? '',
      joinedAt: record?.joinedAt ?? '',
      online: (this.#students.get(id)?.sockets.size ?? 0) > 0,
    };
  }

  async #handle(
    ws: WebSocket,
    student: Student,
    message: StudentMessage,
    received: number,
  ): Promise<void> {
    if (message.type === 'join' || message.type === 'resume') return;
    const req = 'req' in message ? message.req : undefined;
    const error = (reason: string) =>
      send(ws, { type: 'error', ...(req === undefined ? {} : { req }), reason });
    const exercise = exerciseById(message.id);
    if (exercise === undefined) return error(`id: there is no exercise "${message.id}"`);
    if (this.state.chapters[exercise.chapter] === 'locked')
      return error('chapter locked by the teacher');
    let made = student.exercises.get(exercise.id);
    if (made === undefined) {
      const values = paramsFor(exercise, student.seed, 0);
      made = { params: values, hints: exercise.hints(values) };
      student.exercises.set(exercise.id, made);
    }
    const params = made.params;
    const hints = made.hints;
    const entry = this.state.progress(student.id, exercise.id);
    if (message.type === 'exercise') {
      const lastAnswer = entry.lastAnswer;
      send(ws, {
        type: 'exercise',
        id: exercise.id,
        view: exerciseView(exercise, params),
        state: stateOf(entry),
        hints: [...visibleHints(hints, entry)],
        ...(lastAnswer === null ? {} : { lastAnswer: lastAnswer as Answer }),
        ...(entry.revealed ? { reveal: exercise.reveal(params) } : {}),
      });
      return;
    }
    const wait = student.submits.take();
    if (wait > 0) return error(`too many submissions: wait ${Math.ceil(wait / 1000)} s`);
    const id = exercise.id;
    if (message.type === 'reveal') {
      if (!canReveal(entry)) {
        return error(
          entry.solved || entry.revealed
            ? 'reveal: this exercise is already solved or revealed'
            : `reveal: the answer can be shown after 3 wrong tries (you have ${entry.tries})`,
        );
      }
      await this.#record(student, {
        k: 'reveal',
        s: student.id,
        e: id,
        at: new Date().toISOString(),
      });
      const next = this.state.progress(student.id, id);
      send(ws, {
        type: 'verdict',
        req: message.req,
        id,
        correct: false,
        feedback: '',
        hints: [...visibleHints(hints, next)],
        state: stateOf(next),
        reveal: exercise.reveal(params),
      });
      return;
    }
    let verdict: Verdict | null;
    let answer: Answer | null = null;
    if (message.type === 'check-live') {
      if (exercise.kind !== 'live')
        return error(`${id} is not a live exercise: send submit with your answer`);
      const events = this.#liveEvents(student, id);
      verdict = await exercise.check(params, events);
      if (verdict === null) {
        send(ws, {
          type: 'pending',
          req: message.req,
          reason:
            student.live.open.size === 0 && events.length === 0
              ? 'no /echo connection carrying your tag yet: open the lab and try'
              : 'no attempt yet on your connections opened since your last check',
        });
        return;
      }
      // The next check looks at connections opened after this one ("Start over").
      if (!verdict.correct) student.live.since.set(id, this.#lastSeq);
    } else {
      const shape = answerShapeProblem(exercise, message.answer);
      if (shape !== null) return error(`answer: ${shape}`);
      const incomplete = incompleteAnswer(exercise, message.answer);
      if (incomplete !== null) return error(incomplete);
      answer = message.answer;
      try {
        verdict = await (exercise.check as (p: unknown, a: Answer) => Verdict | Promise<Verdict>)(
          params,
          answer,
        );
      } catch (cause) {
        return error(`the answer could not be checked (${(cause as Error).message})`);
      }
    }
    const checked = performance.now();
    await this.#record(student, {
      k: 'answer',
      s: student.id,
      e: id,
      a: answer,
      c: verdict.correct,
      at: new Date().toISOString(),
    });
    const next = this.state.progress(student.id, id);
    send(ws, {
      type: 'verdict',
      req: message.req,
      id,
      correct: verdict.correct,
      feedback: verdict.feedback,
      ...(verdict.wrong === undefined ? {} : { wrong: [...verdict.wrong] }),
      hints: [...visibleHints(hints, next)],
      state: stateOf(next),
    });
    this.timings.check.add(checked - received);
    this.timings.submit.add(performance.now() - received);
    this.#toDashboards(`r:${student.id}:${id}`, {
      type: 'result',
      result: this.#result(student.id, id, next),
      // The top wrong answers are counted when the batch goes out, once per exercise.
      ...(verdict.correct ? {} : { wrong: WRONG_LATER }),
    });
  }

  /** Durable first, then in memory: the ack that follows may be trusted. */
  async #record(student: Student, record: LogRecord): Promise<void> {
    try {
      await this.#log.append(record);
    } catch (error) {
      throw new Error(
        `your answer could not be saved, so it was not counted (${(error as Error).message})`,
      );
    }
    this.state.apply(record);
    if (record.k === 'reveal') {
      this.#toDashboards(`r:${student.id}:${record.e}`, {
        type: 'result',
        result: this.#result(student.id, record.e, this.state.progress(student.id, record.e)),
      });
    }
  }

  #result(student: string, exercise: string, entry: ExerciseProgress): ResultSummary {
    return {
      student,
      exercise,
      tries: entry.tries,
      solved: entry.solved,
      revealed: entry.revealed,
      lastAt: entry.updatedAt,
      lastAnswer: answerDisplay(entry.lastAnswer as Answer | null),
    };
  }

  // ---- live exercises --------------------------------------------------------------------------

  /** Every annotation event passes here: the tagged /echo connections' ones are kept per student. */
  #onEvent(event: LabEvent): void {
    this.#lastSeq = event.seq;
    const owner = this.#owner.get(event.conn);
    if (owner === undefined) {
      if (event.type === 'connection-opened') {
        this.#opening.set(event.conn, event);
        if (this.#opening.size > 4096)
          this.#opening.delete(this.#opening.keys().next().value as number);
      } else if (event.type === 'handshake-request') {
        const opened = this.#opening.get(event.conn);
        this.#opening.delete(event.conn);
        const query = event.target.indexOf('?');
        if (event.route !== 'echo' || query === -1) return;
        const tag = new URLSearchParams(event.target.slice(query + 1)).get('tag');
        const student = tag === null ? undefined : this.#byTag.get(tag);
        if (student === undefined) return;
        this.#owner.set(event.conn, student);
        student.live.open.add(event.conn);
        student.live.openedSeq.set(event.conn, opened?.seq ?? event.seq);
        if (opened !== undefined) this.#keep(student, opened);
        this.#keep(student, event);
      } else if (event.type === 'socket-closed') {
        this.#opening.delete(event.conn);
      }
      return;
    }
    this.#keep(owner, event);
    if (event.type === 'socket-closed') {
      this.#owner.delete(event.conn);
      owner.live.open.delete(event.conn);
    }
  }

  #keep(student: Student, event: LabEvent): void {
    const live = student.live;
    live.events.push(event);
    const limit = this.limits.liveEventsPerStudent;
    if (live.events.length > limit) {
      live.events = live.events.slice(live.events.length - Math.floor(limit * 0.75));
      const kept = new Set(live.events.map((e) => e.conn));
      for (const conn of live.openedSeq.keys())
        if (!kept.has(conn) && !live.open.has(conn)) live.openedSeq.delete(conn);
    }
    for (const listener of live.listeners) listener(event);
  }

  #liveEvents(student: Student, exercise: string): LabEvent[] {
    const since = student.live.since.get(exercise) ?? 0;
    return student.live.events.filter(
      (event) => (student.live.openedSeq.get(event.conn) ?? 0) > since,
    );
  }

  #openObserve(
    ws: WebSocket,
    url: URL,
    socket: { cork(): void; uncork(): void },
    context: LabContext,
  ): void {
    const tag = url.searchParams.get('tag');
    const student = tag === null ? undefined : this.#byTag.get(tag);
    if (student === undefined) {
      ws.close(
        1008,
        closeReason(
          'classroom mode: /observe shows only your own connections; add ?tag=<your liveTag>',
        ),
      );
      return;
    }
    const live = student.live;
    const registry = context.registry;
    // observe() on a view of the registry that holds only this student's connections, so its
    // flow control (batching, the budget, dropped markers) applies unchanged.
    const view = {
      snapshot: (only?: number) => ({
        v: ANNOTATION_SCHEMA_VERSION,
        type: 'snapshot' as const,
        seq: this.#lastSeq,
        connections: [...live.open]
          .filter((conn) => only === undefined || conn === only)
          .map((conn) => registry.get(conn))
          .filter((info) => info !== undefined)
          .map(({ conn, route, client, openedAt }) => ({ conn, route, client, openedAt })),
      }),
      subscribe: (listener: (event: LabEvent) => void) => {
        live.listeners.add(listener);
        return () => live.listeners.delete(listener);
      },
      json: (event: LabEvent) => registry.json(event),
    };
    observe(ws, url, view as unknown as Registry, {
      budgetBytes: context.limits.observerBudgetBytes,
      socket,
    });
  }

  // ---- teacher -------------------------------------------------------------------------------

  #openTeacher(ws: WebSocket): void {
    let dashboard: Dashboard | null = null;
    const refuse = (reason: string) => {
      send(ws, { type: 'refused', reason });
      ws.close(1008, closeReason(reason));
    };
    const timer = setTimeout(() => {
      if (dashboard === null) {
        refuse(`no auth message within ${this.limits.teacherAuthTimeoutMs / 1000} s`);
      }
    }, this.limits.teacherAuthTimeoutMs);
    timer.unref();
    ws.on('close', () => {
      clearTimeout(timer);
      if (dashboard !== null) {
        if (dashboard.timer !== null) clearTimeout(dashboard.timer);
        this.#dashboards.delete(dashboard);
      }
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const parsed = isBinary ? null : parseTeacherMessage(data.toString('utf8'));
      if (dashboard === null) {
        if (parsed === null || !parsed.ok || parsed.message.type !== 'auth') {
          return refuse('the first message must be {"type":"auth","token":...}');
        }
        if (!sameSecret(parsed.message.token, this.file.teacherToken)) {
          return refuse('wrong teacher token');
        }
        if (this.#dashboards.size >= this.limits.maxDashboards) {
          return refuse(`already ${this.limits.maxDashboards} dashboards open`);
        }
        clearTimeout(timer);
        dashboard = { ws, pending: new Map(), timer: null, lastSent: 0, resync: false };
        this.#dashboards.add(dashboard);
        send(ws, this.snapshot());
        return;
      }
      if (parsed === null) return;
      if (!parsed.ok) {
        // The dashboard is trusted; still, a malformed message is answered, never obeyed.
        return send(ws, { type: 'refused', reason: `${parsed.field} ${parsed.reason}` });
      }
      const message = parsed.message;
      if (message.type === 'chapter') {
        const record: LogRecord = {
          k: 'chapter',
          ch: message.chapter,
          st: message.state,
          at: new Date().toISOString(),
        };
        this.#log.append(record).then(
          () => {
            this.state.apply(record);
            const chapters = this.#chapters();
            for (const student of this.#students.values()) {
              for (const socket of student.sockets) send(socket, { type: 'chapters', chapters });
            }
            this.#toDashboards('chapters', { type: 'chapters', chapters });
          },
          (error: Error) =>
            send(ws, { type: 'refused', reason: `could not save the change (${error.message})` }),
        );
      }
    });
  }

  snapshot(): SnapshotMessage {
    const results: ResultSummary[] = [];
    for (const student of this.state.students.values()) {
      for (const [exercise, entry] of student.progress)
        results.push(this.#result(student.id, exercise, entry));
    }
    const urls = this.#urls;
    return {
      type: 'snapshot',
      class: {
        name: this.file.name,
        code: this.file.code,
        studentUrl: urls?.student ?? '',
        qrSvg: this.#qrSvg,
      },
      chapters: this.#chapters(),
      exercises: allExercises().map((e) => ({
        id: e.id,
        chapter: e.chapter,
        title: e.title,
        kind: e.kind,
      })),
      students: [...this.state.students.keys()].map((id) => this.#summary(id)),
      results,
      wrong: this.state.wrongByExercise(),
    };
  }

  #toDashboards(key: string, update: TeacherUpdate): void {
    for (const dashboard of this.#dashboards) {
      if (dashboard.resync) continue;
      // Delete first: the replacement goes to the end, so a batch stays in time order.
      dashboard.pending.delete(key);
      dashboard.pending.set(key, update);
      this.#schedule(dashboard);
    }
  }

  #schedule(dashboard: Dashboard): void {
    if (dashboard.timer !== null) return;
    const delay = Math.max(0, dashboard.lastSent + TEACHER_COALESCE_MS - Date.now());
    dashboard.timer = setTimeout(() => this.#flush(dashboard), delay);
  }

  #flush(dashboard: Dashboard): void {
    dashboard.timer = null;
    const ws = dashboard.ws;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.limits.dashboardBudgetBytes) {
      // It cannot keep up: stop queueing for it, and send a full snapshot once it drained.
      dashboard.pending.clear();
      dashboard.resync = true;
      dashboard.timer = setTimeout(() => this.#flush(dashboard), 250);
      return;
    }
    dashboard.lastSent = Date.now();
    if (dashboard.resync) {
      dashboard.resync = false;
      send(ws, this.snapshot());
      return;
    }
    if (dashboard.pending.size === 0) return;
    const tops = new Map<string, readonly WrongAnswerCount[]>();
    const updates = [...dashboard.pending.values()].map((update) => {
      if (update.type !== 'result' || update.wrong !== WRONG_LATER) return update;
      const id = update.result.exercise;
      let top = tops.get(id);
      if (top === undefined) {
        top = this.state.topWrong(id);
        tops.set(id, top);
      }
      return { ...update, wrong: top };
    });
    dashboard.pending.clear();
    send(ws, { type: 'batch', updates });
  }

  // ---- exports -------------------------------------------------------------------------------

  #export(
    req: IncomingMessage,
    res: ServerResponse,
    context: LabContext,
    format: 'csv' | 'json',
  ): undefined {
    const answer = (
      status: number,
      text: string,
      headers: Record<string, string> = {},
    ): undefined => {
      res.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        ...headers,
      });
      res.end(`${text}\n`);
      return undefined;
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return answer(405, 'Use GET.', { Allow: 'GET, HEAD' });
    const origin = context.trust.checkOrigin(req.headers.origin);
    if (!origin.ok) return answer(403, origin.reason);
    const authorization = req.headers.authorization ?? '';
    const token = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(authorization)?.[1];
    if (token === undefined) {
      return answer(
        401,
        'Send the teacher token as "Authorization: Bearer <token>" (RFC 6750 §2.1).',
        {
          'WWW-Authenticate': 'Bearer realm="classroom"',
        },
      );
    }
    if (!sameSecret(token, this.file.teacherToken)) {
      return answer(401, 'Wrong teacher token.', {
        'WWW-Authenticate': 'Bearer realm="classroom", error="invalid_token"',
      });
    }
    const exercises = allExercises();
    const body =
      format === 'csv'
        ? resultsCsv(this.state, exercises)
        : `${JSON.stringify(resultsJson(this.state, exercises, { name: this.file.name, code: this.file.code, createdAt: this.file.createdAt }, new Date()), null, 2)}\n`;
    res.writeHead(200, {
      'Content-Type':
        format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
      'Content-Disposition': `attachment; filename="class-${this.file.code}-results.${format}"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return undefined;
  }
}

function bracket(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The URLs to print: on 0.0.0.0, the machine's network addresses; the teacher's on loopback. */
export function classroomUrls(listenHost: string, port: number, file: ClassFile): ClassroomUrls {
  let hosts: string[];
  let teacherHost: string;
  if (listenHost === '0.0.0.0' || listenHost === '::') {
    hosts = [];
    for (const list of Object.values(networkInterfaces())) {
      for (const iface of list ?? []) {
        if (iface.internal) continue;
        if (iface.family === 'IPv4' || listenHost === '::') hosts.push(bracket(iface.address));
      }
    }
    if (hosts.length === 0) hosts = ['127.0.0.1'];
    teacherHost = '127.0.0.1';
  } else {
    hosts = [bracket(listenHost)];
    teacherHost = bracket(listenHost);
  }
  const student = `http://${hosts[0]}:${port}/classroom/`;
  return {
    student,
    studentWithCode: `${student}#code=${file.code}`,
    otherStudentUrls: hosts.slice(1).map((host) => `http://${host}:${port}/classroom/`),
    teacher: `http://${teacherHost}:${port}/teacher/#token=${file.teacherToken}`,
  };
}
