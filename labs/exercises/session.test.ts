import { describe, expect, it } from 'vitest';
import { EMPTY_EXERCISE } from './progress.ts';
import { exerciseById } from './registry.ts';
import { seedFor } from './rng.ts';
import {
  canReveal,
  incompleteAnswer,
  moveItem,
  paramsFor,
  recordNewRound,
  recordReveal,
  recordVerdict,
  restoredOrder,
  roundSeed,
  triesBeforeReveal,
  visibleHints,
} from './session.ts';
import { REVEAL_AFTER } from './types.ts';

const NOW = new Date('2026-11-25T07:00:00.000Z');
const WRONG = { correct: false, feedback: 'no' };
const RIGHT = { correct: true, feedback: '' };
const HINTS = ['one', 'two', 'three'];

describe('one exercise on the page', () => {
  it('draws round 0 from seedFor(seed, id) as the contract says, and other rounds differently', () => {
    expect(roundSeed('learner', 'accept-compute', 0)).toBe(seedFor('learner', 'accept-compute'));
    expect(roundSeed('learner', 'accept-compute', 1)).not.toBe(
      seedFor('learner', 'accept-compute'),
    );
    const exercise = exerciseById('accept-compute');
    if (exercise === undefined) throw new Error('missing');
    expect(paramsFor(exercise, 'learner', 0)).toEqual(paramsFor(exercise, 'learner', 0));
    expect(paramsFor(exercise, 'learner', 0)).not.toEqual(paramsFor(exercise, 'learner', 1));
  });

  it('shows one more hint per wrong try, and all once solved or revealed', () => {
    let entry = EMPTY_EXERCISE;
    expect(visibleHints(HINTS, entry)).toEqual([]);
    entry = recordVerdict(entry, WRONG, 'a', NOW);
    expect(visibleHints(HINTS, entry)).toEqual(['one']);
    entry = recordVerdict(entry, WRONG, 'b', NOW);
    entry = recordVerdict(entry, WRONG, 'c', NOW);
    entry = recordVerdict(entry, WRONG, 'd', NOW);
    expect(visibleHints(HINTS, entry)).toEqual(HINTS);
    expect(visibleHints(HINTS, recordVerdict(EMPTY_EXERCISE, RIGHT, 'x', NOW))).toEqual(HINTS);
  });

  it(`offers the answer only after ${REVEAL_AFTER} wrong tries, and not once solved`, () => {
    let entry = EMPTY_EXERCISE;
    for (let i = 0; i < REVEAL_AFTER; i++) {
      expect(canReveal(entry)).toBe(false);
      expect(recordReveal(entry, NOW)).toBe(entry);
      expect(triesBeforeReveal(entry)).toBe(REVEAL_AFTER - i);
      entry = recordVerdict(entry, WRONG, String(i), NOW);
    }
    expect(canReveal(entry)).toBe(true);
    const revealed = recordReveal(entry, NOW);
    expect(revealed.revealed).toBe(true);
    expect(canReveal(revealed)).toBe(false);
    expect(canReveal(recordVerdict(entry, RIGHT, 'x', NOW))).toBe(false);
  });

  it('keeps the exercise solved across new values, but resets the round', () => {
    const solved = recordVerdict(recordVerdict(EMPTY_EXERCISE, WRONG, 'a', NOW), RIGHT, 'b', NOW);
    expect(solved).toMatchObject({ tries: 1, solved: true, roundSolved: true, lastAnswer: 'b' });
    const next = recordNewRound(solved, NOW);
    expect(next).toMatchObject({
      round: 1,
      tries: 0,
      solved: true,
      roundSolved: false,
      revealed: false,
      lastAnswer: null,
    });
  });

  it('does not count an empty answer as a try', () => {
    const short = exerciseById('accept-compute');
    const choice = exerciseById('accept-valid-keys');
    if (short === undefined || choice === undefined) throw new Error('missing');
    expect(incompleteAnswer(short, '  ')).toBe(
      'Type your answer in the Sec-WebSocket-Accept field first.',
    );
    expect(incompleteAnswer(short, 'abc')).toBeNull();
    expect(incompleteAnswer(choice, [])).toBe('Choose at least one option first.');
  });

  it('moves ordering items with buttons, staying put at the edges', () => {
    expect(moveItem(['a', 'b', 'c'], 'b', -1)).toEqual(['b', 'a', 'c']);
    expect(moveItem(['a', 'b', 'c'], 'b', 1)).toEqual(['a', 'c', 'b']);
    expect(moveItem(['a', 'b', 'c'], 'a', -1)).toEqual(['a', 'b', 'c']);
    expect(moveItem(['a', 'b', 'c'], 'c', 1)).toEqual(['a', 'b', 'c']);
    expect(moveItem(['a', 'b'], 'zz', 1)).toEqual(['a', 'b']);
  });

  it('restores a saved order only when it holds exactly the same items', () => {
    expect(restoredOrder(['a', 'b', 'c'], ['c', 'a', 'b'])).toEqual(['c', 'a', 'b']);
    expect(restoredOrder(['a', 'b', 'c'], ['c', 'a'])).toEqual(['a', 'b', 'c']);
    expect(restoredOrder(['a', 'b', 'c'], ['a', 'a', 'b'])).toEqual(['a', 'b', 'c']);
    expect(restoredOrder(['a', 'b', 'c'], 'text')).toEqual(['a', 'b', 'c']);
  });
});
