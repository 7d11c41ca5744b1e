import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { EventLog } from '../../../lab-server/test-support/events.ts';
import { eventually, startTestLab, type TestLab } from '../../../lab-server/test-support/lab.ts';
import { RawClient, upgradeRequest } from '../../../lab-server/test-support/raw-client.ts';
import { Trust } from '../../../lab-server/trust.ts';
import type { LabEvent } from '../../../protocol/annotations.ts';
import { exerciseById, exercisesOf } from '../registry.ts';
import { createRng } from '../rng.ts';
import type { ChoiceExercise, LiveExercise } from '../types.ts';
import {
  type AbuseParams,
  type AllowListParams,
  type AuthParams,
  allowList,
  type LiveOriginParams,
  type LivePayloadParams,
  type MaskingParams,
  originAccepted,
  securityAbuse,
  securityAllowList,
  securityAuth,
  securityMasking,
  securityOriginRefused,
  securityPayload1009,
} from './security.ts';

const SEEDS = Array.from({ length: 300 }, (_, i) => i * 7919 + 1);

const allow = securityAllowList as ChoiceExercise<AllowListParams>;
const abuse = securityAbuse as ChoiceExercise<AbuseParams>;
const auth = securityAuth as ChoiceExercise<AuthParams>;
const masking = securityMasking as ChoiceExercise<MaskingParams>;
const refused = securityOriginRefused as LiveExercise<LiveOriginParams>;
const tooBig = securityPayload1009 as LiveExercise<LivePayloadParams>;

/** The ids a learner who knows the answer picks, worked out from the reveal's own rule. */
function correctIds<P>(exercise: ChoiceExercise<P>, p: P, isRight: (id: string) => boolean) {
  return exercise
    .choices(p)
    .map((c) => c.id)
    .filter(isRight);
}

describe('chapter 10 exercises are registered', () => {
  it('has at least 4 exercises, two of them live, each found by its id', () => {
    const all = exercisesOf('security');
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(all.filter((e) => e.kind === 'live').length).toBeGreaterThanOrEqual(2);
    for (const e of all) expect(exerciseById(e.id)).toBe(e);
  });

  it('draws the same parameters from the same seed, and varied ones across seeds', () => {
    for (const e of exercisesOf('security')) {
      expect(e.generate(createRng(42))).toEqual(e.generate(createRng(42)));
      const drawn = new Set(
        SEEDS.slice(0, 60).map((s) => JSON.stringify(e.generate(createRng(s)))),
      );
      // The 1009 task has nothing to draw: the lab server's limit is what it is.
      // The Origin task has 2 endpoints × 3 variants.
      if (e.id === 'security-origin-refused') expect(drawn.size).toBe(6);
      else if (e.id !== 'security-payload-1009') expect(drawn.size, e.id).toBeGreaterThan(10);
    }
  });

  it('every exercise has a prompt, at least two hints and a reveal for every seed', () => {
    for (const e of exercisesOf('security')) {
      for (const seed of SEEDS.slice(0, 60)) {
        const p = e.generate(createRng(seed));
        expect(e.prompt(p).text.length).toBeGreaterThan(20);
        expect(e.hints(p).length).toBeGreaterThanOrEqual(2);
        expect(e.reveal(p).length).toBeGreaterThan(20);
      }
    }
  });
});

