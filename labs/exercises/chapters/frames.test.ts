/**
 * Chapter 5's exercises: every generator and checker over many seeds, the typical wrong answers
 * with the feedback they earn, and the live checkers on events recorded from a real lab server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../../lab-server/test-support/events.ts';
import { delay, startTestLab, type TestLab } from '../../../lab-server/test-support/lab.ts';
import { RawClient, upgradeRequest } from '../../../lab-server/test-support/raw-client.ts';
import type { LabEvent } from '../../../protocol/annotations.ts';
import { closePayload, encodeFrame, type FrameSpec } from '../../../protocol/frame-encoder.ts';
import { parseFrames, toHex } from '../../../protocol/frame-parser.ts';
import { createRng, seedFor } from '../rng.ts';
import type { Exercise, Verdict } from '../types.ts';
import { framesExercises } from './frames.ts';

const SEEDS = Array.from({ length: 200 }, (_, i) => `learner-${i}`);

function byId(id: string): Exercise {
  const found = framesExercises.find((e) => e.id === id);
  if (found === undefined) throw new Error(`no exercise ${id}`);
  return found;
}

/** The exercise's parameters for a learner, as the view would draw them. */
function params(exercise: Exercise, learner: string): unknown {
  return exercise.generate(createRng(seedFor(learner, exercise.id)));
}

function fieldsExercise(id: string) {
  const e = byId(id);
  if (e.kind !== 'frame-fields') throw new Error('not frame-fields');
  return e;
}
function shortExercise(id: string) {
  const e = byId(id);
  if (e.kind !== 'short-answer') throw new Error('not short-answer');
  return e;
}
function liveExercise(id: string) {
  const e = byId(id);
  if (e.kind !== 'live') throw new Error('not live');
  return e;
}

const hexOf = (code: string | undefined) =>
  Uint8Array.from((code ?? '').split(' ').map((b) => Number.parseInt(b, 16)));

describe('chapter 5 exercises are well formed', () => {
  it('has at least 4 exercises, all in chapter "frames", with unique ids', () => {
    expect(framesExercises.length).toBeGreaterThanOrEqual(4);
    expect(new Set(framesExercises.map((e) => e.id)).size).toBe(framesExercises.length);
    for (const e of framesExercises) expect(e.chapter).toBe('frames');
  });

  it('draws the same values for the same learner and different values across learners', () => {
    for (const e of framesExercises) {
      expect(params(e, 'a')).toEqual(params(e, 'a'));
      const distinct = new Set(SEEDS.map((s) => JSON.stringify(params(e, s))));
      expect(distinct.size).toBeGreaterThan(e.id === 'frames-live-reject-1002' ? 4 : 100);
    }
  });

  it('every exercise words a prompt, a hint ladder and a reveal for every seed', () => {
    for (const e of framesExercises) {
      for (const s of SEEDS) {
        const p = params(e, s);
        expect(e.prompt(p).text.length).toBeGreaterThan(20);
        expect(e.hints(p).length).toBeGreaterThanOrEqual(2);
        expect(e.reveal(p).length).toBeGreaterThan(10);
      }
    }
  });
});

