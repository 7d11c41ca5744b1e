/**
 * Reads one HTTP/1.1 head (RFC 9112 §2.1) from a socket with `protocol/http-head.ts`, bounded in
 * size and time, then pauses the socket and lets go of it so the caller can hand it on (to a TLS
 * client, a relay or the frame reader) without losing a byte: what followed the head is `rest`.
 */
import type { Socket } from 'node:net';
import { type HeadKind, type HeadOf, HttpHeadParser } from '../../protocol/http-head.ts';
import type { Problem } from '../../protocol/types.ts';

export type HeadRead<K extends HeadKind> =
  | {
      readonly kind: 'head';
      readonly head: HeadOf<K>;
      readonly bytes: Buffer;
      readonly rest: Buffer;
    }
  | {
      readonly kind: 'bad';
      readonly problem: Problem;
      readonly status: 400 | 431;
      readonly bytes: Buffer;
    }
  /** The peer sent FIN, or the socket closed or failed, before the head ended. */
  | { readonly kind: 'end' | 'closed'; readonly bytes: Buffer; readonly error?: string }
  | { readonly kind: 'timeout'; readonly bytes: Buffer };

export interface ReadHeadOptions<K extends HeadKind> {
  readonly kind: K;
  readonly timeoutMs: number;
  readonly maxHeaderBytes: number;
}

export function readHead<K extends HeadKind>(
  socket: Socket,
  options: ReadHeadOptions<K>,
): Promise<HeadRead<K>> {
  return new Promise((resolve) => {
    const parser = new HttpHeadParser({
      kind: options.kind,
      maxHeaderBytes: options.maxHeaderBytes,
    });
    const seen: Buffer[] = [];
    let seenLength = 0;
    let error: string | undefined;
    const finish = (result: HeadRead<K>) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.off('error', onError);
      socket.pause();
      resolve(result);
    };
    const all = () => Buffer.concat(seen, seenLength);
    const onData = (chunk: Buffer) => {
      const result = parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      if (result.state === 'need-more') {
        seen.push(chunk);
        seenLength += chunk.length;
        return;
      }
      if (result.state === 'error') {
        seen.push(chunk);
        seenLength += chunk.length;
        finish({ kind: 'bad', problem: result.problem, status: result.status, bytes: all() });
        return;
      }
      const used = chunk.length - result.rest.length;
      seen.push(chunk.subarray(0, used));
      seenLength += used;
      finish({
        kind: 'head',
        head: result.head as HeadOf<K>,
        bytes: all(),
        rest: Buffer.from(result.rest),
      });
    };
    const onEnd = () => finish({ kind: 'end', bytes: all() });
    const onClose = () =>
      finish({ kind: 'closed', bytes: all(), ...(error === undefined ? {} : { error }) });
    const onError = (e: NodeJS.ErrnoException) => {
      error = e.code === 'ECONNRESET' ? 'the connection was reset (RST)' : e.message;
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', bytes: all() }), options.timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.resume();
  });
}
