import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../../lab-server/test-support/events.ts';
import { clientClose, clientFrame, OP } from '../../../lab-server/test-support/frames.ts';
import { startTestLab, type TestLab } from '../../../lab-server/test-support/lab.ts';
import { RawClient } from '../../../lab-server/test-support/raw-client.ts';
import type { LabEvent } from '../../../protocol/annotations.ts';
import { closePayload, encodeFrame } from '../../../protocol/frame-encoder.ts';
import { exerciseById, exercisesOf } from '../registry.ts';
import { createRng, seedFor } from '../rng.ts';
import type {
  ChoiceExercise,
  Exercise,
  FrameFieldsExercise,
  LiveExercise,
  OrderingExercise,
} from '../types.ts';

const SEEDS = Array.from({ length: 80 }, (_, i) => `learner-${i}`);

function get<E extends Exercise>(id: string): E {
  const exercise = exerciseById(id);
  if (exercise === undefined) throw new Error(`no exercise ${id}`);
  return exercise as E;
}

function paramsFor<P>(exercise: Exercise, seed: string): P {
  return exercise.generate(createRng(seedFor(seed, exercise.id))) as P;
}

describe('chapter 7 exercises', () => {
  it('has at least 4, one of them live, all registered under closing with unique ids', () => {
    const list = exercisesOf('closing');
    expect(list.length).toBeGreaterThanOrEqual(4);
    expect(list.some((e) => e.kind === 'live')).toBe(true);
    expect(new Set(list.map((e) => e.id)).size).toBe(list.length);
    for (const exercise of list) {
      const p = paramsFor(exercise, 'x');
      expect(JSON.parse(JSON.stringify(p))).toEqual(p);
      expect(exercise.prompt(p).text.length).toBeGreaterThan(20);
      expect(exercise.hints(p).length).toBeGreaterThanOrEqual(2);
      expect(exercise.reveal(p).length).toBeGreaterThan(0);
    }
  });

  it('gives different learners different values', () => {
    for (const exercise of exercisesOf('closing')) {
      const values = new Set(SEEDS.map((seed) => JSON.stringify(paramsFor(exercise, seed))));
      expect(values.size, exercise.id).toBeGreaterThan(5);
    }
  });
});

describe('closing-code-for', () => {
  const exercise = get<ChoiceExercise>('closing-code-for');

  it('accepts the code of the situation and only it, for every seed', async () => {
    for (const seed of SEEDS) {
      const p = paramsFor(exercise, seed);
      const right = exercise.reveal(p).split(' ')[0] as string;
      expect((await exercise.check(p, [right])).correct, seed).toBe(true);
      const others = exercise.choices(p).filter((c) => c.id !== right);
      for (const choice of others) {
        const verdict = await exercise.check(p, [choice.id]);
        expect(verdict.correct).toBe(false);
        expect(verdict.feedback).toContain('RFC 6455 §7.4.1');
      }
    }
  });

  it('says 1005 and 1006 are never sent in a close frame (RFC 6455 §7.4.1)', async () => {
    const p = paramsFor(exercise, 'a');
    for (const code of ['1005', '1006']) {
      const verdict = await exercise.check(p, [code]);
      expect(verdict.feedback).toContain('is never sent in a close frame');
    }
    expect((await exercise.check(p, [])).feedback).toBe('Pick one code.');
  });
});

