/**
 * A learner's progress: what they answered, how often, whether they solved each exercise, and
 * the seed their values come from. Kept in localStorage, exported to and imported from a JSON
 * file. Pure: storage is passed in as anything with `getItem`/`setItem`, so the validation and
 * the summaries are tested without a browser.
 *
 * An imported file is hostile input like any other: it is read strictly, and every problem is
 * named with its path ("exercises.accept-compute.tries: ...") instead of half-loading it.
 */
import { CHAPTERS, type ChapterId, type Exercise, REVEAL_AFTER } from './types.ts';

export const PROGRESS_FORMAT = 'websocket-lab-progress';
export const PROGRESS_VERSION = 1;
/** localStorage key of the whole progress record. */
export const STORAGE_KEY = 'websocket-lab:progress:v1';
/** The window event the view dispatches after saving, so progress views on the page refresh. */
export const PROGRESS_EVENT = 'websocket-lab:progress';
/** Files above this size are refused before parsing: real progress files are a few kB. */
export const MAX_FILE_BYTES = 1_000_000;

const MAX_TRIES = 1_000_000;
const MAX_ROUND = 1_000_000;
const MAX_TEXT = 10_000;
const MAX_ITEMS = 100;
const ID = /^[a-z0-9][a-z0-9-]{0,79}$/;
const SEED = /^[A-Za-z0-9_-]{1,128}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/**
 * The last answer, as the kind of exercise holds it: typed text, chosen or ordered ids, or
 * frame fields by name. `null` before any answer (and for live exercises, whose answer is
 * what the lab server saw).
 */
export type StoredAnswer = string | readonly string[] | Readonly<Record<string, string>> | null;

export interface ExerciseProgress {
  /** 0 for the learner's first values; one more each time they ask for new values. */
  readonly round: number;
  /** Wrong tries with the current values: the hint ladder and the reveal depend on it. */
  readonly tries: number;
  /** The answer to the current values was shown. */
  readonly revealed: boolean;
  /** The current values were answered correctly. */
  readonly roundSolved: boolean;
  /** Solved at least once, whatever the round: what the progress views count. */
  readonly solved: boolean;
  readonly lastAnswer: StoredAnswer;
  /** ISO 8601, UTC. */
  readonly updatedAt: string;
}

export interface Progress {
  /** The learner's seed: every exercise's values come from it (rng.ts `seedFor`). */
  readonly seed: string;
  readonly exercises: Readonly<Record<string, ExerciseProgress>>;
}

export interface ProgressFile extends Progress {
  readonly format: typeof PROGRESS_FORMAT;
  readonly version: typeof PROGRESS_VERSION;
  readonly exportedAt: string;
}

export const EMPTY_EXERCISE: ExerciseProgress = {
  round: 0,
  tries: 0,
  revealed: false,
  roundSolved: false,
  solved: false,
  lastAnswer: null,
  updatedAt: '1970-01-01T00:00:00.000Z',
};

export function exerciseProgress(progress: Progress, id: string): ExerciseProgress {
  return progress.exercises[id] ?? EMPTY_EXERCISE;
}

export function withExercise(progress: Progress, id: string, entry: ExerciseProgress): Progress {
  return { seed: progress.seed, exercises: { ...progress.exercises, [id]: entry } };
}

export function toFile(progress: Progress, now: Date): ProgressFile {
  return {
    format: PROGRESS_FORMAT,
    version: PROGRESS_VERSION,
    exportedAt: now.toISOString(),
    seed: progress.seed,
    exercises: progress.exercises,
  };
}

/** The name offered for an exported file: `websocket-lab-progress-2026-11-25.json`. */
export function exportFileName(now: Date): string {
  return `${PROGRESS_FORMAT}-${now.toISOString().slice(0, 10)}.json`;
}

export type ParsedProgress =
  | {
      readonly ok: true;
      readonly progress: Progress;
      /** Things that were accepted but are worth saying: exercises this site does not have. */
      readonly notes: readonly string[];
    }
  | { readonly ok: false; readonly errors: readonly string[] };

/**
 * Reads an exported progress file. Every field is checked for type, range and consistency;
 * unknown fields are errors (a file from another program is more likely than a careless
 * extension). At most 20 problems are listed so a garbage file gives a readable answer.
 */
export function parseProgressFile(
  text: string,
  knownIds: ReadonlySet<string> = new Set(),
): ParsedProgress {
  if (text.length > MAX_FILE_BYTES) {
    return {
      ok: false,
      errors: [
        `The file has ${text.length.toLocaleString('en')} characters; a progress file is a few kilobytes (at most ${MAX_FILE_BYTES.toLocaleString('en')} are read).`,
      ],
    };
  }
  if (text.trim() === '') return { ok: false, errors: ['The file is empty.'] };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      errors: [
        `The file is not JSON (${error instanceof Error ? error.message : String(error)}). Choose a file saved with "Export progress".`,
      ],
    };
  }
  return readFile(data, knownIds);
}

