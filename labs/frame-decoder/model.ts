/**
 * The frame decoder's logic, free of the DOM: pasted text and the chosen direction in, a view
 * model out. Every explanation comes from `protocol/` (field meanings, problems, close codes);
 * this file only arranges them for display.
 */
import { describeCloseCode } from '../../protocol/close-codes.ts';
import { parseFrames } from '../../protocol/frame-parser.ts';
import type {
  AnnotatedFrame,
  AssembledMessage,
  Direction,
  FieldAnnotation,
  FieldName,
  Problem,
} from '../../protocol/types.ts';
import { formatHex, type HexError, parseHex } from '../shared/hex.ts';

export type DirectionChoice = 'auto' | Direction;

export interface DecoderInput {
  readonly text: string;
  readonly direction: DirectionChoice;
  /** Payload bytes kept per frame for display; default 256. */
  readonly previewLimit?: number;
}

export interface Term {
  readonly term: string;
  readonly description: string;
}

export interface FieldView {
  /** Unique within one decoder output, e.g. `f0-opcode`. */
  readonly key: string;
  readonly name: FieldName;
  readonly label: string;
  readonly bits: string;
  readonly valueText: string;
  readonly meaning: string;
  /** Offset in the stream of the field's first byte. */
  readonly byteOffset: number;
  /** 0 = most significant bit of that byte. */
  readonly bitOffset: number;
  readonly bitWidth: number;
  /** Bit position of the field counted from the frame's first bit. */
  readonly frameBit: number;
  readonly details: readonly Term[];
  /** Rules this field breaks (their identifiers); the diagram marks such fields. */
  readonly problemRules: readonly string[];
}

export interface XorStep {
  readonly index: number;
  readonly wire: string;
  readonly keyIndex: number;
  readonly key: string;
  readonly plain: string;
  readonly char: string;
}

export interface PayloadView {
  /** The length the header claims, as text (it may be a bigint). */
  readonly length: string;
  readonly received: number;
  /** Payload bytes kept for display (the preview). */
  readonly shown: number;
  readonly masked: boolean;
  readonly wire: Uint8Array;
  readonly wireHex: string;
  readonly wireText: string;
  readonly unmaskedHex: string;
  readonly unmaskedText: string;
  /** How `unmaskedText` was made: UTF-8 for text and continuation frames, ASCII otherwise. */
  readonly textKind: 'utf-8' | 'ascii';
  readonly xor: readonly XorStep[];
  /** Payload bytes not in the XOR table. */
  readonly xorOmitted: number;
}

export interface ProblemView {
  readonly rule: string;
  readonly explanation: string;
  readonly closeCode: number | null;
  /** `1002 Protocol Error`, or a sentence saying no close code applies. */
  readonly closeCodeText: string;
  readonly section: string;
  /** A link to the section at the RFC Editor, when the section names an RFC. */
  readonly sectionUrl: string | null;
  readonly byteOffset: number;
  readonly fatal: boolean;
}

export interface FrameView {
  readonly index: number;
  readonly heading: string;
  readonly facts: readonly Term[];
  readonly streamOffset: number;
  /** Offset just past the frame's last received byte. */
  readonly endOffset: number;
  readonly headerLength: number;
  readonly fields: readonly FieldView[];
  readonly payload: PayloadView;
  /** The claimed payload length, for the diagram (exact only up to 2^53). */
  readonly payloadLength: number;
  readonly problems: readonly ProblemView[];
  readonly complete: boolean;
  /** This frame holds the first fatal problem: a real endpoint fails the connection here. */
  readonly failsHere: boolean;
  /** A real endpoint would have stopped before reading this frame. */
  readonly afterFailure: boolean;
  readonly close: Term | null;
}

export interface MessageView {
  readonly index: number;
  readonly type: 'text' | 'binary';
  readonly frames: string;
  readonly length: number;
  readonly content: string;
  readonly contentKind: 'text' | 'hex';
  readonly truncated: boolean;
  readonly compressed: boolean;
}

