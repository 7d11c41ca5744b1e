import { describe, expect, it } from 'vitest';
import { createRng, seedFor } from './rng.ts';

describe('exercise randomness', () => {
  it('gives the same values for the same learner and exercise', () => {
    const a = createRng(seedFor('learner-a', 'accept-steps'));
    const b = createRng(seedFor('learner-a', 'accept-steps'));
    expect([a.int(0, 1000), a.int(0, 1000), [...a.bytes(4)]]).toEqual([
      b.int(0, 1000),
      b.int(0, 1000),
      [...b.bytes(4)],
    ]);
  });

  it('gives different learners different values', () => {
    const draws = new Set<string>();
    for (let i = 0; i < 50; i++) {
      draws.add([...createRng(seedFor(`learner-${i}`, 'accept-steps')).bytes(16)].join());
    }
    expect(draws.size).toBe(50);
  });

  it('stays within bounds and shuffles without losing items', () => {
    const rng = createRng(42);
    for (let i = 0; i < 1000; i++) {
      const n = rng.int(3, 7);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(7);
    }
    expect(rng.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
