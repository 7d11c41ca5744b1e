import { parseArgs } from 'node:util';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import type { OutputMode } from './terminal.ts';

/** 6455, after the RFC: easy to remember, and rarely taken by anything else on a laptop. */
export const DEFAULT_PORT = 6455;
export const DEFAULT_HOST = '127.0.0.1';
/** HTTPS and wss://: the next port up. */
export const DEFAULT_TLS_PORT = 6456;

/** The limits the command line can set; the others keep their DEFAULT_LIMITS. */
export type CommandLineLimits = Pick<
  Limits,
  'maxPayload' | 'maxConnections' | 'handshakeTimeoutMs' | 'idleTimeoutMs'
>;

export interface LabOptions {
  readonly host: string;
  readonly port: number;
  readonly build: boolean;
  readonly help: boolean;
  /** Offer permessage-deflate on /echo. */
  readonly deflate: boolean;
  /** Browser origins allowed besides the lab's own, normalised (`scheme://host[:port]`). */
  readonly origins: readonly string[];
  readonly output: OutputMode;
  /** False with --no-color; colour also needs a terminal and no NO_COLOR (see terminal.ts). */
  readonly color: boolean;
  readonly limits: CommandLineLimits;
  /** Base port of the loopback proxies (0: ephemeral ports), or null with --no-proxies. */
  readonly proxies: number | null;
  /** The HTTPS/wss:// port (0 picks a free one), or null with --no-tls. */
  readonly tlsPort: number | null;
  /** Where the certificate is kept, from --cert-dir; undefined: the default (certificate.ts). */
  readonly certDir: string | undefined;
  /** Classroom mode (`--classroom`), or null. */
  readonly classroom: ClassroomCommandLine | null;
}

