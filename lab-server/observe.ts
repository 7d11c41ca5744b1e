import type { WebSocket } from 'ws';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../protocol/annotations.ts';
import type { Registry } from './registry.ts';

export interface ObserveOptions {
  /** Bytes an observer may have waiting unsent before its events are dropped. */
  readonly budgetBytes: number;
  /**
   * The observer's socket. Held corked while a turn's events are sent, so they leave in one
   * write: with a write (a system call) per event, writing was most of the server's time.
   */
  readonly socket: { cork(): void; uncork(): void };
}

/** Events held for one observer between two flushes. */
const MAX_QUEUED = 2_000;

/**
 * How long an observer's events gather before they are sent together. Far below what a reader
 * can notice, and it turns one write per event-loop turn into one per few milliseconds, which
 * under load was the difference between the echo keeping or losing half its pace.
 */
const FLUSH_MS = 5;

/**
 * /observe[?id=N]: the annotation stream as JSON text messages, for every connection or one.
 * The first message is a snapshot of the connections open now. An observer that reads slower
 * than events arrive never makes the server buffer without bound: once its unsent bytes pass
 * the budget its events are dropped, and the next one it gets is preceded by a `dropped` event
 * saying how many it missed.
 */
export function observe(
  ws: WebSocket,
  url: URL,
  registry: Registry,
  options: ObserveOptions,
): void {
  const id = url.searchParams.get('id');
  const only = id === null || id === '' ? undefined : Number(id);
  if (only !== undefined && !(Number.isInteger(only) && only > 0)) {
    ws.close(1008, '?id= must be a connection number');
    return;
  }
  ws.send(JSON.stringify(registry.snapshot(only)));
  // Events are sent a few milliseconds later, together, so an echo never waits for its own
  // annotations to be serialised. What waits is bounded: past the budget, events are counted
  // as dropped instead of queued.
  let queue: LabEvent[] = [];
  let dropped = 0;
  /** The seq of the last event this observer missed: the marker says "up to here". */
  let lastDropped = 0;
  const flush = () => {
    const batch = queue;
    queue = [];
    options.socket.cork();
    try {
      send(batch);
    } finally {
      options.socket.uncork();
    }
  };
  const send = (batch: readonly LabEvent[]) => {
    for (const event of batch) {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > options.budgetBytes) {
        dropped++;
        lastDropped = event.seq;
        continue;
      }
      if (dropped > 0) {
        const marker: LabEvent = {
          v: ANNOTATION_SCHEMA_VERSION,
          type: 'dropped',
          seq: lastDropped,
          t: event.t,
          conn: only ?? 0,
          count: dropped,
        };
        ws.send(JSON.stringify(marker));
        dropped = 0;
      }
      ws.send(registry.json(event));
    }
  };
  const unsubscribe = registry.subscribe((event) => {
    if (only !== undefined && event.conn !== only) return;
    if (queue.length >= MAX_QUEUED || ws.bufferedAmount > options.budgetBytes) {
      // Drop what waits too, so the marker, sent before the next event, covers a gap that
      // really comes before it.
      dropped += queue.length + 1;
      queue = [];
      lastDropped = event.seq;
      return;
    }
    if (queue.length === 0) setTimeout(flush, FLUSH_MS);
    queue.push(event);
  });
  ws.on('close', unsubscribe);
  // Observers only listen; anything they send is ignored.
}
