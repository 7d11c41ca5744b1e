/**
 * Chapter 6, Messages: fragmentation, control frames between fragments, control-frame limits and
 * UTF-8. Every checker decides with protocol/'s own parser and assembler, so an answer is right
 * exactly when a receiver that follows RFC 6455 agrees, and the feedback quotes the rule it broke.
 * Parameters are plain JSON (strings, numbers, arrays): classroom mode stores them.
 */
import type { LabEvent } from '../../../protocol/annotations.ts';
import { describeCloseCode } from '../../../protocol/close-codes.ts';
import { encodeFrame } from '../../../protocol/frame-encoder.ts';
import { parseFrames, toHex } from '../../../protocol/frame-parser.ts';
import type { Problem } from '../../../protocol/types.ts';
import { firstDifference, readHex, sameBytes } from '../normalise.ts';
import type { Rng } from '../rng.ts';
import { defineExercise, type Verdict } from '../types.ts';

const OPCODE_NAMES: Record<number, string> = {
  0: 'continuation',
  1: 'text',
  2: 'binary',
  8: 'close',
  9: 'ping',
  10: 'pong',
};

/** A client frame as exercise parameters hold it. */
export interface FrameParam {
  readonly opcode: number;
  readonly fin: boolean;
  /** The unmasked payload. */
  readonly payload: readonly number[];
}

const encoder = new TextEncoder();
const utf8 = (text: string): number[] => [...encoder.encode(text)];
const hex = (bytes: readonly number[]) => toHex(Uint8Array.from(bytes), ' ');
const ok = (): Verdict => ({ correct: true, feedback: '' });
const wrong = (feedback: string, ids?: readonly string[]): Verdict => ({
  correct: false,
  feedback,
  ...(ids === undefined ? {} : { wrong: ids }),
});

/** Masked client bytes for the frames, with a fixed key: the checkers only need the meaning. */
export function clientBytes(frames: readonly FrameParam[], key: readonly number[] = [1, 2, 3, 4]) {
  const parts = frames.map((f) =>
    encodeFrame({
      opcode: f.opcode,
      fin: f.fin,
      payload: Uint8Array.from(f.payload),
      maskingKey: Uint8Array.from(key),
    }),
  );
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return { bytes: out, parts };
}

export interface Outcome {
  readonly failure: Problem | null;
  /** Index of the frame that broke a rule, when one did. */
  readonly failedFrame: number | null;
  readonly messages: readonly {
    readonly text?: string;
    readonly frameIndices: readonly number[];
  }[];
}

/** What a server that follows RFC 6455 makes of these client frames. */
export function receive(frames: readonly FrameParam[]): Outcome {
  const { bytes } = clientBytes(frames);
  const result = parseFrames(bytes, { direction: 'client-to-server', previewLimit: 70_000 });
  const failed = result.frames.find((f) => f.problems.some((p) => p.fatal));
  return {
    failure: result.failure,
    failedFrame: failed?.index ?? null,
    messages: result.messages.map((m) => ({
      frameIndices: m.frameIndices,
      ...(m.text === undefined ? {} : { text: m.text }),
    })),
  };
}

export function describeFrame(frame: FrameParam): string {
  const name = OPCODE_NAMES[frame.opcode] ?? `reserved 0x${frame.opcode.toString(16)}`;
  return `${name} (opcode 0x${frame.opcode.toString(16)}), FIN ${frame.fin ? 1 : 0}`;
}

/** The payload as the prompt shows it: quoted text when it is printable ASCII, else hex. */
function showPayload(payload: readonly number[]): string {
  if (payload.length === 0) return 'empty payload';
  if (payload.every((b) => b >= 0x20 && b < 0x7f)) {
    return `payload "${String.fromCharCode(...payload)}"`;
  }
  return `payload ${hex(payload)}`;
}

const WORDS = [
  'harbour',
  'lantern',
  'orchard',
  'meadow',
  'granite',
  'compass',
  'thunder',
  'velvet',
  'saffron',
  'juniper',
  'marble',
  'pebble',
];

