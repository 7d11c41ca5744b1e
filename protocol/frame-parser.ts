/**
 * The incremental frame parser: an explicit state machine over RFC 6455 §5.2's base framing.
 *
 *   GET_INFO               first two bytes: FIN, RSV1-3, opcode | MASK, Payload len
 *   GET_PAYLOAD_LENGTH_16  Payload len was 126: the length is the next 2 bytes
 *   GET_PAYLOAD_LENGTH_64  Payload len was 127: the length is the next 8 bytes
 *   GET_MASK               MASK was 1: the 4-byte masking key
 *   GET_DATA               the payload
 *   FAILED                 a fatal problem was found; a real endpoint stops reading here
 *
 * Bytes may arrive in any chunking, one at a time included; every state consumes what it needs
 * and waits for more otherwise. Bad bytes become Problems on the frame, never exceptions, and a
 * claimed length is never allocated: payload bytes are kept only up to the preview limit.
 */
import { describeCloseCode } from './close-codes.ts';
import { concat, MessageAssembler } from './message.ts';
import { problem } from './problem.ts';
import type {
  AnnotatedFrame,
  AssembledMessage,
  Direction,
  FieldAnnotation,
  FieldName,
  LengthForm,
  ParserEvent,
  Problem,
} from './types.ts';
import { validateUtf8 } from './utf8.ts';

export interface FrameParserOptions {
  readonly direction: Direction;
  /** Largest message in bytes; past it the connection closes with 1009. Default 1 MiB. */
  readonly maxPayload?: number;
  /** Most frames in one message; past it the connection closes with 1008. Default unlimited. */
  readonly maxFragments?: number;
  /** Payload bytes kept per frame and per message for display. Default 1024; Infinity keeps all. */
  readonly previewLimit?: number;
  /** RSV bits a negotiated extension gave a meaning to (RSV1: permessage-deflate, RFC 7692). */
  readonly extensions?: {
    readonly rsv1?: boolean;
    readonly rsv2?: boolean;
    readonly rsv3?: boolean;
  };
  /**
   * After a fatal problem a real endpoint stops reading (RFC 6455 §7.1.7). The decoder lab sets
   * this to keep annotating the frames that follow.
   */
  readonly continueAfterFailure?: boolean;
  /**
   * Stream offset of the first byte pushed, so offsets count from the start of the connection
   * (for example, after the HTTP handshake). Default 0.
   */
  readonly startOffset?: number;
}

export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
export const DEFAULT_PREVIEW_LIMIT = 1024;

export interface OpcodeInfo {
  readonly opcode: number;
  readonly name: string;
  readonly control: boolean;
  readonly meaning: string;
}

/** Opcodes of RFC 6455 §5.2 (§11.8 registry); everything else is reserved. */
export const OPCODES: readonly OpcodeInfo[] = [
  {
    opcode: 0x0,
    name: 'continuation',
    control: false,
    meaning: 'Continuation frame: the next fragment of the message in progress (RFC 6455 §5.4).',
  },
  {
    opcode: 0x1,
    name: 'text',
    control: false,
    meaning: 'Text frame: starts a message whose payload is UTF-8 text (RFC 6455 §5.6).',
  },
  {
    opcode: 0x2,
    name: 'binary',
    control: false,
    meaning: 'Binary frame: starts a message of arbitrary bytes (RFC 6455 §5.6).',
  },
  {
    opcode: 0x8,
    name: 'close',
    control: true,
    meaning: 'Close: starts or answers the closing handshake (RFC 6455 §5.5.1).',
  },
  {
    opcode: 0x9,
    name: 'ping',
    control: true,
    meaning:
      'Ping: the receiver must answer with a pong carrying the same payload (RFC 6455 §5.5.2).',
  },
  {
    opcode: 0xa,
    name: 'pong',
    control: true,
    meaning: 'Pong: the answer to a ping, or an unsolicited heartbeat (RFC 6455 §5.5.3).',
  },
];

const opcodeInfo: readonly OpcodeInfo[] = Array.from({ length: 16 }, (_, opcode) => {
  const known = OPCODES.find((info) => info.opcode === opcode);
  if (known) return known;
  const control = opcode >= 0x8;
  return {
    opcode,
    name: 'reserved',
    control,
    meaning: `Reserved ${control ? 'control' : 'non-control'} opcode 0x${opcode.toString(16).toUpperCase()}: no meaning is defined, so it must not be used (RFC 6455 §5.2).`,
  };
});

