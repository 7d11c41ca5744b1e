import type { WebSocket } from 'ws';

/**
 * /echo: every message goes back exactly as it came (text as text, binary as binary; a
 * fragmented message as one message). `ws` answers pings with pongs carrying the same payload
 * (RFC 6455 §5.5.2) and answers a close frame with the same status code (§5.5.1). The server's
 * sweep closes a connection that stays silent too long.
 */
export function echo(ws: WebSocket): void {
  ws.on('message', echoMessage);
}

const AS_BINARY = { binary: true } as const;
const AS_TEXT = { binary: false } as const;

// One function for every connection, called with the WebSocket as `this`, as ws does itself.
function echoMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  this.send(data, isBinary ? AS_BINARY : AS_TEXT);
}
