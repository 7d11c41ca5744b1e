import { connect, type Socket } from 'node:net';
import type { WebSocket } from 'ws';

export interface RawOptions {
  /** The lab server's own address and port: the only place the relay connects to. */
  readonly host: string;
  readonly port: number;
  /** Called once the relay's TCP connection exists; gives its annotation connection number. */
  readonly claim: (localPort: number) => Promise<number>;
}

/** Text messages the relay sends the browser about its TCP connection. */
export type RawStatus =
  | { readonly type: 'connected'; readonly conn: number; readonly localPort: number }
  | { readonly type: 'fin' }
  | { readonly type: 'closed'; readonly error: string | null };

/**
 * /raw: a relay from a browser WebSocket to a fresh TCP connection to this very server, so a
 * student can type an upgrade request, or frame bytes, by hand. Binary messages from the browser
 * are written to the TCP connection as they are; what the server answers comes back as binary
 * messages. A text message `end` sends FIN. The destination is fixed: nothing the browser sends
 * can make the server connect anywhere else.
 */
export function raw(ws: WebSocket, options: RawOptions): void {
  const tcp: Socket = connect({ host: options.host, port: options.port });
  const status = (message: RawStatus) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  const pending: Buffer[] = [];
  let connected = false;

  tcp.on('connect', async () => {
    const localPort = tcp.localPort as number;
    const conn = await options.claim(localPort);
    connected = true;
    status({ type: 'connected', conn, localPort });
    for (const chunk of pending.splice(0)) tcp.write(chunk);
  });
  tcp.on('data', (chunk) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(chunk, { binary: true });
    // Backpressure: stop reading the TCP side while the browser is behind.
    if (ws.bufferedAmount > 1024 * 1024) {
      tcp.pause();
      const resume = setInterval(() => {
        if (ws.readyState !== ws.OPEN || ws.bufferedAmount < 256 * 1024) {
          clearInterval(resume);
          tcp.resume();
        }
      }, 20);
    }
  });
  tcp.on('end', () => status({ type: 'fin' }));
  tcp.on('error', () => {});
  tcp.on('close', (hadError) => {
    status({ type: 'closed', error: hadError ? 'the connection failed' : null });
    ws.close(1000, 'TCP connection closed');
  });

  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      if (data.toString() === 'end') tcp.end();
      return;
    }
    const chunk = data as Buffer;
    if (!connected) pending.push(chunk);
    else if (!tcp.write(chunk)) {
      ws.pause();
      tcp.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => tcp.destroy());
}