export interface ClassroomCommandLine {
  /** The data folder; null: the user's default (lab-server/classroom/folder.ts). */
  readonly data: string | null;
  readonly newClass: boolean;
  readonly className: string | null;
  readonly maxStudents: number | null;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const MAX_CONNECTIONS = 1_000_000;
const MAX_HANDSHAKE_SECONDS = 3600;
/** setTimeout holds at most 2^31 - 1 ms; a day is far below and far beyond any lesson. */
const MAX_IDLE_SECONDS = 86_400;

/** A byte count the way the help prints it: 1MiB, 64KiB, 1000. */
export function formatBytes(bytes: number): string {
  if (bytes % GIB === 0) return `${bytes / GIB}GiB`;
  if (bytes % MIB === 0) return `${bytes / MIB}MiB`;
  if (bytes % KIB === 0) return `${bytes / KIB}KiB`;
  return String(bytes);
}

const seconds = (ms: number) => String(ms / 1000);

export const HELP = `Usage: pnpm lab [options]

Starts the WebSocket Lab server: the tutorial site and its labs on one port, and every
WebSocket frame that crosses /echo, annotated bit by bit in this terminal. It builds the site
first when the build is missing or older than its sources.

Listening:
  --port <n>                 port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host <address>           address to listen on (default ${DEFAULT_HOST}: this machine only;
                             0.0.0.0 makes the lab reachable from the network)
  --origin <origin>          also let pages from this origin use the lab from a browser,
                             e.g. http://192.168.1.20:${DEFAULT_PORT}; repeat it for more (default:
                             only the lab's own pages and the dev server on port 4321)
  --deflate                  offer permessage-deflate (RFC 7692) on /echo, to see RSV1 and
                             compressed payloads (default: off)
  --no-build                 serve dist/ as it is, even when it is out of date
  --proxy-port <n>           the loopback proxies of the trace and proxy labs listen on
                             127.0.0.1 ports n (CONNECT tunnel), n+1 (WebSocket-aware) and
                             n+2 (naive); they reach only this lab server (default 0: free
                             ports, printed at start and in /lab.json)
  --no-proxies               do not start those proxies

TLS (HTTPS and wss://, the same site and endpoints, with a self-signed certificate):
  --tls-port <n>             port for https:// and wss:// (default ${DEFAULT_TLS_PORT}; 0 picks a free one)
  --no-tls                   no TLS listener
  --cert-dir <path>          where the certificate and key are kept (default: the user's config
                             folder, e.g. ~/.config/websocket-lab/tls; or $WEBSOCKET_LAB_CERT_DIR)

Output (default: annotated text, coloured when the output is a terminal):
  --json                     one JSON event per line (NDJSON) for other programs; run it as
                             pnpm -s lab --json to keep pnpm's own banner out of it
  --quiet                    print only the startup lines and errors
  --no-color                 no colours (NO_COLOR=1 does the same)

Limits (whatever arrives on a socket is untrusted):
  --max-payload <bytes>      largest message on /echo; a bigger one is closed with 1009
                             (default ${formatBytes(DEFAULT_LIMITS.maxPayload)}; e.g. 65536, 64KiB, 16MiB; at most 1GiB)
  --max-connections <n>      most open connections; more are answered 503
                             (default ${DEFAULT_LIMITS.maxConnections})
  --handshake-timeout <s>    seconds a client has to send its whole request head; then 408
                             (default ${seconds(DEFAULT_LIMITS.handshakeTimeoutMs)})
  --idle-timeout <s>         seconds of silence after which /echo closes with 1001
                             (default ${seconds(DEFAULT_LIMITS.idleTimeoutMs)})

Classroom mode (a teacher runs one lab server for a class):
  --classroom                start a class: prints the student URL, a join code (also as a QR
                             code) and the teacher page's URL; answers are checked and kept here.
                             Add --host 0.0.0.0 so students' machines can reach it. The terminal
                             shows joins, not every frame (add --json for the frames)
  --data <folder>            where the class is kept (default: the user's data folder, e.g.
                             ~/.local/share/websocket-lab/classroom); a restart resumes the class
  --new-class                start a new class (new code and token); the old one stays on disk
  --class-name <name>        the class's name, shown to students and on the teacher page
  --max-students <n>         most students who may join (default 1000)

  -h, --help                 show this help

Checking your own server:
  pnpm lab check <ws://host:port/path>   staged, explained checks of a WebSocket server you
                                         wrote (pnpm lab check --help for its options)

Tracing a connection:
  pnpm lab trace <ws://host:port/path>   times DNS, TCP, proxy, TLS, upgrade, one echoed
                                         message, close and FIN, like curl -w (--proxy URL
                                         goes through a proxy; pnpm lab trace --help)
`;

/** Parses the command line; throws an Error with a message meant for the user. */
export function parseOptions(argv: readonly string[]): LabOptions {
  const values = parse(argv);
  if (values.json === true && values.quiet === true) {
    throw new Error('--json and --quiet cannot be used together: pick one.');
  }
  const port = values.port === undefined ? DEFAULT_PORT : wholeNumber(values.port);
  if (port === null || port > 65535) {
    throw new Error(`--port must be a whole number from 0 to 65535, not "${values.port}".`);
  }
  const tlsPort =
    values['tls-port'] === undefined ? DEFAULT_TLS_PORT : wholeNumber(values['tls-port']);
  if (tlsPort === null || tlsPort > 65535) {
    throw new Error(
      `--tls-port must be a whole number from 0 to 65535, not "${values['tls-port']}".`,
    );
  }
  if (values['no-tls'] === true && values['tls-port'] !== undefined) {
    throw new Error('--tls-port and --no-tls cannot be used together: pick one.');
  }
  if (tlsPort === port && port !== 0) {
    throw new Error(`--tls-port must differ from --port (both are ${port}).`);
  }
  if (values['cert-dir'] !== undefined && values['cert-dir'].trim() === '') {
    throw new Error('--cert-dir needs a folder.');
  }
  const host = values.host ?? DEFAULT_HOST;
  if (values['no-proxies'] === true && values['proxy-port'] !== undefined) {
    throw new Error('--proxy-port and --no-proxies cannot be used together: pick one.');
  }
  const proxyPort = values['proxy-port'] === undefined ? 0 : wholeNumber(values['proxy-port']);
  if (proxyPort === null || proxyPort > 65533) {
    throw new Error(
      `--proxy-port must be a whole number from 0 to 65533 (it uses that port and the next two), not "${values['proxy-port']}".`,
    );
  }
  if (host.trim() === '') {
    throw new Error('--host needs an address, such as 127.0.0.1 or 0.0.0.0.');
  }
  return {
    host,
    port,
    build: values['no-build'] !== true,
    help: values.help === true,
    deflate: values.deflate === true,
    origins: [...new Set((values.origin ?? []).map(parseOrigin))],
    output:
      values.json === true
        ? 'json'
        : values.quiet === true || values.classroom === true
          ? 'quiet'
          : 'pretty',
    color: values['no-color'] !== true,
    proxies: values['no-proxies'] === true ? null : proxyPort,
    tlsPort: values['no-tls'] === true ? null : tlsPort,
    certDir: values['cert-dir'],
    limits: {
      maxPayload:
        values['max-payload'] === undefined
          ? DEFAULT_LIMITS.maxPayload
          : parseBytes(values['max-payload']),
      maxConnections:
        values['max-connections'] === undefined
          ? DEFAULT_LIMITS.maxConnections
          : parseCount(values['max-connections']),
      handshakeTimeoutMs:
        values['handshake-timeout'] === undefined
          ? DEFAULT_LIMITS.handshakeTimeoutMs
          : parseSeconds('--handshake-timeout', values['handshake-timeout'], MAX_HANDSHAKE_SECONDS),
      idleTimeoutMs:
        values['idle-timeout'] === undefined
          ? DEFAULT_LIMITS.idleTimeoutMs
          : parseSeconds('--idle-timeout', values['idle-timeout'], MAX_IDLE_SECONDS),
    },
    classroom: classroomOptions(values),
  };
}

function classroomOptions(values: ReturnType<typeof parse>): ClassroomCommandLine | null {
  if (values.classroom !== true) {
    const stray = (['data', 'new-class', 'class-name', 'max-students'] as const).find(
      (name) => values[name] !== undefined,
    );
    if (stray !== undefined) throw new Error(`--${stray} works only with --classroom.`);
    return null;
  }
  if (values.data !== undefined && values.data.trim() === '') {
    throw new Error('--data needs a folder, such as ./my-class.');
  }
  let maxStudents: number | null = null;
  if (values['max-students'] !== undefined) {
    maxStudents = wholeNumber(values['max-students']);
    if (maxStudents === null || maxStudents < 1 || maxStudents > 100_000) {
      throw new Error(
        `--max-students must be a whole number from 1 to 100000, not "${values['max-students']}".`,
      );
    }
  }
  return {
    data: values.data ?? null,
    newClass: values['new-class'] === true,
    className: values['class-name'] ?? null,
    maxStudents,
  };
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        origin: { type: 'string', multiple: true },
        deflate: { type: 'boolean' },
        'no-build': { type: 'boolean' },
        'proxy-port': { type: 'string' },
        'no-proxies': { type: 'boolean' },
        'tls-port': { type: 'string' },
        'no-tls': { type: 'boolean' },
        'cert-dir': { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        'no-color': { type: 'boolean' },
        'max-payload': { type: 'string' },
        'max-connections': { type: 'string' },
        'handshake-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
        classroom: { type: 'boolean' },
        data: { type: 'string' },
        'new-class': { type: 'boolean' },
        'class-name': { type: 'string' },
        'max-students': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new Error(parseArgsMessage(error as Error));
  }
}

/**
 * parseArgs' messages, shortened to what a user needs to fix the command (`pnpm lab`, and its
 * `check` and `trace` subcommands).
 */
export function parseArgsMessage(error: Error & { code?: string }): string {
  const name = /'(-[^' ]*)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `Unknown option ${name ?? error.message}.`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(error.message)) return `${name} needs a value.`;
      if (/ambiguous/.test(error.message)) {
        return `${name} needs a value; for one that starts with "-", write ${name}=<value>.`;
      }
      if (/does not take an argument/.test(error.message)) return `${name} takes no value.`;
      return error.message;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `Unexpected argument ${/'([^']*)'/.exec(error.message)?.[1] ?? ''}: every option starts with --.`;
    default:
      return error.message;
  }
}

