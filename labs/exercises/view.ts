/**
 * The exercise view: draws one exercise from the registry inside its `<section data-exercise>`,
 * with the learner's own values, reads the answer, shows the verdict, the hint ladder and the
 * reveal, and saves progress. The rules live in session.ts and progress.ts; this file only
 * draws. Everything the exercise says is set as text, never as HTML.
 */
import { h } from '../shared/dom.ts';
import { renderUnavailable } from '../shared/lab-server.ts';
import { type LiveCollector, type Watch, watchLearnerEvents } from './live.ts';
import type { ExerciseProgress, StoredAnswer } from './progress.ts';
import { allExercises, exerciseById } from './registry.ts';
import {
  canReveal,
  incompleteAnswer,
  moveItem,
  paramsFor,
  recordDraft,
  recordNewRound,
  recordReveal,
  recordVerdict,
  restoredOrder,
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

/** What a kind's inputs give the view: the current answer, and marking of wrong parts. */
interface AnswerInputs {
  readonly element: HTMLElement;
  read(): StoredAnswer;
  /** Marks the wrong parts; `correct` for inputs that are wrong as a whole (a typed value). */
  mark(wrong: readonly string[], correct: boolean): void;
  /** The first control, for focus after "new values". */
  first(): HTMLElement | null;
}

let counter = 0;

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
  const view = new ExerciseView(element, exercise, options.headingLevel ?? 3);
  return { dispose: () => view.dispose() };
}

