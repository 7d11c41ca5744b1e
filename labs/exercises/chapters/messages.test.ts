import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLab, type TestLab } from '../../../lab-server/test-support/lab.ts';
import type { LabEvent } from '../../../protocol/annotations.ts';
import { draft, encodeDrafts, type FrameDraft } from '../../messages/model.ts';
import { runAgainstLab, socketClosed } from '../../messages/test-run.ts';
import { exerciseById, exercisesOf } from '../registry.ts';
import { createRng, seedFor } from '../rng.ts';
import type {
  ChoiceExercise,
  Exercise,
  LiveExercise,
  OrderingExercise,
  ShortAnswerExercise,
} from '../types.ts';
import { type FrameParam, receive } from './messages.ts';

const SEEDS = Array.from({ length: 60 }, (_, i) => `learner-${i}`);

function get<E extends Exercise>(id: string): E {
  const exercise = exerciseById(id);
  if (exercise === undefined) throw new Error(`no exercise ${id}`);
  return exercise as E;
}

function paramsFor<P>(exercise: Exercise, seed: string): P {
  return exercise.generate(createRng(seedFor(seed, exercise.id))) as P;
}

describe('chapter 6 exercises', () => {
  it('has at least 4, all registered under the messages chapter with unique ids', () => {
    const list = exercisesOf('messages');
    expect(list.length).toBeGreaterThanOrEqual(4);
    expect(new Set(list.map((e) => e.id)).size).toBe(list.length);
    for (const exercise of list) {
      const p = paramsFor(exercise, 'x');
      // Parameters survive JSON, as classroom mode stores them.
      expect(JSON.parse(JSON.stringify(p))).toEqual(p);
      expect(exercise.prompt(p).text.length).toBeGreaterThan(20);
      expect(exercise.hints(p).length).toBeGreaterThanOrEqual(2);
      expect(exercise.reveal(p).length).toBeGreaterThan(0);
    }
  });

  it('gives different learners different values', () => {
    for (const exercise of exercisesOf('messages')) {
      const prompts = new Set(SEEDS.map((seed) => JSON.stringify(paramsFor(exercise, seed))));
      expect(prompts.size, exercise.id).toBeGreaterThan(5);
    }
  });
});

interface OrderParams {
  text: string;
  frames: FrameParam[];
  ids: string[];
  start: string[];
}

describe('messages-order-fragments', () => {
  const exercise = get<OrderingExercise>('messages-order-fragments');

  it('accepts the ping after the first or the second fragment, for every seed', async () => {
    for (const seed of SEEDS) {
      const p = paramsFor<OrderParams>(exercise, seed);
      expect((await exercise.check(p, ['start', 'ping', 'middle', 'end'])).correct).toBe(true);
      expect((await exercise.check(p, ['start', 'middle', 'ping', 'end'])).correct).toBe(true);
      // The learner's starting order is never already right.
      expect((await exercise.check(p, p.start)).correct).toBe(false);
      expect(exercise.items(p).map((i) => i.id)).toEqual(p.start);
    }
  });

  it('rejects a continuation first with the parser’s rule and RFC 6455 §5.4', async () => {
    const p = paramsFor<OrderParams>(exercise, 'a');
    const verdict = await exercise.check(p, ['middle', 'start', 'ping', 'end']);
    expect(verdict.correct).toBe(false);
    expect(verdict.feedback).toContain('frame 1 of your order');
    expect(verdict.feedback).toContain('RFC 6455 §5.4');
    expect(verdict.feedback).toContain('1002');
    expect(verdict.wrong).toEqual(['middle']);
  });

  it('rejects swapped fragments by showing the text they make', async () => {
    const p = paramsFor<OrderParams>(exercise, 'b');
    const verdict = await exercise.check(p, ['start', 'ping', 'end', 'middle']);
    // The final fragment (FIN 1) before the middle one ends the message early: the middle one
    // then continues nothing.
    expect(verdict.correct).toBe(false);
    expect(verdict.feedback).toMatch(/continuation frame/);
  });

  it('says the ping must sit between fragments when it is outside the message', async () => {
    const p = paramsFor<OrderParams>(exercise, 'c');
    for (const order of [
      ['ping', 'start', 'middle', 'end'],
      ['start', 'middle', 'end', 'ping'],
    ]) {
      const verdict = await exercise.check(p, order);
      expect(verdict.correct).toBe(false);
      expect(verdict.feedback).toContain('between two fragments');
      expect(verdict.wrong).toEqual(['ping']);
    }
  });
});

