import { describe, expect, it } from 'vitest';
import { EXPECTED } from '../../proxy/model.ts';
import { createRng, seedFor } from '../rng.ts';
import type { ChoiceExercise, Exercise, OrderingExercise, ShortAnswerExercise } from '../types.ts';
import {
  cellStatement,
  expectedRequestLine,
  type HopParams,
  hopByHop,
  type PredictParams,
  proxiesExercises,
  type RequestLineParams,
  TUNNEL_STEPS,
  type TunnelParams,
} from './proxies.ts';

const SEEDS = Array.from({ length: 200 }, (_, i) => `learner-${i}`);

function byId<E extends Exercise>(id: string): E {
  const exercise = proxiesExercises.find((e) => e.id === id);
  if (exercise === undefined) throw new Error(`no ${id}`);
  return exercise as E;
}

function paramsOf<P>(exercise: Exercise, seed: string): P {
  return exercise.generate(createRng(seedFor(seed, exercise.id))) as P;
}

describe('chapter 9 exercises', () => {
  it('are at least four, all in proxies, same values for the same seed, hints and a reveal', () => {
    expect(proxiesExercises.length).toBeGreaterThanOrEqual(4);
    for (const exercise of proxiesExercises) {
      expect(exercise.chapter).toBe('proxies');
      for (const seed of SEEDS.slice(0, 30)) {
        const params = paramsOf(exercise, seed);
        expect(paramsOf(exercise, seed)).toEqual(params);
        expect(exercise.hints(params).length).toBeGreaterThanOrEqual(2);
        expect(exercise.reveal(params)).not.toBe('');
      }
    }
  });
});

describe('proxies-request-line', () => {
  const exercise = byId<ShortAnswerExercise<RequestLineParams>>('proxies-request-line');

  it('expects the absolute form for a forwarder (RFC 9112 §3.2.2) and the authority form for CONNECT (§3.2.3)', () => {
    const base = { host: 'h.example', path: '/live', proxy: 'p:1' } as const;
    expect(expectedRequestLine({ ...base, use: 'forwarder', scheme: 'ws', port: null })).toBe(
      'GET http://h.example/live HTTP/1.1',
    );
    expect(expectedRequestLine({ ...base, use: 'forwarder', scheme: 'ws', port: 8080 })).toBe(
      'GET http://h.example:8080/live HTTP/1.1',
    );
    expect(expectedRequestLine({ ...base, use: 'tunnel', scheme: 'wss', port: null })).toBe(
      'CONNECT h.example:443 HTTP/1.1',
    );
    expect(expectedRequestLine({ ...base, use: 'tunnel', scheme: 'ws', port: null })).toBe(
      'CONNECT h.example:80 HTTP/1.1',
    );
  });

  it('accepts the expected line for every draw, with extra spaces, and never a forwarder for wss://', async () => {
    const uses = new Set<string>();
    for (const seed of SEEDS) {
      const p = paramsOf<RequestLineParams>(exercise, seed);
      uses.add(`${p.use}-${p.scheme}`);
      if (p.use === 'forwarder') expect(p.scheme).toBe('ws');
      const line = expectedRequestLine(p);
      expect((await exercise.check(p, line)).correct).toBe(true);
      expect((await exercise.check(p, `  ${line.replaceAll(' ', '   ')} `)).correct).toBe(true);
    }
    expect(uses).toEqual(new Set(['forwarder-ws', 'tunnel-ws', 'tunnel-wss']));
  });

  it('explains the typical mistakes: origin form to a proxy, a path or no port in CONNECT, lowercase methods', async () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const p = paramsOf<RequestLineParams>(exercise, seed);
      const port = p.port ?? (p.scheme === 'wss' ? 443 : 80);
      if (p.use === 'forwarder') {
        const origin = await exercise.check(p, `GET ${p.path} HTTP/1.1`);
        expect(origin.feedback).toMatch(/origin form.*RFC 9112 §3\.2\.2/);
        const connect = await exercise.check(p, `CONNECT ${p.host}:${port} HTTP/1.1`);
        expect(connect.feedback).toMatch(/is a GET/);
        if (p.port === null) {
          expect(
            (await exercise.check(p, `GET http://${p.host}:80${p.path} HTTP/1.1`)).correct,
          ).toBe(true);
        }
        expect(
          (
            await exercise.check(
              p,
              `GET ws://${p.host.toUpperCase()}${p.port === null ? '' : `:${p.port}`}${p.path} HTTP/1.1`,
            )
          ).correct,
        ).toBe(true);
        seen.add('forwarder');
      } else {
        const noPort = await exercise.check(p, `CONNECT ${p.host} HTTP/1.1`);
        expect(noPort.feedback).toMatch(/always carries the port/);
        const withPath = await exercise.check(p, `CONNECT ${p.host}:${port}${p.path} HTTP/1.1`);
        expect(withPath.feedback).toMatch(/authority form/);
        const get = await exercise.check(p, `GET ${p.path} HTTP/1.1`);
        expect(get.feedback).toMatch(/CONNECT method/);
        expect((await exercise.check(p, `connect ${p.host}:${port} HTTP/1.1`)).feedback).toMatch(
          /case-sensitive/,
        );
        seen.add('tunnel');
      }
      expect((await exercise.check(p, '')).feedback).toMatch(/empty/);
      expect((await exercise.check(p, 'GET')).feedback).toMatch(/three parts/);
      const http10 = expectedRequestLine(p).replace('HTTP/1.1', 'HTTP/1.0');
      expect((await exercise.check(p, http10)).feedback).toMatch(/HTTP\/1\.1/);
    }
    expect(seen.size).toBe(2);
  });
});

