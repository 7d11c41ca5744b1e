import { describe, expect, it } from 'vitest';
import { createRng, seedFor } from '../rng.ts';
import type {
  ChoiceExercise,
  Exercise,
  FrameFieldsExercise,
  OrderingExercise,
  ShortAnswerExercise,
} from '../types.ts';
import {
  type CountParams,
  connectionPathExercises,
  expectedCounts,
  type ObserverParams,
  type OnceParams,
  type OrderParams,
  phasesFor,
  type RoundTripParams,
} from './connection-path.ts';

const SEEDS = Array.from({ length: 200 }, (_, i) => `learner-${i}`);

function byId<E extends Exercise>(id: string): E {
  const exercise = connectionPathExercises.find((e) => e.id === id);
  if (exercise === undefined) throw new Error(`no ${id}`);
  return exercise as E;
}

function paramsOf<P>(exercise: Exercise, seed: string): P {
  return exercise.generate(createRng(seedFor(seed, exercise.id))) as P;
}

describe('chapter 2 exercises', () => {
  it('are at least four, all in connection-path, same values for the same seed, hints and a reveal', () => {
    expect(connectionPathExercises.length).toBeGreaterThanOrEqual(4);
    for (const exercise of connectionPathExercises) {
      expect(exercise.chapter).toBe('connection-path');
      for (const seed of SEEDS.slice(0, 30)) {
        const params = paramsOf(exercise, seed);
        expect(paramsOf(exercise, seed)).toEqual(params);
        expect(exercise.hints(params).length).toBeGreaterThanOrEqual(2);
        expect(exercise.reveal(params)).not.toBe('');
        expect(exercise.prompt(params).text).not.toBe('');
      }
    }
  });
});

describe('connection-path-order', () => {
  const exercise = byId<OrderingExercise<OrderParams>>('connection-path-order');

  it('accepts DNS, TCP, TLS (wss:// only), upgrade request, 101, first frame (RFC 6455 §4.1)', async () => {
    const schemes = new Set<string>();
    for (const seed of SEEDS) {
      const p = paramsOf<OrderParams>(exercise, seed);
      schemes.add(p.scheme);
      const expected =
        p.scheme === 'wss'
          ? ['dns', 'tcp', 'tls', 'request', 'response', 'message']
          : ['dns', 'tcp', 'request', 'response', 'message'];
      expect(phasesFor(p.scheme).map((c) => c.id)).toEqual(expected);
      expect(
        exercise
          .items(p)
          .map((c) => c.id)
          .sort(),
      ).toEqual([...expected].sort());
      // The starting order is never already solved.
      expect(exercise.items(p).map((c) => c.id)).not.toEqual(expected);
      expect(p.url.startsWith(`${p.scheme}://`)).toBe(true);
      expect((await exercise.check(p, expected)).correct).toBe(true);
      expect(
        (
          await exercise.check(
            p,
            exercise.items(p).map((c) => c.id),
          )
        ).correct,
      ).toBe(false);
    }
    expect(schemes).toEqual(new Set(['ws', 'wss']));
  });

  it('says TLS comes before the upgrade request when the learner puts HTTP first', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<OrderParams>(exercise, seed);
      if (p.scheme !== 'wss') continue;
      const verdict = await exercise.check(p, [
        'dns',
        'tcp',
        'request',
        'tls',
        'response',
        'message',
      ]);
      expect(verdict.correct).toBe(false);
      expect(verdict.wrong).toEqual(['request', 'tls']);
      expect(verdict.feedback).toMatch(/Step 3 should be "TLS handshake/);
      expect(verdict.feedback).toMatch(/already encrypted/);
      return;
    }
    throw new Error('no wss:// draw in the seeds');
  });
});

describe('connection-path-once', () => {
  const exercise = byId<ChoiceExercise<OnceParams>>('connection-path-once');

  it('accepts exactly the true statements and explains each mistake', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<OnceParams>(exercise, seed);
      expect(p.statements).toHaveLength(6);
      const trues = p.statements.filter((s) => s.true).map((s) => s.id);
      expect(trues.length).toBeGreaterThanOrEqual(2);
      expect((await exercise.check(p, trues)).correct).toBe(true);
      const falses = p.statements.filter((s) => !s.true);
      const picked = falses[0];
      if (picked === undefined) throw new Error('a draw without false statements');
      const verdict = await exercise.check(p, [...trues, picked.id]);
      expect(verdict).toMatchObject({ correct: false, wrong: [picked.id] });
      expect(verdict.feedback).toContain(`Not true: "${picked.label}"`);
      const missing = await exercise.check(p, trues.slice(1));
      expect(missing.feedback).toContain('This one is true too');
    }
  });

  it('tells a learner who thinks each message pays a TLS handshake that it happens once (RFC 8446 §2)', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<OnceParams>(exercise, seed);
      if (!p.statements.some((s) => s.id === 'tls-each')) continue;
      const verdict = await exercise.check(p, ['tls-each']);
      expect(verdict.feedback).toMatch(/handshake happens once/);
      return;
    }
    throw new Error('no draw with the TLS statement');
  });
});

