/**
 * Classroom mode: the messages between the student pages and `/classroom`, and between the
 * teacher dashboard and `/teacher`, as types and pure validators (no DOM, no Node). The server
 * (`lab-server/classroom/`) and the pages (`site/pages/classroom`, `site/pages/teacher`) both
 * import this file, so a field renamed on one side fails the typecheck on the other.
 *
 * Every message is one JSON text message (RFC 6455 §5.6, opcode 0x1). Anything a peer sends is
 * hostile input: the parsers name the field that is wrong and why, and never throw.
 *
 * The view of an exercise (`exerciseView`) is everything a page needs to draw it and nothing it
 * could answer from: the parameters and the expected answer stay on the server.
 */
import type { ChapterId, Choice, Exercise, ExerciseKind, FrameField } from '../exercises/types.ts';
import { CHAPTERS } from '../exercises/types.ts';

// ---- constants shared by both sides --------------------------------------------------------

export const CLASSROOM_PATH = '/classroom';
export const TEACHER_PATH = '/teacher';
/** Largest message either WebSocket accepts; `ws` closes with 1009 beyond it (RFC 6455 §7.4.1). */
export const MAX_MESSAGE_BYTES = 16 * 1024;
/** The teacher's first message must be `auth` within this time, or the server closes with 1008. */
export const TEACHER_AUTH_TIMEOUT_MS = 5_000;
/** The server sends a dashboard at most one message per this interval (a `batch` of updates). */
export const TEACHER_COALESCE_MS = 50;
/** Join codes use no 0/O, 1/I/L: read aloud or from a projector, they cannot be confused. */
export const JOIN_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const JOIN_CODE_LENGTH = 6;
export const NAME_MAX_CHARS = 40;
/** localStorage key where the student page keeps its token (to `resume` after a reload). */
export const STUDENT_TOKEN_KEY = 'websocket-lab:classroom:token';
/** sessionStorage key where the dashboard keeps the teacher token (never in the address bar). */
export const TEACHER_TOKEN_KEY = 'websocket-lab:classroom:teacher-token';
/** Most common wrong answers kept per exercise on the dashboard. */
export const TOP_WRONG = 5;

const MAX_ANSWER_CHARS = 4_000;
const MAX_ANSWER_ITEMS = 64;
const MAX_ITEM_CHARS = 200;
const MAX_TOKEN_CHARS = 128;
const MAX_CODE_CHARS = 32;
const MAX_NAME_INPUT_CHARS = 200;
const EXERCISE_ID = /^[a-z0-9][a-z0-9-]{0,79}$/;
const TOKEN = /^[A-Za-z0-9_-]+$/;

// ---- shared shapes -------------------------------------------------------------------------

export type ChapterState = 'open' | 'locked';
export type ChapterStates = Readonly<Record<ChapterId, ChapterState>>;

/** What a student answers, by kind: text, chosen or ordered ids, or frame fields by name. */
export type Answer = string | readonly string[] | Readonly<Record<string, string>>;

/** Everything a page needs to draw an exercise; never the parameters or the answer. */
export interface ExerciseView {
  readonly kind: ExerciseKind;
  readonly title: string;
  readonly chapter: ChapterId;
  readonly prompt: { readonly text: string; readonly code?: string };
  /** short-answer: the input's label. */
  readonly label?: string;
  /** choice: several answers may be right. */
  readonly multiple?: boolean;
  /** choice: the options. */
  readonly choices?: readonly Choice[];
  /** ordering: the items in the student's starting order. */
  readonly items?: readonly Choice[];
  /** frame-fields: the inputs. */
  readonly fields?: readonly FrameField[];
  /** live: the lab to use, a site path such as `/console/`. */
  readonly labPath?: string;
}

/** A student's state on one exercise (classroom mode has one round: no "new values"). */
export interface ExerciseState {
  /** Wrong tries so far. */
  readonly tries: number;
  readonly solved: boolean;
  readonly revealed: boolean;
}

export interface StudentInfo {
  readonly id: string;
  readonly name: string;
}

export interface Verdict {
  readonly correct: boolean;
  readonly feedback: string;
  readonly wrong?: readonly string[];
}