function phrase(rng: Rng): string {
  return `${rng.pick(WORDS)} ${rng.pick(WORDS)} ${rng.int(10, 99)}`;
}

/** Three non-empty pieces of `text`, cut at seeded places. */
function splitInThree(rng: Rng, text: string): [string, string, string] {
  const a = rng.int(1, text.length - 2);
  const b = rng.int(a + 1, text.length - 1);
  return [text.slice(0, a), text.slice(a, b), text.slice(b)];
}

// ---- 1. order the frames of a fragmented message with a ping ------------------------------

interface OrderParams {
  readonly text: string;
  /** Frames in the sender's order: start, ping, continuation, final continuation. */
  readonly frames: readonly FrameParam[];
  readonly ids: readonly string[];
  /** The learner's starting order (shuffled ids). */
  readonly start: readonly string[];
}

const orderFragments = defineExercise<OrderParams>({
  id: 'messages-order-fragments',
  chapter: 'messages',
  kind: 'ordering',
  title: 'Put a fragmented message and a ping in order',
  generate(rng) {
    const text = phrase(rng);
    const [a, b, c] = splitInThree(rng, text);
    const ping = `hb-${rng.int(100, 999)}`;
    const frames: FrameParam[] = [
      { opcode: 1, fin: false, payload: utf8(a) },
      { opcode: 9, fin: true, payload: utf8(ping) },
      { opcode: 0, fin: false, payload: utf8(b) },
      { opcode: 0, fin: true, payload: utf8(c) },
    ];
    const ids = ['start', 'ping', 'middle', 'end'];
    let start = rng.shuffle(ids);
    // A starting order that already works would be no exercise.
    while (checkOrder({ text, frames, ids, start }, start).correct) start = rng.shuffle(ids);
    return { text, frames, ids, start };
  },
  prompt: (p) => ({
    text: `A client sends the text message "${p.text}" in three fragments and, while the message is under way, a ping. Put the four frames in an order that a server accepts and assembles into "${p.text}", with the ping between two fragments.`,
  }),
  items: (p) =>
    p.start.map((id) => {
      const frame = p.frames[p.ids.indexOf(id)] as FrameParam;
      return { id, label: `${describeFrame(frame)}, ${showPayload(frame.payload)}` };
    }),
  hints: () => [
    'Only the first frame of a message carries its real opcode (text); the fragments after it use opcode 0x0, continuation (RFC 6455 §5.4).',
    'Among the data frames, the one with FIN 1 comes last, and the fragments keep the order of the text.',
    'A control frame such as a ping may sit between any two fragments (RFC 6455 §5.4); it is not part of the message.',
  ],
  reveal: (p) =>
    `For example: ${['start', 'ping', 'middle', 'end'].map((id) => describeFrame(p.frames[p.ids.indexOf(id)] as FrameParam)).join(' → ')}. The ping may also come after the middle fragment.`,
  check: (p, answer) => checkOrder(p, answer),
});

function checkOrder(p: OrderParams, answer: readonly string[]): Verdict {
  if (answer.length !== p.ids.length || !p.ids.every((id) => answer.includes(id))) {
    return wrong(`Use each of the ${p.ids.length} frames exactly once.`);
  }
  const frames = answer.map((id) => p.frames[p.ids.indexOf(id)] as FrameParam);
  const outcome = receive(frames);
  if (outcome.failure !== null && outcome.failedFrame !== null) {
    const at = outcome.failedFrame;
    return wrong(
      `The server would fail the connection at frame ${at + 1} of your order (${describeFrame(frames[at] as FrameParam)}): ${outcome.failure.explanation} (${outcome.failure.section}, close code ${outcome.failure.closeCode}).`,
      [answer[at] as string],
    );
  }
  const message = outcome.messages[0];
  if (message === undefined) {
    return wrong('No message is complete in this order: the frame with FIN 1 must end it.');
  }
  if (message.text !== p.text) {
    return wrong(
      `Every frame is legal in this order, but the server assembles "${message.text}", not "${p.text}": the continuation fragments are swapped.`,
      ['middle', 'end'],
    );
  }
  const ping = answer.indexOf('ping');
  if (ping === 0 || ping === answer.length - 1) {
    return wrong(
      `This order is legal and gives "${p.text}", but the ping comes ${ping === 0 ? 'before' : 'after'} the message; the task puts it between two fragments, which RFC 6455 §5.4 allows.`,
      ['ping'],
    );
  }
  return ok();
}

