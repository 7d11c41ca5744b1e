import { describe, expect, it } from 'vitest';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../../protocol/annotations.ts';
import { encodeFrame } from '../../../protocol/frame-encoder.ts';
import { createRng, seedFor } from '../rng.ts';
import type { ChoiceExercise, Exercise, OrderingExercise, ShortAnswerExercise } from '../types.ts';
import { bigPictureExercises, frameHeaderBytes } from './big-picture.ts';

const SEEDS = Array.from({ length: 150 }, (_, i) => `learner-${i}`);

function byId<E extends Exercise>(id: string): E {
  const exercise = bigPictureExercises.find((e) => e.id === id);
  if (exercise === undefined) throw new Error(`no ${id}`);
  return exercise as E;
}

function paramsOf<P>(exercise: Exercise, seed: string): P {
  return exercise.generate(createRng(seedFor(seed, exercise.id))) as P;
}

interface Statement {
  id: string;
  true: boolean;
}

describe('chapter 1 exercises', () => {
  it('all belong to chapter big-picture, with hints and a reveal for every learner', () => {
    expect(bigPictureExercises.length).toBeGreaterThanOrEqual(4);
    for (const exercise of bigPictureExercises) {
      expect(exercise.chapter).toBe('big-picture');
      for (const seed of SEEDS.slice(0, 20)) {
        const params = paramsOf(exercise, seed);
        expect(paramsOf(exercise, seed)).toEqual(params);
        expect(exercise.hints(params).length).toBeGreaterThanOrEqual(2);
        expect(exercise.reveal(params)).not.toBe('');
      }
    }
  });

  it('counts frame header bytes as the frame encoder writes them (RFC 6455 §5.2)', () => {
    for (const size of [0, 1, 125, 126, 65_535, 65_536, 100_000]) {
      for (const masked of [false, true]) {
        const frame = encodeFrame({
          fin: true,
          opcode: 1,
          payload: new Uint8Array(size),
          ...(masked ? { maskingKey: new Uint8Array([1, 2, 3, 4]) } : {}),
        });
        expect(frameHeaderBytes(size, masked), `${size} ${masked}`).toBe(frame.length - size);
      }
    }
  });
});

describe('big-picture-layer', () => {
  const exercise = byId<ChoiceExercise<{ statements: Statement[] }>>('big-picture-layer');
  it('accepts "an application protocol on TCP" and explains each wrong picture', async () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const p = paramsOf<{ statements: Statement[] }>(exercise, seed);
      expect((await exercise.check(p, ['app-on-tcp'])).correct).toBe(true);
      const below = await exercise.check(p, ['below-tcp']);
      expect(below).toMatchObject({ correct: false, wrong: ['below-tcp'] });
      expect(below.feedback).toMatch(/same TCP connection/);
      expect((await exercise.check(p, ['replaces-tcp'])).feedback).toMatch(/needs TCP underneath/);
    }
  });
});

describe('big-picture-messages', () => {
  const exercise =
    byId<ChoiceExercise<{ sends: string[]; statements: Statement[] }>>('big-picture-messages');
  it('accepts the three true statements and names the false ones picked', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<{ sends: string[]; statements: Statement[] }>(exercise, seed);
      const right = p.statements.filter((s) => s.true).map((s) => s.id);
      expect(right.sort()).toEqual(['tcp-joined', 'tcp-split', 'ws-whole']);
      expect((await exercise.check(p, right)).correct).toBe(true);
      const joined = await exercise.check(p, [...right, 'ws-joined']);
      expect(joined).toMatchObject({ correct: false, wrong: ['ws-joined'] });
      expect(joined.feedback).toMatch(/carry their own lengths/);
      const onlyWs = await exercise.check(p, ['ws-whole']);
      expect(onlyWs.feedback).toMatch(/This one is true too/);
    }
  });
});

interface HeaderParams {
  count: number;
  size: number;
  direction: 'server' | 'client';
}

