/**
 * What a class knows, rebuilt from its log at start and kept current as records are appended:
 * the students, each student's progress per exercise (the same `ExerciseProgress` and
 * `recordVerdict` rules as self-study, one round per exercise), the chapters' states, and the
 * wrong answers counted per exercise for the dashboard. Pure: no I/O, no clock of its own.
 */
import {
  type Answer,
  answerDisplay,
  type ChapterState,
  TOP_WRONG,
  type WrongAnswerCount,
} from '../../labs/classroom/protocol.ts';
import { EMPTY_EXERCISE, type ExerciseProgress } from '../../labs/exercises/progress.ts';
import { recordReveal, recordVerdict } from '../../labs/exercises/session.ts';
import { CHAPTERS, type ChapterId } from '../../labs/exercises/types.ts';

/** One line of the log. Short keys: a class writes tens of thousands of them. */
export type LogRecord =
  | {
      readonly k: 'student';
      readonly id: string;
      readonly name: string;
      /** SHA-256 of the student's token (hex): the log never holds a usable token. */
      readonly token: string;
      readonly at: string;
    }
  | {
      readonly k: 'answer';
      readonly s: string;
      readonly e: string;
      /** What the student answered; null for a live exercise (its answer is what the server saw). */
      readonly a: Answer | null;
      readonly c: boolean;
      readonly at: string;
    }
  | { readonly k: 'reveal'; readonly s: string; readonly e: string; readonly at: string }
  | {
      readonly k: 'chapter';
      readonly ch: ChapterId;
      readonly st: ChapterState;
      readonly at: string;
    };

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ID = /^[A-Za-z0-9_-]{1,80}$/;
const HEX64 = /^[0-9a-f]{64}$/;

function isAnswer(value: unknown): value is Answer | null {
  if (value === null || typeof value === 'string') return true;
  if (Array.isArray(value)) return value.every((item) => typeof item === 'string');
  if (typeof value === 'object') return Object.values(value).every((v) => typeof v === 'string');
  return false;
}

/** A record read back from the log, checked field by field; a string says what is wrong. */
export function readRecord(value: unknown): LogRecord | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'the record is not a JSON object';
  }
  const r = value as Record<string, unknown>;
  const bad = (field: string, why: string) => `field "${field}" ${why}`;
  if (typeof r.at !== 'string' || !ISO.test(r.at)) return bad('at', 'is not an ISO 8601 UTC time');
  switch (r.k) {
    case 'student':
      if (typeof r.id !== 'string' || !ID.test(r.id)) return bad('id', 'is not a student id');
      if (typeof r.name !== 'string' || r.name === '' || r.name.length > 200) {
        return bad('name', 'is not a display name');
      }
      if (typeof r.token !== 'string' || !HEX64.test(r.token)) {
        return bad('token', 'is not a SHA-256 in hex');
      }
      return { k: 'student', id: r.id, name: r.name, token: r.token, at: r.at };
    case 'answer':
      if (typeof r.s !== 'string' || !ID.test(r.s)) return bad('s', 'is not a student id');
      if (typeof r.e !== 'string' || !ID.test(r.e)) return bad('e', 'is not an exercise id');
      if (!isAnswer(r.a)) return bad('a', 'is not an answer');
      if (typeof r.c !== 'boolean') return bad('c', 'is not true or false');
      return { k: 'answer', s: r.s, e: r.e, a: r.a, c: r.c, at: r.at };
    case 'reveal':
      if (typeof r.s !== 'string' || !ID.test(r.s)) return bad('s', 'is not a student id');
      if (typeof r.e !== 'string' || !ID.test(r.e)) return bad('e', 'is not an exercise id');
      return { k: 'reveal', s: r.s, e: r.e, at: r.at };
    case 'chapter':
      if (typeof r.ch !== 'string' || !(CHAPTERS as readonly string[]).includes(r.ch)) {
        return bad('ch', 'is not a chapter');
      }
      if (r.st !== 'open' && r.st !== 'locked') return bad('st', 'is not "open" or "locked"');
      return { k: 'chapter', ch: r.ch as ChapterId, st: r.st, at: r.at };
    default:
      return bad('k', 'is not student, answer, reveal or chapter');
  }
}

export interface StudentRecord {
  readonly id: string;
  readonly name: string;
  readonly tokenHash: string;
  readonly joinedAt: string;
  readonly progress: Map<string, ExerciseProgress>;
}

