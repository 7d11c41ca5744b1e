/**
 * `pnpm lab trace <url>`: traces one WebSocket connection to any URL the user names and prints
 * the timeline the way `curl -w` prints its timings. Exit code 0 when every phase completed, 1
 * when the trace failed (with the explanation), 2 for a command line it cannot use.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DEFAULT_TRACE_MESSAGE,
  PHASE_LABELS,
  phaseDuration,
  type Trace,
  type TracePhase,
  traceTotal,
} from '../../protocol/trace.ts';
import { parseTarget } from '../check/target.ts';
import { parseArgsMessage } from '../options.ts';
import { DEFAULT_TRACE_TIMEOUT_MS, type ProxySpec, parseProxy, runTrace } from './client.ts';

/** Largest --message: one frame with a 16-bit length is plenty for a timing. */
const MAX_MESSAGE_BYTES = 65535;

export const TRACE_HELP = `Usage: pnpm lab trace <ws://host:port/path | wss://...> [options]

Opens one WebSocket connection to the URL, sends one text message, expects it back (an echo
endpoint, such as the lab's /echo), closes it, and prints how long each step took, like curl -w:
DNS lookup, TCP connect, proxy (CONNECT tunnel or forwarding), TLS handshake, upgrade request,
response, message sent and echoed, close sent and received, FIN received and sent.

Options:
  --proxy <http://host:port>  go through an HTTP proxy: wss:// always uses a CONNECT tunnel
                              (RFC 9110 §9.3.6); ws:// is sent to it in absolute form
                              (RFC 9112 §3.2.2), as a forwarding proxy sees it
  --proxy-tunnel              use a CONNECT tunnel for ws:// too
  --message <text>            the text to send and expect back (default "${DEFAULT_TRACE_MESSAGE}")
  --origin <origin>           send this Origin header (default: none, like a non-browser client)
  --insecure                  do not verify the server's certificate (self-signed, wss:// only)
  --ca <file>                 trust the certificate(s) in this PEM file, e.g. a self-signed one
  --timeout <s>               seconds to wait for each step (default ${DEFAULT_TRACE_TIMEOUT_MS / 1000})
  --json                      print the trace as one JSON object (run it as pnpm -s lab trace ...
                              to keep pnpm's own banner out of it)
  -h, --help                  show this help

The lab server's own proxies (their ports are printed when pnpm lab starts, and in /lab.json):
  connect  CONNECT tunnels only; aware  forwards the upgrade; naive  drops Upgrade and
  Connection (hop-by-hop, RFC 9110 §7.6.1), so ws:// fails through it and wss:// passes.

Exit code: 0 when every phase completed, 1 when the trace failed, 2 for a bad command line.
`;

export interface TraceCommand {
  readonly help: boolean;
  readonly url: string;
  readonly proxy: ProxySpec | undefined;
  readonly proxyTunnel: boolean;
  readonly message: string;
  readonly origin: string | undefined;
  readonly insecure: boolean;
  readonly ca: string | undefined;
  readonly timeoutMs: number;
  readonly json: boolean;
}

/** Parses the arguments after `trace`; throws an Error with a message for the user. */
export function parseTraceArgs(argv: readonly string[]): TraceCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new Error(parseArgsMessage(error as Error));
  }
  const { values, positionals } = parsed;
  const base = {
    url: '',
    proxy: undefined,
    proxyTunnel: false,
    message: DEFAULT_TRACE_MESSAGE,
    origin: undefined,
    insecure: false,
    ca: undefined,
    timeoutMs: DEFAULT_TRACE_TIMEOUT_MS,
    json: false,
  };
  if (values.help === true) return { help: true, ...base };
  if (positionals.length === 0) {
    throw new Error('Give the URL to trace, for example: pnpm lab trace ws://127.0.0.1:6455/echo');
  }
  if (positionals.length > 1) {
    throw new Error(
      `Give one URL, not ${positionals.length}: ${positionals.slice(0, 3).join(' ')}`,
    );
  }
  const url = parseTarget(positionals[0] as string).url;
  const proxy = values.proxy === undefined ? undefined : parseProxy(values.proxy);
  if (values['proxy-tunnel'] === true && proxy === undefined) {
    throw new Error('--proxy-tunnel needs --proxy: it says how to use the proxy.');
  }
  if (values.insecure === true && values.ca !== undefined) {
    throw new Error(
      '--insecure and --ca cannot be used together: --ca verifies, --insecure does not.',
    );
  }
  let ca: string | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca, 'utf8');
    } catch (error) {
      throw new Error(`Cannot read --ca ${values.ca}: ${(error as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error(`--ca ${values.ca} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
    }
  }
  const message = values.message ?? DEFAULT_TRACE_MESSAGE;
  if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) {
    throw new Error(`--message is longer than ${MAX_MESSAGE_BYTES} bytes.`);
  }
  let timeoutMs = DEFAULT_TRACE_TIMEOUT_MS;
  if (values.timeout !== undefined) {
    const value = /^\d+(\.\d+)?$/.test(values.timeout.trim())
      ? Number(values.timeout.trim())
      : Number.NaN;
    if (!(value > 0 && value <= 120)) {
      throw new Error(
        `--timeout must be a number of seconds above 0, at most 120, not "${values.timeout}".`,
      );
    }
    timeoutMs = Math.round(value * 1000);
  }
  return {
    help: false,
    url,
    proxy,
    proxyTunnel: values['proxy-tunnel'] === true,
    message,
    origin: values.origin,
    insecure: values.insecure === true,
    ca,
    timeoutMs,
    json: values.json === true,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      proxy: { type: 'string' },
      'proxy-tunnel': { type: 'boolean' },
      message: { type: 'string' },
      origin: { type: 'string' },
      insecure: { type: 'boolean' },
      ca: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
}

