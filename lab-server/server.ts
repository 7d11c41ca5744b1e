/**
 * The lab server: one process, one port, for the site and every WebSocket endpoint (the same
 * port works for both because the Upgrade header tells them apart, RFC 6455 §1.7). This file
 * only routes; each endpoint and concern has its own file.
 */
import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import {
  buildServerResponse,
  parseExtensions,
  validateUpgradeRequest,
} from '../protocol/handshake.ts';
import { getHeader, type RequestHead } from '../protocol/http-head.ts';
import type { Problem } from '../protocol/types.ts';
import { checkUpgrade } from './check-endpoint.ts';
import { type ConnectionHost, LabConnection } from './connection.ts';
import { countEcho, countEndpoint } from './count.ts';
import { type EchoOptions, echo, parseEchoOptions } from './echo.ts';
import {
  type HttpEndpoint,
  httpEndpointFor,
  type LabContext,
  type WebSocketEndpoint,
} from './endpoints.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import { observe } from './observe.ts';
import { type RunningProxies, startProxies } from './proxy/server.ts';
import { raw } from './raw.ts';
import { Registry } from './registry.ts';
import { staticSite } from './static.ts';
import { routeOf, type TlsInfo, WEBSOCKET_ROUTES } from './tap.ts';
import type { TapSocket } from './tap-socket.ts';
import { listenTls, type TlsListener } from './tls-listener.ts';
import { traceEndpoint } from './trace/endpoint.ts';
import { Trust } from './trust.ts';

export interface LabServerOptions {
  readonly host: string;
  readonly port: number;
  /** The project's root: the site is served from its dist/ folder. */
  readonly root: string;
  /** Offer permessage-deflate on /echo (RFC 7692), so RSV1 and compressed payloads can be seen. */
  readonly deflate?: boolean;
  /** Browser origins allowed besides the lab's own pages and the Astro dev server. */
  readonly origins?: readonly string[];
  readonly limits?: Partial<Limits>;
  /**
   * Start the loopback proxies of the trace and proxy labs (lab-server/proxy/): connect, aware and
   * naive on this port and the next two, or ephemeral ports with 0. Off when undefined.
   */
  readonly proxies?: number;
  /** Endpoints switched on by options (classroom mode), besides the ones always there. */
  readonly endpoints?: {
    readonly websocket?: readonly WebSocketEndpoint[];
    readonly http?: readonly HttpEndpoint[];
  };
  /** A second listener for HTTPS and wss:// (tls-listener.ts); port 0 picks a free one. */
  readonly tls?: { readonly port: number; readonly key: string; readonly cert: string };
}

export interface LabServer {
  readonly url: string;
  readonly port: number;
  /** `https://HOST:PORT/` of the TLS listener, or null when it is off. */
  readonly httpsUrl: string | null;
  readonly tlsPort: number | null;
  readonly registry: Registry;
  readonly trust: Trust;
  /** What endpoints get: registry, trust, limits, ports. */
  readonly context: LabContext;
  /** Closes every WebSocket with 1001 (going away), then every connection, then the listener. */
  close(): Promise<void>;
}

/** Endpoints with their own files that every lab server has. */
const WEBSOCKET_ENDPOINTS: readonly WebSocketEndpoint[] = [traceEndpoint()];
const HTTP_ENDPOINTS: readonly HttpEndpoint[] = [labInfo(), countEndpoint()];

type Connection = LabConnection;

