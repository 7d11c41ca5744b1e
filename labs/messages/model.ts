/**
 * The messages lab's logic, free of the DOM: a sequence of frames drafted by the learner, the
 * bytes a client would send for it, how a receiver (protocol/'s frame parser and message
 * assembler, the same code the lab server runs) assembles it frame by frame, what the lab server
 * should therefore answer, and what its annotations say it did answer.
 */
import { type FrameRecord, type LabEvent, messagePreviewHex } from '../../protocol/annotations.ts';
import { describeCloseCode } from '../../protocol/close-codes.ts';
import { closePayload, encodeFrame } from '../../protocol/frame-encoder.ts';
import { FrameParser, toHex } from '../../protocol/frame-parser.ts';
import type { AnnotatedFrame, AssembledMessage, Problem } from '../../protocol/types.ts';
import { Utf8Validator } from '../../protocol/utf8.ts';
import { parseHex } from '../shared/hex.ts';

export type FrameKind = 'text' | 'binary' | 'continuation' | 'ping' | 'pong' | 'close';
export type PayloadFormat = 'text' | 'hex';

export const OPCODE_OF: Readonly<Record<FrameKind, number>> = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
};

export const FRAME_KINDS: readonly { kind: FrameKind; label: string }[] = [
  { kind: 'text', label: 'text (0x1)' },
  { kind: 'binary', label: 'binary (0x2)' },
  { kind: 'continuation', label: 'continuation (0x0)' },
  { kind: 'ping', label: 'ping (0x9)' },
  { kind: 'pong', label: 'pong (0xA)' },
  { kind: 'close', label: 'close (0x8)' },
];

/** One frame as the learner drafts it. The client masks every frame (RFC 6455 §5.1). */
export interface FrameDraft {
  readonly kind: FrameKind;
  readonly fin: boolean;
  readonly format: PayloadFormat;
  /** UTF-8 text, or hex bytes. For a close frame in text format: `1000 reason`. */
  readonly payload: string;
}

export const draft = (
  kind: FrameKind,
  fin: boolean,
  payload: string,
  format: PayloadFormat = 'text',
): FrameDraft => ({ kind, fin, format, payload });

export interface Scenario {
  readonly id: string;
  readonly label: string;
  /** What the sequence shows and what the server should do, in one or two sentences. */
  readonly description: string;
  readonly frames: readonly FrameDraft[];
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'fragmented-with-ping',
    label: 'Fragments with a ping between',
    description:
      'A text message in three fragments, with a ping after the first. The ping is answered at once; the message is delivered, and echoed, as one (RFC 6455 §5.4).',
    frames: [
      draft('text', false, 'Hel'),
      draft('ping', true, 'are you there?'),
      draft('continuation', false, 'lo, '),
      draft('continuation', true, 'world'),
    ],
  },
  {
    id: 'split-character',
    label: 'A character split across fragments',
    description:
      '"€" is three bytes in UTF-8, e2 82 ac. Here "10€" is split so that the first fragment ends after e2: each fragment alone is not valid UTF-8, the whole message is, and that is what counts (RFC 6455 §5.6, §8.1).',
    frames: [draft('text', false, '31 30 e2', 'hex'), draft('continuation', true, '82 ac', 'hex')],
  },
  {
    id: 'continuation-without-start',
    label: 'Continuation without a start',
    description:
      'A continuation frame with no message in progress: there is nothing to continue, so the server fails the connection with 1002 (RFC 6455 §5.4).',
    frames: [draft('continuation', true, 'orphan')],
  },
  {
    id: 'text-inside-message',
    label: 'New text frame inside a message',
    description:
      'A second text frame while the first message still waits for its final fragment: only continuation and control frames may come in between, so this is a 1002 (RFC 6455 §5.4).',
    frames: [draft('text', false, 'first '), draft('text', true, 'second')],
  },
  {
    id: 'fragmented-ping',
    label: 'Fragmented ping',
    description:
      'A ping with FIN 0: control frames must never be fragmented, so the server closes with 1002 (RFC 6455 §5.5).',
    frames: [draft('ping', false, 'half a ping'), draft('continuation', true, ' and the rest')],
  },
  {
    id: 'long-ping',
    label: '126-byte ping',
    description:
      'A ping carrying 126 bytes, one more than any control frame may carry: the server closes with 1002 (RFC 6455 §5.5).',
    frames: [draft('ping', true, 'p'.repeat(126))],
  },
  {
    id: 'invalid-utf8',
    label: 'Invalid UTF-8',
    description:
      'A text message whose last byte, c0, can never appear in UTF-8. The server closes with 1007, invalid frame payload data (RFC 6455 §8.1).',
    frames: [draft('text', false, '48 69', 'hex'), draft('continuation', true, '21 c0 af', 'hex')],
  },
];