describe('which origins the allow list accepts (RFC 6455 §10.2)', () => {
  it('the rule is the lab server’s own: it agrees with lab-server/trust.ts for every candidate of every seed', () => {
    for (const seed of SEEDS) {
      const p = allow.generate(createRng(seed));
      const trust = new Trust({ host: '127.0.0.1', port: p.port, origins: [p.extra] });
      expect(new Set(trust.allowedOrigins)).toEqual(allowList(p.port, [p.extra]));
      for (const c of p.candidates) {
        expect(originAccepted(c.origin, p.port, [p.extra]), `${c.origin} on ${p.port}`).toBe(
          trust.checkOrigin(c.origin).ok,
        );
      }
    }
  });

  it('always shows six distinct candidates, some accepted and some refused', () => {
    for (const seed of SEEDS) {
      const p = allow.generate(createRng(seed));
      const origins = p.candidates.map((c) => c.origin);
      expect(new Set(origins).size).toBe(6);
      const accepted = origins.filter((o) => originAccepted(o, p.port, [p.extra]));
      expect(accepted.length).toBeGreaterThanOrEqual(2);
      expect(accepted.length).toBeLessThanOrEqual(3);
    }
  });

  it('accepts exactly the accepted ones, for many seeds', async () => {
    for (const seed of SEEDS) {
      const p = allow.generate(createRng(seed));
      const ids = correctIds(allow, p, (id) =>
        originAccepted(p.candidates[Number(id)]?.origin ?? '', p.port, [p.extra]),
      );
      expect(await allow.check(p, ids)).toEqual({ correct: true, feedback: '' });
    }
  });

  it('calls a chosen look-alike a look-alike, and a missed own origin accepted', async () => {
    let seen = 0;
    for (const seed of SEEDS) {
      const p = allow.generate(createRng(seed));
      const lookalike = p.candidates.findIndex((c) => c.origin.includes('localhost.evil.example'));
      if (lookalike < 0) continue;
      seen++;
      const verdict = await allow.check(p, [String(lookalike)]);
      expect(verdict.correct).toBe(false);
      expect(verdict.feedback).toMatch(
        /localhost\.evil\.example.* is refused with 403: a look-alike/,
      );
      expect(verdict.feedback).toMatch(/is accepted/);
      expect(verdict.wrong).toContain(String(lookalike));
    }
    expect(seen).toBeGreaterThan(10);
  });

  it('choosing every candidate is wrong, and each refused one is named', async () => {
    const p = allow.generate(createRng(7));
    const verdict = await allow.check(
      p,
      p.candidates.map((_, i) => String(i)),
    );
    expect(verdict.correct).toBe(false);
    const refusedCount = p.candidates.filter(
      (c) => !originAccepted(c.origin, p.port, [p.extra]),
    ).length;
    expect(verdict.wrong?.length).toBe(refusedCount);
  });
});

describe('what each abuse earns', () => {
  const expected: Record<AbuseParams['abuse'], string> = {
    'too-big': '1009',
    fragments: '1008',
    connections: '503',
    idle: '1001',
    'slow-head': '408',
    unmasked: '1002',
    'bad-utf8': '1007',
    'foreign-origin': '403',
    'huge-head': '431',
  };

  it('draws every abuse, and accepts its answer for many seeds', async () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const p = abuse.generate(createRng(seed));
      seen.add(p.abuse);
      expect(await abuse.check(p, [expected[p.abuse]])).toEqual({ correct: true, feedback: '' });
      expect(abuse.reveal(p)).toContain(expected[p.abuse]);
    }
    expect(seen.size).toBe(9);
  });

  it('the limits in the stories are the lab server’s defaults where it has one (lab-server/limits.ts)', async () => {
    const { DEFAULT_LIMITS } = await import('../../../lab-server/limits.ts');
    for (const seed of SEEDS) {
      const p = abuse.generate(createRng(seed));
      if (p.abuse === 'fragments') expect(p.limit).toBe(DEFAULT_LIMITS.maxFragments);
      if (p.abuse === 'huge-head') expect(p.limit).toBe(DEFAULT_LIMITS.maxHeaderBytes);
      if (p.abuse === 'too-big') expect(p.amount).toBeGreaterThan(p.limit);
    }
  });

  it('a close code for an abuse before the 101 is told the WebSocket never opened', async () => {
    const seed = SEEDS.find(
      (s) => abuse.generate(createRng(s)).abuse === 'foreign-origin',
    ) as number;
    const p = abuse.generate(createRng(seed));
    const verdict = await abuse.check(p, ['1008']);
    expect(verdict.correct).toBe(false);
    expect(verdict.feedback).toMatch(/never opened.*HTTP status/);
  });

  it('1008 for a message over the payload limit is told 1008 is the generic code', async () => {
    const seed = SEEDS.find((s) => abuse.generate(createRng(s)).abuse === 'too-big') as number;
    const verdict = await abuse.check(abuse.generate(createRng(seed)), ['1008']);
    expect(verdict).toMatchObject({ correct: false, wrong: ['1008'] });
    expect(verdict.feedback).toMatch(/generic policy violation/);
  });

  it('an HTTP status for an abuse after the 101 is told a close frame answers it', async () => {
    const seed = SEEDS.find((s) => abuse.generate(createRng(s)).abuse === 'unmasked') as number;
    const verdict = await abuse.check(abuse.generate(createRng(seed)), ['403']);
    expect(verdict.feedback).toMatch(/already open.*close frame/);
  });
});

