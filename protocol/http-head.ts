/**
 * An incremental HTTP/1.1 message-head parser (RFC 9112): it knows when the header block ends,
 * however the bytes are chunked, and enforces size and count limits as the bytes arrive. Used for
 * the upgrade request a server reads and the response a client reads (RFC 6455 §4).
 */
import type { Problem } from './types.ts';

export interface HeaderField {
  /** The name as it was sent. */
  readonly name: string;
  /** Field names are case-insensitive (RFC 9110 §5.1); compare this one. */
  readonly lowerName: string;
  /** The value with leading and trailing whitespace (OWS) removed (RFC 9112 §5). */
  readonly value: string;
  /** Offset in the stream of the first byte of the field line. */
  readonly byteOffset: number;
}

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** e.g. `HTTP/1.1`. */
  readonly version: string;
  readonly headers: readonly HeaderField[];
  /** Non-fatal problems noticed while parsing, e.g. bare LF line endings. */
  readonly notes: readonly Problem[];
}

export interface ResponseHead {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly HeaderField[];
  readonly notes: readonly Problem[];
}

export type HeadKind = 'request' | 'response';
export type HeadOf<K extends HeadKind> = K extends 'request' ? RequestHead : ResponseHead;

export type HeadParseResult<H = RequestHead | ResponseHead> =
  | { readonly state: 'need-more' }
  | {
      readonly state: 'complete';
      readonly head: H;
      /** Bytes from the start of the stream up to and including the blank line. */
      readonly headLength: number;
      /** The bytes of the last chunk that follow the head, e.g. frames sent right after a 101. */
      readonly rest: Uint8Array;
    }
  | {
      readonly state: 'error';
      readonly problem: Problem;
      /** What a server answers: 400 Bad Request, or 431 when a limit was hit (RFC 6585 §5). */
      readonly status: 400 | 431;
    };

type HeadError = Extract<HeadParseResult, { readonly state: 'error' }>;

export interface HttpHeadParserOptions<K extends HeadKind> {
  readonly kind: K;
  /** Most bytes the head may take, blank line included. */
  readonly maxHeaderBytes?: number;
  /** Most header field lines. */
  readonly maxHeaders?: number;
}

const LF = 0x0a;
const NEED_MORE = { state: 'need-more' } as const;
export const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
export const TOKEN = new RegExp(`^${TCHAR}+$`);
const REQUEST_LINE = /^([^ ]*) ([!-~]+) (HTTP\/\d\.\d)$/;
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: ([^\0]*))?$/;

/**
 * Reads an HTTP/1.1 head as the bytes arrive, one line at a time: only the bytes of the line not
 * yet ended are kept, so a head fed one byte at a time costs no rescanning, and the limits are
 * checked before the bytes that break them are even stored.
 */
export class HttpHeadParser<K extends HeadKind> {
  readonly kind: K;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  private line = new Uint8Array(128);
  private lineLength = 0;
  private lineStart = 0;
  private offset = 0;
  private startLine:
    | Omit<RequestHead, 'headers' | 'notes'>
    | Omit<ResponseHead, 'headers' | 'notes'>
    | undefined;
  private readonly headers: HeaderField[] = [];
  private readonly notes: Problem[] = [];
  private failure: HeadError | undefined;
  private done = false;

