/**
 * The trace client: opens one WebSocket connection to a ws:// or wss:// URL, directly or through
 * an HTTP proxy, and times every step with a monotonic clock (performance.now): DNS lookup, TCP
 * connect, the proxy's CONNECT tunnel (RFC 9110 §9.3.6) or the hand-over of the request to a
 * forwarding proxy (RFC 9112 §3.2.2), TLS, the opening handshake (RFC 6455 §4.1), one message and
 * its echo, the close handshake (RFC 6455 §7.1.2) and the FIN each way (§7.1.1).
 *
 * The bytes come from `protocol/` (handshake request, frame encoder, accept check) on node:net and
 * node:tls, read back with `check/connection.ts`. Nothing trusts the peer: every wait has a
 * timeout with an explanation, and reads are bounded.
 */
import { lookup } from 'node:dns/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { generateKey } from '../../protocol/accept.ts';
import { closePayload } from '../../protocol/frame-encoder.ts';
import { toHex } from '../../protocol/frame-parser.ts';
import { buildClientRequest, validateServerResponse } from '../../protocol/handshake.ts';
import { getHeader, type ResponseHead } from '../../protocol/http-head.ts';
import {
  DEFAULT_TRACE_MESSAGE,
  type Trace,
  type TraceFailure,
  type TracePhase,
  type TracePhaseName,
  type TraceTls,
  type TraceVia,
} from '../../protocol/trace.ts';
import { RawConnection } from '../check/connection.ts';
import { parseTarget, type Target } from '../check/target.ts';
import { readHead } from '../proxy/read-head.ts';

export const DEFAULT_TRACE_TIMEOUT_MS = 5000;
/** Bytes of a non-101 answer kept to explain it (its head and the start of its body). */
const ANSWER_KEEP = 4096;
const MAX_HEAD_BYTES = 16 * 1024;

export interface ProxySpec {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, as given. */
  readonly url: string;
}

export interface TraceOptions {
  /** ws:// or wss:// URL. */
  readonly url: string;
  readonly proxy?: ProxySpec;
  /** Use CONNECT for ws:// too (wss:// always does). */
  readonly proxyTunnel?: boolean;
  /** The label of the trace; by default `direct`, `connect` for a tunnel, `aware` for a forwarder. */
  readonly via?: TraceVia;
  readonly message?: string;
  /** Skip certificate verification (self-signed certificates). */
  readonly insecure?: boolean;
  /** Why the certificate is not verified, for the TLS phase's detail (default `--insecure`). */
  readonly unverifiedNote?: string;
  /** Certificates to trust (PEM), e.g. a self-signed one. */
  readonly ca?: string | Buffer;
  readonly origin?: string;
  /** Longest wait for each step. */
  readonly timeoutMs?: number;
  /** Called as soon as each phase completes, in order. */
  readonly onPhase?: (phase: TracePhase) => void;
}

/** Parses `--proxy http://host:port`; throws an Error a user can act on. */
export function parseProxy(text: string): ProxySpec {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(
      `"${text.slice(0, 200)}" is not a proxy URL; give one like http://127.0.0.1:3128`,
    );
  }
  if (url.protocol !== 'http:') {
    throw new Error(
      `The proxy must be an http:// URL (the client talks plain HTTP/1.1 to it, RFC 9112), not ${url.protocol}//`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error('Proxy credentials are not supported: leave user:password@ out.');
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new Error(`A proxy URL is only scheme, host and port: http://${url.host}`);
  }
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 80 : Number(url.port),
    url: `http://${url.host}`,
  };
}

class TraceFailed extends Error {
  constructor(readonly failure: TraceFailure) {
    super(failure.explanation);
  }
}

function fail(
  phase: TracePhaseName,
  explanation: string,
  extra: Partial<TraceFailure> = {},
): never {
  throw new TraceFailed({ phase, explanation, ...extra });
}