export type Read<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly why: string };

/** A close payload typed as `1000 reason` (or empty for no code). */
function readClose(text: string): Read<Uint8Array> {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, value: new Uint8Array(0) };
  const match = /^(\d{1,5})(?:\s+([\s\S]*))?$/.exec(trimmed);
  if (match === null) {
    return {
      ok: false,
      why: 'A close payload is a status code, then an optional reason, such as "1000 done" (RFC 6455 §5.5.1); switch to hex for any other bytes.',
    };
  }
  const code = Number(match[1]);
  if (code > 0xffff) return { ok: false, why: `${code} does not fit the 2-byte status code.` };
  return { ok: true, value: closePayload(code, match[2] ?? '') };
}

export function readPayload(frame: FrameDraft): Read<Uint8Array> {
  if (frame.format === 'hex') {
    const parsed = parseHex(frame.payload);
    const first = parsed.errors[0];
    if (first !== undefined) return { ok: false, why: first.message };
    return { ok: true, value: parsed.bytes };
  }
  if (frame.kind === 'close') return readClose(frame.payload);
  return { ok: true, value: new TextEncoder().encode(frame.payload) };
}

/** Largest payload the lab builds: enough to cross the 7-bit and 16-bit length forms. */
export const MAX_DRAFT_PAYLOAD = 70_000;
export const MAX_FRAMES = 20;

export interface EncodedFrame {
  readonly bytes: Uint8Array;
  readonly headerLength: number;
  readonly payload: Uint8Array;
}

export type Encoded =
  | { readonly ok: true; readonly frames: readonly EncodedFrame[] }
  | { readonly ok: false; readonly errors: readonly { index: number; why: string }[] };

/**
 * The client's bytes for the drafts: every frame masked with a key from `maskingKey`, a fresh
 * one per frame (RFC 6455 §5.3). Lengths always use the minimal form; wrong ones are the frame
 * builder's lesson, not this lab's.
 */