export interface DecoderView {
  readonly state: 'empty' | 'hex-errors' | 'decoded';
  readonly hexErrors: readonly HexError[];
  readonly hexErrorCount: number;
  readonly byteCount: number;
  /** Lines of the input that were read as a hex dump. */
  readonly dumpLines: number;
  readonly direction: Direction;
  readonly directionGuessed: boolean;
  readonly directionNote: string;
  readonly frames: readonly FrameView[];
  readonly messages: readonly MessageView[];
  /** Problems that belong to no complete frame: a header cut short, a message left unfinished. */
  readonly streamProblems: readonly ProblemView[];
  readonly failure: ProblemView | null;
  readonly failureNote: string | null;
  readonly summary: string;
}

const XOR_ROWS = 32;
/** Payload bytes shown per frame: enough to read, short enough not to bury the page. */
const DEFAULT_PREVIEW = 256;

const plural = (n: number | bigint, word: string) =>
  `${n} ${word}${n === 1 || n === 1n ? '' : 's'}`;

const hex2 = (b: number) => b.toString(16).padStart(2, '0');

/** Printable ASCII as is, every other byte as a middle dot, so the text lines up with the hex. */
export function asciiText(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '·';
  return out;
}

/** `RFC 6455 §5.1` -> the RFC Editor's anchor for that section. */
export function sectionUrl(section: string): string | null {
  const m = /RFC (\d+) §([\d.]+)/.exec(section);
  if (m === null) return null;
  return `https://www.rfc-editor.org/rfc/rfc${m[1]}#section-${m[2]}`;
}

export function problemView(p: Problem): ProblemView {
  let closeCodeText = 'none (a note, not a reason to close)';
  if (p.closeCode !== null) {
    const name = describeCloseCode(p.closeCode).info?.name;
    closeCodeText = name === undefined ? `${p.closeCode}` : `${p.closeCode} ${name}`;
  } else if (p.fatal) {
    closeCodeText = 'none (the bytes simply stop, so there is nothing left to answer)';
  }
  return {
    rule: p.rule,
    explanation: p.explanation,
    closeCode: p.closeCode,
    closeCodeText,
    section: p.section,
    sectionUrl: sectionUrl(p.section),
    byteOffset: p.byteOffset,
    fatal: p.fatal,
  };
}

function guessDirection(bytes: Uint8Array): { direction: Direction; note: string } {
  const second = bytes[1];
  if (second === undefined) {
    return {
      direction: 'client-to-server',
      note: 'Too few bytes to see a MASK bit; assuming client-to-server.',
    };
  }
  const masked = (second & 0x80) !== 0;
  return masked
    ? {
        direction: 'client-to-server',
        note: 'Guessed client-to-server: the first frame has MASK = 1, and only clients mask (RFC 6455 §5.1).',
      }
    : {
        direction: 'server-to-client',
        note: 'Guessed server-to-client: the first frame has MASK = 0, and servers never mask (RFC 6455 §5.1).',
      };
}

function valueText(field: FieldAnnotation, frame: AnnotatedFrame): string {
  switch (field.name) {
    case 'opcode':
      return `0x${frame.opcode.toString(16).toUpperCase()} ${frame.opcodeName}`;
    case 'maskingKey':
      return typeof field.value === 'string'
        ? (field.value.match(/../g) ?? []).join(' ')
        : `${field.value}`;
    case 'payload':
      return plural(frame.payloadLength, 'byte');
    case 'extendedPayloadLength':
      return `${field.value}`;
    default:
      return `${field.value}`;
  }
}