  constructor({ kind, maxHeaderBytes = 8192, maxHeaders = 100 }: HttpHeadParserOptions<K>) {
    if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 1) {
      throw new RangeError(`maxHeaderBytes must be a positive integer, got ${maxHeaderBytes}`);
    }
    if (!Number.isSafeInteger(maxHeaders) || maxHeaders < 0) {
      throw new RangeError(`maxHeaders must be a non-negative integer, got ${maxHeaders}`);
    }
    this.kind = kind;
    this.maxHeaderBytes = maxHeaderBytes;
    this.maxHeaders = maxHeaders;
  }

  push(chunk: Uint8Array): HeadParseResult<HeadOf<K>> {
    if (this.done) {
      throw new Error('HttpHeadParser: the head is complete; later bytes are not HTTP');
    }
    if (this.failure) return this.failure;
    let from = 0;
    while (from < chunk.length) {
      const lf = chunk.indexOf(LF, from);
      const end = lf === -1 ? chunk.length : lf + 1;
      if (this.offset + (end - from) > this.maxHeaderBytes) {
        return this.fail(
          431,
          'http-head-too-large',
          'RFC 6585 §5',
          this.maxHeaderBytes,
          `The head is still not over after ${this.maxHeaderBytes} bytes, the most this parser accepts; a server answers 431 Request Header Fields Too Large rather than buffer without bound.`,
        );
      }
      this.append(chunk.subarray(from, lf === -1 ? end : lf));
      this.offset += end - from;
      from = end;
      if (lf === -1) break;
      const outcome = this.endLine();
      if (outcome?.state === 'complete') {
        this.done = true;
        const head = outcome.head as HeadOf<K>;
        return { state: 'complete', head, headLength: this.offset, rest: chunk.slice(from) };
      }
      if (outcome) return outcome;
    }
    return NEED_MORE;
  }

  private append(bytes: Uint8Array): void {
    const needed = this.lineLength + bytes.length;
    if (needed > this.line.length) {
      const grown = new Uint8Array(Math.max(needed, this.line.length * 2));
      grown.set(this.line.subarray(0, this.lineLength));
      this.line = grown;
    }
    this.line.set(bytes, this.lineLength);
    this.lineLength = needed;
  }

  private endLine():
    | { state: 'complete'; head: RequestHead | ResponseHead }
    | HeadError
    | undefined {
    const start = this.lineStart;
    let text = latin1(this.line.subarray(0, this.lineLength));
    this.lineStart = this.offset;
    this.lineLength = 0;
    if (text.endsWith('\r')) {
      text = text.slice(0, -1);
    } else if (!this.notes.some((note) => note.rule === 'http-bare-lf')) {
      this.notes.push({
        rule: 'http-bare-lf',
        closeCode: null,
        section: 'RFC 9112 §2.2',
        byteOffset: start + text.length,
        explanation:
          'This line ends with a bare LF instead of CRLF. HTTP/1.1 lets a recipient accept it, but a sender must end every line with CRLF (bytes 0d 0a).',
        fatal: false,
      });
    }
    const cr = text.indexOf('\r');
    if (cr !== -1) {
      return this.fail(
        400,
        'http-bare-cr',
        'RFC 9112 §2.2',
        start + cr,
        'A CR (0d) appears inside a line without an LF after it; a bare CR is invalid in an HTTP head because parsers disagree on it, which is how requests get smuggled.',
      );
    }
    if (this.startLine === undefined) {
      // RFC 9112 §2.2: a server should ignore empty lines received before the request-line.
      if (text === '' && this.kind === 'request') return undefined;
      return this.kind === 'request'
        ? this.parseRequestLine(text, start)
        : this.parseStatusLine(text, start);
    }
    if (text === '') {
      return {
        state: 'complete',
        head: { ...this.startLine, headers: this.headers, notes: this.notes },
      };
    }
    if (text[0] === ' ' || text[0] === '\t') return this.unfold(text, start);
    return this.parseFieldLine(text, start);
  }

  private parseRequestLine(text: string, start: number): HeadError | undefined {
    const match = REQUEST_LINE.exec(text);
    if (!match || !TOKEN.test(match[1] ?? '')) {
      return this.fail(
        400,
        'http-request-line-invalid',
        'RFC 9112 §3',
        start,
        `The request-line ${quote(text)} is not method SP request-target SP HTTP-version, e.g. 'GET /chat HTTP/1.1': one space between the parts, a version like HTTP/1.1.`,
      );
    }
    const [, method = '', target = '', version = ''] = match;
    this.startLine = { method, target, version };
    return undefined;
  }

  private parseStatusLine(text: string, start: number): HeadError | undefined {
    const match = STATUS_LINE.exec(text);
    if (!match) {
      return this.fail(
        400,
        'http-status-line-invalid',
        'RFC 9112 §4',
        start,
        `The status-line ${quote(text)} is not HTTP-version SP status-code SP reason-phrase, e.g. 'HTTP/1.1 101 Switching Protocols'.`,
      );
    }
    const [, version = '', status = '', reason = ''] = match;
    this.startLine = { version, status: Number(status), reason };
    return undefined;
  }

  private parseFieldLine(text: string, start: number): HeadError | undefined {
    if (this.headers.length === this.maxHeaders) {
      return this.fail(
        431,
        'http-too-many-headers',
        'RFC 6585 §5',
        start,
        `This is header field number ${this.maxHeaders + 1}; this parser accepts at most ${this.maxHeaders}, so a server answers 431 Request Header Fields Too Large.`,
      );
    }
    const colon = text.indexOf(':');
    if (colon === -1) {
      return this.fail(
        400,
        'http-field-missing-colon',
        'RFC 9112 §5',
        start,
        `The header line ${quote(text)} has no colon; every field line is name: value.`,
      );
    }
    const name = text.slice(0, colon);
    if (name.endsWith(' ') || name.endsWith('\t')) {
      return this.fail(
        400,
        'http-whitespace-before-colon',
        'RFC 9112 §5.1',
        start + trimOws(name).length,
        `The field name ${quote(name)} is followed by whitespace before the colon; a server must reject this with 400, since parsers that ignore the space disagree with those that do not about which header it is.`,
      );
    }
    if (!TOKEN.test(name)) {
      const bad = [...name].findIndex((c) => !TOKEN.test(c));
      return this.fail(
        400,
        'http-field-name-invalid',
        'RFC 9110 §5.1',
        start + Math.max(bad, 0),
        `The field name ${quote(name)} is not a token: names use letters, digits and !#$%&'*+-.^_\`|~ only, and cannot be empty.`,
      );
    }
    const value = trimOws(text.slice(colon + 1));
    if (value.includes('\0')) {
      return this.fail(
        400,
        'http-field-value-nul',
        'RFC 9110 §5.5',
        start + text.indexOf('\0'),
        `The value of ${name} contains a NUL byte (00), which a field value must never contain.`,
      );
    }
    this.headers.push({ name, lowerName: name.toLowerCase(), value, byteOffset: start });
    return undefined;
  }

  /** A line starting with SP or HTAB continues the previous field: obs-fold (RFC 9112 §5.2). */
  private unfold(text: string, start: number): HeadError | undefined {
    const previous = this.headers.at(-1);
    if (this.kind === 'request' || previous === undefined) {
      return this.fail(
        400,
        'http-obs-fold',
        'RFC 9112 §5.2',
        start,
        'This line starts with whitespace, continuing the previous header over two lines (obs-fold). That form is obsolete; a server rejects it with 400. Put each field on one line.',
      );
    }
    // A user agent must replace obs-fold with SP rather than reject the response (RFC 9112 §5.2).
    this.headers[this.headers.length - 1] = {
      ...previous,
      value: `${previous.value} ${trimOws(text)}`,
    };
    this.notes.push({
      rule: 'http-obs-fold',
      closeCode: null,
      section: 'RFC 9112 §5.2',
      byteOffset: start,
      explanation: `${previous.name} continues on a line starting with whitespace (obs-fold); a client reads it as one value joined by a space, but a sender must not fold lines.`,
      fatal: false,
    });
    return undefined;
  }

  private fail(
    status: 400 | 431,
    rule: string,
    section: string,
    byteOffset: number,
    explanation: string,
  ): HeadError {
    const problem = { rule, closeCode: null, section, byteOffset, explanation, fatal: true };
    this.failure = { state: 'error', problem, status };
    return this.failure;
  }
}

