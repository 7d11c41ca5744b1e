/**
 * Draws one exercise from its view (labs/classroom/protocol.ts `ExerciseView`: the prompt and the
 * inputs, never the parameters or the answer) and the learner's state, and hands the learner's
 * actions to a source. Two sources use it: self-study (view.ts: values drawn and checked in this
 * browser) and classroom mode (labs/classroom/exercise-view.ts: the lab server sends the view and
 * checks the answer). So an exercise looks and behaves the same in both, and nothing here knows
 * which one it serves. Everything is set as text, never as HTML.
 */
import type { Answer, ExerciseView } from '../classroom/protocol.ts';
import { h } from '../shared/dom.ts';
import type { StoredAnswer } from './progress.ts';
import { moveItem, restoredOrder } from './session.ts';
import type { Choice, FrameField, Verdict } from './types.ts';

/** What the badge, hints, answer and tries line show; the source decides it. */
export interface DrawnState {
  readonly status: 'open' | 'solved' | 'revealed' | 'solved-before' | 'locked';
  readonly hints: readonly string[];
  /** How many hints there are in all, when the source knows ("Hints (1 of 3)"). */
  readonly hintsTotal?: number;
  /** The answer in words, once solved or revealed; null hides it. */
  readonly answer: string | null;
  /** Offer "Show the answer". */
  readonly canReveal: boolean;
  /** The line under the exercise: tries, what the values are. */
  readonly meta: string;
}

export interface LiveActions {
  /** The main button's label ("Start watching", "Check my attempt"). */
  readonly label: string;
  readonly help: string;
  press(status: HTMLElement, button: HTMLButtonElement): void;
}

export interface DrawActions {
  /** The learner pressed Check with a complete answer. */
  submit(answer: Answer): void;
  /** The inputs changed (kept so a reload does not lose them; not a try). */
  draft?(answer: Answer): void;
  reveal(): void;
  /** "New values"; absent where the values are not the learner's to change (a class). */
  newValues?(): void;
  /** For live exercises. */
  live?: LiveActions;
}

export interface DrawOptions {
  readonly level: 2 | 3 | 4;
  readonly lastAnswer: StoredAnswer;
  readonly actions: DrawActions;
  /** A line above the prompt, e.g. "In class K7QX2M as Ana". */
  readonly note?: Node | null;
}

/** What a kind's inputs give the view: the current answer, and marking of wrong parts. */
interface AnswerInputs {
  readonly element: HTMLElement;
  read(): Answer;
  /** Marks the wrong parts; `correct` for inputs that are wrong as a whole (a typed value). */
  mark(wrong: readonly string[], correct: boolean): void;
  /** The first control, for focus after "new values". */
  first(): HTMLElement | null;
}

let counter = 0;

export class ExerciseDrawing {
  readonly #uid = `ex${++counter}`;
  readonly #actions: DrawActions;
  #inputs: AnswerInputs | null = null;
  readonly #feedback: HTMLElement;
  readonly #hints: HTMLElement;
  readonly #reveal: HTMLElement;
  readonly #meta: HTMLElement;
  readonly #badge: HTMLElement;
  readonly #title: HTMLElement;
  #check: HTMLButtonElement | null = null;
  #liveStatus: HTMLElement | null = null;

