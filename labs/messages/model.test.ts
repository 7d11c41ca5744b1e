import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLab, type TestLab } from '../../lab-server/test-support/lab.ts';
import {
  assemble,
  compareWithPrediction,
  draft,
  encodeDrafts,
  type FrameDraft,
  readPayload,
  SCENARIOS,
  serverAnswers,
} from './model.ts';
import { runAgainstLab, serverClosed, socketClosed } from './test-run.ts';

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

function framesOf(drafts: readonly FrameDraft[]): Uint8Array[] {
  const encoded = encodeDrafts(drafts, () => KEY);
  if (!encoded.ok) throw new Error(JSON.stringify(encoded.errors));
  return encoded.frames.map((f) => f.bytes);
}

const scenario = (id: string) => {
  const found = SCENARIOS.find((s) => s.id === id);
  if (found === undefined) throw new Error(id);
  return found.frames;
};

describe('drafting frames', () => {
  it('masks every frame with its key, as a client must (RFC 6455 §5.1)', () => {
    const [frame] = framesOf([draft('text', true, 'Hello')]);
    // RFC 6455 §5.7's masked "Hello", byte for byte.
    expect(Buffer.from(frame as Uint8Array).toString('hex')).toBe('818537fa213d7f9f4d5158');
  });

  it('reads a close payload typed as "code reason" (RFC 6455 §5.5.1)', () => {
    const read = readPayload(draft('close', true, '1000 done'));
    expect(read.ok && [...read.value]).toEqual([0x03, 0xe8, 0x64, 0x6f, 0x6e, 0x65]);
    expect(readPayload(draft('close', true, 'bye')).ok).toBe(false);
  });

  it('says which frame has bad hex', () => {
    const encoded = encodeDrafts([draft('text', true, 'ok'), draft('binary', true, 'zz', 'hex')]);
    expect(encoded.ok).toBe(false);
    expect(!encoded.ok && encoded.errors[0]?.index).toBe(1);
  });
});

describe('assembling a sequence step by step', () => {
  it('answers a ping between fragments at once and delivers the fragments as one message (RFC 6455 §5.4)', () => {
    const assembly = assemble(framesOf(scenario('fragmented-with-ping')));
    expect(assembly.failure).toBeNull();
    expect(assembly.replies.map((r) => r.kind)).toEqual(['pong', 'echo']);
    const echo = assembly.replies[1];
    expect(echo?.kind === 'echo' && echo.message.text).toBe('Hello, world');
    expect(echo?.kind === 'echo' && echo.message.frameIndices).toEqual([0, 2, 3]);
    expect(assembly.steps[1]?.state).toContain(
      'A text message is in progress: 1 fragment, 3 bytes',
    );
  });

  it('accepts a character split across fragments and says the first ends inside it (RFC 6455 §5.6)', () => {
    const assembly = assemble(framesOf(scenario('split-character')));
    expect(assembly.failure).toBeNull();
    expect(assembly.steps[0]?.state).toContain('in the middle of a character');
    const echo = assembly.replies[0];
    expect(echo?.kind === 'echo' && echo.message.text).toBe('10€');
  });

  it.each([
    ['continuation-without-start', 'continuation-without-start', 1002, 0],
    ['text-inside-message', 'data-frame-inside-fragmented-message', 1002, 1],
    ['fragmented-ping', 'control-frame-fragmented', 1002, 0],
    ['long-ping', 'control-frame-too-long', 1002, 0],
    ['invalid-utf8', 'invalid-utf8', 1007, 1],
  ])('%s: fails with %s and %i at frame %i', (id, rule, code, at) => {
    const assembly = assemble(framesOf(scenario(id)));
    expect(assembly.failure?.rule).toBe(rule);
    expect(assembly.steps[at]?.problems[0]?.closeCode).toBe(code);
    expect(assembly.replies).toEqual([expect.objectContaining({ kind: 'close', code })]);
    for (const step of assembly.steps.slice(at + 1)) {
      expect(step.frame).toBeNull();
      expect(step.notes[0]).toContain('Never read');
    }
  });

  it('waits for the final fragment when the sequence stops inside a message', () => {
    const assembly = assemble(framesOf([draft('text', false, 'half')]));
    expect(assembly.unfinished).toBe(true);
    expect(assembly.replies).toEqual([]);
  });

  it('echoes a client close code and reads nothing after the close frame (RFC 6455 §5.5.1)', () => {
    const assembly = assemble(
      framesOf([draft('close', true, '4000 bye'), draft('text', true, 'late')]),
    );
    expect(assembly.replies).toEqual([expect.objectContaining({ kind: 'close', code: 4000 })]);
    expect(assembly.steps[1]?.notes[0]).toContain('Discarded');
  });
});

