/**
 * The teacher dashboard's state, without a DOM: the snapshot the server sends when the teacher
 * connects, then each update applied in order (a student joined or went offline, a result, the
 * chapters opened or locked). The reducer also says which cells changed, so the view can touch a
 * handful of table cells on each update instead of redrawing 500 rows.
 *
 * Names and answers here are data from students: the view sets them as text only.
 */
import type { ChapterId } from '../exercises/types.ts';
import type {
  ChapterStates,
  ResultSummary as ResultRow,
  SnapshotMessage,
  StudentSummary as StudentRow,
  TeacherUpdate,
  ToTeacherMessage,
  WrongAnswerCount as WrongAnswer,
} from './protocol.ts';

export type ClassInfo = SnapshotMessage['class'];
export type ExerciseSummary = SnapshotMessage['exercises'][number];

export interface DashboardState {
  readonly info: ClassInfo;
  readonly chapters: ChapterStates;
  /** In course order, as the server lists them. */
  readonly exercises: readonly ExerciseSummary[];
  /** In the order they joined. */
  readonly students: ReadonlyMap<string, StudentRow>;
  /** Keyed by `resultKey(student, exercise)`. */
  readonly results: ReadonlyMap<string, ResultRow>;
  readonly wrong: ReadonlyMap<string, readonly WrongAnswer[]>;
}

/** What an update changed, for the view to redraw only that. */
export interface Changes {
  /** The whole table must be rebuilt (snapshot, a new student, chapters changed). */
  readonly all: boolean;
  /** Result cells, as `resultKey`s. */
  readonly cells: readonly string[];
  readonly students: readonly string[];
  /** Exercises whose counts or wrong answers changed. */
  readonly exercises: readonly string[];
  readonly chapters: boolean;
}

export function resultKey(student: string, exercise: string): string {
  return `${student}\u0000${exercise}`;
}

export function fromSnapshot(snapshot: SnapshotMessage): DashboardState {
  const students = new Map<string, StudentRow>();
  for (const student of snapshot.students) students.set(student.id, student);
  const results = new Map<string, ResultRow>();
  for (const result of snapshot.results) {
    results.set(resultKey(result.student, result.exercise), result);
  }
  const wrong = new Map<string, readonly WrongAnswer[]>();
  for (const [exercise, list] of Object.entries(snapshot.wrong)) wrong.set(exercise, list);
  return {
    info: snapshot.class,
    chapters: snapshot.chapters,
    exercises: snapshot.exercises,
    students,
    results,
    wrong,
  };
}

/**
 * Applies one server message. A snapshot replaces everything (the server sends one on every
 * (re)connection); a batch is its updates in order; messages that change nothing (a refusal,
 * an update before any snapshot) return the same state and no changes. The state before is
 * never modified.
 */
export function applyMessage(
  state: DashboardState | null,
  message: ToTeacherMessage,
): { state: DashboardState | null; changes: Changes } {
  return applyMessages(state, [message]);
}

/**
 * Several messages at once (the server coalesces updates into batches; a slow page may hold a
 * few). The maps are copied once per call, not once per update: a batch of 500 results into a
 * table of 20,000 costs 500 writes, not 500 copies.
 */
export function applyMessages(
  state: DashboardState | null,
  messages: readonly (ToTeacherMessage | TeacherUpdate)[],
): { state: DashboardState | null; changes: Changes } {
  let current = state;
  let all = false;
  let chapters = false;
  const cells = new Set<string>();
  const students = new Set<string>();
  const exercises = new Set<string>();
  // Copies made for this call, written in place until the call returns.
  let ownStudents: Map<string, StudentRow> | null = null;
  let ownResults: Map<string, ResultRow> | null = null;
  let ownWrong: Map<string, readonly WrongAnswer[]> | null = null;

  const apply = (message: ToTeacherMessage | TeacherUpdate): void => {
    if (message.type === 'snapshot') {
      current = fromSnapshot(message);
      ownStudents = current.students as Map<string, StudentRow>;
      ownResults = current.results as Map<string, ResultRow>;
      ownWrong = current.wrong as Map<string, readonly WrongAnswer[]>;
      all = true;
      chapters = true;
      return;
    }
    if (message.type === 'batch') {
      for (const update of message.updates) apply(update);
      return;
    }
    if (current === null) return;
    switch (message.type) {
      case 'student': {
        if (!current.students.has(message.student.id)) all = true;
        ownStudents ??= new Map(current.students);
        ownStudents.set(message.student.id, message.student);
        current = { ...current, students: ownStudents };
        students.add(message.student.id);
        return;
      }
      case 'result': {
        const { result } = message;
        const key = resultKey(result.student, result.exercise);
        // A result of a student the dashboard has not seen yet: a row must be added.
        if (!current.students.has(result.student)) all = true;
        ownResults ??= new Map(current.results);
        ownResults.set(key, result);
        let wrong = current.wrong;
        if (message.wrong !== undefined) {
          ownWrong ??= new Map(current.wrong);
          ownWrong.set(result.exercise, message.wrong);
          wrong = ownWrong;
        }
        current = { ...current, results: ownResults, wrong };
        cells.add(key);
        students.add(result.student);
        exercises.add(result.exercise);
        return;
      }
      case 'chapters':
        current = { ...current, chapters: message.chapters };
        chapters = true;
        return;
      default:
        return;
    }
  };
  for (const message of messages) apply(message);
  return {
    state: current,
    changes: {
      all,
      chapters,
      cells: [...cells],
      students: [...students],
      exercises: [...exercises],
    },
  };
}