// ---- student page → server (/classroom) ---------------------------------------------------

export interface JoinMessage {
  readonly type: 'join';
  /** As typed; the server compares it after `normaliseJoinCode`. */
  readonly code: string;
  /** As typed; the server checks it with `validateDisplayName` and answers `refused`. */
  readonly name: string;
}
export interface ResumeMessage {
  readonly type: 'resume';
  readonly token: string;
}
export interface ExerciseRequest {
  readonly type: 'exercise';
  readonly id: string;
}
export interface SubmitMessage {
  readonly type: 'submit';
  readonly req: number;
  readonly id: string;
  readonly answer: Answer;
}
export interface CheckLiveMessage {
  readonly type: 'check-live';
  readonly req: number;
  readonly id: string;
}
export interface RevealMessage {
  readonly type: 'reveal';
  readonly req: number;
  readonly id: string;
}
export type StudentMessage =
  | JoinMessage
  | ResumeMessage
  | ExerciseRequest
  | SubmitMessage
  | CheckLiveMessage
  | RevealMessage;

// ---- server → student page ----------------------------------------------------------------

export interface JoinedMessage {
  readonly type: 'joined';
  readonly student: StudentInfo;
  /** Keep it (localStorage, `STUDENT_TOKEN_KEY`) to `resume` after a reload or a restart. */
  readonly token: string;
  /** Open the live labs' /echo connections with `?tag=<liveTag>` so the server knows them. */
  readonly liveTag: string;
  readonly className: string;
  readonly chapters: ChapterStates;
}
export interface RefusedMessage {
  readonly type: 'refused';
  readonly reason: string;
}
export interface ExerciseMessage {
  readonly type: 'exercise';
  readonly id: string;
  readonly view: ExerciseView;
  readonly state: ExerciseState;
  /** The hints earned so far (one more per wrong try, all once solved or revealed). */
  readonly hints: readonly string[];
  /** The student's own last answer, to put back in the form after a reload. */
  readonly lastAnswer?: Answer | null;
  /** The answer worded for the student, once they had it revealed (so a reload still shows it). */
  readonly reveal?: string;
}
export interface VerdictMessage {
  readonly type: 'verdict';
  readonly req: number;
  readonly id: string;
  readonly correct: boolean;
  readonly feedback: string;
  readonly wrong?: readonly string[];
  readonly hints: readonly string[];
  readonly state: ExerciseState;
  /** The answer worded for the student, only after `reveal` (REVEAL_AFTER wrong tries). */
  readonly reveal?: string;
}
export interface PendingMessage {
  readonly type: 'pending';
  readonly req: number;
  /** Why nothing can be checked yet, e.g. "no /echo connection tagged for you yet". */
  readonly reason?: string;
}
export interface ChaptersMessage {
  readonly type: 'chapters';
  readonly chapters: ChapterStates;
}
export interface ErrorMessage {
  readonly type: 'error';
  readonly req?: number;
  readonly reason: string;
}
export type ToStudentMessage =
  | JoinedMessage
  | RefusedMessage
  | ExerciseMessage
  | VerdictMessage
  | PendingMessage
  | ChaptersMessage
  | ErrorMessage;

// ---- teacher dashboard → server (/teacher) ------------------------------------------------

export interface AuthMessage {
  readonly type: 'auth';
  readonly token: string;
}
export interface ChapterMessage {
  readonly type: 'chapter';
  readonly chapter: ChapterId;
  readonly state: ChapterState;
}
export type TeacherMessage = AuthMessage | ChapterMessage;

// ---- server → teacher dashboard ------------------------------------------------------------