describe('tokens, cookies and the handshake', () => {
  it('always mixes true and false statements, five of them', () => {
    for (const seed of SEEDS) {
      const p = auth.generate(createRng(seed));
      expect(new Set(p.ids).size).toBe(5);
    }
  });

  it('accepts exactly the true ones; a missed truth and a chosen falsehood are both explained', async () => {
    for (const seed of SEEDS.slice(0, 100)) {
      const p = auth.generate(createRng(seed));
      const reveal = auth.reveal(p).split('\n');
      const truths = p.ids.filter((_, i) => reveal[i]?.startsWith('True'));
      expect(truths.length).toBeGreaterThanOrEqual(2);
      expect(truths.length).toBeLessThan(5);
      expect(await auth.check(p, truths)).toEqual({ correct: true, feedback: '' });
      const falsehood = p.ids.find((id) => !truths.includes(id)) as string;
      const verdict = await auth.check(p, [...truths.slice(1), falsehood]);
      expect(verdict.correct).toBe(false);
      expect(verdict.feedback).toMatch(/This one is true: /);
      expect(verdict.feedback).toMatch(/This one is false: /);
      expect(verdict.wrong).toEqual(expect.arrayContaining([truths[0], falsehood]));
    }
  });

  it('says why masking does not hide a token when that statement is chosen', async () => {
    const seed = SEEDS.find((s) =>
      auth.generate(createRng(s)).ids.includes('mask-hides'),
    ) as number;
    const p = auth.generate(createRng(seed));
    const verdict = await auth.check(p, ['mask-hides']);
    expect(verdict.feedback).toMatch(/masking key travels in the frame itself/);
  });
});

describe('what masking is for (RFC 6455 §10.3)', () => {
  it('accepts cache poisoning of intermediaries for every seed, among four shuffled answers', async () => {
    for (const seed of SEEDS) {
      const p = masking.generate(createRng(seed));
      const ids = masking.choices(p).map((c) => c.id);
      expect(ids).toHaveLength(4);
      expect(ids).toContain('cache-poisoning');
      expect(await masking.check(p, ['cache-poisoning'])).toEqual({ correct: true, feedback: '' });
    }
  });

  it('shows a real masked frame whose key is in the capture', () => {
    const p = masking.generate(createRng(3));
    const bytes = p.frameHex.split(' ').map((b) => Number.parseInt(b, 16));
    expect(bytes[0]).toBe(0x81);
    expect((bytes[1] as number) & 0x80).toBe(0x80);
    const key = bytes.slice(2, 6);
    const payload = bytes.slice(6).map((b, i) => b ^ (key[i % 4] as number));
    expect(String.fromCharCode(...payload)).toBe(p.text);
    expect(p.keyHex).toBe(key.map((b) => b.toString(16).padStart(2, '0')).join(' '));
  });

  it('rejects confidentiality by unmasking the learner’s own capture', async () => {
    const seed = SEEDS.find((s) =>
      masking.generate(createRng(s)).order.includes('confidentiality'),
    ) as number;
    const p = masking.generate(createRng(seed));
    const verdict = await masking.check(p, ['confidentiality']);
    expect(verdict.correct).toBe(false);
    expect(verdict.feedback).toContain(`XOR the payload of this capture with ${p.keyHex}`);
    expect(verdict.feedback).toContain(JSON.stringify(p.text));
  });

  it('rejects an answer that is not among the choices', async () => {
    const p = masking.generate(createRng(5));
    expect((await masking.check(p, ['made-up'])).feedback).toMatch(/listed answers/);
  });
});