export async function startLabServer(options: LabServerOptions): Promise<LabServer> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const webSocketEndpoints = new Map(
    [...WEBSOCKET_ENDPOINTS, ...(options.endpoints?.websocket ?? [])].map((e) => [e.path, e]),
  );
  const httpEndpoints = [...HTTP_ENDPOINTS, ...(options.endpoints?.http ?? [])];
  /** A server for each endpoint's own payload limit, made on first use. */
  const endpointServers = new Map<WebSocketEndpoint, WebSocketServer>();
  const registry = new Registry();
  const site = staticSite(join(options.root, 'dist'));
  const connections = new Set<Connection>();
  /** Connections on Node's HTTP server, by the stream it reads. */
  const byTapSocket = new WeakMap<TapSocket, Connection>();
  /** Live connections by the client's port, so the /raw relay can find its own. */
  const byClientPort = new Map<number, Connection>();
  let trust: Trust;
  let port = 0;
  let relayHost = '127.0.0.1';

  // One sweep checks every connection, instead of a timer each: a client gets
  // handshakeTimeoutMs to send each request head (slowloris), and an /echo connection silent for
  // idleTimeoutMs is closed with 1001 (RFC 6455 §7.4.1).
  const sweep = setInterval(
    () => {
      const now = registry.now();
      for (const connection of connections) {
        const ws = connection.ws;
        if (ws !== undefined && connection.tap.route === 'echo' && ws.readyState === ws.OPEN) {
          const bytes = connection.tap.bytesIn;
          if (bytes !== connection.idleBytes) {
            connection.idleBytes = bytes;
            connection.idleSince = now;
          } else if (now - connection.idleSince >= limits.idleTimeoutMs) {
            ws.close(1001, `idle for ${Math.round(limits.idleTimeoutMs / 1000)} s`);
          }
          continue;
        }
        const since = connection.tap.awaitingHeadSince;
        if (
          since === null ||
          now - since < limits.handshakeTimeoutMs ||
          connection.socket.destroyed
        ) {
          continue;
        }
        if (connection.tap.headBytes === 0 && since > connection.tap.openedAt) {
          connection.socket.end(); // an idle keep-alive connection: nothing to answer
          continue;
        }
        refuseRequest(
          connection,
          408,
          `The request head did not arrive within ${limits.handshakeTimeoutMs / 1000} s.`,
        );
      }
    },
    Math.max(50, Math.min(1000, limits.handshakeTimeoutMs / 4, limits.idleTimeoutMs / 4)),
  );
  sweep.unref();

  const http = createHttpServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.handshakeTimeoutMs,
    requestTimeout: limits.handshakeTimeoutMs * 3,
    connectionsCheckingInterval: Math.min(1000, limits.handshakeTimeoutMs),
    keepAliveTimeout: limits.handshakeTimeoutMs,
  });
  const echoServer = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: limits.maxPayload,
    perMessageDeflate: options.deflate === true,
    skipUTF8Validation: false,
  });
  const plainServer = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: 64 * 1024,
    perMessageDeflate: false,
  });

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0] as string;
    const connection = byTapSocket.get(req.socket as unknown as TapSocket);
    const request = WEBSOCKET_ROUTES.has(path) ? connection?.tap.request : null;
    if (connection !== undefined && request !== null && request !== undefined) {
      // A handshake Node did not route as an upgrade (no Upgrade header, or no "upgrade" in
      // Connection): the tap annotated the request; it annotates this answer too, and the
      // answer is the one its findings give.
      connection.tap.request = null;
      connection.tap.resumeHttp();
      connection.tap.expectResponse(false);
      const findings = validateUpgradeRequest(request);
      if (findings.some((f) => !f.ok && !f.informational)) {
        buildServerResponse(request, findings).then(
          (response) => {
            const headers = response.head.headers.map((f) => [f.name, f.value] as const);
            res.writeHead(response.head.status, response.head.reason, headers.flat());
            res.end(response.body);
          },
          () => res.destroy(),
        );
        return;
      }
    }
    const host = trust.checkHost(req.headers.host);
    if (!host.ok) return plainAnswer(res, 403, host.reason);
    if (WEBSOCKET_ROUTES.has(path)) {
      // RFC 9110 §15.5.22: 426 names the protocol to upgrade to.
      res.setHeader('Upgrade', 'websocket');
      res.setHeader('Connection', 'Upgrade');
      res.setHeader('Sec-WebSocket-Version', '13');
      return plainAnswer(
        res,
        426,
        `${path} is a WebSocket endpoint: send a GET with "Upgrade: websocket", "Connection: Upgrade", Sec-WebSocket-Key and "Sec-WebSocket-Version: 13" (RFC 6455 §4.1), for example new WebSocket("ws://${req.headers.host ?? '127.0.0.1'}${path}").`,
      );
    }
    const endpoint = httpEndpointFor(httpEndpoints, path);
    if (endpoint !== undefined) return endpoint.handle(req, res, context);
    site(req, res);
  });

  // An upgrade on a connection that began with plain HTTP requests (Node's parser has it).
  http.on('upgrade', (req: IncomingMessage, socket: TapSocket, head: Buffer) => {
    const connection = byTapSocket.get(socket);
    const request = connection?.tap.request;
    if (connection === undefined || request === null || request === undefined) {
      socket.destroy();
      return;
    }
    // The head is needed only for this decision; a connection that stays open keeps none of it.
    connection.tap.request = null;
    upgrade(connection, request, req, head).catch(() => socket.destroy());
  });

  http.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // Node's own parser refused the request; the tap has annotated why, from the bytes.
    if (!socket.writable) return;
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400;
    const reason = {
      400: 'Bad Request',
      408: 'Request Timeout',
      431: 'Request Header Fields Too Large',
    }[status];
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  /**
   * Answers an upgrade request. `req` is Node's parse of it, or, for a connection whose first
   * request is the upgrade, the tap's (`head` is then undefined: the tap holds those bytes).
   */
  async function upgrade(
    connection: Connection,
    request: RequestHead,
    req: Pick<IncomingMessage, 'headers' | 'method'>,
    head: Buffer | undefined,
  ) {
    const { tap, socket } = connection;
    const route = routeOf(request.target);
    const refuse = async (status: number, reason: string) => {
      tap.stopClient();
      tap.expectResponse(false);
      socket.end(
        `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 400 ? 'Bad Request' : 'Forbidden'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
      );
    };
    // The RFC's answer to a bad handshake first (400, or 426 with the versions spoken), with the
    // explanations in the body, so the answer is the one the annotation's findings give; `ws`
    // only ever sees requests that pass every rule.
    const findings = validateUpgradeRequest(request);
    if (findings.some((f) => !f.ok && !f.informational)) {
      tap.stopClient();
      tap.expectResponse(false);
      const response = await buildServerResponse(request, findings);
      socket.end(Buffer.from(response.bytes));
      return;
    }
    const host = trust.checkHost(getHeader(request, 'host'));
    if (!host.ok) return refuse(403, host.reason);
    if (route === 'check') return checkUpgrade({ trust, connection, request, req, head, refuse });
    const endpoint = webSocketEndpoints.get(request.target.split('?', 1)[0] as string);
    if (route !== 'echo' && route !== 'observe' && route !== 'raw' && endpoint === undefined) {
      return refuse(
        404,
        route === 'classroom' || route === 'teacher'
          ? `${request.target.slice(0, 100)} exists only in classroom mode: start the lab with pnpm lab --classroom.`
          : `There is no WebSocket endpoint at ${request.target.slice(0, 100)}; try /echo.`,
      );
    }
    const origin = trust.checkOrigin(getHeader(request, 'origin'));
    if (!origin.ok) return refuse(403, origin.reason);
    // /echo's close options (chapter 7): a bad value is refused before the upgrade, named.
    let echoOptions: EchoOptions | undefined;
    if (route === 'echo') {
      const parsed = parseEchoOptions(request.target);
      if (!parsed.ok) return refuse(400, `${parsed.explanation}\n`);
      echoOptions = parsed.options;
    }

    tap.expectResponse(route === 'echo');
    let early = head ?? EMPTY;
    if (route === 'echo') {
      const offers = parseExtensions(getHeader(request, 'sec-websocket-extensions') ?? '') ?? [];
      const rsv1 = options.deflate === true && offers.some((e) => e.name === 'permessage-deflate');
      const allowed = tap.beginFrames({ rsv1 });
      early = head === undefined ? allowed : head.subarray(0, allowed.length);
    } else {
      // Bytes after the head of a request to /observe or /raw: the tap does not read them.
      if (head === undefined) early = tap.takeEarly();
      tap.stopClient();
    }
    let server = route === 'echo' ? echoServer : plainServer;
    if (endpoint !== undefined) {
      server = endpointServers.get(endpoint) ?? endpointServer(endpoint);
    }
    // On a TapSocket, `ws` gets the early bytes as its `head`; on the TCP socket, through the tap.
    server.handleUpgrade(
      req as IncomingMessage,
      socket,
      head === undefined ? EMPTY : early,
      (ws) => {
        connection.ws = ws;
        // ws reports a peer's protocol errors as 'error' events (after closing with the right
        // code); unhandled, one would end the process.
        ws.on('error', ignore);
        if (endpoint !== undefined) {
          const url = new URL(request.target, 'http://lab');
          endpoint.open(ws, { url, head: request, connection }, context);
        } else if (route === 'echo') {
          echo(ws, echoOptions, connection);
          countEcho(context, request.target, ws, connection);
        } else if (route === 'observe')
          observe(ws, new URL(request.target, 'http://lab'), registry, {
            budgetBytes: limits.observerBudgetBytes,
            socket: connection.socket,
          });
        else raw(ws, { host: relayHost, port, claim });
        // Once the endpoint listens: ws emits the messages of these bytes at once.
        connection.adoptWebSocket(ws, head === undefined ? early : EMPTY);
        if (connection.violation !== undefined) failConnection(connection, connection.violation);
      },
    );
  }

  function endpointServer(endpoint: WebSocketEndpoint): WebSocketServer {
    const server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: endpoint.maxPayload,
      perMessageDeflate: false,
    });
    endpointServers.set(endpoint, server);
    return server;
  }

  /** _Fail the WebSocket Connection_ (RFC 6455 §7.1.7): a close frame with the code, then FIN. */
  function failConnection(connection: Connection, problem: Problem) {
    connection.violation = problem;
    const ws = connection.ws;
    if (ws === undefined) return;
    // After the turn in which ws handles the bytes before the bad frame: their messages are
    // echoed first, as a peer acting on each frame in order would.
    setImmediate(() => {
      if (ws.readyState === ws.OPEN)
        ws.close(problem.closeCode ?? 1002, problem.rule.slice(0, 120));
      // The server closes TCP first (RFC 6455 §7.1.1); the close frame is queued before the FIN.
      setImmediate(() => connection.socket.end());
      setTimeout(() => connection.socket.destroy(), 2000).unref();
    });
  }

  /** Answers a request whose head broke HTTP/1.1 or a limit, and closes. */
  function refuseRequest(connection: Connection, status: number, explanation: string) {
    connection.tap.stopClient();
    connection.tap.expectResponse(false);
    const body = `${explanation}\n`;
    connection.socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Bad Request'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    setTimeout(() => connection.socket.destroy(), 2000).unref();
  }

  /** The relay's TCP connections, by client port, whose accept has not happened yet. */
  const claims = new Map<number, (conn: number) => void>();

  /** Client ports of connections refused at the cap, until the relay that made one claims it. */
  const refusedPorts = new Set<number>();

  /** The relay tells which of the connections it made: annotate it, whatever it carries. */
  function claim(localPort: number): Promise<number> {
    if (refusedPorts.delete(localPort)) return Promise.resolve(0);
    const connection = byClientPort.get(localPort);
    if (connection !== undefined) {
      connection.tap.markRelayed();
      return Promise.resolve(connection.tap.conn);
    }
    // The relay's connect can complete before this server has accepted the connection; a
    // connection refused (503) never will be, so the claim gives up after a second.
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        claims.delete(localPort);
        resolve(0);
      }, 1000);
      timer.unref();
      claims.set(localPort, (conn) => {
        clearTimeout(timer);
        resolve(conn);
      });
    });
  }

  const listener = createNetServer({ allowHalfOpen: true, noDelay: true }, (tcp) => accept(tcp));

  /** A new connection, plain or (after its handshake) TLS: both are served the same way. */
  function accept(tcp: Socket | TLSSocket, tls?: { info: TlsInfo; acceptedAt: number }) {
    if (connections.size >= limits.maxConnections) {
      const refusedPort = tcp.remotePort ?? 0;
      const refusedClaim = claims.get(refusedPort);
      if (refusedClaim !== undefined) {
        claims.delete(refusedPort);
        refusedClaim(0);
      } else if (tcp.remoteAddress === '127.0.0.1' || tcp.remoteAddress === '::1') {
        // Perhaps the relay's own connection, whose claim is still to come.
        refusedPorts.add(refusedPort);
        setTimeout(() => refusedPorts.delete(refusedPort), 1000).unref();
      }
      tcp.on('error', () => {});
      // Read (and drop) what the client sends, so its FIN is seen and the socket is released.
      tcp.resume();
      setTimeout(() => tcp.destroy(), 2000).unref();
      const body = `The lab server already holds ${limits.maxConnections} connections (--max-connections); try again later.\n`;
      tcp.end(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      tcp.on('error', () => {});
      return;
    }
    const connection = new LabConnection(host, tcp, tls);
    connections.add(connection);
    // The /raw relay connects to the plain port only.
    if (tls !== undefined) return;
    const clientPort = connection.tap.client.port;
    byClientPort.set(clientPort, connection);
    const claimed = claims.get(clientPort);
    if (claimed !== undefined) {
      claims.delete(clientPort);
      connection.tap.markRelayed();
      claimed(connection.tap.conn);
    }
  }

  const host: ConnectionHost = {
    registry,
    limits,
    upgradeRequested(connection, request) {
      connection.tap.request = null;
      const req = { method: request.method, headers: nodeHeaders(request) };
      upgrade(connection, request, req, undefined).catch(() => connection.socket.destroy());
    },
    httpRequested(connection, socket) {
      byTapSocket.set(socket, connection);
      socket.on('error', ignore);
      http.emit('connection', socket);
    },
    violation: (connection, problem) => failConnection(connection, problem),
    badRequest: (connection, status, problem) =>
      refuseRequest(connection, status, problem.explanation),
    closed(connection) {
      connections.delete(connection);
      const clientPort = connection.tap.client.port;
      if (byClientPort.get(clientPort) === connection) byClientPort.delete(clientPort);
    },
  };

  listener.listen(options.port, options.host);
  await once(listener, 'listening');
  const address = listener.address() as AddressInfo;
  port = address.port;
  relayHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  let tlsListener: TlsListener | null = null;
  if (options.tls !== undefined) {
    try {
      tlsListener = await listenTls({
        host: options.host,
        port: options.tls.port,
        key: options.tls.key,
        cert: options.tls.cert,
        registry,
        handshakeTimeoutMs: limits.handshakeTimeoutMs,
        accept: (socket, tls) => accept(socket, tls),
      });
    } catch (error) {
      await new Promise((resolve) => listener.close(() => resolve(undefined)));
      throw Object.assign(error as Error, { listener: 'tls' });
    }
  }
  const tlsPort = tlsListener?.port ?? null;
  trust = new Trust({
    host: options.host,
    port,
    ...(tlsPort === null ? {} : { tlsPort }),
    ...(options.origins ? { origins: options.origins } : {}),
  });
  const context: LabContext = {
    registry,
    trust,
    limits,
    host: relayHost,
    ports: { http: port, https: tlsPort, proxies: null },
    classroom: webSocketEndpoints.has('/classroom'),
  };
  let proxies: RunningProxies | null = null;
  if (options.proxies !== undefined) {
    try {
      proxies = await startProxies(options.proxies, () => ({
        ports: [context.ports.http, ...(context.ports.https === null ? [] : [context.ports.https])],
        labHost: relayHost,
      }));
    } catch (error) {
      await new Promise((resolve) => listener.close(resolve));
      throw error;
    }
    context.ports.proxies = proxies.ports;
  }
  const shownHost = address.address.includes(':') ? `[${address.address}]` : address.address;
  const urlHost = shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost;

  return {
    url: `http://${urlHost}:${port}/`,
    port,
    httpsUrl: tlsPort === null ? null : `https://${urlHost}:${tlsPort}/`,
    tlsPort,
    registry,
    trust,
    context,
    close: async () => {
      clearInterval(sweep);
      const closed = new Promise((resolve) => listener.close(() => resolve(undefined)));
      const tlsClosed = tlsListener?.close();
      for (const { ws } of connections) {
        if (ws !== undefined && ws.readyState === ws.OPEN) ws.close(1001, 'lab server stopping');
      }
      // Give the close frames a moment to leave, then drop whatever is still open.
      await new Promise((resolve) => setTimeout(resolve, connections.size > 0 ? 100 : 0));
      for (const { socket } of connections) socket.destroy();
      http.closeAllConnections();
      await proxies?.close();
      await closed;
      await tlsClosed;
    },
  };
}

const EMPTY = Buffer.alloc(0);

function ignore(): void {}

/** Header fields as Node's IncomingMessage gives them to `ws`: lower-case names, repeats joined. */
function nodeHeaders(request: RequestHead): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const field of request.headers) {
    const previous = headers[field.lowerName];
    headers[field.lowerName] = previous === undefined ? field.value : `${previous}, ${field.value}`;
  }
  return headers;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

function plainAnswer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(`${text}\n`);
}

/**
 * `/lab.json`: what the labs need to know about this lab server that a page cannot see, such as
 * the ports of its other listeners. Nothing in it is secret; Host was checked.
 */
function labInfo(): HttpEndpoint {
  return {
    prefix: '/lab.json',
    handle(req, res, context) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' });
        return void res.end();
      }
      res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(
        JSON.stringify({ v: 1, ports: context.ports, classroom: context.classroom === true }),
      );
    },
  };
}
