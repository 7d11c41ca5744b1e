import { describe, expect, it } from 'vitest';
import { WEBSOCKET_ROUTES } from '../../../lab-server/tap.ts';
import { exerciseById, exercisesOf } from '../registry.ts';
import { createRng } from '../rng.ts';
import type { ChoiceExercise, ShortAnswerExercise } from '../types.ts';
import {
  architectureModel,
  architectureOrigin,
  architectureProxy,
  architectureRoute,
  type ModelParams,
  type OriginParams,
  originOf,
  type ProxyParams,
  ROUTE_CHOICES,
  type RouteParams,
  routeAnswer,
  WEBSOCKET_PATHS,
} from './architecture.ts';

const SEEDS = Array.from({ length: 300 }, (_, i) => i * 7919 + 1);
const route = architectureRoute as ChoiceExercise<RouteParams>;
const proxy = architectureProxy as ChoiceExercise<ProxyParams>;
const model = architectureModel as ChoiceExercise<ModelParams>;
const origin = architectureOrigin as ShortAnswerExercise<OriginParams>;

describe('chapter 8 exercises are registered', () => {
  it('has at least 4 exercises, each found by its id', () => {
    const all = exercisesOf('architecture');
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const e of all) expect(exerciseById(e.id)).toBe(e);
  });

  it('draws the same parameters from the same seed; every seed has a prompt, hints and a reveal', () => {
    for (const e of exercisesOf('architecture')) {
      expect(e.generate(createRng(42))).toEqual(e.generate(createRng(42)));
      for (const seed of SEEDS.slice(0, 40)) {
        const p = e.generate(createRng(seed));
        expect(e.prompt(p).text.length).toBeGreaterThan(20);
        expect(e.hints(p).length).toBeGreaterThanOrEqual(2);
        expect(e.reveal(p).length).toBeGreaterThan(10);
      }
    }
  });
});

describe('architecture-route: which handler answers', () => {
  it('knows the same WebSocket paths as the lab server (WEBSOCKET_ROUTES in lab-server/tap.ts)', () => {
    expect([...WEBSOCKET_PATHS].sort()).toEqual([...WEBSOCKET_ROUTES.keys()].sort());
  });

  it('accepts the answer for every seed, and rejects every other choice with feedback', async () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const p = route.generate(createRng(seed));
      const answer = routeAnswer(p);
      seen.add(answer);
      expect(
        ROUTE_CHOICES.some((c) => c.id === answer),
        answer,
      ).toBe(true);
      expect((await route.check(p, [answer])).correct).toBe(true);
      for (const other of ROUTE_CHOICES.filter((c) => c.id !== answer)) {
        const verdict = await route.check(p, [other.id]);
        expect(verdict.correct).toBe(false);
        expect(verdict.feedback.length).toBeGreaterThan(20);
      }
    }
    // The draw reaches most handlers.
    expect(seen.size).toBeGreaterThanOrEqual(8);
    // 3,000 verdicts, each running the handshake rules: seconds on a busy machine.
  }, 30_000);

  it('tells a learner who picks an endpoint for a request without Connection: upgrade why it is not an upgrade (RFC 9110 §7.8)', async () => {
    const p: RouteParams = {
      choices: {
        method: 'GET',
        path: '/echo',
        upgrade: true,
        connectionUpgrade: false,
        key: true,
        version: '13',
        origin: 'page',
        host: 'server',
      },
    };
    expect(routeAnswer(p)).toBe('400-rules');
    const verdict = await route.check(p, ['101-websocket']);
    expect(verdict.feedback).toMatch(/Connection does not list upgrade/);
  });

  it('says the Origin check passes for a request without Origin (RFC 6455 §10.2)', async () => {
    const p: RouteParams = {
      choices: {
        method: 'GET',
        path: '/echo',
        upgrade: true,
        connectionUpgrade: true,
        key: true,
        version: '13',
        origin: 'none',
        host: 'server',
      },
    };
    expect(routeAnswer(p)).toBe('101-websocket');
    expect((await route.check(p, ['403-origin'])).feedback).toMatch(/not a browser/);
  });
});

