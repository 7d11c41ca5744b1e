import { describe, expect, it } from 'vitest';
import { exerciseById, exercisesOf } from '../registry.ts';
import { createRng } from '../rng.ts';
import type { ChoiceExercise, OrderingExercise, ShortAnswerExercise } from '../types.ts';
import {
  beyondFields,
  beyondFit,
  beyondOrder,
  beyondSetting,
  beyondSuccess,
  type FieldsParams,
  type FitParams,
  fieldsAnswer,
  type OrderParams,
  type SettingParams,
  type SuccessParams,
} from './beyond-http1.ts';

const SEEDS = Array.from({ length: 200 }, (_, i) => i * 7919 + 3);
const fields = beyondFields as ChoiceExercise<FieldsParams>;
const success = beyondSuccess as ChoiceExercise<SuccessParams>;
const order = beyondOrder as OrderingExercise<OrderParams>;
const fit = beyondFit as ChoiceExercise<FitParams>;
const setting = beyondSetting as ShortAnswerExercise<SettingParams>;

describe('chapter 11 exercises are registered', () => {
  it('has at least 4 exercises, each found by its id, with prompts, hints and reveals', () => {
    const all = exercisesOf('beyond-http1');
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const e of all) {
      expect(exerciseById(e.id)).toBe(e);
      expect(e.generate(createRng(9))).toEqual(e.generate(createRng(9)));
      for (const seed of SEEDS.slice(0, 30)) {
        const p = e.generate(createRng(seed));
        expect(e.prompt(p).text.length).toBeGreaterThan(20);
        expect(e.hints(p).length).toBeGreaterThanOrEqual(2);
        expect(e.reveal(p).length).toBeGreaterThan(10);
      }
    }
  });
});

describe('beyond-http1-fields: the opening request (RFC 8441 §4, §5; RFC 6455 §4.1)', () => {
  it('accepts exactly the fields of the version drawn, for every seed', async () => {
    for (const seed of SEEDS) {
      const p = fields.generate(createRng(seed));
      expect((await fields.check(p, fieldsAnswer(p))).correct).toBe(true);
    }
  });

  it('over HTTP/2: CONNECT, :protocol, :scheme and :path, and the version, nothing else', () => {
    const p = { http: 'HTTP/2' as const, path: '/chat', order: [] };
    expect(fieldsAnswer(p).sort()).toEqual([
      'method-connect',
      'protocol',
      'scheme-path',
      'version',
    ]);
  });

  it('names Sec-WebSocket-Key as not used over HTTP/2, and Upgrade as forbidden there', async () => {
    const p = { http: 'HTTP/2' as const, path: '/chat', order: [] };
    const withKey = await fields.check(p, [...fieldsAnswer(p), 'key']);
    expect(withKey.feedback).toMatch(/Not over HTTP\/2: Sec-WebSocket-Key.*RFC 8441 §5/);
    const withUpgrade = await fields.check(p, [...fieldsAnswer(p), 'upgrade']);
    expect(withUpgrade.feedback).toMatch(/RFC 9113 §8\.2\.2/);
    const noProtocol = await fields.check(
      p,
      fieldsAnswer(p).filter((id) => id !== 'protocol'),
    );
    expect(noProtocol.feedback).toMatch(/Missing for HTTP\/2: :protocol/);
  });

  it('over HTTP/1.1: GET, Upgrade and Connection, the key and the version', async () => {
    const p = { http: 'HTTP/1.1' as const, path: '/chat', order: [] };
    expect(fieldsAnswer(p).sort()).toEqual(['key', 'method-get', 'upgrade', 'version']);
    expect((await fields.check(p, ['method-connect', 'protocol'])).correct).toBe(false);
  });
});

describe('beyond-http1-success: what says yes', () => {
  it('is 101 over HTTP/1.1 and a 2xx over HTTP/2 and HTTP/3, with a reason for every wrong pick', async () => {
    for (const seed of SEEDS.slice(0, 60)) {
      const p = success.generate(createRng(seed));
      const expected = p.http === 'HTTP/1.1' ? '101' : '200';
      expect((await success.check(p, [expected])).correct).toBe(true);
      for (const c of success.choices(p).filter((c) => c.id !== expected)) {
        const verdict = await success.check(p, [c.id]);
        expect(verdict.correct).toBe(false);
        expect(verdict.feedback.length).toBeGreaterThan(30);
      }
    }
  });

  it('explains that HTTP/2 has no 101 (RFC 9113 §8.6)', async () => {
    expect((await success.check({ http: 'HTTP/2' }, ['101'])).feedback).toMatch(/RFC 9113 §8\.6/);
  });
});

describe('beyond-http1-order: the extended CONNECT exchange', () => {
  it('accepts the order for every seed and names the step placed too early', async () => {
    for (const seed of SEEDS.slice(0, 50)) {
      const p = order.generate(createRng(seed));
      const correct = ['preface', 'settings', 'connect', 'ok', 'data-in', 'data-out', 'end'];
      expect((await order.check(p, correct)).correct).toBe(true);
      expect((await order.check(p, p.order)).correct).toBe(false);
    }
    const p = order.generate(createRng(1));
    const early = await order.check(p, [
      'preface',
      'connect',
      'settings',
      'ok',
      'data-in',
      'data-out',
      'end',
    ]);
    expect(early.feedback).toMatch(/comes too early.*RFC 8441 §3/);
    expect(early.wrong).toEqual(['connect', 'settings']);
    expect((await order.check(p, ['preface'])).feedback).toMatch(/all 7 steps/);
  });
});

describe('beyond-http1-fit: which technology', () => {
  it('accepts the one fitting answer per scenario and explains the others', async () => {
    const scenarios = new Set<string>();
    for (const seed of SEEDS.slice(0, 60)) {
      const p = fit.generate(createRng(seed));
      scenarios.add(p.scenario);
      let rightCount = 0;
      for (const c of fit.choices(p)) {
        const verdict = await fit.check(p, [c.id]);
        if (verdict.correct) rightCount++;
        else expect(verdict.feedback.length).toBeGreaterThan(30);
      }
      expect(rightCount).toBe(1);
    }
    expect(scenarios.size).toBe(4);
  });
});

describe('beyond-http1-setting: the parameter in bytes (RFC 9113 §6.5.1, RFC 8441 §3)', () => {
  it('accepts 00 08 00 00 00 0v in any hex spelling', async () => {
    for (const value of [0, 1] as const) {
      const p = { value };
      expect((await setting.check(p, `00 08 00 00 00 0${value}`)).correct).toBe(true);
      expect((await setting.check(p, `0x00,0x08,0x00,0x00,0x00,0x0${value}`)).correct).toBe(true);
      expect((await setting.check(p, `00080000000${value}`)).correct).toBe(true);
    }
  });

  it('names the typical mistakes', async () => {
    const p = { value: 1 as const };
    expect((await setting.check(p, '08 00 00 00 00 01')).feedback).toMatch(/big-endian/);
    expect((await setting.check(p, '00 08 01')).feedback).toMatch(/3 bytes/);
    expect((await setting.check(p, '00 08 00 00 00 00')).feedback).toMatch(/must be 1/);
    expect((await setting.check(p, '00 04 00 00 00 01')).feedback).toMatch(/0004 is not/);
    expect((await setting.check(p, '00 08 01 00 00 00')).feedback).toMatch(/32 bits/);
    expect((await setting.check(p, 'zz')).correct).toBe(false);
  });
});