// ---- 2. which close code for this sequence -------------------------------------------------

interface SequenceParams {
  readonly frames: readonly FrameParam[];
  readonly key: readonly number[];
}

/** Seeded sequences a client might send, legal and not. */
const SEQUENCES: readonly ((rng: Rng) => FrameParam[])[] = [
  // A fragmented text message with a ping between the fragments: legal.
  (rng) => {
    const [a, b, c] = splitInThree(rng, phrase(rng));
    return [
      { opcode: 1, fin: false, payload: utf8(a) },
      { opcode: 9, fin: true, payload: utf8(`p${rng.int(0, 9)}`) },
      { opcode: 0, fin: false, payload: utf8(b) },
      { opcode: 0, fin: true, payload: utf8(c) },
    ];
  },
  // A character split across two fragments: legal, the whole message is valid UTF-8.
  (rng) => {
    const char = utf8(rng.pick(['é', '€', 'ß', '☃', '日']));
    const cut = rng.int(1, char.length - 1);
    const lead = utf8(rng.pick(WORDS));
    return [
      { opcode: 1, fin: false, payload: [...lead, ...char.slice(0, cut)] },
      { opcode: 0, fin: true, payload: char.slice(cut) },
    ];
  },
  // A continuation frame with no message in progress: 1002.
  (rng) => [{ opcode: 0, fin: true, payload: utf8(rng.pick(WORDS)) }],
  // A new text frame before the fragmented message ended: 1002.
  (rng) => [
    { opcode: 1, fin: false, payload: utf8(rng.pick(WORDS)) },
    { opcode: 1, fin: true, payload: utf8(rng.pick(WORDS)) },
  ],
  // A fragmented ping: 1002.
  (rng) => [
    { opcode: 9, fin: false, payload: utf8(rng.pick(WORDS)) },
    { opcode: 0, fin: true, payload: utf8(rng.pick(WORDS)) },
  ],
  // A ping over 125 bytes: 1002.
  (rng) => [
    { opcode: 9, fin: true, payload: Array.from({ length: rng.int(126, 140) }, () => 0x70) },
  ],
  // Invalid UTF-8 in the second fragment: 1007.
  (rng) => [
    { opcode: 1, fin: false, payload: utf8(rng.pick(WORDS)) },
    {
      opcode: 0,
      fin: true,
      payload: [
        ...utf8(rng.pick(WORDS)),
        ...rng.pick([[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff], [0x80]]),
      ],
    },
  ],
  // A text message that ends in the middle of a character: 1007.
  (rng) => {
    const char = utf8(rng.pick(['€', '☃', '日']));
    return [
      { opcode: 1, fin: false, payload: utf8(rng.pick(WORDS)) },
      { opcode: 0, fin: true, payload: char.slice(0, rng.int(1, char.length - 1)) },
    ];
  },
];

const CODE_CHOICES = [
  {
    id: 'none',
    label: 'None: the server answers normally (echo, pong) and keeps the connection open',
  },
  { id: '1002', label: '1002 Protocol Error' },
  { id: '1007', label: '1007 Invalid Frame Payload Data' },
  { id: '1008', label: '1008 Policy Violation' },
  { id: '1009', label: '1009 Message Too Big' },
];

function sequenceCode(frames: readonly FrameParam[]): string {
  const failure = receive(frames).failure;
  return failure === null ? 'none' : String(failure.closeCode);
}

