/**
 * Tolerant hex input for the labs. Learners paste bytes from wherever they found them: typed by
 * hand (`81 85 37 fa`, `0x81, 0x85`, `\x81\x85`, `81:85`), or copied from a hex dump (Wireshark,
 * `xxd`, `hexdump -C`, `od -A x -t x1z`, Chrome DevTools' hex viewer). Dumps carry an offset
 * column on the left and an ASCII column on the right; both are recognised and skipped, because
 * the ASCII column can itself look like hex (`ab cd`).
 *
 * Never throws on input: every character that is not hex becomes a `HexError` that says which
 * character it is and where.
 */

export interface HexError {
  /** UTF-16 index into the input, as `textarea.setSelectionRange` expects. */
  readonly index: number;
  /** 1-based line number. */
  readonly line: number;
  /** 1-based column, counted in characters (code points). */
  readonly column: number;
  /** The offending character, or the offending token for a digit-count error. */
  readonly character: string;
  readonly message: string;
}

export interface HexParseResult {
  readonly bytes: Uint8Array;
  readonly errors: readonly HexError[];
  /** How many errors there were in all; `errors` keeps only the first `MAX_ERRORS`. */
  readonly errorCount: number;
  /** Lines read as hex-dump lines (offset column and ASCII column skipped). */
  readonly dumpLines: number;
}

export const MAX_ERRORS = 20;

/** A `*` line in `hexdump -C` output repeats the previous line; cap what it may expand to. */
const MAX_REPEAT_FILL = 16 * 1024 * 1024;

const SEPARATORS = new Set([',', ';', ':', '-', '[', ']', '{', '}', '(', ')', '"', "'", '`']);

function isHexCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isHexString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (!isHexCode(s.charCodeAt(i))) return false;
  }
  return s.length > 0;
}

function isSpace(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c === 32 || (c >= 9 && c <= 13)) return true;
  return c > 127 && /\s/u.test(ch);
}

/** `'g'`, or `U+00A0` for a character that would be invisible or confusing in a message. */
export function describeCharacter(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (/^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch)) {
    return cp < 128 ? `'${ch}'` : `'${ch}' (${code})`;
  }
  return code;
}

class Collector {
  readonly bytes: number[] = [];
  readonly errors: HexError[] = [];
  errorCount = 0;
  dumpLines = 0;

  constructor(private readonly text: string) {}

  private locate(index: number): { line: number; column: number } {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < index; i++) {
      const c = this.text.charCodeAt(i);
      if (c === 10 || (c === 13 && this.text.charCodeAt(i + 1) !== 10)) {
        line++;
        lineStart = i + 1;
      }
    }
    return { line, column: Array.from(this.text.slice(lineStart, index)).length + 1 };
  }

  notHex(index: number): void {
    this.errorCount++;
    if (this.errors.length >= MAX_ERRORS) return;
    const character = String.fromCodePoint(this.text.codePointAt(index) ?? 0);
    const { line, column } = this.locate(index);
    this.errors.push({
      index,
      line,
      column,
      character,
      message: `${describeCharacter(character)} at line ${line}, column ${column} is not a hex digit (0-9, a-f).`,
    });
  }

  oddDigits(index: number, token: string): void {
    this.errorCount++;
    if (this.errors.length >= MAX_ERRORS) return;
    const { line, column } = this.locate(index);
    this.errors.push({
      index,
      line,
      column,
      character: token,
      message: `'${token}' at line ${line}, column ${column} has ${token.length} hex digits; a byte needs two, so the count must be even.`,
    });
  }

  tooLong(index: number, what: string): void {
    this.errorCount++;
    if (this.errors.length >= MAX_ERRORS) return;
    const { line, column } = this.locate(index);
    this.errors.push({ index, line, column, character: '*', message: what });
  }

  pushHex(digits: string): void {
    for (let i = 0; i + 1 < digits.length; i += 2) {
      this.bytes.push(Number.parseInt(digits.slice(i, i + 2), 16));
    }
  }
}