function fieldView(field: FieldAnnotation, frame: AnnotatedFrame): FieldView {
  const value = valueText(field, frame);
  const inFrame = field.byteOffset - frame.streamOffset;
  const problemRules = frame.problems.filter((p) => p.field === field.name).map((p) => p.rule);
  const width =
    field.name === 'payload'
      ? plural(frame.payloadLength, 'byte')
      : field.bitWidth % 8 === 0
        ? `${plural(field.bitWidth, 'bit')} (${plural(field.bitWidth / 8, 'byte')})`
        : plural(field.bitWidth, 'bit');
  const details: Term[] = [
    { term: 'Meaning', description: field.meaning },
    { term: 'Value', description: value },
    {
      term: 'Bits',
      description:
        field.bits === ''
          ? 'Not drawn bit by bit; the payload bytes are listed below.'
          : (field.bits.match(/.{1,8}/g) ?? []).join(' '),
    },
    {
      term: 'Byte offset',
      description: `${field.byteOffset} in the stream (byte ${inFrame} of this frame)`,
    },
    {
      term: 'Bit offset',
      description: `${field.bitOffset} within that byte (0 is the most significant bit)`,
    },
    { term: 'Width', description: width },
  ];
  return {
    key: `f${frame.index}-${field.name}`,
    name: field.name,
    label: field.label,
    bits: field.bits,
    valueText: value,
    meaning: field.meaning,
    byteOffset: field.byteOffset,
    bitOffset: field.bitOffset,
    bitWidth: field.bitWidth,
    frameBit: inFrame * 8 + field.bitOffset,
    details:
      problemRules.length > 0
        ? [...details, { term: 'Breaks', description: problemRules.join(', ') }]
        : details,
    problemRules,
  };
}

function payloadView(frame: AnnotatedFrame): PayloadView {
  const wire = frame.payloadPreview;
  const plain = frame.unmaskedPreview;
  const key = frame.maskingKey;
  const xor: XorStep[] = [];
  if (key !== null) {
    for (let i = 0; i < Math.min(wire.length, XOR_ROWS); i++) {
      const w = wire[i] ?? 0;
      const k = key[i % 4] ?? 0;
      const p = plain[i] ?? 0;
      xor.push({
        index: i,
        wire: hex2(w),
        keyIndex: i % 4,
        key: hex2(k),
        plain: hex2(p),
        char: asciiText(Uint8Array.of(p)),
      });
    }
  }
  const utf8 = frame.opcodeName === 'text' || frame.opcodeName === 'continuation';
  return {
    length: `${frame.payloadLength}`,
    received: frame.payloadReceived,
    shown: wire.length,
    masked: key !== null,
    wire,
    wireHex: formatHex(wire),
    wireText: asciiText(wire),
    unmaskedHex: formatHex(plain),
    unmaskedText: utf8 ? new TextDecoder().decode(plain) : asciiText(plain),
    textKind: utf8 ? 'utf-8' : 'ascii',
    xor,
    xorOmitted: key === null ? 0 : Math.max(0, frame.payloadReceived - xor.length),
  };
}

function frameFacts(frame: AnnotatedFrame): Term[] {
  const end = frame.streamOffset + frame.headerLength + frame.payloadReceived - 1;
  const facts: Term[] = [
    { term: 'FIN', description: frame.fin ? '1 (final fragment)' : '0 (more fragments follow)' },
    {
      term: 'Opcode',
      description: `0x${frame.opcode.toString(16).toUpperCase()} (${frame.opcodeName})`,
    },
    { term: 'MASK', description: frame.mask ? '1 (masked)' : '0 (not masked)' },
    {
      term: 'Payload length',
      description: `${plural(frame.payloadLength, 'byte')} (${frame.lengthForm} form)`,
    },
  ];
  if (frame.maskingKey !== null) {
    facts.push({ term: 'Masking key', description: formatHex(frame.maskingKey) });
  }
  facts.push({
    term: 'Bytes',
    description: `${frame.streamOffset} to ${end} of the stream (header ${plural(frame.headerLength, 'byte')})`,
  });
  return facts;
}

function closeTerm(frame: AnnotatedFrame): Term | null {
  if (frame.close === undefined) return null;
  const { code, reason } = frame.close;
  const verdict = code === null ? null : describeCloseCode(code);
  return {
    term: 'Close status',
    description: `${verdict === null ? 'none' : verdict.explanation}${reason === '' ? '' : ` Reason: "${reason}"`}`,
  };
}