describe('big-picture-header-bytes', () => {
  const exercise = byId<ShortAnswerExercise<HeaderParams>>('big-picture-header-bytes');
  it('accepts count × header size for every learner, and names the usual slips', async () => {
    const forms = new Set<number>();
    for (const seed of SEEDS) {
      const p = paramsOf<HeaderParams>(exercise, seed);
      const masked = p.direction === 'client';
      const each = frameHeaderBytes(p.size, masked);
      forms.add(each);
      expect(await exercise.check(p, String(p.count * each))).toEqual({
        correct: true,
        feedback: '',
      });
      expect((await exercise.check(p, String(each))).feedback).toMatch(/one frame's header/);
      const flipped = await exercise.check(p, String(p.count * frameHeaderBytes(p.size, !masked)));
      expect(flipped.feedback).toMatch(
        masked ? /always masked|4-byte masking key/ : /must not mask/,
      );
      if (p.size > 125) {
        const short = await exercise.check(p, String(p.count * (masked ? 6 : 2)));
        expect(short.feedback).toMatch(/extended length/);
      }
      expect((await exercise.check(p, 'lots')).feedback).toMatch(/not a whole number/);
    }
    expect(forms).toEqual(new Set([2, 4, 10, 6, 8, 14]));
  });
});

interface PollingParams {
  seconds: number;
  minutes: number;
  news: number;
}

describe('big-picture-polling', () => {
  const exercise = byId<ShortAnswerExercise<PollingParams>>('big-picture-polling');
  it('accepts the empty polls and tells apart "all requests" and "only the news"', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<PollingParams>(exercise, seed);
      const total = (p.minutes * 60) / p.seconds;
      expect(Number.isInteger(total)).toBe(true);
      expect(p.news).toBeLessThan(total);
      expect((await exercise.check(p, String(total - p.news))).correct).toBe(true);
      expect((await exercise.check(p, String(total))).feedback).toMatch(/is every request/);
      if (p.news !== total - p.news) {
        expect((await exercise.check(p, String(p.news))).feedback).toMatch(/brought news/);
      }
    }
  });
});

describe('big-picture-long-polling', () => {
  const exercise = byId<OrderingExercise<{ items: { id: string }[] }>>('big-picture-long-polling');
  it('accepts the order of RFC 6202 §2.1 and marks misplaced steps', async () => {
    const right = ['request', 'hold', 'event', 'respond', 'again'];
    for (const seed of SEEDS.slice(0, 50)) {
      const p = paramsOf<{ items: { id: string }[] }>(exercise, seed);
      const start = exercise.items(p).map((i) => i.id);
      expect(start).not.toEqual(right);
      expect((await exercise.check(p, right)).correct).toBe(true);
      const verdict = await exercise.check(p, start);
      expect(verdict.wrong).toEqual(start.filter((id, i) => right[i] !== id));
    }
  });
});