/**
 * A line of free-form hex: tokens split by whitespace or punctuation that people put between
 * bytes; each token optionally prefixed with `0x` or `\x`.
 */
function readPlainLine(text: string, start: number, end: number, out: Collector): void {
  let i = start;
  while (i < end) {
    const ch = text[i] ?? '';
    if (isSpace(ch) || SEPARATORS.has(ch)) {
      i++;
      continue;
    }
    let prefixed = false;
    const next = text[i + 1] ?? '';
    const afterPrefix = text.charCodeAt(i + 2);
    if ((ch === '0' || ch === '\\') && (next === 'x' || next === 'X') && isHexCode(afterPrefix)) {
      prefixed = true;
      i += 2;
    }
    const tokenStart = i;
    let digits = '';
    let bad = false;
    while (i < end) {
      const c = text[i] ?? '';
      if (isSpace(c) || SEPARATORS.has(c)) break;
      if (c === '\\' && (text[i + 1] === 'x' || text[i + 1] === 'X') && digits.length > 0) break;
      if (isHexCode(c.charCodeAt(0))) {
        digits += c;
        i++;
        continue;
      }
      if (!bad) out.notHex(i);
      bad = true;
      i += (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
    }
    if (bad || digits.length === 0) continue;
    if (digits.length % 2 === 1) {
      if (prefixed) {
        digits = `0${digits}`;
      } else {
        out.oddDigits(tokenStart, digits);
        continue;
      }
    }
    out.pushHex(digits);
  }
}

interface DumpLabel {
  readonly value: number;
  /** Index just after the label and its separator, where the hex section begins. */
  readonly hexStart: number;
  /** `xxd` and Chrome DevTools write `offset:`; Wireshark, `hexdump -C` and `od` do not. */
  readonly colon: boolean;
}

interface DumpState {
  inDump: boolean;
  /** Offset the next dump line should start at. */
  expected: number;
  previousLine: number[];
  repeatPending: boolean;
  repeatIndex: number;
}

const LABEL = /^(\s*)([0-9a-fA-F]{4,8})(:[ \t]*|[ \t]+)/;

function readLabel(line: string, lineStart: number, state: DumpState): DumpLabel | null {
  const m = LABEL.exec(line);
  if (m === null) return null;
  const [whole, , digits = '', sep = ''] = m;
  const value = Number.parseInt(digits, 16);
  const hexStart = lineStart + whole.length;
  if (sep.startsWith(':')) return { value, hexStart, colon: true };
  // Without a colon a label looks like plain bytes (`0010 ab`), so demand what real dumps show:
  // a wide gap (Wireshark, `hexdump -C`) or `od`'s 6 or 7 digits, and an offset that is a line
  // boundary or continues the dump.
  const wideGap =
    sep.includes('\t') || sep.length >= 2 || digits.length === 6 || digits.length === 7;
  const plausible = value % 16 === 0 || (state.inDump && value === state.expected);
  if (wideGap && plausible && whole.length < line.length) return { value, hexStart, colon: false };
  return null;
}

/** The hex section of a dump line: groups of hex separated by single spaces, then the ASCII column. */
function readDumpHex(
  text: string,
  label: DumpLabel,
  end: number,
  out: Collector,
  lineBytes: number[],
): void {
  let i = label.hexStart;
  let first = true;
  while (i < end) {
    let gap = 0;
    while (i < end && isSpace(text[i] ?? '')) {
      gap += text[i] === '\t' ? 2 : 1;
      i++;
    }
    if (i >= end) break;
    // The ASCII column starts after a gap of two or more spaces. Wireshark and `hexdump -C` also
    // put two spaces between the eighth and ninth byte, which is not the end of the hex.
    if (!first && gap >= 2 && !(gap === 2 && !label.colon && lineBytes.length === 8)) break;
    const c = text[i] ?? '';
    if (c === '|' || c === '>') break;
    const tokenStart = i;
    while (i < end && !isSpace(text[i] ?? '')) i++;
    const token = text.slice(tokenStart, i);
    if (!isHexString(token)) {
      for (let k = 0; k < token.length; k++) {
        if (!isHexCode(token.charCodeAt(k))) {
          out.notHex(tokenStart + k);
          break;
        }
      }
      return;
    }
    if (token.length % 2 === 1) {
      out.oddDigits(tokenStart, token);
      return;
    }
    const before = out.bytes.length;
    out.pushHex(token);
    for (let k = before; k < out.bytes.length; k++) lineBytes.push(out.bytes[k] ?? 0);
    first = false;
  }
}

/** Expand a pending `*` line of `hexdump -C` up to the offset of the line that follows it. */
function fillRepeat(state: DumpState, target: number, out: Collector): void {
  if (!state.repeatPending) return;
  state.repeatPending = false;
  const unit = state.previousLine;
  const missing = target - state.expected;
  if (unit.length === 0 || missing <= 0) return;
  if (missing > MAX_REPEAT_FILL) {
    out.tooLong(
      state.repeatIndex,
      `The '*' line would repeat ${missing} bytes; the lab expands at most ${MAX_REPEAT_FILL}.`,
    );
    return;
  }
  for (let k = 0; k < missing; k++) out.bytes.push(unit[k % unit.length] ?? 0);
  state.expected = target;
}

/** `hexdump -C` and `od` end with a line holding only the total length. */
function isEndOffset(trimmed: string, state: DumpState): boolean {
  if (!/^[0-9a-fA-F]{4,8}$/.test(trimmed)) return false;
  const value = Number.parseInt(trimmed, 16);
  return value === state.expected || (state.repeatPending && value > state.expected);
}

export function parseHex(text: string): HexParseResult {
  const out = new Collector(text);
  const state: DumpState = {
    inDump: false,
    expected: 0,
    previousLine: [],
    repeatPending: false,
    repeatIndex: 0,
  };
  const lineBreak = /\r\n|\n|\r/g;
  let lineStart = 0;
  while (lineStart <= text.length) {
    lineBreak.lastIndex = lineStart;
    const m = lineBreak.exec(text);
    const lineEnd = m === null ? text.length : m.index;
    const line = text.slice(lineStart, lineEnd);
    const trimmed = line.trim();

    if (trimmed === '') {
      // blank lines carry no bytes
    } else if (state.inDump && trimmed === '*') {
      state.repeatPending = true;
      state.repeatIndex = lineStart + line.indexOf('*');
    } else if (state.inDump && isEndOffset(trimmed, state)) {
      fillRepeat(state, Number.parseInt(trimmed, 16), out);
      out.dumpLines++;
    } else {
      const label = readLabel(line, lineStart, state);
      if (label === null) {
        state.inDump = false;
        state.repeatPending = false;
        readPlainLine(text, lineStart, lineEnd, out);
      } else {
        fillRepeat(state, label.value, out);
        const lineBytes: number[] = [];
        readDumpHex(text, label, lineEnd, out, lineBytes);
        out.dumpLines++;
        state.inDump = true;
        state.previousLine = lineBytes;
        state.expected = label.value + lineBytes.length;
      }
    }

    if (m === null) break;
    lineStart = m.index + m[0].length;
  }
  return {
    bytes: Uint8Array.from(out.bytes),
    errors: out.errors,
    errorCount: out.errorCount,
    dumpLines: out.dumpLines,
  };
}

export type HexStyle =
  | 'spaced'
  | 'compact'
  | 'c-array'
  | 'escaped'
  | 'wireshark'
  | 'wireshark-bytes'
  | 'xxd'
  | 'hexdump-C'
  | 'od'
  | 'chrome-devtools';

const hex2 = (b: number): string => b.toString(16).padStart(2, '0');

function ascii(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '.';
  return s;
}

function rows(bytes: Uint8Array, width = 16): Uint8Array[] {
  const result: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += width) result.push(bytes.subarray(i, i + width));
  return result;
}

