/**
 * The rules of one exercise on the page, without a DOM: which values the learner gets, how a
 * verdict changes their progress, how many hints they see, when the answer may be revealed, and
 * what "new values" resets. The view only draws what these functions decide.
 */
import type { ExerciseProgress, StoredAnswer } from './progress.ts';
import { createRng, seedFor } from './rng.ts';
import type { Exercise, ExerciseKind, Verdict } from './types.ts';
import { REVEAL_AFTER } from './types.ts';

/**
 * The seed of one round of one exercise. Round 0 is `seedFor(seed, id)` exactly, as the
 * contract says, so the classroom server rebuilds the same first values; each "new values"
 * draws from a seed of its own.
 */
export function roundSeed(learnerSeed: string, id: string, round: number): number {
  return seedFor(learnerSeed, round === 0 ? id : `${id}#${round}`);
}

export function paramsFor(exercise: Exercise, learnerSeed: string, round: number): unknown {
  return exercise.generate(createRng(roundSeed(learnerSeed, exercise.id, round)));
}

/** One more hint per wrong try, up to all of them. */
export function visibleHints(hints: readonly string[], entry: ExerciseProgress): readonly string[] {
  const shown = entry.roundSolved || entry.revealed ? hints.length : entry.tries;
  return hints.slice(0, Math.min(shown, hints.length));
}

export function canReveal(entry: ExerciseProgress): boolean {
  return !entry.revealed && !entry.roundSolved && entry.tries >= REVEAL_AFTER;
}

/** Wrong tries left before the answer can be revealed (0 when it can be). */
export function triesBeforeReveal(entry: ExerciseProgress): number {
  return Math.max(0, REVEAL_AFTER - entry.tries);
}

export function recordVerdict(
  entry: ExerciseProgress,
  verdict: Verdict,
  answer: StoredAnswer,
  now: Date,
): ExerciseProgress {
  return {
    ...entry,
    tries: verdict.correct ? entry.tries : entry.tries + 1,
    roundSolved: entry.roundSolved || verdict.correct,
    solved: entry.solved || verdict.correct,
    lastAnswer: answer,
    updatedAt: now.toISOString(),
  };
}

/** Keeps what the learner typed without checking it (so a reload does not lose it). */
export function recordDraft(
  entry: ExerciseProgress,
  answer: StoredAnswer,
  now: Date,
): ExerciseProgress {
  return { ...entry, lastAnswer: answer, updatedAt: now.toISOString() };
}

export function recordReveal(entry: ExerciseProgress, now: Date): ExerciseProgress {
  if (!canReveal(entry)) return entry;
  return { ...entry, revealed: true, updatedAt: now.toISOString() };
}

/** New values: a fresh round with no tries; having solved the exercise once stays. */
export function recordNewRound(entry: ExerciseProgress, now: Date): ExerciseProgress {
  return {
    ...entry,
    round: entry.round + 1,
    tries: 0,
    revealed: false,
    roundSolved: false,
    lastAnswer: null,
    updatedAt: now.toISOString(),
  };
}

/** What `incompleteAnswer` needs of an exercise: its definition, or its view in a class. */
export interface AnswerShape {
  readonly kind: ExerciseKind;
  readonly label?: string;
  readonly multiple?: boolean;
}

/** Why an answer cannot be checked yet, or null when it can. Not a try: nothing was answered. */
export function incompleteAnswer(exercise: AnswerShape, answer: StoredAnswer): string | null {
  switch (exercise.kind) {
    case 'short-answer':
      return typeof answer === 'string' && answer.trim() !== ''
        ? null
        : `Type your answer in the ${exercise.label ?? 'answer'} field first.`;
    case 'choice':
      return Array.isArray(answer) && answer.length > 0
        ? null
        : exercise.multiple
          ? 'Choose at least one option first.'
          : 'Choose an option first.';
    case 'ordering':
      return null;
    case 'frame-fields': {
      if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) {
        return 'Fill in the fields first.';
      }
      const record = answer as Readonly<Record<string, string>>;
      return Object.values(record).some((value) => value.trim() !== '')
        ? null
        : 'Fill in the fields first.';
    }
    case 'live':
      return null;
  }
}

/** Moves one item of an ordering up (-1) or down (+1); returns the same order at an edge. */
export function moveItem(order: readonly string[], id: string, by: -1 | 1): string[] {
  const from = order.indexOf(id);
  const to = from + by;
  if (from === -1 || to < 0 || to >= order.length) return [...order];
  const next = [...order];
  [next[from], next[to]] = [next[to] as string, next[from] as string];
  return next;
}

/**
 * The learner's saved order when it still holds exactly the exercise's items (the items can
 * change between versions of the site), else the starting order.
 */
export function restoredOrder(items: readonly string[], saved: StoredAnswer): string[] {
  if (!Array.isArray(saved)) return [...items];
  const list = saved as readonly string[];
  const same =
    list.length === items.length &&
    new Set(list).size === list.length &&
    list.every((id) => items.includes(id));
  return same ? [...list] : [...items];
}