describe('frames-decode-header', () => {
  const e = fieldsExercise('frames-decode-header');

  /** The right answer, read from the prompt's bytes by the protocol's own parser. */
  function solve(p: unknown): Record<string, string> {
    const header = hexOf(e.prompt(p).code);
    // The header claims the payload; give the parser zeros so the frame is whole.
    const length = (header[1] ?? 0) & 0x7f;
    const claimed =
      length === 126 ? ((header[2] ?? 0) << 8) | (header[3] ?? 0) : length === 127 ? 0 : length;
    const bytes = new Uint8Array(header.length + claimed);
    bytes.set(header);
    const frame = parseFrames(bytes, { direction: 'client-to-server', continueAfterFailure: true })
      .frames[0];
    if (frame === undefined) throw new Error('no frame');
    return {
      fin: frame.fin ? '1' : '0',
      opcode: `0x${frame.opcode.toString(16)}`,
      mask: frame.mask ? '1' : '0',
      payloadLength: String(frame.payloadLength),
      maskingKey: frame.maskingKey === null ? 'none' : toHex(frame.maskingKey, ' '),
    };
  }

  it('accepts the right fields for 200 seeds, in any sensible spelling', async () => {
    for (const s of SEEDS) {
      const p = params(e, s);
      const answer = solve(p);
      expect(await e.check(p, answer), s).toEqual({ correct: true, feedback: '' });
      const spelled = {
        ...answer,
        fin: answer.fin === '1' ? 'yes' : 'no',
        opcode: String(Number(answer.opcode)),
        maskingKey:
          answer.maskingKey === 'none' ? '' : `0x${(answer.maskingKey ?? '').replaceAll(' ', '')}`,
      };
      expect((await e.check(p, spelled)).correct, s).toBe(true);
    }
  });

  it('names the field and the mistake: whole byte as opcode, MASK bit in the length, 126 as a length', async () => {
    let sawMarker = false;
    let sawMaskBit = false;
    for (const s of SEEDS) {
      const p = params(e, s);
      const right = solve(p);
      const header = hexOf(e.prompt(p).code);
      const b0 = header[0] ?? 0;
      const b1 = header[1] ?? 0;
      if (b0 !== Number(right.opcode)) {
        const whole = (await e.check(p, { ...right, opcode: `0x${b0.toString(16)}` })) as Verdict;
        expect(whole.correct).toBe(false);
        expect(whole.wrong).toEqual(['opcode']);
        expect(whole.feedback).toContain('is the whole of byte 0');
      }

      if ((b1 & 0x7f) === 126) {
        sawMarker = true;
        const marker = (await e.check(p, { ...right, payloadLength: '126' })) as Verdict;
        expect(marker.wrong).toEqual(['payloadLength']);
        expect(marker.feedback).toContain('marker for the 16-bit form');
        const little = ((header[3] ?? 0) << 8) | (header[2] ?? 0);
        if (little !== Number(right.payloadLength)) {
          const swapped = (await e.check(p, {
            ...right,
            payloadLength: String(little),
          })) as Verdict;
          expect(swapped.feedback).toContain('most significant byte first');
        }
      } else if (b1 & 0x80) {
        sawMaskBit = true;
        const withMask = (await e.check(p, { ...right, payloadLength: String(b1) })) as Verdict;
        expect(withMask.feedback).toContain('its top bit is MASK');
      }

      const flipped = (await e.check(p, {
        ...right,
        mask: right.mask === '1' ? '0' : '1',
      })) as Verdict;
      expect(flipped.wrong).toEqual(['mask']);
      expect(flipped.feedback).toContain('top bit of byte 1');
    }
    expect(sawMarker && sawMaskBit).toBe(true);
  });

  it('says a frame with MASK 0 has no key, and rejects text that is not a bit', async () => {
    const s = SEEDS.find((x) => solve(params(e, x)).maskingKey === 'none') as string;
    const p = params(e, s);
    const v = (await e.check(p, {
      ...solve(p),
      maskingKey: '00 00 00 00',
      fin: 'maybe',
    })) as Verdict;
    expect(v.wrong).toEqual(['fin', 'maskingKey']);
    expect(v.feedback).toContain('"maybe" is not a bit');
    expect(v.feedback).toContain('no masking key');
  });
});

describe('frames-length-header', () => {
  const e = shortExercise('frames-length-header');
  const lengthOf = (p: unknown) => (p as { length: number }).length;

  /** The encoder's header for the length, which is what a correct server writes. */
  const header = (length: number, spec: Partial<FrameSpec> = {}) =>
    toHex(encodeFrame({ opcode: 2, declaredLength: length, ...spec }), ' ');

  it('accepts the minimal header for 200 seeds, with or without spaces and 0x', async () => {
    const forms = new Set<string>();
    for (const s of SEEDS) {
      const p = params(e, s);
      const right = header(lengthOf(p));
      forms.add(right.slice(3, 5));
      expect(await e.check(p, right), s).toEqual({ correct: true, feedback: '' });
      expect((await e.check(p, right.replaceAll(' ', ''))).correct).toBe(true);
      expect(
        (
          await e.check(
            p,
            right
              .split(' ')
              .map((b) => `0x${b}`)
              .join(', '),
          )
        ).correct,
      ).toBe(true);
    }
    // All three forms were drawn: 7-bit lengths, 7e (16-bit) and 7f (64-bit).
    expect([...forms].some((f) => f === '7e')).toBe(true);
    expect([...forms].some((f) => f === '7f')).toBe(true);
    expect([...forms].some((f) => f !== '7e' && f !== '7f')).toBe(true);
  });

  it('rejects typical mistakes with the rule they break', async () => {
    for (const s of SEEDS) {
      const p = params(e, s);
      const n = lengthOf(p);
      const right = header(n);
      const check = async (answer: string) => (await e.check(p, answer)) as Verdict;

      expect(
        (await check(header(n, { mask: true, maskingKey: Uint8Array.of(1, 2, 3, 4) }))).feedback,
      ).toContain('never masks');
      expect((await check(header(n, { fin: false }))).feedback).toContain('FIN must be set');
      expect(
        (await check(toHex(encodeFrame({ opcode: 1, declaredLength: n }), ' '))).feedback,
      ).toContain('opcode 1 is text');
      expect((await check(header(n, { lengthForm: '64-bit' }))).feedback).toMatch(
        n > 0xffff ? /^$/ : /requires the shortest one/,
      );
      if (n > 125) {
        const bytes = right.split(' ');
        const swapped = [...bytes.slice(0, 2), ...bytes.slice(2).reverse()].join(' ');
        if (swapped !== right)
          expect((await check(swapped)).feedback).toContain('network byte order');
      }
      if (n > 0xffff) {
        expect(
          (await check(`82 7e ${toHex(Uint8Array.of((n >> 8) & 0xff, n & 0xff), ' ')}`)).feedback,
        ).toContain('does not fit the 16-bit form');
      }
      expect((await check(`${right} 00 00`)).feedback).toContain('the header ends there');
      expect((await check('82 zz')).feedback).toContain('not a hex digit');
    }
  });
});

