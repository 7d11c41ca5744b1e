import type { WebSocket } from 'ws';

export interface EchoOptions {
  /** Close a connection that has been silent this long, with 1001 (RFC 6455 §7.4.1). */
  readonly idleTimeoutMs: number;
}

/**
 * /echo: every message goes back exactly as it came (text as text, binary as binary; a
 * fragmented message as one message). `ws` answers pings with pongs carrying the same payload
 * (RFC 6455 §5.5.2) and answers a close frame with the same status code (§5.5.1).
 */
export function echo(ws: WebSocket, options: EchoOptions): void {
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      ws.close(1001, `idle for ${Math.round(options.idleTimeoutMs / 1000)} s`);
    }, options.idleTimeoutMs);
    idle.unref();
  };
  touch();
  ws.on('message', (data, isBinary) => {
    touch();
    ws.send(data as Buffer, { binary: isBinary });
  });
  ws.on('ping', touch);
  ws.on('pong', touch);
  ws.on('close', () => clearTimeout(idle));
}