describe('proxies-hop-by-hop', () => {
  const exercise = byId<ChoiceExercise<HopParams>>('proxies-hop-by-hop');

  it('removes Connection, Upgrade and every field Connection names (RFC 9110 §7.6.1)', () => {
    expect(hopByHop({ extra: null, keepAlive: false })).toEqual(['Connection', 'Upgrade']);
    expect(hopByHop({ extra: 'X-A', keepAlive: true })).toEqual([
      'Connection',
      'Upgrade',
      'Keep-Alive',
      'X-A',
    ]);
  });

  it('accepts the hop-by-hop fields for every draw and explains misses and extras', async () => {
    let sawExtra = false;
    for (const seed of SEEDS) {
      const p = paramsOf<HopParams>(exercise, seed);
      const code = exercise.prompt(p).code ?? '';
      const connection = p.headers.find((h) => h.name === 'Connection')?.value ?? '';
      // Every field the answer removes is in the request, and Connection names the listed ones.
      for (const name of hopByHop(p)) expect(code).toContain(`${name}: `);
      if (p.extra !== null) {
        expect(connection).toContain(p.extra);
        sawExtra = true;
      }
      const right = hopByHop(p);
      expect((await exercise.check(p, right)).correct).toBe(true);
      const noUpgrade = await exercise.check(
        p,
        right.filter((n) => n !== 'Upgrade'),
      );
      expect(noUpgrade).toMatchObject({ correct: false, wrong: ['Upgrade'] });
      expect(noUpgrade.feedback).toMatch(/breaks the WebSocket handshake/);
      const key = await exercise.check(p, [...right, 'Sec-WebSocket-Key']);
      expect(key.wrong).toEqual(['Sec-WebSocket-Key']);
      expect(key.feedback).toMatch(/end-to-end/);
      if (p.extra !== null) {
        const missedExtra = await exercise.check(
          p,
          right.filter((n) => n !== p.extra),
        );
        expect(missedExtra.feedback).toContain(`${p.extra} is named in the Connection field`);
      }
    }
    expect(sawExtra).toBe(true);
  });
});

describe('proxies-tunnel-order', () => {
  const exercise = byId<OrderingExercise<TunnelParams>>('proxies-tunnel-order');

  it('accepts CONNECT, its 2xx, then TLS, then the upgrade inside it (RFC 9110 §9.3.6)', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<TunnelParams>(exercise, seed);
      const expected = TUNNEL_STEPS.map((s) => s.id);
      expect(exercise.items(p).map((i) => i.id)).not.toEqual(expected);
      expect(exercise.items(p).find((i) => i.id === 'connect')?.label).toContain(`${p.host}:443`);
      expect((await exercise.check(p, expected)).correct).toBe(true);
      const tlsFirst = await exercise.check(p, [
        'tcp-proxy',
        'tls',
        'connect',
        'established',
        'upgrade',
        '101',
        'frames',
      ]);
      expect(tlsFirst.correct).toBe(false);
      expect(tlsFirst.feedback).toMatch(/Step 2 should be "The client sends CONNECT/);
    }
  });
});

describe('proxies-predict', () => {
  const exercise = byId<ChoiceExercise<PredictParams>>('proxies-predict');

  it('always asks about ws:// through the naive forwarder, and accepts the paths that open', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<PredictParams>(exercise, seed);
      expect(p.cells).toContainEqual({ via: 'naive', scheme: 'ws' });
      expect(new Set(p.cells.map((c) => `${c.via}/${c.scheme}`)).size).toBe(p.cells.length);
      const opens = p.cells
        .filter((c) => EXPECTED[c.via][c.scheme])
        .map((c) => `${c.via}/${c.scheme}`);
      expect((await exercise.check(p, opens)).correct).toBe(true);
      const withNaive = await exercise.check(p, [...opens, 'naive/ws']);
      expect(withNaive).toMatchObject({ correct: false, wrong: ['naive/ws'] });
      expect(withNaive.feedback).toMatch(/hop-by-hop \(RFC 9110 §7\.6\.1\)/);
    }
  });

  it('explains that wss:// is tunnelled even by a forwarder', () => {
    expect(cellStatement('naive', 'wss')).toMatchObject({ true: true });
    expect(cellStatement('naive', 'wss').why).toMatch(/CONNECT tunnel/);
  });
});

describe('proxies-why-wss', () => {
  const exercise = byId<ChoiceExercise<{ statements: { id: string }[] }>>('proxies-why-wss');

  it('accepts "the proxy cannot read the tunnel" and explains each wrong idea', async () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const p = paramsOf<{ statements: { id: string }[] }>(exercise, seed);
      expect((await exercise.check(p, ['opaque'])).correct).toBe(true);
      expect((await exercise.check(p, ['no-upgrade'])).feedback).toMatch(/same GET/);
      expect((await exercise.check(p, ['port'])).feedback).toMatch(/TLS, not the port/);
      expect((await exercise.check(p, [])).feedback).toMatch(/Choose one/);
    }
  });
});