// ---- live exercises, from events a real lab server recorded ---------------------------------------

describe('live exercises, checked from events a real lab server recorded', () => {
  let t: TestLab;
  beforeAll(async () => {
    t = await startTestLab({ limits: { maxPayload: 1024 * 1024 } });
  });
  afterAll(async () => {
    await t.close();
  });

  /** Sends a request on a fresh TCP connection and returns the events of that connection. */
  async function exchange(request: string): Promise<LabEvent[]> {
    const log = new EventLog(t.lab.registry);
    const client = await RawClient.connect(t.port);
    try {
      client.write(request);
      const conn = await log.connOf(client.localPort);
      await log.waitFor('handshake-response', (e) => e.conn === conn);
      return log.forConn(conn);
    } finally {
      client.destroy();
      log.dispose();
    }
  }

  /** A relayed request, as the Origin lab sends it: /observe is annotated only that way. */
  async function relayed(request: string): Promise<LabEvent[]> {
    const log = new EventLog(t.lab.registry);
    const relay = new WebSocket(`${t.ws}/raw`, { origin: t.origin });
    try {
      const conn = await new Promise<number>((resolve, reject) => {
        relay.once('message', (data) =>
          resolve((JSON.parse(data.toString()) as { conn: number }).conn),
        );
        relay.once('error', reject);
      });
      relay.send(Buffer.from(request, 'latin1'));
      await log.waitFor('handshake-response', (e) => e.conn === conn, 3000);
      return log.forConn(conn);
    } finally {
      relay.close();
      log.dispose();
    }
  }

  const params = (target: LiveOriginParams['target'], task: LiveOriginParams['task']) => ({
    target,
    task,
  });

  it('no upgrade yet: no verdict', async () => {
    expect(await refused.check(params('/echo', 'any'), [])).toBeNull();
  });

  it('a foreign Origin refused on /echo passes “any”', async () => {
    const events = await exchange(
      upgradeRequest({ host: t.host, path: '/echo', origin: 'http://evil.example' }),
    );
    expect(events.find((e) => e.type === 'handshake-response')).toMatchObject({ status: 403 });
    expect(await refused.check(params('/echo', 'any'), events)).toEqual({
      correct: true,
      feedback: '',
    });
  });

  it('null refused on /observe through the relay passes “null”; the same on /echo is the wrong endpoint', async () => {
    const events = await relayed(
      upgradeRequest({ host: t.host, path: '/observe', origin: 'null' }),
    );
    expect(await refused.check(params('/observe', 'null'), events)).toEqual({
      correct: true,
      feedback: '',
    });
    expect((await refused.check(params('/echo', 'null'), events))?.feedback).toMatch(
      /went to \/observe.*asks for \/echo/,
    );
  });

  it('a look-alike passes “lookalike”; evil.example does not', async () => {
    const look = await exchange(
      upgradeRequest({
        host: t.host,
        path: '/echo',
        origin: `http://localhost.evil.example:${t.port}`,
      }),
    );
    expect(await refused.check(params('/echo', 'lookalike'), look)).toEqual({
      correct: true,
      feedback: '',
    });
    const evil = await exchange(
      upgradeRequest({ host: t.host, path: '/echo', origin: 'http://evil.example' }),
    );
    expect((await refused.check(params('/echo', 'lookalike'), evil))?.feedback).toMatch(
      /not what this task asks for/,
    );
  });

  it('an allowed Origin gets 101 and is told it is on the allow list; no Origin is told browsers send one', async () => {
    const own = await exchange(upgradeRequest({ host: t.host, path: '/echo', origin: t.origin }));
    expect((await refused.check(params('/echo', 'any'), own))?.feedback).toMatch(/allow list/);
    const none = await exchange(upgradeRequest({ host: t.host, path: '/echo' }));
    expect((await refused.check(params('/echo', 'any'), none))?.feedback).toMatch(/without Origin/);
  });

  it('a 403 for the Host is not a refusal for the Origin', async () => {
    const events = await exchange(
      upgradeRequest({ host: 'evil.example', path: '/echo', origin: 'http://evil.example' }),
    );
    expect(events.find((e) => e.type === 'handshake-response')).toMatchObject({ status: 403 });
    expect((await refused.check(params('/echo', 'any'), events))?.feedback).toMatch(
      /for the Host header/,
    );
  });

  it('a broken handshake is told the Origin is looked at only after the handshake is valid', async () => {
    const events = await exchange(
      upgradeRequest({ host: t.host, path: '/echo', origin: 'http://evil.example', version: '8' }),
    );
    expect((await refused.check(params('/echo', 'any'), events))?.feedback).toMatch(
      /426[\s\S]*only once the handshake/,
    );
  });

  /** A browser-like client sends `size` bytes to /echo; returns the events of its connection. */
  async function sendSize(size: number, fragment = size): Promise<LabEvent[]> {
    const log = new EventLog(t.lab.registry);
    const ws = new WebSocket(`${t.ws}/echo`, { origin: t.origin, perMessageDeflate: false });
    try {
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const localPort = (ws as unknown as { _socket: { localPort: number } })._socket.localPort;
      const conn = await log.connOf(localPort);
      // A browser may split a big message into fragments, as Chromium does (RFC 6455 §5.4).
      for (let sent = 0; sent < size; sent += fragment) {
        const part = Math.min(fragment, size - sent);
        ws.send('a'.repeat(part), { fin: sent + part >= size });
      }
      await eventually(
        () => log.forConn(conn).some((e) => e.type === 'close-frame' || e.type === 'message'),
        'a close or an echo',
        3000,
      );
      if (ws.readyState === ws.OPEN) ws.close(1000);
      await eventually(
        () =>
          log
            .forConn(conn)
            .some((e) => e.type === 'close-frame' && e.direction === 'server-to-client'),
        'the server’s close frame',
        3000,
      );
      return log.forConn(conn);
    } finally {
      ws.terminate();
      log.dispose();
    }
  }

  it('1 MiB + 1 byte to /echo closes with 1009 and solves the task', async () => {
    const events = await sendSize(1024 * 1024 + 1);
    expect(
      events.find((e) => e.type === 'close-frame' && e.direction === 'server-to-client'),
    ).toMatchObject({ code: 1009 });
    expect(await tooBig.check({}, events)).toEqual({ correct: true, feedback: '' });
  });

  it('so does a 3 MiB message sent in 131,000-byte fragments, as Chromium sends it (RFC 6455 §5.4)', async () => {
    const events = await sendSize(3 * 1024 * 1024, 131_000);
    const frames = events.filter((e) => e.type === 'frame' && e.direction === 'client-to-server');
    expect(frames.length).toBeGreaterThan(1);
    expect(await tooBig.check({}, events)).toEqual({ correct: true, feedback: '' });
  });

  it('a message within the limit ends with an ordinary close, which is not a 1009', async () => {
    const events = await sendSize(1000);
    expect((await tooBig.check({}, events))?.feedback).toMatch(
      /not 1009.*ordinary closing handshake/,
    );
  });

  it('no close yet: no verdict', async () => {
    expect(await tooBig.check({}, [])).toBeNull();
  });
});