export function encodeDrafts(
  drafts: readonly FrameDraft[],
  maskingKey: (index: number) => Uint8Array = () => crypto.getRandomValues(new Uint8Array(4)),
): Encoded {
  const errors: { index: number; why: string }[] = [];
  const frames: EncodedFrame[] = [];
  if (drafts.length === 0) errors.push({ index: -1, why: 'Add at least one frame.' });
  if (drafts.length > MAX_FRAMES) {
    errors.push({ index: -1, why: `This lab sends at most ${MAX_FRAMES} frames at a time.` });
  }
  drafts.forEach((frame, index) => {
    const read = readPayload(frame);
    if (!read.ok) {
      errors.push({ index, why: read.why });
      return;
    }
    if (read.value.length > MAX_DRAFT_PAYLOAD) {
      errors.push({
        index,
        why: `${read.value.length} bytes is more than this lab builds (${MAX_DRAFT_PAYLOAD}).`,
      });
      return;
    }
    const bytes = encodeFrame({
      opcode: OPCODE_OF[frame.kind],
      fin: frame.fin,
      payload: read.value,
      maskingKey: maskingKey(index),
    });
    frames.push({ bytes, headerLength: bytes.length - read.value.length, payload: read.value });
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, frames };
}

// ---- how a receiver assembles the frames ---------------------------------------------------

/** What the server is expected to send back for the sequence. */
export type ExpectedReply =
  | { readonly kind: 'echo'; readonly afterFrame: number; readonly message: AssembledMessage }
  | { readonly kind: 'pong'; readonly afterFrame: number; readonly payload: Uint8Array }
  | {
      readonly kind: 'close';
      readonly afterFrame: number;
      readonly code: number | null;
      readonly explanation: string;
    };

export interface AssemblyStep {
  readonly index: number;
  /** Null when the receiver never read this frame: it had already failed the connection. */
  readonly frame: AnnotatedFrame | null;
  /** What the receiver makes of this frame, in order, each sentence citing its rule. */
  readonly notes: readonly string[];
  readonly problems: readonly Problem[];
  /** The message this frame completed, if it did. */
  readonly message: AssembledMessage | null;
  /** The receiver's state after this frame: which message waits for more, and what it holds. */
  readonly state: string;
  readonly replies: readonly ExpectedReply[];
}

export interface Assembly {
  readonly steps: readonly AssemblyStep[];
  readonly replies: readonly ExpectedReply[];
  readonly failure: Problem | null;
  /** True when the sequence ends with a fragmented message still waiting for its final frame. */
  readonly unfinished: boolean;
}

const decoder = new TextDecoder();

/** A payload for a sentence: quoted text when it is printable UTF-8, else hex. */
export function showPayload(bytes: Uint8Array, limit = 40): string {
  if (bytes.length === 0) return 'no payload';
  const text = new Utf8Validator();
  const valid = text.push(bytes) === null && text.complete;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are shown as hex.
  const printable = valid && !/[\u0000-\u001f\u007f]/.test(decoder.decode(bytes));
  if (printable) {
    const shown = decoder.decode(bytes);
    return JSON.stringify(shown.length > limit ? `${shown.slice(0, limit)}…` : shown);
  }
  const hex = toHex(bytes.subarray(0, limit), ' ');
  return `${hex}${bytes.length > limit ? ' …' : ''}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

interface OpenMessage {
  readonly type: 'text' | 'binary';
  fragments: number;
  pieces: Uint8Array[];
  length: number;
}

function describeOpen(open: OpenMessage | null): string {
  if (open === null) return 'No message in progress.';
  const bytes = new Uint8Array(open.length);
  let at = 0;
  for (const piece of open.pieces) {
    bytes.set(piece, at);
    at += piece.length;
  }
  let tail = '';
  if (open.type === 'text') {
    const utf8 = new Utf8Validator();
    if (utf8.push(bytes) === null && !utf8.complete) {
      tail =
        ' The bytes so far end in the middle of a character; that is allowed, as long as the next fragment completes it (RFC 6455 §5.6).';
    }
  }
  return `A ${open.type} message is in progress: ${plural(open.fragments, 'fragment')}, ${plural(open.length, 'byte')} so far (${toHex(bytes.subarray(0, 32), ' ')}${bytes.length > 32 ? ' …' : ''}); the receiver waits for a continuation frame with FIN 1.${tail}`;
}

/**
 * Runs the client's frames through a receiver, frame by frame: protocol/'s parser with the lab
 * server's direction and limits, so each step says what the lab server will conclude.
 */
export function assemble(frames: readonly Uint8Array[]): Assembly {
  const parser = new FrameParser({ direction: 'client-to-server', previewLimit: 70_000 });
  const steps: AssemblyStep[] = [];
  const replies: ExpectedReply[] = [];
  let open: OpenMessage | null = null;
  let closed = false;

  frames.forEach((bytes, index) => {
    if (parser.failure !== null || closed) {
      steps.push({
        index,
        frame: null,
        notes: [
          parser.failure !== null
            ? 'Never read: the receiver failed the connection at an earlier frame and stops reading (RFC 6455 §7.1.7).'
            : 'Discarded: nothing after a close frame is read (RFC 6455 §1.4, §5.5.1).',
        ],
        problems: [],
        message: null,
        state: describeOpen(open),
        replies: [],
      });
      return;
    }
    const events = parser.push(bytes);
    let frame: AnnotatedFrame | null = null;
    let message: AssembledMessage | null = null;
    const loose: Problem[] = [];
    for (const event of events) {
      if (event.kind === 'frame') frame = event.frame;
      else if (event.kind === 'message') message = event.message;
      else loose.push(event.problem);
    }
    const problems = [...(frame?.problems ?? []), ...loose].filter((p) => p.fatal);
    const notes: string[] = [];
    const stepReplies: ExpectedReply[] = [];
    if (frame !== null) notes.push(...frameNotes(frame, open, problems.length > 0));
    if (problems.length === 0 && frame !== null) {
      const opcode = frame.opcode;
      if (opcode === 0x1 || opcode === 0x2) {
        open = {
          type: opcode === 0x1 ? 'text' : 'binary',
          fragments: 1,
          pieces: [frame.unmaskedPreview],
          length: frame.unmaskedPreview.length,
        };
      } else if (opcode === 0x0 && open !== null) {
        open.fragments++;
        open.pieces.push(frame.unmaskedPreview);
        open.length += frame.unmaskedPreview.length;
      } else if (opcode === 0x9) {
        stepReplies.push({ kind: 'pong', afterFrame: index, payload: frame.unmaskedPreview });
        notes.push(
          `The receiver answers at once with a pong carrying the same ${plural(frame.unmaskedPreview.length, 'byte')} (RFC 6455 §5.5.2), even in the middle of a message.`,
        );
      } else if (opcode === 0xa) {
        notes.push(
          'An unsolicited pong is a one-way heartbeat: the receiver expects no answer to it and sends none (RFC 6455 §5.5.3).',
        );
      } else if (opcode === 0x8) {
        closed = true;
        const code = frame.close?.code ?? null;
        const explanation =
          code === null
            ? 'A close frame without a status code; the lab server answers with an empty close frame too.'
            : describeCloseCode(code).explanation;
        stepReplies.push({ kind: 'close', afterFrame: index, code, explanation });
        notes.push(
          `The receiver answers the close frame with its own, echoing the status code (RFC 6455 §5.5.1), then closes the TCP connection.`,
        );
      }
      if (frame.fin && (opcode === 0x0 || opcode === 0x1 || opcode === 0x2)) open = null;
      if (message !== null) {
        stepReplies.push({ kind: 'echo', afterFrame: index, message });
        notes.push(
          `The message is complete: ${message.type}, ${plural(message.length, 'byte')} from ${plural(message.frameIndices.length, 'frame')}${message.text !== undefined ? `, ${JSON.stringify(message.text)}` : ''}. The application sees one message, never the fragments, and /echo sends it back in one frame (RFC 6455 §5.4, §6.2).`,
        );
      }
    }
    const first = problems[0];
    if (first !== undefined) {
      open = null;
      const code = first.closeCode;
      stepReplies.push({
        kind: 'close',
        afterFrame: index,
        code,
        explanation: code === null ? first.explanation : describeCloseCode(code).explanation,
      });
      notes.push(
        `The receiver fails the connection: it sends a close frame with ${code ?? 'no code'} and stops reading (RFC 6455 §7.1.7).`,
      );
    }
    replies.push(...stepReplies);
    steps.push({
      index,
      frame,
      notes,
      problems,
      message,
      state:
        first !== undefined
          ? 'Failed: the connection is being closed.'
          : closed
            ? 'Closing: the close frame was the last frame the receiver reads.'
            : describeOpen(open),
      replies: stepReplies,
    });
  });
  return {
    steps,
    replies,
    failure: parser.failure,
    unfinished: open !== null && parser.failure === null && !closed,
  };
}

/** What a receiver notes about one frame before acting on it. */
function frameNotes(frame: AnnotatedFrame, open: OpenMessage | null, failed: boolean): string[] {
  const control = frame.opcode >= 0x8;
  const length = Number(frame.payloadLength);
  const read = frame.payloadReceived === length;
  const size = read
    ? `${plural(length, 'byte')}: ${showPayload(frame.unmaskedPreview)}`
    : `${plural(length, 'byte')} announced, never read`;
  const fin = `FIN ${frame.fin ? 1 : 0}`;
  if (control) {
    return [
      `A ${frame.opcodeName} frame (control, ${fin}), ${size}.${open !== null && !failed ? ' Control frames may come between the fragments of a message (RFC 6455 §5.4); they are not part of it.' : ''}`,
    ];
  }
  if (failed) return [`A ${frame.opcodeName} frame (${fin}), ${size}.`];
  if (frame.opcode === 0x0) {
    return [
      `A continuation frame (${fin}), ${size}. ${frame.fin ? 'FIN 1: it is the last fragment of the message.' : 'FIN 0: more fragments follow.'}`,
    ];
  }
  if (frame.opcode === 0x1 || frame.opcode === 0x2) {
    return [
      `A ${frame.opcodeName} frame (${fin}), ${size}. ${frame.fin ? 'FIN 1 on the first frame: the message is this one frame.' : `FIN 0: it starts a fragmented ${frame.opcodeName} message; continuation frames (opcode 0x0) carry the rest (RFC 6455 §5.4).`}`,
    ];
  }
  return [`A frame with opcode 0x${frame.opcode.toString(16)} (${frame.opcodeName}), ${size}.`];
}

// ---- what the lab server answered, from its annotations ------------------------------------

export type ServerAnswer =
  | {
      readonly kind: 'echo';
      readonly type: 'text' | 'binary';
      readonly frames: number;
      readonly length: number;
      readonly shown: string;
    }
  | { readonly kind: 'pong'; readonly shown: string }
  | {
      readonly kind: 'close';
      readonly code: number | null;
      readonly reason: string;
      readonly explanation: string;
    }
  | { readonly kind: 'problem'; readonly problem: Problem };

/**
 * The lab server's side of one connection, read from its annotations: the messages it sent back,
 * its pongs, its close frame, and the rules it found broken in what it received.
 */
export function serverAnswers(events: readonly LabEvent[]): ServerAnswer[] {
  const answers: ServerAnswer[] = [];
  const serverFrames = new Map<number, FrameRecord>();
  for (const event of events) {
    if (event.type === 'frame' && event.direction === 'server-to-client') {
      serverFrames.set(event.frame.index, event.frame);
    }
    if (event.type === 'message' && event.direction === 'server-to-client') {
      const bytes = hexBytes(messagePreviewHex(event.message, (i) => serverFrames.get(i)));
      answers.push({
        kind: 'echo',
        type: event.message.type,
        frames: event.message.frameIndices.length,
        length: event.message.length,
        shown:
          event.message.compressed || event.message.text === undefined
            ? showPayload(bytes)
            : JSON.stringify(event.message.text),
      });
    } else if (event.type === 'frame' && event.direction === 'server-to-client') {
      if (event.frame.opcode === 0xa) {
        answers.push({ kind: 'pong', shown: showPayload(hexBytes(event.frame.unmaskedHex)) });
      }
    } else if (event.type === 'close-frame' && event.direction === 'server-to-client') {
      answers.push({
        kind: 'close',
        code: event.code,
        reason: event.reason,
        explanation:
          event.code === null
            ? 'An empty close frame: no status code (RFC 6455 §5.5.1).'
            : describeCloseCode(event.code).explanation,
      });
    } else if (event.type === 'frame' && event.direction === 'client-to-server') {
      for (const problem of event.frame.problems) {
        if (problem.fatal) answers.push({ kind: 'problem', problem });
      }
    }
  }
  return answers;
}

export function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** One line for an answer, as the lab shows it. */
export function describeAnswer(answer: ServerAnswer): string {
  switch (answer.kind) {
    case 'echo':
      return `Echoed one ${answer.type} message, ${plural(answer.length, 'byte')} in ${plural(answer.frames, 'frame')}: ${answer.shown}`;
    case 'pong':
      return `Pong: ${answer.shown}`;
    case 'close':
      return `Close frame${answer.code === null ? ' without a status code' : `, code ${answer.code}`}${answer.reason === '' ? '' : ` (reason ${JSON.stringify(answer.reason)})`}. ${answer.explanation}`;
    case 'problem':
      return `Found in your frames: ${answer.problem.explanation} (${answer.problem.section}${answer.problem.closeCode === null ? '' : `, close code ${answer.problem.closeCode}`})`;
  }
}

export type Agreement =
  | { readonly state: 'pending' }
  | { readonly state: 'match'; readonly text: string }
  | { readonly state: 'differs'; readonly text: string };

const replyKey = (kind: string, code?: number | null) =>
  kind === 'close' ? `close ${code ?? 'without a code'}` : kind;

/**
 * Whether the lab server answered what the assembler predicted: the same pongs, echoes and close
 * code, in the same order. Pending while fewer answers than predicted have arrived.
 */
export function compareWithPrediction(
  predicted: readonly ExpectedReply[],
  answers: readonly ServerAnswer[],
): Agreement {
  const want = predicted.map((r) => replyKey(r.kind, r.kind === 'close' ? r.code : undefined));
  const got = answers
    .filter((a) => a.kind !== 'problem')
    .map((a) => replyKey(a.kind, a.kind === 'close' ? a.code : undefined));
  if (got.length < want.length) return { state: 'pending' };
  const same = want.every((key, i) => got[i] === key);
  if (same) {
    return {
      state: 'match',
      text: `✓ The lab server answered as the step-by-step assembly predicted (${want.length === 0 ? 'nothing' : want.join(', ')}).`,
    };
  }
  return {
    state: 'differs',
    text: `The lab server answered ${got.join(', ')}; the assembly predicted ${want.length === 0 ? 'nothing' : want.join(', ')}.`,
  };
}