// ---- what the table shows -----------------------------------------------------------------

export type CellStatus = 'none' | 'trying' | 'solved' | 'revealed';

export interface Cell {
  readonly status: CellStatus;
  /** Short text for the cell: "✓", "✓ 2", "3 ✗", "shown", "". */
  readonly text: string;
  /** The same in words, for screen readers and the title tooltip. */
  readonly label: string;
}

export function cellOf(result: ResultRow | undefined): Cell {
  if (result === undefined || (result.tries === 0 && !result.solved && !result.revealed)) {
    return { status: 'none', text: '', label: 'not tried' };
  }
  const tries = `${result.tries} wrong ${result.tries === 1 ? 'try' : 'tries'}`;
  if (result.solved) {
    return {
      status: 'solved',
      text: result.tries === 0 ? '✓' : `✓ ${result.tries}`,
      label: result.tries === 0 ? 'solved at the first try' : `solved after ${tries}`,
    };
  }
  if (result.revealed)
    return { status: 'revealed', text: 'shown', label: `answer shown after ${tries}` };
  return { status: 'trying', text: `${result.tries} ✗`, label: `not solved yet, ${tries}` };
}

export interface ExerciseCounts {
  readonly solved: number;
  /** Students with at least one try or a solution. */
  readonly attempted: number;
  readonly revealed: number;
}

export function exerciseCounts(state: DashboardState, exercise: string): ExerciseCounts {
  let solved = 0;
  let attempted = 0;
  let revealed = 0;
  for (const id of state.students.keys()) {
    const result = state.results.get(resultKey(id, exercise));
    if (result === undefined) continue;
    if (result.solved) solved++;
    if (result.revealed) revealed++;
    if (result.solved || result.tries > 0 || result.revealed) attempted++;
  }
  return { solved, attempted, revealed };
}

export function solvedBy(state: DashboardState, student: string): number {
  let solved = 0;
  for (const exercise of state.exercises) {
    if (state.results.get(resultKey(student, exercise.id))?.solved) solved++;
  }
  return solved;
}

export interface TableFilter {
  /** One chapter's exercises, or every chapter's. */
  readonly chapter: ChapterId | 'all';
  /** Part of a display name, any case; empty for everyone. */
  readonly name: string;
  readonly onlineOnly: boolean;
  readonly sort: 'joined' | 'name' | 'solved';
}

export const DEFAULT_FILTER: TableFilter = {
  chapter: 'all',
  name: '',
  onlineOnly: false,
  sort: 'joined',
};

export function visibleExercises(
  state: DashboardState,
  filter: TableFilter,
): readonly ExerciseSummary[] {
  return filter.chapter === 'all'
    ? state.exercises
    : state.exercises.filter((exercise) => exercise.chapter === filter.chapter);
}

export function visibleStudents(state: DashboardState, filter: TableFilter): readonly StudentRow[] {
  const needle = filter.name.trim().toLocaleLowerCase();
  const rows = [...state.students.values()].filter(
    (student) =>
      (!filter.onlineOnly || student.online) &&
      (needle === '' || student.name.toLocaleLowerCase().includes(needle)),
  );
  if (filter.sort === 'name') {
    rows.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  } else if (filter.sort === 'solved') {
    const solved = new Map(rows.map((row) => [row.id, solvedBy(state, row.id)]));
    rows.sort(
      (a, b) => (solved.get(b.id) ?? 0) - (solved.get(a.id) ?? 0) || a.name.localeCompare(b.name),
    );
  }
  return rows;
}

/** The chapters that have exercises, in course order, with how many each has. */
export function chaptersWithExercises(
  state: DashboardState,
): readonly { chapter: ChapterId; exercises: number }[] {
  const counts = new Map<ChapterId, number>();
  for (const exercise of state.exercises) {
    counts.set(exercise.chapter, (counts.get(exercise.chapter) ?? 0) + 1);
  }
  return [...counts].map(([chapter, exercises]) => ({ chapter, exercises }));
}

export function onlineCount(state: DashboardState): number {
  let online = 0;
  for (const student of state.students.values()) if (student.online) online++;
  return online;
}