interface SequenceParams {
  frames: FrameParam[];
  key: number[];
}

describe('messages-close-code', () => {
  const exercise = get<ChoiceExercise>('messages-close-code');

  it('accepts the code protocol/ derives, for every seed, and covers none, 1002 and 1007', async () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const p = paramsFor<SequenceParams>(exercise, seed);
      const failure = receive(p.frames).failure;
      const right = failure === null ? 'none' : String(failure.closeCode);
      seen.add(right);
      expect(exercise.choices(p).map((c) => c.id)).toContain(right);
      expect((await exercise.check(p, [right])).correct).toBe(true);
      for (const other of exercise.choices(p).filter((c) => c.id !== right)) {
        const verdict = await exercise.check(p, [other.id]);
        expect(verdict.correct).toBe(false);
        expect(verdict.feedback.length).toBeGreaterThan(20);
      }
    }
    expect([...seen].sort()).toEqual(['1002', '1007', 'none']);
  });

  const find = (want: (p: SequenceParams) => boolean) => {
    for (let i = 0; i < 500; i++) {
      const p = paramsFor<SequenceParams>(exercise, `s${i}`);
      if (want(p)) return p;
    }
    throw new Error('no such seed');
  };

  it('tells a learner who picks 1002 for bad UTF-8 that the framing is fine', async () => {
    const p = find((q) => receive(q.frames).failure?.closeCode === 1007);
    const verdict = await exercise.check(p, ['1002']);
    expect(verdict.feedback).toContain('The framing is fine');
  });

  it('tells a learner who picks 1007 for a fragmented ping that a framing rule broke first', async () => {
    const p = find((q) => q.frames[0]?.opcode === 9 && q.frames[0]?.fin === false);
    const verdict = await exercise.check(p, ['1007']);
    expect(verdict.feedback).toContain('frame 1 breaks a framing rule');
    expect(verdict.feedback).toContain('must not be fragmented');
  });

  it('tells a learner who expects a close for a split character that only the whole message must be UTF-8', async () => {
    const p = find((q) => q.frames.length === 2 && receive(q.frames).failure === null);
    const verdict = await exercise.check(p, ['1007']);
    expect(verdict.feedback).toContain('even inside a character');
  });
});

interface CandidateParams {
  opener: FrameParam;
  candidates: FrameParam[];
}

describe('messages-legal-mid-message', () => {
  const exercise = get<ChoiceExercise>('messages-legal-mid-message');
  const legal = (p: CandidateParams) =>
    p.candidates
      .map((frame, i) => ({ i, failed: receive([p.opener, frame]).failedFrame === 1 }))
      .filter((c) => !c.failed)
      .map((c) => String(c.i));

  it('accepts exactly the frames a receiver allows, for every seed', async () => {
    for (const seed of SEEDS) {
      const p = paramsFor<CandidateParams>(exercise, seed);
      const right = legal(p);
      expect(right.length).toBeGreaterThan(0);
      expect(right.length).toBeLessThan(5);
      expect((await exercise.check(p, right)).correct).toBe(true);
      const all = exercise.choices(p).map((c) => c.id);
      const verdict = await exercise.check(p, all);
      expect(verdict.correct).toBe(false);
      expect(verdict.wrong?.length).toBe(5 - right.length);
    }
  });

  it('explains why a long ping is not allowed and that a pong is', async () => {
    for (const seed of SEEDS) {
      const p = paramsFor<CandidateParams>(exercise, seed);
      const long = p.candidates.findIndex((f) => f.opcode === 9 && f.payload.length > 125);
      const pong = p.candidates.findIndex((f) => f.opcode === 10 && f.payload.length <= 125);
      if (long === -1 || pong === -1) continue;
      const verdict = await exercise.check(p, [String(long)]);
      expect(verdict.feedback).toContain('at most 125 payload bytes');
      expect(verdict.feedback).toMatch(/pong .* is allowed/);
      return;
    }
    throw new Error('no seed with both a long ping and a short pong');
  });
});