function spacedWithMidGap(row: Uint8Array): string {
  const parts = Array.from(row, hex2);
  return parts.length > 8
    ? `${parts.slice(0, 8).join(' ')}  ${parts.slice(8).join(' ')}`
    : parts.join(' ');
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Bytes written the way a tool writes them. The dump styles copy the layout of the real tools
 * (column widths, padding, `hexdump -C`'s `*` for repeated lines) so tests can check that what
 * those tools print reads back as the same bytes.
 */
export function formatHex(bytes: Uint8Array, style: HexStyle = 'spaced'): string {
  switch (style) {
    case 'spaced':
      return Array.from(bytes, hex2).join(' ');
    case 'compact':
      return Array.from(bytes, hex2).join('');
    case 'c-array':
      return Array.from(bytes, (b) => `0x${hex2(b)}`).join(', ');
    case 'escaped':
      return Array.from(bytes, (b) => `\\x${hex2(b)}`).join('');
    case 'wireshark':
      return rows(bytes)
        .map((row, n) => {
          const hex = Array.from(row, hex2).join(' ').padEnd(47, ' ');
          return `${(n * 16).toString(16).padStart(4, '0')}   ${hex}   ${ascii(row)}`;
        })
        .join('\n');
    case 'wireshark-bytes':
      return rows(bytes)
        .map((row, n) => {
          const text = ascii(row);
          const asciiCol = text.length > 8 ? `${text.slice(0, 8)} ${text.slice(8)}` : text;
          return `${(n * 16).toString(16).padStart(4, '0')}  ${spacedWithMidGap(row).padEnd(48, ' ')}   ${asciiCol}`;
        })
        .join('\n');
    case 'xxd':
      return rows(bytes)
        .map((row, n) => {
          const groups: string[] = [];
          for (let i = 0; i < row.length; i += 2) {
            groups.push(Array.from(row.subarray(i, i + 2), hex2).join(''));
          }
          return `${(n * 16).toString(16).padStart(8, '0')}: ${groups.join(' ').padEnd(39, ' ')}  ${ascii(row)}`;
        })
        .join('\n');
    case 'hexdump-C': {
      const lines: string[] = [];
      const all = rows(bytes);
      let squeezing = false;
      all.forEach((row, n) => {
        if (row.length === 16 && sameBytes(all[n - 1], row)) {
          if (!squeezing) lines.push('*');
          squeezing = true;
          return;
        }
        squeezing = false;
        lines.push(
          `${(n * 16).toString(16).padStart(8, '0')}  ${spacedWithMidGap(row).padEnd(48, ' ')}  |${ascii(row)}|`,
        );
      });
      if (bytes.length > 0) lines.push(bytes.length.toString(16).padStart(8, '0'));
      return lines.join('\n');
    }
    case 'od': {
      const lines = rows(bytes).map(
        (row, n) =>
          `${(n * 16).toString(16).padStart(6, '0')} ${Array.from(row, hex2).join(' ').padEnd(47, ' ')}  >${ascii(row)}<`,
      );
      // od prints a lone `000000` for no input at all, which reads as three zero bytes; leave it out.
      if (bytes.length > 0) lines.push(bytes.length.toString(16).padStart(6, '0'));
      return lines.join('\n');
    }
    case 'chrome-devtools':
      // DevTools' hex viewer numbers lines, not bytes: 00000000:, 00000001:, ...
      return rows(bytes)
        .map((row, n) => {
          let hex = '';
          for (let i = 0; i < row.length; i++) hex += (i % 2 === 0 ? ' ' : '') + hex2(row[i] ?? 0);
          return `${n.toString(16).padStart(8, '0')}:${hex.padEnd(42, ' ')}${ascii(row)}`;
        })
        .join('\n');
  }
}