export interface StudentSummary {
  readonly id: string;
  readonly name: string;
  /** ISO 8601, UTC. */
  readonly joinedAt: string;
  /** Has at least one open /classroom connection. */
  readonly online: boolean;
}
export interface ResultSummary {
  readonly student: string;
  readonly exercise: string;
  readonly tries: number;
  readonly solved: boolean;
  readonly revealed: boolean;
  /** ISO 8601, UTC. */
  readonly lastAt: string;
  /** The last answer as a short display string (the teacher may see answers; students may not). */
  readonly lastAnswer?: string;
}
export interface WrongAnswerCount {
  readonly answer: string;
  readonly count: number;
}
export interface SnapshotMessage {
  readonly type: 'snapshot';
  readonly class: {
    readonly name: string;
    readonly code: string;
    readonly studentUrl: string;
    /** The QR code of `studentUrl#code=<code>`, an SVG document made by the server. */
    readonly qrSvg: string;
  };
  readonly chapters: ChapterStates;
  readonly exercises: readonly {
    readonly id: string;
    readonly chapter: ChapterId;
    readonly title: string;
    readonly kind: ExerciseKind;
  }[];
  readonly students: readonly StudentSummary[];
  readonly results: readonly ResultSummary[];
  /** Top `TOP_WRONG` wrong answers per exercise id, most frequent first. */
  readonly wrong: Readonly<Record<string, readonly WrongAnswerCount[]>>;
}
export interface StudentUpdate {
  readonly type: 'student';
  readonly student: StudentSummary;
}
export interface ResultUpdate {
  readonly type: 'result';
  readonly result: ResultSummary;
  /** The exercise's new top wrong answers, when this submission changed them. */
  readonly wrong?: readonly WrongAnswerCount[];
}
export interface TeacherChaptersUpdate {
  readonly type: 'chapters';
  readonly chapters: ChapterStates;
}
export type TeacherUpdate = StudentUpdate | ResultUpdate | TeacherChaptersUpdate;
/**
 * Updates are coalesced: a dashboard gets at most one message per `TEACHER_COALESCE_MS`, a
 * `batch` holding the updates of that interval in order (a student's later result for the same
 * exercise replaces the earlier one). Apply them one by one as if they came alone.
 */
export interface BatchMessage {
  readonly type: 'batch';
  readonly updates: readonly TeacherUpdate[];
}
export type ToTeacherMessage = SnapshotMessage | BatchMessage | TeacherUpdate | RefusedMessage;

// ---- parsing -------------------------------------------------------------------------------

export interface ParseError {
  readonly ok: false;
  /** The field that is wrong (`answer`, `req`), or `message` for the whole message. */
  readonly field: string;
  readonly reason: string;
  /** The message's `req` when it had a valid one, so the error can answer that request. */
  readonly req?: number;
}
export type Parsed<T> = { readonly ok: true; readonly message: T } | ParseError;

type Fields = Record<string, unknown>;