const closeCodeForSequence = defineExercise<SequenceParams>({
  id: 'messages-close-code',
  chapter: 'messages',
  kind: 'choice',
  multiple: false,
  title: 'Which close code does this sequence get?',
  generate: (rng) => ({ frames: rng.pick(SEQUENCES)(rng), key: [...rng.bytes(4)] }),
  prompt: (p) => {
    const { parts } = clientBytes(p.frames, p.key);
    return {
      text: `A client sends these frames to the lab server's /echo, one after the other (masked, as a client must). With which status code does the server close the connection?`,
      code: parts
        .map((part, i) => {
          const frame = p.frames[i] as FrameParam;
          return `frame ${i + 1}: ${describeFrame(frame)}, ${frame.payload.length}-byte ${showPayload(frame.payload)}\n  ${toHex(part.subarray(0, 40), ' ')}${part.length > 40 ? ' …' : ''}`;
        })
        .join('\n'),
    };
  },
  choices: () => CODE_CHOICES,
  hints: (p) => {
    const code = sequenceCode(p.frames);
    return [
      'Walk through the frames as the receiver does: is a message in progress? Is each frame allowed at that point (RFC 6455 §5.4)?',
      'Control frames (ping, pong, close) must have FIN 1 and at most 125 bytes (RFC 6455 §5.5). A text message must be valid UTF-8 once it is complete (RFC 6455 §8.1).',
      code === 'none'
        ? 'Check again whether each frame only continues what the previous ones started; a character may be split between fragments.'
        : `Look closely at frame ${(receive(p.frames).failedFrame ?? 0) + 1}.`,
    ];
  },
  reveal: (p) => {
    const outcome = receive(p.frames);
    if (outcome.failure === null) {
      return 'None: every frame is legal. The server answers each ping with a pong and echoes the assembled message.';
    }
    return `${outcome.failure.closeCode}: frame ${(outcome.failedFrame ?? 0) + 1} breaks a rule. ${outcome.failure.explanation} (${outcome.failure.section})`;
  },
  check: (p, answer) => {
    const chosen = answer[0];
    if (answer.length !== 1 || chosen === undefined) return wrong('Pick one answer.');
    const outcome = receive(p.frames);
    const right = outcome.failure === null ? 'none' : String(outcome.failure.closeCode);
    if (chosen === right) return ok();
    const failedAt = (outcome.failedFrame ?? 0) + 1;
    if (right === 'none') {
      return wrong(
        p.frames.length > 1 && p.frames[0]?.opcode === 1 && !p.frames.some((f) => f.opcode === 9)
          ? 'Every frame here is legal: a text message may be split anywhere, even inside a character, because only the whole message must be valid UTF-8 (RFC 6455 §5.6, §8.1).'
          : 'Every frame here is legal: a ping with FIN 1 and at most 125 bytes may come between the fragments of a message (RFC 6455 §5.4, §5.5), and the fragments make one valid message.',
        [chosen],
      );
    }
    if (chosen === 'none') {
      return wrong(
        `The server does not let this pass: frame ${failedAt} breaks a rule. Check it against RFC 6455 ${outcome.failure?.section.replace('RFC 6455 ', '') ?? ''}.`,
        [chosen],
      );
    }
    if (right === '1007' && chosen === '1002') {
      return wrong(
        'The framing is fine: opcodes, FIN bits and lengths all follow the rules. What is wrong is the data inside the text message, and RFC 6455 §7.4.1 has a more specific code for that.',
        [chosen],
      );
    }
    if (right === '1002' && chosen === '1007') {
      return wrong(
        `The text is not the problem: frame ${failedAt} breaks a framing rule before any text is judged. ${outcome.failure?.explanation ?? ''}`,
        [chosen],
      );
    }
    return wrong(
      `${describeCloseCode(Number(chosen)).explanation} Nothing here is about that: look at frame ${failedAt}.`,
      [chosen],
    );
  },
});

// ---- 3. which control frames are legal mid-message -----------------------------------------

interface CandidateParams {
  readonly opener: FrameParam;
  readonly candidates: readonly FrameParam[];
}

