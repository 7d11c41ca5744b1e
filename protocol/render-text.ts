/**
 * The annotation stream as text: one renderer for the terminal that runs `pnpm lab` and for the
 * browser's xterm console, so both say the same thing. Pure: no Node built-ins, no DOM.
 *
 * Everything that came off the wire (payloads, header values, close reasons, and the explanations
 * that quote them) is made visible before it is printed: a control character is shown as an
 * escape such as `\x1b`, never passed on, so a payload cannot drive the terminal that shows it.
 * The only escape sequences in the output are the SGR colours this file writes itself.
 */
import {
  type FrameRecord,
  type HeaderRecord,
  type LabEvent,
  wirePayloadHex,
} from './annotations.ts';
import { describeCloseCode } from './close-codes.ts';
import type { HandshakeFinding } from './handshake.ts';
import type { Direction, FieldName, Problem } from './types.ts';

/** `bits` adds the frame header bit by bit, header explanations and the accept computation. */
export type Verbosity = 'normal' | 'bits';

export interface RenderOptions {
  /** Colour with ANSI SGR sequences; without it the lines are plain text. */
  readonly color: boolean;
  /** Default `bits`: the lab exists to show every frame bit by bit. */
  readonly verbosity?: Verbosity;
  /**
   * Secondary text is faint (SGR 2), as terminals show it; `false` draws it gray (SGR 90)
   * instead, for xterm.js, which lets faint text fall below a readable contrast.
   */
  readonly faint?: boolean;
}

// ---- colours --------------------------------------------------------------------------------

/** Each style with its own reset, so a dim part inside a red line keeps the line red. */
const SGR = {
  bold: ['1', '22'],
  dim: ['2', '22'],
  red: ['31', '39'],
  green: ['32', '39'],
  yellow: ['33', '39'],
  cyan: ['36', '39'],
  magenta: ['35', '39'],
} as const;
type Style = keyof typeof SGR;
/** Bright black, what the lab's xterm theme shows as gray. */
const GRAY = ['90', '39'] as const;
type Paint = Record<Style, (text: string) => string>;

function painter(color: boolean, faint: boolean): Paint {
  const paint = {} as Record<Style, (text: string) => string>;
  for (const style of Object.keys(SGR) as Style[]) {
    const [open, close] = style === 'dim' && !faint ? GRAY : SGR[style];
    paint[style] = color
      ? (text) => (text === '' ? '' : `\x1b[${open}m${text}\x1b[${close}m`)
      : (text) => text;
  }
  return paint;
}

// ---- making wire text visible ---------------------------------------------------------------

/**
 * C0 and C1 controls and DEL (a terminal acts on them), lone surrogates, and the invisible
 * characters that can make text read differently from what it is: bidirectional overrides
 * ("Trojan Source"), zero-width characters, line separators, tag characters.
 */
const INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]|[\ud800-\udfff]/gu;
const QUOTED_SPECIAL = /[\\"]/g;
const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(char: string): string {
  const short = SHORT_ESCAPES[char];
  if (short !== undefined) return short;
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/**
 * Text from the wire, safe to print: every control or invisible character becomes an escape
 * (`\x1b`, `\n`, `\u202e`). With `quoted`, backslashes and double quotes are escaped too and the
 * result is wrapped in double quotes, so `"\x1b"` always means the byte, never the four characters.
 */
export function visible(text: string, quoted = false): string {
  const safe = quoted
    ? text.replace(QUOTED_SPECIAL, (c) => `\\${c}`).replace(INVISIBLE, escapeChar)
    : text.replace(INVISIBLE, escapeChar);
  return quoted ? `"${safe}"` : safe;
}

/** Made visible and cut to about `max` characters; unquoted text says how much was left out. */
function clip(text: string, max: number, quoted = false): string {
  if (text.length <= max) return visible(text, quoted);
  // Never cut a surrogate pair in two.
  const end = /[\ud800-\udbff]/.test(text[max - 1] ?? '') ? max - 1 : max;
  const shown = visible(text.slice(0, end), quoted);
  return quoted ? `${shown}…` : `${shown}… (${text.length - end} more characters)`;
}

// ---- bytes ----------------------------------------------------------------------------------

/** Bytes from a hex string of the event; anything that is not a hex pair is skipped. */
function hexBytes(hex: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i + 1 < hex.length; i += 2) {
    const byte = Number.parseInt(hex.slice(i, i + 2), 16);
    if (Number.isInteger(byte) && /^[0-9a-fA-F]{2}$/.test(hex.slice(i, i + 2))) bytes.push(byte);
  }
  return bytes;
}

const hex2 = (byte: number) => byte.toString(16).padStart(2, '0');
const bits8 = (byte: number) => byte.toString(2).padStart(8, '0');

function hexList(bytes: readonly number[], max: number): string {
  const shown = bytes.slice(0, max).map(hex2).join(' ');
  return bytes.length > max ? `${shown} …` : shown;
}

const lenient = new TextDecoder('utf-8', { fatal: false });
const strict = new TextDecoder('utf-8', { fatal: true });

/** The bytes as UTF-8 text, or null when they are not UTF-8 or are mostly control characters. */
function asText(bytes: readonly number[], force: boolean): string | null {
  const array = Uint8Array.from(bytes);
  if (force) return lenient.decode(array);
  let text: string;
  try {
    text = strict.decode(array);
  } catch {
    return null;
  }
  const controls = text.match(INVISIBLE)?.length ?? 0;
  return controls * 4 > text.length ? null : text;
}

// ---- shared pieces --------------------------------------------------------------------------

const INDENT = '  ';
const DEEPER = '      ';
const SUMMARY_TEXT = 60;
const DETAIL_TEXT = 160;
const HEADER_VALUE = 200;
const HEX_BYTES = 16;
const RSV: readonly FieldName[] = ['rsv1', 'rsv2', 'rsv3'];
const LENGTH: readonly FieldName[] = ['payloadLength', 'extendedPayloadLength'];

function endpoint(e: { readonly address: string; readonly port: number }): string {
  const address = visible(String(e.address));
  return `${address.includes(':') ? `[${address}]` : address}:${e.port}`;
}

function plural(n: number | string, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function closeName(code: number): string {
  const name = describeCloseCode(code).info?.name;
  return name === undefined ? `close ${code}` : `close ${code} (${name})`;
}

/**
 * Who closed first, at each level, in one line: "client closed first (close frame), server sent
 * the first FIN". Null for a server that does not report it.
 */
export function closingSummary(
  e: Pick<Extract<LabEvent, { type: 'socket-closed' }>, 'closeFrameFirst' | 'finFirst'>,
): string | null {
  const frame = e.closeFrameFirst;
  const fin = e.finFirst;
  if (frame === undefined || fin === undefined) return null;
  const frameText =
    frame === null
      ? 'no close frame (no closing handshake: an API reports 1006, RFC 6455 §7.1.5)'
      : `${frame} closed first (close frame)`;
  const finText =
    fin === null
      ? 'no FIN seen (the socket was cut)'
      : fin === 'server'
        ? 'server sent the first FIN'
        : "client sent the first FIN (the client's side waits in TIME_WAIT; RFC 6455 §7.1.1 asks the server to close first)";
  return `${frameText}, ${finText}`;
}

// ---- the renderer ---------------------------------------------------------------------------

/** One event as lines of text, without line terminators (join with `\n`, or `\r\n` for xterm). */
export function renderEvent(event: LabEvent, options: RenderOptions): string[] {
  return new Renderer(options).event(event);
}

class Renderer {
  readonly #p: Paint;
  readonly #bits: boolean;

  constructor(options: RenderOptions) {
    this.#p = painter(options.color, options.faint ?? true);
    this.#bits = (options.verbosity ?? 'bits') === 'bits';
  }

  event(e: LabEvent): string[] {
    switch (e.type) {
      case 'connection-opened':
        return [
          `${this.#conn(e.conn)} ${this.#p.bold('connection opened')}  ${endpoint(e.client)} → ${endpoint(e.server)} ${this.#p.dim(e.tls ? '(TLS)' : '(TCP)')}`,
        ];
      case 'tls':
        return this.#tls(e);
      case 'handshake-request':
        return this.#request(e);
      case 'handshake-response':
        return this.#response(e);
      case 'frame':
        return this.#frame(e.conn, e.direction, e.frame);
      case 'message':
        return this.#message(e);
      case 'close-frame':
        return this.#closeFrame(e);
      case 'problem':
        return [
          `${this.#head(e.conn, e.direction)} ${this.#p.bold('problem')}`,
          ...this.#problem(e.problem),
        ];
      case 'fin':
        return [
          e.direction === 'client-to-server'
            ? `${this.#head(e.conn, e.direction)} ${this.#p.bold('FIN received')}: the client will send no more bytes ${this.#p.dim('(TCP half-close)')}`
            : `${this.#head(e.conn, e.direction)} ${this.#p.bold('FIN sent')}: the server will send no more bytes ${this.#p.dim('(TCP half-close)')}`,
        ];
      case 'socket-closed': {
        const line = `${this.#conn(e.conn)} ${this.#p.bold('socket closed')}  ${this.#p.dim(`${plural(e.bytesIn, 'byte')} in, ${plural(e.bytesOut, 'byte')} out`)}`;
        const lines = [line];
        const firsts = closingSummary(e);
        if (firsts !== null) lines.push(`${INDENT}${firsts}`);
        if (e.error !== null)
          lines.push(`${INDENT}${this.#p.red(`error: ${clip(e.error, DETAIL_TEXT)}`)}`);
        return lines;
      }
      case 'dropped':
        return [
          `${this.#conn(e.conn)} ${this.#p.yellow(`${plural(e.count, 'event')} not shown: this view could not keep up`)}`,
        ];
      default:
        return [
          `${this.#p.dim(`(an event of type ${visible(String((e as { type: unknown }).type))} this renderer does not know)`)}`,
        ];
    }
  }

  #tls(e: Extract<LabEvent, { type: 'tls' }>): string[] {
    const ms = this.#p.dim(`(${Math.round(e.handshakeMs * 10) / 10} ms)`);
    if (e.error !== null) {
      return [
        `${this.#conn(e.conn)} ${this.#p.red('TLS handshake failed')}  ${ms}`,
        `${INDENT}${clip(e.error, 1000)}`,
      ];
    }
    const lines = [
      `${this.#conn(e.conn)} ${this.#p.bold('TLS')} ${visible(e.version ?? '?')} ${visible(e.cipher ?? '?')}  ${ms}`,
      `${INDENT}${this.#label('ALPN:')} ${e.alpn === null ? 'none offered' : clip(e.alpn, 40)}  ${this.#label('SNI:')} ${e.servername === null ? 'none' : clip(e.servername, 80)}  ${e.resumed ? this.#p.green('session resumed') : 'full handshake'}`,
    ];
    if (this.#bits) {
      lines.push(
        `${DEEPER}${this.#p.dim('the bytes and frames below are read after decryption (RFC 8446 §5)')}`,
      );
    }
    return lines;
  }

  #conn(conn: number): string {
    return this.#p.bold(conn === 0 ? '[*]' : `[${conn}]`);
  }

  #arrow(direction: Direction): string {
    return direction === 'client-to-server' ? this.#p.cyan('C→S') : this.#p.magenta('S→C');
  }

  #head(conn: number, direction: Direction): string {
    return `${this.#conn(conn)} ${this.#arrow(direction)}`;
  }

  #label(name: string): string {
    return this.#p.dim(name);
  }

  /** A problem: red when it fails the connection, yellow when it is a note. */
  #problem(problem: Problem): string[] {
    const fatal = problem.fatal;
    const mark = fatal ? this.#p.red('✗') : this.#p.yellow('!');
    const rule = fatal ? this.#p.red(visible(problem.rule)) : this.#p.yellow(visible(problem.rule));
    const outcome = !fatal
      ? 'note · '
      : problem.closeCode === null
        ? ''
        : `${closeName(problem.closeCode)} · `;
    return [
      `${INDENT}${mark} ${rule}  ${outcome}${visible(problem.section)} · byte ${problem.byteOffset}`,
      `${DEEPER}${clip(problem.explanation, 1000)}`,
    ];
  }

  #headers(headers: readonly HeaderRecord[]): string[] {
    const lines: string[] = [];
    for (const header of headers) {
      lines.push(
        `${INDENT}${this.#label(`${clip(header.name, 80)}:`)} ${clip(header.value, HEADER_VALUE)}`,
      );
      if (this.#bits && header.explanation !== undefined) {
        lines.push(`${DEEPER}${this.#p.dim(clip(header.explanation, 1000))}`);
      }
    }
    return lines;
  }

  #request(e: Extract<LabEvent, { type: 'handshake-request' }>): string[] {
    const p = this.#p;
    const lines = [
      `${this.#head(e.conn, 'client-to-server')} ${p.bold('handshake request')}  ${clip(e.method, 40)} ${clip(e.target, HEADER_VALUE)} ${clip(e.version, 20)}  ${p.dim(`(${e.route === 'unknown' ? 'no such endpoint' : visible(e.route)}, ${plural(e.length, 'byte')})`)}`,
      ...this.#headers(e.headers),
    ];
    const required = e.findings.filter((f) => !f.informational);
    const failed = required.filter((f) => !f.ok);
    const held = required.length - failed.length;
    if (held > 0) {
      const sections = [...new Set(required.filter((f) => f.ok).map((f) => visible(f.section)))];
      lines.push(
        `${INDENT}${p.green('✓')} ${held} of ${required.length} rules hold ${p.dim(`(${sections.join(', ')})`)}`,
      );
    }
    for (const finding of failed) lines.push(...this.#failedFinding(finding));
    if (this.#bits) {
      for (const finding of e.findings.filter((f) => f.informational)) {
        lines.push(
          `${INDENT}${p.dim(`· ${visible(finding.rule)} (${visible(finding.section)}): ${clip(finding.explanation, 1000)}`)}`,
        );
      }
    }
    const accept = e.accept;
    if (accept !== null) {
      if (this.#bits) {
        const label = this.#label('accept');
        lines.push(
          `${INDENT}${label}  ${p.dim('key + GUID')}  ${clip(accept.concatenated, HEADER_VALUE)}`,
          `${INDENT}        ${p.dim('SHA-1     ')}  ${clip(accept.sha1Hex, 80)}`,
          `${INDENT}        ${p.dim('base64    ')}  ${p.green(clip(accept.accept, 80))} ${p.dim('= Sec-WebSocket-Accept (RFC 6455 §4.2.2)')}`,
        );
      } else {
        lines.push(
          `${INDENT}${this.#label('accept')}  ${p.green(clip(accept.accept, 80))} ${p.dim('= base64(SHA-1(key + GUID))')}`,
        );
      }
    }
    return lines;
  }

  #failedFinding(finding: HandshakeFinding): string[] {
    const answer = finding.status === undefined ? '' : ` → answer ${finding.status}`;
    return [
      `${INDENT}${this.#p.red('✗')} ${this.#p.red(visible(finding.rule))}${answer} · ${visible(finding.section)}`,
      `${DEEPER}${clip(finding.explanation, 1000)}`,
    ];
  }

  #response(e: Extract<LabEvent, { type: 'handshake-response' }>): string[] {
    const p = this.#p;
    const status = `${e.status} ${clip(e.reason, 80)}`;
    const shown =
      e.status === 101 ? p.green(status) : e.status >= 400 ? p.red(status) : p.yellow(status);
    return [
      `${this.#head(e.conn, 'server-to-client')} ${p.bold('handshake response')}  ${shown}  ${p.dim(`(${plural(e.length, 'byte')})`)}`,
      ...this.#headers(e.headers),
      // The refusal's own explanation, one line per line of its body.
      ...(e.body ?? '')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .slice(0, 12)
        .map((line) => `${INDENT}${this.#label('body')} ${clip(line.trimEnd(), 1000)}`),
    ];
  }

  // ---- frames -------------------------------------------------------------------------------

  #frame(conn: number, direction: Direction, f: FrameRecord): string[] {
    const p = this.#p;
    const blamed = new Set<FieldName | undefined>(f.problems.map((x) => x.field));
    const field = (names: readonly FieldName[], label: string, value: string) =>
      names.some((name) => blamed.has(name))
        ? p.red(`${label}=${value}`)
        : `${this.#label(`${label}=`)}${value}`;
    const header = hexBytes(f.headerHex);
    const plain = hexBytes(f.unmaskedHex);
    const key = f.maskingKey === null ? null : hexBytes(f.maskingKey);
    // RFC 7692 §6: RSV1 marks a compressed message on its first frame only.
    const compressed = f.rsv1 && !blamed.has('rsv1') && (f.opcode === 0x1 || f.opcode === 0x2);
    const rsv = `${f.rsv1 ? 1 : 0}${f.rsv2 ? 1 : 0}${f.rsv3 ? 1 : 0}`;
    const received = f.complete ? '' : `, ${f.payloadReceived} received`;

    const summary = [
      `${this.#head(conn, direction)} ${p.bold(`${visible(String(f.opcodeName))} frame`)}`,
      field(['fin'], 'FIN', f.fin ? '1' : '0'),
      ...(rsv === '000' ? [] : [field(RSV, 'RSV', rsv)]),
      field(['mask'], 'MASK', f.mask ? '1' : '0'),
      `${field(LENGTH, 'len', visible(String(f.payloadLength)))} ${p.dim(`(${visible(String(f.lengthForm))}${received})`)}`,
      ...(key === null ? [] : [field(['maskingKey'], 'key', key.map(hex2).join(''))]),
    ].join(' ');
    const masking =
      key === null
        ? ''
        : key.length === 4 && key.every((b) => b === 0)
          ? p.yellow(' (key 00000000: the wire bytes equal the payload)')
          : p.dim(' (masked on the wire)');
    const preview = this.#preview(f, plain, compressed, SUMMARY_TEXT);
    const shown = String(f.payloadLength) !== '0' && plain.length > 0;
    const lines = [`${summary}  ${preview}${shown ? masking : ''}`];

    if (this.#bits) lines.push(...this.#frameBits(f, header, key, field, compressed));
    for (const problem of f.problems) lines.push(...this.#problem(problem));
    return lines;
  }

  /** The unmasked payload as the learner thinks of it: text, a close code, or else hex. */
  #preview(f: FrameRecord, plain: number[], compressed: boolean, max: number): string {
    const p = this.#p;
    if (String(f.payloadLength) === '0') return p.dim('(empty)');
    if (plain.length === 0) return p.dim('(no payload bytes received)');
    return (compressed ? null : this.#decoded(f, plain, max)) ?? this.#hex(plain, f.payloadLength);
  }

  /** Bytes as hex, with the total when not all of them are shown. */
  #hex(bytes: readonly number[], total: number | string): string {
    const all = bytes.length <= HEX_BYTES && bytes.length >= Number(total);
    return `${hexList(bytes, HEX_BYTES)}${all ? '' : this.#total(total)}`;
  }

  /** Text in quotes, with the total byte count when it was cut short. */
  #text(text: string, max: number, bytes: number, total: number | string): string {
    const all = text.length <= max && bytes >= Number(total);
    return `${clip(text, max, true)}${all ? '' : this.#total(total)}`;
  }

  #total(total: number | string): string {
    return this.#p.dim(` (${plural(typeof total === 'number' ? total : visible(total), 'byte')})`);
  }

  /** The payload decoded, when it is text or a close body; null when only hex fits. */
  #decoded(f: FrameRecord, plain: number[], max: number): string | null {
    if (f.opcode === 0x8 && f.close !== undefined) {
      const reason = f.close.reason === '' ? '' : ` ${clip(f.close.reason, max, true)}`;
      return `${this.#p.dim('code')} ${f.close.code ?? '-'}${reason}`;
    }
    const text = f.opcode === 0x2 || f.opcode > 0xa ? null : asText(plain, f.opcode === 0x1);
    return text === null ? null : this.#text(text, max, plain.length, f.payloadLength);
  }

  #frameBits(
    f: FrameRecord,
    header: number[],
    key: number[] | null,
    field: (names: readonly FieldName[], label: string, value: string) => string,
    compressed: boolean,
  ): string[] {
    const p = this.#p;
    const row = (label: string, bits: string, rest: string) =>
      `${INDENT}${this.#label(label.padEnd(10))}${bits.padEnd(13)}${rest}`;
    const lines: string[] = [];
    const b0 = header[0];
    const b1 = header[1];
    if (b0 !== undefined) {
      const bits = bits8(b0);
      lines.push(
        row(
          'byte 0',
          `${bits[0]} ${bits.slice(1, 4)} ${bits.slice(4)}`,
          [
            field(['fin'], 'FIN', bits.slice(0, 1)),
            field(RSV, 'RSV', bits.slice(1, 4)),
            field(['opcode'], 'opcode', `0x${(b0 & 0x0f).toString(16)}`),
            `${visible(String(f.opcodeName))}${compressed ? p.dim(' (RSV1: compressed, RFC 7692)') : ''}`,
          ].join(' '),
        ),
      );
    }
    let width = 0;
    if (b1 !== undefined) {
      const bits = bits8(b1);
      const length7 = b1 & 0x7f;
      width = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
      const form = width === 0 ? '(7-bit)' : `(${width * 8}-bit length follows)`;
      lines.push(
        row(
          'byte 1',
          `${bits[0]} ${bits.slice(1)}`,
          `${field(['mask'], 'MASK', bits.slice(0, 1))} ${field(['payloadLength'], 'len', String(length7))} ${p.dim(form)}`,
        ),
      );
      const extended = header.slice(2, 2 + width);
      if (width > 0 && extended.length === width) {
        lines.push(
          `${INDENT}${this.#label(`bytes 2-${1 + width}`.padEnd(10))}${extended.map(bits8).join(' ')}  ${field(['extendedPayloadLength'], 'len', visible(String(f.payloadLength)))}`,
        );
      }
    }
    if (key !== null) {
      const start = 2 + width;
      lines.push(
        row(
          'key',
          key.map(hex2).join(' '),
          p.dim(`bytes ${start}-${start + 3}; payload byte i is XORed with key byte i mod 4`),
        ),
      );
    }
    const wire = hexBytes(wirePayloadHex(f));
    if (wire.length > 0) {
      const plain = hexBytes(f.unmaskedHex);
      const label = this.#label('payload'.padEnd(10));
      const blamed = f.problems.some((x) => x.field === 'payload');
      const wireText = blamed ? p.red(hexList(wire, HEX_BYTES)) : hexList(wire, HEX_BYTES);
      const decoded = compressed ? null : this.#decoded(f, plain, DETAIL_TEXT);
      const after =
        key !== null
          ? ` ${p.dim('→')} ${decoded ?? this.#hex(plain, f.payloadLength)}`
          : decoded !== null
            ? ` ${p.dim('=')} ${decoded}`
            : wire.length <= HEX_BYTES && wire.length >= Number(f.payloadLength)
              ? ''
              : this.#total(f.payloadLength);
      lines.push(`${INDENT}${label}${wireText}${after}`);
    }
    return lines;
  }

  #message(e: Extract<LabEvent, { type: 'message' }>): string[] {
    const p = this.#p;
    const m = e.message;
    const indices = m.frameIndices;
    const frames =
      indices.length === 0
        ? 'no frames'
        : indices.length === 1
          ? `frame ${indices[0]}`
          : indices.length > 6
            ? `frames ${indices[0]}-${indices[indices.length - 1]}`
            : `frames ${indices.join(', ')}`;
    // A one-frame message carries no bytes of its own: they are its frame's, shown above it.
    const bytes = hexBytes(m.previewHex ?? '');
    const content = m.compressed
      ? `${p.dim('compressed:')} ${this.#hex(bytes, m.length)}`
      : m.text !== undefined
        ? this.#text(m.text, SUMMARY_TEXT, Math.min(m.length, m.text.length * 4), m.length)
        : m.length === 0
          ? p.dim('(empty)')
          : m.previewHex === undefined
            ? p.dim(`(the payload of frame ${indices[0]})`)
            : this.#hex(bytes, m.length);
    return [
      `${this.#head(e.conn, e.direction)} ${p.bold(`${visible(String(m.type))} message`)}  ${p.dim(`${plural(m.length, 'byte')} in ${plural(indices.length, 'frame')} (${frames})`)}  ${content}`,
    ];
  }

  #closeFrame(e: Extract<LabEvent, { type: 'close-frame' }>): string[] {
    const p = this.#p;
    const client = e.direction === 'client-to-server';
    const sender = client ? 'client' : 'server';
    const peer = client ? 'server' : 'client';
    const verdict = e.code === null ? null : describeCloseCode(e.code);
    const code =
      e.code === null
        ? p.dim('no status code')
        : verdict?.valid === false
          ? p.red(String(e.code))
          : p.bold(String(e.code));
    const name = verdict?.info?.name;
    const reason =
      e.reason === '' ? '' : `  ${this.#label('reason')} ${clip(e.reason, DETAIL_TEXT, true)}`;
    const lines = [
      `${this.#head(e.conn, e.direction)} ${p.bold('close')} ${code}${name === undefined ? '' : ` ${name}`}${reason}`,
      e.initiated
        ? `${INDENT}The ${sender} starts the closing handshake; the ${peer} must answer with a close frame of its own (RFC 6455 §5.5.1).`
        : `${INDENT}The ${sender} answers the ${peer}'s close frame: the closing handshake is complete (RFC 6455 §7.1.2).`,
    ];
    if (e.code === null) {
      lines.push(
        `${INDENT}${p.dim('A close frame without a status code; APIs report it as 1005 No Status Received (RFC 6455 §7.4.1).')}`,
      );
    } else if (verdict !== null) {
      const text = `${visible(verdict.explanation)} (${visible(verdict.section)})`;
      lines.push(`${INDENT}${verdict.valid ? p.dim(text) : p.red(text)}`);
    }
    return lines;
  }
}
