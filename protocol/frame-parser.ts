/**
 * The incremental frame parser: an explicit state machine over RFC 6455 §5.2's base framing.
 *
 *   GET_INFO               first two bytes: FIN, RSV1-3, opcode | MASK, Payload len
 *   GET_PAYLOAD_LENGTH_16  Payload len was 126: the length is the next 2 bytes
 *   GET_PAYLOAD_LENGTH_64  Payload len was 127: the length is the next 8 bytes
 *   GET_MASK               MASK was 1: the 4-byte masking key
 *   GET_DATA               the payload
 *   CLOSED                 a close frame arrived: what follows is discarded (RFC 6455 §1.4)
 *   FAILED                 a fatal problem was found; a real endpoint stops reading here
 *
 * Bytes may arrive in any chunking, one at a time included; every state consumes what it needs
 * and waits for more otherwise. Each rule is judged as soon as the bytes it needs are in, as
 * ws's receiver does: the first two bytes decide masking, opcode and RSV rules, the length
 * decides size limits, before any payload is read. Bad bytes become Problems on the frame, never
 * exceptions, and a claimed length is never allocated: payload bytes are kept only up to the
 * preview limit.
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
  /**
   * Receives each event as soon as it happens, instead of `push` returning them in an array:
   * a long run of small frames then never piles up in memory.
   */
  readonly onEvent?: (event: ParserEvent) => void;
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
  CLOSED: 5,
  FAILED: 6,
} as const;
type State = (typeof State)[keyof typeof State];

// Everything a frame's annotation says that does not depend on the frame is built once here:
// a parser annotates every frame, so per-frame work is kept to what differs.
const BITS8 = Array.from({ length: 256 }, (_, byte) => byte.toString(2).padStart(8, '0'));
const BITS4 = BITS8.slice(0, 16).map((bits) => bits.slice(4));
const BITS7 = BITS8.slice(0, 128).map((bits) => bits.slice(1));
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
const FIN_MEANING = [
  'Not final: more fragments of this message follow (RFC 6455 §5.4).',
  'Final fragment: this frame ends its message (RFC 6455 §5.2).',
];
const RSV_CLEAR = 'Reserved bit, 0 as required when no extension uses it (RFC 6455 §5.2).';
const RSV1_COMPRESSED =
  'Per-message compressed: the payload is DEFLATE-compressed (permessage-deflate, RFC 7692 §6).';
const RSV_SET = [1, 2, 3].map(
  (n) => `Set, but no negotiated extension defines RSV${n}: a protocol error (RFC 6455 §5.2).`,
);
const MASK_MEANING = [
  'Not masked: the payload is sent as is (servers never mask, RFC 6455 §5.1).',
  'Masked: a 4-byte masking key follows the length, and the payload is XORed with it (RFC 6455 §5.3).',
];
const LENGTH7_MEANING = Array.from({ length: 128 }, (_, n) =>
  n === 126
    ? '126: the real length is in the next 2 bytes, as a 16-bit unsigned integer (RFC 6455 §5.2).'
    : n === 127
      ? '127: the real length is in the next 8 bytes, as a 64-bit unsigned integer (RFC 6455 §5.2).'
      : `The payload is ${n} byte${n === 1 ? '' : 's'} long (7-bit form, for 0-125 bytes; RFC 6455 §5.2).`,
);
const KEY_MEANING =
  'Payload byte i is XORed with key byte i mod 4; the key is random per frame so the bytes on the wire cannot be chosen by a script (RFC 6455 §5.3, §10.3).';
const EMPTY = new Uint8Array(0);
/** Payload bytes shown in the payload field's value; the full preview is on the frame. */
const VALUE_BYTES = 32;

export function toHex(bytes: Uint8Array, separator = ''): string {
  // Concatenating two characters at a time builds a rope of hundreds of small strings, all of
  // them garbage once the string is flattened; for previews, write the digits once and decode.
  if (separator === '' && bytes.length > 16) return hexDigits(bytes);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) out += separator;
    out += HEX[bytes[i] as number];
  }
  return out;
}