/** A candidate frame sent while a text message is in progress. */
const CANDIDATES: readonly ((rng: Rng) => FrameParam)[] = [
  (rng) => ({ opcode: 9, fin: true, payload: Array.from({ length: rng.int(0, 125) }, () => 0x61) }),
  (rng) => ({
    opcode: 10,
    fin: true,
    payload: Array.from({ length: rng.int(0, 125) }, () => 0x62),
  }),
  (rng) => ({ opcode: 0, fin: rng.boolean(), payload: utf8(rng.pick(WORDS)) }),
  (rng) => ({ opcode: 9, fin: false, payload: Array.from({ length: rng.int(1, 20) }, () => 0x63) }),
  (rng) => ({
    opcode: 9,
    fin: true,
    payload: Array.from({ length: rng.int(126, 200) }, () => 0x64),
  }),
  (rng) => ({
    opcode: 10,
    fin: true,
    payload: Array.from({ length: rng.int(126, 200) }, () => 0x65),
  }),
  (rng) => ({ opcode: rng.pick([1, 2]), fin: rng.boolean(), payload: utf8(rng.pick(WORDS)) }),
];

function candidateProblem(p: CandidateParams, i: number): Problem | null {
  const outcome = receive([p.opener, p.candidates[i] as FrameParam]);
  return outcome.failedFrame === 1 ? outcome.failure : null;
}

function candidateLabel(frame: FrameParam): string {
  const header = encodeFrame({
    opcode: frame.opcode,
    fin: frame.fin,
    payload: Uint8Array.from(frame.payload),
  }).subarray(0, frame.payload.length > 125 ? 4 : 2);
  return `${describeFrame(frame)}, ${frame.payload.length}-byte payload (header bytes before masking: ${toHex(header, ' ')})`;
}

const legalMidMessage = defineExercise<CandidateParams>({
  id: 'messages-legal-mid-message',
  chapter: 'messages',
  kind: 'choice',
  multiple: true,
  title: 'Which frames may come in the middle of a message?',
  generate(rng) {
    const opener: FrameParam = { opcode: 1, fin: false, payload: utf8(rng.pick(WORDS)) };
    for (;;) {
      const candidates = rng
        .shuffle(CANDIDATES)
        .slice(0, 5)
        .map((make) => make(rng));
      const p = { opener, candidates };
      const legal = candidates.filter((_, i) => candidateProblem(p, i) === null).length;
      if (legal >= 1 && legal <= 4) return p;
    }
  },
  prompt: (p) => ({
    text: `A client has sent a text frame with FIN 0 (${showPayload(p.opener.payload)}): a fragmented message is in progress. Which of these frames may it send next without the server failing the connection? Pick every one that is allowed.`,
  }),
  choices: (p) => p.candidates.map((frame, i) => ({ id: String(i), label: candidateLabel(frame) })),
  hints: () => [
    'While a message is in progress, only its continuation frames and control frames may arrive (RFC 6455 §5.4).',
    'A control frame must have FIN 1 and carry at most 125 bytes (RFC 6455 §5.5).',
    'A continuation frame is allowed whether its FIN is 0 (more to come) or 1 (the last fragment).',
  ],
  reveal: (p) =>
    p.candidates
      .map((frame, i) => {
        const problem = candidateProblem(p, i);
        return `${describeFrame(frame)}, ${frame.payload.length} bytes: ${problem === null ? 'allowed' : `not allowed, ${problem.explanation}`}`;
      })
      .join(' '),
  check(p, answer) {
    const mistakes: string[] = [];
    const ids: string[] = [];
    p.candidates.forEach((frame, i) => {
      const id = String(i);
      const problem = candidateProblem(p, i);
      const picked = answer.includes(id);
      if (picked && problem !== null) {
        ids.push(id);
        mistakes.push(
          `${describeFrame(frame)} with ${frame.payload.length} bytes is not allowed: ${problem.explanation} (${problem.section})`,
        );
      } else if (!picked && problem === null) {
        ids.push(id);
        mistakes.push(
          frame.opcode === 0
            ? `${describeFrame(frame)} is allowed: it continues the message in progress.`
            : `${describeFrame(frame)} with ${frame.payload.length} bytes is allowed: a control frame with FIN 1 and at most 125 bytes may come between fragments (RFC 6455 §5.4, §5.5).`,
        );
      }
    });
    return mistakes.length === 0 ? ok() : wrong(mistakes.join(' '), ids);
  },
});

