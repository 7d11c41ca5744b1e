/**
 * Message assembly: data frames into messages (RFC 6455 §5.4). A message is one frame with FIN
 * set, or a text/binary frame with FIN clear followed by continuation frames, the last with FIN
 * set. Control frames may arrive between fragments and are not part of the message (§5.4, §5.5).
 */
import { problem } from './problem.ts';
import type { AssembledMessage, Direction, Problem } from './types.ts';
import { Utf8Validator } from './utf8.ts';

export interface MessageAssemblerOptions {
  readonly direction: Direction;
  /** Largest message, in bytes, the endpoint accepts; past it the connection closes with 1009. */
  readonly maxPayload: number;
  /** Most frames one message may span; past it the connection closes with 1008. */
  readonly maxFragments: number;
  /** Payload bytes kept for the message preview. */
  readonly previewLimit: number;
}

interface OpenMessage {
  readonly type: 'text' | 'binary';
  readonly compressed: boolean;
  readonly frameIndices: number[];
  length: number;
  preview: Uint8Array[];
  previewLength: number;
}

const OPCODE_TEXT = 0x1;
const decoder = new TextDecoder();

export class MessageAssembler {
  readonly #options: MessageAssemblerOptions;
  readonly #utf8 = new Utf8Validator();
  #open: OpenMessage | null = null;
  /** The message the current data frame belongs to, once its header passed the checks. */
  #current: OpenMessage | null = null;
  #currentFin = false;

  constructor(options: MessageAssemblerOptions) {
    this.#options = options;
  }

  /** True while a fragmented message waits for its final fragment. */
  get inProgress(): boolean {
    return this.#open !== null;
  }

  /** True when the current frame's payload must be checked as UTF-8 through `text`. */
  get validatesText(): boolean {
    const message = this.#current;
    return message !== null && message.type === 'text' && !message.compressed;
  }

  /**
   * The fragmentation rules a data frame's opcode must follow (RFC 6455 §5.4), known from its
   * first byte alone. Returns the broken rule, or null.
   */
  checkStart(opcode: number, streamOffset: number): Problem | null {
    if (opcode === 0 && this.#open === null) {
      return problem(
        'continuation-without-start',
        1002,
        'RFC 6455 §5.4',
        streamOffset,
        'A continuation frame (opcode 0x0) arrived, but no fragmented message is in progress: a message must start with a text or binary frame.',
      );
    }
    if (opcode !== 0 && this.#open !== null) {
      return problem(
        'data-frame-inside-fragmented-message',
        1002,
        'RFC 6455 §5.4',
        streamOffset,
        `A new ${opcode === OPCODE_TEXT ? 'text' : 'binary'} frame arrived while a fragmented message still waits for its final fragment; only continuation frames (and control frames) may come in between.`,
      );
    }
    return null;
  }

  /**
   * Adds a data frame, whose opcode passed `checkStart`, once its length is known. Returns the
   * limits it breaks; when there are none, its payload may follow.
   */
  beginFrame(
    index: number,
    opcode: number,
    fin: boolean,
    compressed: boolean,
    payloadLength: number,
    streamOffset: number,
  ): Problem[] {
    const problems: Problem[] = [];
    const message: OpenMessage = this.#open ?? {
      type: opcode === OPCODE_TEXT ? 'text' : 'binary',
      compressed,
      frameIndices: [],
      length: 0,
      preview: [],
      previewLength: 0,
    };
    const total = message.length + payloadLength;
    if (total > this.#options.maxPayload) {
      problems.push(
        problem(
          'message-too-big',
          1009,
          'RFC 6455 §7.4.1',
          streamOffset,
          `This frame brings the message to ${total} bytes, over this endpoint's limit of ${this.#options.maxPayload}; it closes with 1009 before reading the payload.`,
        ),
      );
    }
    if (message.frameIndices.length + 1 > this.#options.maxFragments) {
      problems.push(
        problem(
          'too-many-fragments',
          1008,
          'RFC 6455 §7.4.1',
          streamOffset,
          `This message already spans ${message.frameIndices.length} frames, the most this endpoint allows; endless tiny fragments are a way to exhaust memory, so it closes with 1008.`,
        ),
      );
    }
    if (problems.length > 0) {
      this.#current = null;
      return problems;
    }
    if (this.#open === null) this.#utf8.reset();
    message.frameIndices.push(index);
    message.length = total;
    this.#open = message;
    this.#current = message;
    this.#currentFin = fin;
    return problems;
  }

  /**
   * Unmasked payload bytes `bytes[start, end)` of the current text frame, which start at
   * `streamOffset`. Returns a problem when they make the text invalid UTF-8 (RFC 6455 §8.1).
   */
  text(bytes: Uint8Array, start: number, end: number, streamOffset: number): Problem | null {
    const error = this.#utf8.push(bytes, start, end);
    if (error === null) return null;
    this.#current = null;
    return problem(
      'invalid-utf8',
      1007,
      'RFC 6455 §8.1',
      streamOffset + (error.index - start),
      `A text message must be valid UTF-8. ${error.explanation}`,
    );
  }

  /**
   * The current data frame ended at `streamOffset`; `preview` is its unmasked payload preview.
   * Returns the finished message when this was its final fragment, or a problem when the text
   * stopped inside a character.
   */
  endFrame(
    preview: Uint8Array,
    streamOffset: number,
  ): { message: AssembledMessage | null; problem: Problem | null } {
    const message = this.#current;
    this.#current = null;
    if (message === null) return { message: null, problem: null };
    const room = this.#options.previewLimit - message.previewLength;
    if (room > 0 && preview.length > 0) {
      const piece = preview.length <= room ? preview : preview.subarray(0, room);
      message.preview.push(piece);
      message.previewLength += piece.length;
    }
    if (!this.#currentFin) return { message: null, problem: null };
    this.#open = null;
    let error: Problem | null = null;
    const text = message.type === 'text' && !message.compressed;
    if (text) {
      const tail = this.#utf8.end();
      if (tail !== null) {
        error = problem(
          'invalid-utf8',
          1007,
          'RFC 6455 §8.1',
          streamOffset,
          `A text message must be valid UTF-8. ${tail.explanation}`,
        );
      }
    }
    const bytes = concat(message.preview, message.previewLength);
    const assembled: AssembledMessage = {
      direction: this.#options.direction,
      type: message.type,
      frameIndices: message.frameIndices,
      length: message.length,
      preview: bytes,
      compressed: message.compressed,
      ...(text ? { text: decoder.decode(bytes) } : {}),
    };
    return { message: assembled, problem: error };
  }
}

/** The pieces joined; a single piece is returned as it is. */
export function concat(pieces: readonly Uint8Array[], length: number): Uint8Array {
  if (pieces.length === 1) return pieces[0] as Uint8Array;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
