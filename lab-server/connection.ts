import { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Endpoint } from '../protocol/annotations.ts';
import { getHeader, parseList, type RequestHead } from '../protocol/http-head.ts';
import type { Problem } from '../protocol/types.ts';
import type { Registry } from './registry.ts';
import { ConnectionTap, type TapLimits, type TapOwner, type TlsInfo } from './tap.ts';
import { type TapHooks, TapSocket } from './tap-socket.ts';

/** What a connection asks of the server it belongs to. */
export interface ConnectionHost {
  readonly registry: Registry;
  readonly limits: TapLimits;
  /** The first request head is an upgrade: the server answers it on the TCP socket itself. */
  upgradeRequested(connection: LabConnection, request: RequestHead): void;
  /** The first request is plain HTTP: Node's HTTP server takes the connection (a TapSocket). */
  httpRequested(connection: LabConnection, socket: TapSocket): void;
  violation(connection: LabConnection, problem: Problem): void;
  badRequest(connection: LabConnection, status: 400 | 431, problem: Problem): void;
  closed(connection: LabConnection): void;
}

const kConnection = Symbol('lab-connection');

interface TappedSocket extends Socket {
  [kConnection]: LabConnection;
}

/**
 * One TCP connection to the lab server. Most connections are WebSockets whose first request is
 * the upgrade: those stay on the TCP socket itself, with the tap reading its 'data' events before
 * `ws` does and seeing its writes, as `ws` handles its own sockets (shared listener functions,
 * state on the socket), so an idle connection costs little more than in plain `ws`. A connection
 * that starts with plain HTTP goes to Node's HTTP server through a TapSocket, because Node's
 * parser reads a real socket in C++, out of the tap's sight.
 */
export class LabConnection implements TapOwner, TapHooks {
  readonly host: ConnectionHost;
  readonly tcp: Socket;
  readonly tap: ConnectionTap;
  /** What the server's HTTP and WebSocket code write to: the TCP socket, or its TapSocket. */
  socket: Socket | TapSocket;
  ws: WebSocket | undefined;
  violation: Problem | undefined;
  /** Bytes the tap has seen before the first request decided the connection's path. */
  #pending: Buffer[] | null = [];
  /** `ws`'s own 'data' listener, which the tap feeds with the bytes it lets through. */
  #wsData: ((this: Socket, chunk: Buffer) => void) | undefined;
  /** For the idle timeout: the bytes received when the server last looked, and since when. */
  idleBytes = 0;
  idleSince = 0;
  /** /echo?fin=client: the server's FIN waits for the client's. */
  #finWaitsForClient = false;
  #clientFin = false;
  /** The server's code asked to end TCP while the FIN was held. */
  #endHeld = false;
  /** On a TapSocket, the tap's note of the server's FIN, held with it. */
  #finNoteHeld = false;

  /**
   * `tcp` is the TCP socket, or on the TLS listener the TLSSocket after its handshake: it reads
   * and writes plaintext, so the tap sees the decrypted bytes and the same code serves both.
   */
  constructor(host: ConnectionHost, tcp: Socket, tls?: { info: TlsInfo; acceptedAt: number }) {
    this.host = host;
    this.tcp = tcp;
    this.socket = tcp;
    this.tap = new ConnectionTap({
      registry: host.registry,
      limits: host.limits,
      client: endpoint(tcp.remoteAddress, tcp.remotePort),
      server: endpoint(tcp.localAddress, tcp.localPort),
      tls: tls !== undefined,
      ...(tls === undefined ? {} : { tlsInfo: tls.info, acceptedAt: tls.acceptedAt }),
      owner: this,
    });
    this.idleSince = this.tap.openedAt;
    const tapped = tcp as TappedSocket;
    tapped[kConnection] = this;
    tcp.on('data', onTcpData);
    tcp.on('end', onTcpEnd);
    tcp.on('finish', onTcpFinish);
    tcp.on('close', onTcpClose);
    tcp.on('error', ignore);
    // The tap sees what the server writes: the 101 or a refusal, then `ws`'s frames.
    tcp.write = tappedWrite as Socket['write'];
    tcp.end = tappedEnd as Socket['end'];
  }

  // ---- TapOwner: what the tap finds -------------------------------------------------------

  failed(problem: Problem): void {
    this.host.violation(this, problem);
  }

  badRequest(status: 400 | 431, problem: Problem): void {
    this.host.badRequest(this, status, problem);
  }