// ---- 4. the second half of a split character -----------------------------------------------

interface SplitParams {
  readonly text: string;
  /** Byte offset where the first fragment ends, inside a multi-byte character. */
  readonly cut: number;
}

const SPLIT_TEXTS = [
  'café au lait',
  'Grüße',
  'naïve',
  '10 € each',
  'snow ☃ day',
  '日本語',
  'señor',
  'smile 🙂 now',
  'Ωmega',
];

const splitCharacter = defineExercise<SplitParams>({
  id: 'messages-utf8-split',
  chapter: 'messages',
  kind: 'short-answer',
  title: 'The rest of a character split across fragments',
  label: 'Payload of the second fragment, in hex',
  generate(rng) {
    const text = rng.pick(SPLIT_TEXTS);
    const bytes = utf8(text);
    // Offsets that fall inside a character: the next byte is a continuation byte (10xxxxxx).
    const inside = bytes
      .map((_, i) => i)
      .filter((i) => i > 0 && ((bytes[i] as number) & 0xc0) === 0x80);
    return { text, cut: rng.pick(inside) };
  },
  prompt: (p) => {
    const bytes = utf8(p.text);
    return {
      text: `A client sends the text message "${p.text}" in two fragments. The first fragment's payload is the ${p.cut} bytes below. What is the payload of the second fragment, in hex?`,
      code: hex(bytes.slice(0, p.cut)),
    };
  },
  hints: (p) => {
    const bytes = utf8(p.text);
    const lead = [...bytes.slice(0, p.cut)].reverse().find((b) => (b & 0xc0) !== 0x80) as number;
    return [
      `Write the whole message in UTF-8 first: "${p.text}" is ${bytes.length} bytes.`,
      `The first fragment ends in the middle of a character: its last lead byte is ${lead.toString(16)}, and its remaining continuation bytes (10xxxxxx) start the second fragment.`,
      'The second fragment is every byte of the message after the first fragment, nothing repeated and nothing left out.',
    ];
  },
  reveal: (p) => hex(utf8(p.text).slice(p.cut)),
  check(p, answer) {
    const read = readHex(answer);
    if (!read.ok) return wrong(read.why);
    const bytes = utf8(p.text);
    const expected = Uint8Array.from(bytes.slice(p.cut));
    const given = read.value;
    if (sameBytes(given, expected)) return ok();
    // Typical mistakes: starting again at the character's lead byte, or skipping its rest.
    let start = p.cut;
    while (start > 0 && ((bytes[start] as number) & 0xc0) === 0x80) start--;
    if (sameBytes(given, Uint8Array.from(bytes.slice(start)))) {
      return wrong(
        `You started again at the character's lead byte ${hex([bytes[start] as number])}, but the first fragment already carried ${hex(bytes.slice(start, p.cut))}: the receiver joins the fragments' bytes, so the second one starts where the first stopped.`,
      );
    }
    let end = p.cut;
    while (end < bytes.length && ((bytes[end] as number) & 0xc0) === 0x80) end++;
    if (sameBytes(given, Uint8Array.from(bytes.slice(end)))) {
      return wrong(
        `You left out ${hex(bytes.slice(p.cut, end))}: the character the first fragment began is only complete with these continuation bytes, so without them the message would not be valid UTF-8 and the server would close with 1007 (RFC 6455 §8.1).`,
      );
    }
    const at = firstDifference(given, expected);
    return wrong(
      at >= given.length
        ? `Your ${given.length} bytes are right so far, but the second fragment is ${expected.length} bytes long.`
        : at >= expected.length
          ? `The second fragment is only ${expected.length} bytes long; yours has ${given.length}.`
          : `Byte ${at + 1} of your answer is ${hex([given[at] as number])}; the message has ${hex([expected[at] as number])} there.`,
    );
  },
});