/**
 * Runs one trace. A failure is a trace with `ok: false` and an explanation; it throws only for a
 * URL that is not ws:// or wss:// (parseTarget's message says why).
 */
export async function runTrace(options: TraceOptions): Promise<Trace> {
  const target = parseTarget(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TRACE_TIMEOUT_MS;
  const proxy = options.proxy;
  const tunnel = proxy !== undefined && (target.secure || options.proxyTunnel === true);
  let via: TraceVia =
    options.via ?? (proxy === undefined ? 'direct' : tunnel ? 'connect' : 'aware');
  const t0 = performance.now();
  const now = () => Math.round((performance.now() - t0) * 1000) / 1000;
  const phases: TracePhase[] = [];
  const record = (
    name: TracePhaseName,
    start: number,
    detail: string,
    data?: TracePhase['data'],
  ) => {
    const phase: TracePhase = { name, start, end: now(), detail, ...(data ? { data } : {}) };
    phases.push(phase);
    options.onPhase?.(phase);
  };
  let addresses: string[] | undefined;
  let tls: TraceTls | undefined;
  const sockets: Socket[] = [];
  const base = () => ({
    v: 1 as const,
    url: target.url,
    via,
    ...(proxy === undefined ? {} : { proxy: proxy.url }),
  });
  try {
    const hop = proxy ?? { host: target.host, port: target.port };
    // 1. DNS: the client resolves the name it connects to, the proxy's when there is one (the
    // proxy resolves the target itself).
    let start = now();
    const family = isIP(hop.host);
    if (family !== 0) {
      addresses = [hop.host];
      record('dns', start, `${hop.host} is an IPv${family} address: no lookup needed`, {
        addresses,
      });
    } else {
      const answers = await within(
        lookup(hop.host, { all: true, order: 'verbatim' }).catch((error: NodeJS.ErrnoException) =>
          fail(
            'dns',
            error.code === 'ENOTFOUND'
              ? `The name ${hop.host} does not resolve to any address (the OS resolver answered ENOTFOUND).`
              : `The lookup of ${hop.host} failed: ${error.message}`,
          ),
        ),
        timeoutMs,
        () =>
          fail('dns', `No answer from the resolver for ${hop.host} within ${timeoutMs / 1000} s.`),
      );
      addresses = answers.map((a) => a.address);
      record(
        'dns',
        start,
        `${hop.host} → ${answers.map((a) => `${a.address} (IPv${a.family})`).join(', ')} from the OS resolver${proxy ? ' (the proxy resolves the target itself)' : ''}`,
        { addresses },
      );
    }

    // 2. TCP, to each address in turn until one answers.
    start = now();
    let socket: Socket | undefined;
    const refusals: string[] = [];
    for (const address of addresses) {
      try {
        socket = await tcpConnect(address, hop.port, timeoutMs);
        break;
      } catch (error) {
        refusals.push(`${address}: ${(error as Error).message}`);
      }
    }
    if (socket === undefined) {
      fail(
        'tcp',
        `No TCP connection to ${proxy ? 'the proxy at ' : ''}${hop.host} port ${hop.port}: ${refusals.join('; ')}.`,
      );
    }
    sockets.push(socket);
    record(
      'tcp',
      start,
      `connected to ${socket.remoteAddress}:${socket.remotePort} from ${socket.localAddress}:${socket.localPort}${proxy ? ' (the proxy)' : ''}: SYN, SYN-ACK, ACK`,
      {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
        local: `${socket.localAddress}:${socket.localPort}`,
      },
    );

    // 3. Proxy: a CONNECT tunnel, or the request handed to a forwarder.
    const authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    if (proxy !== undefined && tunnel) {
      start = now();
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
      const answer = await readHead(socket, {
        kind: 'response',
        timeoutMs,
        maxHeaderBytes: MAX_HEAD_BYTES,
      });
      if (answer.kind !== 'head') {
        fail(
          'proxy',
          answer.kind === 'timeout'
            ? `The proxy did not answer the CONNECT within ${timeoutMs / 1000} s.`
            : answer.kind === 'bad'
              ? `The proxy's answer to CONNECT is not HTTP: ${answer.problem.explanation}`
              : `The proxy closed the connection without answering the CONNECT${'error' in answer && answer.error ? ` (${answer.error})` : ''}.`,
          answer.bytes.length > 0 ? { bytesHex: hexOf(answer.bytes) } : {},
        );
      }
      const { head } = answer;
      if (head.status < 200 || head.status > 299) {
        const body = await readBody(socket, head, answer.rest, Math.min(timeoutMs, 1000));
        fail(
          'proxy',
          `The proxy refused to open a tunnel to ${authority}: ${head.status} ${head.reason}${proxyStatusOf(head)}${body ? `: ${body}` : ''} (a CONNECT succeeds only with a 2xx answer, RFC 9110 §9.3.6).`,
          { status: head.status, bytesHex: hexOf(answer.bytes) },
        );
      }
      if (answer.rest.length > 0) socket.unshift(answer.rest);
      record(
        'proxy',
        start,
        `CONNECT ${authority} answered ${head.status} ${head.reason}: the proxy now relays bytes blindly both ways (a tunnel, RFC 9110 §9.3.6)${target.secure ? ', so it never sees the WebSocket handshake inside TLS' : ''}`,
        { mode: 'connect', status: head.status, authority },
      );
    } else if (proxy !== undefined) {
      start = now();
      record(
        'proxy',
        start,
        `the upgrade request goes to the proxy in absolute form, GET http://${authority}${target.path} (RFC 9112 §3.2.2); the proxy opens its own connection to ${authority} and decides which headers to pass on`,
        { mode: 'forward', authority },
      );
    }

    // 4. TLS.
    let stream: Socket = socket;
    if (target.secure) {
      start = now();
      const secure = await tlsHandshake(socket, target, options, timeoutMs);
      sockets.push(secure);
      stream = secure;
      tls = describeTls(secure, options.insecure === true);
      const cert = tls.certificate;
      record(
        'tls',
        start,
        `${tls.version} ${tls.cipher}, ALPN ${tls.alpn ?? 'none'}${cert ? `, certificate for ${cert.subject}${cert.altNames.length > 0 ? ` (${cert.altNames.join(', ')})` : ''}, ${cert.verified ? 'verified' : `NOT verified (${options.unverifiedNote ?? '--insecure'})`}` : ''}`,
        {
          version: tls.version,
          cipher: tls.cipher,
          alpn: tls.alpn,
          verified: cert?.verified ?? false,
        },
      );
    }

    // 5. The opening handshake (RFC 6455 §4.1).
    const received: Buffer[] = [];
    let receivedLength = 0;
    stream.on('data', (chunk: Buffer) => {
      if (receivedLength < ANSWER_KEEP) {
        received.push(chunk);
        receivedLength += chunk.length;
      }
    });
    const connection = new RawConnection(stream);
    stream.resume();
    const key = generateKey();
    const request = buildClientRequest({
      host: target.hostHeader,
      path: target.path,
      key,
      ...(options.origin === undefined ? {} : { origin: options.origin }),
    });
    // A forwarding proxy gets the absolute form; ws:// maps to http:// there, since the proxy
    // sees an ordinary HTTP request with an Upgrade header.
    const forwarded = proxy !== undefined && !tunnel;
    const text = forwarded
      ? request.text.replace(/^GET \S+ /, `GET http://${authority}${target.path} `)
      : request.text;
    start = now();
    connection.sendHead(text);
    record(
      'request',
      start,
      `${text.split('\r\n', 1)[0]} with Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Key ${key} (${Buffer.byteLength(text)} bytes, RFC 6455 §4.1)`,
      { bytes: Buffer.byteLength(text), key },
    );

    start = now();
    const answer = await connection.readHead(timeoutMs);
    if (answer.kind !== 'head') {
      const why =
        answer.kind === 'timeout'
          ? `No answer to the upgrade request within ${timeoutMs / 1000} s${forwarded ? ': a proxy that buffers the response waits for its end, which a 101 never has' : ''}.`
          : answer.kind === 'bad-head'
            ? `The answer is not an HTTP response: ${answer.problem.explanation}`
            : `The ${forwarded || tunnel ? 'proxy' : 'server'} closed the connection without answering the upgrade request${answer.kind === 'closed' && answer.error ? ` (${answer.error})` : ''}${target.secure ? '' : ' (is it a wss:// port? then use wss://)'}.`;
      fail(
        'response',
        why,
        answer.bytes.length > 0 ? { bytesHex: hexOf(Buffer.from(answer.bytes)) } : {},
      );
    }
    const head = answer.head;
    // The lab's naive proxy names itself in Via (RFC 9110 §7.6.3): label the trace after it.
    if (
      options.via === undefined &&
      forwarded &&
      /wslab-naive/.test(getHeader(head, 'via') ?? '')
    ) {
      via = 'naive';
    }
    if (head.status !== 101) {
      await settle(stream, Math.min(timeoutMs, 500));
      const all = Buffer.concat(received, receivedLength);
      const body = all
        .subarray(answer.bytes.length)
        .toString('utf8')
        .replace(/\s+/g, ' ')
        .trim()
        .slice(0, 400);
      fail('response', explainRefusal(head, body, forwarded, target), {
        status: head.status,
        bytesHex: hexOf(all.subarray(0, Math.min(all.length, 1024))),
      });
    }
    const findings = await validateServerResponse(head, { key });
    const broken = findings.find((f) => !f.ok && !f.informational);
    if (broken !== undefined) {
      fail(
        'response',
        `${broken.explanation} (${broken.section})${forwarded ? '. A proxy may have removed the hop-by-hop Upgrade and Connection headers of the 101 (RFC 9110 §7.6.1).' : ''}`,
        { status: 101, bytesHex: hexOf(Buffer.from(answer.bytes)) },
      );
    }
    const accept = getHeader(head, 'sec-websocket-accept') ?? '';
    record(
      'response',
      start,
      `${head.status} ${head.reason}; Sec-WebSocket-Accept ${accept} matches the key (RFC 6455 §4.2.2)${viaOf(head)}`,
      { status: head.status, accept },
    );

    // 6. One message and its echo.
    const message = options.message ?? DEFAULT_TRACE_MESSAGE;
    start = now();
    const sent = connection.sendFrame({ fin: true, opcode: 0x1, payload: message });
    const wireBytes = sent.headerLength + sent.payloadPreview.length;
    record(
      'message-sent',
      start,
      `text frame, ${Buffer.byteLength(message)} payload bytes masked with ${toHex(sent.maskingKey ?? new Uint8Array(0))} (RFC 6455 §5.3), ${wireBytes} bytes on the wire`,
      { payloadBytes: Buffer.byteLength(message), wireBytes },
    );
    start = now();
    for (;;) {
      const next = await connection.next(timeoutMs);
      if (next.kind === 'frame' && next.frame.opcode === 0x9) {
        connection.sendFrame({ fin: true, opcode: 0xa, payload: next.frame.unmaskedPreview });
        continue;
      }
      if (next.kind === 'frame' && next.frame.opcode === 0x1) {
        const echoed = Buffer.from(next.frame.unmaskedPreview).toString('utf8');
        if (echoed !== message) {
          fail(
            'message-echoed',
            `The server answered a text message that is not the one sent: ${JSON.stringify(echoed.slice(0, 100))} instead of ${JSON.stringify(message.slice(0, 100))} (is it an echo endpoint?).`,
          );
        }
        record(
          'message-echoed',
          start,
          `the same ${Buffer.byteLength(message)} bytes came back in an unmasked text frame (servers do not mask, RFC 6455 §5.1)`,
          { payloadBytes: Buffer.byteLength(message) },
        );
        break;
      }
      fail('message-echoed', unexpected(next, 'the echo of the message', timeoutMs));
    }

    // 7. The close handshake: the client starts it, the server answers (RFC 6455 §7.1.2).
    start = now();
    connection.sendFrame({ fin: true, opcode: 0x8, payload: closePayload(1000, 'trace done') });
    record(
      'close-sent',
      start,
      'close frame 1000 (Normal Closure) "trace done" (RFC 6455 §5.5.1)',
      {
        code: 1000,
      },
    );
    start = now();
    for (;;) {
      const next = await connection.next(timeoutMs);
      if (next.kind === 'frame' && next.frame.opcode === 0x8) {
        const code = next.frame.close?.code ?? null;
        record(
          'close-received',
          start,
          `the server answered with close ${code ?? '(no status code)'}${next.frame.close?.reason ? ` "${next.frame.close.reason}"` : ''}; both sides have now sent close, so no more frames (RFC 6455 §7.1.2)`,
          { code },
        );
        break;
      }
      if (next.kind === 'frame') continue; // data still in flight before its close frame
      fail('close-received', unexpected(next, "the server's close frame", timeoutMs));
    }

    // 8. FIN each way: the server should close the TCP connection first (RFC 6455 §7.1.1).
    start = now();
    const finSent = once(stream, 'finish');
    const next = await connection.next(timeoutMs);
    if (next.kind === 'end' || next.kind === 'closed') {
      record(
        'fin-received',
        start,
        `the server closed its side first${target.secure ? ' (TLS close_notify, then FIN)' : ''}, as RFC 6455 §7.1.1 asks of servers`,
        { first: 'server' },
      );
      start = now();
      connection.finish();
      await within(finSent, timeoutMs, () =>
        fail('fin-sent', `Our FIN could not be sent within ${timeoutMs / 1000} s.`),
      );
      record(
        'fin-sent',
        start,
        'the client closed its side in turn: the TCP connection is closed both ways',
        {
          first: 'server',
        },
      );
    } else {
      // The server kept its side open: the client closes first, which TCP allows (RFC 6455
      // §7.1.1 only asks that the server normally goes first).
      connection.finish();
      await within(finSent, timeoutMs, () =>
        fail('fin-sent', `Our FIN could not be sent within ${timeoutMs / 1000} s.`),
      );
      record(
        'fin-sent',
        start,
        `the server sent no FIN within ${timeoutMs / 1000} s of its close frame, so the client closed its side first`,
        { first: 'client' },
      );
      start = now();
      const last = await connection.next(timeoutMs);
      if (last.kind !== 'end' && last.kind !== 'closed') {
        fail('fin-received', unexpected(last, "the server's FIN", timeoutMs));
      }
      record('fin-received', start, 'the server closed its side after ours', { first: 'client' });
    }
    return {
      ...base(),
      ok: true,
      phases,
      ...(tls ? { tls } : {}),
      ...(addresses ? { dns: { addresses } } : {}),
    };
  } catch (error) {
    const failure: TraceFailure =
      error instanceof TraceFailed
        ? error.failure
        : {
            phase: nextPhase(phases),
            explanation: `The trace stopped: ${(error as Error).message}`,
          };
    return {
      ...base(),
      ok: false,
      phases,
      failure,
      ...(tls ? { tls } : {}),
      ...(addresses ? { dns: { addresses } } : {}),
    };
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

function nextPhase(phases: readonly TracePhase[]): TracePhaseName {
  const order: TracePhaseName[] = ['dns', 'tcp', 'request', 'response', 'message-sent'];
  return order.find((name) => !phases.some((p) => p.name === name)) ?? 'response';
}

function hexOf(bytes: Buffer | Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 1024)).toString('hex');
}

function within<T>(promise: Promise<T>, ms: number, onTimeout: () => never): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        try {
          onTimeout();
        } catch (error) {
          reject(error);
        }
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function once(stream: Socket, event: string): Promise<void> {
  return new Promise((resolve) => {
    if (event === 'finish' && stream.writableFinished) return resolve();
    stream.once(event, () => resolve());
  });
}

/** Waits until the peer ends or `ms` passes, so a refusal's body can be read. */
function settle(stream: Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      stream.off('end', done);
      stream.off('close', done);
      resolve();
    }
    stream.once('end', done);
    stream.once('close', done);
  });
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // Half-open, so the server's FIN is seen before ours is sent (RFC 6455 §7.1.1).
    const socket = netConnect({ host, port, allowHalfOpen: true });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no answer to the SYN within ${timeoutMs / 1000} s (a firewall dropping it?)`),
      );
    }, timeoutMs);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          error.code === 'ECONNREFUSED'
            ? 'connection refused (RST): nothing listens on that port'
            : error.message,
        ),
      );
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

function tlsHandshake(
  socket: Socket,
  target: Target,
  options: TraceOptions,
  timeoutMs: number,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({
      socket,
      ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: options.insecure !== true,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(
        new TraceFailed({
          phase: 'tls',
          explanation: `The TLS handshake did not finish within ${timeoutMs / 1000} s (is this a wss:// port?).`,
        }),
      );
    }, timeoutMs);
    secure.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new TraceFailed({ phase: 'tls', explanation: explainTlsError(error, target) }));
    });
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.removeAllListeners('error');
      secure.on('error', () => {});
      secure.pause();
      resolve(secure);
    });
  });
}