function wholeNumber(text: string): number | null {
  return /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : null;
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: KIB,
  kb: KIB,
  kib: KIB,
  m: MIB,
  mb: MIB,
  mib: MIB,
  g: GIB,
  gb: GIB,
  gib: GIB,
};

/** A byte count: digits, optionally with a unit; K, M and G count in 1024s. */
export function parseBytes(text: string): number {
  const match = /^(\d{1,13})\s*([a-z]*)$/i.exec(text.trim());
  const unit = BYTE_UNITS[match?.[2]?.toLowerCase() ?? 'none'];
  const bytes = match === null || unit === undefined ? Number.NaN : Number(match[1]) * unit;
  if (!(bytes >= 1 && bytes <= GIB)) {
    throw new Error(
      `--max-payload must be a number of bytes from 1 to 1GiB, such as 65536, 64KiB or 16MiB, not "${text}".`,
    );
  }
  return bytes;
}

function parseCount(text: string): number {
  const n = wholeNumber(text);
  if (n === null || n < 1 || n > MAX_CONNECTIONS) {
    throw new Error(
      `--max-connections must be a whole number from 1 to ${MAX_CONNECTIONS}, not "${text}".`,
    );
  }
  return n;
}

/** Seconds, fractions allowed, returned as whole milliseconds. */
function parseSeconds(flag: string, text: string, max: number): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  const ms = Math.round(value * 1000);
  if (!(ms >= 1 && value <= max)) {
    throw new Error(`${flag} must be a number of seconds above 0, at most ${max}, not "${text}".`);
  }
  return ms;
}

/**
 * An origin as browsers send it (RFC 6454 §6.2): scheme, host and port only. Accepted with a
 * trailing slash or in any case, and normalised so the exact comparison of trust.ts matches.
 */
export function parseOrigin(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text.trim());
  } catch {
    url = undefined;
  }
  const origin = url?.origin;
  const bare =
    url !== undefined &&
    (url.pathname === '/' || url.pathname === '') &&
    url.search === '' &&
    url.hash === '' &&
    url.username === '' &&
    url.password === '';
  if (origin === undefined || origin === 'null' || !/^https?:$/.test(url?.protocol ?? '')) {
    throw new Error(
      `--origin must be an http or https origin such as http://192.168.1.20:${DEFAULT_PORT}, not "${text}".`,
    );
  }
  if (!bare) {
    throw new Error(
      `--origin takes an origin (scheme, host and port), without path, query or user: ${origin} rather than "${text}".`,
    );
  }
  return origin;
}