interface SplitParams {
  text: string;
  cut: number;
}

describe('messages-utf8-split', () => {
  const exercise = get<ShortAnswerExercise>('messages-utf8-split');
  const bytes = (text: string) => [...new TextEncoder().encode(text)];
  const hexOf = (list: number[], sep = ' ') =>
    list.map((b) => b.toString(16).padStart(2, '0')).join(sep);

  it('accepts the rest of the message in any hex spelling, for every seed', async () => {
    for (const seed of SEEDS) {
      const p = paramsFor<SplitParams>(exercise, seed);
      const rest = bytes(p.text).slice(p.cut);
      // The cut is inside a character: the second fragment starts with a continuation byte.
      expect((rest[0] as number) & 0xc0).toBe(0x80);
      expect((await exercise.check(p, hexOf(rest))).correct).toBe(true);
      expect((await exercise.check(p, hexOf(rest, '').toUpperCase())).correct).toBe(true);
      expect(
        (await exercise.check(p, rest.map((b) => `0x${b.toString(16)}`).join(', '))).correct,
      ).toBe(true);
    }
  });

  it('says so when the answer repeats the lead byte or drops the continuation bytes', async () => {
    for (const seed of SEEDS) {
      const p = paramsFor<SplitParams>(exercise, seed);
      const all = bytes(p.text);
      let lead = p.cut;
      while ((all[lead] as number) & 0x80 && ((all[lead] as number) & 0xc0) === 0x80) lead--;
      const repeated = await exercise.check(p, hexOf(all.slice(lead)));
      expect(repeated.feedback).toContain('lead byte');
      let end = p.cut;
      while (end < all.length && ((all[end] as number) & 0xc0) === 0x80) end++;
      const dropped = await exercise.check(p, hexOf(all.slice(end)) || '00');
      expect(dropped.correct).toBe(false);
      if (end < all.length) expect(dropped.feedback).toContain('1007');
    }
  });

  it('says what is not hex', async () => {
    const p = paramsFor<SplitParams>(exercise, 'x');
    const verdict = await exercise.check(p, 'a9 zz');
    expect(verdict.correct).toBe(false);
    expect(verdict.feedback).toMatch(/z/);
  });
});

// ---- live exercises, checked from events a real lab server recorded in this test ----------