describe('architecture-proxy: hop-by-hop headers (RFC 9110 §7.6.1)', () => {
  it('accepts Upgrade, Connection and HTTP/1.1 in any order, for every seed', async () => {
    for (const seed of SEEDS.slice(0, 50)) {
      const p = proxy.generate(createRng(seed));
      expect((await proxy.check(p, ['http11', 'connection', 'upgrade'])).correct).toBe(true);
    }
  });

  it('explains why a new key is wrong and a missing Connection is needed', async () => {
    const p = proxy.generate(createRng(1));
    const key = await proxy.check(p, ['upgrade', 'connection', 'http11', 'key']);
    expect(key.correct).toBe(false);
    expect(key.feedback).toMatch(/end to end/);
    expect(key.wrong).toEqual(['key']);
    const noConnection = await proxy.check(p, ['upgrade', 'http11']);
    expect(noConnection.feedback).toMatch(/Missing “Connection: upgrade”/);
    const no10 = await proxy.check(p, ['upgrade', 'connection']);
    expect(no10.feedback).toMatch(/HTTP\/1\.0/);
  });
});

describe('architecture-model: CGI, server or bridge', () => {
  it('accepts the fitting model for every scenario and explains each wrong one', async () => {
    const scenarios = new Set<string>();
    for (const seed of SEEDS.slice(0, 60)) {
      const p = model.generate(createRng(seed));
      scenarios.add(p.scenario);
      const choices = model.choices(p).map((c) => c.id);
      const rightOnes = [];
      for (const id of choices) {
        const verdict = await model.check(p, [id]);
        if (verdict.correct) rightOnes.push(id);
        else expect(verdict.feedback.length).toBeGreaterThan(20);
      }
      expect(rightOnes).toHaveLength(1);
    }
    expect(scenarios.size).toBe(4);
  });

  it('says CGI exits after one response when it is chosen for a chat room (RFC 3875)', async () => {
    const verdict = await model.check({ scenario: 'chat' }, ['cgi']);
    expect(verdict.feedback).toMatch(/exits.*RFC 3875/);
  });
});

describe('architecture-origin: the Origin a browser sends (RFC 6454)', () => {
  it('accepts the serialized origin, in any case, with or without "Origin:"', async () => {
    for (const seed of SEEDS.slice(0, 100)) {
      const p = origin.generate(createRng(seed));
      expect((await origin.check(p, originOf(p))).correct).toBe(true);
      expect((await origin.check(p, ` Origin: ${originOf(p).toUpperCase()} `)).correct).toBe(true);
    }
  });

  const p: OriginParams = {
    scheme: 'https',
    host: 'app.example.com',
    port: null,
    page: '/chat/index.html',
    socketUrl: 'wss://ws.app.example.com:9001/live',
  };

  it('names the mistake: a path, a default port, the socket’s URL, the ws scheme', async () => {
    expect((await origin.check(p, 'https://app.example.com/chat/index.html')).feedback).toMatch(
      /no path/,
    );
    expect((await origin.check(p, 'https://app.example.com/')).feedback).toMatch(/no path/);
    expect((await origin.check(p, 'https://app.example.com:443')).feedback).toMatch(/default port/);
    expect((await origin.check(p, 'https://ws.app.example.com:9001')).feedback).toMatch(
      /where the WebSocket goes/,
    );
    expect((await origin.check(p, 'wss://app.example.com')).feedback).toMatch(/scheme/);
    expect((await origin.check(p, '')).feedback).toMatch(/Type the value/);
  });

  it('insists on a port that is not the default (RFC 6454 §6.1)', async () => {
    const q = { ...p, port: 8443 };
    expect((await origin.check(q, 'https://app.example.com')).feedback).toMatch(/port 8443/);
  });
});