describe('closing-decode-close', () => {
  const exercise = get<FrameFieldsExercise>('closing-decode-close');
  type P = { code: number; reason: string; key: number[] | null };

  it('accepts the code and reason of the frame shown, for every seed, masked or not', async () => {
    const kinds = new Set<boolean>();
    for (const seed of SEEDS) {
      const p = paramsFor<P>(exercise, seed);
      kinds.add(p.key === null);
      // The prompt's bytes really are that close frame.
      const bytes = encodeFrame({
        opcode: 8,
        payload: closePayload(p.code, p.reason),
        ...(p.key === null ? {} : { maskingKey: Uint8Array.from(p.key) }),
      });
      expect(exercise.prompt(p).code).toBe(
        Buffer.from(bytes)
          .toString('hex')
          .replace(/(..)(?!$)/g, '$1 '),
      );
      const verdict = await exercise.check(p, { code: String(p.code), reason: p.reason });
      expect(verdict.correct, seed).toBe(true);
      expect(
        (await exercise.check(p, { code: ` ${p.code} `, reason: `"${p.reason}"` })).correct,
      ).toBe(true);
    }
    expect(kinds).toEqual(new Set([true, false]));
  });

  it('explains a code read little-endian: network byte order (RFC 6455 §5.5.1)', async () => {
    const p: P = { code: 1001, reason: 'bye', key: null };
    const verdict = await exercise.check(p, { code: String(0xe903), reason: 'bye' });
    expect(verdict.correct).toBe(false);
    expect(verdict.wrong).toEqual(['code']);
    expect(verdict.feedback).toContain('most significant byte first (RFC 6455 §5.5.1)');
  });

  it('explains a code read from the masked bytes (RFC 6455 §5.3)', async () => {
    const p: P = { code: 1000, reason: 'ok', key: [1, 2, 3, 4] };
    const masked = ((0x03 ^ 1) << 8) | (0xe8 ^ 2);
    const verdict = await exercise.check(p, { code: String(masked), reason: 'ok' });
    expect(verdict.feedback).toContain('masked bytes');
    const reason = await exercise.check(p, { code: '1000', reason: 'nope' });
    expect(reason.wrong).toEqual(['reason']);
    expect(reason.feedback).toContain('unmask it first');
  });
});

describe('closing-order-steps', () => {
  const exercise = get<OrderingExercise>('closing-order-steps');
  const right = ['start', 'answer', 'server-fin', 'client-fin', 'time-wait'];

  it('accepts the RFC order for every seed; the starting order is never right', async () => {
    for (const seed of SEEDS) {
      const p = paramsFor<{ start: string[] }>(exercise, seed);
      expect((await exercise.check(p, right)).correct).toBe(true);
      expect((await exercise.check(p, p.start)).correct).toBe(false);
      expect(exercise.items(p).map((i) => i.id)).toEqual(p.start);
    }
  });

  it('names the step out of place and the rule: TCP ends only after both close frames (RFC 6455 §7.1.1)', async () => {
    const p = paramsFor(exercise, 'b');
    const early = await exercise.check(p, [
      'start',
      'server-fin',
      'answer',
      'client-fin',
      'time-wait',
    ]);
    expect(early.correct).toBe(false);
    expect(early.wrong).toEqual(['server-fin']);
    expect(early.feedback).toContain('Step 2 of your order');
    expect(early.feedback).toContain('RFC 6455 §5.5.1');
    const clientFirst = await exercise.check(p, [
      'start',
      'answer',
      'client-fin',
      'server-fin',
      'time-wait',
    ]);
    expect(clientFirst.feedback).toContain('before the client does (RFC 6455 §7.1.1)');
    const missing = await exercise.check(p, ['start', 'answer']);
    expect(missing.feedback).toBe('Use each of the 5 steps exactly once.');
  });
});

// ---- live exercises, from events a real lab server recorded ---------------------------------

