/**
 * Three small HTTP proxies on loopback, so the trace and proxy labs can show what a proxy does to
 * a WebSocket:
 *
 * - `connect`: CONNECT tunnels only (RFC 9110 §9.3.6). After `200 Connection Established` it
 *   relays bytes both ways without reading them, so wss:// (and ws://) pass untouched.
 * - `aware`: a forwarding proxy that knows WebSocket. It drops the hop-by-hop headers as every
 *   proxy must (RFC 9110 §7.6.1) and then re-adds `Upgrade: websocket` and `Connection: Upgrade`
 *   on its own hop when the client asked to upgrade (RFC 9110 §7.8), then relays bytes.
 * - `naive`: a forwarding proxy that only knows plain HTTP. It drops the hop-by-hop headers
 *   (Connection and the fields it names, Upgrade, Keep-Alive, ...) as RFC 9110 §7.6.1 allows and
 *   re-adds nothing, and it buffers the whole response before passing it on. The server then sees
 *   a plain GET and answers 426/400, which the proxy relays with `Lab-Proxy-Removed` naming what
 *   it removed.
 *
 * `aware` and `naive` also accept CONNECT, as forward proxies do: a tunnel hides the upgrade from
 * them, which is why wss:// gets through where ws:// fails. All three reach only the lab server's
 * own ports (see target.ts); anything else is refused with 403. Their own answers carry
 * Proxy-Status (RFC 9209). Heads are bounded, every wait has a timeout, and connections are capped.
 */
import { once } from 'node:events';
import {
  type AddressInfo,
  createServer,
  connect as netConnect,
  type Server,
  type Socket,
} from 'node:net';
import type { RequestHead, ResponseHead } from '../../protocol/http-head.ts';
import { getHeader, parseList } from '../../protocol/http-head.ts';
import { readHead } from './read-head.ts';
import {
  type Destinations,
  type ProxyTarget,
  parseRequestTarget,
  refuseDestination,
} from './target.ts';

export type ProxyMode = 'connect' | 'aware' | 'naive';
export const PROXY_MODES: readonly ProxyMode[] = ['connect', 'aware', 'naive'];

export interface ProxyLimits {
  readonly maxConnections: number;
  readonly headTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** A relayed connection silent this long both ways is closed. */
  readonly idleTimeoutMs: number;
  readonly maxHeadBytes: number;
  /** Most bytes of a response the naive proxy buffers. */
  readonly maxBufferBytes: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
  maxConnections: 32,
  headTimeoutMs: 10_000,
  connectTimeoutMs: 5000,
  idleTimeoutMs: 120_000,
  maxHeadBytes: 16 * 1024,
  maxBufferBytes: 1024 * 1024,
};

export interface ProxyOptions {
  readonly mode: ProxyMode;
  /** Port to listen on, 0 for an ephemeral one. The address is always 127.0.0.1. */
  readonly port: number;
  /** Where the proxy may go, read at each request (the TLS listener may come later). */
  readonly destinations: () => Destinations;
  readonly limits?: Partial<ProxyLimits>;
}

export interface RunningProxy {
  readonly mode: ProxyMode;
  readonly port: number;
  close(): Promise<void>;
}

/** Hop-by-hop fields every proxy removes (RFC 9110 §7.6.1), besides those Connection names. */
const HOP_BY_HOP = [
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
];

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function ignore(): void {}

