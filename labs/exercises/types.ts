/**
 * The exercise contract. An exercise is data plus pure functions: it draws its values from a
 * seeded generator, words its question from them, and checks an answer against them. The same
 * definitions run in the browser (self-study) and on the lab server (classroom mode), so nothing
 * here may touch the DOM, storage or the network.
 *
 * A definition never stores its answer: the answer is derived from the parameters each time, so
 * in classroom mode the server can keep the parameters and the browser sees only the prompt.
 */
import type { LabEvent } from '../../protocol/annotations.ts';
import type { Rng } from './rng.ts';

/** The chapter folders in `content/`, in course order. */
export const CHAPTERS = [
  'big-picture',
  'connection-path',
  'handshake',
  'accept',
  'frames',
  'messages',
  'closing',
  'architecture',
  'proxies',
  'security',
  'beyond-http1',
  'build-your-own',
] as const;
export type ChapterId = (typeof CHAPTERS)[number];

/**
 * What the learner sees. Plain text, never HTML: the view escapes it. `code` is shown in a
 * monospace block (hex bytes, an HTTP head, a key).
 */
export interface Prompt {
  readonly text: string;
  readonly code?: string;
}

export interface Verdict {
  readonly correct: boolean;
  /**
   * What is wrong, specifically: which field, which step, which byte ("the payload length is
   * right but you read the MASK bit as 0"). Empty when correct.
   */
  readonly feedback: string;
  /** For `frame-fields` and `ordering`: the field names or item ids that are wrong. */
  readonly wrong?: readonly string[];
}

/** Checks may hash (SHA-1 through WebCrypto is asynchronous), so a verdict may come later. */
export type Awaitable<T> = T | Promise<T>;

interface ExerciseBase<P> {
  /** Unique across the site, stable forever (progress is stored under it): `accept-steps`. */
  readonly id: string;
  readonly chapter: ChapterId;
  readonly title: string;
  /** Draw this learner's values. Pure: the same seed gives the same parameters. */
  generate(rng: Rng): P;
  prompt(params: P): Prompt;
  /**
   * The hint ladder, from a nudge to nearly the answer. The view shows one more after each
   * wrong try, and offers to reveal the answer after `REVEAL_AFTER` tries.
   */
  hints(params: P): readonly string[];
  /** The correct answer, worded for the learner, shown on reveal. */
  reveal(params: P): string;
}

/** A value typed by the learner: hex, base64, a number, a header line. */
export interface ShortAnswerExercise<P = unknown> extends ExerciseBase<P> {
  readonly kind: 'short-answer';
  /** Label of the input, e.g. "Sec-WebSocket-Accept". */
  readonly label: string;
  check(params: P, answer: string): Awaitable<Verdict>;
}

export interface Choice {
  readonly id: string;
  readonly label: string;
}

export interface ChoiceExercise<P = unknown> extends ExerciseBase<P> {
  readonly kind: 'choice';
  /** Several answers may be right; the learner must pick all of them and nothing else. */
  readonly multiple: boolean;
  choices(params: P): readonly Choice[];
  /** `answer` holds the ids of the chosen options. */
  check(params: P, answer: readonly string[]): Awaitable<Verdict>;
}

export interface OrderingExercise<P = unknown> extends ExerciseBase<P> {
  readonly kind: 'ordering';
  /** The items, already shuffled by `generate` (the learner's starting order). */
  items(params: P): readonly Choice[];
  /** `answer` holds the item ids in the learner's order. */
  check(params: P, answer: readonly string[]): Awaitable<Verdict>;
}

export interface FrameField {
  /** RFC 6455's name: `fin`, `rsv1`, `opcode`, `mask`, `payloadLength`, `maskingKey`, ... */
  readonly name: string;
  readonly label: string;
  /** What the input accepts, shown as its placeholder: "0 or 1", "hex, 4 bytes". */
  readonly placeholder: string;
}

/** Fill the fields of a frame (decode given bytes, or give the bytes for given fields). */
export interface FrameFieldsExercise<P = unknown> extends ExerciseBase<P> {
  readonly kind: 'frame-fields';
  fields(params: P): readonly FrameField[];
  /** `answer` maps field names to what the learner typed. */
  check(params: P, answer: Readonly<Record<string, string>>): Awaitable<Verdict>;
}

/**
 * A task done with a live lab (the console, /raw, the frame builder) and checked from what the
 * lab server saw: the annotation events of the learner's own connections, in order. The browser
 * collects them from /observe; in classroom mode the server uses its own record.
 */
export interface LiveExercise<P = unknown> extends ExerciseBase<P> {
  readonly kind: 'live';
  /** Which lab the learner should use, shown as a link: a site path such as `/console/`. */
  readonly labPath: string;
  /** A verdict, or `null` while the events do not yet show an attempt. */
  check(params: P, events: readonly LabEvent[]): Awaitable<Verdict | null>;
}

export type Exercise<P = unknown> =
  | ShortAnswerExercise<P>
  | ChoiceExercise<P>
  | OrderingExercise<P>
  | FrameFieldsExercise<P>
  | LiveExercise<P>;

export type ExerciseKind = Exercise['kind'];

/** Wrong tries after which the view offers to reveal the answer. */
export const REVEAL_AFTER = 3;

/**
 * Declare an exercise with its parameter type checked against its functions, then widen it for
 * the registry.
 */
export function defineExercise<P>(exercise: Exercise<P>): Exercise {
  return exercise as Exercise;
}
