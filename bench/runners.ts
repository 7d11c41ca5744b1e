/**
 * One pass of each parser over a stream's reads, timed, counting the messages each delivered so
 * neither side can look fast by skipping work.
 */
import { performance } from 'node:perf_hooks';
import * as wsModule from 'ws';
import { FrameParser } from '../protocol/frame-parser.ts';

/** ws's Receiver is exported at runtime but not declared by @types/ws. */
interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  readonly errored: Error | null;
}
const { Receiver } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => WsReceiver;
};

/** Large enough on both sides that no message is refused. */
export const MAX_PAYLOAD = 100 * 1024 * 1024;

export interface Pass {
  readonly ms: number;
  readonly messages: number;
}

/** A server's receiver: client frames, masked, unmasked and (for text) UTF-8 validated. */
export function wsPass(chunks: readonly Buffer[]): Pass {
  const receiver = new Receiver({ isServer: true, maxPayload: MAX_PAYLOAD });
  let messages = 0;
  receiver.on('message', () => {
    messages++;
  });
  receiver.on('error', () => {});
  const start = performance.now();
  // Each write parses synchronously: the Receiver calls back before write returns.
  for (const chunk of chunks) receiver.write(chunk);
  const ms = performance.now() - start;
  if (receiver.errored !== null) throw receiver.errored;
  return { ms, messages };
}

/**
 * Our parser as the lab server's tap runs it, with the given preview limit: events delivered to
 * a callback as they happen, each frame's annotation (every field) built.
 */
export function oursPass(chunks: readonly Uint8Array[], previewLimit?: number): Pass {
  let messages = 0;
  let fields = 0;
  const parser = new FrameParser({
    direction: 'client-to-server',
    maxPayload: MAX_PAYLOAD,
    ...(previewLimit === undefined ? {} : { previewLimit }),
    onEvent: (event) => {
      if (event.kind === 'message') messages++;
      else if (event.kind === 'frame') fields += event.frame.fields.length;
    },
  });
  const start = performance.now();
  for (const chunk of chunks) parser.push(chunk);
  if (fields === 0) throw new Error('our parser annotated no field');
  const ms = performance.now() - start;
  if (parser.failure !== null) throw new Error(`our parser failed: ${parser.failure.explanation}`);
  return { ms, messages };
}