function messageView(message: AssembledMessage, index: number): MessageView {
  const numbers = message.frameIndices.map((i) => i + 1);
  const frames =
    numbers.length === 1
      ? `frame ${numbers[0]}`
      : `frames ${numbers.slice(0, -1).join(', ')} and ${numbers.at(-1)}`;
  const text = message.type === 'text' && !message.compressed ? message.text : undefined;
  return {
    index,
    type: message.type,
    frames,
    length: message.length,
    content: text ?? formatHex(message.preview.subarray(0, 64)),
    contentKind: text === undefined ? 'hex' : 'text',
    truncated:
      message.preview.length < message.length || (text === undefined && message.length > 64),
    compressed: message.compressed,
  };
}

export function decode(input: DecoderInput): DecoderView {
  const parsed = parseHex(input.text);
  const base = {
    hexErrors: parsed.errors,
    hexErrorCount: parsed.errorCount,
    byteCount: parsed.bytes.length,
    dumpLines: parsed.dumpLines,
    frames: [],
    messages: [],
    streamProblems: [],
    failure: null,
    failureNote: null,
  };
  const guess = guessDirection(parsed.bytes);
  const direction = input.direction === 'auto' ? guess.direction : input.direction;
  const directionNote =
    input.direction === 'auto' ? guess.note : `Read as ${direction}, as you chose.`;
  const directionPart = { direction, directionGuessed: input.direction === 'auto', directionNote };

  if (parsed.errorCount > 0) {
    return {
      ...base,
      ...directionPart,
      state: 'hex-errors',
      summary: `${plural(parsed.errorCount, 'character')} in the input ${parsed.errorCount === 1 ? 'is' : 'are'} not hex; nothing decoded.`,
    };
  }
  if (parsed.bytes.length === 0) {
    return { ...base, ...directionPart, state: 'empty', summary: 'No bytes yet.' };
  }

  const result = parseFrames(parsed.bytes, {
    direction,
    continueAfterFailure: true,
    previewLimit: input.previewLimit ?? DEFAULT_PREVIEW,
  });
  const failure = result.failure;
  const failingIndex =
    failure === null ? -1 : result.frames.findIndex((f) => f.problems.includes(failure));

  const frames: FrameView[] = result.frames.map((frame) => ({
    index: frame.index,
    heading: `Frame ${frame.index + 1}: ${frame.opcodeName}${frame.complete ? '' : ' (cut short)'}`,
    facts: frameFacts(frame),
    streamOffset: frame.streamOffset,
    endOffset: frame.streamOffset + frame.headerLength + frame.payloadReceived,
    headerLength: frame.headerLength,
    fields: frame.fields.map((f) => fieldView(f, frame)),
    payload: payloadView(frame),
    payloadLength: Number(frame.payloadLength),
    problems: frame.problems.map(problemView),
    complete: frame.complete,
    failsHere: frame.index === failingIndex,
    afterFailure: failure !== null && failingIndex >= 0 && frame.index > failingIndex,
    close: closeTerm(frame),
  }));

  const streamProblems = result.events.flatMap((e) =>
    e.kind === 'problem' ? [problemView(e.problem)] : [],
  );
  const messages = result.messages.map(messageView);
  const problemCount = frames.reduce((n, f) => n + f.problems.length, 0) + streamProblems.length;
  const failureView = failure === null ? null : problemView(failure);
  const failureNote =
    failureView === null
      ? null
      : `A real endpoint fails the connection at byte ${failureView.byteOffset}${failureView.closeCode === null ? '' : ` with close code ${failureView.closeCodeText}`} and reads nothing after it (RFC 6455 §7.1.7). The decoder carries on so you can see the rest.`;

  return {
    ...base,
    ...directionPart,
    state: 'decoded',
    frames,
    messages,
    streamProblems,
    failure: failureView,
    failureNote,
    summary: `${plural(parsed.bytes.length, 'byte')}: ${plural(frames.length, 'frame')}, ${plural(messages.length, 'message')}, ${problemCount === 0 ? 'no problems' : plural(problemCount, 'problem')}.`,
  };
}