describe('the prediction matches the real lab server', () => {
  let t: TestLab;
  beforeAll(async () => {
    t = await startTestLab();
  });
  afterAll(async () => {
    await t.close();
  });

  it('sends a fragmented message with a ping through /raw and gets a pong and one echoed message', async () => {
    const frames = framesOf(scenario('fragmented-with-ping'));
    const result = await runAgainstLab(t.port, frames, (events) =>
      events.some((e) => e.type === 'message' && e.direction === 'server-to-client'),
    );
    const answers = serverAnswers(result.events);
    expect(answers.map((a) => a.kind)).toEqual(['pong', 'echo']);
    expect(answers[1]).toMatchObject({
      kind: 'echo',
      type: 'text',
      frames: 1,
      shown: '"Hello, world"',
    });
    expect(answers[0]).toMatchObject({ kind: 'pong', shown: '"are you there?"' });
    expect(compareWithPrediction(assemble(frames).replies, answers).state).toBe('match');
  });

  it.each([
    ['continuation-without-start', 1002],
    ['text-inside-message', 1002],
    ['fragmented-ping', 1002],
    ['long-ping', 1002],
    ['invalid-utf8', 1007],
  ])('%s: the server closes with the predicted %i and the connection ends', async (id, code) => {
    const frames = framesOf(scenario(id));
    const predicted = assemble(frames).replies.at(-1);
    expect(predicted).toMatchObject({ kind: 'close', code });
    // Failing the connection, the server sends its close frame and then its FIN at once, without
    // waiting for the client's close frame (RFC 6455 §7.1.7).
    const result = await runAgainstLab(t.port, frames, socketClosed);
    expect(serverClosed(result.events)).toBe(true);
    expect(result.run.phase).toBe('closed');
    const answers = serverAnswers(result.events);
    expect(answers.find((a) => a.kind === 'close')).toMatchObject({ kind: 'close', code });
    expect(answers.find((a) => a.kind === 'problem')).toBeDefined();
    expect(compareWithPrediction(assemble(frames).replies, answers)).toMatchObject({
      state: 'match',
    });
  });
});

describe('comparing the prediction with the answers', () => {
  it('waits for as many answers as predicted, then says whether they agree', () => {
    const predicted = assemble(framesOf(scenario('fragmented-with-ping'))).replies;
    const pong = { kind: 'pong', shown: '"x"' } as const;
    const echo = { kind: 'echo', type: 'text', frames: 1, length: 1, shown: '"x"' } as const;
    expect(compareWithPrediction(predicted, [pong]).state).toBe('pending');
    expect(compareWithPrediction(predicted, [pong, echo]).state).toBe('match');
    const close = { kind: 'close', code: 1002, reason: '', explanation: '' } as const;
    expect(compareWithPrediction(predicted, [pong, close])).toMatchObject({
      state: 'differs',
      text: 'The lab server answered pong, close 1002; the assembly predicted pong, echo.',
    });
  });
});

describe('any text, cut anywhere, with pings anywhere between', () => {
  it('assembles into the same text and answers every ping (RFC 6455 §5.4, §5.5.2)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        (text, cutSeeds, pingSeeds) => {
          const bytes = new TextEncoder().encode(text);
          const cuts = [...new Set(cutSeeds.map((c) => 1 + (c % Math.max(1, bytes.length - 1))))]
            .filter((c) => c < bytes.length)
            .sort((a, b) => a - b);
          const bounds = [0, ...cuts, bytes.length];
          const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
          const drafts: FrameDraft[] = [];
          for (let i = 0; i + 1 < bounds.length; i++) {
            const piece = bytes.subarray(bounds[i], bounds[i + 1]);
            const last = i + 2 === bounds.length;
            drafts.push(draft(i === 0 ? 'text' : 'continuation', last, hexOf(piece), 'hex'));
          }
          for (const seed of pingSeeds) {
            // Anywhere after the first fragment and before the last one.
            if (drafts.length < 2) break;
            const at = 1 + (seed % (drafts.length - 1));
            drafts.splice(at, 0, draft('ping', true, `p${seed % 10}`));
          }
          const assembly = assemble(framesOf(drafts));
          expect(assembly.failure).toBeNull();
          const echo = assembly.replies.find((r) => r.kind === 'echo');
          expect(echo?.kind === 'echo' && echo.message.text).toBe(text);
          expect(assembly.replies.filter((r) => r.kind === 'pong')).toHaveLength(
            drafts.filter((d) => d.kind === 'ping').length,
          );
        },
      ),
    );
  });
});
