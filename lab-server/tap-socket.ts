import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** What the tap is told about a connection's bytes, in the order they cross the wire. */
export interface TapHooks {
  /**
   * Bytes from the peer. Returns how many of them may reach the server's HTTP and WebSocket code:
   * all of them, or fewer when the tap found a frame that fails the connection, whose bytes must
   * not be acted on.
   */
  incoming(chunk: Buffer): number;
  outgoing(chunk: Buffer): void;
  /** The peer's FIN arrived. */
  incomingEnd(): void;
  /** The server sent its FIN. */
  outgoingEnd(): void;
  closed(error: Error | undefined): void;
}

/**
 * A Duplex that stands between a TCP socket and Node's HTTP server (and then `ws`), so the tap
 * sees every byte both ways, the HTTP handshake included. Node's HTTP server reads a real socket
 * in C++, out of reach of 'data' listeners; handing it this stream instead keeps the bytes in
 * view. `ws` accepts any Duplex as its socket.
 */
export class TapSocket extends Duplex {
  readonly socket: Socket;
  readonly #hooks: TapHooks;
  #stopped = false;

  /** `read` holds bytes of the socket the tap has already seen, to be read first. */
  constructor(socket: Socket, hooks: TapHooks, read?: Buffer) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    this.#hooks = hooks;
    if (read !== undefined && read.length > 0) this.push(read);
    socket.on('data', (chunk: Buffer) => {
      // The tap sees every byte, even once nothing more may reach the server's code.
      const allowed = hooks.incoming(chunk);
      if (this.#stopped) return;
      if (allowed < chunk.length) this.#stopped = true;
      if (
        allowed > 0 &&
        !this.push(allowed === chunk.length ? chunk : chunk.subarray(0, allowed))
      ) {
        socket.pause();
      }
    });
    socket.on('end', () => {
      hooks.incomingEnd();
      this.push(null);
    });
    socket.on('error', (error) => this.destroy(error));
    // Node's HTTP server times out idle keep-alive connections through this stream's events.
    socket.on('timeout', () => this.emit('timeout'));
    socket.on('close', () => {
      hooks.closed(undefined);
      this.destroy();
    });
  }

  // The parts of net.Socket that Node's HTTP server and ws use.
  get remoteAddress() {
    return this.socket.remoteAddress;
  }
  get remotePort() {
    return this.socket.remotePort;
  }
  get remoteFamily() {
    return this.socket.remoteFamily;
  }
  get localAddress() {
    return this.socket.localAddress;
  }
  get localPort() {
    return this.socket.localPort;
  }
  setTimeout(ms: number, callback?: () => void): this {
    this.socket.setTimeout(ms, callback);
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.socket.setKeepAlive(enable, delay);
    return this;
  }

  override _read(): void {
    this.socket.resume();
  }

  // A write is done once the socket took it; waiting for the socket's own callback would hold
  // every later write back a turn of the event loop. Backpressure still reaches the writer.
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#hooks.outgoing(chunk);
    if (this.socket.write(chunk)) callback();
    else this.socket.once('drain', () => callback());
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.socket.cork();
    let flowing = true;
    for (const { chunk } of chunks) {
      this.#hooks.outgoing(chunk);
      flowing = this.socket.write(chunk);
    }
    this.socket.uncork();
    if (flowing) callback();
    else this.socket.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#hooks.outgoingEnd();
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.socket.destroy(error ?? undefined);
    callback(error);
  }
}