  // ---- TapHooks: the bytes of a connection on Node's HTTP server --------------------------

  incoming(chunk: Buffer): number {
    return this.tap.incoming(chunk);
  }

  outgoing(chunk: Buffer): void {
    this.tap.outgoing(chunk);
  }

  incomingEnd(): void {
    this.tap.incomingEnd();
    this.#releaseFin();
  }

  outgoingEnd(): void {
    if (this.#holdsFin()) this.#finNoteHeld = true;
    else this.tap.outgoingEnd();
  }

  closed(error: Error | undefined): void {
    this.tap.closed(error);
    this.host.closed(this);
  }

  // ---- the TCP socket itself --------------------------------------------------------------

  /** Bytes from the client while the connection is on its TCP socket. */
  received(chunk: Buffer): void {
    const allowed = this.tap.incoming(chunk);
    if (this.#wsData !== undefined) {
      if (allowed > 0)
        this.#wsData.call(this.tcp, allowed < chunk.length ? chunk.subarray(0, allowed) : chunk);
      return;
    }
    const pending = this.#pending;
    if (pending === null) return;
    pending.push(chunk);
    if (allowed < chunk.length) {
      // The tap refused the request head (400, 431): the answer is on its way, and no server
      // code sees these bytes.
      this.#pending = null;
      return;
    }
    if (this.tap.requestHeads === 0) return;
    this.#pending = null;
    const request = this.tap.request;
    if (request !== null && isUpgrade(request)) this.host.upgradeRequested(this, request);
    else this.#toHttp(Buffer.concat(pending));
  }

  /** Hands the connection to Node's HTTP server, replaying the bytes the tap has read. */
  #toHttp(bytes: Buffer): void {
    const tcp = this.tcp;
    tcp.removeListener('data', onTcpData);
    tcp.removeListener('end', onTcpEnd);
    tcp.removeListener('finish', onTcpFinish);
    tcp.removeListener('close', onTcpClose);
    tcp.write = socketWrite;
    tcp.end = socketEnd;
    const socket = new TapSocket(tcp, this, bytes);
    this.socket = socket;
    this.host.httpRequested(this, socket);
  }

  /**
   * `ws` has taken the socket: from now on its 'data' listener gets only what the tap lets
   * through. `early` holds the client's bytes that came with or after the request head.
   */
  adoptWebSocket(ws: WebSocket, early: Buffer): void {
    this.ws = ws;
    if (this.socket !== this.tcp) return; // a TapSocket gates the bytes itself
    const listeners = this.tcp.listeners('data');
    const wsData = listeners.find((listener) => listener !== onTcpData);
    if (wsData === undefined) return;
    this.tcp.removeListener('data', wsData as (chunk: Buffer) => void);
    this.#wsData = wsData as (this: Socket, chunk: Buffer) => void;
    // When `ws` stops reading (a close frame or a protocol error came in), it removes its
    // listener and lets the socket flow to its FIN: that removal must reach the tap.
    this.tcp.removeListener = tappedRemoveListener as Socket['removeListener'];
    if (early.length > 0) this.#wsData.call(this.tcp, early);
  }