describe('frames-unmask-byte', () => {
  const e = shortExercise('frames-unmask-byte');

  function parts(p: unknown) {
    const { key, plain, index } = p as { key: number[]; plain: number[]; index: number };
    const wire = hexOf(e.prompt(p).code);
    return { key, plain, index, wire };
  }

  it('accepts wire XOR key[i mod 4] for 200 seeds', async () => {
    for (const s of SEEDS) {
      const p = params(e, s);
      const { key, index, wire } = parts(p);
      const answer = ((wire[index] as number) ^ (key[index % 4] as number))
        .toString(16)
        .padStart(2, '0');
      expect(await e.check(p, answer), s).toEqual({ correct: true, feedback: '' });
      expect((await e.check(p, `0x${answer.toUpperCase()}`)).correct).toBe(true);
    }
  });

  it('the prompt shows exactly the masked bytes a masking client would send (RFC 6455 §5.3)', () => {
    for (const s of SEEDS) {
      const p = params(e, s);
      const { key, plain, wire } = parts(p);
      const frame = encodeFrame({
        opcode: 2,
        payload: Uint8Array.from(plain),
        maskingKey: Uint8Array.from(key),
      });
      expect(toHex(frame.subarray(6), ' ')).toBe(toHex(wire, ' '));
    }
  });

  it('explains the usual slips: the wire byte, the wrong key byte, adding instead of XOR', async () => {
    let wrongKey = 0;
    for (const s of SEEDS) {
      const p = params(e, s);
      const { key, plain, index, wire } = parts(p);
      const w = wire[index] as number;
      const right = plain[index] as number;
      const say = async (n: number) =>
        ((await e.check(p, n.toString(16).padStart(2, '0'))) as Verdict).feedback;
      if (w !== right) expect(await say(w)).toContain('as it is on the wire');
      const guess = w ^ (key[(index + 1) % 4] as number);
      if (guess !== right && guess !== w) {
        expect(await say(guess)).toContain(`You XORed with key byte ${(index + 1) % 4}`);
        wrongKey++;
      }
      const sum = (w + (key[index % 4] as number)) & 0xff;
      if (
        sum !== right &&
        sum !== w &&
        ![0, 1, 2, 3].some((j) => (w ^ (key[j] as number)) === sum)
      ) {
        expect(await say(sum)).toContain('XOR, not addition');
      }
      expect(((await e.check(p, '01 02')) as Verdict).feedback).toContain('Give one byte');
    }
    expect(wrongKey).toBeGreaterThan(190);
  });
});

// ---- live exercises, checked on events recorded from a real lab server ----------------------

let t: TestLab;
beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t?.close();
});

/**
 * Connects to /echo with a raw TCP client, sends `frames` (as a client would, masked unless the
 * spec says otherwise), and returns every event the lab server recorded for that connection.
 */
async function record(frames: readonly FrameSpec[]): Promise<LabEvent[]> {
  const log = new EventLog(t.lab.registry);
  const client = await RawClient.connect(t.port);
  client.write(upgradeRequest({ host: t.host }));
  await client.until(() => client.received.includes('\r\n\r\n'), 'the 101');
  for (const spec of frames) client.write(encodeFrame({ mask: true, ...spec }));
  await delay(150);
  client.write(encodeFrame({ opcode: 8, payload: closePayload(1000), mask: true }));
  await client.until(() => client.ended || client.closed, 'the server to close', 5000);
  const conn = await log.connOf(client.localPort, 5000);
  client.socket.end();
  // Every event of the connection is in once the server reports its socket closed.
  await log.waitFor('socket-closed', (event) => event.conn === conn, 5000);
  const events = log.forConn(conn);
  log.dispose();
  client.socket.destroy();
  return events;
}