export interface DiagramCell {
  readonly key: string;
  readonly name: FieldName;
  readonly label: string;
  /** 0-based bit column within the row. */
  readonly column: number;
  readonly width: number;
  /** Raw bits for header fields; hex bytes for the payload. */
  readonly content: string;
  /** A short value shown under the bits, on the field's first cell only. */
  readonly value: string;
  /** This cell carries on a field begun in an earlier row. */
  readonly continued: boolean;
}

export interface DiagramRow {
  /** Bit offset of the row's first bit within the frame. */
  readonly startBit: number;
  readonly cells: readonly DiagramCell[];
}

const SHORT_VALUE: Partial<Record<FieldName, (f: FieldView) => string>> = {
  opcode: (f) => {
    const name = f.valueText.split(' ')[1] ?? '';
    return name === 'continuation' ? 'cont.' : name;
  },
  payloadLength: (f) => f.valueText,
  extendedPayloadLength: (f) => f.valueText,
  maskingKey: (f) => f.valueText.replaceAll(' ', ''),
};

/**
 * The frame drawn as RFC 6455 §5.2 draws it: rows of `rowBits` bits (32 in the RFC, 16 on a
 * narrow screen), each field in the columns of its bits, split where it crosses a row. The
 * payload is drawn byte by byte for its first 8 bytes or so, then summarised.
 */
export function layoutDiagram(frame: FrameView, rowBits: number): DiagramRow[] {
  const rows = new Map<number, DiagramCell[]>();
  const place = (
    cell: Omit<DiagramCell, 'column' | 'width' | 'continued'>,
    start: number,
    width: number,
  ) => {
    let bit = start;
    let first = true;
    while (bit < start + width) {
      const row = Math.floor(bit / rowBits);
      const column = bit % rowBits;
      const span = Math.min(rowBits - column, start + width - bit);
      const offset = bit - start;
      const content =
        cell.name === 'payload'
          ? formatHex(frame.payload.wire.subarray(offset / 8, (offset + span) / 8))
          : cell.content.slice(offset, offset + span);
      const cells = rows.get(row) ?? [];
      cells.push({
        ...cell,
        label: first ? cell.label : `${cell.label} (cont.)`,
        column,
        width: span,
        content,
        value: first ? cell.value : '',
        continued: !first,
      });
      rows.set(row, cells);
      first = false;
      bit += span;
    }
  };

  for (const field of frame.fields) {
    if (field.name === 'payload') continue;
    place(
      {
        key: field.key,
        name: field.name,
        label: field.label,
        content: field.bits,
        value: SHORT_VALUE[field.name]?.(field) ?? '',
      },
      field.frameBit,
      field.bitWidth,
    );
  }

  const payload = frame.fields.find((f) => f.name === 'payload');
  const start = frame.headerLength * 8;
  if (payload !== undefined && frame.payloadLength > 0) {
    // Draw the first 8 payload bytes (to the end of their row) exactly; summarise the rest.
    const limit = Math.ceil((start + 64) / rowBits) * rowBits;
    const exactBytes = Math.min(frame.payload.shown, (limit - start) / 8);
    if (exactBytes > 0) {
      place(
        { key: payload.key, name: 'payload', label: payload.label, content: '', value: '' },
        start,
        exactBytes * 8,
      );
    }
    const rest = frame.payloadLength - exactBytes;
    if (rest > 0) {
      const lastRow = Math.max(-1, ...rows.keys());
      const missing = frame.payloadLength - frame.payload.received;
      rows.set(lastRow + 1, [
        {
          key: payload.key,
          name: 'payload',
          label: exactBytes > 0 ? `${payload.label} (continued)` : payload.label,
          column: 0,
          width: rowBits,
          content: `… ${plural(rest, 'more byte')}${missing > 0 ? `, ${missing} of them never arrived` : ''}`,
          value: '',
          continued: exactBytes > 0,
        },
      ]);
    }
  }

  return [...rows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([row, cells]) => ({
      startBit: row * rowBits,
      cells: [...cells].sort((a, b) => a.column - b.column),
    }));
}