  /**
   * The client's FIN. Before any request there is nothing to answer, so the server closes its
   * side too, as Node's HTTP server would; after an upgrade, `ws` runs the closing handshake.
   */
  ended(): void {
    this.tap.incomingEnd();
    if (this.#pending !== null) this.tcp.end();
    this.#releaseFin();
  }

  /**
   * `/echo?fin=client`: once the closing handshake is done, the server does not end TCP until
   * the client's FIN has arrived, so the client sends the first FIN and its side of the
   * connection waits in TIME_WAIT (RFC 9293 §3.6). RFC 6455 §7.1.1 asks servers for the other
   * order; this shows what it avoids. A client that never ends TCP is cut off by ws's own
   * close timer (30 s), and a connection the server fails (§7.1.7) is not held.
   */
  holdFinForClient(): void {
    if (this.#clientFin) return;
    this.#finWaitsForClient = true;
    // On a connection that began as plain HTTP, the TapSocket ends the TCP socket itself.
    if (this.socket !== this.tcp) this.tcp.end = heldTcpEnd as Socket['end'];
  }

  #holdsFin(): boolean {
    return this.#finWaitsForClient && !this.#clientFin && this.violation === undefined;
  }

  /** True when the server's FIN must wait: the end is done later, by `#releaseFin`. */
  deferEnd(): boolean {
    if (!this.#holdsFin()) return false;
    this.#endHeld = true;
    return true;
  }

  #releaseFin(): void {
    this.#clientFin = true;
    if (!this.#finWaitsForClient) return;
    if (this.#endHeld) {
      this.#endHeld = false;
      this.tcp.end();
    }
    if (this.#finNoteHeld) {
      this.#finNoteHeld = false;
      this.tap.outgoingEnd();
    }
  }

  /** `ws` no longer reads: the tap keeps annotating, and nothing more reaches `ws`. */
  wsStoppedReading(listener: unknown): boolean {
    if (listener !== this.#wsData || listener === undefined) return false;
    this.#wsData = undefined;
    return true;
  }

  /** Bytes still buffered in the socket when it closes pass the tap before `ws` reads them. */
  drain(): void {
    if (this.#wsData === undefined) return;
    for (let chunk = this.tcp.read() as Buffer | null; chunk !== null; chunk = this.tcp.read()) {
      this.received(chunk);
    }
  }
}

/**
 * The LabConnection behind a socket an HTTP request or a WebSocket came on (the TCP or TLS
 * socket, or its TapSocket), for endpoints that count what a connection carried.
 */
export function labConnectionOf(socket: unknown): LabConnection | undefined {
  const tcp = socket instanceof TapSocket ? socket.socket : socket;
  return (tcp as Partial<TappedSocket> | null)?.[kConnection];
}

/**
 * What Node's HTTP parser treats as an upgrade (RFC 9110 §7.8): an Upgrade header, with
 * "upgrade" among the Connection options. Anything else is plain HTTP, answered by Node.
 */
function isUpgrade(request: RequestHead): boolean {
  return (
    getHeader(request, 'upgrade') !== undefined &&
    parseList(getHeader(request, 'connection') ?? '').some((o) => o.toLowerCase() === 'upgrade')
  );
}

function endpoint(address: string | undefined, port: number | undefined): Endpoint {
  return { address: address ?? '', port: port ?? 0 };
}

// Shared listeners, called with the socket as `this`: no closures per connection.

function onTcpData(this: TappedSocket, chunk: Buffer): void {
  this[kConnection].received(chunk);
}

function onTcpEnd(this: TappedSocket): void {
  this[kConnection].ended();
}

function onTcpFinish(this: TappedSocket): void {
  this[kConnection].tap.outgoingEnd();
}

function onTcpClose(this: TappedSocket): void {
  const connection = this[kConnection];
  connection.drain();
  connection.closed(undefined);
}

function ignore(): void {}

const socketWrite = Socket.prototype.write;
const socketRemoveListener = Socket.prototype.removeListener;

function tappedRemoveListener(
  this: TappedSocket,
  event: string | symbol,
  listener: (...args: unknown[]) => void,
): TappedSocket {
  if (event !== 'data' || !this[kConnection].wsStoppedReading(listener)) {
    socketRemoveListener.call(this, event, listener);
  }
  return this;
}

const socketEnd = Socket.prototype.end;

type Callback = (error?: Error | null) => void;

function asBytes(chunk: string | Uint8Array, encoding: unknown): Uint8Array {
  return typeof chunk === 'string'
    ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
    : chunk;
}

function tappedWrite(
  this: TappedSocket,
  chunk: string | Uint8Array,
  encoding?: BufferEncoding | Callback,
  callback?: Callback,
): boolean {
  this[kConnection].tap.outgoing(asBytes(chunk, encoding));
  return socketWrite.call(this, chunk, encoding as BufferEncoding, callback);
}

function tappedEnd(
  this: TappedSocket,
  chunk?: string | Uint8Array | Callback,
  encoding?: BufferEncoding | Callback,
  callback?: Callback,
): TappedSocket {
  const connection = this[kConnection];
  if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
    connection.tap.outgoing(asBytes(chunk, encoding));
    if (connection.deferEnd()) {
      socketWrite.call(this, chunk, encoding as BufferEncoding);
      return this;
    }
  } else if (connection.deferEnd()) return this;
  socketEnd.call(this, chunk as string, encoding as BufferEncoding, callback);
  return this;
}

/** `end` of a TCP socket under a TapSocket whose FIN waits for the client's. */
function heldTcpEnd(this: TappedSocket, ...args: unknown[]): TappedSocket {
  if (this[kConnection].deferEnd()) return this;
  (socketEnd as (...a: unknown[]) => unknown).apply(this, args);
  return this;
}