// ---- 5 and 6. live: what the lab server saw ------------------------------------------------

type FrameEvent = Extract<LabEvent, { type: 'frame' }>;

/** Events grouped by connection, in order. */
function byConnection(events: readonly LabEvent[]): LabEvent[][] {
  const groups = new Map<number, LabEvent[]>();
  for (const event of events) {
    const group = groups.get(event.conn) ?? [];
    group.push(event);
    groups.set(event.conn, group);
  }
  return [...groups.values()];
}

const clientFrames = (events: readonly LabEvent[]): FrameEvent[] =>
  events.filter((e): e is FrameEvent => e.type === 'frame' && e.direction === 'client-to-server');

const fatalProblem = (events: readonly LabEvent[]) =>
  clientFrames(events)
    .flatMap((e) => e.frame.problems)
    .find((p) => p.fatal);

interface LiveFragmentParams {
  readonly text: string;
}

/** Judges one connection; null when it shows no attempt. */
function judgeFragmented(p: LiveFragmentParams, events: readonly LabEvent[]): Verdict | null {
  const frames = clientFrames(events);
  if (!frames.some((e) => e.frame.opcode <= 2)) return null;
  const problem = fatalProblem(events);
  const messages = events.filter(
    (e): e is Extract<LabEvent, { type: 'message' }> =>
      e.type === 'message' && e.direction === 'client-to-server' && e.message.type === 'text',
  );
  let best: Verdict | null = null;
  for (const m of messages) {
    const indices = m.message.frameIndices;
    if (m.message.text !== p.text) {
      best ??= wrong(
        `The server assembled the message "${m.message.text ?? ''}", not "${p.text}".`,
      );
      continue;
    }
    if (indices.length < 3) {
      best = wrong(
        `The server assembled "${p.text}", but from ${indices.length} frame${indices.length === 1 ? '' : 's'}; split it into at least 3: a text frame with FIN 0, continuation frames, the last with FIN 1.`,
      );
      continue;
    }
    const first = indices[0] as number;
    const last = indices[indices.length - 1] as number;
    const pingBetween = frames.some(
      (e) => e.frame.opcode === 9 && e.frame.index > first && e.frame.index < last,
    );
    if (!pingBetween) {
      best = wrong(
        `The server assembled "${p.text}" from ${indices.length} frames, but no ping came between the fragments: put a ping frame after the first fragment and before the last.`,
      );
      continue;
    }
    return ok();
  }
  if (problem !== undefined) {
    return wrong(
      `The server failed the connection with ${problem.closeCode}: ${problem.explanation} (${problem.section})`,
    );
  }
  return best;
}

const liveFragmented = defineExercise<LiveFragmentParams>({
  id: 'messages-live-fragmented',
  chapter: 'messages',
  kind: 'live',
  labPath: '/messages/#try-it-the-messages-lab',
  title: 'Send a fragmented message with a ping inside it',
  generate: (rng) => ({ text: phrase(rng) }),
  prompt: (p) => ({
    text: `With the messages lab, send the lab server a text message in at least 3 frames that it assembles into exactly "${p.text}", with a ping between two of the fragments.`,
  }),
  hints: (p) => [
    'Start from the example "Fragments with a ping between" and change the payloads.',
    `The fragments' payloads, joined in order, must read "${p.text}" exactly, spaces included.`,
    'First frame: opcode text, FIN off. Then a ping (FIN on), then continuation frames; only the last has FIN on.',
  ],
  reveal: (p) => {
    const [a, b, c] = [p.text.slice(0, 3), p.text.slice(3, 8), p.text.slice(8)];
    return `text FIN 0 "${a}", ping FIN 1, continuation FIN 0 "${b}", continuation FIN 1 "${c}".`;
  },
  check(p, events) {
    let best: Verdict | null = null;
    for (const group of byConnection(events)) {
      const verdict = judgeFragmented(p, group);
      if (verdict?.correct) return verdict;
      if (verdict !== null) best = verdict;
    }
    return best;
  },
});