describe('frames-live-binary-length, on a real lab server', () => {
  const e = liveExercise('frames-live-binary-length');
  const seedWith = (pred: (n: number) => boolean) =>
    SEEDS.find((s) => pred((params(e, s) as { length: number }).length)) as string;

  it('draws lengths that need the 16-bit form (RFC 6455 §5.2)', () => {
    for (const s of SEEDS) {
      const { length } = params(e, s) as { length: number };
      expect(length).toBeGreaterThan(125);
      expect(length).toBeLessThanOrEqual(0xffff);
    }
  });

  it('accepts a binary frame of exactly N bytes, which used the 16-bit form', async () => {
    const s = seedWith(() => true);
    const p = params(e, s) as { length: number };
    const events = await record([{ opcode: 2, payload: new Uint8Array(p.length) }]);
    expect(await e.check(p, events)).toEqual({ correct: true, feedback: '' });
  });

  it('says nothing before any frame was sent', async () => {
    const p = params(e, SEEDS[0] as string);
    expect(await e.check(p, [])).toBeNull();
  });

  it('rejects text, a wrong length, fragments and a non-minimal form with the reason', async () => {
    const p = params(e, SEEDS[1] as string) as { length: number };
    const n = p.length;
    const text = (await e.check(
      p,
      await record([{ opcode: 1, payload: 'x'.repeat(n) }]),
    )) as Verdict;
    expect(text.feedback).toContain('as text (opcode 1)');
    const short = (await e.check(
      p,
      await record([{ opcode: 2, payload: new Uint8Array(n - 1) }]),
    )) as Verdict;
    expect(short.feedback).toContain(`had ${n - 1} bytes, not ${n}`);
    const fragments = (await e.check(
      p,
      await record([
        { opcode: 2, fin: false, payload: new Uint8Array(100) },
        { opcode: 0, payload: new Uint8Array(n - 100) },
      ]),
    )) as Verdict;
    expect(fragments.correct).toBe(false);
    const long = (await e.check(
      p,
      await record([{ opcode: 2, payload: new Uint8Array(n), lengthForm: '64-bit' }]),
    )) as Verdict;
    expect(long.feedback).toContain('rejected it');
    expect(long.feedback).toContain('RFC 6455 §5.2');
  });
});

describe('frames-live-reject-1002, on a real lab server', () => {
  const e = liveExercise('frames-live-reject-1002');
  const FRAMES: Record<string, FrameSpec> = {
    'reserved-opcode': { opcode: 3, payload: 'Hello' },
    'rsv2-without-extension': { opcode: 1, rsv2: true, payload: 'Hello' },
    'client-frame-unmasked': { opcode: 1, payload: 'Hello', mask: false },
    'control-frame-too-long': { opcode: 9, payload: new Uint8Array(126) },
    'length-not-minimal': { opcode: 1, payload: 'Hi', lengthForm: '16-bit' },
  };
  const recorded = new Map<string, LabEvent[]>();
  beforeAll(async () => {
    for (const [rule, spec] of Object.entries(FRAMES)) recorded.set(rule, await record([spec]));
  });

  it('accepts each rule when the server really closed with 1002 for it (RFC 6455 §7.4.1)', async () => {
    const rules = new Set<string>();
    for (const s of SEEDS) {
      const p = params(e, s);
      const prompt = e.prompt(p).text;
      const rule = Object.keys(FRAMES).find((r) => e.reveal(p).includes(`"${r}"`)) as string;
      rules.add(rule);
      expect(prompt).toContain('1002');
      expect(await e.check(p, recorded.get(rule) ?? [])).toEqual({ correct: true, feedback: '' });
    }
    expect(rules.size).toBe(Object.keys(FRAMES).length);
  });

  it('rejects a 1002 for another rule and names both', async () => {
    for (const s of SEEDS.slice(0, 40)) {
      const p = params(e, s);
      const rule = Object.keys(FRAMES).find((r) => e.reveal(p).includes(`"${r}"`)) as string;
      const other = Object.keys(FRAMES).find((r) => r !== rule) as string;
      const v = (await e.check(p, recorded.get(other) ?? [])) as Verdict;
      expect(v.correct).toBe(false);
      expect(v.feedback).toContain('did close with 1002, but because');
      expect(v.feedback).toContain('This exercise asks for');
    }
  });

  it('says the server accepted a valid frame, and waits when nothing was sent', async () => {
    const p = params(e, SEEDS[0] as string);
    const valid = await record([{ opcode: 1, payload: 'Hello' }]);
    expect(((await e.check(p, valid)) as Verdict).feedback).toContain('accepted every frame');
    expect(await e.check(p, [])).toBeNull();
  });

  it('a close with another code is named (1007 for bad UTF-8, RFC 6455 §8.1)', async () => {
    const p = params(e, SEEDS[0] as string);
    const bad = await record([{ opcode: 1, payload: Uint8Array.of(0xff, 0xfe) }]);
    const v = (await e.check(p, bad)) as Verdict;
    expect(v.feedback).toContain('closed with 1007');
  });
});
