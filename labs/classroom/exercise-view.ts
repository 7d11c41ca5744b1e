/**
 * An exercise in classroom mode: the lab server sends its view (drawn from the student's own
 * parameters, which stay on the server), checks every answer and keeps the tries, hints and
 * reveal. This page never draws values or checks anything itself, and offers no "new values":
 * the teacher compares everyone on the same footing. The drawing is the self-study one
 * (labs/exercises/draw.ts), so an exercise looks the same in class and alone.
 */
import { type DrawnState, ExerciseDrawing } from '../exercises/draw.ts';
import { incompleteAnswer } from '../exercises/session.ts';
import type { ChapterId } from '../exercises/types.ts';
import { REVEAL_AFTER } from '../exercises/types.ts';
import { h } from '../shared/dom.ts';
import { type ClassroomClient, classroomClient, type RequestAnswer } from './client.ts';
import type { Answer, ExerciseMessage, ExerciseState, ExerciseView } from './protocol.ts';
import type { StudentPhase } from './student.ts';

export interface ClassMountOptions {
  readonly headingLevel: 2 | 3 | 4;
  /** The exercise's chapter, known at build time, so a locked one is shown without asking. */
  readonly chapter: ChapterId | null;
}

export interface Mounted {
  dispose(): void;
}

export function mountClassroomExercise(
  element: HTMLElement,
  options: ClassMountOptions,
  client: ClassroomClient = classroomClient(),
): Mounted {
  const view = new ClassExercise(element, options, client);
  return { dispose: () => view.dispose() };
}

/** The state line, hints and answer for the server's state of this exercise. */
export function drawnState(
  state: ExerciseState,
  hints: readonly string[],
  answer: string | null,
  live: boolean,
): DrawnState {
  const left = Math.max(0, REVEAL_AFTER - state.tries);
  const tries = `${state.tries} wrong ${state.tries === 1 ? 'try' : 'tries'}`;
  return {
    status: state.solved ? 'solved' : state.revealed ? 'revealed' : 'open',
    hints,
    answer,
    canReveal: !state.solved && !state.revealed && state.tries >= REVEAL_AFTER,
    meta: state.solved
      ? state.tries === 0
        ? 'Solved at the first try.'
        : `Solved after ${tries}.`
      : state.revealed
        ? `Answer shown after ${tries}.${answer === null ? ' The lab server shows it once, when you ask for it.' : ''}`
        : state.tries === 0
          ? live
            ? 'Your values are your own: your classmates get different ones. The lab server checks your own connections.'
            : `Your values are your own. Each wrong try shows a hint; after ${REVEAL_AFTER} you may see the answer.`
          : `${tries}.${left > 0 ? ` The answer can be shown after ${left} more.` : ''}`,
  };
}

class ClassExercise {
  readonly #root: HTMLElement;
  readonly #id: string;
  readonly #options: ClassMountOptions;
  readonly #client: ClassroomClient;
  readonly #unsubscribe: () => void;
  #drawing: ExerciseDrawing | null = null;
  #view: ExerciseView | null = null;
  #state: ExerciseState | null = null;
  #hints: readonly string[] = [];
  #answer: string | null = null;
  /** What is on screen: a drawn exercise, or a message in its place. */
  #shown: 'exercise' | 'locked' | 'message' | 'loading' = 'message';
  #loading = false;
  #note: HTMLElement;

  constructor(root: HTMLElement, options: ClassMountOptions, client: ClassroomClient) {
    this.#root = root;
    this.#id = root.dataset.exercise ?? '';
    this.#options = options;
    this.#client = client;
    this.#note = h('p', { class: 'ex-class-note' });
    root.replaceChildren();
    root.classList.add('ex');
    this.#unsubscribe = client.onPhase((phase) => this.#onPhase(phase));
  }

  dispose(): void {
    this.#unsubscribe();
    this.#root.replaceChildren();
  }