interface LiveInvalidParams {
  readonly word: string;
}

function judgeInvalid(p: LiveInvalidParams, events: readonly LabEvent[]): Verdict | null {
  const frames = clientFrames(events);
  const data = frames.filter((e) => e.frame.opcode <= 2);
  if (data.length === 0) return null;
  const serverClose = events.find(
    (e): e is Extract<LabEvent, { type: 'close-frame' }> =>
      e.type === 'close-frame' && e.direction === 'server-to-client',
  );
  const first = data[0] as FrameEvent;
  const firstText = new TextDecoder().decode(hexToBytes(first.frame.unmaskedHex));
  if (first.frame.opcode !== 1 || first.frame.fin) {
    return wrong(
      `Your first data frame was ${OPCODE_NAMES[first.frame.opcode] ?? 'reserved'} with FIN ${first.frame.fin ? 1 : 0}; the message must start with a text frame with FIN 0, so that the invalid byte can come in a later fragment.`,
    );
  }
  const problem = fatalProblem(events);
  const bad = frames.find((e) => e.frame.problems.some((q) => q.rule === 'invalid-utf8'));
  if (bad !== undefined && bad.frame.index === first.frame.index) {
    return wrong(
      'The invalid byte was in the first fragment; the task puts it in a later one, after a first fragment that is valid text on its own.',
    );
  }
  if (firstText !== p.word) {
    return wrong(`Your first fragment carried "${firstText}"; the task asks for "${p.word}".`);
  }
  if (serverClose === undefined) {
    return problem === undefined
      ? wrong(
          'The server has not closed the connection: every byte so far is valid UTF-8. Send a continuation fragment with a byte that cannot appear in UTF-8, such as ff or c0.',
        )
      : null;
  }
  if (serverClose.code !== 1007) {
    return wrong(
      `The server closed with ${serverClose.code ?? 'no code'}, not 1007${problem === undefined ? '' : `: ${problem.explanation} (${problem.section})`}. 1007 is for data that does not match its type; break the UTF-8, not the framing.`,
    );
  }
  return ok();
}

function hexToBytes(hexText: string): Uint8Array {
  const out = new Uint8Array(hexText.length >> 1);
  for (let i = 0; i < out.length; i++)
    out[i] = Number.parseInt(hexText.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const liveInvalidUtf8 = defineExercise<LiveInvalidParams>({
  id: 'messages-live-1007',
  chapter: 'messages',
  kind: 'live',
  labPath: '/messages/#try-it-the-messages-lab',
  title: 'Make the server close with 1007',
  generate: (rng) => ({ word: rng.pick(WORDS) }),
  prompt: (p) => ({
    text: `With the messages lab, start a fragmented text message whose first fragment is "${p.word}" (FIN 0), then send a continuation fragment that makes the text invalid UTF-8, so that the lab server closes the connection with 1007.`,
  }),
  hints: () => [
    'Start from the example "Invalid UTF-8" and change the first fragment.',
    "Switch the continuation frame's payload to hex to type bytes that are not UTF-8.",
    'Bytes c0, c1 and f5 to ff never appear in UTF-8; a lone 80-bf byte has no lead byte (RFC 3629 §4).',
  ],
  reveal: (p) => `text FIN 0 "${p.word}", then continuation FIN 1 with hex payload "ff".`,
  check(p, events) {
    let best: Verdict | null = null;
    for (const group of byConnection(events)) {
      const verdict = judgeInvalid(p, group);
      if (verdict?.correct) return verdict;
      if (verdict !== null) best = verdict;
    }
    return best;
  },
});

export const messagesExercises = [
  orderFragments,
  closeCodeForSequence,
  legalMidMessage,
  splitCharacter,
  liveFragmented,
  liveInvalidUtf8,
];