describe('live exercises, from a real lab server', () => {
  let t: TestLab;
  let log: EventLog;

  beforeAll(async () => {
    t = await startTestLab();
    log = new EventLog(t.lab.registry);
  });
  afterAll(async () => {
    log.dispose();
    await t.close();
  });

  /**
   * One /echo connection over raw TCP: a message, then the client's close frame (or its answer
   * to the server's), then the FINs in the order the server allows.
   */
  async function connection(
    path: string,
    clientCloses: { code: number; reason: string } | null,
  ): Promise<LabEvent[]> {
    const raw = await RawClient.connect(t.port);
    expect((await raw.upgrade({ host: t.host, path })).status).toBe(101);
    const conn = await log.connOf(raw.localPort);
    raw.write(clientFrame(OP.text, 'hi'));
    if (clientCloses !== null) raw.write(clientClose(clientCloses.code, clientCloses.reason));
    const close = await raw.frame((f) => f.opcode === OP.close, 'a close frame');
    if (clientCloses === null) raw.write(clientFrame(OP.close, close.payload));
    // Wait for the server's FIN a while; with fin=client it never comes first.
    await raw.fin(400).catch(() => {});
    raw.end();
    await log.waitFor('socket-closed', (e) => e.conn === conn, 5000);
    return log.forConn(conn);
  }

  describe('closing-live-server-first', () => {
    const exercise = get<LiveExercise>('closing-live-server-first');
    const p = paramsFor<{ code: number; reason: string }>(exercise, 'live-learner');

    it('is null before any connection closed', async () => {
      expect(await exercise.check(p, [])).toBeNull();
    });

    it('accepts the server closing first with the code and reason, and sending the first FIN', async () => {
      const events = await connection(
        `/echo?close=server&after=1&code=${p.code}&reason=${p.reason}`,
        null,
      );
      expect(await exercise.check(p, events)).toEqual({ correct: true, feedback: '' });
    });

    it('rejects the client closing first, naming who did', async () => {
      const events = await connection('/echo', { code: p.code, reason: p.reason });
      const verdict = await exercise.check(p, events);
      expect(verdict?.correct).toBe(false);
      expect(verdict?.feedback).toContain('your browser sent the first close frame');
    });

    it('rejects another code or reason, quoting both', async () => {
      const events = await connection('/echo?close=server&code=4999&reason=other', null);
      const verdict = await exercise.check(p, events);
      expect(verdict?.feedback).toContain(
        `with 4999 "other"; the task asks for ${p.code} "${p.reason}"`,
      );
    });

    it('rejects the client’s FIN first (fin=client), citing RFC 6455 §7.1.1', async () => {
      const events = await connection(
        `/echo?close=server&code=${p.code}&reason=${p.reason}&fin=client`,
        null,
      );
      const verdict = await exercise.check(p, events);
      expect(verdict?.feedback).toContain('the client sent the first FIN');
      expect(verdict?.feedback).toContain('RFC 6455 §7.1.1');
    });
  });

  describe('closing-live-client-fin', () => {
    const exercise = get<LiveExercise>('closing-live-client-fin');
    const client = { initiator: 'client', code: 4321 };
    const server = { initiator: 'server', code: 4322 };

    it('accepts a clean close with the client’s FIN first, for either initiator', async () => {
      const byClient = await connection('/echo?fin=client', { code: 4321, reason: '' });
      expect((await exercise.check(client, byClient))?.correct).toBe(true);
      const byServer = await connection('/echo?close=server&code=4322&fin=client', null);
      expect((await exercise.check(server, byServer))?.correct).toBe(true);
      // The other initiator is named when it is wrong.
      expect((await exercise.check(server, byClient))?.feedback).toContain(
        'the client sent the first close frame; the task asks for the server',
      );
    });

    it('rejects the server’s FIN first, the default (RFC 6455 §7.1.1)', async () => {
      const events = await connection('/echo', { code: 4321, reason: '' });
      const verdict = await exercise.check(client, events);
      expect(verdict?.feedback).toContain('The server sent the first FIN');
    });

    it('rejects a connection cut without a closing handshake', async () => {
      const raw = await RawClient.connect(t.port);
      await raw.upgrade({ host: t.host, path: '/echo' });
      const conn = await log.connOf(raw.localPort);
      raw.end();
      await log.waitFor('socket-closed', (e) => e.conn === conn, 5000);
      const verdict = await exercise.check(client, log.forConn(conn));
      expect(verdict?.feedback).toContain('without a complete closing handshake (0 close frames)');
    });
  });
});