/** Distinct wrong answers counted per exercise; past this, new ones are not counted apart. */
const MAX_DISTINCT_WRONG = 2_000;

/** How a wrong answer is grouped: the same choices in any order count as one answer. */
export function wrongKey(answer: Answer | null, ordered: boolean): string {
  if (Array.isArray(answer) && !ordered) return answerDisplay([...(answer as string[])].sort(), 80);
  return answerDisplay(answer, 80);
}

export class ClassState {
  readonly students = new Map<string, StudentRecord>();
  readonly #byToken = new Map<string, StudentRecord>();
  readonly chapters: Record<ChapterId, ChapterState> = Object.fromEntries(
    CHAPTERS.map((c) => [c, 'open']),
  ) as Record<ChapterId, ChapterState>;
  readonly #wrong = new Map<string, Map<string, number>>();
  readonly #ordered: (exercise: string) => boolean;

  /** `ordered(id)`: whether the order of a list answer matters (ordering exercises). */
  constructor(ordered: (exercise: string) => boolean) {
    this.#ordered = ordered;
  }

  studentByTokenHash(hash: string): StudentRecord | undefined {
    return this.#byToken.get(hash);
  }

  progress(student: string, exercise: string): ExerciseProgress {
    return this.students.get(student)?.progress.get(exercise) ?? EMPTY_EXERCISE;
  }

  /** Applies one record; a string says why it cannot be (the log replay reports it). */
  apply(record: LogRecord): string | null {
    switch (record.k) {
      case 'student': {
        if (this.students.has(record.id)) return `student ${record.id} joined twice`;
        const student: StudentRecord = {
          id: record.id,
          name: record.name,
          tokenHash: record.token,
          joinedAt: record.at,
          progress: new Map(),
        };
        this.students.set(record.id, student);
        this.#byToken.set(record.token, student);
        return null;
      }
      case 'answer': {
        const student = this.students.get(record.s);
        if (student === undefined) return `answer from student ${record.s}, who never joined`;
        const entry = student.progress.get(record.e) ?? EMPTY_EXERCISE;
        const verdict = { correct: record.c, feedback: '' };
        student.progress.set(
          record.e,
          recordVerdict(entry, verdict, record.a, new Date(record.at)),
        );
        if (!record.c && record.a !== null) this.#countWrong(record.e, record.a);
        return null;
      }
      case 'reveal': {
        const student = this.students.get(record.s);
        if (student === undefined) return `reveal for student ${record.s}, who never joined`;
        const entry = student.progress.get(record.e) ?? EMPTY_EXERCISE;
        const next = recordReveal(entry, new Date(record.at));
        if (next === entry) return `reveal of ${record.e} before ${record.s} could see it`;
        student.progress.set(record.e, next);
        return null;
      }
      case 'chapter':
        this.chapters[record.ch] = record.st;
        return null;
    }
  }

  #countWrong(exercise: string, answer: Answer): void {
    let counts = this.#wrong.get(exercise);
    if (counts === undefined) {
      counts = new Map();
      this.#wrong.set(exercise, counts);
    }
    const key = wrongKey(answer, this.#ordered(exercise));
    const count = counts.get(key);
    if (count !== undefined) counts.set(key, count + 1);
    else if (counts.size < MAX_DISTINCT_WRONG) counts.set(key, 1);
  }

  /** The most common wrong answers of one exercise, most frequent first (ties: first seen). */
  topWrong(exercise: string): WrongAnswerCount[] {
    const counts = this.#wrong.get(exercise);
    if (counts === undefined) return [];
    const top: WrongAnswerCount[] = [];
    for (const [answer, count] of counts) {
      if (top.length < TOP_WRONG) {
        top.push({ answer, count });
        top.sort((a, b) => b.count - a.count);
      } else if (count > (top[TOP_WRONG - 1] as WrongAnswerCount).count) {
        top[TOP_WRONG - 1] = { answer, count };
        top.sort((a, b) => b.count - a.count);
      }
    }
    return top;
  }

  wrongByExercise(): Record<string, WrongAnswerCount[]> {
    const all: Record<string, WrongAnswerCount[]> = {};
    for (const exercise of this.#wrong.keys()) all[exercise] = this.topWrong(exercise);
    return all;
  }
}
