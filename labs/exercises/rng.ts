/**
 * Seeded randomness for exercises, on pure-rand's xoroshiro128+. Every learner gets their own
 * numbers (a key, a payload, a length) from `seedFor(learnerSeed, exerciseId)`, so answers cannot
 * be copied, yet a reload shows the same question. In classroom mode the learner seed comes from
 * the class and the student, so the server can rebuild the same parameters.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export interface Rng {
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(length: number): Uint8Array;
  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
  boolean(): boolean;
}

/** FNV-1a over the UTF-16 code units: a stable 32-bit number from any string. */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/** The seed of one exercise for one learner. */
export function seedFor(learnerSeed: string, exerciseId: string): number {
  return hash32(`${learnerSeed}\u0000${exerciseId}`);
}

export function createRng(seed: number): Rng {
  const generator: RandomGenerator = xoroshiro128plus(seed);
  const int = (min: number, max: number): number => uniformInt(generator, min, max);
  return {
    int,
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[int(0, items.length - 1)] as (typeof items)[number];
    },
    bytes: (length) => {
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i++) bytes[i] = int(0, 255);
      return bytes;
    },
    shuffle: (items) => {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = int(0, i);
        [copy[i], copy[j]] = [copy[j] as (typeof copy)[number], copy[i] as (typeof copy)[number]];
      }
      return copy;
    },
    boolean: () => int(0, 1) === 1,
  };
}

/** A fresh learner seed for self-study, kept in localStorage by the exercise view. */
export function newLearnerSeed(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
