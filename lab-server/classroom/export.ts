/**
 * The class's results as CSV (RFC 4180) and JSON, for the teacher's spreadsheet or gradebook.
 * Student names and answers are text typed by students: in the CSV every such cell is quoted as
 * RFC 4180 §2 says when needed, and a cell a spreadsheet would run as a formula (starting with
 * = + - @, a tab or a carriage return) gets a leading apostrophe (OWASP's "CSV injection").
 */
import { answerDisplay } from '../../labs/classroom/protocol.ts';
import { EMPTY_EXERCISE } from '../../labs/exercises/progress.ts';
import type { ChapterId, Exercise } from '../../labs/exercises/types.ts';
import type { ClassState } from './state.ts';

export const EXPORT_FORMAT = 'websocket-lab-classroom-results';
export const EXPORT_VERSION = 1;

/** One CSV cell: formula-safe, then quoted when it holds a comma, a quote or a line break. */
export function csvCell(value: string): string {
  let text = value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const COLUMNS = [
  'student_id',
  'name',
  'chapter',
  'exercise',
  'solved',
  'tries',
  'revealed',
  'last_answer',
  'last_at',
] as const;

/** One row per student and exercise, students in joining order, exercises in course order. */
export function resultsCsv(state: ClassState, exercises: readonly Exercise[]): string {
  const lines = [COLUMNS.join(',')];
  for (const student of state.students.values()) {
    for (const exercise of exercises) {
      const entry = student.progress.get(exercise.id) ?? EMPTY_EXERCISE;
      const touched = student.progress.has(exercise.id);
      lines.push(
        [
          student.id,
          student.name,
          exercise.chapter,
          exercise.id,
          String(entry.solved),
          String(entry.tries),
          String(entry.revealed),
          answerDisplay(entry.lastAnswer, 500),
          touched ? entry.updatedAt : '',
        ]
          .map(csvCell)
          .join(','),
      );
    }
  }
  // CRLF line ends (RFC 4180 §2.1), and a BOM so spreadsheets read the names as UTF-8.
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

export interface ResultsJson {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION;
  readonly exportedAt: string;
  readonly class: { readonly name: string; readonly code: string; readonly createdAt: string };
  readonly chapters: Readonly<Record<ChapterId, 'open' | 'locked'>>;
  readonly exercises: readonly { id: string; chapter: ChapterId; title: string; kind: string }[];
  readonly students: readonly {
    readonly id: string;
    readonly name: string;
    readonly joinedAt: string;
    readonly results: Readonly<
      Record<
        string,
        {
          readonly solved: boolean;
          readonly tries: number;
          readonly revealed: boolean;
          readonly lastAnswer: unknown;
          readonly lastAt: string;
        }
      >
    >;
  }[];
}

export function resultsJson(
  state: ClassState,
  exercises: readonly Exercise[],
  info: { name: string; code: string; createdAt: string },
  now: Date,
): ResultsJson {
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: now.toISOString(),
    class: info,
    chapters: { ...state.chapters },
    exercises: exercises.map((e) => ({
      id: e.id,
      chapter: e.chapter,
      title: e.title,
      kind: e.kind,
    })),
    students: [...state.students.values()].map((student) => ({
      id: student.id,
      name: student.name,
      joinedAt: student.joinedAt,
      results: Object.fromEntries(
        [...student.progress].map(([id, entry]) => [
          id,
          {
            solved: entry.solved,
            tries: entry.tries,
            revealed: entry.revealed,
            lastAnswer: entry.lastAnswer,
            lastAt: entry.updatedAt,
          },
        ]),
      ),
    })),
  };
}