function fail(field: string, reason: string, req?: number): ParseError {
  return req === undefined ? { ok: false, field, reason } : { ok: false, field, reason, req };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** JSON text → an object, or why not. */
function parseObject(text: string): Fields | ParseError {
  if (text.length > MAX_MESSAGE_BYTES) {
    return fail('message', `is ${text.length} characters; the limit is ${MAX_MESSAGE_BYTES}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail('message', `is not JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('message', `must be a JSON object, got ${describe(value)}`);
  }
  return value as Fields;
}

function isError(value: unknown): value is ParseError {
  return (value as ParseError | null)?.ok === false;
}

function stringField(fields: Fields, name: string, max: number, req?: number): string | ParseError {
  const value = fields[name];
  if (typeof value !== 'string') {
    return fail(
      name,
      value === undefined ? 'is missing' : `must be a string, got ${describe(value)}`,
      req,
    );
  }
  if (value.length > max) return fail(name, `is longer than ${max} characters`, req);
  return value;
}

function exerciseIdField(fields: Fields, req?: number): string | ParseError {
  const id = stringField(fields, 'id', 80, req);
  if (isError(id)) return id;
  if (!EXERCISE_ID.test(id)) {
    return fail('id', 'must be an exercise id: lower-case letters, digits and "-"', req);
  }
  return id;
}

function tokenField(fields: Fields): string | ParseError {
  const token = stringField(fields, 'token', MAX_TOKEN_CHARS);
  if (isError(token)) return token;
  if (!TOKEN.test(token)) return fail('token', 'must be base64url (A-Z a-z 0-9 - _)');
  return token;
}

function reqField(fields: Fields): number | ParseError {
  const req = fields.req;
  if (typeof req !== 'number') {
    return fail('req', req === undefined ? 'is missing' : `must be a number, got ${describe(req)}`);
  }
  if (!Number.isSafeInteger(req) || req < 0) {
    return fail('req', 'must be a whole number from 0 to 2^53 - 1');
  }
  return req;
}

/** The answer's shape only; which shape the exercise expects is checked by the server. */
export function parseAnswer(
  value: unknown,
):
  | { readonly ok: true; readonly answer: Answer }
  | { readonly ok: false; readonly reason: string } {
  if (typeof value === 'string') {
    return value.length <= MAX_ANSWER_CHARS
      ? { ok: true, answer: value }
      : { ok: false, reason: `is longer than ${MAX_ANSWER_CHARS} characters` };
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_ANSWER_ITEMS) {
      return { ok: false, reason: `has ${value.length} items; at most ${MAX_ANSWER_ITEMS}` };
    }
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item !== 'string') {
        return { ok: false, reason: `item ${i} must be a string, got ${describe(item)}` };
      }
      if (item.length > MAX_ITEM_CHARS) {
        return { ok: false, reason: `item ${i} is longer than ${MAX_ITEM_CHARS} characters` };
      }
    }
    return { ok: true, answer: value as string[] };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length > MAX_ANSWER_ITEMS) {
      return { ok: false, reason: `has ${entries.length} fields; at most ${MAX_ANSWER_ITEMS}` };
    }
    // A null prototype: a field named "__proto__" stays a field.
    const record: Record<string, string> = Object.create(null);
    for (const [key, item] of entries) {
      if (key.length > MAX_ITEM_CHARS)
        return { ok: false, reason: 'has a field name that is too long' };
      if (typeof item !== 'string') {
        return {
          ok: false,
          reason: `field "${key.slice(0, 40)}" must be a string, got ${describe(item)}`,
        };
      }
      if (item.length > MAX_ITEM_CHARS) {
        return {
          ok: false,
          reason: `field "${key.slice(0, 40)}" is longer than ${MAX_ITEM_CHARS} characters`,
        };
      }
      record[key] = item;
    }
    return { ok: true, answer: record };
  }
  return {
    ok: false,
    reason: `must be a string, a list of strings or an object of strings, got ${describe(value)}`,
  };
}

/** One message from a student page, or which field is wrong and why. */
export function parseStudentMessage(text: string): Parsed<StudentMessage> {
  const fields = parseObject(text);
  if (isError(fields)) return fields;
  const type = fields.type;
  switch (type) {
    case 'join': {
      const code = stringField(fields, 'code', MAX_CODE_CHARS);
      if (isError(code)) return code;
      const name = stringField(fields, 'name', MAX_NAME_INPUT_CHARS);
      if (isError(name)) return name;
      return { ok: true, message: { type, code, name } };
    }
    case 'resume': {
      const token = tokenField(fields);
      if (isError(token)) return token;
      return { ok: true, message: { type, token } };
    }
    case 'exercise': {
      const id = exerciseIdField(fields);
      if (isError(id)) return id;
      return { ok: true, message: { type, id } };
    }
    case 'submit':
    case 'check-live':
    case 'reveal': {
      const req = reqField(fields);
      if (isError(req)) return req;
      const id = exerciseIdField(fields, req);
      if (isError(id)) return id;
      if (type !== 'submit') return { ok: true, message: { type, req, id } };
      if (!('answer' in fields)) return fail('answer', 'is missing', req);
      const answer = parseAnswer(fields.answer);
      if (!answer.ok) return fail('answer', answer.reason, req);
      return { ok: true, message: { type, req, id, answer: answer.answer } };
    }
    default:
      return fail(
        'type',
        typeof type === 'string'
          ? `"${type.slice(0, 40)}" is not a message type; expected join, resume, exercise, submit, check-live or reveal`
          : type === undefined
            ? 'is missing'
            : `must be a string, got ${describe(type)}`,
      );
  }
}