  #onPhase(phase: StudentPhase): void {
    switch (phase.phase) {
      case 'checking':
      case 'connecting':
      case 'resuming':
        if (this.#shown !== 'exercise') this.#message('Connecting to your class…');
        else this.#setNote('Reconnecting to your class…');
        return;
      case 'lost':
        if (this.#shown === 'exercise') {
          this.#setNote(`${phase.reason} Reconnecting…`);
        } else this.#message(`${phase.reason} Reconnecting…`);
        return;
      case 'unreachable':
        this.#message(
          'The lab server is not running, or this page cannot reach it. You joined a class in this browser: its exercises are checked by your teacher’s lab server. Ask your teacher whether it is running, then reload.',
          true,
        );
        return;
      case 'off':
        this.#message(
          'Classroom mode is off: the lab server that serves this page runs no class now. To practise on your own, leave the class on the classroom page.',
          true,
        );
        return;
      case 'form':
      case 'joining':
        this.#message(
          phase.phase === 'form' && phase.refused !== undefined
            ? phase.refused
            : 'You are not in a class in this browser any more.',
          true,
        );
        return;
      case 'joined': {
        const locked =
          this.#options.chapter !== null && phase.chapters[this.#options.chapter] === 'locked';
        this.#setNote(`In class “${phase.session.className}” as ${phase.session.name}.`);
        if (locked) this.#locked();
        else if (this.#shown !== 'exercise') void this.#load();
        return;
      }
    }
  }

  #setNote(text: string): void {
    this.#note.textContent = text;
  }

  /** A message in place of the exercise, with a link to the classroom page when it helps. */
  #message(text: string, link = false): void {
    this.#shown = 'message';
    this.#drawing = null;
    this.#root.replaceChildren(
      h(
        'div',
        { class: 'ex-class-message', role: 'status' },
        h('p', {}, text),
        link ? h('p', {}, h('a', { href: '/classroom/' }, 'Go to the classroom page')) : null,
      ),
    );
  }

  #locked(): void {
    this.#shown = 'locked';
    this.#drawing = null;
    this.#root.replaceChildren(
      h(
        'div',
        { class: 'ex-head' },
        h(
          `h${this.#options.headingLevel}`,
          { class: 'ex-title' },
          h('span', { class: 'ex-kicker' }, 'Exercise'),
          ' ',
          this.#view?.title ?? this.#id,
        ),
        h('span', { class: 'ex-badge', 'data-status': 'locked' }, 'Locked'),
      ),
      this.#note,
      h(
        'p',
        { class: 'ex-class-message', role: 'status' },
        'Your teacher has locked this chapter for now. Its exercises open when the teacher opens it; this page updates by itself.',
      ),
    );
  }

  async #load(): Promise<void> {
    if (this.#loading) return;
    this.#loading = true;
    if (this.#shown !== 'exercise') this.#message('Loading the exercise from your class…');
    this.#shown = 'loading';
    const answer = await this.#client.exercise(this.#id);
    this.#loading = false;
    if (this.#client.phase.phase !== 'joined') return;
    if (answer.type === 'error') {
      if (/locked/i.test(answer.reason)) this.#locked();
      else this.#message(`The class server could not send this exercise: ${answer.reason}`);
      return;
    }
    this.#draw(answer);
  }

  #draw(message: ExerciseMessage): void {
    const view = message.view;
    this.#view = view;
    this.#state = message.state;
    this.#hints = message.hints;
    this.#answer = message.reveal ?? null;
    this.#shown = 'exercise';
    const live = view.kind === 'live';
    this.#drawing = new ExerciseDrawing(this.#root, view, {
      level: this.#options.headingLevel,
      lastAnswer: message.lastAnswer ?? null,
      note: this.#note,
      actions: {
        submit: (answer) => void this.#submit(answer),
        reveal: () => void this.#reveal(),
        ...(live
          ? {
              live: {
                label: 'Check my attempt',
                help: 'Do the task in the lab: in class it tags its connections as yours. Then press "Check my attempt": your teacher’s lab server looks at your own connections (never your classmates’).',
                press: (status: HTMLElement, button: HTMLButtonElement) =>
                  void this.#checkLive(status, button),
              },
            }
          : {}),
      },
    });
    this.#refresh();
  }

  #refresh(): void {
    if (this.#drawing === null || this.#state === null) return;
    this.#drawing.setState(
      drawnState(this.#state, this.#hints, this.#answer, this.#view?.kind === 'live'),
    );
  }

  /** Applies a verdict's state; returns false when the answer was not a verdict. */
  #apply(answer: RequestAnswer): answer is Extract<RequestAnswer, { type: 'verdict' }> {
    if (answer.type !== 'verdict') return false;
    this.#state = answer.state;
    this.#hints = answer.hints;
    if (answer.reveal !== undefined) this.#answer = answer.reveal;
    return true;
  }

  async #submit(answer: Answer): Promise<void> {
    const drawing = this.#drawing;
    const view = this.#view;
    if (drawing === null || view === null) return;
    const missing = incompleteAnswer(view, answer);
    if (missing !== null) {
      drawing.showVerdict({ correct: false, feedback: missing }, false);
      drawing.focusFirstInput();
      return;
    }
    drawing.busy(true);
    const result = await this.#client.submit(this.#id, answer);
    if (this.#drawing !== drawing) return;
    drawing.busy(false);
    if (!this.#apply(result)) {
      drawing.showVerdict(
        {
          correct: false,
          feedback:
            result.type === 'error' ? result.reason : 'The class server did not check this answer.',
        },
        false,
      );
      if (result.type === 'error' && /locked/i.test(result.reason)) this.#locked();
      return;
    }
    drawing.markWrong(result.correct ? [] : (result.wrong ?? []), result.correct);
    drawing.showVerdict(
      result.wrong === undefined
        ? { correct: result.correct, feedback: result.feedback }
        : { correct: result.correct, feedback: result.feedback, wrong: result.wrong },
      true,
    );
    this.#refresh();
  }

  async #reveal(): Promise<void> {
    const result = await this.#client.reveal(this.#id);
    if (!this.#apply(result)) {
      if (result.type === 'error') {
        this.#drawing?.showVerdict({ correct: false, feedback: result.reason }, false);
      }
      return;
    }
    this.#refresh();
    this.#drawing?.focusAnswer();
  }

  async #checkLive(status: HTMLElement, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    status.textContent = 'Asking the lab server what it saw of your connections…';
    const result = await this.#client.checkLive(this.#id);
    button.disabled = false;
    if (result.type === 'pending') {
      status.textContent = `No attempt seen yet${result.reason === undefined ? '' : `: ${result.reason}`}. Do the task in the lab, then check again.`;
      return;
    }
    if (!this.#apply(result)) {
      status.textContent = result.type === 'error' ? result.reason : '';
      return;
    }
    status.textContent = 'Checked by the lab server from your own connections.';
    this.#drawing?.showVerdict({ correct: result.correct, feedback: result.feedback }, true);
    this.#refresh();
  }
}