class ExerciseView {
  readonly #root: HTMLElement;
  readonly #exercise: Exercise;
  readonly #level: 2 | 3 | 4;
  readonly #uid = `ex${++counter}`;
  #seed = '';
  #round = -1;
  #params: unknown;
  #inputs: AnswerInputs | null = null;
  #feedback!: HTMLElement;
  #hints!: HTMLElement;
  #reveal!: HTMLElement;
  #meta!: HTMLElement;
  #badge!: HTMLElement;
  #check: HTMLButtonElement | null = null;
  #title!: HTMLElement;
  /** Bumped on every redraw, so a slow check for old values is ignored. */
  #generation = 0;
  #watch: Watch | null = null;
  #liveStatus: HTMLElement | null = null;
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
    const prompt = exercise.prompt(this.#params);

    this.#title = h(
      `h${this.#level}`,
      { class: 'ex-title', id: `${this.#uid}-title`, tabindex: '-1' },
      h('span', { class: 'ex-kicker' }, 'Exercise'),
      ' ',
      exercise.title,
    );
    this.#badge = h('span', { class: 'ex-badge', 'data-status': 'new' });
    this.#feedback = h('div', {
      class: 'ex-feedback',
      role: 'status',
      'aria-live': 'polite',
      'aria-atomic': 'true',
    });
    this.#hints = h('div', { class: 'ex-hints' });
    this.#reveal = h('div', { class: 'ex-reveal' });
    this.#meta = h('p', { class: 'ex-meta' });

    const body: Node[] = [
      h('div', { class: 'ex-head' }, this.#title, this.#badge),
      h(
        'div',
        { class: 'ex-prompt', id: `${this.#uid}-prompt` },
        h('p', {}, prompt.text),
        prompt.code === undefined
          ? null
          : h('pre', { class: 'ex-code' }, h('code', {}, prompt.code)),
      ),
    ];
    const newValues = h('button', { type: 'button', class: 'ex-button ex-new' }, 'New values');
    newValues.addEventListener('click', () => {
      updateExercise(exercise.id, (current) => recordNewRound(current, new Date()));
      this.#draw();
      this.#title.focus();
      this.#say('New values drawn. The question above has changed.');
    });

    if (exercise.kind === 'live') {
      body.push(this.#liveControls(exercise, newValues));
    } else {
      this.#inputs = this.#answerInputs(exercise, entry.lastAnswer);
      this.#check = h('button', { type: 'submit', class: 'ex-button ex-check' }, 'Check');
      const form = h(
        'form',
        { class: 'ex-form', 'aria-labelledby': `${this.#uid}-title`, novalidate: true },
        this.#inputs.element,
        h('div', { class: 'ex-actions' }, this.#check, newValues),
      );
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        void this.#submit();
      });
      // Keep what is typed across reloads, without counting it as a try.
      form.addEventListener('change', () => {
        const answer = this.#inputs?.read() ?? null;
        updateExercise(exercise.id, (current) => recordDraft(current, answer, new Date()));
      });
      body.push(form);
    }
    body.push(this.#feedback, this.#hints, this.#reveal, this.#meta);
    this.#root.replaceChildren(...body);
    this.#root.setAttribute('aria-labelledby', `${this.#uid}-title`);
    this.#refresh(entry);
  }

  #answerInputs(exercise: Exercise, saved: StoredAnswer): AnswerInputs {
    switch (exercise.kind) {
      case 'short-answer':
        return this.#shortAnswer(exercise.label, typeof saved === 'string' ? saved : '');
      case 'choice':
        return this.#choices(exercise.choices(this.#params), exercise.multiple, saved);
      case 'ordering':
        return this.#ordering(exercise.items(this.#params), saved);
      case 'frame-fields':
        return this.#frameFields(exercise.fields(this.#params), saved);
      case 'live':
        throw new Error('live exercises have no answer inputs');
    }
  }

  #shortAnswer(label: string, saved: string): AnswerInputs {
    const inputId = `${this.#uid}-answer`;
    const input = h('input', {
      id: inputId,
      class: 'ex-input',
      type: 'text',
      autocomplete: 'off',
      autocapitalize: 'off',
      spellcheck: 'false',
      'aria-describedby': `${this.#uid}-prompt`,
    });
    input.value = saved;
    return {
      element: h('div', { class: 'ex-field' }, h('label', { for: inputId }, label), input),
      read: () => input.value,
      mark: (_wrong, correct) => {
        if (!correct) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
      },
      first: () => input,
    };
  }

  #choices(
    choices: readonly { id: string; label: string }[],
    multiple: boolean,
    saved: StoredAnswer,
  ): AnswerInputs {
    const chosen = new Set(Array.isArray(saved) ? (saved as readonly string[]) : []);
    const boxes = choices.map((choice, i) => {
      const inputId = `${this.#uid}-choice-${i}`;
      const input = h('input', {
        id: inputId,
        type: multiple ? 'checkbox' : 'radio',
        name: `${this.#uid}-choice`,
        value: choice.id,
      });
      input.checked = chosen.has(choice.id);
      const row = h(
        'div',
        { class: 'ex-choice' },
        input,
        h('label', { for: inputId }, choice.label),
      );
      return { choice, input, row };
    });
    const fieldset = h(
      'fieldset',
      { class: 'ex-choices' },
      h('legend', {}, multiple ? 'Choose every answer that is right' : 'Choose one answer'),
      ...boxes.map((box) => box.row),
    );
    return {
      element: fieldset,
      read: () => boxes.filter((box) => box.input.checked).map((box) => box.choice.id),
      mark: (wrong) => {
        for (const box of boxes) {
          const bad = wrong.includes(box.choice.id);
          box.row.classList.toggle('ex-wrong', bad);
          if (bad) box.input.setAttribute('aria-invalid', 'true');
          else box.input.removeAttribute('aria-invalid');
        }
      },
      first: () => boxes[0]?.input ?? null,
    };
  }

  #ordering(items: readonly { id: string; label: string }[], saved: StoredAnswer): AnswerInputs {
    const labels = new Map(items.map((item) => [item.id, item.label]));
    let order = restoredOrder(
      items.map((item) => item.id),
      saved,
    );
    let wrongIds: readonly string[] = [];
    const list = h('ol', { class: 'ex-order', 'aria-describedby': `${this.#uid}-order-help` });
    const announce = h('p', { class: 'ex-sr', 'aria-live': 'polite' });
    const render = (focus?: { id: string; by: -1 | 1 }) => {
      list.replaceChildren();
      order.forEach((id, index) => {
        const label = labels.get(id) ?? id;
        const up = h(
          'button',
          {
            type: 'button',
            class: 'ex-move',
            'aria-label': `Move "${label}" up`,
            disabled: index === 0,
          },
          '↑',
        );
        const down = h(
          'button',
          {
            type: 'button',
            class: 'ex-move',
            'aria-label': `Move "${label}" down`,
            disabled: index === order.length - 1,
          },
          '↓',
        );
        const move = (by: -1 | 1) => {
          order = moveItem(order, id, by);
          render({ id, by });
          announce.textContent = `"${label}" is now step ${order.indexOf(id) + 1} of ${order.length}.`;
          list.dispatchEvent(new Event('change', { bubbles: true }));
        };
        up.addEventListener('click', () => move(-1));
        down.addEventListener('click', () => move(1));
        const bad = wrongIds.includes(id);
        list.append(
          h(
            'li',
            { class: bad ? 'ex-item ex-wrong' : 'ex-item', 'data-id': id },
            h('span', { class: 'ex-item-label' }, label),
            bad ? h('span', { class: 'ex-sr' }, ' (misplaced)') : null,
            h('span', { class: 'ex-moves' }, up, down),
          ),
        );
        if (focus?.id === id) {
          // Keep the keyboard on the item that moved; at an edge, on its other button.
          const target = focus.by === -1 ? (up.disabled ? down : up) : down.disabled ? up : down;
          queueMicrotask(() => target.focus());
        }
      });
    };
    render();
    return {
      element: h(
        'div',
        { class: 'ex-field' },
        h(
          'p',
          { class: 'ex-help', id: `${this.#uid}-order-help` },
          'Put the steps in order with the ↑ and ↓ buttons next to each one.',
        ),
        list,
        announce,
      ),
      read: () => [...order],
      mark: (wrong) => {
        wrongIds = wrong;
        render();
      },
      first: () => list.querySelector('button:not([disabled])'),
    };
  }

  #frameFields(
    fields: readonly { name: string; label: string; placeholder: string }[],
    saved: StoredAnswer,
  ): AnswerInputs {
    const values =
      saved !== null && typeof saved === 'object' && !Array.isArray(saved)
        ? (saved as Readonly<Record<string, string>>)
        : {};
    const inputs = fields.map((field) => {
      const inputId = `${this.#uid}-field-${field.name}`;
      const input = h('input', {
        id: inputId,
        class: 'ex-input',
        type: 'text',
        autocomplete: 'off',
        spellcheck: 'false',
        placeholder: field.placeholder,
        'data-field': field.name,
      });
      input.value = values[field.name] ?? '';
      const row = h(
        'div',
        { class: 'ex-frame-field' },
        h('label', { for: inputId }, field.label),
        input,
      );
      return { field, input, row };
    });
    return {
      element: h('div', { class: 'ex-frame-fields' }, ...inputs.map((item) => item.row)),
      read: () => Object.fromEntries(inputs.map((item) => [item.field.name, item.input.value])),
      mark: (wrong) => {
        for (const item of inputs) {
          const bad = wrong.includes(item.field.name);
          item.row.classList.toggle('ex-wrong', bad);
          if (bad) item.input.setAttribute('aria-invalid', 'true');
          else item.input.removeAttribute('aria-invalid');
        }
      },
      first: () => inputs[0]?.input ?? null,
    };
  }

  async #submit(): Promise<void> {
    const exercise = this.#exercise;
    if (exercise.kind === 'live' || this.#inputs === null || this.#check === null) return;
    const answer = this.#inputs.read();
    const missing = incompleteAnswer(exercise, answer);
    if (missing !== null) {
      this.#showFeedback({ correct: false, feedback: missing }, false);
      this.#inputs.first()?.focus();
      return;
    }
    const generation = this.#generation;
    this.#check.disabled = true;
    this.#check.textContent = 'Checking…';
    let verdict: Verdict;
    try {
      verdict = await checkAnswer(exercise, this.#params, answer);
    } catch (error) {
      verdict = {
        correct: false,
        feedback: `The checker failed (${error instanceof Error ? error.message : String(error)}); this try was not counted.`,
      };
      if (generation === this.#generation) this.#showFeedback(verdict, false);
      this.#resetCheck();
      return;
    }
    if (generation !== this.#generation) return;
    this.#resetCheck();
    const entry = updateExercise(exercise.id, (current) =>
      recordVerdict(current, verdict, answer, new Date()),
    );
    this.#inputs.mark(verdict.correct ? [] : (verdict.wrong ?? []), verdict.correct);
    this.#showFeedback(verdict, true);
    this.#refresh(entry);
  }

  #resetCheck(): void {
    if (this.#check === null) return;
    this.#check.disabled = false;
    this.#check.textContent = 'Check';
  }

  #showFeedback(verdict: Verdict, counted: boolean): void {
    this.#feedback.dataset.correct = String(verdict.correct);
    this.#feedback.dataset.counted = String(counted);
    this.#feedback.replaceChildren(
      h('p', { class: 'ex-verdict' }, verdict.correct ? 'Correct.' : counted ? 'Not yet.' : ''),
      ...(verdict.feedback === '' ? [] : [h('p', {}, verdict.feedback)]),
    );
  }

  #say(text: string): void {
    this.#feedback.dataset.correct = '';
    this.#feedback.replaceChildren(h('p', {}, text));
  }

  /** Badge, hints, reveal and the tries line, from the saved progress. */
  #refresh(entry: ExerciseProgress): void {
    const exercise = this.#exercise;
    const status = entry.roundSolved
      ? 'solved'
      : entry.revealed
        ? 'revealed'
        : entry.solved
          ? 'solved-before'
          : 'open';
    this.#badge.dataset.status = status;
    this.#badge.textContent =
      status === 'solved'
        ? 'Solved'
        : status === 'revealed'
          ? 'Answer shown'
          : status === 'solved-before'
            ? 'Solved before; new values'
            : '';
    this.#badge.hidden = status === 'open';

    const hints = exercise.hints(this.#params);
    const shown = visibleHints(hints, entry);
    this.#hints.replaceChildren();
    if (shown.length > 0) {
      this.#hints.append(
        h('p', { class: 'ex-hints-title' }, `Hints (${shown.length} of ${hints.length})`),
        h('ol', {}, ...shown.map((hint) => h('li', {}, hint))),
      );
    }

    this.#reveal.replaceChildren();
    if (entry.revealed || (entry.roundSolved && entry.tries > 0)) {
      const answer = h(
        'div',
        { class: 'ex-answer', tabindex: '-1' },
        h('p', { class: 'ex-answer-title' }, 'Answer'),
        h('p', {}, exercise.reveal(this.#params)),
      );
      this.#reveal.append(answer);
    } else if (canReveal(entry)) {
      const button = h('button', { type: 'button', class: 'ex-button' }, 'Show the answer');
      button.addEventListener('click', () => {
        const next = updateExercise(exercise.id, (current) => recordReveal(current, new Date()));
        this.#refresh(next);
        this.#reveal.querySelector<HTMLElement>('.ex-answer')?.focus();
      });
      this.#reveal.append(button);
    }

    const left = triesBeforeReveal(entry);
    this.#meta.textContent = entry.roundSolved
      ? entry.tries === 0
        ? 'Solved at the first try. "New values" gives you another one to practise on.'
        : `Solved after ${entry.tries} wrong ${entry.tries === 1 ? 'try' : 'tries'}.`
      : entry.tries === 0
        ? exercise.kind === 'live'
          ? 'Your values are your own: other learners get different ones.'
          : `Your values are your own. Each wrong try shows a hint; after ${REVEAL_AFTER} you may see the answer.`
        : `${entry.tries} wrong ${entry.tries === 1 ? 'try' : 'tries'}.${left > 0 ? ` The answer can be shown after ${left} more.` : ''}`;
  }

  #liveControls(exercise: LiveExercise, newValues: HTMLButtonElement): HTMLElement {
    const start = h('button', { type: 'button', class: 'ex-button ex-check' }, 'Start watching');
    const status = h('div', { class: 'ex-live-status', role: 'status', 'aria-live': 'polite' });
    this.#liveStatus = status;
    start.addEventListener('click', () => {
      this.#watch?.stop();
      this.#lastLiveFeedback = null;
      start.textContent = 'Start over';
      this.#startWatching(exercise);
    });
    const lab = h(
      'a',
      { href: exercise.labPath, target: '_blank', rel: 'noopener' },
      `Open the lab (${exercise.labPath}) in a new tab`,
    );
    return h(
      'div',
      { class: 'ex-live' },
      h(
        'p',
        { class: 'ex-help' },
        'Press "Start watching", then do the task in the lab. This page listens to the lab server and checks the connections your browser opens from then on.',
      ),
      h('div', { class: 'ex-actions' }, start, lab, newValues),
      status,
    );
  }

  #startWatching(exercise: LiveExercise): void {
    const generation = this.#generation;
    let checking = false;
    let again = false;
    const status = this.#liveStatus;
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
            this.#showFeedback(verdict, true);
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

function codeText(text: string): (string | HTMLElement)[] {
  return text.split('`').map((part, i) => (i % 2 === 1 ? h('code', {}, part) : part));
}