function explainTlsError(error: NodeJS.ErrnoException, target: Target): string {
  const code = error.code ?? '';
  const trustHint =
    'pass --ca FILE with the certificate (PEM) to trust it, or --insecure to trace without verifying it';
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN') {
    return `The certificate of ${target.host} is self-signed, so no trusted authority vouches for it (RFC 5280 §6): ${trustHint}.`;
  }
  if (code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY') {
    return `The certificate of ${target.host} was issued by an authority this machine does not trust (RFC 5280 §6): ${trustHint}.`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `The certificate does not name ${target.host} in its subjectAltName, so it is not for this host (RFC 9110 §4.3.4): ${error.message}`;
  }
  if (code === 'CERT_HAS_EXPIRED') return `The certificate of ${target.host} has expired.`;
  if (/wrong version number|packet length too long|unknown protocol/i.test(error.message)) {
    return `The server did not answer the TLS ClientHello with TLS (${error.message}): is ${target.host}:${target.port} a plain ws:// port? Then use ws://.`;
  }
  if (code === 'ECONNRESET' || /socket disconnected/i.test(error.message)) {
    return `The connection was closed during the TLS handshake (${error.message}): is ${target.host}:${target.port} a wss:// port?`;
  }
  return `The TLS handshake failed: ${error.message}`;
}