function readFile(data: unknown, knownIds: ReadonlySet<string>): ParsedProgress {
  const errors: string[] = [];
  if (!isPlainObject(data)) {
    return {
      ok: false,
      errors: [`The file holds ${describe(data)}, not a progress record (a JSON object).`],
    };
  }
  if (data.format !== PROGRESS_FORMAT) {
    return {
      ok: false,
      errors: [
        `format: expected "${PROGRESS_FORMAT}", found ${describe(data.format)}. This is not a WebSocket Lab progress file.`,
      ],
    };
  }
  if (data.version !== PROGRESS_VERSION) {
    const newer = typeof data.version === 'number' && data.version > PROGRESS_VERSION;
    return {
      ok: false,
      errors: [
        newer
          ? `version: the file is version ${data.version}, made by a newer WebSocket Lab; this one reads version ${PROGRESS_VERSION}.`
          : `version: expected ${PROGRESS_VERSION}, found ${describe(data.version)}.`,
      ],
    };
  }
  unknownKeys(data, ['format', 'version', 'exportedAt', 'seed', 'exercises'], '', errors);
  if (typeof data.exportedAt !== 'string' || !isIsoDate(data.exportedAt)) {
    errors.push(
      `exportedAt: expected a UTC date like "2026-11-25T08:00:00.000Z", found ${describe(data.exportedAt)}.`,
    );
  }
  if (typeof data.seed !== 'string' || !SEED.test(data.seed)) {
    errors.push(
      `seed: expected 1 to 128 letters, digits, "-" or "_", found ${describe(data.seed)}.`,
    );
  }
  const exercises: Record<string, ExerciseProgress> = {};
  const notes: string[] = [];
  if (!isPlainObject(data.exercises)) {
    errors.push(
      `exercises: expected an object keyed by exercise id, found ${describe(data.exercises)}.`,
    );
  } else {
    for (const [id, value] of Object.entries(data.exercises)) {
      if (errors.length >= 20) break;
      const path = `exercises.${truncate(id, 40)}`;
      if (!ID.test(id)) {
        errors.push(
          `${path}: "${truncate(id, 40)}" is not an exercise id (lowercase letters, digits and "-").`,
        );
        continue;
      }
      const entry = readEntry(value, path, errors);
      if (entry !== null) exercises[id] = entry;
      if (knownIds.size > 0 && !knownIds.has(id)) {
        notes.push(`"${id}" is not an exercise on this site; its progress is kept but not shown.`);
      }
    }
  }
  if (errors.length > 0) {
    const shown = errors.slice(0, 20);
    if (errors.length > 20) shown.push(`…and ${errors.length - 20} more problems.`);
    return { ok: false, errors: shown };
  }
  return { ok: true, progress: { seed: data.seed as string, exercises }, notes };
}

function readEntry(value: unknown, path: string, errors: string[]): ExerciseProgress | null {
  if (!isPlainObject(value)) {
    errors.push(`${path}: expected an object, found ${describe(value)}.`);
    return null;
  }
  const before = errors.length;
  unknownKeys(
    value,
    ['round', 'tries', 'revealed', 'roundSolved', 'solved', 'lastAnswer', 'updatedAt'],
    `${path}.`,
    errors,
  );
  const count = (name: 'round' | 'tries', max: number) => {
    const n = value[name];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) {
      errors.push(
        `${path}.${name}: expected a whole number from 0 to ${max}, found ${describe(n)}.`,
      );
    }
  };
  count('round', MAX_ROUND);
  count('tries', MAX_TRIES);
  for (const name of ['revealed', 'roundSolved', 'solved'] as const) {
    if (typeof value[name] !== 'boolean') {
      errors.push(`${path}.${name}: expected true or false, found ${describe(value[name])}.`);
    }
  }
  if (typeof value.updatedAt !== 'string' || !isIsoDate(value.updatedAt)) {
    errors.push(`${path}.updatedAt: expected a UTC date, found ${describe(value.updatedAt)}.`);
  }
  const answerProblem = checkAnswer(value.lastAnswer);
  if (answerProblem !== null) errors.push(`${path}.lastAnswer: ${answerProblem}`);
  if (errors.length > before) return null;
  // The rules the view itself keeps; a file that breaks them was edited by hand.
  if (value.roundSolved === true && value.solved !== true) {
    errors.push(
      `${path}: roundSolved is true but solved is false; solving the current values solves the exercise.`,
    );
  }
  if (value.revealed === true && (value.tries as number) < REVEAL_AFTER) {
    errors.push(
      `${path}: revealed is true after ${value.tries} wrong tries; the answer is only shown after ${REVEAL_AFTER}.`,
    );
  }
  if (errors.length > before) return null;
  return {
    round: value.round as number,
    tries: value.tries as number,
    revealed: value.revealed as boolean,
    roundSolved: value.roundSolved as boolean,
    solved: value.solved as boolean,
    lastAnswer: value.lastAnswer as StoredAnswer,
    updatedAt: value.updatedAt as string,
  };
}