describe('connection-path-count', () => {
  const exercise = byId<FrameFieldsExercise<CountParams>>('connection-path-count');
  const asAnswer = (c: { tcp: number; tls: number; http: number }) => ({
    tcp: String(c.tcp),
    tls: String(c.tls),
    http: String(c.http),
  });

  it('counts one connection per fetch with Connection: close (RFC 9112 §9.6), one otherwise', () => {
    const base = { count: 7, host: 'h', secure: true } as const;
    expect(expectedCounts({ ...base, scenario: 'close' })).toEqual({ tcp: 7, tls: 7, http: 7 });
    expect(expectedCounts({ ...base, scenario: 'keep-alive' })).toEqual({
      tcp: 1,
      tls: 1,
      http: 7,
    });
    expect(expectedCounts({ ...base, scenario: 'websocket' })).toEqual({ tcp: 1, tls: 1, http: 1 });
    expect(expectedCounts({ ...base, secure: false, scenario: 'close' })).toEqual({
      tcp: 7,
      tls: 0,
      http: 7,
    });
  });

  it('accepts the counts for every draw and names each wrong field', async () => {
    const scenarios = new Set<string>();
    for (const seed of SEEDS) {
      const p = paramsOf<CountParams>(exercise, seed);
      scenarios.add(`${p.scenario}-${p.secure}`);
      const right = expectedCounts(p);
      expect((await exercise.check(p, asAnswer(right))).correct).toBe(true);
      const bad = await exercise.check(p, { ...asAnswer(right), tcp: 'lots' });
      expect(bad).toMatchObject({ correct: false, wrong: ['tcp'] });
      expect(bad.feedback).toMatch(/not a whole number/);
    }
    expect(scenarios.size).toBe(6);
  });

  it('explains the typical mistakes: one connection for Connection: close, messages as requests, TLS on ws://', async () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const p = paramsOf<CountParams>(exercise, seed);
      const right = expectedCounts(p);
      if (p.scenario === 'close') {
        const v = await exercise.check(p, asAnswer({ ...right, tcp: 1 }));
        expect(v.wrong).toEqual(['tcp']);
        expect(v.feedback).toMatch(/RFC 9112 §9\.6/);
        seen.add('close');
      }
      if (p.scenario === 'websocket') {
        const v = await exercise.check(p, asAnswer({ ...right, http: p.count }));
        expect(v.wrong).toEqual(['http']);
        expect(v.feedback).toMatch(/messages are frames/);
        seen.add('websocket');
      }
      if (p.scenario === 'keep-alive') {
        const v = await exercise.check(p, asAnswer({ ...right, tcp: p.count }));
        expect(v.feedback).toMatch(/RFC 9112 §9\.3/);
        seen.add('keep-alive');
      }
      if (!p.secure) {
        const v = await exercise.check(p, asAnswer({ ...right, tls: right.tcp }));
        expect(v.wrong).toEqual(['tls']);
        expect(v.feedback).toMatch(/no TLS at all/);
        seen.add('plain');
      } else {
        const v = await exercise.check(p, asAnswer({ ...right, tls: 0 }));
        expect(v.feedback).toMatch(/runs TLS over every TCP connection/);
      }
    }
    expect(seen).toEqual(new Set(['close', 'websocket', 'keep-alive', 'plain']));
  });
});

describe('connection-path-round-trips', () => {
  const exercise = byId<ShortAnswerExercise<RoundTripParams>>('connection-path-round-trips');

  it('accepts 3 round trips for wss:// (TCP, TLS 1.3, upgrade) and 2 for ws://, with or without "ms"', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<RoundTripParams>(exercise, seed);
      const n = p.scheme === 'wss' ? 3 : 2;
      expect((await exercise.check(p, String(n * p.rtt))).correct).toBe(true);
      expect((await exercise.check(p, `${n * p.rtt} ms`)).correct).toBe(true);
      expect((await exercise.check(p, String(n * p.rtt + 1))).correct).toBe(false);
      expect((await exercise.check(p, 'soon')).feedback).toMatch(/not a whole number/);
    }
  });

  it('names the missing TLS round trip for wss:// and the TLS 1.2 count (RFC 8446 §2)', async () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const p = paramsOf<RoundTripParams>(exercise, seed);
      if (p.scheme === 'wss') {
        expect((await exercise.check(p, String(2 * p.rtt))).feedback).toMatch(/leaves out TLS/);
        expect((await exercise.check(p, String(4 * p.rtt))).feedback).toMatch(/TLS 1\.2/);
        seen.add('wss');
      } else {
        expect((await exercise.check(p, String(3 * p.rtt))).feedback).toMatch(/no TLS handshake/);
        expect((await exercise.check(p, String(p.rtt))).feedback).toMatch(/TCP handshake too/);
        seen.add('ws');
      }
    }
    expect(seen.size).toBe(2);
  });
});

describe('connection-path-observer', () => {
  const exercise = byId<ChoiceExercise<ObserverParams>>('connection-path-observer');

  it('accepts address, host name and sizes as visible, and says the upgrade is inside TLS', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<ObserverParams>(exercise, seed);
      const visible = ['ip-port', 'sni', 'sizes'];
      expect((await exercise.check(p, visible)).correct).toBe(true);
      const withPath = await exercise.check(p, [...visible, 'path']);
      expect(withPath).toMatchObject({ correct: false, wrong: ['path'] });
      expect(withPath.feedback).toMatch(/inside the TLS tunnel/);
      expect(withPath.feedback).toContain(p.token);
      const noSni = await exercise.check(p, ['ip-port', 'sizes']);
      expect(noSni.feedback).toMatch(/server_name/);
    }
  });
});