/** Which field of the frame a rule is about, so views can point at it. */
function blamedField(rule: string, form: LengthForm): FieldName | undefined {
  const length = form === '7-bit' ? 'payloadLength' : 'extendedPayloadLength';
  switch (rule) {
    case 'rsv1-without-extension':
    case 'rsv1-on-wrong-frame':
      return 'rsv1';
    case 'rsv2-without-extension':
      return 'rsv2';
    case 'rsv3-without-extension':
      return 'rsv3';
    case 'reserved-opcode':
    case 'continuation-without-start':
    case 'data-frame-inside-fragmented-message':
      return 'opcode';
    case 'client-frame-unmasked':
    case 'server-frame-masked':
      return 'mask';
    case 'control-frame-fragmented':
    case 'too-many-fragments':
      return 'fin';
    case 'control-frame-too-long':
    case 'close-payload-one-byte':
      return 'payloadLength';
    case 'length-msb-set':
    case 'length-not-minimal':
      return 'extendedPayloadLength';
    case 'message-too-big':
      return length;
    case 'invalid-utf8':
    case 'invalid-close-code':
    case 'invalid-close-reason':
    case 'frame-cut-short':
      return 'payload';
    default:
      return undefined;
  }
}

export function describeOpcode(opcode: number): OpcodeInfo {
  return opcodeInfo[opcode & 0xf] as OpcodeInfo;
}

const State = {
  GET_INFO: 0,
  GET_PAYLOAD_LENGTH_16: 1,
  GET_PAYLOAD_LENGTH_64: 2,
  GET_MASK: 3,
  GET_DATA: 4,
  FAILED: 5,
} as const;
type State = (typeof State)[keyof typeof State];

const EMPTY = new Uint8Array(0);
const BITS = Array.from({ length: 256 }, (_, byte) => byte.toString(2).padStart(8, '0'));
const bits = (byte: number) => BITS[byte] as string;
const hexByte = (byte: number) => byte.toString(16).padStart(2, '0');

export function toHex(bytes: Uint8Array, separator = ''): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) out += separator;
    out += hexByte(bytes[i] as number);
  }
  return out;
}

/** What the parser knows about the frame whose header or payload it is reading. */
interface FrameInProgress {
  index: number;
  start: number;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  mask: boolean;
  /** The 7-bit Payload len field. */
  length7: number;
  payloadLength: number | bigint;
  /** Bytes still to read; a Number even for absurd 64-bit claims, which never complete anyway. */
  remaining: number;
  lengthForm: LengthForm;
  maskingKey: Uint8Array | null;
  headerLength: number;
  /** The header bytes as they crossed the wire, once all of them arrived. */
  header: Uint8Array;
  received: number;
  wire: Uint8Array[];
  plain: Uint8Array[];
  previewLength: number;
  /** A control frame's whole body (at most 125 bytes), for the close-frame checks. */
  body: Uint8Array[];
  /** Data frames feed the message assembler; set once its checks passed. */
  assembling: boolean;
  problems: Problem[];
}

export class FrameParser {
  readonly #direction: Direction;
  readonly #maxPayload: number;
  readonly #previewLimit: number;
  readonly #rsvAllowed: readonly [boolean, boolean, boolean];
  readonly #continue: boolean;
  readonly #messages: MessageAssembler;

  #state: State = State.GET_INFO;
  /** Header bytes gathered so far; a header is at most 14 bytes (2 + 8 + 4). */
  readonly #header = new Uint8Array(14);
  #headerHave = 0;
  #frame: FrameInProgress | null = null;
  #frameCount = 0;
  #offset = 0;
  #failure: Problem | null = null;
  #events: ParserEvent[] = [];