  constructor(root: HTMLElement, view: ExerciseView, options: DrawOptions) {
    this.#actions = options.actions;
    const { actions } = options;

    this.#title = h(
      `h${options.level}`,
      { class: 'ex-title', id: `${this.#uid}-title`, tabindex: '-1' },
      h('span', { class: 'ex-kicker' }, 'Exercise'),
      ' ',
      view.title,
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

    const body: Node[] = [h('div', { class: 'ex-head' }, this.#title, this.#badge)];
    if (options.note) body.push(options.note);
    body.push(
      h(
        'div',
        { class: 'ex-prompt', id: `${this.#uid}-prompt` },
        h('p', {}, view.prompt.text),
        view.prompt.code === undefined
          ? null
          : h('pre', { class: 'ex-code' }, h('code', {}, view.prompt.code)),
      ),
    );
    let newValues: HTMLButtonElement | null = null;
    if (actions.newValues !== undefined) {
      const onNew = actions.newValues;
      newValues = h('button', { type: 'button', class: 'ex-button ex-new' }, 'New values');
      newValues.addEventListener('click', () => onNew());
    }

    if (view.kind === 'live') {
      body.push(this.#liveControls(view, newValues));
    } else {
      this.#inputs = this.#answerInputs(view, options.lastAnswer);
      this.#check = h('button', { type: 'submit', class: 'ex-button ex-check' }, 'Check');
      const form = h(
        'form',
        { class: 'ex-form', 'aria-labelledby': `${this.#uid}-title`, novalidate: true },
        this.#inputs.element,
        h('div', { class: 'ex-actions' }, this.#check, newValues),
      );
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        if (this.#inputs !== null) actions.submit(this.#inputs.read());
      });
      form.addEventListener('change', () => {
        if (this.#inputs !== null) actions.draft?.(this.#inputs.read());
      });
      body.push(form);
    }
    body.push(this.#feedback, this.#hints, this.#reveal, this.#meta);
    root.replaceChildren(...body);
    root.setAttribute('aria-labelledby', `${this.#uid}-title`);
  }

  focusTitle(): void {
    this.#title.focus();
  }

  focusFirstInput(): void {
    this.#inputs?.first()?.focus();
  }

  /** While a check runs: the button says so and cannot be pressed twice. */
  busy(on: boolean): void {
    if (this.#check === null) return;
    this.#check.disabled = on;
    this.#check.textContent = on ? 'Checking…' : 'Check';
  }

  markWrong(wrong: readonly string[], correct: boolean): void {
    this.#inputs?.mark(wrong, correct);
  }

  /** `counted`: whether it was a try (an incomplete answer is not). */
  showVerdict(verdict: Verdict, counted: boolean): void {
    this.#feedback.dataset.correct = String(verdict.correct);
    this.#feedback.dataset.counted = String(counted);
    this.#feedback.replaceChildren(
      h('p', { class: 'ex-verdict' }, verdict.correct ? 'Correct.' : counted ? 'Not yet.' : ''),
      ...(verdict.feedback === '' ? [] : [h('p', {}, verdict.feedback)]),
    );
  }

  say(text: string | Node): void {
    this.#feedback.dataset.correct = '';
    this.#feedback.replaceChildren(typeof text === 'string' ? h('p', {}, text) : text);
  }

  get liveStatus(): HTMLElement | null {
    return this.#liveStatus;
  }

  /** Badge, hints, answer and the tries line. */
  setState(state: DrawnState): void {
    const status = state.status;
    this.#badge.dataset.status = status;
    this.#badge.textContent =
      status === 'solved'
        ? 'Solved'
        : status === 'revealed'
          ? 'Answer shown'
          : status === 'solved-before'
            ? 'Solved before; new values'
            : status === 'locked'
              ? 'Locked'
              : '';
    this.#badge.hidden = status === 'open';

    this.#hints.replaceChildren();
    if (state.hints.length > 0) {
      const count =
        state.hintsTotal === undefined
          ? `Hints (${state.hints.length})`
          : `Hints (${state.hints.length} of ${state.hintsTotal})`;
      this.#hints.append(
        h('p', { class: 'ex-hints-title' }, count),
        h('ol', {}, ...state.hints.map((hint) => h('li', {}, hint))),
      );
    }

    this.#reveal.replaceChildren();
    if (state.answer !== null) {
      this.#reveal.append(
        h(
          'div',
          { class: 'ex-answer', tabindex: '-1' },
          h('p', { class: 'ex-answer-title' }, 'Answer'),
          h('p', {}, state.answer),
        ),
      );
    } else if (state.canReveal) {
      const button = h('button', { type: 'button', class: 'ex-button' }, 'Show the answer');
      button.addEventListener('click', () => this.#actions.reveal());
      this.#reveal.append(button);
    }
    this.#meta.textContent = state.meta;
  }

  focusAnswer(): void {
    this.#reveal.querySelector<HTMLElement>('.ex-answer')?.focus();
  }

  #answerInputs(view: ExerciseView, saved: StoredAnswer): AnswerInputs {
    switch (view.kind) {
      case 'short-answer':
        return this.#shortAnswer(view.label ?? 'Answer', typeof saved === 'string' ? saved : '');
      case 'choice':
        return this.#choices(view.choices ?? [], view.multiple ?? false, saved);
      case 'ordering':
        return this.#ordering(view.items ?? [], saved);
      case 'frame-fields':
        return this.#frameFields(view.fields ?? [], saved);
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

  #choices(choices: readonly Choice[], multiple: boolean, saved: StoredAnswer): AnswerInputs {
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

  #ordering(items: readonly Choice[], saved: StoredAnswer): AnswerInputs {
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

  #frameFields(fields: readonly FrameField[], saved: StoredAnswer): AnswerInputs {
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

  #liveControls(view: ExerciseView, newValues: HTMLButtonElement | null): HTMLElement {
    const live = this.#actions.live;
    const labPath = view.labPath ?? '/console/';
    const start = h(
      'button',
      { type: 'button', class: 'ex-button ex-check' },
      live?.label ?? 'Start watching',
    );
    const status = h('div', { class: 'ex-live-status', role: 'status', 'aria-live': 'polite' });
    this.#liveStatus = status;
    start.addEventListener('click', () => live?.press(status, start));
    const lab = h(
      'a',
      { href: labPath, target: '_blank', rel: 'noopener' },
      `Open the lab (${labPath}) in a new tab`,
    );
    return h(
      'div',
      { class: 'ex-live' },
      h('p', { class: 'ex-help' }, live?.help ?? ''),
      h('div', { class: 'ex-actions' }, start, lab, newValues),
      status,
    );
  }
}

/** `a \`b\` c` → text, <code>b</code>, text. */
export function codeText(text: string): (string | HTMLElement)[] {
  return text.split('`').map((part, i) => (i % 2 === 1 ? h('code', {}, part) : part));
}