function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

/** One line per phase: label, start, duration, cumulative (its end), detail. */
export function timelineLines(trace: Trace): string[] {
  const width = Math.max(...Object.values(PHASE_LABELS).map((l) => l.length));
  const row = (label: string, start: string, duration: string, total: string, detail: string) =>
    `  ${label.padEnd(width)}  ${start.padStart(10)}  ${duration.padStart(10)}  ${total.padStart(10)}  ${detail}`;
  const lines = [row('phase', 'start', 'duration', 'cumulative', 'what happened')];
  for (const phase of trace.phases) lines.push(phaseLine(phase, row));
  return lines;
}

function phaseLine(
  phase: TracePhase,
  row: (label: string, start: string, duration: string, total: string, detail: string) => string,
): string {
  return row(
    PHASE_LABELS[phase.name],
    ms(phase.start),
    ms(phaseDuration(phase)),
    ms(phase.end),
    phase.detail,
  );
}

export interface Output {
  write(text: string): unknown;
}

/** Runs `pnpm lab trace ...`; resolves to the exit code. */
export async function traceCommand(
  argv: readonly string[],
  io: { stdout: Output; stderr: Output },
): Promise<number> {
  let command: TraceCommand;
  try {
    command = parseTraceArgs(argv);
  } catch (error) {
    io.stderr.write(
      `${(error as Error).message}\nRun pnpm lab trace --help to see every option.\n`,
    );
    return 2;
  }
  if (command.help) {
    io.stdout.write(TRACE_HELP);
    return 0;
  }
  if (!command.json) {
    const how =
      command.proxy === undefined
        ? 'directly'
        : `through the proxy ${command.proxy.url} (${command.url.startsWith('wss:') || command.proxyTunnel ? 'CONNECT tunnel' : 'forwarded request'})`;
    io.stdout.write(
      `Tracing ${command.url} ${how}; each step awaited ${command.timeoutMs / 1000} s.\n\n`,
    );
  }
  const trace = await runTrace({
    url: command.url,
    ...(command.proxy === undefined ? {} : { proxy: command.proxy }),
    proxyTunnel: command.proxyTunnel,
    message: command.message,
    ...(command.origin === undefined ? {} : { origin: command.origin }),
    insecure: command.insecure,
    ...(command.ca === undefined ? {} : { ca: command.ca }),
    timeoutMs: command.timeoutMs,
  });
  if (command.json) {
    io.stdout.write(`${JSON.stringify(trace)}\n`);
  } else {
    io.stdout.write(`${timelineLines(trace).join('\n')}\n\n`);
    if (trace.ok) {
      io.stdout.write(`OK: ${trace.phases.length} phases in ${ms(traceTotal(trace))}.\n`);
    } else if (trace.failure !== undefined) {
      const f = trace.failure;
      io.stdout.write(
        `FAILED at ${PHASE_LABELS[f.phase]} after ${ms(traceTotal(trace))}${f.status === undefined ? '' : ` (HTTP ${f.status})`}:\n  ${f.explanation}\n`,
      );
    }
  }
  return trace.ok ? 0 : 1;
}