  constructor(options: FrameParserOptions) {
    this.#direction = options.direction;
    this.#maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.#previewLimit = options.previewLimit ?? DEFAULT_PREVIEW_LIMIT;
    const ext = options.extensions ?? {};
    this.#rsvAllowed = [ext.rsv1 === true, ext.rsv2 === true, ext.rsv3 === true];
    this.#continue = options.continueAfterFailure === true;
    this.#offset = options.startOffset ?? 0;
    this.#messages = new MessageAssembler({
      direction: this.#direction,
      maxPayload: this.#maxPayload,
      maxFragments: options.maxFragments ?? Number.POSITIVE_INFINITY,
      previewLimit: this.#previewLimit,
    });
  }

  /** The first fatal problem, if any: where a real endpoint would fail the connection. */
  get failure(): Problem | null {
    return this.#failure;
  }

  /** Stream bytes consumed so far. After a failure (without continueAfterFailure) it stops growing. */
  get offset(): number {
    return this.#offset;
  }

  push(chunk: Uint8Array): ParserEvent[] {
    let at = 0;
    while (at < chunk.length && this.#state !== State.FAILED) {
      switch (this.#state) {
        case State.GET_INFO:
          at = this.#gather(chunk, at, 2, this.#getInfo);
          break;
        case State.GET_PAYLOAD_LENGTH_16:
          at = this.#gather(chunk, at, 4, this.#getPayloadLength16);
          break;
        case State.GET_PAYLOAD_LENGTH_64:
          at = this.#gather(chunk, at, 10, this.#getPayloadLength64);
          break;
        case State.GET_MASK:
          at = this.#gather(
            chunk,
            at,
            (this.#frame as FrameInProgress).headerLength,
            this.#getMask,
          );
          break;
        case State.GET_DATA:
          at = this.#getData(chunk, at);
          break;
      }
    }
    return this.#drain();
  }

  /** The stream ended (the peer's FIN, or the end of pasted bytes). */
  end(): ParserEvent[] {
    if (this.#state === State.FAILED) return this.#drain();
    const frame = this.#frame;
    if (frame !== null && this.#state === State.GET_DATA) {
      this.#addProblem(
        frame,
        problem(
          'frame-cut-short',
          null,
          'RFC 6455 §5.2',
          this.#offset,
          `The stream ended after ${frame.received} of the ${frame.payloadLength} payload bytes this frame announced.`,
          false,
        ),
      );
      this.#emitFrame(frame, false);
    } else if (this.#headerHave > 0) {
      this.#events.push({
        kind: 'problem',
        problem: problem(
          'header-cut-short',
          null,
          'RFC 6455 §5.2',
          this.#offset - this.#headerHave,
          `The stream ended inside a frame header: ${this.#headerHave} byte${this.#headerHave === 1 ? '' : 's'} of a header that needs ${this.#headerNeeded()}.`,
          false,
        ),
      });
    } else if (this.#messages.inProgress) {
      this.#events.push({
        kind: 'problem',
        problem: problem(
          'message-unfinished',
          null,
          'RFC 6455 §5.4',
          this.#offset,
          'The stream ended while a fragmented message still waited for its final fragment (a frame with FIN set).',
          false,
        ),
      });
    }
    this.#frame = null;
    this.#headerHave = 0;
    this.#state = State.FAILED;
    return this.#drain();
  }

  #drain(): ParserEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #headerNeeded(): number {
    if (this.#headerHave < 2) return 2;
    const length7 = (this.#header[1] as number) & 0x7f;
    const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    return 2 + extended + (((this.#header[1] as number) & 0x80) !== 0 ? 4 : 0);
  }

  /**
   * Copies header bytes until `need` are gathered, then runs the state's step. Never waits for
   * more bytes than the state needs (the payload is not touched here).
   */
  #gather(chunk: Uint8Array, at: number, need: number, step: () => void): number {
    const take = Math.min(need - this.#headerHave, chunk.length - at);
    this.#header.set(chunk.subarray(at, at + take), this.#headerHave);
    this.#headerHave += take;
    this.#offset += take;
    if (this.#headerHave === need) step.call(this);
    return at + take;
  }

  #getInfo(): void {
    const b0 = this.#header[0] as number;
    const b1 = this.#header[1] as number;
    const length7 = b1 & 0x7f;
    const mask = (b1 & 0x80) !== 0;
    this.#frame = {
      index: this.#frameCount++,
      start: this.#offset - 2,
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      mask,
      length7,
      payloadLength: length7,
      remaining: length7,
      lengthForm: length7 === 126 ? '16-bit' : length7 === 127 ? '64-bit' : '7-bit',
      maskingKey: null,
      headerLength: 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (mask ? 4 : 0),
      header: EMPTY,
      received: 0,
      wire: [],
      plain: [],
      previewLength: 0,
      body: [],
      assembling: false,
      problems: [],
    };
    if (length7 === 126) this.#state = State.GET_PAYLOAD_LENGTH_16;
    else if (length7 === 127) this.#state = State.GET_PAYLOAD_LENGTH_64;
    else this.#afterLength();
  }

  #getPayloadLength16(): void {
    const frame = this.#frame as FrameInProgress;
    const length = ((this.#header[2] as number) << 8) | (this.#header[3] as number);
    frame.payloadLength = length;
    frame.remaining = length;
    if (length < 126) {
      this.#addProblem(
        frame,
        problem(
          'length-not-minimal',
          1002,
          'RFC 6455 §5.2',
          frame.start + 2,
          `The 16-bit extended length holds ${length}, which fits in the 7-bit field; the minimal number of bytes must be used to encode the length.`,
        ),
      );
    }
    this.#afterLength();
  }

  #getPayloadLength64(): void {
    const frame = this.#frame as FrameInProgress;
    const header = this.#header;
    const high =
      (((header[2] as number) << 24) |
        ((header[3] as number) << 16) |
        ((header[4] as number) << 8) |
        (header[5] as number)) >>>
      0;
    const low =
      (((header[6] as number) << 24) |
        ((header[7] as number) << 16) |
        ((header[8] as number) << 8) |
        (header[9] as number)) >>>
      0;
    // A Number holds integers exactly up to 2^53; above that the claim is kept as a bigint for
    // display and is far beyond any payload limit anyway.
    const length = high < 0x200000 ? high * 2 ** 32 + low : (BigInt(high) << 32n) | BigInt(low);
    frame.payloadLength = length;
    frame.remaining = Number(length);
    if (high >= 0x80000000) {
      this.#addProblem(
        frame,
        problem(
          'length-msb-set',
          1002,
          'RFC 6455 §5.2',
          frame.start + 2,
          'The most significant bit of the 64-bit length is set; RFC 6455 requires it to be 0, so the length can never look negative.',
        ),
      );
    } else if (typeof length === 'number' && length < 0x10000) {
      this.#addProblem(
        frame,
        problem(
          'length-not-minimal',
          1002,
          'RFC 6455 §5.2',
          frame.start + 2,
          `The 64-bit extended length holds ${length}, which fits in ${length < 126 ? 'the 7-bit field' : 'the 16-bit form'}; the minimal number of bytes must be used to encode the length.`,
        ),
      );
    }
    this.#afterLength();
  }

  #afterLength(): void {
    const frame = this.#frame as FrameInProgress;
    if (frame.mask) this.#state = State.GET_MASK;
    else this.#headerDone();
  }

  #getMask(): void {
    const frame = this.#frame as FrameInProgress;
    frame.maskingKey = this.#header.slice(frame.headerLength - 4, frame.headerLength);
    this.#headerDone();
  }

  /** The whole header is in: check every rule the header alone can break. */
  #headerDone(): void {
    const frame = this.#frame as FrameInProgress;
    frame.header = this.#header.slice(0, frame.headerLength);
    this.#headerHave = 0;
    const info = describeOpcode(frame.opcode);
    const at = frame.start;

    const rsv = [frame.rsv1, frame.rsv2, frame.rsv3];
    for (let i = 0; i < 3; i++) {
      if (!rsv[i]) continue;
      if (!this.#rsvAllowed[i]) {
        this.#addProblem(
          frame,
          problem(
            `rsv${i + 1}-without-extension`,
            1002,
            'RFC 6455 §5.2',
            at,
            `RSV${i + 1} is set, but no extension that gives it a meaning was negotiated; without one it must be 0.`,
          ),
        );
      } else if (i === 0 && (info.control || frame.opcode === 0)) {
        this.#addProblem(
          frame,
          problem(
            'rsv1-on-wrong-frame',
            1002,
            'RFC 7692 §6.1',
            at,
            `RSV1 ("per-message compressed") may only be set on the first frame of a data message, not on a ${info.name} frame.`,
          ),
        );
      }
    }

    if (info.name === 'reserved') {
      this.#addProblem(frame, problem('reserved-opcode', 1002, 'RFC 6455 §5.2', at, info.meaning));
    }

    if (this.#direction === 'client-to-server' && !frame.mask) {
      this.#addProblem(
        frame,
        problem(
          'client-frame-unmasked',
          1002,
          'RFC 6455 §5.1',
          at + 1,
          'A client must mask every frame it sends, but MASK is 0; the server must close the connection.',
        ),
      );
    } else if (this.#direction === 'server-to-client' && frame.mask) {
      this.#addProblem(
        frame,
        problem(
          'server-frame-masked',
          1002,
          'RFC 6455 §5.1',
          at + 1,
          'A server must not mask the frames it sends, but MASK is 1; the client must close the connection.',
        ),
      );
    }

    if (info.control) {
      if (!frame.fin) {
        this.#addProblem(
          frame,
          problem(
            'control-frame-fragmented',
            1002,
            'RFC 6455 §5.5',
            at,
            `A ${info.name} frame is a control frame, and control frames must not be fragmented: FIN must be 1.`,
          ),
        );
      }
      if (frame.length7 > 125) {
        this.#addProblem(
          frame,
          problem(
            'control-frame-too-long',
            1002,
            'RFC 6455 §5.5',
            at + 1,
            `A ${info.name} frame is a control frame, and control frames carry at most 125 payload bytes; this one announces ${frame.payloadLength}.`,
          ),
        );
      }
      if (frame.opcode === 0x8 && frame.payloadLength === 1) {
        this.#addProblem(
          frame,
          problem(
            'close-payload-one-byte',
            1002,
            'RFC 6455 §5.5.1',
            at + 1,
            'A close frame body is either empty or starts with a 2-byte status code; a 1-byte body cannot hold one.',
          ),
        );
      }
    } else if (info.name !== 'reserved') {
      const limit =
        typeof frame.payloadLength === 'bigint' ? Number.POSITIVE_INFINITY : frame.payloadLength;
      const problems = this.#messages.beginFrame(
        frame.index,
        frame.opcode,
        frame.fin,
        frame.rsv1 && this.#rsvAllowed[0],
        limit,
        at,
      );
      for (const p of problems) this.#addProblem(frame, p);
      frame.assembling = problems.length === 0;
    }

    if (this.#state === State.FAILED) {
      this.#emitFrame(frame, frame.remaining === 0);
      return;
    }
    if (frame.remaining === 0) {
      this.#finishFrame(frame);
    } else {
      this.#state = State.GET_DATA;
    }
  }

  #getData(chunk: Uint8Array, at: number): number {
    const frame = this.#frame as FrameInProgress;
    const take = Math.min(frame.remaining, chunk.length - at);
    const end = at + take;
    const streamStart = this.#offset;
    const key = frame.maskingKey;
    const info = describeOpcode(frame.opcode);
    // Unmask only what is looked at: the preview, the message's preview, and text that must be
    // validated as UTF-8. Binary payload past the previews is counted, not copied.
    const keep = Math.min(take, Math.max(0, this.#previewLimit - frame.previewLength));
    const needPlain = frame.assembling || info.control ? take : keep;
    let plain: Uint8Array;
    if (key === null) {
      plain = chunk.subarray(at, at + needPlain);
    } else {
      plain = new Uint8Array(needPlain);
      const phase = frame.received;
      for (let i = 0; i < needPlain; i++) {
        plain[i] = (chunk[at + i] as number) ^ (key[(phase + i) & 3] as number);
      }
    }
    if (keep > 0) {
      frame.wire.push(chunk.slice(at, at + keep));
      frame.plain.push(plain.slice(0, keep));
      frame.previewLength += keep;
    }
    frame.received += take;
    frame.remaining -= take;
    this.#offset += take;

    if (frame.assembling) {
      const invalid = this.#messages.data(plain, 0, plain.length, streamStart);
      if (invalid !== null) {
        frame.assembling = false;
        this.#addProblem(frame, invalid);
        if (this.#state === State.FAILED) {
          this.#emitFrame(frame, false);
          return end;
        }
      }
    } else if (info.control && frame.length7 <= 125) {
      frame.body.push(plain.slice());
    }

    if (frame.remaining === 0) this.#finishFrame(frame);
    return end;
  }

  #finishFrame(frame: FrameInProgress): void {
    let message: AssembledMessage | null = null;
    if (frame.assembling) {
      const done = this.#messages.endFrame(this.#offset);
      if (done.problem !== null) this.#addProblem(frame, done.problem);
      message = done.message;
    }
    const close = frame.opcode === 0x8 ? this.#checkClose(frame) : undefined;
    this.#emitFrame(frame, true, close);
    if (message !== null) this.#events.push({ kind: 'message', message });
    if (this.#state !== State.FAILED) this.#state = State.GET_INFO;
  }

  /** A close frame's body: a 2-byte status code, then a UTF-8 reason (RFC 6455 §5.5.1). */
  #checkClose(frame: FrameInProgress): AnnotatedFrame['close'] {
    if (frame.received < 2 || frame.length7 > 125) return undefined;
    const body = concat(frame.body, frame.received);
    const status = ((body[0] as number) << 8) | (body[1] as number);
    const bodyStart = frame.start + frame.headerLength;
    const verdict = describeCloseCode(status);
    if (!verdict.valid) {
      this.#addProblem(
        frame,
        problem(
          'invalid-close-code',
          1002,
          'RFC 6455 §7.4',
          bodyStart,
          `The close frame carries status code ${verdict.explanation}`,
        ),
      );
    }
    const reasonBytes = body.subarray(2);
    const invalid = validateUtf8(reasonBytes);
    if (invalid !== null) {
      this.#addProblem(
        frame,
        problem(
          'invalid-close-reason',
          1007,
          'RFC 6455 §5.5.1',
          bodyStart + 2 + (invalid.index < 0 ? reasonBytes.length : invalid.index),
          `The close reason must be valid UTF-8. ${invalid.explanation}`,
        ),
      );
    }
    return { code: status, reason: new TextDecoder().decode(reasonBytes) };
  }

  #addProblem(frame: FrameInProgress, found: Problem): void {
    const field = blamedField(found.rule, frame.lengthForm);
    const blamed = field === undefined ? found : { ...found, field };
    frame.problems.push(blamed);
    if (!blamed.fatal) return;
    if (this.#failure === null) this.#failure = blamed;
    if (!this.#continue) this.#state = State.FAILED;
  }

  #emitFrame(frame: FrameInProgress, complete: boolean, close?: AnnotatedFrame['close']): void {
    this.#frame = null;
    const wire = concat(frame.wire, frame.previewLength);
    const plain = frame.maskingKey === null ? wire : concat(frame.plain, frame.previewLength);
    const annotated: AnnotatedFrame = {
      index: frame.index,
      direction: this.#direction,
      streamOffset: frame.start,
      headerLength: frame.headerLength,
      header: frame.header,
      fin: frame.fin,
      rsv1: frame.rsv1,
      rsv2: frame.rsv2,
      rsv3: frame.rsv3,
      opcode: frame.opcode,
      opcodeName: describeOpcode(frame.opcode).name,
      mask: frame.mask,
      payloadLength: frame.payloadLength,
      lengthForm: frame.lengthForm,
      maskingKey: frame.maskingKey,
      payloadPreview: wire,
      unmaskedPreview: plain,
      payloadReceived: frame.received,
      complete,
      fields: this.#annotate(frame, wire),
      problems: frame.problems,
      ...(close !== undefined ? { close } : {}),
    };
    this.#events.push({ kind: 'frame', frame: annotated });
  }

  #annotate(frame: FrameInProgress, wire: Uint8Array): FieldAnnotation[] {
    const at = frame.start;
    const header = frame.header;
    const b0 = header[0] as number;
    const b1 = header[1] as number;
    const info = describeOpcode(frame.opcode);
    const flag = (
      name: 'fin' | 'rsv1' | 'rsv2' | 'rsv3',
      label: string,
      bit: number,
      set: boolean,
      meaning: string,
    ): FieldAnnotation => ({
      name,
      label,
      byteOffset: at,
      bitOffset: bit,
      bitWidth: 1,
      bits: set ? '1' : '0',
      value: set ? 1 : 0,
      meaning,
    });
    const rsvMeaning = (n: 1 | 2 | 3, set: boolean) =>
      !set
        ? `Reserved bit, 0 as required when no extension uses it (RFC 6455 §5.2).`
        : n === 1 && this.#rsvAllowed[0]
          ? 'Per-message compressed: the payload is DEFLATE-compressed (permessage-deflate, RFC 7692 §6).'
          : `Set, but no negotiated extension defines RSV${n}: a protocol error (RFC 6455 §5.2).`;
    const fields: FieldAnnotation[] = [
      flag(
        'fin',
        'FIN',
        0,
        frame.fin,
        frame.fin
          ? 'Final fragment: this frame ends its message (RFC 6455 §5.2).'
          : 'Not final: more fragments of this message follow (RFC 6455 §5.4).',
      ),
      flag('rsv1', 'RSV1', 1, frame.rsv1, rsvMeaning(1, frame.rsv1)),
      flag('rsv2', 'RSV2', 2, frame.rsv2, rsvMeaning(2, frame.rsv2)),
      flag('rsv3', 'RSV3', 3, frame.rsv3, rsvMeaning(3, frame.rsv3)),
      {
        name: 'opcode',
        label: 'opcode',
        byteOffset: at,
        bitOffset: 4,
        bitWidth: 4,
        bits: bits(b0).slice(4),
        value: frame.opcode,
        meaning: info.meaning,
      },
      {
        name: 'mask',
        label: 'MASK',
        byteOffset: at + 1,
        bitOffset: 0,
        bitWidth: 1,
        bits: frame.mask ? '1' : '0',
        value: frame.mask ? 1 : 0,
        meaning: frame.mask
          ? 'Masked: a 4-byte masking key follows the length, and the payload is XORed with it (RFC 6455 §5.3).'
          : 'Not masked: the payload is sent as is (servers never mask, RFC 6455 §5.1).',
      },
      {
        name: 'payloadLength',
        label: 'Payload len',
        byteOffset: at + 1,
        bitOffset: 1,
        bitWidth: 7,
        bits: bits(b1).slice(1),
        value: frame.length7,
        meaning:
          frame.length7 === 126
            ? '126: the real length is in the next 2 bytes, as a 16-bit unsigned integer (RFC 6455 §5.2).'
            : frame.length7 === 127
              ? '127: the real length is in the next 8 bytes, as a 64-bit unsigned integer (RFC 6455 §5.2).'
              : `The payload is ${frame.length7} byte${frame.length7 === 1 ? '' : 's'} long (7-bit form, for 0-125 bytes; RFC 6455 §5.2).`,
      },
    ];
    if (frame.lengthForm !== '7-bit') {
      const width = frame.lengthForm === '16-bit' ? 2 : 8;
      let raw = '';
      for (let i = 0; i < width; i++) raw += bits(header[2 + i] as number);
      fields.push({
        name: 'extendedPayloadLength',
        label: 'Extended payload length',
        byteOffset: at + 2,
        bitOffset: 0,
        bitWidth: width * 8,
        bits: raw,
        value:
          typeof frame.payloadLength === 'bigint'
            ? frame.payloadLength.toString()
            : frame.payloadLength,
        meaning: `The payload is ${frame.payloadLength} bytes long (${frame.lengthForm} form; RFC 6455 §5.2).`,
      });
    }
    if (frame.maskingKey !== null) {
      const key = frame.maskingKey;
      fields.push({
        name: 'maskingKey',
        label: 'Masking-key',
        byteOffset: at + frame.headerLength - 4,
        bitOffset: 0,
        bitWidth: 32,
        bits:
          bits(key[0] as number) +
          bits(key[1] as number) +
          bits(key[2] as number) +
          bits(key[3] as number),
        value: toHex(key),
        meaning:
          'Payload byte i is XORed with key byte i mod 4; the key is random per frame so the bytes on the wire cannot be chosen by a script (RFC 6455 §5.3, §10.3).',
      });
    }
    const length = frame.payloadLength;
    fields.push({
      name: 'payload',
      label: 'Payload data',
      byteOffset: at + frame.headerLength,
      bitOffset: 0,
      bitWidth: Number(length) * 8,
      bits: '',
      value: toHex(wire.subarray(0, 32), ' ') + (frame.received > 32 ? ' …' : ''),
      meaning: `${length} byte${length === 1 || length === 1n ? '' : 's'} of ${info.name === 'text' || info.name === 'continuation' ? 'message data' : `${info.name} payload`}${frame.mask ? ', masked' : ''}${frame.received < Number(length) ? `; ${frame.received} received` : ''}.`,
    });
    return fields;
  }
}

export interface ParseResult {
  readonly events: ParserEvent[];
  readonly frames: AnnotatedFrame[];
  readonly messages: AssembledMessage[];
  readonly failure: Problem | null;
}

/** Parses a complete byte string (for example pasted hex) and ends the stream. */
export function parseFrames(bytes: Uint8Array, options: FrameParserOptions): ParseResult {
  const parser = new FrameParser(options);
  const events = [...parser.push(bytes), ...parser.end()];
  const frames: AnnotatedFrame[] = [];
  const messages: AssembledMessage[] = [];
  for (const event of events) {
    if (event.kind === 'frame') frames.push(event.frame);
    else if (event.kind === 'message') messages.push(event.message);
  }
  return { events, frames, messages, failure: parser.failure };
}