const DIGIT_CODES = new TextEncoder().encode('0123456789abcdef');
const ASCII = new TextDecoder();

function hexDigits(bytes: Uint8Array): string {
  const digits = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    digits[2 * i] = DIGIT_CODES[byte >> 4] as number;
    digits[2 * i + 1] = DIGIT_CODES[byte & 15] as number;
  }
  return ASCII.decode(digits);
}

/**
 * A plain Uint8Array over the same bytes. A Node Buffer's `slice` returns a view, not a copy, so
 * previews cut from a caller's Buffer would change when the caller reuses it.
 */
function plainBytes(chunk: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(chunk) === Uint8Array.prototype
    ? chunk
    : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** `length` bytes of `bytes` from `from`, copied (a loop: `slice` is slower on a few bytes). */
function copyOf(bytes: Uint8Array, length: number, from = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = bytes[from + i] as number;
  return out;
}

/** What the parser knows about the frame whose header or payload it is reading. */
interface FrameInProgress {
  readonly index: number;
  readonly start: number;
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly control: boolean;
  /** The 7-bit Payload len field. */
  readonly length7: number;
  readonly lengthForm: LengthForm;
  readonly headerLength: number;
  payloadLength: number | bigint;
  /** Bytes still to read; a Number even for absurd 64-bit claims, which never complete anyway. */
  remaining: number;
  /** The header bytes as they crossed the wire (fewer when the frame failed early). */
  header: Uint8Array;
  maskingKey: Uint8Array | null;
  received: number;
  /** Payload bytes kept for the previews: control frames whole (at most 125), others up to the limit. */
  readonly keepLimit: number;
  kept: number;
  readonly wire: Uint8Array[];
  readonly plain: Uint8Array[];
  /** Data frames feed the message assembler once its checks passed. */
  assembling: boolean;
  /** The payload is text to validate as UTF-8. */
  validatesText: boolean;
  readonly problems: Problem[];
}

export class FrameParser {
  readonly #direction: Direction;
  readonly #maxPayload: number;
  readonly #previewLimit: number;
  readonly #rsvAllowed: readonly [boolean, boolean, boolean];
  readonly #continue: boolean;
  readonly #messages: MessageAssembler;
  readonly #onEvent: ((event: ParserEvent) => void) | undefined;

  #state: State = State.GET_INFO;
  /** Header bytes gathered so far; a header is at most 14 bytes (2 + 8 + 4). */
  readonly #header = new Uint8Array(14);
  #headerHave = 0;
  #frame: FrameInProgress | null = null;
  #frameCount = 0;
  #offset = 0;
  #failure: Problem | null = null;
  #events: ParserEvent[] = [];
  #afterClose = false;
  /** Reused to unmask text beyond the preview for UTF-8 validation. */
  #scratch: Uint8Array = EMPTY;

  constructor(options: FrameParserOptions) {
    this.#direction = options.direction;
    this.#maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.#previewLimit = options.previewLimit ?? DEFAULT_PREVIEW_LIMIT;
    const ext = options.extensions ?? {};
    this.#rsvAllowed = [ext.rsv1 === true, ext.rsv2 === true, ext.rsv3 === true];
    this.#continue = options.continueAfterFailure === true;
    this.#offset = options.startOffset ?? 0;
    this.#onEvent = options.onEvent;
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
    const bytes = plainBytes(chunk);
    let at = 0;
    while (at < bytes.length) {
      switch (this.#state) {
        case State.GET_INFO:
          at = this.#gather(bytes, at, 2, this.#getInfo);
          break;
        case State.GET_PAYLOAD_LENGTH_16:
          at = this.#gather(bytes, at, 4, this.#getPayloadLength16);
          break;
        case State.GET_PAYLOAD_LENGTH_64:
          at = this.#gather(bytes, at, 10, this.#getPayloadLength64);
          break;
        case State.GET_MASK:
          at = this.#gather(
            bytes,
            at,
            (this.#frame as FrameInProgress).headerLength,
            this.#getMask,
          );
          break;
        case State.GET_DATA:
          at = this.#getData(bytes, at);
          break;
        case State.CLOSED:
          at = this.#discard(bytes, at);
          break;
        case State.FAILED:
          return this.#drain();
      }
    }
    return this.#drain();
  }

  /** The stream ended (the peer's FIN, or the end of pasted bytes). */
  end(): ParserEvent[] {
    const frame = this.#frame;
    if (this.#state === State.FAILED || this.#state === State.CLOSED) {
      // Nothing more to say: a failure was reported, or a close frame ended the conversation.
    } else if (frame !== null && this.#state === State.GET_DATA) {
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
      this.#emit({
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
      this.#emit({
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

  #emit(event: ParserEvent): void {
    if (this.#onEvent !== undefined) this.#onEvent(event);
    else this.#events.push(event);
  }

  #drain(): ParserEvent[] {
    if (this.#events.length === 0) return [];
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #headerNeeded(): number {
    if (this.#headerHave < 2) return 2;
    const b1 = this.#header[1] as number;
    const length7 = b1 & 0x7f;
    return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
  }

  /**
   * Copies header bytes until `need` are gathered, then runs the state's step. Never waits for
   * more bytes than the state needs (the payload is not touched here).
   */
  #gather(chunk: Uint8Array, at: number, need: number, step: () => void): number {
    const take = Math.min(need - this.#headerHave, chunk.length - at);
    for (let i = 0; i < take; i++) this.#header[this.#headerHave + i] = chunk[at + i] as number;
    this.#headerHave += take;
    this.#offset += take;
    if (this.#headerHave === need) step.call(this);
    return at + take;
  }

  /** FIN, RSV1-3, opcode, MASK and the 7-bit length are in: every rule they alone decide. */
  #getInfo(): void {
    const b0 = this.#header[0] as number;
    const b1 = this.#header[1] as number;
    const length7 = b1 & 0x7f;
    const mask = (b1 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const control = opcode >= 0x8;
    const frame: FrameInProgress = {
      index: this.#frameCount++,
      start: this.#offset - 2,
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode,
      mask,
      control,
      length7,
      lengthForm: length7 === 126 ? '16-bit' : length7 === 127 ? '64-bit' : '7-bit',
      headerLength: 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (mask ? 4 : 0),
      payloadLength: length7,
      remaining: length7,
      header: EMPTY,
      maskingKey: null,
      received: 0,
      keepLimit: control && length7 <= 125 ? 125 : this.#previewLimit,
      kept: 0,
      wire: [],
      plain: [],
      assembling: false,
      validatesText: false,
      problems: [],
    };
    this.#frame = frame;
    if (this.#afterClose) {
      this.#addProblem(
        frame,
        problem(
          'data-after-close',
          null,
          'RFC 6455 §1.4',
          frame.start,
          'This frame follows a close frame; a receiver discards everything after the close frame.',
          false,
        ),
      );
    }
    this.#checkInfo(frame);
    if (this.#stopEarly(frame)) return;
    if (length7 === 126) this.#state = State.GET_PAYLOAD_LENGTH_16;
    else if (length7 === 127) this.#state = State.GET_PAYLOAD_LENGTH_64;
    else this.#lengthKnown(frame);
  }

  #checkInfo(frame: FrameInProgress): void {
    const info = opcodeInfo[frame.opcode] as OpcodeInfo;
    const at = frame.start;
    if (frame.rsv1 || frame.rsv2 || frame.rsv3) {
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
            `A ${info.name} frame is a control frame, and control frames carry at most 125 payload bytes; its length field is ${frame.length7}, which announces a longer payload.`,
          ),
        );
      }
      if (frame.opcode === 0x8 && frame.length7 === 1) {
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
      const broken = this.#messages.checkStart(frame.opcode, at);
      if (broken !== null) this.#addProblem(frame, broken);
      else frame.assembling = true;
    }
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
    if (!this.#stopEarly(frame)) this.#lengthKnown(frame);
  }

  #getPayloadLength64(): void {
    const frame = this.#frame as FrameInProgress;
    const h = this.#header;
    const high =
      (((h[2] as number) << 24) |
        ((h[3] as number) << 16) |
        ((h[4] as number) << 8) |
        (h[5] as number)) >>>
      0;
    const low =
      (((h[6] as number) << 24) |
        ((h[7] as number) << 16) |
        ((h[8] as number) << 8) |
        (h[9] as number)) >>>
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
    if (!this.#stopEarly(frame)) this.#lengthKnown(frame);
  }

  /** The length is known: the size limits of a data message are decided before any payload. */
  #lengthKnown(frame: FrameInProgress): void {
    if (frame.assembling) {
      const limit =
        typeof frame.payloadLength === 'bigint' ? Number.POSITIVE_INFINITY : frame.payloadLength;
      const compressed = frame.rsv1 && this.#rsvAllowed[0];
      const broken = this.#messages.beginFrame(
        frame.index,
        frame.opcode,
        frame.fin,
        compressed,
        limit,
        frame.start,
      );
      for (const p of broken) this.#addProblem(frame, p);
      frame.assembling = broken.length === 0;
      frame.validatesText = frame.assembling && this.#messages.validatesText;
      if (this.#stopEarly(frame)) return;
    }
    if (frame.mask) this.#state = State.GET_MASK;
    else this.#headerDone(frame);
  }

  #getMask(): void {
    const frame = this.#frame as FrameInProgress;
    this.#headerDone(frame);
  }

  /** The whole header is in. */
  #headerDone(frame: FrameInProgress): void {
    frame.header = copyOf(this.#header, frame.headerLength);
    if (frame.mask) frame.maskingKey = frame.header.subarray(frame.headerLength - 4);
    this.#headerHave = 0;
    if (frame.remaining === 0) this.#finishFrame(frame);
    else this.#state = State.GET_DATA;
  }

  /** After a fatal problem a real endpoint stops; the frame is reported as far as it was read. */
  #stopEarly(frame: FrameInProgress): boolean {
    if (this.#state !== State.FAILED) return false;
    frame.header = copyOf(this.#header, this.#headerHave);
    this.#headerHave = 0;
    this.#emitFrame(frame, false);
    return true;
  }

  #getData(chunk: Uint8Array, at: number): number {
    const frame = this.#frame as FrameInProgress;
    const take = Math.min(frame.remaining, chunk.length - at);
    const end = at + take;
    const streamStart = this.#offset;
    const key = frame.maskingKey;
    const phase = frame.received;
    // Keep what the previews show; binary payload past them is counted, not copied.
    const keep = Math.min(take, frame.keepLimit - frame.kept);
    let plain: Uint8Array = EMPTY;
    if (keep > 0) {
      const wire = keep <= 64 ? copyOf(chunk, keep, at) : chunk.slice(at, at + keep);
      plain = key === null ? wire : unmask(wire, 0, keep, key, phase, new Uint8Array(keep));
      frame.wire.push(wire);
      frame.plain.push(plain);
      frame.kept += keep;
    }
    frame.received += take;
    frame.remaining -= take;
    this.#offset += take;

    if (frame.validatesText) {
      let invalid = keep > 0 ? this.#messages.text(plain, 0, keep, streamStart) : null;
      if (invalid === null && take > keep) {
        let rest = chunk;
        let from = at + keep;
        if (key !== null) {
          if (this.#scratch.length < take - keep)
            this.#scratch = new Uint8Array(Math.max(take - keep, 4096));
          rest = unmask(chunk, from, end, key, phase + keep, this.#scratch);
          from = 0;
        }
        invalid = this.#messages.text(rest, from, from + take - keep, streamStart + keep);
      }
      if (invalid !== null) {
        frame.assembling = false;
        frame.validatesText = false;
        this.#addProblem(frame, invalid);
        if (this.#state === State.FAILED) {
          this.#emitFrame(frame, false);
          return end;
        }
      }
    }

    if (frame.remaining === 0) this.#finishFrame(frame);
    return end;
  }

  /** Bytes after a close frame: a receiver discards them (RFC 6455 §1.4). */
  #discard(chunk: Uint8Array, at: number): number {
    if (!this.#afterClose) {
      this.#afterClose = true;
      this.#emit({
        kind: 'problem',
        problem: problem(
          'data-after-close',
          null,
          'RFC 6455 §1.4',
          this.#offset,
          'Bytes arrived after the close frame; a receiver discards everything that follows a close frame, so they are not read.',
          false,
        ),
      });
    }
    this.#offset += chunk.length - at;
    return chunk.length;
  }

  #finishFrame(frame: FrameInProgress): void {
    const plain = concat(frame.plain, frame.kept);
    let message: AssembledMessage | null = null;
    if (frame.assembling) {
      const done = this.#messages.endFrame(plain, this.#offset);
      if (done.problem !== null) this.#addProblem(frame, done.problem);
      message = done.message;
    }
    const close = frame.opcode === 0x8 ? this.#checkClose(frame, plain) : undefined;
    this.#emitFrame(frame, true, close, plain);
    if (message !== null) this.#emit({ kind: 'message', message });
    if (this.#state === State.FAILED) return;
    if (frame.opcode === 0x8 && !this.#continue) this.#state = State.CLOSED;
    else {
      if (frame.opcode === 0x8) this.#afterClose = true;
      this.#state = State.GET_INFO;
    }
  }

  /** A close frame's body: a 2-byte status code, then a UTF-8 reason (RFC 6455 §5.5.1). */
  #checkClose(frame: FrameInProgress, body: Uint8Array): AnnotatedFrame['close'] {
    if (frame.received < 2 || frame.length7 > 125) return undefined;
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
          `The close frame carries a status code that may not be sent: ${verdict.explanation}`,
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
    return { code: status, reason: decoder.decode(reasonBytes) };
  }

  #addProblem(frame: FrameInProgress, found: Problem): void {
    const field = blamedField(found.rule, frame.lengthForm);
    const blamed = field === undefined ? found : { ...found, field };
    frame.problems.push(blamed);
    if (!blamed.fatal) return;
    if (this.#failure === null) this.#failure = blamed;
    if (!this.#continue) this.#state = State.FAILED;
  }

  #emitFrame(
    frame: FrameInProgress,
    complete: boolean,
    close?: AnnotatedFrame['close'],
    plainPreview?: Uint8Array,
  ): void {
    this.#frame = null;
    const wire = concat(frame.wire, frame.kept);
    const plain =
      frame.maskingKey === null ? wire : (plainPreview ?? concat(frame.plain, frame.kept));
    const keep = Math.min(frame.kept, this.#previewLimit);
    const annotated = new Frame(
      frame,
      this.#direction,
      complete,
      keep < wire.length ? wire.subarray(0, keep) : wire,
      keep < plain.length ? plain.subarray(0, keep) : plain,
      wire,
      this.#rsvAllowed[0],
      close,
    );
    this.#emit({ kind: 'frame', frame: annotated });
  }
}

/**
 * A parsed frame. Its field annotations are built when first read: the lab server's tap parses
 * every frame to gate the bytes, but annotates only when someone is watching. A class, not an
 * object literal with a getter, which V8 builds on a slow path.
 */
class Frame implements AnnotatedFrame {
  readonly index: number;
  readonly direction: Direction;
  readonly streamOffset: number;
  readonly headerLength: number;
  readonly header: Uint8Array;
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly opcode: number;
  readonly opcodeName: string;
  readonly mask: boolean;
  readonly payloadLength: number | bigint;
  readonly lengthForm: LengthForm;
  readonly maskingKey: Uint8Array | null;
  readonly payloadPreview: Uint8Array;
  readonly unmaskedPreview: Uint8Array;
  readonly payloadReceived: number;
  readonly complete: boolean;
  readonly problems: readonly Problem[];
  declare readonly close?: { readonly code: number | null; readonly reason: string };
  readonly #source: FrameInProgress;
  readonly #wire: Uint8Array;
  readonly #rsv1Compressed: boolean;
  #fields: FieldAnnotation[] | undefined;

  constructor(
    frame: FrameInProgress,
    direction: Direction,
    complete: boolean,
    payloadPreview: Uint8Array,
    unmaskedPreview: Uint8Array,
    wire: Uint8Array,
    rsv1Compressed: boolean,
    close: AnnotatedFrame['close'] | undefined,
  ) {
    this.index = frame.index;
    this.direction = direction;
    this.streamOffset = frame.start;
    this.headerLength = frame.headerLength;
    this.header = frame.header;
    this.fin = frame.fin;
    this.rsv1 = frame.rsv1;
    this.rsv2 = frame.rsv2;
    this.rsv3 = frame.rsv3;
    this.opcode = frame.opcode;
    this.opcodeName = (opcodeInfo[frame.opcode] as OpcodeInfo).name;
    this.mask = frame.mask;
    this.payloadLength = frame.payloadLength;
    this.lengthForm = frame.lengthForm;
    this.maskingKey = frame.maskingKey;
    this.payloadPreview = payloadPreview;
    this.unmaskedPreview = unmaskedPreview;
    this.payloadReceived = frame.received;
    this.complete = complete;
    this.problems = frame.problems;
    if (close !== undefined) (this as { close?: AnnotatedFrame['close'] }).close = close;
    this.#source = frame;
    this.#wire = wire;
    this.#rsv1Compressed = rsv1Compressed;
  }

  get fields(): readonly FieldAnnotation[] {
    this.#fields ??= annotate(this.#source, this.#wire, this.#rsv1Compressed);
    return this.#fields;
  }

  /** JSON carries the fields too, as a plain data object would. */
  toJSON(): AnnotatedFrame {
    return { ...this, fields: this.fields };
  }
}

function annotate(
  frame: FrameInProgress,
  wire: Uint8Array,
  rsv1Compressed: boolean,
): FieldAnnotation[] {
  const at = frame.start;
  // At least the first two header bytes are in, even for a frame that failed early.
  const b0 = frame.header[0] as number;
  const b1 = frame.header[1] as number;
  const fields: FieldAnnotation[] = [
    flag('fin', 'FIN', at, 0, frame.fin, FIN_MEANING[frame.fin ? 1 : 0] as string),
    flag('rsv1', 'RSV1', at, 1, frame.rsv1, rsvMeaning(rsv1Compressed, 0, frame.rsv1)),
    flag('rsv2', 'RSV2', at, 2, frame.rsv2, rsvMeaning(rsv1Compressed, 1, frame.rsv2)),
    flag('rsv3', 'RSV3', at, 3, frame.rsv3, rsvMeaning(rsv1Compressed, 2, frame.rsv3)),
    {
      name: 'opcode',
      label: 'opcode',
      byteOffset: at,
      bitOffset: 4,
      bitWidth: 4,
      bits: BITS4[b0 & 0x0f] as string,
      value: frame.opcode,
      meaning: (opcodeInfo[frame.opcode] as OpcodeInfo).meaning,
    },
    {
      name: 'mask',
      label: 'MASK',
      byteOffset: at + 1,
      bitOffset: 0,
      bitWidth: 1,
      bits: frame.mask ? '1' : '0',
      value: frame.mask ? 1 : 0,
      meaning: MASK_MEANING[frame.mask ? 1 : 0] as string,
    },
    {
      name: 'payloadLength',
      label: 'Payload len',
      byteOffset: at + 1,
      bitOffset: 1,
      bitWidth: 7,
      bits: BITS7[b1 & 0x7f] as string,
      value: frame.length7,
      meaning: LENGTH7_MEANING[frame.length7] as string,
    },
  ];
  const header = frame.header;
  const extended = frame.lengthForm === '7-bit' ? 0 : frame.lengthForm === '16-bit' ? 2 : 8;
  if (extended > 0 && header.length >= 2 + extended) {
    let raw = '';
    for (let i = 0; i < extended; i++) raw += BITS8[header[2 + i] as number];
    fields.push({
      name: 'extendedPayloadLength',
      label: 'Extended payload length',
      byteOffset: at + 2,
      bitOffset: 0,
      bitWidth: extended * 8,
      bits: raw,
      value:
        typeof frame.payloadLength === 'bigint'
          ? frame.payloadLength.toString()
          : frame.payloadLength,
      meaning: `The payload is ${frame.payloadLength} bytes long (${frame.lengthForm} form; RFC 6455 §5.2).`,
    });
  }
  const key = frame.maskingKey;
  if (key !== null) {
    const k0 = key[0] as number;
    const k1 = key[1] as number;
    const k2 = key[2] as number;
    const k3 = key[3] as number;
    fields.push({
      name: 'maskingKey',
      label: 'Masking-key',
      byteOffset: at + frame.headerLength - 4,
      bitOffset: 0,
      bitWidth: 32,
      bits: `${BITS8[k0]}${BITS8[k1]}${BITS8[k2]}${BITS8[k3]}`,
      value: `${HEX[k0]}${HEX[k1]}${HEX[k2]}${HEX[k3]}`,
      meaning: KEY_MEANING,
    });
  }
  if (header.length === frame.headerLength) {
    const length = frame.payloadLength;
    const shown = wire.length > VALUE_BYTES ? wire.subarray(0, VALUE_BYTES) : wire;
    const kind = frame.control
      ? `${(opcodeInfo[frame.opcode] as OpcodeInfo).name} payload`
      : 'message data';
    fields.push({
      name: 'payload',
      label: 'Payload data',
      byteOffset: at + frame.headerLength,
      bitOffset: 0,
      bitWidth: Number(length) * 8,
      bits: '',
      value: toHex(shown, ' ') + (frame.received > VALUE_BYTES ? ' …' : ''),
      meaning: `${length} byte${length === 1 || length === 1n ? '' : 's'} of ${kind}${frame.mask ? ', masked' : ''}${frame.received < Number(length) ? `; ${frame.received} received` : ''}.`,
    });
  }
  return fields;
}

function rsvMeaning(rsv1Compressed: boolean, i: 0 | 1 | 2, set: boolean): string {
  if (!set) return RSV_CLEAR;
  return i === 0 && rsv1Compressed ? RSV1_COMPRESSED : (RSV_SET[i] as string);
}
const decoder = new TextDecoder();

function flag(
  name: 'fin' | 'rsv1' | 'rsv2' | 'rsv3',
  label: string,
  byteOffset: number,
  bitOffset: number,
  set: boolean,
  meaning: string,
): FieldAnnotation {
  return {
    name,
    label,
    byteOffset,
    bitOffset,
    bitWidth: 1,
    bits: set ? '1' : '0',
    value: set ? 1 : 0,
    meaning,
  };
}

/** XORs `src[from, to)` with the masking key starting at key index `phase`, into `out` (RFC 6455 §5.3). */
function unmask(
  src: Uint8Array,
  from: number,
  to: number,
  key: Uint8Array,
  phase: number,
  out: Uint8Array,
): Uint8Array {
  const k0 = key[phase & 3] as number;
  const k1 = key[(phase + 1) & 3] as number;
  const k2 = key[(phase + 2) & 3] as number;
  const k3 = key[(phase + 3) & 3] as number;
  const n = to - from;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    out[i] = (src[from + i] as number) ^ k0;
    out[i + 1] = (src[from + i + 1] as number) ^ k1;
    out[i + 2] = (src[from + i + 2] as number) ^ k2;
    out[i + 3] = (src[from + i + 3] as number) ^ k3;
  }
  for (; i < n; i++) out[i] = (src[from + i] as number) ^ (key[(phase + i) & 3] as number);
  return out;
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