/** Every field with this name, in the order they arrived. */
export function headerFields(head: { readonly headers: readonly HeaderField[] }, name: string) {
  const lowerName = name.toLowerCase();
  return head.headers.filter((field) => field.lowerName === lowerName);
}

/** A field's value; repeated fields are combined with ", " in order, as RFC 9110 §5.3 says. */
export function getHeader(
  head: { readonly headers: readonly HeaderField[] },
  name: string,
): string | undefined {
  const fields = headerFields(head, name);
  return fields.length === 0 ? undefined : fields.map((field) => field.value).join(', ');
}

/** The elements of a comma-separated list (RFC 9110 §5.6.1), empty elements dropped. */
export function parseList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map(trimOws)
    .filter((element) => element !== '');
}

// A loop, not /^[ \t]+|[ \t]+$/: that regex is quadratic on a long run of spaces (ws CVE-2021-32640).
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === ' ' || value[start] === '\t')) start++;
  while (end > start && (value[end - 1] === ' ' || value[end - 1] === '\t')) end--;
  return value.slice(start, end);
}

// Field values are bytes, not UTF-8 (RFC 9110 §5.5); one char per byte keeps offsets exact.
function latin1(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

/** A value quoted for an explanation, cut short when long. */
export function quote(value: string): string {
  return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
}