/** One message from the teacher dashboard, or which field is wrong and why. */
export function parseTeacherMessage(text: string): Parsed<TeacherMessage> {
  const fields = parseObject(text);
  if (isError(fields)) return fields;
  const type = fields.type;
  switch (type) {
    case 'auth': {
      const token = tokenField(fields);
      if (isError(token)) return token;
      return { ok: true, message: { type, token } };
    }
    case 'chapter': {
      const chapter = fields.chapter;
      if (typeof chapter !== 'string' || !(CHAPTERS as readonly string[]).includes(chapter)) {
        return fail('chapter', `must be one of ${CHAPTERS.join(', ')}`);
      }
      const state = fields.state;
      if (state !== 'open' && state !== 'locked') {
        return fail('state', 'must be "open" or "locked"');
      }
      return { ok: true, message: { type, chapter: chapter as ChapterId, state } };
    }
    default:
      return fail(
        'type',
        typeof type === 'string'
          ? `"${type.slice(0, 40)}" is not a message type; expected auth or chapter`
          : type === undefined
            ? 'is missing'
            : `must be a string, got ${describe(type)}`,
      );
  }
}

// ---- names and codes -----------------------------------------------------------------------

/**
 * Characters a display name may not hold: C0/C1 controls (a terminal would obey them), line and
 * paragraph separators, and the bidirectional overrides and isolates that make text display in
 * another order than it is stored (a name could then impersonate another).
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;

/** The name as shown (trimmed, NFC), or why it is refused. */
export function validateDisplayName(
  name: string,
): { readonly ok: true; readonly name: string } | { readonly ok: false; readonly reason: string } {
  const trimmed = name.normalize('NFC').trim();
  if (trimmed === '') return { ok: false, reason: 'Type a display name (1 to 40 characters).' };
  if (FORBIDDEN_IN_NAME.test(trimmed)) {
    return {
      ok: false,
      reason:
        'The display name has a control or text-direction character; use letters, digits, spaces and punctuation.',
    };
  }
  const length = [...trimmed].length;
  if (length > NAME_MAX_CHARS) {
    return {
      ok: false,
      reason: `The display name has ${length} characters; at most ${NAME_MAX_CHARS}.`,
    };
  }
  return { ok: true, name: trimmed };
}

/** What a student typed as the code, read generously: spaces and dashes dropped, upper case. */
export function normaliseJoinCode(code: string): string {
  return code.replace(/[\s-]/g, '').toUpperCase();
}

export function isJoinCode(code: string): boolean {
  if (code.length !== JOIN_CODE_LENGTH) return false;
  for (const char of code) if (!JOIN_CODE_ALPHABET.includes(char)) return false;
  return true;
}

// ---- exercise views ------------------------------------------------------------------------

/**
 * The view of an exercise for one student's parameters: the prompt and the inputs, never the
 * parameters themselves, the hints (sent as they are earned) or the answer.
 */
export function exerciseView(exercise: Exercise, params: unknown): ExerciseView {
  const prompt = exercise.prompt(params);
  const base = {
    kind: exercise.kind,
    title: exercise.title,
    chapter: exercise.chapter,
    prompt:
      prompt.code === undefined ? { text: prompt.text } : { text: prompt.text, code: prompt.code },
  };
  switch (exercise.kind) {
    case 'short-answer':
      return { ...base, label: exercise.label };
    case 'choice':
      return {
        ...base,
        multiple: exercise.multiple,
        choices: exercise.choices(params).map((c) => ({ id: c.id, label: c.label })),
      };
    case 'ordering':
      return { ...base, items: exercise.items(params).map((c) => ({ id: c.id, label: c.label })) };
    case 'frame-fields':
      return {
        ...base,
        fields: exercise.fields(params).map((f) => ({
          name: f.name,
          label: f.label,
          placeholder: f.placeholder,
        })),
      };
    case 'live':
      return { ...base, labPath: exercise.labPath };
  }
}

/** An answer as one short line for the dashboard and the export ("a, b", "fin=1 opcode=2"). */
export function answerDisplay(answer: Answer | null, max = 120): string {
  let text: string;
  if (answer === null) text = '';
  else if (typeof answer === 'string') text = answer.trim();
  else if (Array.isArray(answer)) text = (answer as readonly string[]).join(', ');
  else {
    text = Object.entries(answer as Record<string, string>)
      .map(([key, value]) => `${key}=${value.trim()}`)
      .join(' ');
  }
  text = text.replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