function checkAnswer(answer: unknown): string | null {
  if (answer === null) return null;
  if (typeof answer === 'string') {
    return answer.length <= MAX_TEXT ? null : `longer than ${MAX_TEXT} characters.`;
  }
  if (Array.isArray(answer)) {
    if (answer.length > MAX_ITEMS) return `more than ${MAX_ITEMS} items.`;
    const bad = answer.findIndex((item) => typeof item !== 'string' || item.length > 200);
    return bad === -1 ? null : `item ${bad} is ${describe(answer[bad])}, expected a short string.`;
  }
  if (isPlainObject(answer)) {
    const entries = Object.entries(answer);
    if (entries.length > MAX_ITEMS) return `more than ${MAX_ITEMS} fields.`;
    for (const [name, value] of entries) {
      if (typeof value !== 'string' || value.length > MAX_TEXT) {
        return `field "${truncate(name, 40)}" is ${describe(value)}, expected text.`;
      }
    }
    return null;
  }
  return `expected null, text, a list of ids or an object of fields, found ${describe(answer)}.`;
}

function unknownKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  prefix: string,
  errors: string[],
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      errors.push(`${prefix}${truncate(key, 40)}: not a field of a progress file.`);
  }
  for (const key of allowed) {
    if (!(key in value)) errors.push(`${prefix}${key}: missing.`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIsoDate(text: string): boolean {
  return ISO_DATE.test(text) && !Number.isNaN(Date.parse(text));
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** A value as a short phrase for an error message; never the whole of a huge value. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `"${truncate(value, 40)}"`;
  return `${typeof value} ${String(value)}`;
}

/** Where progress lives: `localStorage` in the browser. */
export interface ProgressStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * Loads progress, making a seed when there is none. Storage that holds something unreadable
 * (another version, a hand edit) is not thrown away silently: `damaged` says why, and the
 * caller keeps the text out of the way before overwriting.
 */
export function loadProgress(
  storage: ProgressStorage,
  makeSeed: () => string,
): { readonly progress: Progress; readonly damaged: readonly string[] | null } {
  let text: string | null = null;
  try {
    text = storage.getItem(STORAGE_KEY);
  } catch {
    // Storage disabled (privacy settings): progress lives only as long as the page.
  }
  if (text !== null) {
    const parsed = parseProgressFile(text);
    if (parsed.ok) return { progress: parsed.progress, damaged: null };
    return { progress: { seed: makeSeed(), exercises: {} }, damaged: parsed.errors };
  }
  return { progress: { seed: makeSeed(), exercises: {} }, damaged: null };
}

/** Saves progress in the file format, so what is stored and what is exported read the same. */
export function saveProgress(storage: ProgressStorage, progress: Progress, now: Date): boolean {
  try {
    storage.setItem(STORAGE_KEY, JSON.stringify(toFile(progress, now)));
    return true;
  } catch {
    return false;
  }
}

export type ExerciseStatus = 'solved' | 'revealed' | 'tried' | 'new';

export function statusOf(entry: ExerciseProgress): ExerciseStatus {
  if (entry.solved) return 'solved';
  if (entry.revealed) return 'revealed';
  if (entry.tries > 0 || entry.lastAnswer !== null) return 'tried';
  return 'new';
}

export const STATUS_TEXT: Readonly<Record<ExerciseStatus, string>> = {
  solved: 'Solved',
  revealed: 'Answer shown',
  tried: 'Started',
  new: 'Not started',
};

export interface ChapterSummary {
  readonly chapter: ChapterId;
  readonly total: number;
  readonly solved: number;
  readonly items: readonly {
    readonly id: string;
    readonly title: string;
    readonly status: ExerciseStatus;
    readonly tries: number;
  }[];
}

export function chapterSummary(
  progress: Progress,
  chapter: ChapterId,
  exercises: readonly Exercise[],
): ChapterSummary {
  const items = exercises
    .filter((exercise) => exercise.chapter === chapter)
    .map((exercise) => {
      const entry = exerciseProgress(progress, exercise.id);
      return {
        id: exercise.id,
        title: exercise.title,
        status: statusOf(entry),
        tries: entry.tries,
      };
    });
  return {
    chapter,
    total: items.length,
    solved: items.filter((item) => item.status === 'solved').length,
    items,
  };
}

/** Every chapter that has exercises, in course order. */
export function courseSummary(
  progress: Progress,
  exercises: readonly Exercise[],
): readonly ChapterSummary[] {
  return CHAPTERS.map((chapter) => chapterSummary(progress, chapter, exercises)).filter(
    (summary) => summary.total > 0,
  );
}
