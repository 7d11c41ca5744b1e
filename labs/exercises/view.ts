/**
 * Self-study exercises: one exercise from the registry inside its `<section data-exercise>`,
 * with the learner's own values, checked in this browser, progress saved in localStorage. The
 * rules live in session.ts and progress.ts; the drawing is draw.ts, shared with classroom mode
 * (labs/classroom/exercise-view.ts), where the lab server sends the view and checks answers.
 */
import { exerciseView } from '../classroom/protocol.ts';
import { h } from '../shared/dom.ts';
import { renderUnavailable } from '../shared/lab-server.ts';
import { codeText, ExerciseDrawing } from './draw.ts';
import { type LiveCollector, type Watch, watchLearnerEvents } from './live.ts';
import type { ExerciseProgress, StoredAnswer } from './progress.ts';
import { allExercises, exerciseById } from './registry.ts';
import {
  canReveal,
  incompleteAnswer,
  paramsFor,
  recordDraft,
  recordNewRound,
  recordReveal,
  recordVerdict,
  triesBeforeReveal,
  visibleHints,
} from './session.ts';
import { onProgressChange, readExercise, readProgress, updateExercise } from './store.ts';
import type { Exercise, LiveExercise, Verdict } from './types.ts';
import { REVEAL_AFTER } from './types.ts';

export interface MountOptions {
  readonly headingLevel?: 2 | 3 | 4;
}

export interface Mounted {
  dispose(): void;
}

export function mount(element: HTMLElement, options: MountOptions = {}): Mounted {
  const id = element.dataset.exercise ?? '';
  const exercise = exerciseById(id);
  element.replaceChildren();
  element.classList.add('ex');
  if (exercise === undefined) {
    const known = allExercises().map((e) => e.id);
    element.append(
      h(
        'p',
        { class: 'ex-missing', role: 'alert' },
        `There is no exercise "${id}" in labs/exercises/registry.ts. Known ids: ${known.join(', ') || 'none'}.`,
      ),
    );
    return { dispose() {} };
  }
  const view = new LocalExercise(element, exercise, options.headingLevel ?? 3);
  return { dispose: () => view.dispose() };
}

/** Self-study: values drawn from the learner's seed, checked here, progress in localStorage. */
class LocalExercise {
  readonly #root: HTMLElement;
  readonly #exercise: Exercise;
  readonly #level: 2 | 3 | 4;
  #seed = '';
  #round = -1;
  #params: unknown;
  #drawing!: ExerciseDrawing;
  /** Bumped on every redraw, so a slow check for old values is ignored. */
  #generation = 0;
  #watch: Watch | null = null;
  #lastLiveFeedback: string | null = null;
  readonly #unsubscribe: () => void;

  constructor(root: HTMLElement, exercise: Exercise, level: 2 | 3 | 4) {
    this.#root = root;
    this.#exercise = exercise;
    this.#level = level;
    this.#draw();
    this.#unsubscribe = onProgressChange(() => this.#onExternalChange());
  }

  dispose(): void {
    this.#unsubscribe();
    this.#watch?.stop();
    this.#root.replaceChildren();
  }