describe('live exercises, from a real lab server', () => {
  let t: TestLab;
  beforeAll(async () => {
    t = await startTestLab();
  });
  afterAll(async () => {
    await t.close();
  });

  /** Runs drafts through /raw as the lab does; returns the events as the browser gets them (JSON). */
  async function record(drafts: FrameDraft[], done: (events: readonly LabEvent[]) => boolean) {
    const encoded = encodeDrafts(drafts);
    if (!encoded.ok) throw new Error(JSON.stringify(encoded.errors));
    const result = await runAgainstLab(
      t.port,
      encoded.frames.map((f) => f.bytes),
      done,
    );
    return JSON.parse(JSON.stringify(result.events)) as LabEvent[];
  }
  const echoed = (events: readonly LabEvent[]) =>
    events.some((e) => e.type === 'message' && e.direction === 'server-to-client');

  describe('messages-live-fragmented', () => {
    const exercise = get<LiveExercise>('messages-live-fragmented');
    const p = paramsFor<{ text: string }>(exercise, 'live-learner');
    const [a, b, c] = [p.text.slice(0, 2), p.text.slice(2, 6), p.text.slice(6)];

    it('is right for a 3-fragment message with a ping inside that assembles to the seeded text', async () => {
      const events = await record(
        [
          draft('text', false, a),
          draft('ping', true, 'hb'),
          draft('continuation', false, b),
          draft('continuation', true, c),
        ],
        echoed,
      );
      expect((await exercise.check(p, events))?.correct).toBe(true);
    });

    it('shows no attempt (null) when the events hold no data frame', async () => {
      const events = await record([draft('ping', true, 'only a ping')], (e) =>
        e.some((x) => x.type === 'frame' && x.direction === 'server-to-client'),
      );
      expect(await exercise.check(p, events)).toBeNull();
    });

    it('says when the ping is missing, when there are too few frames, and when the text differs', async () => {
      const noPing = await record(
        [draft('text', false, a), draft('continuation', false, b), draft('continuation', true, c)],
        echoed,
      );
      expect((await exercise.check(p, noPing))?.feedback).toContain('no ping came between');
      const two = await record(
        [draft('text', false, a), draft('ping', true, ''), draft('continuation', true, b + c)],
        echoed,
      );
      expect((await exercise.check(p, two))?.feedback).toContain('from 2 frames');
      const other = await record(
        [
          draft('text', false, 'x'),
          draft('ping', true, ''),
          draft('continuation', false, 'y'),
          draft('continuation', true, 'z'),
        ],
        echoed,
      );
      expect((await exercise.check(p, other))?.feedback).toContain('not "');
    });

    it('quotes the server’s rule when it failed the connection', async () => {
      const events = await record(
        [draft('text', false, a), draft('text', true, b + c)],
        socketClosed,
      );
      const verdict = await exercise.check(p, events);
      expect(verdict?.correct).toBe(false);
      expect(verdict?.feedback).toContain('1002');
      expect(verdict?.feedback).toContain('RFC 6455 §5.4');
    });
  });

  describe('messages-live-1007', () => {
    const exercise = get<LiveExercise>('messages-live-1007');
    const p = paramsFor<{ word: string }>(exercise, 'live-learner');

    it('is right when the seeded first fragment is followed by invalid UTF-8 and the server closes with 1007', async () => {
      const events = await record(
        [draft('text', false, p.word), draft('continuation', true, 'ff', 'hex')],
        socketClosed,
      );
      expect((await exercise.check(p, events))?.correct).toBe(true);
    });

    it('explains a 1002 instead of a 1007', async () => {
      const events = await record(
        [draft('text', false, p.word), draft('ping', false, 'x')],
        socketClosed,
      );
      const verdict = await exercise.check(p, events);
      expect(verdict?.correct).toBe(false);
      expect(verdict?.feedback).toContain('closed with 1002, not 1007');
    });

    it('says when the invalid byte is in the first fragment, the first fragment is another word, or nothing is invalid', async () => {
      const hexWord = [...new TextEncoder().encode(p.word)].map((x) => x.toString(16)).join(' ');
      const invalidFirst = await record(
        [draft('text', false, `${hexWord} ff`, 'hex'), draft('continuation', true, 'ok')],
        socketClosed,
      );
      expect((await exercise.check(p, invalidFirst))?.feedback).toContain('in the first fragment');
      const otherWord = await record(
        [draft('text', false, `${p.word}!`), draft('continuation', true, 'ff', 'hex')],
        socketClosed,
      );
      expect((await exercise.check(p, otherWord))?.feedback).toContain(`carried "${p.word}!"`);
      const valid = await record(
        [draft('text', false, p.word), draft('continuation', true, 'ok')],
        echoed,
      );
      expect((await exercise.check(p, valid))?.feedback).toContain('has not closed');
    });

    it('shows no attempt (null) when no data frame was sent', async () => {
      const events = await record([draft('ping', true, 'x')], (e) =>
        e.some((x) => x.type === 'frame' && x.direction === 'server-to-client'),
      );
      expect(await exercise.check(p, events)).toBeNull();
    });
  });
});
