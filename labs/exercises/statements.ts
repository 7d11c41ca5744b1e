/**
 * "Choose every true statement" exercises: each statement knows whether it is true and why, and
 * a wrong answer names every statement the learner misjudged, with its reason.
 */
import type { Verdict } from './types.ts';

export interface Statement {
  readonly id: string;
  readonly label: string;
  readonly true: boolean;
  readonly why: string;
}

/**
 * Right when exactly the true statements were chosen. `words` opens the feedback for a true
 * statement left out (`missed`) and for a false one chosen (`wrong`).
 */
export function checkStatements(
  statements: readonly Statement[],
  answer: readonly string[],
  words: { readonly missed: string; readonly wrong: string },
): Verdict {
  const chosen = new Set(answer);
  const wrong = statements.filter((s) => chosen.has(s.id) !== s.true);
  if (wrong.length === 0) return { correct: true, feedback: '' };
  return {
    correct: false,
    feedback: wrong
      .map((s) => `${s.true ? words.missed : words.wrong} "${s.label}". ${s.why}`)
      .join(' '),
    wrong: wrong.map((s) => s.id),
  };
}
