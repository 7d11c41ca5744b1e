/**
 * What a failed check tells the learner: the rule, where the RFC writes it, what the server did,
 * what to change, and which byte on the wire shows it. Thrown by checks, caught by the runner.
 */
import type { Direction } from '../../protocol/types.ts';

export interface Blame {
  /** Which stream the offending byte is in. */
  readonly direction: Direction;
  /** Offset of the offending byte in that stream (the response head starts at 0). */
  readonly offset: number;
}

export interface FailureDetail {
  /** Stable identifier tests and tools can match, e.g. `pong-missing`. */
  readonly rule: string;
  /** Where the rule is written, e.g. `RFC 6455 §5.5.2`. */
  readonly section: string;
  /** What the server did, in a sentence or two. */
  readonly explanation: string;
  /** What to change in the server. */
  readonly hint: string;
  readonly blame?: Blame;
}

export class CheckFailure extends Error {
  readonly detail: FailureDetail;

  constructor(detail: FailureDetail) {
    super(detail.explanation);
    this.detail = detail;
  }
}

export function fail(detail: FailureDetail): never {
  throw new CheckFailure(detail);
}
