import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeAccept, isValidKey, WEBSOCKET_GUID } from '../../../protocol/accept.ts';
import { analyseKey } from '../../accept/model.ts';
import { createRng, seedFor } from '../rng.ts';
import type { ChoiceExercise, Exercise, OrderingExercise, ShortAnswerExercise } from '../types.ts';
import { acceptExercises, acceptSteps, toBase64 } from './accept.ts';

const SEEDS = Array.from({ length: 150 }, (_, i) => `learner-${i}`);

function byId<E extends Exercise>(id: string): E {
  const exercise = acceptExercises.find((e) => e.id === id);
  if (exercise === undefined) throw new Error(`no ${id}`);
  return exercise as E;
}

function paramsOf<P>(exercise: Exercise, seed: string): P {
  return exercise.generate(createRng(seedFor(seed, exercise.id))) as P;
}

describe('chapter 4 exercises', () => {
  it('all belong to chapter accept, with hints and a reveal for every learner', () => {
    expect(acceptExercises.length).toBeGreaterThanOrEqual(4);
    for (const exercise of acceptExercises) {
      expect(exercise.chapter).toBe('accept');
      for (const seed of SEEDS.slice(0, 20)) {
        const params = paramsOf(exercise, seed);
        expect(paramsOf(exercise, seed)).toEqual(params);
        expect(exercise.hints(params).length).toBeGreaterThanOrEqual(2);
        expect(exercise.reveal(params)).not.toBe('');
        expect(exercise.prompt(params).text).not.toBe('');
      }
    }
  });

  it('computes accept values that agree with WebCrypto (protocol/accept.ts), RFC 6455 §1.3 example included', async () => {
    expect(acceptSteps('dGhlIHNhbXBsZSBub25jZQ==').accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 16, maxLength: 16 }), async (bytes) => {
        const key = toBase64(bytes);
        const sync = acceptSteps(key);
        const webcrypto = await computeAccept(key);
        expect(sync).toEqual({
          concatenated: webcrypto.concatenated,
          sha1Hex: webcrypto.sha1Hex,
          accept: webcrypto.accept,
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe('accept-compute', () => {
  const exercise = byId<ShortAnswerExercise<{ key: string }>>('accept-compute');

  it('accepts the right accept value for every learner, with stray spaces', async () => {
    const keys = new Set<string>();
    for (const seed of SEEDS) {
      const params = paramsOf<{ key: string }>(exercise, seed);
      expect(isValidKey(params.key)).toBe(true);
      keys.add(params.key);
      const { accept } = await computeAccept(params.key);
      expect(await exercise.check(params, accept)).toEqual({ correct: true, feedback: '' });
      expect((await exercise.check(params, ` ${accept}\n`)).correct).toBe(true);
    }
    expect(keys.size).toBe(SEEDS.length);
  });

  it('says which step went wrong for the usual slips', async () => {
    const enc = (text: string) => new TextEncoder().encode(text);
    const sha = async (bytes: Uint8Array<ArrayBuffer>) =>
      new Uint8Array(await crypto.subtle.digest('SHA-1', bytes));
    for (const seed of SEEDS.slice(0, 30)) {
      const params = paramsOf<{ key: string }>(exercise, seed);
      const { key } = params;
      const steps = await computeAccept(key);
      const cases: [string, RegExp][] = [
        [steps.sha1Hex, /SHA-1 digest written in hex/],
        [steps.sha1Hex.toUpperCase(), /SHA-1 digest written in hex/],
        [toBase64(enc(steps.sha1Hex)), /base64-encoded the 40 hex characters/],
        [key, /the key itself/],
        ['s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', /RFC 6455's example key/],
        [toBase64(await sha(enc(key))), /hashed the key alone/],
        [toBase64(await sha(enc(WEBSOCKET_GUID + key))), /put the GUID first/],
        [toBase64(await sha(enc(key + WEBSOCKET_GUID.toLowerCase()))), /upper case/],
        [
          toBase64(
            await sha(
              new Uint8Array([
                ...Uint8Array.from(atob(key), (c) => c.charCodeAt(0)),
                ...enc(WEBSOCKET_GUID),
              ]),
            ),
          ),
          /decoded the key from base64/,
        ],
        [toBase64(await sha(enc(`${key} ${WEBSOCKET_GUID}`))), /extra character/],
        ['AAAAAAAAAAAAAAAAAAAAAAAAAAA=', /not the accept for this key/],
        ['s3pP*', /"\*" is not a base64 character/],
      ];
      for (const [answer, feedback] of cases) {
        const verdict = await exercise.check(params, answer);
        expect(verdict.correct, answer).toBe(false);
        expect(verdict.feedback).toMatch(feedback);
      }
    }
  });
});

interface WrongStep {
  key: string;
  wrong: 'concatenation' | 'sha1' | 'base64';
  concatenated: string;
  sha1Hex: string;
  accept: string;
}

describe('accept-wrong-step', () => {
  const exercise = byId<ChoiceExercise<WrongStep>>('accept-wrong-step');

  it('has exactly the one wrong step it claims, each later step done faithfully', async () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const p = paramsOf<WrongStep>(exercise, seed);
      seen.add(p.wrong);
      const right = await computeAccept(p.key);
      const digest = Uint8Array.from(p.sha1Hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
      const hashed = Array.from(
        new Uint8Array(
          await crypto.subtle.digest('SHA-1', new TextEncoder().encode(p.concatenated)),
        ),
        (b) => b.toString(16).padStart(2, '0'),
      ).join('');
      expect(p.concatenated === right.concatenated).toBe(p.wrong !== 'concatenation');
      expect(p.sha1Hex === hashed).toBe(p.wrong !== 'sha1');
      expect(p.accept === toBase64(digest)).toBe(p.wrong !== 'base64');
      expect(await exercise.check(p, [p.wrong])).toEqual({ correct: true, feedback: '' });
      for (const other of ['concatenation', 'sha1', 'base64'].filter((s) => s !== p.wrong)) {
        const verdict = await exercise.check(p, [other]);
        expect(verdict.correct).toBe(false);
        expect(verdict.wrong).toEqual([other]);
        expect(verdict.feedback).toMatch(/Look at another step/);
      }
    }
    expect(seen).toEqual(new Set(['concatenation', 'sha1', 'base64']));
  });
});

describe('accept-order', () => {
  const exercise = byId<OrderingExercise<{ items: { id: string }[] }>>('accept-order');
  const right = ['read-key', 'append-guid', 'sha1', 'base64', 'send', 'client-compares'];

  it('starts shuffled, accepts the order of RFC 6455 §4.2.2 and marks misplaced steps', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<{ items: { id: string }[] }>(exercise, seed);
      const start = exercise.items(p).map((i) => i.id);
      expect([...start].sort()).toEqual([...right].sort());
      expect(start).not.toEqual(right);
      expect((await exercise.check(p, right)).correct).toBe(true);
      const verdict = await exercise.check(p, start);
      expect(verdict.correct).toBe(false);
      expect(verdict.wrong).toEqual(start.filter((id, i) => right[i] !== id));
    }
    const p = paramsOf<{ items: { id: string }[] }>(exercise, 'x');
    const swapped = await exercise.check(p, [
      'read-key',
      'append-guid',
      'base64',
      'sha1',
      'send',
      'client-compares',
    ]);
    expect(swapped).toMatchObject({ correct: false, wrong: ['base64', 'sha1'] });
    expect(swapped.feedback).toMatch(/Step 3 should be: "Take the SHA-1 digest/);
  });
});

interface KeyCandidate {
  id: string;
  key: string;
  flaw: string;
}

describe('accept-valid-keys', () => {
  const exercise = byId<ChoiceExercise<{ candidates: KeyCandidate[] }>>('accept-valid-keys');

  it('draws keys whose validity agrees with protocol/accept.ts and the calculator', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<{ candidates: KeyCandidate[] }>(exercise, seed);
      const valid = p.candidates.filter((c) => c.flaw === 'valid');
      expect(valid.length).toBeGreaterThanOrEqual(1);
      expect(p.candidates.length - valid.length).toBeGreaterThanOrEqual(2);
      for (const c of p.candidates) {
        expect(isValidKey(c.key), c.key).toBe(c.flaw === 'valid');
        expect(analyseKey(c.key).valid, c.key).toBe(c.flaw === 'valid');
      }
      expect(
        await exercise.check(
          p,
          valid.map((c) => c.id),
        ),
      ).toEqual({ correct: true, feedback: '' });
    }
  });

  it('explains each invalid key picked and counts valid ones left out', async () => {
    for (const seed of SEEDS.slice(0, 50)) {
      const p = paramsOf<{ candidates: KeyCandidate[] }>(exercise, seed);
      const everything = await exercise.check(
        p,
        p.candidates.map((c) => c.id),
      );
      expect(everything.correct).toBe(false);
      const invalid = p.candidates.filter((c) => c.flaw !== 'valid');
      expect(everything.wrong).toEqual(invalid.map((c) => c.id));
      for (const c of invalid) expect(everything.feedback).toContain(c.key);
      const valid = p.candidates.filter((c) => c.flaw === 'valid');
      const none = await exercise.check(p, [invalid[0]?.id ?? '']);
      expect(none.feedback).toMatch(
        valid.length === 1 ? /One valid key was left out/ : /2 valid keys were left out/,
      );
    }
  });
});

describe('accept-what-it-proves', () => {
  const exercise =
    byId<ChoiceExercise<{ statements: { id: string; true: boolean }[] }>>('accept-what-it-proves');

  it('accepts exactly the two things the accept value proves (RFC 6455 §1.3), and says why the rest are not', async () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const p = paramsOf<{ statements: { id: string; true: boolean }[] }>(exercise, seed);
      expect((await exercise.check(p, ['speaks-websocket', 'not-cached'])).correct).toBe(true);
      const authenticates = await exercise.check(p, [
        'speaks-websocket',
        'not-cached',
        'authenticates',
      ]);
      expect(authenticates).toMatchObject({ correct: false, wrong: ['authenticates'] });
      expect(authenticates.feedback).toMatch(/GUID is public/);
      const half = await exercise.check(p, ['speaks-websocket']);
      expect(half.feedback).toMatch(/You left out a true one/);
    }
  });
});