function describeTls(socket: TLSSocket, insecure: boolean): TraceTls {
  const cipher = socket.getCipher();
  const alpn = socket.alpnProtocol;
  const peer = socket.getPeerCertificate();
  const hasCert = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
  const name = (value: unknown) => {
    if (value === undefined || value === null) return '';
    const record = value as Record<string, string | string[]>;
    const cn = record.CN;
    if (cn !== undefined) return Array.isArray(cn) ? cn.join(', ') : cn;
    return Object.entries(record)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
      .join(', ');
  };
  return {
    version: socket.getProtocol() ?? 'unknown',
    cipher: cipher.standardName ?? cipher.name,
    alpn: typeof alpn === 'string' && alpn !== '' ? alpn : null,
    certificate: hasCert
      ? {
          subject: name(peer.subject),
          altNames: (peer.subjectaltname ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
          issuer: name(peer.issuer),
          validTo: peer.valid_to,
          verified: !insecure && socket.authorized,
        }
      : null,
  };
}

function viaOf(head: ResponseHead): string {
  const via = getHeader(head, 'via');
  return via === undefined ? '' : `; Via: ${via} (RFC 9110 §7.6.3)`;
}

function proxyStatusOf(head: ResponseHead): string {
  const status = getHeader(head, 'proxy-status');
  return status === undefined ? '' : ` (Proxy-Status: ${status}, RFC 9209)`;
}

/** Why a non-101 answer ended the trace, proxy included. */
function explainRefusal(
  head: ResponseHead,
  body: string,
  forwarded: boolean,
  target: Target,
): string {
  const answered = `${head.status} ${head.reason}`.trimEnd();
  const quoted = body === '' ? '' : ` Its body: "${body}"`;
  const proxyStatus = getHeader(head, 'proxy-status');
  if (proxyStatus !== undefined) {
    return `The proxy itself answered ${answered}${proxyStatusOf(head)}, without reaching the server.${quoted}`;
  }
  const removed = getHeader(head, 'lab-proxy-removed');
  if (
    forwarded &&
    (removed !== undefined ||
      head.status === 426 ||
      head.status === 400 ||
      (head.status >= 200 && head.status < 300))
  ) {
    const which =
      removed === undefined
        ? 'Upgrade and Connection'
        : removed
            .split(/\s*,\s*/)
            .join(', ')
            .replace(/, ([^,]*)$/, ' and $1');
    return `The proxy removed ${which} (hop-by-hop headers, RFC 9110 §7.6.1), so the server saw a plain GET ${target.path} and answered ${answered} instead of 101. A forwarding proxy has to pass the upgrade on explicitly for a WebSocket to get through (RFC 9110 §7.8); wss:// avoids this, since the proxy then only relays a CONNECT tunnel (RFC 9110 §9.3.6).${quoted}`;
  }
  return `The server answered ${answered} instead of 101 Switching Protocols, so the connection does not become a WebSocket (RFC 6455 §4.1).${quoted}`;
}

type Next = Awaited<ReturnType<RawConnection['next']>>;

function unexpected(next: Next, what: string, timeoutMs: number): string {
  switch (next.kind) {
    case 'timeout':
      return `Waited ${timeoutMs / 1000} s for ${what}; nothing came.`;
    case 'end':
      return `The server sent FIN before ${what}.`;
    case 'closed':
      return `The connection closed before ${what}${next.error ? ` (${next.error})` : ''}.`;
    case 'problem':
      return `The server's bytes break a rule before ${what}: ${next.problem.explanation} (${next.problem.section})`;
    case 'frame':
      return next.frame.opcode === 0x8
        ? `The server closed the connection (close ${next.frame.close?.code ?? 'without a code'}${next.frame.close?.reason ? ` "${next.frame.close.reason}"` : ''}) before ${what}.`
        : `A ${next.frame.opcodeName} frame came instead of ${what}.`;
  }
}

/** The start of a refusal's body (at most 1 KiB), read until its length, FIN, or `ms`. */
function readBody(socket: Socket, head: ResponseHead, rest: Buffer, ms: number): Promise<string> {
  const declared = Number(getHeader(head, 'content-length') ?? Number.NaN);
  const want = Math.min(Number.isFinite(declared) ? declared : 1024, 1024);
  const chunks: Buffer[] = [rest];
  let length = rest.length;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', done);
      socket.off('close', done);
      resolve(
        Buffer.concat(chunks, length)
          .subarray(0, want)
          .toString('utf8')
          .replace(/\s+/g, ' ')
          .trim()
          .slice(0, 400),
      );
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= want) done();
    };
    const timer = setTimeout(done, ms);
    if (length >= want) return done();
    socket.on('data', onData);
    socket.once('end', done);
    socket.once('close', done);
    socket.resume();
  });
}