describe('big-picture-one-connection', () => {
  const exercise = bigPictureExercises.find((e) => e.id === 'big-picture-one-connection');
  if (exercise?.kind !== 'live') throw new Error('missing live exercise');
  let seq = 0;
  const message = (
    conn: number,
    text: string,
    direction: 'client-to-server' | 'server-to-client',
  ): LabEvent => ({
    v: ANNOTATION_SCHEMA_VERSION,
    seq: ++seq,
    t: seq,
    conn,
    type: 'message',
    direction,
    message: {
      type: 'text',
      frameIndices: [0],
      length: text.length,
      previewHex: '',
      text,
      compressed: false,
    },
  });
  const sent = (conn: number, text: string) => message(conn, text, 'client-to-server');
  const echoed = (conn: number, text: string) => message(conn, text, 'server-to-client');

  it('waits while fewer messages than asked have been sent on the one connection', async () => {
    const p = { word: 'tick', count: 3 };
    expect(await exercise.check(p, [])).toBeNull();
    expect(
      await exercise.check(p, [sent(1, 'tick'), echoed(1, 'tick'), sent(1, 'tick')]),
    ).toBeNull();
  });

  it('accepts the word sent count times on one connection, whatever the server echoed', async () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const p = paramsOf<{ word: string; count: number }>(exercise, seed);
      const events = Array.from({ length: p.count }, () => [
        sent(4, p.word),
        echoed(4, p.word),
      ]).flat();
      expect(await exercise.check(p, events)).toEqual({ correct: true, feedback: '' });
    }
  });

  it('says when the messages were spread over several connections, or were the wrong text or too many', async () => {
    const p = { word: 'tick', count: 3 };
    const spread = await exercise.check(p, [sent(1, 'tick'), sent(1, 'tick'), sent(2, 'tick')]);
    expect(spread?.correct).toBe(false);
    expect(spread?.feedback).toMatch(/over 2 connections \(2 \+ 1\)/);
    const typo = await exercise.check(p, [sent(1, 'tick '), sent(1, 'tick')]);
    expect(typo?.feedback).toMatch(/carried the message "tick ", not "tick"/);
    const many = await exercise.check(
      p,
      Array.from({ length: 4 }, () => sent(1, 'tick')),
    );
    expect(many?.feedback).toMatch(/carried 4 messages; the task asks for exactly 3/);
  });
});

describe('big-picture-read-a-frame', () => {
  const exercise = bigPictureExercises.find((e) => e.id === 'big-picture-read-a-frame');
  if (exercise?.kind !== 'frame-fields') throw new Error('missing frame-fields exercise');

  it('accepts the fields of the masked text frame it shows (RFC 6455 §5.2), in any notation', async () => {
    for (const seed of SEEDS) {
      const p = paramsOf<{ word: string; maskingKey: number[] }>(exercise, seed);
      const bytes = (exercise.prompt(p).code ?? '').split(' ');
      expect(bytes.slice(0, 2)).toEqual(['81', (0x80 + p.word.length).toString(16)]);
      const key = bytes.slice(2, 6).join(' ');
      expect(
        await exercise.check(p, {
          fin: '1',
          opcode: '0x1',
          mask: 'yes',
          payloadLength: String(p.word.length),
          maskingKey: key,
        }),
      ).toEqual({ correct: true, feedback: '' });
      expect(
        (
          await exercise.check(p, {
            fin: 'true',
            opcode: '1',
            mask: '1',
            payloadLength: `0x${p.word.length.toString(16)}`,
            maskingKey: key.replace(/ /g, ''),
          })
        ).correct,
      ).toBe(true);
    }
  });

  it('marks each wrong field and says what the slip was', async () => {
    const p = paramsOf<{ word: string; maskingKey: number[] }>(exercise, 'learner-1');
    const bytes = (exercise.prompt(p).code ?? '').split(' ');
    const verdict = await exercise.check(p, {
      fin: '1',
      opcode: '0x81',
      mask: '1',
      payloadLength: String(0x80 + p.word.length),
      maskingKey: bytes.slice(1, 5).join(' '),
    });
    expect(verdict.correct).toBe(false);
    expect(verdict.wrong).toEqual(['opcode', 'payloadLength', 'maskingKey']);
    expect(verdict.feedback).toMatch(/0x81 is the whole first byte/);
    expect(verdict.feedback).toMatch(/includes the MASK bit/);
    expect(verdict.feedback).toMatch(/four bytes right after the second byte/);
    const total = await exercise.check(p, {
      fin: 'x',
      opcode: '1',
      mask: '0',
      payloadLength: String(bytes.length),
      maskingKey: '12',
    });
    expect(total.wrong).toEqual(['fin', 'mask', 'payloadLength', 'maskingKey']);
    expect(total.feedback).toMatch(/FIN: "x" is not a bit/);
    expect(total.feedback).toMatch(/every frame from a browser is masked/);
    expect(total.feedback).toMatch(/that is the whole frame/);
    expect(total.feedback).toMatch(/it is 4 bytes; you gave 1/);
  });
});