/** Names of the hop-by-hop fields in a head: the fixed list plus those Connection names. */
export function hopByHopNames(head: { readonly headers: RequestHead['headers'] }): Set<string> {
  const names = new Set(HOP_BY_HOP);
  for (const field of head.headers) {
    if (field.lowerName === 'connection') {
      for (const token of parseList(field.value)) names.add(token.toLowerCase());
    }
  }
  return names;
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const limits: ProxyLimits = { ...DEFAULT_PROXY_LIMITS, ...options.limits };
  const { mode } = options;
  const name = `wslab-${mode}`;
  const sockets = new Set<Socket>();

  /** The proxy's own answer: status, Proxy-Status (RFC 9209), an explanation, then close. */
  const answer = (client: Socket, status: number, error: string, text: string, extra = '') => {
    if (client.destroyed || !client.writable) return void client.destroy();
    const body = `${text}\n`;
    client.end(
      `HTTP/1.1 ${status} ${REASONS[status] ?? ''}\r\nProxy-Status: ${name}; error=${error}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`,
    );
    setTimeout(() => client.destroy(), 1000).unref();
  };

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    client.on('error', ignore);
    if (sockets.size >= limits.maxConnections) {
      client.resume();
      return answer(
        client,
        503,
        'connection_limit_reached',
        `The ${mode} proxy already relays ${limits.maxConnections} connections; try again later.`,
      );
    }
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    handle(client).catch(() => client.destroy());
  });

  async function handle(client: Socket): Promise<void> {
    const read = await readHead(client, {
      kind: 'request',
      timeoutMs: limits.headTimeoutMs,
      maxHeaderBytes: limits.maxHeadBytes,
    });
    if (read.kind === 'timeout') {
      return answer(
        client,
        408,
        'http_request_error',
        `The request head did not arrive within ${limits.headTimeoutMs / 1000} s.`,
      );
    }
    if (read.kind === 'bad') {
      return answer(
        client,
        read.status,
        'http_request_error',
        `The ${mode} proxy could not read the request: ${read.problem.explanation} (${read.problem.section})`,
      );
    }
    if (read.kind !== 'head') return void client.destroy();
    const { head, rest } = read;
    const parsed = parseRequestTarget(head.method, head.target, getHeader(head, 'host'));
    if (!parsed.ok) return answer(client, 400, 'http_request_error', parsed.explanation);
    const target = parsed.target;
    if (mode === 'connect' && head.method !== 'CONNECT') {
      return answer(
        client,
        405,
        'http_request_denied',
        `This is the lab's CONNECT-only proxy: send CONNECT ${target.authority} HTTP/1.1 to open a tunnel (RFC 9110 §9.3.6), not ${head.method.slice(0, 20)}.`,
        'Allow: CONNECT\r\n',
      );
    }
    const refusal = refuseDestination(target, options.destinations());
    if (refusal !== null) return answer(client, 403, 'destination_ip_prohibited', refusal);
    if (head.method !== 'CONNECT' && hasBody(head)) {
      return answer(
        client,
        501,
        'http_request_error',
        'The lab proxies forward requests without a body only (GET, HEAD, and the upgrade request).',
      );
    }
    const upstream = await dial(target);
    if (typeof upstream === 'string') {
      return answer(
        client,
        502,
        upstream.startsWith('timeout') ? 'connection_timeout' : 'connection_refused',
        upstream.replace(/^timeout: /, ''),
      );
    }
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    if (head.method === 'CONNECT') {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (rest.length > 0) upstream.write(rest);
      return relay(client, upstream);
    }
    const removed = [...hopByHopNames(head)].filter((n) =>
      head.headers.some((f) => f.lowerName === n),
    );
    const kept = head.headers.filter(
      (f) => !hopByHopNames(head).has(f.lowerName) && f.lowerName !== 'host',
    );
    const lines = [`${head.method} ${target.path} HTTP/1.1`, `Host: ${target.authority}`];
    for (const field of kept) lines.push(`${field.name}: ${field.value}`);
    const wantsUpgrade =
      getHeader(head, 'upgrade')?.toLowerCase() === 'websocket' &&
      parseList(getHeader(head, 'connection')).some((t) => t.toLowerCase() === 'upgrade');
    if (mode === 'aware' && wantsUpgrade) {
      // The hop-by-hop headers are this hop's to set: ask the server for the same upgrade.
      lines.push('Upgrade: websocket', 'Connection: Upgrade');
    } else {
      lines.push('Connection: close');
    }
    lines.push(`Via: 1.1 ${name}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (rest.length > 0) upstream.write(rest);
    if (mode === 'aware') return forwardResponse(client, upstream);
    return bufferResponse(client, upstream, removed);
  }

  /**
   * The aware proxy's answer: the response head rewritten for this hop (hop-by-hop fields
   * dropped, the upgrade re-added on a 101, Via added, RFC 9110 §7.6), then bytes both ways.
   */
  async function forwardResponse(client: Socket, upstream: Socket): Promise<void> {
    const read = await readHead(upstream, {
      kind: 'response',
      timeoutMs: limits.headTimeoutMs,
      maxHeaderBytes: limits.maxHeadBytes,
    });
    if (read.kind !== 'head') {
      upstream.destroy();
      return answer(
        client,
        read.kind === 'timeout' ? 504 : 502,
        read.kind === 'timeout' ? 'http_response_timeout' : 'http_response_incomplete',
        `The server's answer did not arrive complete (${read.kind}).`,
      );
    }
    const { head } = read;
    const drop = hopByHopNames(head);
    // The body is relayed as it comes, so its framing stays.
    drop.delete('transfer-encoding');
    const lines = [`HTTP/1.1 ${head.status} ${head.reason}`];
    for (const field of head.headers) {
      if (!drop.has(field.lowerName)) lines.push(`${field.name}: ${field.value}`);
    }
    const upgraded =
      head.status === 101 && getHeader(head, 'upgrade')?.toLowerCase() === 'websocket';
    lines.push(
      ...(upgraded ? ['Upgrade: websocket', 'Connection: Upgrade'] : ['Connection: close']),
    );
    lines.push(`Via: 1.1 ${name}`);
    client.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (read.rest.length > 0) client.write(read.rest);
    relay(client, upstream);
  }

  function hasBody(head: RequestHead): boolean {
    const length = getHeader(head, 'content-length');
    return (
      getHeader(head, 'transfer-encoding') !== undefined ||
      (length !== undefined && length.trim() !== '0')
    );
  }

  function dial(target: ProxyTarget): Promise<Socket | string> {
    return new Promise((resolve) => {
      const host = target.host === 'localhost' ? options.destinations().labHost : target.host;
      const upstream = netConnect({ host, port: target.port, allowHalfOpen: true });
      upstream.setNoDelay(true);
      const timer = setTimeout(() => {
        upstream.destroy();
        resolve(
          `timeout: no connection to ${target.authority} within ${limits.connectTimeoutMs / 1000} s.`,
        );
      }, limits.connectTimeoutMs);
      upstream.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(
          error.code === 'ECONNREFUSED'
            ? `Nothing listens on ${target.authority} (connection refused): is that listener of the lab server on?`
            : `Could not connect to ${target.authority}: ${error.message}`,
        );
      });
      upstream.once('connect', () => {
        clearTimeout(timer);
        upstream.removeAllListeners('error');
        upstream.on('error', ignore);
        resolve(upstream);
      });
    });
  }

  /** Bytes both ways, FIN passed on as FIN (half-close), backpressure by pipe. */
  function relay(client: Socket, upstream: Socket): void {
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    let closed = 0;
    const onClose = () => {
      closed += 1;
      // Once one side is gone and the other has nothing left to say, drop it too.
      if (closed === 1) setTimeout(destroyBoth, limits.connectTimeoutMs).unref();
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
    client.setTimeout(limits.idleTimeoutMs, destroyBoth);
    upstream.setTimeout(limits.idleTimeoutMs, destroyBoth);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  /**
   * The naive proxy's answer: the whole response read first (bounded), hop-by-hop fields removed
   * on the way back too, then passed on with Lab-Proxy-Removed naming what it took out of the
   * request. A 101 never ends, so buffering it waits until the timeout.
   */
  async function bufferResponse(
    client: Socket,
    upstream: Socket,
    removed: string[],
  ): Promise<void> {
    client.on('close', () => upstream.destroy());
    client.resume(); // the client has nothing more to say; drop anything it sends
    const read = await readHead(upstream, {
      kind: 'response',
      timeoutMs: limits.headTimeoutMs,
      maxHeaderBytes: limits.maxHeadBytes,
    });
    if (read.kind !== 'head') {
      upstream.destroy();
      return answer(
        client,
        read.kind === 'timeout' ? 504 : 502,
        read.kind === 'timeout' ? 'http_response_timeout' : 'http_response_incomplete',
        `The server's answer did not arrive complete (${read.kind}).`,
      );
    }
    const body = await readAll(upstream, read.head, read.rest);
    upstream.destroy();
    if (body === null) {
      return answer(
        client,
        504,
        'http_response_timeout',
        `The server answered ${read.head.status} ${read.head.reason} but the response did not end within ${limits.headTimeoutMs / 1000} s; this proxy buffers whole responses${read.head.status === 101 ? ', and a 101 is followed by a WebSocket stream that never ends' : ''}.`,
      );
    }
    const drop = hopByHopNames(read.head);
    drop.add('content-length');
    const lines = [`HTTP/1.1 ${read.head.status} ${read.head.reason}`];
    for (const field of read.head.headers) {
      if (!drop.has(field.lowerName)) lines.push(`${field.name}: ${field.value}`);
    }
    lines.push(`Via: 1.1 ${name}`);
    if (removed.length > 0) lines.push(`Lab-Proxy-Removed: ${removed.map(displayName).join(', ')}`);
    lines.push(`Content-Length: ${body.length}`, 'Connection: close');
    if (client.writable)
      client.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
  }

  /** The response body: by Content-Length, chunked until its end, or until FIN; null on timeout. */
  function readAll(upstream: Socket, head: ResponseHead, rest: Buffer): Promise<Buffer | null> {
    const declared = getHeader(head, 'content-length');
    const want =
      declared !== undefined && /^\d{1,9}$/.test(declared.trim()) ? Number(declared.trim()) : null;
    const chunked = /chunked/i.test(getHeader(head, 'transfer-encoding') ?? '');
    return new Promise((resolve) => {
      const chunks: Buffer[] = [rest];
      let length = rest.length;
      const done = (ok: boolean) => {
        clearTimeout(timer);
        upstream.off('data', onData);
        const all = Buffer.concat(chunks, length);
        if (!ok) return resolve(null);
        if (chunked) return resolve(dechunk(all));
        resolve(want === null ? all : all.subarray(0, want));
      };
      const complete = () =>
        (want !== null && !chunked && length >= want) ||
        (chunked && Buffer.concat(chunks, length).includes('\r\n0\r\n\r\n')) ||
        head.status === 204 ||
        head.status === 304;
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        if (length > limits.maxBufferBytes) return done(false);
        if (complete()) done(true);
      };
      const timer = setTimeout(() => done(false), limits.headTimeoutMs);
      if (complete() || (want === 0 && !chunked)) return done(true);
      upstream.on('data', onData);
      upstream.once('end', () => done(head.status !== 101 && (want === null || length >= want)));
      upstream.once('close', () => done(head.status !== 101 && (want === null || length >= want)));
      upstream.resume();
    });
  }

  server.on('error', ignore);
  server.listen(options.port, '127.0.0.1');
  await once(server, 'listening');
  return {
    mode,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function displayName(lower: string): string {
  return lower.replace(
    /(^|-)([a-z])/g,
    (_, dash: string, c: string) => `${dash}${c.toUpperCase()}`,
  );
}

/** A chunked body (RFC 9112 §7.1) as its data; whatever does not parse is kept as it is. */
function dechunk(bytes: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    if (eol < 0) return bytes;
    const size = Number.parseInt(
      bytes.subarray(at, eol).toString('latin1').split(';', 1)[0] as string,
      16,
    );
    if (!Number.isFinite(size)) return bytes;
    if (size === 0) return Buffer.concat(out);
    out.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export interface RunningProxies {
  readonly ports: { connect: number; aware: number; naive: number };
  close(): Promise<void>;
}

/**
 * Starts the three proxies. `basePort` 0 gives each an ephemeral port; otherwise connect, aware
 * and naive listen on basePort, basePort + 1 and basePort + 2.
 */
export async function startProxies(
  basePort: number,
  destinations: () => Destinations,
  limits?: Partial<ProxyLimits>,
): Promise<RunningProxies> {
  const started: RunningProxy[] = [];
  try {
    for (const [i, mode] of PROXY_MODES.entries()) {
      started.push(
        await startProxy({
          mode,
          port: basePort === 0 ? 0 : basePort + i,
          destinations,
          ...(limits ? { limits } : {}),
        }),
      );
    }
  } catch (error) {
    await Promise.all(started.map((p) => p.close()));
    throw error;
  }
  const [connect, aware, naive] = started as [RunningProxy, RunningProxy, RunningProxy];
  return {
    ports: { connect: connect.port, aware: aware.port, naive: naive.port },
    close: async () => {
      await Promise.all(started.map((p) => p.close()));
    },
  };
}