  /** Another tab, an import or "new values" elsewhere: redraw when the values changed. */
  #onExternalChange(): void {
    const progress = readProgress();
    const entry = readExercise(this.#exercise.id);
    if (progress.seed !== this.#seed || entry.round !== this.#round) this.#draw();
    else this.#refresh(entry);
  }

  #draw(): void {
    this.#generation++;
    this.#watch?.stop();
    this.#watch = null;
    const exercise = this.#exercise;
    const progress = readProgress();
    const entry = readExercise(exercise.id);
    this.#seed = progress.seed;
    this.#round = entry.round;
    this.#params = paramsFor(exercise, progress.seed, entry.round);
    this.#drawing = new ExerciseDrawing(this.#root, exerciseView(exercise, this.#params), {
      level: this.#level,
      lastAnswer: entry.lastAnswer,
      actions: {
        submit: (answer) => void this.#submit(answer),
        // Keep what is typed across reloads, without counting it as a try.
        draft: (answer) =>
          void updateExercise(exercise.id, (current) => recordDraft(current, answer, new Date())),
        reveal: () => {
          const next = updateExercise(exercise.id, (current) => recordReveal(current, new Date()));
          this.#refresh(next);
          this.#drawing.focusAnswer();
        },
        newValues: () => {
          updateExercise(exercise.id, (current) => recordNewRound(current, new Date()));
          this.#draw();
          this.#drawing.focusTitle();
          this.#drawing.say('New values drawn. The question above has changed.');
        },
        ...(exercise.kind === 'live'
          ? {
              live: {
                label: 'Start watching',
                help: 'Press "Start watching", then do the task in the lab. This page listens to the lab server and checks the connections your browser opens from then on.',
                press: (_status: HTMLElement, button: HTMLButtonElement) => {
                  this.#watch?.stop();
                  this.#lastLiveFeedback = null;
                  button.textContent = 'Start over';
                  this.#startWatching(exercise);
                },
              },
            }
          : {}),
      },
    });
    this.#refresh(entry);
  }

  async #submit(answer: StoredAnswer): Promise<void> {
    const exercise = this.#exercise;
    if (exercise.kind === 'live') return;
    const drawing = this.#drawing;
    const missing = incompleteAnswer(exercise, answer);
    if (missing !== null) {
      drawing.showVerdict({ correct: false, feedback: missing }, false);
      drawing.focusFirstInput();
      return;
    }
    const generation = this.#generation;
    drawing.busy(true);
    let verdict: Verdict;
    try {
      verdict = await checkAnswer(exercise, this.#params, answer);
    } catch (error) {
      verdict = {
        correct: false,
        feedback: `The checker failed (${error instanceof Error ? error.message : String(error)}); this try was not counted.`,
      };
      if (generation === this.#generation) drawing.showVerdict(verdict, false);
      drawing.busy(false);
      return;
    }
    if (generation !== this.#generation) return;
    drawing.busy(false);
    const entry = updateExercise(exercise.id, (current) =>
      recordVerdict(current, verdict, answer, new Date()),
    );
    drawing.markWrong(verdict.correct ? [] : (verdict.wrong ?? []), verdict.correct);
    drawing.showVerdict(verdict, true);
    this.#refresh(entry);
  }

  /** Badge, hints, reveal and the tries line, from the saved progress. */
  #refresh(entry: ExerciseProgress): void {
    const exercise = this.#exercise;
    const hints = exercise.hints(this.#params);
    const left = triesBeforeReveal(entry);
    this.#drawing.setState({
      status: entry.roundSolved
        ? 'solved'
        : entry.revealed
          ? 'revealed'
          : entry.solved
            ? 'solved-before'
            : 'open',
      hints: visibleHints(hints, entry),
      hintsTotal: hints.length,
      answer:
        entry.revealed || (entry.roundSolved && entry.tries > 0)
          ? exercise.reveal(this.#params)
          : null,
      canReveal: canReveal(entry),
      meta: entry.roundSolved
        ? entry.tries === 0
          ? 'Solved at the first try. "New values" gives you another one to practise on.'
          : `Solved after ${entry.tries} wrong ${entry.tries === 1 ? 'try' : 'tries'}.`
        : entry.tries === 0
          ? exercise.kind === 'live'
            ? 'Your values are your own: other learners get different ones.'
            : `Your values are your own. Each wrong try shows a hint; after ${REVEAL_AFTER} you may see the answer.`
          : `${entry.tries} wrong ${entry.tries === 1 ? 'try' : 'tries'}.${left > 0 ? ` The answer can be shown after ${left} more.` : ''}`,
    });
  }

  #startWatching(exercise: LiveExercise): void {
    const generation = this.#generation;
    let checking = false;
    let again = false;
    const drawing = this.#drawing;
    const status = drawing.liveStatus;
    if (status === null) return;
    const evaluate = async (collector: LiveCollector) => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          const events = collector.events;
          const verdict = await exercise.check(this.#params, events);
          if (generation !== this.#generation) return;
          const seen = `${collector.connections} of your connections seen, ${events.length} events.${collector.dropped > 0 ? ` The server dropped ${collector.dropped} events for this page.` : ''}`;
          if (verdict === null) {
            status.textContent = `Watching. No attempt yet: ${seen}`;
            continue;
          }
          status.textContent = `Watching: ${seen}`;
          if (verdict.correct || verdict.feedback !== this.#lastLiveFeedback) {
            this.#lastLiveFeedback = verdict.feedback;
            const entry = updateExercise(exercise.id, (current) =>
              current.roundSolved && !verdict.correct
                ? current
                : recordVerdict(current, verdict, null, new Date()),
            );
            drawing.showVerdict(verdict, true);
            this.#refresh(entry);
            if (verdict.correct) this.#watch?.stop();
          }
        } while (again);
      } finally {
        checking = false;
      }
    };
    this.#watch = watchLearnerEvents(
      (collector) => void evaluate(collector),
      (state) => {
        if (generation !== this.#generation) return;
        if (state.state === 'connecting') status.replaceChildren('Connecting to the lab server…');
        else if (state.state === 'watching') {
          status.replaceChildren(
            `Watching the lab server at ${state.origin}. Now do the task in the lab; connections opened before this moment are not counted.`,
          );
        } else if (state.state === 'unavailable') {
          status.replaceChildren(
            renderUnavailable(
              state.message,
              () => this.#startWatching(exercise),
              'ex-server-missing',
            ),
          );
        } else status.replaceChildren(h('p', { role: 'alert' }, ...codeText(state.reason)));
      },
    );
  }
}

/** Runs the checker for the kind; the answer's shape was made by that kind's inputs. */
function checkAnswer(exercise: Exercise, params: unknown, answer: StoredAnswer): Promise<Verdict> {
  switch (exercise.kind) {
    case 'short-answer':
      return Promise.resolve(exercise.check(params, typeof answer === 'string' ? answer : ''));
    case 'choice':
    case 'ordering':
      return Promise.resolve(
        exercise.check(params, Array.isArray(answer) ? (answer as readonly string[]) : []),
      );
    case 'frame-fields':
      return Promise.resolve(
        exercise.check(
          params,
          answer !== null && typeof answer === 'object' && !Array.isArray(answer)
            ? (answer as Readonly<Record<string, string>>)
            : {},
        ),
      );
    case 'live':
      return Promise.reject(new Error('live exercises are checked from events'));
  }
}
